//! # lanes-bench
//!
//! The comparison benchmark of lanes' f32 GEMM against matrixmultiply, the gemm crate,
//! OpenBLAS (feature `openblas`), ONNX Runtime (feature `onnxruntime`) and a naive loop, plus the machine's FMA peak. The binary
//! `lanes-bench` (run by `scripts/bench.sh`) writes `gemm.jsonl`, `peak.json`, `machine.json`,
//! `report.md` and `gemm.svg` into `bench-results/<machine>/<date>/` (or `--out DIR`; see
//! [`runs`]); `cargo bench -p lanes-bench` runs criterion benches of every microkernel.
//! See docs/benchmarking.md.
//!
//! Unsafe code is denied here and allowed only where it is needed: the OpenBLAS FFI
//! (`openblas`), the raw-pointer entry points of matrixmultiply and gemm (`peers::Impl::run`)
//! and the calls of the `#[target_feature]` peak loops (`peak::PeakKind::run`). Every `unsafe` block has a `SAFETY:` comment.

#![deny(unsafe_code)]

pub mod chart;
pub mod cli;
pub mod conv_suite;
pub mod eltwise_suite;
pub mod machine;
pub mod measure;
pub mod models_suite;
pub mod onnx;
#[cfg(feature = "onnxruntime")]
pub mod onnxruntime;
#[cfg(feature = "openblas")]
#[allow(unsafe_code)] // FFI to the system OpenBLAS
pub mod openblas;
pub mod peak;
pub mod peers;
pub mod record;
pub mod report;
pub mod runs;
pub mod shapes;
pub mod worker;
