//! # lanes-kernels
//!
//! Hand-written SIMD kernels for machine learning. Every operation lives in [`ops`]; this
//! release has f32 GEMM
//! (`C = act(alpha*A*B + beta*C + bias)`) on arbitrarily strided views, with microkernels for
//! AVX-512F, AVX2+FMA, wasm simd128 and wasm relaxed-simd, a portable tier (the `wide`
//! crate), and a scalar tier, chosen at run time; rayon threading; prepacked weights.
//!
//! ```
//! use lanes_kernels::{gemm, MatMut, MatRef};
//! let (m, n, k) = (2, 3, 4);
//! let a: Vec<f32> = (0..m * k).map(|x| x as f32).collect();
//! let b: Vec<f32> = (0..k * n).map(|x| x as f32).collect();
//! let mut c = vec![f32::NAN; m * n]; // beta = 0: C is never read
//! gemm(
//!     1.0,
//!     MatRef::row_major(&a, m, k)?,
//!     MatRef::row_major(&b, k, n)?,
//!     0.0,
//!     MatMut::row_major(&mut c, m, n)?,
//! )?;
//! assert_eq!(c, [42.0, 48.0, 54.0, 114.0, 136.0, 158.0]);
//! # Ok::<(), lanes_kernels::KernelError>(())
//! ```
//!
//! Set `LANES_ISA=scalar|portable|avx2|avx512` (or `simd128|relaxed` on wasm) to force a path;
//! an ISA the CPU lacks makes every call return [`KernelError::IsaUnavailable`].

#![deny(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]

mod activation;
mod awake;
mod buffer;
mod cache;
mod error;
mod isa;
#[cfg(feature = "ndarray")]
pub mod ndarray;
pub mod ops;
mod simd;
mod view;

pub use activation::Activation;
pub use awake::{on_pool_thread, with_awake_workers};
pub use cache::CacheSizes;
pub use error::KernelError;
pub use isa::Isa;
pub use ops::eltwise::Eltwise;
pub use ops::gemm::{gemm, gemm_raw, microkernels, Epilogue, Gemm, PackedB, Parallelism};
pub use view::{MatMut, MatRef};

// The READMEs' Rust examples (the repository's and the crate's) run as doctests, so they
// cannot drift from the API. (cfg(doctest) only: a packaged crate never reads ../../README.md.)
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct ReadmeDoctests;
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct CrateReadmeDoctests;
#[cfg(doctest)]
#[doc = include_str!("../../docs/using-lanes.md")]
struct UsingLanesDoctests;
