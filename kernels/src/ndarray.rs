//! [`ndarray`](https://docs.rs/ndarray/0.17) interop (feature `ndarray`).
//!
//! Conversions, without copies, for any layout ndarray can describe:
//! - `MatRef::try_from(view)` for an `ArrayView2<f32>` or `&ArrayBase<S, Ix2>` (owned arrays,
//!   views, `ArcArray`): row-major, column-major (Fortran), transposed, sliced with steps,
//!   negative steps (`s![..;-1, ..]`), broadcast (zero strides) and empty views;
//! - `MatMut::try_from(view)` for an `ArrayViewMut2<f32>` or `&mut ArrayBase<S, Ix2>`: the
//!   same layouts except those that map two elements to one address (a zero stride), which
//!   give [`KernelError::OverlappingOutput`].
//!
//! Conversions never panic: a layout the views cannot hold is a typed [`KernelError`].
//! The functions below wrap [`Gemm`] calls for arrays.
//!
//! ```
//! use ndarray::{array, s};
//! use lanes_kernels::ndarray::matmul;
//! let a = array![[1.0f32, 2.0], [3.0, 4.0], [5.0, 6.0]];
//! let b = array![[1.0f32, 0.0, 2.0], [0.0, 1.0, 3.0]];
//! assert_eq!(matmul(a.view(), b.view())?, a.dot(&b));
//! // Any strides: a reversed, transposed view of A (no copy).
//! let at = a.slice(s![..;-1, ..]).reversed_axes();
//! assert_eq!(matmul(at, a.view())?, at.dot(&a));
//! # Ok::<(), lanes_kernels::KernelError>(())
//! ```

use ::ndarray::{Array2, ArrayBase, ArrayView2, ArrayViewMut2, Data, DataMut, Ix2};

use crate::error::KernelError;
use crate::ops::gemm::{Epilogue, Gemm, PackedB};
use crate::view::{MatMut, MatRef};

impl<'a> TryFrom<ArrayView2<'a, f32>> for MatRef<'a> {
    type Error = KernelError;
    /// A view of the same elements; [`KernelError::StrideOverflow`] if an offset overflows.
    fn try_from(a: ArrayView2<'a, f32>) -> Result<Self, KernelError> {
        let (rows, cols) = a.dim();
        let (rs, cs) = (a.strides()[0], a.strides()[1]);
        // SAFETY: an ArrayView2<'a> guarantees that each of its elements is valid for reads
        // for 'a and not written during 'a (it is a shared borrow); MatRef only reads those.
        unsafe { MatRef::from_raw_parts(a.as_ptr(), rows, cols, rs, cs) }
    }
}

impl<'a, S: Data<Elem = f32>> TryFrom<&'a ArrayBase<S, Ix2>> for MatRef<'a> {
    type Error = KernelError;
    /// A view of the array's elements (owned arrays, views, `ArcArray`).
    fn try_from(a: &'a ArrayBase<S, Ix2>) -> Result<Self, KernelError> {
        MatRef::try_from(a.view())
    }
}

impl<'a> TryFrom<ArrayViewMut2<'a, f32>> for MatMut<'a> {
    type Error = KernelError;
    /// A mutable view of the same elements; [`KernelError::OverlappingOutput`] when two
    /// elements share an address, [`KernelError::StrideOverflow`] if an offset overflows.
    fn try_from(mut a: ArrayViewMut2<'a, f32>) -> Result<Self, KernelError> {
        let (rows, cols) = a.dim();
        let (rs, cs) = (a.strides()[0], a.strides()[1]);
        let ptr = a.as_mut_ptr();
        // SAFETY: an ArrayViewMut2<'a> is a unique borrow of its elements for 'a, each valid
        // for reads and writes; it is consumed here, so the MatMut is the only access left.
        // `from_raw_parts` still refuses layouts that map two elements to one address.
        unsafe { MatMut::from_raw_parts(ptr, rows, cols, rs, cs) }
    }
}

impl<'a, S: DataMut<Elem = f32>> TryFrom<&'a mut ArrayBase<S, Ix2>> for MatMut<'a> {
    type Error = KernelError;
    /// A mutable view of the array's elements (an `ArcArray` is made unique first).
    fn try_from(a: &'a mut ArrayBase<S, Ix2>) -> Result<Self, KernelError> {
        MatMut::try_from(a.view_mut())
    }
}

