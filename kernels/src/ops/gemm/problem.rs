//! One validated GEMM call as raw operands: what the planner looks at and the executors run.

use super::operand::{Indirection, Strided, StridedMut};
use super::packed::PackedB;
use crate::activation::Activation;

/// Where B comes from.
#[derive(Clone, Copy, Debug)]
pub(crate) enum BSource<'a> {
    Strided(Strided),
    Packed(&'a PackedB),
}

impl<'a> BSource<'a> {
    /// How the GEMM reads a prepacked B: its panels, or a narrow B's column-major copy as a
    /// strided operand.
    pub fn packed(b: &'a PackedB) -> Self {
        match b.columns() {
            Some(columns) => BSource::Strided(Strided { ptr: columns.as_ptr(), rs: 1, cs: b.rows() as isize }),
            None => BSource::Packed(b),
        }
    }
}

/// One GEMM call after validation: `C = act(alpha*A*B + beta*C + bias)`, A `m x k`, B `k x n`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Problem<'a> {
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub alpha: f32,
    pub a: Strided,
    /// A read through an indirection buffer instead of `a` (convolution).
    pub a_indirect: Option<Indirection<'a>>,
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
