//! Element-wise and row operations on f32: unary activations and `exp`, add/mul with
//! broadcasting over the last axis, softmax, log-softmax, layer norm and RMS norm.
//!
//! | module | one idea |
//! |---|---|
//! | `mod.rs` | the public API: [`Eltwise`] (ISA + [`Parallelism`]), [`Unary`], [`Binary`], [`Rhs`], free functions |
//! | `kernels/` | the kernels, written once over `simd/<arch>` primitives, expanded per ISA |
//!
//! Unary ops work on flat slices; the others on [`MatRef`] / [`MatMut`] views whose rows are
//! contiguous (column stride 1, any row stride). Every check happens before anything is
//! written. Accuracy, special values and speed: docs/eltwise.md.
//!
//! ```
//! use lanes_kernels::ops::eltwise::{self, Unary};
//! use lanes_kernels::{MatMut, MatRef};
//! let x = [1.0f32, 2.0, 3.0, -1.0];
//! let mut y = [0.0f32; 4];
//! eltwise::unary(Unary::Relu, &x, &mut y)?;
//! assert_eq!(y, [1.0, 2.0, 3.0, 0.0]);
//! eltwise::softmax(MatRef::row_major(&x, 2, 2)?, MatMut::row_major(&mut y, 2, 2)?)?;
//! assert!((y[0] + y[1] - 1.0).abs() < 1e-6);
//! # Ok::<(), lanes_kernels::KernelError>(())
//! ```

pub(crate) mod kernels;

use crate::activation::Activation;
use crate::error::KernelError;
use crate::isa::Isa;
use crate::ops::gemm::Parallelism;
use crate::view::{MatMut, MatRef};
use kernels::EltKernels;

/// Below this many elements (per call) `Parallelism::Auto` stays on one thread.
pub const PARALLEL_THRESHOLD_ELEMS: usize = 1 << 17;

/// A unary element-wise function.
///
/// The GEMM epilogue's [`Activation`]s map onto it (`Unary::from`); `Sigmoid`, `Tanh` and
/// `Exp` exist only here. NaN propagates through every function.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Unary {
    /// `x` (a copy).
    Identity,
    /// `max(x, 0)`.
    Relu,
    /// `min(max(x, min), max)`; `min <= max`, neither NaN.
    Clamp {
        /// Lower bound.
        min: f32,
        /// Upper bound.
        max: f32,
    },
    /// GELU, tanh approximation (`Activation::Gelu`).
    Gelu,
    /// GELU, exact: `x * Phi(x) = x/2 (1 + erf(x / sqrt 2))`.
    GeluErf,
    /// SiLU / swish: `x * sigmoid(x)`.
    Silu,
    /// `1 / (1 + e^-x)`.
    Sigmoid,
    /// `tanh(x)`.
    Tanh,
    /// `e^x`.
    Exp,
}

impl From<Activation> for Unary {
    fn from(act: Activation) -> Self {
        match act {
            Activation::Identity => Unary::Identity,
            Activation::Relu => Unary::Relu,
            Activation::Clamp { min, max } => Unary::Clamp { min, max },
            Activation::Gelu => Unary::Gelu,
            Activation::GeluErf => Unary::GeluErf,
            Activation::Silu => Unary::Silu,
        }
    }
}

impl Unary {
    /// Every function (with ReLU6 for `Clamp`), for tests and benchmarks.
    pub const ALL: [Unary; 9] = [
        Unary::Identity,
        Unary::Relu,
        Unary::Clamp { min: 0.0, max: 6.0 },
        Unary::Gelu,
        Unary::GeluErf,
        Unary::Silu,
        Unary::Sigmoid,
        Unary::Tanh,
        Unary::Exp,
    ];

