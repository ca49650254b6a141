//! Prepacked B (weights): packed once in the microkernel's panel order, reused by many calls.

use super::pack::pack_b;
use super::registry::AvailableKernel;
use crate::buffer::{checked_len, AlignedVec};
use crate::error::KernelError;
use crate::view::MatRef;

/// B (`k x n`) packed for one microkernel: for each KC block of rows, `ceil(n / NR)` panels of
/// `kc x NR` values, zero-padded; B of at most 3 columns (the kernel's dot-product widths)
/// instead column by column, each column's `k` values contiguous, which the dot-product GEMV
/// streams (panels would pad 3 columns to NR and leave that path unused). Build it with
/// [`crate::Gemm::pack_b`], run it with [`crate::Gemm::run_packed`] (it runs on the
/// microkernel it was packed for, whatever ISA the running `Gemm` names). `Send + Sync`: share
/// one across threads.
///
/// ```
/// use lanes_kernels::{Activation, Epilogue, Gemm, MatMut, MatRef};
/// // A dense layer: x (batch x in) times W (in x out), plus bias, then ReLU.
/// let w = [1.0f32, -1.0, 2.0, 0.5, 0.0, 1.0]; // 3 x 2, row-major
/// let g = Gemm::new();
/// let packed = g.pack_b(MatRef::row_major(&w, 3, 2)?)?; // once
/// let bias = [0.0f32, 1.0];
/// let x = [1.0f32, 1.0, 1.0];
/// let mut y = [0.0f32; 2];
/// g.run_packed(
///     1.0,
///     MatRef::row_major(&x, 1, 3)?,
///     &packed,
///     0.0,
///     MatMut::row_major(&mut y, 1, 2)?,
///     &Epilogue::new(Some(&bias), Activation::Relu),
/// )?;
/// assert_eq!(y, [3.0, 1.5]);
/// # Ok::<(), lanes_kernels::KernelError>(())
/// ```
pub struct PackedB {
    pub(crate) kernel: AvailableKernel,
    k: usize,
    n: usize,
    /// Column-major B (`n <= kernel.gemv_dot.len()`) instead of panels.
    columns: bool,
    data: AlignedVec,
}

impl PackedB {
    /// Packs `b`; an error when the packed copy cannot be allocated: `TooLarge` when its size
    /// overflows (e.g. a huge view made of zero strides over a short slice),
    /// `AllocationFailed` when the allocator refuses it.
    pub(crate) fn new(kernel: AvailableKernel, b: MatRef<'_>) -> Result<Self, KernelError> {
        let (k, n, nr) = (b.rows(), b.cols(), kernel.nr);
        let too_large = KernelError::TooLarge { what: "packed B", rows: k, cols: n };
        if n > 0 && n <= kernel.gemv_dot.len() {
            let len = checked_len::<f32>("packed B", k, n).map_err(|_| too_large)?;
            let mut data = AlignedVec::try_zeroed("packed B", len)?;
            for (j, column) in data.as_mut_slice().chunks_exact_mut(k.max(1)).enumerate() {
                for (p, v) in column.iter_mut().enumerate() {
                    *v = b.get(p, j);
                }
            }
            return Ok(Self { kernel, k, n, columns: true, data });
        }
        let n_pad = n.div_ceil(nr).checked_mul(nr).ok_or(too_large.clone())?;
        let len = checked_len::<f32>("packed B", k, n_pad).map_err(|_| too_large)?;
        let mut data = AlignedVec::try_zeroed("packed B", len)?;
        let mut pc = 0;
        // (n == 0: nothing to pack, whatever k is; do not walk k's depth blocks for nothing.)
        while pc < k && n > 0 {
            let kc = kernel.depth_block(k).min(k - pc);
            let dst = &mut data.as_mut_slice()[pc * n_pad..(pc + kc) * n_pad];
            // SAFETY: MatRef guarantees every (p, j) of the view is readable.
            unsafe {
                let b0 = b.as_ptr().offset(pc as isize * b.row_stride());
                pack_b(dst, b0, b.row_stride(), b.col_stride(), kc, n, nr);
            }
            pc += kc;
        }
        Ok(Self { kernel, k, n, columns: false, data })
    }

    /// Rows of B (the GEMM depth `k`).
    pub fn rows(&self) -> usize {
        self.k
    }
    /// Columns of B (`n`).
    pub fn cols(&self) -> usize {
        self.n
    }
    /// Name of the microkernel this was packed for.
    pub fn kernel_name(&self) -> &'static str {
        self.kernel.name
    }

    /// A narrow B's column-major copy (`n * k` values, column `j` at `j * k`); `None` when
    /// this B is in panels.
    pub(crate) fn columns(&self) -> Option<&[f32]> {
        self.columns.then(|| self.data.as_slice())
    }

    /// Start of the panels of the KC block at row `pc`, column `jc` (a multiple of NR).
    pub(crate) fn block_ptr(&self, pc: usize, jc: usize) -> *const f32 {
        assert!(!self.columns, "a column-major PackedB is read as a strided operand (BSource::packed)");
        let nr = self.kernel.nr;
        let n_pad = self.n.div_ceil(nr) * nr;
        let kc = self.kernel.depth_block(self.k).min(self.k - pc);
        assert!(jc.is_multiple_of(nr), "PackedB blocks start on whole NR panels");
        self.data.as_slice()[pc * n_pad..].as_ptr().wrapping_add((jc / nr) * kc * nr)
    }
}

impl std::fmt::Debug for PackedB {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PackedB({}x{} for {})", self.k, self.n, self.kernel.name)
    }
}
