//! The implementations compared: lanes (best ISA and each ISA, and with B prepacked),
//! matrixmultiply, the gemm crate, OpenBLAS, ONNX Runtime and a naive loop. Every one computes the same row-major `C = A*B` (alpha 1, beta 0).

use crate::peak::PeakKind;
use crate::shapes::Shape;
use lanes_kernels::{Gemm, Isa, MatMut, MatRef, Parallelism};
use lanes_testkit::Rng;
use rayon::prelude::*;

/// Impl names used as keys in the JSON and the report.
pub const LANES: &str = "lanes";
/// lanes with B packed once per case before timing (`Gemm::pack_b`, `run_packed`): what the
/// `onnxruntime` row measures too (ONNX Runtime prepacks its constant B), so the like-for-like
/// comparison with it.
pub const LANES_PACKED: &str = "lanes-packed";
pub const MATRIXMULTIPLY: &str = "matrixmultiply";
pub const GEMM: &str = "gemm";
pub const OPENBLAS: &str = "openblas";
pub const ONNXRUNTIME: &str = "onnxruntime";
pub const NAIVE: &str = "naive";
/// The external libraries; "best peer" is the fastest of these at a case and thread count.
pub const PEERS: [&str; 4] = [MATRIXMULTIPLY, GEMM, OPENBLAS, ONNXRUNTIME];

/// Slow implementations (naive, lanes-scalar) only run up to this many multiply-adds (512^3).
pub const SLOW_MAX_MACS: u128 = 512 * 512 * 512;

/// The inputs of one case: A (m x k) and B (k x n), row-major, seeded pseudo-random in [-1, 1).
pub struct Problem {
    pub shape: Shape,
    pub a: Vec<f32>,
    pub b: Vec<f32>,
}

impl Problem {
    pub fn new(shape: Shape) -> Self {
        let mut rng = Rng::new(0x1a2e5 ^ (shape.m as u64) << 40 ^ (shape.n as u64) << 20 ^ shape.k as u64);
        let a = rng.vec(shape.m * shape.k);
        let b = rng.vec(shape.k * shape.n);
        Problem { shape, a, b }
    }

    /// `C[i][j]` computed in f64, for checking.
    pub fn exact(&self, i: usize, j: usize) -> f64 {
        let Shape { n, k, .. } = self.shape;
        (0..k).map(|p| self.a[i * k + p] as f64 * self.b[p * n + j] as f64).sum()
    }
}

enum Kind {
    Lanes(Gemm),
    /// B packed on first use per shape (the correctness check before timing), then reused.
    LanesPacked {
        gemm: Gemm,
        packed: std::cell::RefCell<Option<(Shape, lanes_kernels::PackedB)>>,
    },
    MatrixMultiply,
    GemmCrate(gemm::Parallelism),
    #[cfg(feature = "openblas")]
    OpenBlas,
    /// ONNX Runtime: a session per case (B is a constant of the model), built on first use.
    #[cfg(feature = "onnxruntime")]
    Ort {
        threads: usize,
        session: std::cell::RefCell<Option<(Shape, crate::onnxruntime::OrtModel)>>,
    },
    Naive,
}

/// One implementation under test at a fixed thread count.
pub struct Impl {
    /// Row name: `lanes`, `lanes-avx2`, `matrixmultiply`, ...
    pub name: String,
    /// The vector ISA it runs (as far as known): `avx512`, `avx2`, `portable`, `sse2`, ...
    pub isa: String,
    /// The peak that efficiency is measured against.
    pub peak: Option<PeakKind>,
    /// Skip cases above this many multiply-adds (too slow to be worth the time).
    pub max_macs: Option<u128>,
    kind: Kind,
}

impl Impl {
    /// Whether this implementation runs `shape` (slow ones skip large shapes).
    pub fn runs(&self, shape: &Shape) -> bool {
        self.max_macs.is_none_or(|max| shape.macs() <= max)
    }