    /// Short lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Unary::Identity => "identity",
            Unary::Relu => "relu",
            Unary::Clamp { .. } => "clamp",
            Unary::Gelu => "gelu",
            Unary::GeluErf => "gelu_erf",
            Unary::Silu => "silu",
            Unary::Sigmoid => "sigmoid",
            Unary::Tanh => "tanh",
            Unary::Exp => "exp",
        }
    }

    /// The scalar definition (what the scalar tier computes): the activations' from
    /// [`Activation::apply`], sigmoid / tanh / exact GELU from the shared vector math on one
    /// lane, `exp` from libm.
    pub fn apply(self, x: f32) -> f32 {
        use crate::simd::scalar;
        match self {
            Unary::Identity => x,
            Unary::Relu | Unary::Clamp { .. } | Unary::Gelu | Unary::GeluErf | Unary::Silu => {
                self.activation().apply(x)
            }
            Unary::Sigmoid => scalar::sigmoid(x),
            Unary::Tanh => scalar::tanh(x),
            Unary::Exp => x.exp(),
        }
    }

    /// `d apply(x) / dx`, for backward passes (NaN gives NaN; 0 at the kinks of ReLU/clamp).
    pub fn derivative(self, x: f32) -> f32 {
        use crate::simd::scalar;
        if x.is_nan() {
            return x;
        }
        match self {
            Unary::Identity | Unary::Relu | Unary::Clamp { .. } | Unary::Gelu | Unary::GeluErf | Unary::Silu => {
                self.activation().derivative(x)
            }
            Unary::Sigmoid => {
                let s = scalar::sigmoid(x);
                s * (1.0 - s)
            }
            Unary::Tanh => {
                let t = scalar::tanh(x);
                1.0 - t * t
            }
            Unary::Exp => x.exp(),
        }
    }

    /// The matching activation (only called for the variants that have one).
    fn activation(self) -> Activation {
        match self {
            Unary::Relu => Activation::Relu,
            Unary::Clamp { min, max } => Activation::Clamp { min, max },
            Unary::Gelu => Activation::Gelu,
            Unary::GeluErf => Activation::GeluErf,
            Unary::Silu => Activation::Silu,
            _ => Activation::Identity,
        }
    }

    /// Clamp bounds must be ordered and not NaN.
    pub fn validate(self) -> Result<(), KernelError> {
        self.activation().validate()
    }
}

/// A binary element-wise function.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Binary {
    /// `x + y`.
    Add,
    /// `x * y`.
    Mul,
}

impl Binary {
    /// The scalar definition.
    pub fn apply(self, x: f32, y: f32) -> f32 {
        match self {
            Binary::Add => x + y,
            Binary::Mul => x * y,
        }
    }
}

/// The right operand of a binary op on a `rows x n` matrix.
#[derive(Clone, Copy, Debug)]
pub enum Rhs<'a> {
    /// One row of `n` values, broadcast to every row.
    Row(&'a [f32]),
    /// A `rows x n` matrix (contiguous rows, any row stride).
    Mat(MatRef<'a>),
}

/// A configured element-wise call: which ISA and how many threads. Cheap to create and copy.
///
/// ```
/// use lanes_kernels::ops::eltwise::{Binary, Rhs, Unary};
/// use lanes_kernels::{Eltwise, Isa, MatMut, MatRef, Parallelism};
/// let e = Eltwise::with_isa(Isa::Scalar)?.parallelism(Parallelism::Sequential);
/// let mut x = [1.0f32, -2.0, 3.0, -4.0];
/// e.unary_inplace(Unary::Relu, &mut x)?;
/// assert_eq!(x, [1.0, 0.0, 3.0, 0.0]);
/// // Add a row to every row of a 2x2 matrix.
/// let mut y = [0.0f32; 4];
/// e.binary(Binary::Add, MatRef::row_major(&x, 2, 2)?, Rhs::Row(&[10.0, 20.0]), MatMut::row_major(&mut y, 2, 2)?)?;
/// assert_eq!(y, [11.0, 20.0, 13.0, 20.0]);
/// # Ok::<(), lanes_kernels::KernelError>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Eltwise {
    isa: Option<Isa>,
    parallelism: Parallelism,
}

