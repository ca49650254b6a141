//! Tabular data: a small numeric CSV reader, feature standardisation, and the two data sets that
//! scikit-learn's wheel ships and scripts/setup.sh extracts into `data/sklearn/` (diabetes for
//! regression, Wisconsin breast cancer for binary classification).

use crate::error::{NnError, Result};
use crate::tensor::Tensor;
use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use std::path::{Path, PathBuf};

/// A numeric table: `rows x cols` values, row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct Table {
    /// Rows (lines with values).
    pub rows: usize,
    /// Values per row.
    pub cols: usize,
    /// `rows * cols` values.
    pub values: Vec<f64>,
}

/// Parses `text`: one row per line, values separated by commas or by whitespace, blank lines
/// skipped, the first `header_lines` lines skipped. Every row must have as many values as the
/// first. A value that is not a number (or not finite) or a row of another length is an
/// [`NnError::Data`] naming `source`, the line (from 1) and the column.
pub fn parse_table(text: &str, source: &str, header_lines: usize) -> Result<Table> {
    let mut values = Vec::new();
    let mut cols: Option<(usize, usize)> = None; // (values per row, line it was set on)
    let mut rows = 0;
    for (i, line) in text.lines().enumerate().skip(header_lines) {
        let line_no = i + 1;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let start = values.len();
        let fields: Box<dyn Iterator<Item = &str>> =
            if line.contains(',') { Box::new(line.split(',')) } else { Box::new(line.split_whitespace()) };
        for (c, field) in fields.enumerate() {
            let field = field.trim();
            match field.parse::<f64>() {
                Ok(v) if v.is_finite() => values.push(v),
                _ => {
                    return Err(NnError::Data(format!(
                        "{source}:{line_no}: column {}: {field:?} is not a finite number",
                        c + 1
                    )))
                }
            }
        }
        let n = values.len() - start;
        match cols {
            None => cols = Some((n, line_no)),
            Some((want, first)) if n != want => {
                return Err(NnError::Data(format!(
                    "{source}:{line_no}: {n} values, expected {want} (as on line {first})"
                )))
            }
            Some(_) => {}
        }
        rows += 1;
    }
    Ok(Table { rows, cols: cols.map_or(0, |c| c.0), values })
}

/// Reads and parses the file at `path` (see [`parse_table`]); a missing file is an
/// [`NnError::Data`] that says to run scripts/setup.sh.
pub fn read_table(path: &Path, header_lines: usize) -> Result<Table> {
    parse_table(&read_text(path)?, &path.display().to_string(), header_lines)
}

fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        NnError::Data(format!(
            "{}: {e} (run scripts/setup.sh, which extracts it from the pinned scikit-learn wheel)",
            path.display()
        ))
    })
}

/// Examples with real-valued targets (a regression target, or 0/1 for binary classification):
/// `inputs` is `n x features`, row-major; `targets` has one value per example.
#[derive(Clone, Debug, PartialEq)]
pub struct Tabular {
    /// Features per example.
    pub features: usize,
    /// `n * features` values.
    pub inputs: Vec<f32>,
    /// `n` targets.
    pub targets: Vec<f32>,
}

impl Tabular {
    /// Examples.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// The first `n` examples and the rest.
    pub fn split_at(&self, n: usize) -> (Tabular, Tabular) {
        let n = n.min(self.len());
        // (min: inputs shorter than targets x features, a caller's inconsistency, cannot panic.)
        let (a, b) = self.inputs.split_at(n.saturating_mul(self.features).min(self.inputs.len()));
        let (ta, tb) = self.targets.split_at(n);
        (
            Tabular { features: self.features, inputs: a.to_vec(), targets: ta.to_vec() },
            Tabular { features: self.features, inputs: b.to_vec(), targets: tb.to_vec() },
        )
    }

    /// All inputs as an `n x features` tensor.
    pub fn inputs_tensor(&self) -> Result<Tensor> {
        Tensor::new(&[self.len(), self.features], self.inputs.clone())
    }

