//! The checked Rust layer under the JS bindings: every argument that crosses from JavaScript is
//! validated here, and every failure is an [`ApiError`] with a message (the bindings turn it
//! into a thrown JS `Error`). Nothing here can trap: sizes are capped and buffers are
//! allocated with `try_reserve`.

use lanes_kernels::{Epilogue, Gemm, Isa, MatMut, MatRef, PackedB, Parallelism};
use std::fmt;

/// Largest matrix the bindings accept, in f32 elements (128 MiB). Keeps A, B, packed B and C of
/// one plan well inside the 1 GiB memory of the threads build.
pub const MAX_ELEMENTS: usize = 32 << 20;

/// Why a call from JavaScript was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError(pub String);

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ApiError {}

impl From<lanes_kernels::KernelError> for ApiError {
    #[cold]
    fn from(e: lanes_kernels::KernelError) -> Self {
        ApiError(format!("lanes: {e}"))
    }
}

#[cold]
fn err(msg: String) -> ApiError {
    ApiError(format!("lanes: {msg}"))
}

/// A JS number that must be a dimension: a non-negative integer (JS passes f64; negative,
/// fractional, NaN or huge values are refused rather than wrapped).
pub fn dim(name: &str, v: f64) -> Result<usize, ApiError> {
    if !(v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v <= MAX_ELEMENTS as f64) {
        return Err(err(format!("{name} must be an integer in 0..={MAX_ELEMENTS}, got {v}")));
    }
    Ok(v as usize)
}

/// Validated GEMM dimensions: A is `m x k`, B `k x n`, C `m x n`, each at most [`MAX_ELEMENTS`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dims {
    pub m: usize,
    pub n: usize,
    pub k: usize,
}

impl Dims {
    pub fn new(m: f64, n: f64, k: f64) -> Result<Self, ApiError> {
        let d = Dims { m: dim("m", m)?, n: dim("n", n)?, k: dim("k", k)? };
        for (what, r, c) in [("A", d.m, d.k), ("B", d.k, d.n), ("C", d.m, d.n)] {
            match r.checked_mul(c) {
                Some(len) if len <= MAX_ELEMENTS => {}
                _ => return Err(err(format!("{what} ({r}x{c}) is larger than {MAX_ELEMENTS} elements"))),
            }
        }
        Ok(d)
    }

    /// Checks a JS array's length against `rows x cols`.
    pub fn check_len(what: &str, len: usize, rows: usize, cols: usize) -> Result<(), ApiError> {
        if len != rows * cols {
            return Err(err(format!("{what} has length {len}, expected {rows}x{cols} = {} (row-major)", rows * cols)));
        }
        Ok(())
    }
}

/// `None`, `""` or `"auto"`: the best ISA of this build; else a name such as `"simd128"`.
pub fn parse_isa(isa: Option<&str>) -> Result<Isa, ApiError> {
    match isa.map(str::trim) {
        None | Some("") | Some("auto") => Ok(Isa::best()),
        Some(name) => Ok(name.parse::<Isa>()?.require()?),
    }
}

/// Whether this module was built with threads (the `threads` feature).
pub const THREADS_BUILD: bool = cfg!(feature = "threads");

#[cfg(feature = "threads")]
static POOL_THREADS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Records that JS has awaited `initThreadPool(n)` (the pool is started asynchronously in JS,
/// and starting rayon's pool any other way would try `std::thread::spawn` and abort).
pub fn set_pool_threads(n: usize) -> Result<(), ApiError> {
    #[cfg(feature = "threads")]
    {
        POOL_THREADS.store(n, std::sync::atomic::Ordering::Release);
        Ok(())
    }
    #[cfg(not(feature = "threads"))]
    {
        Err(err(format!("cannot use {n} threads: this is not the threads build")))
    }
}

/// Threads of the worker pool (1 when there is none).
pub fn pool_threads() -> usize {
    #[cfg(feature = "threads")]
    {
        POOL_THREADS.load(std::sync::atomic::Ordering::Acquire).max(1)
    }
    #[cfg(not(feature = "threads"))]
    {
        1
    }
}

/// Multiply-adds per fork/join below which the pool does not pay off in wasm. Waking a sleeping
/// rayon worker goes through `Atomics.wait`/`notify` and costs 30-80 us in Chromium (natively
/// ~1 us), and the driver forks and joins once per (NC, KC) block of C: a block must bring
/// ~160 us of single-thread work (4M multiply-adds at ~50 GFLOP/s) for 2 threads to win.
/// Measured at 1x3072x768 (6 blocks, 160 us in all): 2 threads 10-14 GFLOP/s vs 30 on one.
pub const WASM_FORK_JOIN_MACS: usize = 4_000_000;

/// The parallelism of a run: `parallel` asks for the pool (threads build only); the pool is
/// used when every fork/join has enough work (see [`WASM_FORK_JOIN_MACS`]).
pub(crate) fn parallelism(parallel: bool, gemm: &Gemm, d: Dims) -> Result<Parallelism, ApiError> {
    if !parallel {
        return Ok(Parallelism::Sequential);
    }
    #[cfg(feature = "threads")]
    {
        if POOL_THREADS.load(std::sync::atomic::Ordering::Acquire) == 0 {
            return Err(err("parallel run before the thread pool was started: await initThreadPool(n) and call poolStarted(n) first".into()));
        }
        let kern = gemm.kernel_for(d.m, d.n, d.k)?;
        let blocks = d.n.div_ceil(kern.nc).max(1) * d.k.div_ceil(kern.kc).max(1);
        let macs = d.m.saturating_mul(d.n).saturating_mul(d.k);
        Ok(if macs >= blocks.saturating_mul(WASM_FORK_JOIN_MACS) {
            Parallelism::Rayon
        } else {
            Parallelism::Sequential
        })
    }
    #[cfg(not(feature = "threads"))]
    {
        let _ = (gemm, d);
        Err(err("this build has no threads: load the threads build (see docs/wasm.md)".into()))
    }
}

pub(crate) fn zeroed(len: usize, what: &str) -> Result<Vec<f32>, ApiError> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| err(format!("out of memory allocating {what} ({len} floats)")))?;
    v.resize(len, 0.0);
    Ok(v)
}

