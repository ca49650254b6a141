//! all-MiniLM-L6-v2 sentence embeddings against the independent NumPy reference
//! (nn/tools/minilm_reference.py, tokens from the Hugging Face `tokenizers` wheel). The model
//! and the Python packages come from scripts/setup.sh.

use lanes_nn::bert::BertConfig;
use lanes_nn::sentence::{cosine, minilm_dir, SentenceEmbedder};
use lanes_nn::NnError;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};

/// Accents, CJK, other scripts, long and near-empty inputs, mixed case, punctuation, numbers.
const SENTENCES: [&str; 24] = [
    "A man is playing a guitar.",
    "Someone is strumming a guitar on stage.",
    "The stock market fell sharply on Monday.",
    "Héllo, Wörld! Crème brûlée at the café, naïve façade.",
    "THE QUICK BROWN FOX jumps over the LaZy DoG",
    "東京は日本の首都です。",
    "我喜欢在周末读书和喝茶。",
    "Привет, как дела? Всё хорошо.",
    "Ελληνικά γράμματα: αβγ ΔΕΖ.",
    "مرحبا بالعالم",
    "안녕하세요, 세계!",
    "Emoji 🙂🚀 and symbols ©®™ ± ≤ ∞",
    "",
    "   ",
    ".",
    "a",
    "unaffable antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    "Numbers: 3.14159, 2,718, 1e-9, $42.00 and 100% sure.",
    "Tabs\tand\nnewlines\r\nare whitespace.",
    "C++ and Rust's borrow-checker (since 2015) -- don't panic!",
    "The cat sat on the mat.",
    "A feline rested on the rug.",
    "Quantum chromodynamics describes the strong interaction.",
    "word ",
];

fn long_text() -> String {
    "Sentence embeddings map text to vectors whose cosine similarity reflects meaning. ".repeat(30)
}

/// The model, loaded once for all tests of this file (90 MB of weights).
fn model() -> &'static Mutex<SentenceEmbedder> {
    static MODEL: OnceLock<Mutex<SentenceEmbedder>> = OnceLock::new();
    MODEL.get_or_init(|| {
        Mutex::new(
            SentenceEmbedder::load(&minilm_dir()).expect("all-MiniLM-L6-v2 in data/minilm (run scripts/setup.sh)"),
        )
    })
}

struct Reference {
    ids: Vec<Vec<u32>>,
    embeddings: Vec<Vec<f32>>,
}

