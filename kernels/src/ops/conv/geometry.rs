//! Convolution geometry: the parameters of a 2-D convolution, and their resolution for one
//! input size into output size and padding, with a typed error for every impossible case.

use crate::error::KernelError;

/// How the input is padded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Padding {
    /// Explicit zero padding on each side.
    Explicit {
        /// Rows above.
        top: usize,
        /// Rows below.
        bottom: usize,
        /// Columns on the left.
        left: usize,
        /// Columns on the right.
        right: usize,
    },
    /// "Same" (TensorFlow `SAME`, ONNX `SAME_UPPER`): output size `ceil(input / stride)`, the
    /// total padding split evenly with the odd element at the bottom/right.
    Same,
}

impl Padding {
    /// No padding ("valid").
    pub const VALID: Padding = Padding::Explicit { top: 0, bottom: 0, left: 0, right: 0 };

    /// The same padding `p` on every side.
    pub fn uniform(p: usize) -> Padding {
        Padding::Explicit { top: p, bottom: p, left: p, right: p }
    }
}

/// The parameters of a 2-D convolution on NHWC activations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dParams {
    /// Input channels (`C_in`).
    pub in_channels: usize,
    /// Output channels (`C_out`).
    pub out_channels: usize,
    /// Kernel height and width.
    pub kernel: (usize, usize),
    /// Vertical and horizontal stride (>= 1).
    pub stride: (usize, usize),
    /// Vertical and horizontal dilation (>= 1).
    pub dilation: (usize, usize),
    /// Zero padding.
    pub padding: Padding,
    /// Groups: `C_in` and `C_out` are split into this many independent convolutions (1: dense;
    /// `C_in`: depthwise).
    pub groups: usize,
}

impl Conv2dParams {
    /// A dense `kh x kw` convolution from `in_channels` to `out_channels`, stride 1, no
    /// dilation, no padding, one group.
    pub fn new(in_channels: usize, out_channels: usize, kernel: (usize, usize)) -> Self {
        Conv2dParams {
            in_channels,
            out_channels,
            kernel,
            stride: (1, 1),
            dilation: (1, 1),
            padding: Padding::VALID,
            groups: 1,
        }
    }

    /// With this stride.
    pub fn stride(self, sh: usize, sw: usize) -> Self {
        Conv2dParams { stride: (sh, sw), ..self }
    }

    /// With this dilation.
    pub fn dilation(self, dh: usize, dw: usize) -> Self {
        Conv2dParams { dilation: (dh, dw), ..self }
    }

    /// With this padding.
    pub fn padding(self, padding: Padding) -> Self {
        Conv2dParams { padding, ..self }
    }

    /// With this many groups.
    pub fn groups(self, groups: usize) -> Self {
        Conv2dParams { groups, ..self }
    }

    /// Input channels per group.
    pub fn in_per_group(&self) -> usize {
        self.in_channels / self.groups.max(1)
    }

    /// Output channels per group.
    pub fn out_per_group(&self) -> usize {
        self.out_channels / self.groups.max(1)
    }

    /// Filter values: `C_out * KH * KW * C_in / groups`.
    pub fn filter_len(&self) -> Result<usize, KernelError> {
        let (kh, kw) = self.kernel;
        [kh, kw, self.in_per_group()]
            .iter()
            .try_fold(self.out_channels, |acc, &x| acc.checked_mul(x))
            .ok_or(KernelError::InvalidGeometry { param: "filter size", value: usize::MAX })
    }

    /// Checks what does not depend on the input size: positive sizes, strides, dilations and
    /// groups, channels divisible by groups.
    pub fn validate(&self) -> Result<(), KernelError> {
        let bad = |param: &'static str, value: usize| Err(KernelError::InvalidGeometry { param, value });
        let (kh, kw) = self.kernel;
        for (param, value) in [
            ("kernel height", kh),
            ("kernel width", kw),
            ("stride height", self.stride.0),
            ("stride width", self.stride.1),
            ("dilation height", self.dilation.0),
            ("dilation width", self.dilation.1),
            ("groups", self.groups),
            ("in_channels", self.in_channels),
            ("out_channels", self.out_channels),
        ] {
            if value == 0 {
                return bad(param, 0);
            }
        }
        if !self.in_channels.is_multiple_of(self.groups) {
            return bad("in_channels (not divisible by groups)", self.in_channels);
        }
        if !self.out_channels.is_multiple_of(self.groups) {
            return bad("out_channels (not divisible by groups)", self.out_channels);
        }
        self.filter_len()?;
        Ok(())
    }