    /// Computes `C = A*B` into `c` (m x n, row-major). Panics if an implementation reports an error.
    // matrixmultiply's and gemm's entry points take raw pointers and strides: unsafe to call.
    #[allow(unsafe_code)]
    pub fn run(&self, p: &Problem, c: &mut [f32]) {
        let Shape { m, n, k } = p.shape;
        // `Problem`'s fields are public: the raw-pointer calls below rely on these checks.
        assert!(p.a.len() == m * k && p.b.len() == k * n, "inputs do not match {}", p.shape);
        assert_eq!(c.len(), m * n);
        match &self.kind {
            Kind::Lanes(g) => {
                let mut run = || -> Result<(), lanes_kernels::KernelError> {
                    g.run(
                        1.0,
                        MatRef::row_major(&p.a, m, k)?,
                        MatRef::row_major(&p.b, k, n)?,
                        0.0,
                        MatMut::row_major(c, m, n)?,
                    )
                };
                run().unwrap_or_else(|e| panic!("{} failed on {}: {e}", self.name, p.shape));
            }
            Kind::LanesPacked { gemm, packed } => {
                let mut run = || -> Result<(), lanes_kernels::KernelError> {
                    let mut cached = packed.borrow_mut();
                    let b = match cached.take() {
                        Some((shape, b)) if shape == p.shape => b,
                        _ => gemm.pack_b(MatRef::row_major(&p.b, k, n)?)?,
                    };
                    let (a, c) = (MatRef::row_major(&p.a, m, k)?, MatMut::row_major(c, m, n)?);
                    let result = gemm.run_packed(1.0, a, &b, 0.0, c, &lanes_kernels::Epilogue::NONE);
                    *cached = Some((p.shape, b));
                    result
                };
                run().unwrap_or_else(|e| panic!("{} failed on {}: {e}", self.name, p.shape));
            }
            // SAFETY: row-major strides (k, 1), (n, 1), (n, 1) over A (m x k), B (k x n) and
            // C (m x n): exactly the slices' sizes (checked above); C is a `&mut` slice, so it
            // aliases neither A nor B; beta = 0, so C is only written.
            Kind::MatrixMultiply => unsafe {
                matrixmultiply::sgemm(
                    m,
                    k,
                    n,
                    1.0,
                    p.a.as_ptr(),
                    k as isize,
                    1,
                    p.b.as_ptr(),
                    n as isize,
                    1,
                    0.0,
                    c.as_mut_ptr(),
                    n as isize,
                    1,
                )
            },
            // gemm's convention: dst = alpha*dst + beta*lhs*rhs, with (col stride, row stride)
            // pairs; read_dst = false means dst is not read (alpha ignored).
            // SAFETY: as for matrixmultiply: the strides (1, k), (1, n), (1, n) describe row-major
            // A, B and C of exactly the slices' sizes, and C aliases neither A nor B.
            Kind::GemmCrate(par) => unsafe {
                gemm::gemm(
                    m,
                    n,
                    k,
                    c.as_mut_ptr(),
                    1,
                    n as isize,
                    false,
                    p.a.as_ptr(),
                    1,
                    k as isize,
                    p.b.as_ptr(),
                    1,
                    n as isize,
                    0.0,
                    1.0,
                    false,
                    false,
                    false,
                    *par,
                )
            },
            #[cfg(feature = "openblas")]
            Kind::OpenBlas => crate::openblas::sgemm(m, n, k, &p.a, &p.b, c),
            #[cfg(feature = "onnxruntime")]
            Kind::Ort { threads, session } => {
                let mut cached = session.borrow_mut();
                if cached.as_ref().is_none_or(|(shape, _)| *shape != p.shape) {
                    let model = crate::onnx::matmul(m, n, k, &p.b);
                    let ort = crate::onnxruntime::OrtModel::new(&model, *threads)
                        .unwrap_or_else(|e| panic!("{} on {}: {e}", self.name, p.shape));
                    *cached = Some((p.shape, ort));
                }
                let (_, ort) = cached.as_mut().expect("just built");
                ort.run(&[m, k], &p.a, c).unwrap_or_else(|e| panic!("{} failed on {}: {e}", self.name, p.shape));
            }
            Kind::Naive => naive(p, c),
        }
    }
}