/// A read-only row pointer that may cross threads (the views were validated; rows are
/// read, and written only through `MutRows`, one thread per row).
#[derive(Clone, Copy)]
struct Rows {
    ptr: *const f32,
    rs: isize,
}
// SAFETY: only dereferenced inside validated views whose borrows outlive the call.
unsafe impl Send for Rows {}
// SAFETY: as above; reads only.
unsafe impl Sync for Rows {}

impl Rows {
    #[inline]
    fn row(self, i: usize) -> *const f32 {
        self.ptr.wrapping_offset(i as isize * self.rs)
    }
}

impl Eltwise {
    /// The ISA from `LANES_ISA`, else the best this CPU has; `Parallelism::Auto`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forces an ISA; [`KernelError::IsaUnavailable`] if this CPU/build cannot run it.
    pub fn with_isa(isa: Isa) -> Result<Self, KernelError> {
        Ok(Self { isa: Some(isa.require()?), parallelism: Parallelism::Auto })
    }

    /// How many threads calls may use.
    pub fn parallelism(self, parallelism: Parallelism) -> Self {
        Self { parallelism, ..self }
    }

    /// The ISA calls will use.
    pub fn isa(&self) -> Result<Isa, KernelError> {
        match self.isa {
            Some(isa) => Ok(isa),
            None => Isa::selected(),
        }
    }

