//! Keyword spotting: ten spoken words ("yes", "no", "up", "down", "left", "right", "on", "off",
//! "stop", "go") synthesised by scripts/setup.sh with espeak-ng in 8 English accents x 5 voice
//! variants x 2 speeds x 2 pitches, recognised by a small 1-D CNN over log-mel features.
//!
//! Each clip: leading and trailing silence trimmed, placed in a 1 s frame (cropped in the
//! middle when longer) with a random shift of up to 0.1 s, white noise at a random SNR of 5 to
//! 25 dB (seeded), then 40 log-mel bands every 10 ms over 25 ms windows (98 frames), each
//! band's mean over the clip subtracted, then standardised per band with the training set's
//! statistics. Model: three convolutions over
//! time (the 40 bands are the channels: `Conv2d` with 1 x k kernels on `[N, 1, 98, 40]`), each
//! with ReLU and a 1 x 2 max pool, then linear 768 -> 64, ReLU, dropout, linear 64 -> 10.
//! Fixed split by voice: the accents in [`TEST_ACCENTS`] (all their variants) are held out;
//! the model never hears them in training.
//!
//! `cargo run --release -p lanes-nn --example keyword_spotting [-- EPOCHS]` (default 15)

use lanes_kernels::ops::conv::{Conv2dParams, Padding};
use lanes_nn::audio::LogMel;
use lanes_nn::conv::{Conv2d, MaxPool2d, Reshape};
use lanes_nn::data::{keyword_clips, kws_dir, Clip, Dataset, KEYWORDS};
use lanes_nn::layers::{Act, Dropout, Linear};
use lanes_nn::progress::Progress;
use lanes_nn::train::{accuracy, fit_classifier, TrainConfig};
use lanes_nn::{NnError, Result, Sequential};
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// Accents whose voices are only in the test set.
pub const TEST_ACCENTS: [&str; 3] = ["en-gb-scotland", "en-us-nyc", "en-029"];
/// Mel bands.
pub const BANDS: usize = 40;

/// Settings of a run.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    /// Passes over the (augmented) training set.
    pub epochs: usize,
    /// Noisy, shifted copies of each training clip.
    pub copies: usize,
    /// Use every `subsample`-th training clip (1: all).
    pub subsample: usize,
    /// Adam's learning rate (cosine decay).
    pub lr: f32,
    /// Seed of the noise, the shifts, the weights and the batch order.
    pub seed: u64,
    /// Progress bars and per-epoch lines.
    pub verbose: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config { epochs: 15, copies: 4, subsample: 1, lr: 2e-3, seed: 1, verbose: false }
    }
}

/// What a run measured.
#[derive(Clone, Debug)]
pub struct Report {
    /// Training clips (before augmentation) and test clips.
    pub clips: (usize, usize),
    /// Accuracy on the held-out voices after each epoch.
    pub test_accuracy: Vec<f32>,
    /// Accuracy on the held-out voices per test accent.
    pub per_accent: Vec<(String, f32)>,
    /// Training examples per second (mean over the epochs).
    pub examples_per_s: f64,
    /// Seconds spent computing features (all clips and copies).
    pub feature_s: f64,
}

/// The samples of `clip` trimmed of silence, placed in a frame of `len` samples with its centre
/// moved by `shift` samples, plus white noise at `snr_db` (drawn from `rng`).
fn frame(clip: &Clip, len: usize, shift: isize, snr_db: f32, rng: &mut Xoshiro256PlusPlus) -> Vec<f32> {
    let s = &clip.wav.samples;
    let peak = s.iter().fold(0.0f32, |m, &v| m.max(v.abs()));
    let loud = |v: &f32| v.abs() > 0.02 * peak;
    let first = s.iter().position(loud).unwrap_or(0);
    let last = s.iter().rposition(loud).map_or(0, |i| i + 1);
    let mut seg = &s[first..last.max(first)];
    if seg.len() > len {
        let cut = (seg.len() - len) / 2;
        seg = &seg[cut..cut + len];
    }
    let room = (len - seg.len()) as isize;
    let at = (room / 2 + shift).clamp(0, room) as usize;
    let mut out = vec![0.0f32; len];
    out[at..at + seg.len()].copy_from_slice(seg);
    let rms = (seg.iter().map(|v| v * v).sum::<f32>() / seg.len().max(1) as f32).sqrt();
    let sigma = rms / 10f32.powf(snr_db / 20.0);
    for v in &mut out {
        // Box-Muller: a standard normal from two uniforms.
        let (u1, u2) = (rng.random::<f32>().max(1e-12), rng.random::<f32>());
        *v += sigma * (-2.0 * u1.ln()).sqrt() * (std::f32::consts::TAU * u2).cos();
    }
    out
}

