//! The one error type of the crate. Every message names the offending numbers.

use std::fmt;

/// Why a kernel call was refused. Nothing is written to the output when an error is returned.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KernelError {
    /// Operand shapes do not fit together, e.g. `A` is `m x k` but `B` is `k' x n` with `k != k'`.
    ShapeMismatch {
        /// Which operand, and the rule it breaks.
        what: &'static str,
        /// The shape (rows, columns) the other operands require.
        expected: (usize, usize),
        /// The shape (rows, columns) it has.
        found: (usize, usize),
    },
    /// A view's strides times its dimensions overflow `isize` (in elements or in bytes).
    StrideOverflow {
        /// Rows of the view.
        rows: usize,
        /// Columns of the view.
        cols: usize,
        /// Its row stride, in elements.
        row_stride: isize,
        /// Its column stride, in elements.
        col_stride: isize,
    },
    /// The slice is too short for the view (or a negative stride points before its start).
    SliceTooShort {
        /// Elements the view needs (`len + distance before the start` for a negative reach).
        needed: usize,
        /// Elements the slice has.
        len: usize,
    },
    /// The output view maps two elements to the same memory (e.g. a zero stride).
    OverlappingOutput {
        /// Rows of the view.
        rows: usize,
        /// Columns of the view.
        cols: usize,
        /// Its row stride, in elements.
        row_stride: isize,
        /// Its column stride, in elements.
        col_stride: isize,
    },
    /// The output aliases an input (only [`gemm_raw`](crate::gemm_raw) can be given such
    /// pointers; safe views cannot alias).
    Aliasing {
        /// The input it overlaps (`"A"` or `"B"`).
        input: &'static str,
    },
    /// A length that must match does not, e.g. the bias of a fused epilogue.
    LengthMismatch {
        /// Which buffer.
        what: &'static str,
        /// The length the call needs.
        expected: usize,
        /// The length given.
        found: usize,
    },
    /// The requested instruction set is not supported by this CPU/build.
    IsaUnavailable {
        /// The ISA's name, as [`Isa::name`](crate::Isa::name) spells it.
        isa: &'static str,
    },
    /// A buffer the call needs (e.g. a packed B) would not fit in memory: its size overflows
    /// (`usize`, or `isize::MAX` bytes), so no allocation is tried.
    TooLarge {
        /// Which buffer.
        what: &'static str,
        /// Its rows.
        rows: usize,
        /// Its columns.
        cols: usize,
    },
    /// The allocator refused a buffer the call needs (packed B, a packed filter, the GEMM's
    /// packing buffers or workspace, a convolution's indirection buffer...): out of memory,
    /// e.g. past the 4 GiB of a wasm32 module. Nothing was written, and the library keeps
    /// working (a smaller call can succeed).
    AllocationFailed {
        /// Which buffer.
        what: &'static str,
        /// The bytes requested.
        bytes: usize,
    },
    /// An argument outside its domain (e.g. clamp bounds out of order).
    InvalidArgument {
        /// What is wrong, in words.
        what: &'static str,
    },
    /// `LANES_ISA` (or a string passed to `Isa::from_str`) names no known ISA.
    UnknownIsa {
        /// The name given (trimmed, lower-cased).
        name: String,
    },
    /// No compiled microkernel has this name.
    UnknownKernel {
        /// The name given.
        name: String,
    },
    /// An impossible convolution or pooling geometry: the parameter and its value (zero
    /// stride or dilation, a kernel larger than the padded input, channels not divisible by
    /// groups, a size that overflows, a filter packed for another geometry).
    InvalidGeometry {
        /// Which parameter.
        param: &'static str,
        /// Its value.
        value: usize,
    },
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
            AllocationFailed { what, bytes } => {
                write!(f, "out of memory: could not allocate {bytes} bytes for {what}")
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
