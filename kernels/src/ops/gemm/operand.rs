//! The raw operand types of a GEMM call: the only pointer types shared between threads (a
//! leaf module, so packing and planning can use them without importing each other).

/// A strided read-only operand: element `(i, j)` at `ptr + i*rs + j*cs`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Strided {
    pub ptr: *const f32,
    pub rs: isize,
    pub cs: isize,
}

impl Strided {
    /// Address of element `(i, j)` (computed with wrapping arithmetic; valid when in range).
    pub fn at(&self, i: usize, j: usize) -> *const f32 {
        self.ptr.wrapping_offset((i as isize).wrapping_mul(self.rs).wrapping_add((j as isize).wrapping_mul(self.cs)))
    }
}

/// The output: element `(i, j)` at `ptr + i*rs + j*cs`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StridedMut {
    pub ptr: *mut f32,
    pub rs: isize,
    pub cs: isize,
}

impl StridedMut {
    /// Address of element `(i, j)` (wrapping arithmetic; valid when in range).
    pub fn at(&self, i: usize, j: usize) -> *mut f32 {
        self.ptr.wrapping_offset((i as isize).wrapping_mul(self.rs).wrapping_add((j as isize).wrapping_mul(self.cs)))
    }
}

/// A read-only buffer (packed panels, a packed row of A) that parallel tasks share.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReadPtr(pub *const f32);

// SAFETY: these point at operands that outlive the call (the executors' contract) and are only
// read through them; the parallel tasks of one call write disjoint tiles of C through
// `StridedMut`, never the same element twice.
unsafe impl Send for Strided {}
// SAFETY: as above.
unsafe impl Sync for Strided {}
// SAFETY: as above.
unsafe impl Send for StridedMut {}
// SAFETY: as above.
unsafe impl Sync for StridedMut {}
// SAFETY: as above.
unsafe impl Send for ReadPtr {}
// SAFETY: as above.
unsafe impl Sync for ReadPtr {}

/// A read through an indirection buffer (implicit GEMM for convolution). Row `i` of A is output
/// pixel `i % pixels` of image `i / pixels`; element `(i, p)`, with `p = tap * cin + c`, is at
/// `base + (i / pixels) * image_stride + offsets[(i % pixels) * taps + tap] + c`, or `0` where
/// that offset is [`Indirection::PAD`] (a tap in the padding: read from `zero`, `cin` zeros).
/// One offset table serves every image of a batch.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Indirection<'a> {
    pub offsets: &'a [usize],
    pub base: ReadPtr,
    pub zero: ReadPtr,
    pub image_stride: usize,
    pub pixels: usize,
    pub taps: usize,
    pub cin: usize,
}

impl Indirection<'_> {
    /// The offset of a tap in the padding.
    pub const PAD: usize = usize::MAX;
}