    fn kernels(&self) -> Result<&'static EltKernels, KernelError> {
        Ok(kernels::for_isa(self.isa()?.require()?))
    }

    /// Threads for a call over `elems` values.
    fn threads(&self, elems: usize) -> usize {
        #[cfg(feature = "rayon")]
        {
            match self.parallelism {
                Parallelism::Sequential => 1,
                Parallelism::Rayon => rayon::current_num_threads(),
                Parallelism::Auto if elems >= PARALLEL_THRESHOLD_ELEMS => rayon::current_num_threads(),
                Parallelism::Auto => 1,
            }
        }
        #[cfg(not(feature = "rayon"))]
        {
            let _ = (elems, self.parallelism);
            1
        }
    }

    /// `y[i] = op(x[i])`. [`KernelError::LengthMismatch`] unless the lengths are equal.
    pub fn unary(&self, op: Unary, x: &[f32], y: &mut [f32]) -> Result<(), KernelError> {
        op.validate()?;
        if x.len() != y.len() {
            return Err(KernelError::LengthMismatch { what: "unary output", expected: x.len(), found: y.len() });
        }
        let k = self.kernels()?;
        let run = |x: &[f32], y: &mut [f32]| {
            // SAFETY: x and y are distinct slices of equal length.
            unsafe { (k.unary)(op, x.as_ptr(), y.as_mut_ptr(), x.len()) }
        };
        let threads = self.threads(x.len());
        #[cfg(feature = "rayon")]
        if threads > 1 {
            use rayon::prelude::*;
            let ch = chunk_len(x.len(), threads);
            x.par_chunks(ch).zip(y.par_chunks_mut(ch)).for_each(|(x, y)| run(x, y));
            return Ok(());
        }
        let _ = threads;
        run(x, y);
        Ok(())
    }

    /// `x[i] = op(x[i])`.
    pub fn unary_inplace(&self, op: Unary, x: &mut [f32]) -> Result<(), KernelError> {
        op.validate()?;
        let k = self.kernels()?;
        let run = |x: &mut [f32]| {
            let p = x.as_mut_ptr();
            // SAFETY: in place over one slice of x.len() values.
            unsafe { (k.unary)(op, p, p, x.len()) }
        };
        let threads = self.threads(x.len());
        #[cfg(feature = "rayon")]
        if threads > 1 {
            use rayon::prelude::*;
            let ch = chunk_len(x.len(), threads);
            x.par_chunks_mut(ch).for_each(run);
            return Ok(());
        }
        let _ = threads;
        run(x);
        Ok(())
    }

    /// `out = op(x, y)`, `x` and `out` `rows x n`, `y` one row (broadcast) or `rows x n`.
    pub fn binary(&self, op: Binary, x: MatRef<'_>, y: Rhs<'_>, mut out: MatMut<'_>) -> Result<(), KernelError> {
        same_shape("binary output", &x, (out.rows(), out.cols()))?;
        let (yrows, n) = self.check_rhs(&x, &y)?;
        let xr = rows_of(&x)?;
        let outr = rows_of_mut(&mut out)?;
        let k = self.kernels()?;
        let (rows, cols) = (x.rows(), x.cols());
        self.for_rows(rows, cols, |i| {
            // SAFETY: row i < rows of validated views with unit column stride; out is a unique
            // borrow (disjoint from x and y), its rows disjoint from each other.
            unsafe { (k.binary)(op, xr.row(i), yrows.row(i), outr.row(i) as *mut f32, n) }
        });
        Ok(())
    }

    /// `x = op(x, y)`, `y` one row (broadcast) or a matrix of x's shape.
    pub fn binary_inplace(&self, op: Binary, mut x: MatMut<'_>, y: Rhs<'_>) -> Result<(), KernelError> {
        let (yrows, n) = self.check_rhs(&x.as_ref(), &y)?;
        let xr = rows_of_mut(&mut x)?;
        let k = self.kernels()?;
        let (rows, cols) = (x.rows(), x.cols());
        self.for_rows(rows, cols, |i| {
            let p = xr.row(i) as *mut f32;
            // SAFETY: row i of a validated unique view, in place; y is a shared borrow, disjoint.
            unsafe { (k.binary)(op, p, yrows.row(i), p, n) }
        });
        Ok(())
    }

    fn check_rhs(&self, x: &MatRef<'_>, y: &Rhs<'_>) -> Result<(Rows, usize), KernelError> {
        let n = x.cols();
        match y {
            Rhs::Row(r) => {
                if r.len() != n {
                    return Err(KernelError::LengthMismatch { what: "broadcast row", expected: n, found: r.len() });
                }
                Ok((Rows { ptr: r.as_ptr(), rs: 0 }, n))
            }
            Rhs::Mat(m) => {
                same_shape("right operand", x, (m.rows(), m.cols()))?;
                Ok((rows_of(m)?, n))
            }
        }
    }

    /// Softmax of each row: `e^(x - max) / sum e^(x - max)`.
    pub fn softmax(&self, x: MatRef<'_>, mut y: MatMut<'_>) -> Result<(), KernelError> {
        same_shape("softmax output", &x, (y.rows(), y.cols()))?;
        let (xr, yr) = (rows_of(&x)?, rows_of_mut(&mut y)?);
        self.row_op(xr, yr, x.rows(), x.cols(), |k| k.softmax)
    }

    /// Softmax of each row, in place.
    pub fn softmax_inplace(&self, mut x: MatMut<'_>) -> Result<(), KernelError> {
        let xr = rows_of_mut(&mut x)?;
        self.row_op(xr, xr, x.rows(), x.cols(), |k| k.softmax)
    }

    /// Log-softmax of each row: `(x - max) - ln(sum e^(x - max))`.
    pub fn log_softmax(&self, x: MatRef<'_>, mut y: MatMut<'_>) -> Result<(), KernelError> {
        same_shape("log_softmax output", &x, (y.rows(), y.cols()))?;
        let (xr, yr) = (rows_of(&x)?, rows_of_mut(&mut y)?);
        self.row_op(xr, yr, x.rows(), x.cols(), |k| k.log_softmax)
    }

    /// Log-softmax of each row, in place.
    pub fn log_softmax_inplace(&self, mut x: MatMut<'_>) -> Result<(), KernelError> {
        let xr = rows_of_mut(&mut x)?;
        self.row_op(xr, xr, x.rows(), x.cols(), |k| k.log_softmax)
    }

    fn row_op(
        &self,
        xr: Rows,
        yr: Rows,
        rows: usize,
        cols: usize,
        f: impl Fn(&EltKernels) -> unsafe fn(*const f32, *mut f32, usize),
    ) -> Result<(), KernelError> {
        let kern = f(self.kernels()?);
        self.for_rows(rows, cols, |i| {
            // SAFETY: row i < rows of validated views, unit column stride; the output is a
            // unique borrow, equal to the input (in place) or disjoint from it.
            unsafe { kern(xr.row(i), yr.row(i) as *mut f32, cols) }
        });
        Ok(())
    }

    /// Layer norm of each row: `(x - mean) / sqrt(var + eps) * gamma + beta` (mean and the
    /// biased variance in f32, two passes).
    pub fn layer_norm(
        &self,
        x: MatRef<'_>,
        gamma: &[f32],
        beta: &[f32],
        eps: f32,
        mut y: MatMut<'_>,
    ) -> Result<(), KernelError> {
        same_shape("layer_norm output", &x, (y.rows(), y.cols()))?;
        check_norm(x.cols(), gamma, Some(beta), eps)?;
        let (xr, yr) = (rows_of(&x)?, rows_of_mut(&mut y)?);
        self.norm(xr, yr, x.rows(), x.cols(), gamma, Some(beta), eps)
    }

    /// Layer norm of each row, in place.
    pub fn layer_norm_inplace(
        &self,
        mut x: MatMut<'_>,
        gamma: &[f32],
        beta: &[f32],
        eps: f32,
    ) -> Result<(), KernelError> {
        check_norm(x.cols(), gamma, Some(beta), eps)?;
        let xr = rows_of_mut(&mut x)?;
        self.norm(xr, xr, x.rows(), x.cols(), gamma, Some(beta), eps)
    }

    /// RMS norm of each row: `x / sqrt(mean(x^2) + eps) * gamma`.
    pub fn rms_norm(&self, x: MatRef<'_>, gamma: &[f32], eps: f32, mut y: MatMut<'_>) -> Result<(), KernelError> {
        same_shape("rms_norm output", &x, (y.rows(), y.cols()))?;
        check_norm(x.cols(), gamma, None, eps)?;
        let (xr, yr) = (rows_of(&x)?, rows_of_mut(&mut y)?);
        self.norm(xr, yr, x.rows(), x.cols(), gamma, None, eps)
    }

    /// RMS norm of each row, in place.
    pub fn rms_norm_inplace(&self, mut x: MatMut<'_>, gamma: &[f32], eps: f32) -> Result<(), KernelError> {
        check_norm(x.cols(), gamma, None, eps)?;
        let xr = rows_of_mut(&mut x)?;
        self.norm(xr, xr, x.rows(), x.cols(), gamma, None, eps)
    }

    #[allow(clippy::too_many_arguments)]
    fn norm(
        &self,
        xr: Rows,
        yr: Rows,
        rows: usize,
        cols: usize,
        gamma: &[f32],
        beta: Option<&[f32]>,
        eps: f32,
    ) -> Result<(), KernelError> {
        let k = self.kernels()?;
        let g = Rows { ptr: gamma.as_ptr(), rs: 0 };
        let b = beta.map(|b| Rows { ptr: b.as_ptr(), rs: 0 });
        self.for_rows(rows, cols, |i| {
            let (x, y) = (xr.row(i), yr.row(i) as *mut f32);
            // SAFETY: as in row_op; gamma and beta hold cols values (checked).
            unsafe {
                match b {
                    Some(b) => (k.layer_norm)(x, y, cols, g.row(0), b.row(0), eps),
                    None => (k.rms_norm)(x, y, cols, g.row(0), eps),
                }
            }
        });
        Ok(())
    }

    /// Runs `f(i)` for every row, on several threads when the call is large enough.
    fn for_rows(&self, rows: usize, cols: usize, f: impl Fn(usize) + Sync + Send) {
        if rows == 0 || cols == 0 {
            return;
        }
        let threads = self.threads(rows.saturating_mul(cols));
        #[cfg(feature = "rayon")]
        if threads > 1 && rows > 1 {
            use rayon::prelude::*;
            // About 4 tasks per thread, whole rows each.
            let per_task = rows.div_ceil(threads * 4).max(1);
            (0..rows).into_par_iter().with_min_len(per_task).for_each(f);
            return;
        }
        let _ = threads;
        (0..rows).for_each(f);
    }
}