/// The loop anyone would write first (i, p, j order so the inner loop walks rows: the compiler
/// vectorises it for baseline x86-64, SSE2). Rows are split over the current rayon pool.
fn naive(p: &Problem, c: &mut [f32]) {
    let Shape { n, k, .. } = p.shape;
    c.par_chunks_mut(n).enumerate().for_each(|(i, row)| {
        row.fill(0.0);
        for pp in 0..k {
            let aip = p.a[i * k + pp];
            let brow = &p.b[pp * n..(pp + 1) * n];
            for (cij, bpj) in row.iter_mut().zip(brow) {
                *cij += aip * bpj;
            }
        }
    });
}

/// The peak that a lanes ISA is measured against.
pub fn peak_of_isa(isa: &str) -> Option<PeakKind> {
    match isa {
        "avx512" => Some(PeakKind::Avx512Fma),
        "avx2" => Some(PeakKind::Avx2Fma),
        // `wide` without AVX compiled in: pairs of 128-bit mul + add. The scalar kernel and the
        // naive loop are plain Rust that LLVM vectorises for baseline x86-64 (SSE2) likewise.
        "portable" | "sse2" | "scalar" => Some(PeakKind::Sse128MulAdd),
        _ => None,
    }
}

#[cfg(target_arch = "x86_64")]
fn has_avx512_v4() -> bool {
    // The gemm crate's AVX-512 path (pulp's x86-v4) needs these.
    std::is_x86_feature_detected!("avx512f")
        && std::is_x86_feature_detected!("avx512bw")
        && std::is_x86_feature_detected!("avx512cd")
        && std::is_x86_feature_detected!("avx512dq")
        && std::is_x86_feature_detected!("avx512vl")
}
#[cfg(not(target_arch = "x86_64"))]
fn has_avx512_v4() -> bool {
    false
}

#[cfg(target_arch = "x86_64")]
fn x86_best() -> &'static str {
    if std::is_x86_feature_detected!("avx512f") {
        "avx512"
    } else if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
        "avx2"
    } else {
        "sse2"
    }
}
#[cfg(not(target_arch = "x86_64"))]
fn x86_best() -> &'static str {
    "unknown"
}

/// Which implementations to build.
#[derive(Clone, Debug, Default)]
pub struct RosterOptions {
    /// Add a `lanes-<isa>` row for every other available ISA.
    pub per_isa_rows: bool,
    /// Only these names (prefix match on `lanes-*` via `lanes-*`), empty = all.
    pub only: Vec<String>,
}

fn wanted(only: &[String], name: &str) -> bool {
    only.is_empty() || only.iter().any(|o| o == name || (o == "lanes-*" && name.starts_with("lanes-")))
}

