//! BERT's WordPiece tokeniser (uncased), as the Hugging Face `tokenizers` library configures it
//! for all-MiniLM-L6-v2 and BERT-base-uncased: clean the text, space out CJK ideographs, strip
//! accents (NFD, then drop non-spacing marks), lowercase; split on whitespace and around
//! punctuation; greedy longest-match-first WordPiece with `##` continuations; `[CLS] .. [SEP]`.
//!
//! Our own implementation, the same natively and in wasm (the `tokenizers` crate needs a C
//! regex library or a separate wasm configuration, and BERT's rules fit in this file). The test
//! suite checks it token for token against the `tokenizers` Python wheel.

use crate::error::{NnError, Result};
use std::collections::HashMap;
use unicode_general_category::{get_general_category, GeneralCategory as Cat};
use unicode_normalization::UnicodeNormalization;

/// Words longer than this (in characters) become one `[UNK]`, as in BERT.
const MAX_CHARS_PER_WORD: usize = 100;

/// Token ids of one text, `[CLS]` first and `[SEP]` last.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoding {
    /// Vocabulary ids.
    pub ids: Vec<u32>,
    /// Whether the text was cut to fit the maximum length.
    pub truncated: bool,
}

/// An uncased BERT WordPiece tokeniser over a `vocab.txt` vocabulary.
pub struct WordPiece {
    vocab: HashMap<String, u32>,
    unk: u32,
    cls: u32,
    sep: u32,
    max_len: usize,
}

impl WordPiece {
    /// A tokeniser from the text of a `vocab.txt` (one token per line, the line number is its
    /// id) that cuts texts to `max_len` tokens including `[CLS]` and `[SEP]` (at least 2).
    /// A vocabulary without `[UNK]`, `[CLS]` or `[SEP]`, or with a token twice, is an error.
    pub fn from_vocab(text: &str, max_len: usize) -> Result<Self> {
        if max_len < 2 {
            return Err(NnError::InvalidArgument(format!(
                "maximum length {max_len} leaves no room for [CLS] and [SEP]"
            )));
        }
        let mut vocab = HashMap::new();
        for (id, token) in text.lines().enumerate() {
            let id = u32::try_from(id).map_err(|_| NnError::InvalidArgument("vocabulary over 2^32 tokens".into()))?;
            if vocab.insert(token.to_string(), id).is_some() {
                return Err(NnError::InvalidArgument(format!("vocabulary has the token {token:?} twice")));
            }
        }
        let special = |name: &str| {
            vocab
                .get(name)
                .copied()
                .ok_or_else(|| NnError::InvalidArgument(format!("vocabulary lacks the special token {name}")))
        };
        Ok(WordPiece { unk: special("[UNK]")?, cls: special("[CLS]")?, sep: special("[SEP]")?, vocab, max_len })
    }

    /// Number of tokens in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.vocab.len()
    }

    /// The longest encoding this tokeniser makes.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// The id of `token`, if the vocabulary has it.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.vocab.get(token).copied()
    }

    /// The token ids of `text`: `[CLS]`, at most `max_len - 2` word pieces, `[SEP]`.
    pub fn encode(&self, text: &str) -> Encoding {
        let mut ids = vec![self.cls];
        let budget = self.max_len - 1;
        let mut truncated = false;
        'words: for word in pre_tokenize(&normalize(text)) {
            for id in self.word_pieces(&word) {
                if ids.len() == budget {
                    truncated = true;
                    break 'words;
                }
                ids.push(id);
            }
        }
        ids.push(self.sep);
        Encoding { ids, truncated }
    }

    /// WordPiece of one word: longest vocabulary prefix first, then `##` + the longest prefix of
    /// the rest, and so on; a word with a piece that is not in the vocabulary is one `[UNK]`.
    fn word_pieces(&self, word: &str) -> Vec<u32> {
        let bounds: Vec<usize> = word.char_indices().map(|(i, _)| i).chain([word.len()]).collect();
        if bounds.len() - 1 > MAX_CHARS_PER_WORD {
            return vec![self.unk];
        }
        let mut pieces = Vec::new();
        let mut piece = String::new();
        let mut start = 0; // index into bounds
        while start + 1 < bounds.len() {
            let found = (start + 1..bounds.len()).rev().find_map(|end| {
                piece.clear();
                if start > 0 {
                    piece.push_str("##");
                }
                piece.push_str(&word[bounds[start]..bounds[end]]);
                self.vocab.get(&piece).map(|&id| (id, end))
            });
            let Some((id, end)) = found else { return vec![self.unk] };
            pieces.push(id);
            start = end;
        }
        pieces
    }
}

