//! The one error type of the crate. Every message names the offending numbers.

use std::fmt;

/// Why a kernel call was refused. Nothing is written to the output when an error is returned.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KernelError {
    /// Operand shapes do not fit together, e.g. `A` is `m x k` but `B` is `k' x n` with `k != k'`.
    ShapeMismatch { what: &'static str, expected: (usize, usize), found: (usize, usize) },
    /// A view's strides times its dimensions overflow `isize`.
    StrideOverflow { rows: usize, cols: usize, row_stride: isize, col_stride: isize },
    /// The slice is too short for the view (or a negative stride points before its start).
    SliceTooShort { needed: usize, len: usize },
    /// The output view maps two elements to the same memory (e.g. a zero stride).
    OverlappingOutput { rows: usize, cols: usize, row_stride: isize, col_stride: isize },
    /// The output aliases an input.
    Aliasing { input: &'static str },
    /// A length that must match does not, e.g. the bias of a fused epilogue.
    LengthMismatch { what: &'static str, expected: usize, found: usize },
    /// The requested instruction set is not supported by this CPU/build.
    IsaUnavailable { isa: &'static str },
    /// A buffer the call needs (e.g. a packed B) would not fit in memory.
    TooLarge { what: &'static str, rows: usize, cols: usize },
    /// An argument outside its domain (e.g. clamp bounds out of order).
    InvalidArgument { what: &'static str },
    /// `LANES_ISA` (or a string passed to `Isa::from_str`) names no known ISA.
    UnknownIsa { name: String },
    /// No compiled microkernel has this name.
    UnknownKernel { name: String },
    /// An impossible convolution or pooling geometry: the parameter and its value (zero
    /// stride or dilation, a kernel larger than the padded input, channels not divisible by
    /// groups, a size that overflows, a filter packed for another geometry).
    InvalidGeometry { param: &'static str, value: usize },
}

impl fmt::Display for KernelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use KernelError::*;
        match self {
            ShapeMismatch { what, expected, found } => write!(
                f,
                "shape mismatch for {what}: expected {}x{}, found {}x{}",
                expected.0, expected.1, found.0, found.1
            ),
            StrideOverflow { rows, cols, row_stride, col_stride } => write!(
                f,
                "strides overflow isize: {rows}x{cols} view with row stride {row_stride}, column stride {col_stride}"
            ),
            SliceTooShort { needed, len } => {
                write!(f, "slice too short for the view: needs {needed} elements, has {len}")
            }
            OverlappingOutput { rows, cols, row_stride, col_stride } => write!(
                f,
                "output view {rows}x{cols} with row stride {row_stride}, column stride {col_stride} writes some elements twice"
            ),
            Aliasing { input } => write!(f, "output C overlaps input {input}"),
            LengthMismatch { what, expected, found } => {
                write!(f, "{what} has length {found}, expected {expected}")
            }
            TooLarge { what, rows, cols } => {
                write!(f, "{what} of {rows}x{cols} elements does not fit in memory")
            }
            InvalidArgument { what } => write!(f, "invalid argument: {what}"),
            IsaUnavailable { isa } => write!(f, "ISA {isa} is not available on this CPU/build"),
            UnknownIsa { name } => write!(
                f,
                "unknown ISA {name:?}: expected one of scalar, portable, avx2, avx512, simd128, relaxed"
            ),
            UnknownKernel { name } => write!(f, "no microkernel named {name:?} in this build"),
            InvalidGeometry { param, value } => write!(f, "invalid geometry: {param} = {value}"),
        }
    }
}

impl std::error::Error for KernelError {}

impl KernelError {
    #[cold]
    pub(crate) fn shape(what: &'static str, expected: (usize, usize), found: (usize, usize)) -> Self {
        KernelError::ShapeMismatch { what, expected, found }
    }
}
