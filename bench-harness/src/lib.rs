//! # lanes-bench
//!
//! The comparison benchmark of lanes' f32 GEMM against matrixmultiply, the gemm crate,
//! OpenBLAS (feature `openblas`) and a naive loop, plus the machine's FMA peak. The binary
//! `lanes-bench` (run by `scripts/bench.sh`) writes `gemm.jsonl`, `peak.json`, `report.md` and
//! `gemm.svg`; `cargo bench -p lanes-bench` runs criterion benches of every microkernel.
//! See docs/benchmarking.md.

pub mod chart;
pub mod cli;
pub mod machine;
pub mod measure;
#[cfg(feature = "openblas")]
pub mod openblas;
pub mod peak;
pub mod peers;
pub mod record;
pub mod report;
pub mod shapes;
pub mod worker;
