//! f32 GEMM: `C = act(alpha * A*B + beta*C + bias)` on strided views.

//!
//! | module | one idea |
//! |---|---|
//! | `mod.rs` | the public API: [`Gemm`], [`gemm`], [`gemm_raw`] |
//! | `ukernel` | the microkernel contract (a leaf): `Tile`, [`MicroKernel`], [`Variant`] |
//! | `registry` | the one list of kernels; [`AvailableKernel`], the proof a kernel runs here |
//! | `plan` | [`Strategy`]: every decision of a call, made by one pure function |
//! | `exec`, `gemv` | one executor per strategy |
//! | `pack`, `packed` | packing A and B panels; [`PackedB`] |
//! | `kernels/` | one file per named microkernel |

mod epilogue;
mod exec;
mod gemv;
pub(crate) mod kernels;
mod operand;
mod pack;
mod packed;
mod plan;
mod problem;
pub mod registry;
pub mod ukernel;

use crate::error::KernelError;
use crate::isa::Isa;
use crate::view::{MatMut, MatRef};
pub use epilogue::Epilogue;
pub(crate) use operand::{Indirection, ReadPtr};
use operand::{Strided, StridedMut};
pub use packed::PackedB;
pub use plan::{APlan, BPlan, BlockedPlan, DotPlan, GemvPlan, Strategy, Strip};
use problem::{BSource, Problem};
pub use registry::{microkernels, AvailableKernel, DotArgs, TileArgs};
pub use ukernel::{BInPlace, MicroKernel, Variant, VariantKind, A_BROADCAST_LANES};

/// How many threads a call may use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Parallelism {
    /// Only the calling thread.
    Sequential,
    /// All threads of the current rayon pool (the global pool, or the one entered with
    /// `ThreadPool::install`), whatever the problem size.
    Rayon,
    /// `Rayon` when the problem has at least [`PARALLEL_THRESHOLD_FLOP`] multiply-adds (inside
    /// [`crate::with_awake_workers`]: [`AWAKE_PARALLEL_THRESHOLD_FLOP`]), else `Sequential`.
    /// The default.
    #[default]
    Auto,
}

/// Below this many multiply-adds (`m*n*k`) `Parallelism::Auto` stays on one thread: the
/// fork/join costs more than a second core gains (between the 48^3 of calls back to back and
/// the 128^3 of calls with pauses, docs/gemm-tuning.md); choose `Sequential` or `Rayon`
/// explicitly when the calling pattern is known.
pub const PARALLEL_THRESHOLD_FLOP: usize = 96 * 96 * 96;

/// `Parallelism::Auto`'s threshold inside [`crate::with_awake_workers`], where the other
/// workers spin and a fork costs microseconds: 64^3 multiply-adds (a 1 x 512 x 784 GEMV,
/// 18-25 us on one thread, took 12 us on two; 1 x 256 x 512 lost).
pub const AWAKE_PARALLEL_THRESHOLD_FLOP: usize = 64 * 64 * 64;

/// A configured GEMM: which ISA (or which kernel) and how many threads. Cheap to create and copy.
///
/// ```
/// use lanes_kernels::{Gemm, MatMut, MatRef};
/// let a = [1.0, 2.0, 3.0, 4.0]; // 2x2 row-major
/// let b = [1.0, 0.0, 0.0, 1.0];
/// let mut c = [0.0f32; 4];
/// Gemm::new().run(
///     1.0,
///     MatRef::row_major(&a, 2, 2)?,
///     MatRef::row_major(&b, 2, 2)?,
///     0.0,
///     MatMut::row_major(&mut c, 2, 2)?,
/// )?;
/// assert_eq!(c, a);
/// # Ok::<(), lanes_kernels::KernelError>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct Gemm {
    isa: Option<Isa>,
    kernel: Option<AvailableKernel>,
    parallelism: Parallelism,
}

impl Gemm {
    /// The ISA from `LANES_ISA`, else the best this CPU has; `Parallelism::Auto`.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forces an ISA; an error if this CPU/build cannot run it.
    pub fn with_isa(isa: Isa) -> Result<Self, KernelError> {
        Ok(Self { isa: Some(isa.require()?), kernel: None, parallelism: Parallelism::Auto })
    }

    /// Forces one microkernel by name (e.g. `sgemm_6x16_avx2_fma`, see [`microkernels`]);
    /// [`KernelError::UnknownKernel`] or [`KernelError::IsaUnavailable`] otherwise.
    pub fn with_kernel(name: &str) -> Result<Self, KernelError> {
        let kernel = AvailableKernel::by_name(name)?;
        Ok(Self { isa: Some(kernel.isa), kernel: Some(kernel), parallelism: Parallelism::Auto })
    }