    /// The geometry for `batch` images of `height x width`: output size and padding. An error
    /// when the (dilated) kernel is larger than the padded input, or a size overflows.
    pub fn geometry(&self, batch: usize, height: usize, width: usize) -> Result<Conv2dGeometry, KernelError> {
        self.validate()?;
        let overflow = |param| KernelError::InvalidGeometry { param, value: usize::MAX };
        let (kh, kw) = self.kernel;
        let (sh, sw) = self.stride;
        let (dh, dw) = self.dilation;
        // Extent of the dilated kernel: (k - 1) * d + 1.
        let ext_h = (kh - 1).checked_mul(dh).and_then(|x| x.checked_add(1)).ok_or(overflow("dilated kernel height"))?;
        let ext_w = (kw - 1).checked_mul(dw).and_then(|x| x.checked_add(1)).ok_or(overflow("dilated kernel width"))?;
        let (top, bottom, left, right) = match self.padding {
            Padding::Explicit { top, bottom, left, right } => (top, bottom, left, right),
            Padding::Same => {
                // (out - 1) * stride + ext - size, written so that it cannot overflow:
                // (out - 1) * stride < size (or both are 0).
                let total = |size: usize, stride: usize, ext: usize| {
                    let out = size.div_ceil(stride);
                    ext.saturating_sub(size - (out.max(1) - 1) * stride)
                };
                let (ph, pw) = (total(height, sh, ext_h), total(width, sw, ext_w));
                (ph / 2, ph - ph / 2, pw / 2, pw - pw / 2)
            }
        };
        let padded_h = height.checked_add(top).and_then(|x| x.checked_add(bottom)).ok_or(overflow("padded height"))?;
        let padded_w = width.checked_add(left).and_then(|x| x.checked_add(right)).ok_or(overflow("padded width"))?;
        if ext_h > padded_h {
            return Err(KernelError::InvalidGeometry {
                param: "kernel height (dilated, larger than the padded input)",
                value: ext_h,
            });
        }
        if ext_w > padded_w {
            return Err(KernelError::InvalidGeometry {
                param: "kernel width (dilated, larger than the padded input)",
                value: ext_w,
            });
        }
        let out_h = (padded_h - ext_h) / sh + 1;
        let out_w = (padded_w - ext_w) / sw + 1;
        let g = Conv2dGeometry {
            batch,
            in_h: height,
            in_w: width,
            in_c: self.in_channels,
            out_h,
            out_w,
            out_c: self.out_channels,
            kernel: self.kernel,
            stride: self.stride,
            dilation: self.dilation,
            pad_top: top,
            pad_left: left,
            groups: self.groups,
        };
        g.input_len()?;
        g.output_len()?;
        Ok(g)
    }
}

/// A convolution resolved for one input size (all sizes checked not to overflow).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dGeometry {
    /// Images.
    pub batch: usize,
    /// Input height.
    pub in_h: usize,
    /// Input width.
    pub in_w: usize,
    /// Input channels.
    pub in_c: usize,
    /// Output height.
    pub out_h: usize,
    /// Output width.
    pub out_w: usize,
    /// Output channels.
    pub out_c: usize,
    /// Kernel height and width.
    pub kernel: (usize, usize),
    /// Stride.
    pub stride: (usize, usize),
    /// Dilation.
    pub dilation: (usize, usize),
    /// Zero rows above the input.
    pub pad_top: usize,
    /// Zero columns left of the input.
    pub pad_left: usize,
    /// Groups.
    pub groups: usize,
}

impl Conv2dGeometry {
    /// Values of the NHWC input: `batch * in_h * in_w * in_c`.
    pub fn input_len(&self) -> Result<usize, KernelError> {
        [self.in_h, self.in_w, self.in_c]
            .iter()
            .try_fold(self.batch, |acc, &x| acc.checked_mul(x))
            .ok_or(KernelError::InvalidGeometry { param: "input size", value: usize::MAX })
    }

    /// Values of the NHWC output: `batch * out_h * out_w * out_c`.
    pub fn output_len(&self) -> Result<usize, KernelError> {
        [self.out_h, self.out_w, self.out_c]
            .iter()
            .try_fold(self.batch, |acc, &x| acc.checked_mul(x))
            .ok_or(KernelError::InvalidGeometry { param: "output size", value: usize::MAX })
    }

    /// Input row and column read by output `(oy, ox)` at tap `(ky, kx)`, or `None` in the
    /// padding.
    #[inline]
    pub fn input_at(&self, oy: usize, ox: usize, ky: usize, kx: usize) -> Option<(usize, usize)> {
        Some((self.input_row(oy, ky)?, self.input_col(ox, kx)?))
    }