/// An `m x n` output array for `A (m x k) * B (k x n)`, after checking the shapes (so that a
/// mismatch is an error, not an allocation) and the size ([`KernelError::TooLarge`] rather
/// than ndarray's panic; [`KernelError::AllocationFailed`] when the allocator refuses it).
fn output_for(a: &MatRef<'_>, b: (usize, usize)) -> Result<Array2<f32>, KernelError> {
    let (m, k, n) = (a.rows(), a.cols(), b.1);
    if b.0 != k {
        return Err(KernelError::ShapeMismatch {
            what: "B (must be k x n with k = columns of A)",
            expected: (k, n),
            found: b,
        });
    }
    let fits = m
        .checked_mul(n)
        .and_then(|len| len.checked_mul(std::mem::size_of::<f32>()))
        .is_some_and(|bytes| bytes <= isize::MAX as usize);
    if !fits {
        return Err(KernelError::TooLarge { what: "output C", rows: m, cols: n });
    }
    let data = crate::buffer::try_filled("output C", m * n, 0.0f32)?;
    Array2::from_shape_vec((m, n), data).map_err(|_| KernelError::TooLarge { what: "output C", rows: m, cols: n })
}

/// `A * B` as a new row-major array, with the default [`Gemm`] (detected ISA, automatic
/// threads). `a` and `b` may have any strides.
pub fn matmul(a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>) -> Result<Array2<f32>, KernelError> {
    matmul_with(&Gemm::new(), a, b)
}

/// [`matmul`] with a configured [`Gemm`] (forced ISA or kernel, [`Parallelism`](crate::Parallelism)).
pub fn matmul_with(gemm: &Gemm, a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>) -> Result<Array2<f32>, KernelError> {
    let (a, b) = (MatRef::try_from(a)?, MatRef::try_from(b)?);
    let mut c = output_for(&a, (b.rows(), b.cols()))?;
    gemm.run(1.0, a, b, 0.0, MatMut::try_from(c.view_mut())?)?;
    Ok(c)
}

/// `act(A * B + bias)` as a new row-major array, with B prepacked ([`Gemm::pack_b`]): a
/// dense layer's forward pass. `a` may have any strides.
///
/// ```
/// use ndarray::array;
/// use lanes_kernels::{ndarray::matmul_packed, Activation, Epilogue, Gemm, MatRef};
/// let w = array![[1.0f32, -1.0], [2.0, 0.5]]; // in x out
/// let g = Gemm::new();
/// let packed = g.pack_b(MatRef::try_from(&w)?)?;
/// let x = array![[1.0f32, 1.0]];
/// let y = matmul_packed(&g, x.view(), &packed, &Epilogue::new(Some(&[0.0, 1.0]), Activation::Relu))?;
/// assert_eq!(y, array![[3.0f32, 0.5]]);
/// # Ok::<(), lanes_kernels::KernelError>(())
/// ```
pub fn matmul_packed(
    gemm: &Gemm,
    a: ArrayView2<'_, f32>,
    b: &PackedB,
    epilogue: &Epilogue<'_>,
) -> Result<Array2<f32>, KernelError> {
    let a = MatRef::try_from(a)?;
    let mut c = output_for(&a, (b.rows(), b.cols()))?;
    gemm.run_packed(1.0, a, b, 0.0, MatMut::try_from(c.view_mut())?, epilogue)?;
    Ok(c)
}

/// `C = alpha*A*B + beta*C` on arrays of any strides, with the default [`Gemm`]. As with BLAS,
/// `beta == 0` never reads C.
///
/// ```
/// use ndarray::{array, Array2};
/// let a = array![[1.0f32, 2.0], [3.0, 4.0]];
/// let mut c = Array2::<f32>::ones((2, 2));
/// lanes_kernels::ndarray::gemm_into(2.0, a.view(), a.t(), 1.0, c.view_mut())?;
/// assert_eq!(c, array![[11.0f32, 23.0], [23.0, 51.0]]);
/// # Ok::<(), lanes_kernels::KernelError>(())
/// ```
pub fn gemm_into(
    alpha: f32,
    a: ArrayView2<'_, f32>,
    b: ArrayView2<'_, f32>,
    beta: f32,
    c: ArrayViewMut2<'_, f32>,
) -> Result<(), KernelError> {
    Gemm::new().run(alpha, MatRef::try_from(a)?, MatRef::try_from(b)?, beta, MatMut::try_from(c)?)
}