    /// How many threads calls may use.
    pub fn parallelism(self, parallelism: Parallelism) -> Self {
        Self { parallelism, ..self }
    }

    /// The ISA calls will use.
    #[inline]
    pub fn isa(&self) -> Result<Isa, KernelError> {
        match self.isa {
            Some(isa) => Ok(isa),
            None => Isa::selected(),
        }
    }

    /// The microkernel an `m x n x k` product runs on.
    #[inline]
    pub fn kernel_for(&self, m: usize, n: usize, k: usize) -> Result<AvailableKernel, KernelError> {
        match self.kernel {
            Some(kernel) => Ok(kernel),
            None => registry::select(self.isa()?, m, n, k),
        }
    }

    /// How `C = alpha*A*B + beta*C` would run (path, blocking, packing, threads), without
    /// running it: for tests, tuning and curiosity. Checks shapes like [`Gemm::run`].
    pub fn plan(&self, alpha: f32, a: MatRef<'_>, b: MatRef<'_>, c: &mut MatMut<'_>) -> Result<Strategy, KernelError> {
        check_shapes(&a, (b.rows(), b.cols()), c)?;
        let kern = self.kernel_for(a.rows(), b.cols(), a.cols())?;
        let bsrc = BSource::Strided(Strided { ptr: b.as_ptr(), rs: b.row_stride(), cs: b.col_stride() });
        let p = problem(alpha, &a, bsrc, b.rows(), b.cols(), 0.0, c, &Epilogue::NONE);
        Ok(plan::plan(&kern, &p, self.threads(p.m, p.n, p.k)))
    }

    /// [`Gemm::plan`] for a prepacked B.
    pub fn plan_packed(
        &self,
        alpha: f32,
        a: MatRef<'_>,
        b: &PackedB,
        c: &mut MatMut<'_>,
    ) -> Result<Strategy, KernelError> {
        check_shapes(&a, (b.rows(), b.cols()), c)?;
        let p = problem(alpha, &a, BSource::packed(b), b.rows(), b.cols(), 0.0, c, &Epilogue::NONE);
        Ok(plan::plan(&b.kernel, &p, self.threads(p.m, p.n, p.k)))
    }

    /// `C = alpha*A*B + beta*C`.
    #[inline]
    pub fn run(&self, alpha: f32, a: MatRef<'_>, b: MatRef<'_>, beta: f32, c: MatMut<'_>) -> Result<(), KernelError> {
        self.run_fused(alpha, a, b, beta, c, &Epilogue::NONE)
    }

    /// `C = act(alpha*A*B + beta*C + bias)`, bias and activation applied in registers.
    #[inline]
    pub fn run_fused(
        &self,
        alpha: f32,
        a: MatRef<'_>,
        b: MatRef<'_>,
        beta: f32,
        mut c: MatMut<'_>,
        epi: &Epilogue<'_>,
    ) -> Result<(), KernelError> {
        check_shapes(&a, (b.rows(), b.cols()), &c)?;
        let kern = self.kernel_for(a.rows(), b.cols(), a.cols())?;
        epi.validate(c.cols())?;
        let bsrc = BSource::Strided(Strided { ptr: b.as_ptr(), rs: b.row_stride(), cs: b.col_stride() });
        // SAFETY: the views were validated at construction (every element in bounds) and the
        // borrow checker keeps C (a unique borrow) apart from A and B.
        unsafe { self.execute(kern, alpha, &a, bsrc, b.rows(), b.cols(), beta, &mut c, epi) }
    }

    /// Packs B (weights) once for the kernel this `Gemm` uses. `TooLarge` if the packed copy's
    /// size overflows, `AllocationFailed` if the allocator refuses it.
    pub fn pack_b(&self, b: MatRef<'_>) -> Result<PackedB, KernelError> {
        // The row count of the A it will meet is unknown: the kernel for a large one.
        PackedB::new(self.kernel_for(usize::MAX, b.cols(), b.rows())?, b)
    }

    /// Like [`Gemm::run_fused`] with a prepacked B. Runs the kernel B was packed for.
    pub fn run_packed(
        &self,
        alpha: f32,
        a: MatRef<'_>,
        b: &PackedB,
        beta: f32,
        mut c: MatMut<'_>,
        epi: &Epilogue<'_>,
    ) -> Result<(), KernelError> {
        check_shapes(&a, (b.rows(), b.cols()), &c)?;
        epi.validate(c.cols())?;
        // SAFETY: as in run_fused; `b` carries its own (available) kernel.
        unsafe { self.execute(b.kernel, alpha, &a, BSource::packed(b), b.rows(), b.cols(), beta, &mut c, epi) }
    }