/// Chunk length for splitting a flat array across `threads` (about 4 chunks per thread, a
/// multiple of 64 values so chunks start on cache lines relative to the slice).
#[cfg(feature = "rayon")]
fn chunk_len(n: usize, threads: usize) -> usize {
    n.div_ceil(threads * 4).next_multiple_of(64).max(64)
}

fn same_shape(what: &'static str, x: &MatRef<'_>, found: (usize, usize)) -> Result<(), KernelError> {
    if (x.rows(), x.cols()) != found {
        return Err(KernelError::shape(what, (x.rows(), x.cols()), found));
    }
    Ok(())
}

fn check_norm(cols: usize, gamma: &[f32], beta: Option<&[f32]>, eps: f32) -> Result<(), KernelError> {
    if gamma.len() != cols {
        return Err(KernelError::LengthMismatch { what: "gamma", expected: cols, found: gamma.len() });
    }
    if let Some(beta) = beta {
        if beta.len() != cols {
            return Err(KernelError::LengthMismatch { what: "beta", expected: cols, found: beta.len() });
        }
    }
    if eps.is_nan() || eps < 0.0 {
        return Err(KernelError::InvalidArgument { what: "eps must be >= 0 and not NaN" });
    }
    Ok(())
}

fn unit_cols(cols: usize, cs: isize) -> Result<(), KernelError> {
    if cols > 1 && cs != 1 {
        return Err(KernelError::InvalidArgument { what: "element-wise rows must be contiguous (column stride 1)" });
    }
    Ok(())
}