/// Log-mel features of `copies` noisy, shifted versions of each clip, as one data set.
fn features(clips: &[&Clip], copies: usize, seed: u64, what: &str, verbose: bool) -> Result<Dataset> {
    let rate = clips.first().map_or(22_050, |c| c.wav.sample_rate);
    let mel = LogMel::speech(rate, BANDS)?;
    let len = rate as usize;
    let frames = mel.frames(len);
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut data = Dataset { features: frames * BANDS, inputs: Vec::new(), labels: Vec::new() };
    let mut progress = verbose.then(|| Progress::bar((clips.len() * copies) as u64, what));
    for _ in 0..copies {
        for clip in clips {
            if clip.wav.sample_rate != rate {
                return Err(NnError::Data(format!(
                    "{}/{}: {} Hz, the other clips {rate} Hz",
                    clip.voice, clip.file, clip.wav.sample_rate
                )));
            }
            let max_shift = i64::from(rate / 10);
            let shift = rng.random_range(-max_shift..=max_shift) as isize;
            let snr = rng.random_range(5.0f32..25.0);
            let mut f = mel.compute(&frame(clip, len, shift, snr, &mut rng))?;
            // Each band's mean over the clip subtracted (cepstral mean normalisation in its
            // log-mel form): removes the voice's and the channel's constant spectral tilt.
            for b in 0..BANDS {
                let m = f.iter().skip(b).step_by(BANDS).sum::<f32>() / frames as f32;
                f.iter_mut().skip(b).step_by(BANDS).for_each(|v| *v -= m);
            }
            data.inputs.extend(f);
            data.labels.push(clip.label);
            if let Some(p) = &mut progress {
                p.step("");
            }
        }
    }
    if let Some(p) = &mut progress {
        p.finish();
    }
    Ok(data)
}

/// Standardises each mel band of `sets` with the mean and standard deviation of `sets[0]`.
fn standardise(sets: &mut [&mut Dataset]) {
    let (mut sum, mut sq) = (vec![0.0f64; BANDS], vec![0.0f64; BANDS]);
    for row in sets[0].inputs.chunks_exact(BANDS) {
        for (b, &v) in row.iter().enumerate() {
            sum[b] += f64::from(v);
            sq[b] += f64::from(v) * f64::from(v);
        }
    }
    let n = (sets[0].inputs.len() / BANDS).max(1) as f64;
    let mean: Vec<f32> = sum.iter().map(|s| (s / n) as f32).collect();
    let std: Vec<f32> =
        sum.iter().zip(&sq).map(|(s, q)| ((q / n - (s / n).powi(2)).max(1e-12).sqrt()) as f32).collect();
    for set in sets {
        for row in set.inputs.chunks_exact_mut(BANDS) {
            for (b, v) in row.iter_mut().enumerate() {
                *v = (*v - mean[b]) / std[b];
            }
        }
    }
}

/// The network for `frames` frames of [`BANDS`] bands.
pub fn kws_cnn(frames: usize) -> Result<Sequential> {
    let conv = |cin, cout, k, seed| Conv2d::new(Conv2dParams::new(cin, cout, (1, k)).padding(Padding::Same), seed);
    let pooled = frames / 2 / 2 / 2;
    Ok(Sequential::new()
        .push(Reshape::new(&[1, frames, BANDS]))
        .push(conv(BANDS, 64, 5, 1)?)
        .push(Act::relu())
        .push(MaxPool2d::rect(1, 2)?)
        .push(conv(64, 64, 5, 2)?)
        .push(Act::relu())
        .push(MaxPool2d::rect(1, 2)?)
        .push(conv(64, 64, 3, 3)?)
        .push(Act::relu())
        .push(MaxPool2d::rect(1, 2)?)
        .push(Reshape::new(&[pooled * 64]))
        .push(Linear::new(pooled * 64, 64, 4)?)
        .push(Act::relu())
        .push(Dropout::new(0.3, 5)?)
        .push(Linear::new(64, KEYWORDS.len(), 6)?))
}