/// BERT's normaliser: drop NUL, U+FFFD and control characters, map whitespace to a space, put
/// spaces around CJK ideographs, strip accents (NFD without non-spacing marks), lowercase.
fn normalize(text: &str) -> String {
    let mut cleaned = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '\0' || c == '\u{fffd}' || is_control(c) {
            continue;
        }
        if is_whitespace(c) {
            cleaned.push(' ');
        } else if is_cjk(c) {
            cleaned.extend([' ', c, ' ']);
        } else {
            cleaned.push(c);
        }
    }
    cleaned.nfd().filter(|&c| get_general_category(c) != Cat::NonspacingMark).flat_map(char::to_lowercase).collect()
}

/// BERT's pre-tokeniser: split on whitespace, and make every punctuation character a word.
fn pre_tokenize(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    for chunk in text.split(char::is_whitespace).filter(|w| !w.is_empty()) {
        let mut word = String::new();
        for c in chunk.chars() {
            if is_punctuation(c) {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
                words.push(c.to_string());
            } else {
                word.push(c);
            }
        }
        if !word.is_empty() {
            words.push(word);
        }
    }
    words
}

fn is_whitespace(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' ') || get_general_category(c) == Cat::SpaceSeparator
}

/// Categories Cc, Cf, Cn, Co, Cs, except the whitespace controls.
fn is_control(c: char) -> bool {
    !matches!(c, '\t' | '\n' | '\r')
        && matches!(
            get_general_category(c),
            Cat::Control | Cat::Format | Cat::Unassigned | Cat::PrivateUse | Cat::Surrogate
        )
}

/// ASCII punctuation (which includes symbols such as `$` and `^`) and Unicode categories P*.
fn is_punctuation(c: char) -> bool {
    c.is_ascii_punctuation()
        || matches!(
            get_general_category(c),
            Cat::ConnectorPunctuation
                | Cat::DashPunctuation
                | Cat::OpenPunctuation
                | Cat::ClosePunctuation
                | Cat::InitialPunctuation
                | Cat::FinalPunctuation
                | Cat::OtherPunctuation
        )
}

/// The CJK Unified Ideographs blocks BERT spaces out (not Hangul, Hiragana or Katakana).
fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0x20000..=0x2A6DF | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F | 0x2B920..=0x2CEAF | 0xF900..=0xFAFF | 0x2F800..=0x2FA1F)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy() -> WordPiece {
        let vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello\n,\nworld\n!\nun\n##aff\n##able\ncafe\n中\n";
        WordPiece::from_vocab(vocab, 16).unwrap()
    }

    #[test]
    fn splits_words_punctuation_and_pieces() {
        let t = toy();
        // hello , world ! un ##aff ##able cafe 中 [UNK]
        assert_eq!(t.encode("Hello, WORLD! unaffable Café 中x").ids, [2, 4, 5, 6, 7, 8, 9, 10, 11, 12, 1, 3]);
    }

    #[test]
    fn truncates_and_says_so() {
        let t = WordPiece::from_vocab("[UNK]\n[CLS]\n[SEP]\na\n", 4).unwrap();
        let e = t.encode("a a a a");
        assert_eq!(e.ids, [1, 3, 3, 2]);
        assert!(e.truncated);
        assert_eq!(t.encode("").ids, [1, 2]);
        assert!(!t.encode("a").truncated);
    }

    #[test]
    fn rejects_bad_vocabularies() {
        assert!(WordPiece::from_vocab("[CLS]\n[SEP]\n", 8).is_err());
        assert!(WordPiece::from_vocab("[UNK]\n[CLS]\n[SEP]\n[UNK]\n", 8).is_err());
        assert!(WordPiece::from_vocab("[UNK]\n[CLS]\n[SEP]\n", 1).is_err());
    }
}