/// One-shot `C = alpha*A*B + beta*C` on row-major arrays (lengths checked against the dims).
#[allow(clippy::too_many_arguments)]
pub fn sgemm(
    m: f64,
    n: f64,
    k: f64,
    alpha: f32,
    a: &[f32],
    b: &[f32],
    beta: f32,
    c: &mut [f32],
    isa: Option<&str>,
) -> Result<(), ApiError> {
    let d = Dims::new(m, n, k)?;
    Dims::check_len("A", a.len(), d.m, d.k)?;
    Dims::check_len("B", b.len(), d.k, d.n)?;
    Dims::check_len("C", c.len(), d.m, d.n)?;
    let gemm = Gemm::with_isa(parse_isa(isa)?)?.parallelism(Parallelism::Sequential);
    gemm.run(
        alpha,
        MatRef::row_major(a, d.m, d.k)?,
        MatRef::row_major(b, d.k, d.n)?,
        beta,
        MatMut::row_major(c, d.m, d.n)?,
    )?;
    Ok(())
}

/// A GEMM whose operands live in wasm memory: set A and B once (B is also packed once, like a
/// weight matrix), then run many times. What the benchmark page times.
pub struct Plan {
    dims: Dims,
    gemm: Gemm,
    a: Vec<f32>,
    b: Vec<f32>,
    packed: Option<PackedB>,
    c: Vec<f32>,
    /// Whether the last `run` used the worker pool.
    last_parallel: bool,
}

impl Plan {
    pub fn new(m: f64, n: f64, k: f64, isa: Option<&str>) -> Result<Self, ApiError> {
        let dims = Dims::new(m, n, k)?;
        let gemm = Gemm::with_isa(parse_isa(isa)?)?;
        Ok(Plan {
            dims,
            gemm,
            a: zeroed(dims.m * dims.k, "A")?,
            b: zeroed(dims.k * dims.n, "B")?,
            packed: None,
            c: zeroed(dims.m * dims.n, "C")?,
            last_parallel: false,
        })
    }

    pub fn kernel_name(&self) -> &'static str {
        self.gemm.kernel_for(self.dims.m, self.dims.n, self.dims.k).map(|k| k.name).unwrap_or("none")
    }

    pub fn set_a(&mut self, a: &[f32]) -> Result<(), ApiError> {
        Dims::check_len("A", a.len(), self.dims.m, self.dims.k)?;
        self.a.copy_from_slice(a);
        Ok(())
    }

    /// Copies B in and packs it for the plan's microkernel.
    pub fn set_b(&mut self, b: &[f32]) -> Result<(), ApiError> {
        Dims::check_len("B", b.len(), self.dims.k, self.dims.n)?;
        self.b.copy_from_slice(b);
        self.packed = None;
        self.packed = Some(self.gemm.pack_b(MatRef::row_major(&self.b, self.dims.k, self.dims.n)?)?);
        Ok(())
    }

    /// `C = A*B`: with the prepacked B (`packed`) or packing B inside the call (as a one-shot
    /// GEMM does), on the calling thread or on the worker pool (`parallel`, threads build only).
    pub fn run(&mut self, packed: bool, parallel: bool) -> Result<(), ApiError> {
        let Dims { m, n, k } = self.dims;
        let par = parallelism(parallel, &self.gemm, self.dims)?;
        self.last_parallel = par != Parallelism::Sequential;
        let gemm = self.gemm.parallelism(par);
        let a = MatRef::row_major(&self.a, m, k)?;
        let c = MatMut::row_major(&mut self.c, m, n)?;
        match (&self.packed, packed) {
            (Some(pb), true) => gemm.run_packed(1.0, a, pb, 0.0, c, &Epilogue::NONE)?,
            (None, true) => return Err(err("run(packed) before setB".into())),
            (_, false) => gemm.run(1.0, a, MatRef::row_major(&self.b, k, n)?, 0.0, c)?,
        }
        Ok(())
    }

    /// Whether the last [`Plan::run`] used the worker pool.
    pub fn last_parallel(&self) -> bool {
        self.last_parallel
    }

    pub fn c(&self) -> &[f32] {
        &self.c
    }
}