/// Loads the clips, computes features, trains with `cfg` and evaluates on the held-out voices.
pub fn run(cfg: Config) -> Result<Report> {
    let clips = keyword_clips(&kws_dir())?;
    let (test_clips, train_all): (Vec<&Clip>, Vec<&Clip>) =
        clips.iter().partition(|c| TEST_ACCENTS.contains(&c.accent.as_str()));
    let train_clips: Vec<&Clip> = train_all.into_iter().step_by(cfg.subsample.max(1)).collect();
    if train_clips.is_empty() || test_clips.is_empty() {
        return Err(NnError::Data(format!(
            "{}: {} training and {} test clips (the test accents are {TEST_ACCENTS:?})",
            kws_dir().display(),
            train_clips.len(),
            test_clips.len()
        )));
    }
    if cfg.verbose {
        let voices = |v: &[&Clip]| v.iter().map(|c| c.voice.as_str()).collect::<std::collections::BTreeSet<_>>().len();
        println!(
            "keywords: {} training clips ({} voices) x {} noisy copies; {} test clips ({} held-out voices: {})",
            train_clips.len(),
            voices(&train_clips),
            cfg.copies,
            test_clips.len(),
            voices(&test_clips),
            TEST_ACCENTS.join(", ")
        );
    }
    let t = std::time::Instant::now();
    let mut train = features(&train_clips, cfg.copies, cfg.seed, "training features", cfg.verbose)?;
    let mut test = features(&test_clips, 1, cfg.seed + 1_000_003, "test features", cfg.verbose)?;
    let feature_s = t.elapsed().as_secs_f64();
    standardise(&mut [&mut train, &mut test]);
    let frames = train.features / BANDS;

    let mut model = kws_cnn(frames)?;
    let tc = TrainConfig {
        epochs: cfg.epochs,
        batch: 32,
        lr: cfg.lr,
        seed: cfg.seed,
        progress: cfg.verbose,
        image_side: 0,
        shift: 0,
    };
    let reports = fit_classifier(&mut model, &train, &test, tc)?;
    if cfg.verbose {
        for (e, r) in reports.iter().enumerate() {
            println!(
                "epoch {:2}: loss {:.4}, held-out voices accuracy {:.2}%, {:.0} examples/s",
                e + 1,
                r.loss,
                100.0 * r.accuracy,
                r.examples_per_s
            );
        }
    }
    let mut per_accent = Vec::new();
    for accent in TEST_ACCENTS {
        let idx: Vec<usize> = (0..test_clips.len()).filter(|&i| test_clips[i].accent == accent).collect();
        let subset = Dataset {
            features: test.features,
            inputs: idx
                .iter()
                .flat_map(|&i| test.inputs[i * test.features..][..test.features].iter().copied())
                .collect(),
            labels: idx.iter().map(|&i| test.labels[i]).collect(),
        };
        per_accent.push((accent.to_string(), accuracy(&mut model, &subset)?));
    }
    let examples_per_s = reports.iter().map(|r| r.examples_per_s).sum::<f64>() / reports.len().max(1) as f64;
    Ok(Report {
        clips: (train_clips.len(), test_clips.len()),
        test_accuracy: reports.iter().map(|r| r.accuracy).collect(),
        per_accent,
        examples_per_s,
        feature_s,
    })
}

fn main() -> std::result::Result<(), Box<dyn std::error::Error>> {
    let epochs: Option<usize> = std::env::args().nth(1).map(|s| s.parse()).transpose()?;
    let cfg = Config { epochs: epochs.unwrap_or(Config::default().epochs), verbose: true, ..Config::default() };
    let start = std::time::Instant::now();
    let r = run(cfg)?;
    let acc = r.test_accuracy.last().copied().unwrap_or(0.0);
    println!("held-out voices ({} clips): accuracy {:.2}% (chance 10%)", r.clips.1, 100.0 * acc);
    for (accent, a) in &r.per_accent {
        println!("  {accent:16} {:.2}%", 100.0 * a);
    }
    println!(
        "features: {:.1} s; training: {:.0} examples/s; total {:.0} s",
        r.feature_s,
        r.examples_per_s,
        start.elapsed().as_secs_f64()
    );
    Ok(())
}
