//! An example of a downstream ML crate built on `lanes-kernels` through its public API only
//! (what another crate would see on crates.io): layers on `ndarray` arrays.
//!
//! - [`Linear`]: `y = act(x W^T + b)` with `W` stored `[out, in]` (PyTorch's layout), packed
//!   once at construction ([`lanes_kernels::PackedB`]), bias and activation fused into the
//!   GEMM's store; `x` may be any 2-D view (transposed, sliced, Fortran order).
//! - [`Conv2dNhwc`]: a 2-D convolution on `[batch, height, width, channels]` arrays through
//!   lanes' [`Conv2d`] (filter `[out, in, kh, kw]`, packed once).
//!
//! Errors: this crate's own [`Error`], wrapping lanes' typed [`KernelError`] as a library
//! built on lanes would.
//!
//! ```
//! use lanes_downstream_example::Linear;
//! use lanes_kernels::Activation;
//! use ndarray::array;
//! let w = array![[1.0f32, 2.0], [-1.0, 0.5], [0.0, 1.0]]; // 3 outputs, 2 inputs
//! let fc = Linear::new(w.view(), Some(array![0.0f32, 0.0, -2.0].view()), Activation::Relu)?;
//! let y = fc.forward(array![[1.0f32, 2.0]].view())?;
//! assert_eq!(y, array![[5.0f32, 0.0, 0.0]]);
//! # Ok::<(), lanes_downstream_example::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

use std::fmt;

use lanes_kernels::ops::conv::{Conv2d, Conv2dParams, FilterLayout, Padding};
use lanes_kernels::{Activation, Epilogue, Gemm, KernelError, MatRef, PackedB, Parallelism};
use ndarray::{Array2, Array4, ArrayView1, ArrayView2, ArrayView4};

/// Why a layer refused a call.
#[derive(Debug, Clone, PartialEq)]
pub enum Error {
    /// lanes refused it (shapes, strides, geometry, ISA); its typed error, unchanged.
    Kernel(KernelError),
    /// An array does not have the shape the layer needs.
    Shape {
        /// Which array.
        what: &'static str,
        /// The shape needed.
        expected: Vec<usize>,
        /// The shape given.
        found: Vec<usize>,
    },
}

impl From<KernelError> for Error {
    fn from(e: KernelError) -> Self {
        Error::Kernel(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Kernel(e) => write!(f, "lanes: {e}"),
            Error::Shape { what, expected, found } => write!(f, "{what}: expected shape {expected:?}, found {found:?}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Kernel(e) => Some(e),
            Error::Shape { .. } => None,
        }
    }
}

/// A dense layer for inference, weights prepacked once.
pub struct Linear {
    gemm: Gemm,
    packed: PackedB,
    bias: Option<Vec<f32>>,
    activation: Activation,
}

impl Linear {
    /// From `weight` (`[out, in]`, any layout), an optional `bias` (`[out]`) and the
    /// activation, on the default [`Gemm`] (best ISA, threads when the batch is large).
    pub fn new(
        weight: ArrayView2<'_, f32>,
        bias: Option<ArrayView1<'_, f32>>,
        activation: Activation,
    ) -> Result<Self, Error> {
        Self::with_gemm(Gemm::new(), weight, bias, activation)
    }

    /// Like [`Linear::new`] on a configured [`Gemm`] (e.g. `Parallelism::Sequential` inside a
    /// caller's own thread pool, or a forced ISA).
    pub fn with_gemm(
        gemm: Gemm,
        weight: ArrayView2<'_, f32>,
        bias: Option<ArrayView1<'_, f32>>,
        activation: Activation,
    ) -> Result<Self, Error> {
        let outputs = weight.nrows();
        if let Some(b) = &bias {
            if b.len() != outputs {
                return Err(Error::Shape { what: "Linear bias", expected: vec![outputs], found: vec![b.len()] });
            }
        }
        // B = W^T (in x out): a transposed view, no copy; pack_b copies it once into panels.
        let packed = gemm.pack_b(MatRef::try_from(weight.t())?)?;
        Ok(Linear { gemm, packed, bias: bias.map(|b| b.to_vec()), activation })
    }