    /// Input row read by output row `oy` at kernel row `ky`, or `None` in the padding.
    #[inline]
    pub fn input_row(&self, oy: usize, ky: usize) -> Option<usize> {
        (oy * self.stride.0 + ky * self.dilation.0).checked_sub(self.pad_top).filter(|&iy| iy < self.in_h)
    }

    /// Input column read by output column `ox` at kernel column `kx`, or `None` in the padding.
    #[inline]
    pub fn input_col(&self, ox: usize, kx: usize) -> Option<usize> {
        (ox * self.stride.1 + kx * self.dilation.1).checked_sub(self.pad_left).filter(|&ix| ix < self.in_w)
    }

    /// Whether every channel group is one channel in and one out (depthwise, multiplier 1).
    pub fn is_depthwise(&self) -> bool {
        self.groups == self.in_c && self.groups == self.out_c
    }

    /// Whether this is a 1x1, stride-1, unpadded convolution (a plain GEMM per group).
    pub fn is_pointwise(&self) -> bool {
        self.kernel == (1, 1)
            && self.stride == (1, 1)
            && self.pad_top == 0
            && self.pad_left == 0
            && self.out_h == self.in_h
            && self.out_w == self.in_w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_sizes_match_the_usual_formulas() {
        let p = Conv2dParams::new(3, 8, (3, 3)).padding(Padding::uniform(1));
        let g = p.geometry(2, 224, 224).unwrap();
        assert_eq!((g.out_h, g.out_w), (224, 224));
        let g = p.stride(2, 2).geometry(1, 224, 224).unwrap();
        assert_eq!((g.out_h, g.out_w), (112, 112));
        let g = Conv2dParams::new(1, 1, (3, 3)).dilation(2, 2).geometry(1, 10, 10).unwrap();
        assert_eq!((g.out_h, g.out_w), (6, 6));
        // SAME: ceil(in / stride), odd padding at the bottom/right.
        let g = Conv2dParams::new(1, 1, (4, 4)).padding(Padding::Same).stride(2, 2).geometry(1, 7, 7).unwrap();
        assert_eq!((g.out_h, g.out_w, g.pad_top, g.pad_left), (4, 4, 1, 1));
        // Stride larger than the kernel, padding larger than the kernel.
        let g = Conv2dParams::new(1, 1, (2, 2)).stride(5, 5).padding(Padding::uniform(3)).geometry(1, 9, 9).unwrap();
        assert_eq!((g.out_h, g.out_w), (3, 3));
    }

    #[test]
    fn impossible_geometry_names_the_parameter() {
        let err = |p: Conv2dParams, h, w| match p.geometry(1, h, w) {
            Err(KernelError::InvalidGeometry { param, value }) => (param, value),
            other => panic!("expected InvalidGeometry, got {other:?}"),
        };
        assert_eq!(
            err(Conv2dParams::new(1, 1, (5, 5)), 4, 9).0,
            "kernel height (dilated, larger than the padded input)"
        );
        assert_eq!(err(Conv2dParams::new(1, 1, (3, 3)).stride(0, 1), 4, 4), ("stride height", 0));
        assert_eq!(err(Conv2dParams::new(1, 1, (3, 3)).dilation(1, 0), 4, 4), ("dilation width", 0));
        assert_eq!(err(Conv2dParams::new(6, 4, (1, 1)).groups(4), 4, 4), ("in_channels (not divisible by groups)", 6));
        assert_eq!(err(Conv2dParams::new(1, 1, (1, 1)), usize::MAX, usize::MAX).0, "input size");
        assert_eq!(err(Conv2dParams::new(1, 1, (usize::MAX, 1)).dilation(2, 1), 4, 4).0, "dilated kernel height");
        // "Same" padding of a huge input (found by the api_no_panic fuzz target: the padding
        // computation overflowed before the padded size was checked).
        let same = Conv2dParams::new(1, 1, (3, 3)).padding(Padding::Same);
        assert_eq!(err(same, usize::MAX, 4).0, "padded height");
        assert_eq!(err(same.stride(2, 2), 4, usize::MAX - 1).0, "input size"); // padding fits, the size not
        assert_eq!(err(same, usize::MAX - 1, 1).0, "padded height");
    }

    #[test]
    fn taps_in_the_padding_read_nothing() {
        let g = Conv2dParams::new(1, 1, (3, 3)).padding(Padding::uniform(1)).geometry(1, 4, 4).unwrap();
        assert_eq!(g.input_at(0, 0, 0, 0), None);
        assert_eq!(g.input_at(0, 0, 1, 1), Some((0, 0)));
        assert_eq!(g.input_at(3, 3, 2, 2), None);
    }
}
