//! A film recommender on MovieLens 100K (943 users, 1,682 films, 100,000 ratings; the copy that
//! the RecBole wheel ships, extracted by scripts/setup.sh): matrix factorisation (user and item
//! embeddings, an item bias) trained with a softmax over the whole catalogue against the film
//! each user rated, then top-10 retrieval for every user through one GEMM (user embeddings x
//! item embeddings^T), already-seen films excluded. Every rating counts as an interaction.
//! Fixed split: each user's latest 20% of ratings are held out. Reports recall@10 and NDCG@10
//! on them, and those of recommending the most popular unseen films.
//!
//! `cargo run --release -p lanes-nn --example recommender [-- EPOCHS]` (default 20)

use lanes_nn::data::{movielens_100k, movielens_dir, movielens_titles, InteractionSplit};
use lanes_nn::optim::Adam;
use lanes_nn::progress::Progress;
use lanes_nn::recsys::{ndcg_at_k, recall_at_k, recommend, MatrixFactorization};
use lanes_nn::{loss, NnError, Sequential, Tensor};
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Settings of a run.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Passes over the training interactions.
    pub epochs: usize,
    /// Embedding dimension.
    pub dim: usize,
    /// Interactions per batch.
    pub batch: usize,
    /// AdamW's learning rate (cosine decay over the epochs).
    pub lr: f32,
    /// AdamW's decoupled weight decay.
    pub weight_decay: f32,
    /// Seed of the initial embeddings and the batch order.
    pub seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config { epochs: 20, dim: 64, batch: 256, lr: 2e-3, weight_decay: 0.2, seed: 1 }
    }
}

/// Held-out metrics of the popularity baseline and of the model, and the training speed.
#[derive(Clone, Copy, Debug)]
pub struct Report {
    /// Popularity: recall@10 and NDCG@10.
    pub popularity: (f64, f64),
    /// Matrix factorisation: recall@10 and NDCG@10.
    pub model: (f64, f64),
    /// Mean training loss of the last epoch.
    pub last_loss: f64,
    /// Training interactions per second.
    pub pairs_per_s: f64,
    /// Seconds to score every (user, film) pair and take each user's top 10.
    pub retrieval_s: f64,
}

/// Loads the data, trains with `cfg` and evaluates; `verbose` prints progress and examples.
pub fn run(cfg: Config, verbose: bool) -> Result<Report, NnError> {
    let dir = movielens_dir();
    let ratings = movielens_100k(&dir)?;
    let split = InteractionSplit::chronological(&ratings, 0.2)?;
    let pairs = split.train_pairs();
    let held: usize = split.test.iter().map(Vec::len).sum();
    if verbose {
        println!(
            "MovieLens 100K: {} users, {} films; {} training interactions, {held} held out (each user's latest 20%)",
            split.users,
            split.items,
            pairs.len()
        );
    }
    let k = 10;

    // Baseline: the most popular films (by training interactions) that the user has not seen.
    let counts: Vec<f32> = split.item_counts().iter().map(|&c| c as f32).collect();
    let pop_scores = Tensor::new(&[split.users, split.items], counts.repeat(split.users))?;
    let pop = recommend(&pop_scores, k, &split.train)?;
    let popularity = (recall_at_k(&pop, &split.test, k)?, ndcg_at_k(&pop, &split.test, k)?);

    let scale = 0.5 / (cfg.dim as f32).sqrt();
    let mut model =
        Sequential::new().push(MatrixFactorization::new(split.users, split.items, cfg.dim, scale, cfg.seed)?);
    let mut adam = Adam::adamw(cfg.lr, cfg.weight_decay);
    let mut order: Vec<usize> = (0..pairs.len()).collect();
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(cfg.seed);
    let start = std::time::Instant::now();
    let mut last_loss = f64::NAN;
    for epoch in 0..cfg.epochs {
        adam.lr = cfg.lr * 0.5 * (1.0 + (std::f32::consts::PI * epoch as f32 / cfg.epochs as f32).cos());
        for i in (1..order.len()).rev() {
            order.swap(i, rng.random_range(0..=i));
        }
        let batches: Vec<&[usize]> = order.chunks(cfg.batch).collect();
        let mut progress = verbose.then(|| Progress::bar(batches.len() as u64, &format!("epoch {}", epoch + 1)));
        let mut total = 0.0f64;
        for (b, idx) in batches.iter().enumerate() {
            let users: Vec<f32> = idx.iter().map(|&p| pairs[p].0 as f32).collect();
            let items: Vec<usize> = idx.iter().map(|&p| pairs[p].1 as usize).collect();
            let scores = model.forward(&Tensor::new(&[idx.len()], users)?, true)?;
            let (l, grad) = loss::softmax_cross_entropy(&scores, &items)?;
            if !l.is_finite() {
                return Err(NnError::NonFinite { what: "training loss", batch: b });
            }
            total += f64::from(l) * idx.len() as f64;
            model.backward(&grad)?;
            adam.step(&mut model);
            if let Some(p) = &mut progress {
                p.step("");
            }
        }
        if let Some(p) = &mut progress {
            p.finish();
        }
        last_loss = total / pairs.len() as f64;
        if verbose {
            println!("epoch {:2}: training loss {last_loss:.4}", epoch + 1);
        }
    }
    let pairs_per_s = (cfg.epochs * pairs.len()) as f64 / start.elapsed().as_secs_f64();

    // Retrieval: every user's scores against every film in one GEMM, then each user's top 10
    // unseen films.
    let t = std::time::Instant::now();
    let all: Vec<f32> = (0..split.users).map(|u| u as f32).collect();
    let scores = model.forward(&Tensor::new(&[split.users], all)?, false)?;
    let recs = recommend(&scores, k, &split.train)?;
    let retrieval_s = t.elapsed().as_secs_f64();
    let model_metrics = (recall_at_k(&recs, &split.test, k)?, ndcg_at_k(&recs, &split.test, k)?);

    if verbose {
        if let Some(titles) = movielens_titles(&dir) {
            let name = |i: u32| titles.get(i as usize).map_or("?", String::as_str).to_string();
            let user = 0;
            let last: Vec<String> = split.train[user].iter().rev().take(5).map(|&i| name(i)).collect();
            println!("user 1's latest training films: {}", last.join("; "));
            let top: Vec<String> = recs[user].iter().take(5).map(|&i| name(i)).collect();
            println!("recommended to user 1: {}", top.join("; "));
        }
    }
    Ok(Report { popularity, model: model_metrics, last_loss, pairs_per_s, retrieval_s })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let epochs: Option<usize> = std::env::args().nth(1).map(|s| s.parse()).transpose()?;
    let cfg = Config { epochs: epochs.unwrap_or(Config::default().epochs), ..Config::default() };
    let r = run(cfg, true)?;
    println!("held-out interactions (943 users):  recall@10  NDCG@10");
    println!("  most popular unseen films         {:.4}     {:.4}", r.popularity.0, r.popularity.1);
    println!("  matrix factorisation (dim {:3})    {:.4}     {:.4}", cfg.dim, r.model.0, r.model.1);
    println!(
        "training: {:.0} interactions/s; retrieval for all users (GEMM + top-10): {:.1} ms",
        r.pairs_per_s,
        1e3 * r.retrieval_s
    );
    Ok(())
}
