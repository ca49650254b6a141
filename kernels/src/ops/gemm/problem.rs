//! One validated GEMM call as raw operands: what the planner looks at and the executors run.
//! The three pointer types here are the only ones shared between threads.

use super::packed::PackedB;
use crate::activation::Activation;

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

/// Where B comes from.
#[derive(Clone, Copy, Debug)]
pub(crate) enum BSource<'a> {
    Strided(Strided),
    Packed(&'a PackedB),
}

/// One GEMM call after validation: `C = act(alpha*A*B + beta*C + bias)`, A `m x k`, B `k x n`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Problem<'a> {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub alpha: f32,
    pub a: Strided,
    pub b: BSource<'a>,
    pub beta: f32,
    pub c: StridedMut,
    pub bias: Option<&'a [f32]>,
    pub act: Activation,
}

impl<'a> Problem<'a> {
    /// The depth the product really has: BLAS says alpha = 0 reads neither A nor B.
    pub fn depth(&self) -> usize {
        if self.alpha == 0.0 {
            0
        } else {
            self.k
        }
    }

    /// Columns `j0..j0 + n` of the problem with B row-major in `b` (the GEMV path's pieces).
    pub fn columns(&self, b: Strided, j0: usize, n: usize) -> Problem<'a> {
        Problem {
            n,
            b: BSource::Strided(Strided { ptr: b.at(0, j0), ..b }),
            c: StridedMut { ptr: self.c.at(0, j0), ..self.c },
            bias: self.bias.map(|bias| &bias[j0..j0 + n]),
            ..*self
        }
    }
}
