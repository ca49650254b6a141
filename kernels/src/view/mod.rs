//! Strided views over caller memory, validated once at construction so kernels can index
//! without further checks. 2-D matrices for GEMM today; N-d views join here for conv and
//! element-wise ops.

mod mat;

pub(crate) use mat::{distinct, extent_of};
pub use mat::{MatMut, MatRef};