    /// Input and output features.
    pub fn dims(&self) -> (usize, usize) {
        (self.packed.rows(), self.packed.cols())
    }

    /// `act(x W^T + b)` for `x` of shape `[batch, in]` (any strides), as a new `[batch, out]`
    /// array.
    pub fn forward(&self, x: ArrayView2<'_, f32>) -> Result<Array2<f32>, Error> {
        if x.ncols() != self.packed.rows() {
            return Err(Error::Shape {
                what: "Linear input",
                expected: vec![x.nrows(), self.packed.rows()],
                found: x.shape().to_vec(),
            });
        }
        let epi = Epilogue::new(self.bias.as_deref(), self.activation);
        Ok(lanes_kernels::ndarray::matmul_packed(&self.gemm, x, &self.packed, &epi)?)
    }
}

/// A 2-D convolution on NHWC arrays, filter packed once.
pub struct Conv2dNhwc {
    conv: Conv2d,
}

impl Conv2dNhwc {
    /// From a filter `[out, in, kh, kw]` (PyTorch/ONNX order, any layout), an optional bias
    /// (`[out]`), stride, zero padding (same on every side) and activation.
    pub fn new(
        filter: ArrayView4<'_, f32>,
        bias: Option<ArrayView1<'_, f32>>,
        stride: usize,
        padding: usize,
        activation: Activation,
    ) -> Result<Self, Error> {
        let (cout, cin, kh, kw) = filter.dim();
        let params = Conv2dParams::new(cin, cout, (kh, kw)).stride(stride, stride).padding(Padding::uniform(padding));
        // Conv2d takes a dense OIHW slice: copy only if the view is not already one.
        let filter = filter.as_standard_layout();
        let filter = filter.as_slice().ok_or(Error::Shape {
            what: "filter (not contiguous after as_standard_layout)",
            expected: vec![cout, cin, kh, kw],
            found: filter.shape().to_vec(),
        })?;
        let bias = bias.map(|b| b.to_vec());
        // Parallelism: Auto (threads from the current rayon pool above a size threshold).
        let gemm = Gemm::new().parallelism(Parallelism::Auto);
        Ok(Conv2dNhwc {
            conv: Conv2d::with_gemm(gemm, params, filter, FilterLayout::Oihw, bias.as_deref(), activation)?,
        })
    }

    /// The convolution of `x` (`[batch, height, width, in]`, any layout; copied once if it is
    /// not in standard order), as a new `[batch, out_h, out_w, out]` array.
    pub fn forward(&self, x: ArrayView4<'_, f32>) -> Result<Array4<f32>, Error> {
        let (n, h, w, c) = x.dim();
        let cin = self.conv.params().in_channels;
        if c != cin {
            return Err(Error::Shape {
                what: "Conv2dNhwc input",
                expected: vec![n, h, w, cin],
                found: x.shape().to_vec(),
            });
        }
        let g = self.conv.geometry(n, h, w)?;
        let x = x.as_standard_layout();
        let input = x.as_slice().ok_or(Error::Shape {
            what: "input (not contiguous after as_standard_layout)",
            expected: vec![n, h, w, cin],
            found: x.shape().to_vec(),
        })?;
        let mut out = vec![0.0f32; g.output_len()?];
        self.conv.run(input, n, h, w, &mut out)?;
        let shape = (g.batch, g.out_h, g.out_w, g.out_c);
        Array4::from_shape_vec(shape, out).map_err(|_| Error::Shape {
            what: "Conv2dNhwc output",
            expected: vec![g.batch, g.out_h, g.out_w, g.out_c],
            found: vec![],
        })
    }
}
