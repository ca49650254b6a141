//! A tensor: a shape and contiguous row-major f32 storage (NHWC for images).

use crate::error::{NnError, Result};
use std::sync::Arc;

/// `len` copies of `value` (a buffer whose size the caller's input sets): `AllocationFailed`
/// instead of an abort when the allocator refuses it (or its size in bytes overflows).
pub(crate) fn filled<T: Clone>(what: &'static str, len: usize, value: T) -> Result<Vec<T>> {
    let mut v = Vec::new();
    v.try_reserve_exact(len)
        .map_err(|_| NnError::AllocationFailed { what, bytes: len.saturating_mul(std::mem::size_of::<T>()) })?;
    v.resize(len, value);
    Ok(v)
}

/// `data` as rows of `width` values. A zero-sized dimension (`width` 0, so `data` is empty)
/// gives no rows, where `chunks_exact(0)` would panic.
pub(crate) fn rows(data: &[f32], width: usize) -> std::slice::ChunksExact<'_, f32> {
    data.chunks_exact(width.max(1))
}

/// [`rows`], mutable.
pub(crate) fn rows_mut(data: &mut [f32], width: usize) -> std::slice::ChunksExactMut<'_, f32> {
    data.chunks_exact_mut(width.max(1))
}

/// `rows * cols` values drawn uniformly from `[-bound, bound)` by a generator seeded with
/// `seed` (a layer's initial weights): `InvalidArgument` when the count overflows,
/// `AllocationFailed` when the allocator refuses it.
pub(crate) fn uniform(what: &'static str, rows: usize, cols: usize, bound: f32, seed: u64) -> Result<Vec<f32>> {
    use rand::{RngExt, SeedableRng};
    let len = rows
        .checked_mul(cols)
        .ok_or_else(|| NnError::InvalidArgument(format!("{what}: {rows} x {cols} values overflow")))?;
    let mut v = filled(what, len, 0.0)?;
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    v.iter_mut().for_each(|x| *x = rng.random_range(-bound..bound));
    Ok(v)
}

/// A dense row-major f32 tensor. Clones share the storage until one of them is written
/// ([`Tensor::data_mut`] copies it then), so passing a tensor on, keeping a layer's input for
/// its backward pass, or reshaping costs no copy.
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor {
    shape: Vec<usize>,
    data: Arc<Vec<f32>>,
}

impl Tensor {
    /// A tensor of `shape` holding `data` (row-major); an error when the sizes differ.
    pub fn new(shape: &[usize], data: Vec<f32>) -> Result<Self> {
        Self::with_storage(shape, Arc::new(data))
    }

    /// A tensor of `shape` over `data`; an error when the sizes differ.
    fn with_storage(shape: &[usize], data: Arc<Vec<f32>>) -> Result<Self> {
        let len = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
        if len != Some(data.len()) {
            return Err(NnError::Shape {
                what: "tensor data".into(),
                expected: shape.to_vec(),
                found: vec![data.len()],
            });
        }
        Ok(Tensor { shape: shape.to_vec(), data })
    }

    /// Zeros of `shape`: `InvalidArgument` when its size overflows, `AllocationFailed` when
    /// the allocator refuses it.
    pub fn zeros(shape: &[usize]) -> Result<Self> {
        let len = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| NnError::InvalidArgument(format!("shape {shape:?} overflows")))?;
        Ok(Tensor { shape: shape.to_vec(), data: Arc::new(filled("tensor", len, 0.0)?) })
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The values, row-major.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The values, mutable (copied first when a clone shares them).
    pub fn data_mut(&mut self) -> &mut [f32] {
        Arc::make_mut(&mut self.data).as_mut_slice()
    }

    /// The storage (copied when a clone shares it).
    pub fn into_data(self) -> Vec<f32> {
        Arc::unwrap_or_clone(self.data)
    }

    /// Rows and columns of a 2-D tensor (`[rows, cols]`), else a shape error naming `what`.
    pub fn dims2(&self, what: &str) -> Result<(usize, usize)> {
        match self.shape[..] {
            [r, c] => Ok((r, c)),
            _ => Err(NnError::Shape { what: format!("{what} (2-D)"), expected: vec![0, 0], found: self.shape.clone() }),
        }
    }

    /// The same values with another shape of the same size (no copy).
    pub fn reshape(self, shape: &[usize]) -> Result<Self> {
        Self::with_storage(shape, self.data)
    }

    /// Index of the largest value of each row of a 2-D tensor (predicted classes).
    pub fn argmax_rows(&self) -> Result<Vec<usize>> {
        let (r, c) = self.dims2("argmax input")?;
        Ok((0..r)
            .map(|i| {
                let row = &self.data[i * c..(i + 1) * c];
                (0..c).fold(0, |best, j| if row[j] > row[best] { j } else { best })
            })
            .collect())
    }
}