    /// All targets as an `n x 1` tensor.
    pub fn targets_tensor(&self) -> Result<Tensor> {
        Tensor::new(&[self.len(), 1], self.targets.clone())
    }

    /// The examples at `idx`: a `batch x features` input tensor and a `batch x 1` target tensor.
    pub fn batch(&self, idx: &[usize]) -> Result<(Tensor, Tensor)> {
        let (x, y) = super::gather_rows(&self.inputs, self.features, &self.targets, idx, "table", |i| {
            format!("row {i} is past the table's {} rows", self.targets.len())
        })?;
        Ok((Tensor::new(&[idx.len(), self.features], x)?, Tensor::new(&[idx.len(), 1], y)?))
    }

    /// The indices `0..n` shuffled by a generator seeded with `seed`, cut into batches of `size`
    /// (the last may be shorter).
    pub fn shuffled_batches(&self, size: usize, seed: u64) -> Vec<Vec<usize>> {
        let mut idx: Vec<usize> = (0..self.len()).collect();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
        for i in (1..idx.len()).rev() {
            let j = rng.random_range(0..=i);
            idx.swap(i, j);
        }
        idx.chunks(size.max(1)).map(<[usize]>::to_vec).collect()
    }

    /// The mean of the targets (0 when empty).
    pub fn target_mean(&self) -> f32 {
        (self.targets.iter().map(|&t| f64::from(t)).sum::<f64>() / self.len().max(1) as f64) as f32
    }
}

/// Per-feature mean and standard deviation, fitted on one set (the training set) and applied to
/// any: `(x - mean) / std`. A constant feature (or one whose deviation rounds to 0 in `f32`)
/// gets `std = 1`.
#[derive(Clone, Debug, PartialEq)]
pub struct Standardizer {
    /// Mean of each feature.
    pub mean: Vec<f32>,
    /// Standard deviation (population) of each feature.
    pub std: Vec<f32>,
}

impl Standardizer {
    /// The statistics of `data`'s features.
    pub fn fit(data: &Tabular) -> Self {
        let (f, n) = (data.features, data.len().max(1) as f64);
        let mut mean = vec![0.0f64; f];
        for row in data.inputs.chunks_exact(f.max(1)) {
            for (m, &v) in mean.iter_mut().zip(row) {
                *m += f64::from(v);
            }
        }
        mean.iter_mut().for_each(|m| *m /= n);
        let mut var = vec![0.0f64; f];
        for row in data.inputs.chunks_exact(f.max(1)) {
            for ((s, &v), m) in var.iter_mut().zip(row).zip(&mean) {
                *s += (f64::from(v) - m).powi(2);
            }
        }
        // Tested in f32: a deviation of 1e-46 is positive in f64 but 0 as an f32 divisor.
        let std = var.iter().map(|s| (s / n).sqrt() as f32).map(|s| if s > 0.0 { s } else { 1.0 }).collect();
        Standardizer { mean: mean.into_iter().map(|m| m as f32).collect(), std }
    }

    /// Standardises `data`'s features in place; an error when it has another feature count.
    pub fn apply(&self, data: &mut Tabular) -> Result<()> {
        if data.features != self.mean.len() {
            return Err(NnError::Shape {
                what: "standardised data".into(),
                expected: vec![data.len(), self.mean.len()],
                found: vec![data.len(), data.features],
            });
        }
        for row in data.inputs.chunks_exact_mut(data.features.max(1)) {
            for ((v, m), s) in row.iter_mut().zip(&self.mean).zip(&self.std) {
                *v = (*v - m) / s;
            }
        }
        Ok(())
    }
}

/// A fixed split of a data set into training and held-out test examples.
#[derive(Clone, Debug)]
pub struct TabularSplit {
    /// Training examples.
    pub train: Tabular,
    /// Held-out test examples.
    pub test: Tabular,
}

impl TabularSplit {
    /// Standardises both sets with the training set's statistics (returned).
    pub fn standardize(&mut self) -> Result<Standardizer> {
        let s = Standardizer::fit(&self.train);
        s.apply(&mut self.train)?;
        s.apply(&mut self.test)?;
        Ok(s)
    }
}

