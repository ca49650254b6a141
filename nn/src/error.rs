//! The one error type of lanes-nn: every refusal says what and which numbers.

use lanes_kernels::KernelError;
use std::fmt;

/// Why an nn call was refused.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum NnError {
    /// A kernel refused the call (shapes, strides, ISA...).
    Kernel(KernelError),
    /// A tensor's shape is not what the layer expects.
    Shape {
        /// Which tensor, for which layer.
        what: String,
        /// The shape the layer expects.
        expected: Vec<usize>,
        /// The shape it got.
        found: Vec<usize>,
    },
    /// NaN or Inf in training data or in the loss, with the batch it appeared in.
    NonFinite {
        /// Where (inputs, targets, loss).
        what: &'static str,
        /// The batch index.
        batch: usize,
    },
    /// A model file could not be read or does not fit the architecture.
    ModelFile(String),
    /// A data set could not be found or parsed.
    Data(String),
    /// An argument outside its domain.
    InvalidArgument(String),
    /// The allocator refused a buffer (a tensor, a layer's workspace): out of memory, e.g. past
    /// the 4 GiB of a wasm32 module. The model keeps working (a smaller call can succeed).
    AllocationFailed {
        /// Which buffer.
        what: &'static str,
        /// The bytes requested.
        bytes: usize,
    },
}

impl fmt::Display for NnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NnError::Kernel(e) => write!(f, "{e}"),
            NnError::Shape { what, expected, found } => {
                write!(f, "{what}: expected shape {expected:?}, found {found:?}")
            }
            NnError::NonFinite { what, batch } => write!(f, "{what} is not finite (NaN or Inf) in batch {batch}"),
            NnError::ModelFile(m) => write!(f, "model file: {m}"),
            NnError::Data(m) => write!(f, "data: {m}"),
            NnError::InvalidArgument(m) => write!(f, "invalid argument: {m}"),
            NnError::AllocationFailed { what, bytes } => {
                write!(f, "out of memory: could not allocate {bytes} bytes for {what}")
            }
        }
    }
}

impl std::error::Error for NnError {}

impl From<KernelError> for NnError {
    fn from(e: KernelError) -> Self {
        NnError::Kernel(e)
    }
}

/// `Result` with [`NnError`].
pub type Result<T> = std::result::Result<T, NnError>;