fn reference(texts: &[String]) -> Reference {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join(".venv/bin/python");
    assert!(python.exists(), "{} is missing: run scripts/setup.sh", python.display());
    let mut child = Command::new(&python)
        .arg(root.join("nn/tools/minilm_reference.py"))
        .arg(minilm_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the NumPy reference");
    let request = serde_json::json!({ "texts": texts });
    child.stdin.take().unwrap().write_all(request.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the NumPy reference failed (scripts/setup.sh installs numpy and tokenizers)");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let parse = |key: &str| -> Vec<Vec<f64>> { serde_json::from_value(v[key].clone()).unwrap() };
    Reference {
        ids: parse("ids").into_iter().map(|r| r.into_iter().map(|x| x as u32).collect()).collect(),
        embeddings: parse("embeddings").into_iter().map(|r| r.into_iter().map(|x| x as f32).collect()).collect(),
    }
}

#[test]
fn matches_the_numpy_reference_token_for_token_and_in_cosine() {
    let mut texts: Vec<String> = SENTENCES.iter().map(|s| s.to_string()).collect();
    texts.push(long_text());
    let want = reference(&texts);
    let mut model = model().lock().unwrap();
    for (i, text) in texts.iter().enumerate() {
        let enc = model.tokenizer().encode(text);
        assert_eq!(enc.ids, want.ids[i], "token ids of {text:?}");
    }
    // Batched (ragged, no padding) and one at a time must both match.
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let batch = model.embed(&refs).unwrap();
    for (i, text) in texts.iter().enumerate() {
        let got = &batch.data()[i * 384..(i + 1) * 384];
        let cos = cosine(got, &want.embeddings[i]);
        assert!(cos >= 0.9999, "cosine {cos} with the reference for {text:?}");
        let single = model.embed(&[text]).unwrap();
        let cos1 = cosine(single.data(), got);
        assert!(cos1 >= 0.99999, "batched vs single cosine {cos1} for {text:?}");
        let norm = got.iter().map(|v| v * v).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "norm {norm} for {text:?}");
    }
    assert!(model.tokenizer().encode(&long_text()).truncated);
}

#[test]
fn paraphrases_rank_above_unrelated_sentences() {
    let pairs = [
        ("A man is playing a guitar.", "Someone is strumming a guitar on stage."),
        ("The cat sat on the mat.", "A feline rested on the rug."),
        ("How do I reset my password?", "I forgot my password and need to change it."),
        ("The weather is lovely today.", "It is a beautiful sunny day."),
    ];
    let mut texts = Vec::new();
    for (a, b) in pairs {
        texts.extend([a, b]);
    }
    let mut model = model().lock().unwrap();
    let e = model.embed(&texts).unwrap();
    let row = |i: usize| &e.data()[i * 384..(i + 1) * 384];
    for p in 0..pairs.len() {
        let same = cosine(row(2 * p), row(2 * p + 1));
        for q in (0..pairs.len()).filter(|&q| q != p) {
            for other in [2 * q, 2 * q + 1] {
                let diff = cosine(row(2 * p), row(other));
                assert!(
                    same > diff + 0.1,
                    "{:?}: paraphrase {same} vs unrelated {:?} {diff}",
                    pairs[p].0,
                    texts[other]
                );
            }
        }
    }
}

#[test]
fn ten_thousand_tokens_are_cut_and_bad_ids_refused() {
    let mut model = model().lock().unwrap();
    let text = "token ".repeat(10_000);
    let enc = model.tokenizer().encode(&text);
    assert!(enc.truncated);
    assert_eq!(enc.ids.len(), 256);
    let e = model.embed(&[&text, ""]).unwrap();
    assert_eq!(e.shape(), [2, 384]);
    assert!(e.data().iter().all(|v| v.is_finite()));
    assert!(matches!(model.embed_ids(&[vec![101, 40_000, 102]]), Err(NnError::InvalidArgument(_))));
    assert!(matches!(model.embed_ids(&[vec![]]), Err(NnError::InvalidArgument(_))));
    assert!(matches!(model.embed_ids(&[vec![101; 600]]), Err(NnError::InvalidArgument(_))));
}

#[test]
fn a_file_for_another_architecture_is_a_model_file_error() {
    let dir = minilm_dir();
    let config = std::fs::read_to_string(dir.join("config.json")).unwrap();
    let vocab = std::fs::read_to_string(dir.join("vocab.txt")).unwrap();
    let weights = std::fs::read(dir.join("model.safetensors")).unwrap();
    let expect_model_file = |config: &str, why: &str| {
        let err = SentenceEmbedder::from_bytes(config, &vocab, &weights).err().expect(why);
        assert!(matches!(err, NnError::ModelFile(_)), "{why}: {err}");
    };
    expect_model_file(&config.replace("\"num_hidden_layers\": 6", "\"num_hidden_layers\": 7"), "a missing layer");
    expect_model_file(&config.replace("\"num_hidden_layers\": 6", "\"num_hidden_layers\": 5"), "an extra layer");
    expect_model_file(&config.replace("\"intermediate_size\": 1536", "\"intermediate_size\": 1024"), "a wrong shape");
    expect_model_file(&config.replace("\"hidden_act\": \"gelu\"", "\"hidden_act\": \"relu\""), "another activation");
    expect_model_file("{", "broken JSON");
    let err = SentenceEmbedder::from_bytes(&config, &vocab, &weights[..weights.len() / 2]).err().unwrap();
    assert!(matches!(err, NnError::ModelFile(_)), "truncated weights: {err}");
    assert!(BertConfig::from_json(&config).is_ok());
}
