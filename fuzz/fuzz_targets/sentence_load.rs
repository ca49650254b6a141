//! lanes-nn's sentence-embedding loader (`SentenceEmbedder::from_bytes`: a BERT `config.json`,
//! a WordPiece `vocab.txt` and safetensors weights; what lanes-web's `SentenceModel` builds from
//! the files a page is given) on hostile input.
//!
//! The first byte picks the mode:
//! - even: raw. The next two bytes are the lengths of the config and vocabulary texts (UTF-8,
//!   lossy), the rest is the weights file;
//! - odd: structured. The rest drives edits of a tiny valid model (hidden 8, 2 heads, 1 layer,
//!   12 tokens, 16 positions): a config field set to a fuzzed value (0, near, 2^20, huge,
//!   negative, a float, a string, missing), a vocabulary line removed, repeated or added, the
//!   weights truncated, a byte of them changed, or the weights of another configuration.
//!
//! Every call must return `Ok` or a `ModelFile` / `InvalidArgument` error, never panic or
//! abort (a config once made the loader reserve terabytes: docs/safety.md); an `Ok` model
//! embeds a text.
#![no_main]

use lanes_nn::bert::BertConfig;
use lanes_nn::sentence::SentenceEmbedder;
use lanes_nn::NnError;
use libfuzzer_sys::fuzz_target;

#[path = "common/bytes.rs"]
mod bytes;
use bytes::Bytes;
use safetensors::tensor::{Dtype, TensorView};
use serde_json::{json, Value};

const VOCAB: &str = "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\nworld\n##s\na\nb\nc\nthe";

/// A tiny BERT's config and weights (values from a sine: any finite numbers will do).
fn tiny(h: usize, layers: usize, ff: usize) -> (Value, Vec<u8>) {
    let (vocab, pos) = (VOCAB.lines().count(), 16);
    let config = json!({
        "model_type": "bert", "hidden_act": "gelu", "position_embedding_type": "absolute",
        "vocab_size": vocab, "hidden_size": h, "num_hidden_layers": layers, "num_attention_heads": 2,
        "intermediate_size": ff, "max_position_embeddings": pos, "type_vocab_size": 2,
        "layer_norm_eps": 1e-12,
    });
    let shapes = BertConfig::from_json(&config.to_string()).unwrap().tensor_shapes();
    let data: Vec<Vec<u8>> = shapes
        .iter()
        .enumerate()
        .map(|(t, (_, s))| {
            let n: usize = s.iter().product();
            (0..n).flat_map(|i| (((t * 31 + i) as f32 * 0.37).sin() * 0.2).to_le_bytes()).collect()
        })
        .collect();
    let views: Vec<(&str, TensorView)> = shapes
        .iter()
        .zip(&data)
        .map(|((name, s), d)| (name.as_str(), TensorView::new(Dtype::F32, s.clone(), d).unwrap()))
        .collect();
    (config, safetensors::serialize(views, None).unwrap())
}

/// A value for a config field: a count near `near`, at or past the limits, or not a count.
fn value(b: &mut Bytes, near: u64) -> Option<Value> {
    Some(match b.u8() % 10 {
        0 => json!(0),
        1 => json!(near + (b.u8() % 4) as u64),
        2 => json!(near.saturating_sub((b.u8() % 4) as u64)),
        3 => json!(1u64 << 20),
        4 => json!((1u64 << 20) + 1),
        5 => json!(u64::MAX),
        6 => json!(-1),
        7 => json!(1.5),
        8 => json!("8"),
        _ => return None, // the field removed
    })
}

fn check(config: &str, vocab: &str, weights: &[u8]) {
    match SentenceEmbedder::from_bytes(config, vocab, weights) {
        Ok(mut model) => {
            // Weights a byte edit made NaN give NaN (IEEE); the call itself must not fail.
            let e = model.embed(&["hello worlds", "the c"]).expect("a loaded model embeds");
            assert_eq!(e.shape(), &[2, model.dim()]);
        }
        Err(NnError::ModelFile(_) | NnError::InvalidArgument(_)) => {}
        Err(e) => panic!("unexpected error kind: {e:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    if b.u8() % 2 == 0 {
        let (nc, nv) = (b.u16() as usize, b.u16() as usize);
        let config = String::from_utf8_lossy(b.take(nc)).into_owned();
        let vocab = String::from_utf8_lossy(b.take(nv)).into_owned();
        check(&config, &vocab, b.0);
        return;
    }
    let (mut config, mut weights) = tiny(8, 1, 16);
    let mut vocab: Vec<String> = VOCAB.lines().map(str::to_string).collect();
    let fields = [
        ("vocab_size", 12),
        ("hidden_size", 8),
        ("num_hidden_layers", 1),
        ("num_attention_heads", 2),
        ("intermediate_size", 16),
        ("max_position_embeddings", 16),
        ("type_vocab_size", 2),
        ("layer_norm_eps", 0),
    ];
    for _ in 0..8 {
        if b.0.is_empty() {
            break;
        }
        match b.u8() % 7 {
            0 => {
                let (name, near) = fields[b.u8() as usize % fields.len()];
                match value(&mut b, near) {
                    Some(v) => config[name] = v,
                    None => drop(config.as_object_mut().unwrap().remove(name)),
                }
            }
            1 => {
                let name = ["model_type", "hidden_act", "position_embedding_type"][b.u8() as usize % 3];
                config[name] = json!(["bert", "gelu", "relu", "relative_key", "", "absolute"][b.u8() as usize % 6]);
            }
            2 => {
                let i = b.u8() as usize % vocab.len().max(1);
                match b.u8() % 3 {
                    0 if !vocab.is_empty() => drop(vocab.remove(i)),
                    1 if !vocab.is_empty() => vocab.push(vocab[i].clone()),
                    _ => vocab.push(format!("tok{}", b.u8())),
                }
            }
            3 => weights.truncate(b.u16() as usize * weights.len() / 65536),
            4 => {
                if !weights.is_empty() {
                    let i = b.u16() as usize * weights.len() / 65536;
                    weights[i] = b.u8();
                }
            }
            5 => weights = tiny([4, 8, 16][b.u8() as usize % 3], 1 + b.u8() as usize % 2, 8).1,
            _ => {
                // Raw bytes appended to the header's JSON text or the vocabulary.
                let junk = String::from_utf8_lossy(b.take(8)).into_owned();
                vocab.push(junk);
            }
        }
    }
    check(&config.to_string(), &vocab.join("\n"), &weights);
});