fn rows_of(x: &MatRef<'_>) -> Result<Rows, KernelError> {
    unit_cols(x.cols(), x.col_stride())?;
    Ok(Rows { ptr: x.as_ptr(), rs: x.row_stride() })
}

fn rows_of_mut(x: &mut MatMut<'_>) -> Result<Rows, KernelError> {
    unit_cols(x.cols(), x.col_stride())?;
    Ok(Rows { ptr: x.as_mut_ptr(), rs: x.row_stride() })
}

/// [`Eltwise::unary`] with the default configuration.
pub fn unary(op: Unary, x: &[f32], y: &mut [f32]) -> Result<(), KernelError> {
    Eltwise::new().unary(op, x, y)
}
/// [`Eltwise::unary_inplace`] with the default configuration.
pub fn unary_inplace(op: Unary, x: &mut [f32]) -> Result<(), KernelError> {
    Eltwise::new().unary_inplace(op, x)
}
/// [`Eltwise::binary`] with the default configuration.
pub fn binary(op: Binary, x: MatRef<'_>, y: Rhs<'_>, out: MatMut<'_>) -> Result<(), KernelError> {
    Eltwise::new().binary(op, x, y, out)
}
/// [`Eltwise::binary_inplace`] with the default configuration.
pub fn binary_inplace(op: Binary, x: MatMut<'_>, y: Rhs<'_>) -> Result<(), KernelError> {
    Eltwise::new().binary_inplace(op, x, y)
}
/// [`Eltwise::softmax`] with the default configuration.
pub fn softmax(x: MatRef<'_>, y: MatMut<'_>) -> Result<(), KernelError> {
    Eltwise::new().softmax(x, y)
}
/// [`Eltwise::log_softmax`] with the default configuration.
pub fn log_softmax(x: MatRef<'_>, y: MatMut<'_>) -> Result<(), KernelError> {
    Eltwise::new().log_softmax(x, y)
}
/// [`Eltwise::layer_norm`] with the default configuration.
pub fn layer_norm(x: MatRef<'_>, gamma: &[f32], beta: &[f32], eps: f32, y: MatMut<'_>) -> Result<(), KernelError> {
    Eltwise::new().layer_norm(x, gamma, beta, eps, y)
}
/// [`Eltwise::rms_norm`] with the default configuration.
pub fn rms_norm(x: MatRef<'_>, gamma: &[f32], eps: f32, y: MatMut<'_>) -> Result<(), KernelError> {
    Eltwise::new().rms_norm(x, gamma, eps, y)
}
