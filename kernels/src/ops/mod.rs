//! Operations, one folder each: the public API, the planner and the execution of one op,
//! with its microkernels under `kernels/<arch>/`.

pub mod conv;
pub mod eltwise;
pub mod gemm;
pub mod layout;
pub mod pool;
