//! Sentence embeddings with all-MiniLM-L6-v2 (scripts/setup.sh extracts it into data/minilm):
//! semantic search over a small corpus, then the speed of batch-1 and batch-32 embedding.
//!
//! cargo run --release -p lanes-nn --example sentence_embeddings
//! cargo run --release -p lanes-nn --example sentence_embeddings -- "first text" "second text"

use lanes_nn::sentence::{cosine, minilm_dir, SentenceEmbedder};
use std::time::Instant;

const CORPUS: [&str; 12] = [
    "A man is eating food.",
    "A man is eating a piece of bread.",
    "The girl is carrying a baby.",
    "A man is riding a horse.",
    "A woman is playing violin.",
    "Two men pushed carts through the woods.",
    "A man is riding a white horse on an enclosed ground.",
    "A monkey is playing drums.",
    "Someone in a gorilla costume is playing a set of drums.",
    "The new movie is awesome.",
    "The cat plays in the garden.",
    "Stock prices dropped after the announcement.",
];

const QUERIES: [&str; 4] =
    ["A person is having a meal.", "Someone rides an animal.", "A primate makes music.", "Markets fell."];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let started = Instant::now();
    let mut model = SentenceEmbedder::load(&minilm_dir())?;
    println!("all-MiniLM-L6-v2 loaded in {:.2} s ({} dimensions)", started.elapsed().as_secs_f64(), model.dim());

    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() >= 2 {
        let texts: Vec<&str> = args.iter().map(String::as_str).collect();
        let e = model.embed(&texts)?;
        let row = |i: usize| &e.data()[i * model.dim()..(i + 1) * model.dim()];
        for i in 1..texts.len() {
            println!("cosine({:?}, {:?}) = {:.4}", texts[0], texts[i], cosine(row(0), row(i)));
        }
        return Ok(());
    }

    let dim = model.dim();
    let corpus = model.embed(&CORPUS)?;
    let queries = model.embed(&QUERIES)?;
    for (q, text) in QUERIES.iter().enumerate() {
        let qv = &queries.data()[q * dim..(q + 1) * dim];
        let mut scored: Vec<(f32, &str)> =
            CORPUS.iter().enumerate().map(|(i, c)| (cosine(qv, &corpus.data()[i * dim..(i + 1) * dim]), *c)).collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0));
        println!("\nquery: {text}");
        for (score, c) in &scored[..3] {
            println!("  {score:.3}  {c}");
        }
    }

    // Speed: a 16-token sentence alone, and 32 sentences at once.
    let sentence = "The quick brown fox jumps over the lazy dog near the riverbank today.";
    let tokens = model.tokenizer().encode(sentence).ids.len();
    let time = |model: &mut SentenceEmbedder, texts: &[&str], reps: usize| -> Result<f64, lanes_nn::NnError> {
        model.embed(texts)?; // warm-up: packs the weights
        let mut best = f64::INFINITY;
        for _ in 0..reps {
            let t = Instant::now();
            model.embed(texts)?;
            best = best.min(t.elapsed().as_secs_f64());
        }
        Ok(best)
    };
    let one = time(&mut model, &[sentence], 50)?;
    let batch: Vec<&str> = CORPUS.iter().chain(QUERIES.iter()).cycle().take(32).copied().collect();
    let many = time(&mut model, &batch, 5)?;
    println!("\nbatch 1 ({tokens} tokens): {:.2} ms per sentence (best of 50)", one * 1e3);
    println!("batch 32 (short sentences): {:.0} sentences/s (best of 5)", 32.0 / many);
    Ok(())
}