    /// `act(alpha*A*B + bias)` with a prepacked B into a new row-major `m x n` `Vec`, which is
    /// not zeroed first (every value is written): [`Gemm::run_packed`] with `beta = 0` and no
    /// output to allocate. `AllocationFailed` when the output cannot be allocated.
    pub fn run_packed_to_vec(
        &self,
        alpha: f32,
        a: MatRef<'_>,
        b: &PackedB,
        epi: &Epilogue<'_>,
    ) -> Result<Vec<f32>, KernelError> {
        let (m, n) = (a.rows(), b.cols());
        // SAFETY: with beta = 0 the GEMM writes every element of C (m x n, row-major) and
        // reads none; the view is over the Vec's own storage, nothing else accesses it.
        unsafe {
            crate::buffer::vec_written_by(("GEMM output", m, n), |ptr| {
                let c = MatMut::from_raw_parts(ptr, m, n, n as isize, 1)?;
                self.run_packed(alpha, a, b, 0.0, c, epi)
            })
        }
    }

    #[inline]
    fn threads(&self, m: usize, n: usize, k: usize) -> usize {
        self.threads_for(m.saturating_mul(n).saturating_mul(k))
    }

    /// Threads a call of `work` multiply-adds may use under this `Parallelism` (1 without the
    /// `rayon` feature). Other operations (depthwise convolution) share the rule.
    #[inline]
    pub(crate) fn threads_for(&self, work: usize) -> usize {
        #[cfg(feature = "rayon")]
        {
            match self.parallelism {
                Parallelism::Sequential => 1,
                Parallelism::Rayon => rayon::current_num_threads(),
                Parallelism::Auto if work >= PARALLEL_THRESHOLD_FLOP => rayon::current_num_threads(),
                Parallelism::Auto if work >= AWAKE_PARALLEL_THRESHOLD_FLOP && crate::awake::workers_awake() => {
                    rayon::current_num_threads()
                }
                Parallelism::Auto => 1,
            }
        }
        #[cfg(not(feature = "rayon"))]
        {
            let _ = (work, self.parallelism);
            1
        }
    }

    /// # Safety
    /// Views valid, C disjoint from A and B.
    #[allow(clippy::too_many_arguments)]
    unsafe fn execute(
        &self,
        kern: AvailableKernel,
        alpha: f32,
        a: &MatRef<'_>,
        b: BSource<'_>,
        k: usize,
        n: usize,
        beta: f32,
        c: &mut MatMut<'_>,
        epi: &Epilogue<'_>,
    ) -> Result<(), KernelError> {
        let p = problem(alpha, a, b, k, n, beta, c, epi);
        // SAFETY: forwarded from the caller.
        unsafe { exec::run(kern, &p, self.threads(p.m, n, k)) }
    }
}

impl Gemm {
    /// `C = act(A*B + beta*C + bias)` with A (`m x k`, `k = taps * cin`) read through an
    /// indirection buffer and B prepacked: the implicit GEMM of a convolution, `m / ind.pixels`
    /// images at once.
    ///
    /// # Safety
    /// For every image `b < m / ind.pixels`, every offset in `ind.offsets` other than `PAD`
    /// addresses, from `ind.base + b * ind.image_stride`, `ind.cin` readable values that C does
    /// not overlap; `ind.zero` holds `ind.cin` zeros.
    pub(crate) unsafe fn run_indirect(
        &self,
        ind: Indirection<'_>,
        m: usize,
        b: &PackedB,
        beta: f32,
        mut c: MatMut<'_>,
        epi: &Epilogue<'_>,
    ) -> Result<(), KernelError> {
        let (k, n) = (b.rows(), b.cols());
        if ind.taps.checked_mul(ind.cin) != Some(k)
            || ind.pixels == 0
            || !m.is_multiple_of(ind.pixels)
            || ind.offsets.len() != ind.pixels.saturating_mul(ind.taps)
        {
            return Err(KernelError::InvalidGeometry {
                param: "indirection buffer (pixels x taps x channels)",
                value: ind.offsets.len(),
            });
        }
        if c.rows() != m || c.cols() != n {
            return Err(KernelError::shape("C (must be m x n)", (m, n), (c.rows(), c.cols())));
        }
        epi.validate(n)?;
        let p = Problem {
            m,
            n,
            k,
            alpha: 1.0,
            a: Strided { ptr: std::ptr::null(), rs: 0, cs: 0 },
            a_indirect: Some(ind),
            b: BSource::packed(b),
            beta,
            c: StridedMut { ptr: c.as_mut_ptr(), rs: c.row_stride(), cs: c.col_stride() },
            bias: epi.bias,
            act: epi.activation,
        };
        // SAFETY: the caller's contract for A; B is packed and C a validated unique view.
        unsafe { exec::run(b.kernel, &p, self.threads(m, n, k)) }
    }
}