/// The implementations for `threads` threads, lanes (the reference) first.
/// Call inside the rayon pool of `threads` threads.
pub fn roster(threads: usize, opts: &RosterOptions) -> Result<Vec<Impl>, lanes_kernels::KernelError> {
    // Above one thread lanes runs as users get it by default: `Auto` (rayon above the measured
    // threshold, one thread below it), like OpenBLAS's own small-size cut-off.
    let par = if threads > 1 { Parallelism::Auto } else { Parallelism::Sequential };
    let lanes = Gemm::new().parallelism(par);
    let best = lanes.isa()?;
    let mut out = vec![Impl {
        name: LANES.into(),
        isa: best.name().into(),
        peak: peak_of_isa(best.name()),
        max_macs: (best == Isa::Scalar).then_some(SLOW_MAX_MACS),
        kind: Kind::Lanes(lanes),
    }];
    if opts.per_isa_rows {
        for isa in Isa::available().into_iter().rev().filter(|&i| i != best) {
            out.push(Impl {
                name: format!("lanes-{}", isa.name()),
                isa: isa.name().into(),
                peak: peak_of_isa(isa.name()),
                max_macs: (isa == Isa::Scalar).then_some(SLOW_MAX_MACS),
                kind: Kind::Lanes(Gemm::with_isa(isa)?.parallelism(par)),
            });
        }
    }
    out.push(Impl {
        name: LANES_PACKED.into(),
        isa: best.name().into(),
        peak: peak_of_isa(best.name()),
        max_macs: (best == Isa::Scalar).then_some(SLOW_MAX_MACS),
        kind: Kind::LanesPacked { gemm: Gemm::new().parallelism(par), packed: std::cell::RefCell::new(None) },
    });
    let mm_isa = x86_best();
    out.push(Impl {
        name: MATRIXMULTIPLY.into(),
        isa: mm_isa.into(),
        peak: peak_of_isa(mm_isa),
        max_macs: None,
        kind: Kind::MatrixMultiply,
    });
    let gemm_isa = if has_avx512_v4() { "avx512" } else { x86_best() };
    let gemm_par = if threads > 1 { gemm::Parallelism::Rayon(threads) } else { gemm::Parallelism::None };
    out.push(Impl {
        name: GEMM.into(),
        isa: gemm_isa.into(),
        peak: peak_of_isa(gemm_isa),
        max_macs: None,
        kind: Kind::GemmCrate(gemm_par),
    });
    #[cfg(feature = "openblas")]
    {
        let isa = crate::openblas::isa_of_core(&crate::openblas::corename());
        out.push(Impl {
            name: OPENBLAS.into(),
            isa: isa.into(),
            peak: peak_of_isa(isa),
            max_macs: None,
            kind: Kind::OpenBlas,
        });
    }
    #[cfg(feature = "onnxruntime")]
    match crate::onnxruntime::init() {
        Ok(()) => out.push(Impl {
            name: ONNXRUNTIME.into(),
            isa: x86_best().into(),
            peak: peak_of_isa(x86_best()),
            max_macs: None,
            kind: Kind::Ort { threads, session: std::cell::RefCell::new(None) },
        }),
        Err(why) if wanted(&opts.only, ONNXRUNTIME) && !opts.only.is_empty() => {
            panic!("onnxruntime was asked for but is not available: {why}")
        }
        Err(why) => eprintln!("[{threads}t] onnxruntime skipped: {why}"),
    }
    out.push(Impl {
        name: NAIVE.into(),
        isa: "sse2".into(),
        peak: peak_of_isa("sse2"),
        max_macs: Some(SLOW_MAX_MACS),
        kind: Kind::Naive,
    });
    out.retain(|i| i.name == LANES || wanted(&opts.only, &i.name));
    Ok(out)
}

pub use lanes_testkit::{normwise_error as rel_error, normwise_tolerance as tolerance};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_seeded_and_in_range() {
        let p = Problem::new(Shape::new(3, 5, 7));
        let q = Problem::new(Shape::new(3, 5, 7));
        assert_eq!(p.a, q.a);
        assert!(p.a.iter().chain(&p.b).all(|v| (-1.0..1.0).contains(v)));
        assert_ne!(p.a, Problem::new(Shape::new(3, 5, 8)).a[..21]);
    }

    #[test]
    fn rel_error_scales_and_catches_nan() {
        assert_eq!(rel_error(&[1.0, 2.0], &[1.0, 2.0]), 0.0);
        assert!((rel_error(&[1.0, 4.2], &[1.0, 4.0]) - 0.05).abs() < 1e-6);
        assert_eq!(rel_error(&[f32::NAN, 1.0], &[1.0, 1.0]), f64::INFINITY);
    }

    #[test]
    fn every_impl_agrees_on_a_small_case() {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        pool.install(|| {
            let p = Problem::new(Shape::new(37, 29, 53));
            let (m, n) = (p.shape.m, p.shape.n);
            let exact: Vec<f32> = (0..m * n).map(|ij| p.exact(ij / n, ij % n) as f32).collect();
            for threads in [1, 2] {
                for imp in roster(threads, &RosterOptions { per_isa_rows: true, only: vec![] }).unwrap() {
                    let mut c = vec![f32::NAN; m * n];
                    imp.run(&p, &mut c);
                    let err = rel_error(&c, &exact);
                    assert!(err < tolerance(p.shape.k), "{} at {threads} threads: error {err}", imp.name);
                }
            }
        });
    }

    #[test]
    fn roster_filters_and_keeps_lanes_first() {
        let only = vec!["naive".to_string()];
        let r = roster(1, &RosterOptions { per_isa_rows: true, only }).unwrap();
        let names: Vec<&str> = r.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["lanes", "naive"]);
        assert!(!r[1].runs(&Shape::new(1024, 1024, 1024)));
        assert!(r[1].runs(&Shape::new(512, 512, 512)));
    }
}