/// The fixed split of both data sets: the first 80% of the rows (in the file's order) train,
/// the rest test.
fn split_80_20(data: Tabular) -> TabularSplit {
    let (train, test) = data.split_at(data.len() * 4 / 5);
    TabularSplit { train, test }
}

/// Where the extracted scikit-learn data files are: `LANES_SKLEARN_DIR`, else `data/sklearn`
/// of this workspace (written by scripts/setup.sh).
pub fn sklearn_dir() -> PathBuf {
    match std::env::var_os("LANES_SKLEARN_DIR") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/sklearn"),
    }
}

/// The diabetes data set (Efron, Hastie, Johnstone and Tibshirani, "Least Angle Regression",
/// 2004): 442 patients, 10 baseline variables (age, sex, bmi, bp, s1..s6, unscaled), the
/// target a measure of disease progression one year later. Read from
/// `diabetes_data_raw.csv` and `diabetes_target.csv` in `dir`; split 353 train / 89 test.
pub fn diabetes(dir: &Path) -> Result<TabularSplit> {
    let data_path = dir.join("diabetes_data_raw.csv");
    let target_path = dir.join("diabetes_target.csv");
    let x = read_table(&data_path, 0)?;
    let y = read_table(&target_path, 0)?;
    if x.cols != DIABETES_FEATURES {
        return Err(NnError::Data(format!(
            "{}: {} columns, expected {DIABETES_FEATURES}",
            data_path.display(),
            x.cols
        )));
    }
    if y.cols != 1 || y.rows != x.rows {
        return Err(NnError::Data(format!(
            "{}: {} rows of {} values, expected {} rows (one per row of {}) of 1",
            target_path.display(),
            y.rows,
            y.cols,
            x.rows,
            data_path.display()
        )));
    }
    Ok(split_80_20(Tabular {
        features: x.cols,
        inputs: x.values.iter().map(|&v| v as f32).collect(),
        targets: y.values.iter().map(|&v| v as f32).collect(),
    }))
}

/// The diabetes data set's features, in column order.
pub const DIABETES_FEATURES: usize = 10;

/// The Wisconsin Diagnostic Breast Cancer data set (UCI; CC BY 4.0) as scikit-learn ships it in
/// `breast_cancer.csv`: a header line `569,30,malignant,benign`, then 569 rows of 30 features
/// and a label (0 malignant, 1 benign). Split 455 train / 114 test. The target is 1 for benign.
pub fn breast_cancer(dir: &Path) -> Result<TabularSplit> {
    let path = dir.join("breast_cancer.csv");
    let name = path.display().to_string();
    let text = read_text(&path)?;
    let header = text.lines().next().unwrap_or("");
    let counts: Vec<usize> = header.split(',').take(2).filter_map(|v| v.trim().parse().ok()).collect();
    let [rows, features] = counts[..] else {
        return Err(NnError::Data(format!("{name}:1: header {header:?} does not start with `rows,features`")));
    };
    let table = parse_table(&text, &name, 1)?;
    // `features + 1` unchecked overflowed for a header of usize::MAX features.
    if table.rows != rows || features.checked_add(1) != Some(table.cols) {
        return Err(NnError::Data(format!(
            "{name}: {} rows of {} values, the header says {rows} rows of {features} features + a label",
            table.rows, table.cols
        )));
    }
    let mut inputs = Vec::with_capacity(rows * features);
    let mut targets = Vec::with_capacity(rows);
    for (r, row) in table.values.chunks_exact(features + 1).enumerate() {
        let label = row[features];
        if label != 0.0 && label != 1.0 {
            return Err(NnError::Data(format!("{name}: data row {}: label {label} is not 0 or 1", r + 1)));
        }
        inputs.extend(row[..features].iter().map(|&v| v as f32));
        targets.push(label as f32);
    }
    Ok(split_80_20(Tabular { features, inputs, targets }))
}