/// The raw problem of validated views.
#[allow(clippy::too_many_arguments)]
#[inline]
fn problem<'a>(
    alpha: f32,
    a: &MatRef<'_>,
    b: BSource<'a>,
    k: usize,
    n: usize,
    beta: f32,
    c: &mut MatMut<'_>,
    epi: &Epilogue<'a>,
) -> Problem<'a> {
    Problem {
        m: a.rows(),
        n,
        k,
        alpha,
        a: Strided { ptr: a.as_ptr(), rs: a.row_stride(), cs: a.col_stride() },
        a_indirect: None,
        b,
        beta,
        c: StridedMut { ptr: c.as_mut_ptr(), rs: c.row_stride(), cs: c.col_stride() },
        bias: epi.bias,
        act: epi.activation,
    }
}

#[track_caller]
#[inline]
fn check_shapes(a: &MatRef<'_>, b: (usize, usize), c: &MatMut<'_>) -> Result<(), KernelError> {
    let (m, k, n) = (a.rows(), a.cols(), b.1);
    if b.0 != k {
        return Err(KernelError::shape("B (must be k x n with k = columns of A)", (k, n), b));
    }
    if c.rows() != m || c.cols() != n {
        return Err(KernelError::shape("C (must be m x n)", (m, n), (c.rows(), c.cols())));
    }
    Ok(())
}

/// `C = alpha*A*B + beta*C` with the default [`Gemm`] (detected ISA, automatic threading).
pub fn gemm(alpha: f32, a: MatRef<'_>, b: MatRef<'_>, beta: f32, c: MatMut<'_>) -> Result<(), KernelError> {
    Gemm::new().run(alpha, a, b, beta, c)
}

/// Raw-pointer GEMM for callers that manage memory themselves:
/// `C[i*rsc + j*csc] = alpha * sum_p A[i*rsa + p*csa] * B[p*rsb + j*csb] + beta * C[..]`.
///
/// Checks that the strides do not overflow, that C does not map two elements to the same
/// address, and that C's address range does not overlap A's or B's.
///
/// # Safety
/// For every `i < m`, `j < n`, `p < k`: `a.offset(i*rsa + p*csa)` and `b.offset(p*rsb + j*csb)`
/// are valid for reads and `c.offset(i*rsc + j*csc)` for reads and writes, all properly
/// aligned f32, and no other thread writes them during the call.
#[allow(clippy::too_many_arguments)]
pub unsafe fn gemm_raw(
    gemm: &Gemm,
    m: usize,
    n: usize,
    k: usize,
    alpha: f32,
    a: *const f32,
    rsa: isize,
    csa: isize,
    b: *const f32,
    rsb: isize,
    csb: isize,
    beta: f32,
    c: *mut f32,
    rsc: isize,
    csc: isize,
) -> Result<(), KernelError> {
    let kern = gemm.kernel_for(m, n, k)?;
    let ra = crate::view::extent_of(m, k, rsa, csa)?;
    let rb = crate::view::extent_of(k, n, rsb, csb)?;
    let rc = crate::view::extent_of(m, n, rsc, csc)?;
    if !crate::view::distinct(m, n, rsc, csc) {
        return Err(KernelError::OverlappingOutput { rows: m, cols: n, row_stride: rsc, col_stride: csc });
    }
    // Byte ranges in i128: address + offset cannot overflow there.
    let span = |p: usize, r: (isize, isize)| (p as i128 + r.0 as i128 * 4, p as i128 + r.1 as i128 * 4 + 4);
    let (c_lo, c_hi) = span(c as usize, rc);
    let overlaps = |(lo, hi): (i128, i128)| lo < c_hi && c_lo < hi;
    if m * n > 0 && k > 0 && overlaps(span(a as usize, ra)) {
        return Err(KernelError::Aliasing { input: "A" });
    }
    if m * n > 0 && k > 0 && overlaps(span(b as usize, rb)) {
        return Err(KernelError::Aliasing { input: "B" });
    }
    let problem = Problem {
        m,
        n,
        k,
        alpha,
        a: Strided { ptr: a, rs: rsa, cs: csa },
        a_indirect: None,
        b: BSource::Strided(Strided { ptr: b, rs: rsb, cs: csb }),
        beta,
        c: StridedMut { ptr: c, rs: rsc, cs: csc },
        bias: None,
        act: crate::activation::Activation::Identity,
    };
    // SAFETY: the caller's contract plus the checks above.
    unsafe { exec::run(kern, &problem, gemm.threads(m, n, k)) }
}
