//! The checked layer under the JS bindings of convolution and the element-wise ops: every
//! argument from JavaScript is validated, every failure an [`ApiError`] with a message.

use crate::api::{dim, parse_isa, ApiError, MAX_ELEMENTS};
use lanes_kernels::ops::conv::{Conv2d, Conv2dParams, FilterLayout, Padding};
use lanes_kernels::ops::eltwise::{Binary, Eltwise, Rhs, Unary};
use lanes_kernels::{Activation, Gemm, MatMut, MatRef, Parallelism};
use serde::Deserialize;

#[cold]
fn err(msg: String) -> ApiError {
    ApiError(format!("lanes: {msg}"))
}

/// Padding as JavaScript gives it: `"same"`, `"valid"`, one number, or `[top, bottom, left, right]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum PaddingSpec {
    Name(String),
    Uniform(f64),
    Sides([f64; 4]),
}

/// A convolution as JavaScript describes it (`{inChannels, outChannels, kernel: [kh, kw],
/// stride?, dilation?, padding?, groups?, layout?}`; `layout` `"oihw"` (default) or `"hwio"`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConvSpec {
    pub in_channels: f64,
    pub out_channels: f64,
    pub kernel: [f64; 2],
    #[serde(default)]
    pub stride: Option<[f64; 2]>,
    #[serde(default)]
    pub dilation: Option<[f64; 2]>,
    #[serde(default)]
    pub padding: Option<PaddingSpec>,
    #[serde(default)]
    pub groups: Option<f64>,
    #[serde(default)]
    pub layout: Option<String>,
}

impl ConvSpec {
    fn params(&self) -> Result<(Conv2dParams, FilterLayout), ApiError> {
        let pair = |name: &str, v: Option<[f64; 2]>| -> Result<(usize, usize), ApiError> {
            let [a, b] = v.unwrap_or([1.0, 1.0]);
            Ok((dim(name, a)?, dim(name, b)?))
        };
        let padding = match &self.padding {
            None => Padding::VALID,
            Some(PaddingSpec::Name(s)) if s == "same" => Padding::Same,
            Some(PaddingSpec::Name(s)) if s == "valid" => Padding::VALID,
            Some(PaddingSpec::Name(s)) => {
                return Err(err(format!(
                    "padding {s:?}: expected \"same\", \"valid\", a number or [top, bottom, left, right]"
                )))
            }
            Some(PaddingSpec::Uniform(p)) => Padding::uniform(dim("padding", *p)?),
            Some(PaddingSpec::Sides([t, b, l, r])) => Padding::Explicit {
                top: dim("padding", *t)?,
                bottom: dim("padding", *b)?,
                left: dim("padding", *l)?,
                right: dim("padding", *r)?,
            },
        };
        let layout = match self.layout.as_deref() {
            None | Some("oihw") => FilterLayout::Oihw,
            Some("hwio") => FilterLayout::Hwio,
            Some(other) => return Err(err(format!("filter layout {other:?}: expected \"oihw\" or \"hwio\""))),
        };
        let (kh, kw) = (dim("kernel", self.kernel[0])?, dim("kernel", self.kernel[1])?);
        let (sh, sw) = pair("stride", self.stride)?;
        let (dh, dw) = pair("dilation", self.dilation)?;
        let params =
            Conv2dParams::new(dim("inChannels", self.in_channels)?, dim("outChannels", self.out_channels)?, (kh, kw))
                .stride(sh, sw)
                .dilation(dh, dw)
                .padding(padding)
                .groups(dim("groups", self.groups.unwrap_or(1.0))?);
        params.validate()?;
        Ok((params, layout))
    }
}

/// An activation by name: `identity`, `relu`, `relu6`, `gelu`, `gelu_erf`, `silu` (undefined:
/// identity).
pub fn parse_activation(name: Option<&str>) -> Result<Activation, ApiError> {
    Ok(match name {
        None | Some("identity") => Activation::Identity,
        Some("relu") => Activation::Relu,
        Some("relu6") => Activation::RELU6,
        Some("gelu") => Activation::Gelu,
        Some("gelu_erf") => Activation::GeluErf,
        Some("silu") => Activation::Silu,
        Some(other) => {
            return Err(err(format!("activation {other:?}: expected identity, relu, relu6, gelu, gelu_erf or silu")))
        }
    })
}

/// A convolution with its filter packed once, for NHWC inputs of any size.
pub struct ConvLayer {
    conv: Conv2d,
}

impl ConvLayer {
    pub fn new(
        spec: &ConvSpec,
        filter: &[f32],
        bias: Option<&[f32]>,
        activation: Option<&str>,
        isa: Option<&str>,
    ) -> Result<Self, ApiError> {
        let (params, layout) = spec.params()?;
        let gemm = Gemm::with_isa(parse_isa(isa)?)?.parallelism(Parallelism::Sequential);
        let conv = Conv2d::with_gemm(gemm, params, filter, layout, bias, parse_activation(activation)?)?;
        Ok(ConvLayer { conv })
    }

    /// `[batch, outHeight, outWidth, outChannels]` for `batch` images of `height x width`.
    pub fn output_shape(&self, batch: f64, height: f64, width: f64) -> Result<[usize; 4], ApiError> {
        let g = self.conv.geometry(dim("batch", batch)?, dim("height", height)?, dim("width", width)?)?;
        Ok([g.batch, g.out_h, g.out_w, g.out_c])
    }

    /// The NHWC output of `batch` NHWC images (`input` holds `batch * height * width * C_in`).
    pub fn run(&self, input: &[f32], batch: f64, height: f64, width: f64) -> Result<Vec<f32>, ApiError> {
        let (n, h, w) = (dim("batch", batch)?, dim("height", height)?, dim("width", width)?);
        let g = self.conv.geometry(n, h, w)?;
        let len = g.output_len()?;
        if len > MAX_ELEMENTS {
            return Err(err(format!("output ({len} values) is larger than {MAX_ELEMENTS} elements")));
        }
        let mut out = Vec::new();
        out.try_reserve_exact(len).map_err(|_| err(format!("out of memory allocating the output ({len} floats)")))?;
        out.resize(len, 0.0);
        self.conv.run(input, n, h, w, &mut out)?;
        Ok(out)
    }
}

fn eltwise(isa: Option<&str>) -> Result<Eltwise, ApiError> {
    Ok(Eltwise::with_isa(parse_isa(isa)?)?.parallelism(Parallelism::Sequential))
}

/// `y = op(x)`: `relu`, `gelu`, `gelu_erf`, `silu`, `sigmoid`, `tanh`, `exp`, `identity`.
pub fn unary(op: &str, x: &[f32], isa: Option<&str>) -> Result<Vec<f32>, ApiError> {
    let op = match op {
        "identity" => Unary::Identity,
        "relu" => Unary::Relu,
        "gelu" => Unary::Gelu,
        "gelu_erf" => Unary::GeluErf,
        "silu" => Unary::Silu,
        "sigmoid" => Unary::Sigmoid,
        "tanh" => Unary::Tanh,
        "exp" => Unary::Exp,
        other => {
            return Err(err(format!(
                "unary op {other:?}: expected relu, gelu, gelu_erf, silu, sigmoid, tanh, exp or identity"
            )))
        }
    };
    let mut y = vec![0.0; x.len()];
    eltwise(isa)?.unary(op, x, &mut y)?;
    Ok(y)
}

fn rows_view<'a>(what: &str, x: &'a [f32], rows: f64, cols: f64) -> Result<MatRef<'a>, ApiError> {
    let (r, c) = (dim("rows", rows)?, dim("cols", cols)?);
    if r.checked_mul(c) != Some(x.len()) {
        return Err(err(format!("{what} has length {}, expected rows x cols = {r} x {c}", x.len())));
    }
    Ok(MatRef::row_major(x, r, c)?)
}

/// Row-wise `softmax` or `log_softmax` of a `rows x cols` row-major array.
pub fn softmax(x: &[f32], rows: f64, cols: f64, log: bool, isa: Option<&str>) -> Result<Vec<f32>, ApiError> {
    let xv = rows_view("x", x, rows, cols)?;
    let mut y = vec![0.0; x.len()];
    let yv = MatMut::row_major(&mut y, xv.rows(), xv.cols())?;
    let e = eltwise(isa)?;
    if log {
        e.log_softmax(xv, yv)?;
    } else {
        e.softmax(xv, yv)?;
    }
    Ok(y)
}

/// Layer norm of each row (`gamma`, `beta` of length `cols`), or RMS norm without `beta`.
pub fn norm(
    x: &[f32],
    rows: f64,
    cols: f64,
    gamma: &[f32],
    beta: Option<&[f32]>,
    eps: f32,
    isa: Option<&str>,
) -> Result<Vec<f32>, ApiError> {
    let xv = rows_view("x", x, rows, cols)?;
    let mut y = vec![0.0; x.len()];
    let yv = MatMut::row_major(&mut y, xv.rows(), xv.cols())?;
    match beta {
        Some(beta) => eltwise(isa)?.layer_norm(xv, gamma, beta, eps, yv)?,
        None => eltwise(isa)?.rms_norm(xv, gamma, eps, yv)?,
    }
    Ok(y)
}

/// `x + y` or `x * y` on a `rows x cols` array, `y` either `rows x cols` or one row of `cols`
/// (broadcast).
pub fn binary(op: &str, x: &[f32], y: &[f32], rows: f64, cols: f64, isa: Option<&str>) -> Result<Vec<f32>, ApiError> {
    let op = match op {
        "add" => Binary::Add,
        "mul" => Binary::Mul,
        other => return Err(err(format!("binary op {other:?}: expected add or mul"))),
    };
    let xv = rows_view("x", x, rows, cols)?;
    let rhs =
        if y.len() == xv.cols() && xv.rows() != 1 { Rhs::Row(y) } else { Rhs::Mat(rows_view("y", y, rows, cols)?) };
    let mut out = vec![0.0; x.len()];
    let ov = MatMut::row_major(&mut out, xv.rows(), xv.cols())?;
    eltwise(isa)?.binary(op, xv, rhs, ov)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> ConvSpec {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn conv_layer_runs_and_checks_its_arguments() {
        let s = spec(r#"{"inChannels": 2, "outChannels": 3, "kernel": [3, 3], "padding": "same"}"#);
        let filter = vec![0.5f32; 3 * 2 * 9];
        let layer = ConvLayer::new(&s, &filter, Some(&[1.0, 0.0, -1.0]), Some("relu"), None).unwrap();
        assert_eq!(layer.output_shape(1.0, 4.0, 5.0).unwrap(), [1, 4, 5, 3]);
        let out = layer.run(&[1.0; 4 * 5 * 2], 1.0, 4.0, 5.0).unwrap();
        // Centre pixel (1, 1): 9 taps x 2 channels x 0.5 = 9, plus the bias, then ReLU.
        assert_eq!(&out[(5 + 1) * 3..(5 + 1) * 3 + 3], &[10.0, 9.0, 8.0]);
        let bad = |json: &str| ConvLayer::new(&spec(json), &filter, None, None, None).err().unwrap().0;
        assert!(
            bad(r#"{"inChannels": 2, "outChannels": 3, "kernel": [3, 3], "stride": [0, 1]}"#).contains("stride height")
        );
        assert!(bad(r#"{"inChannels": 2, "outChannels": 3, "kernel": [3, 3], "padding": "full"}"#).contains("padding"));
        assert!(bad(r#"{"inChannels": 2, "outChannels": 3, "kernel": [3, 3], "layout": "nchw"}"#).contains("layout"));
        assert!(bad(r#"{"inChannels": 2.5, "outChannels": 3, "kernel": [3, 3]}"#).contains("inChannels"));
        assert!(ConvLayer::new(&s, &filter[1..], None, None, None).err().unwrap().0.contains("filter"));
        assert!(ConvLayer::new(&s, &filter, None, Some("swish"), None).err().unwrap().0.contains("activation"));
        assert!(
            serde_json::from_str::<ConvSpec>(
                r#"{"inChannels": 2, "outChannels": 3, "kernel": [3, 3], "strides": [1, 1]}"#
            )
            .is_err(),
            "unknown fields are refused"
        );
        assert!(layer.run(&[0.0; 7], 1.0, 4.0, 5.0).err().unwrap().0.contains("input"));
        assert!(layer.run(&[0.0; 2], 1.0, 1.0, 1.0).is_ok(), "same padding on a 1x1 image");
        assert!(layer.output_shape(1.0, -1.0, 5.0).is_err());
    }

    #[test]
    fn element_wise_ops_and_their_errors() {
        assert_eq!(unary("relu", &[-1.0, 2.0], None).unwrap(), [0.0, 2.0]);
        let y = unary("exp", &[0.0, 1.0], None).unwrap();
        assert!((y[1] - std::f32::consts::E).abs() < 1e-6);
        let s = softmax(&[1.0, 1.0, 0.0, 0.0], 2.0, 2.0, false, None).unwrap();
        assert_eq!(s, [0.5, 0.5, 0.5, 0.5]);
        let ls = softmax(&[0.0, 0.0], 1.0, 2.0, true, None).unwrap();
        assert!((ls[0] + std::f32::consts::LN_2).abs() < 1e-6);
        let n = norm(&[1.0, 3.0], 1.0, 2.0, &[1.0, 1.0], Some(&[0.0, 0.0]), 0.0, None).unwrap();
        assert!((n[0] + 1.0).abs() < 1e-5 && (n[1] - 1.0).abs() < 1e-5);
        let r = norm(&[3.0, 4.0], 1.0, 2.0, &[1.0, 2.0], None, 0.0, None).unwrap();
        assert!((r[1] - 8.0 / (12.5f32).sqrt()).abs() < 1e-5);
        assert_eq!(
            binary("add", &[1.0, 2.0, 3.0, 4.0], &[10.0, 20.0], 2.0, 2.0, None).unwrap(),
            [11.0, 22.0, 13.0, 24.0]
        );
        assert_eq!(binary("mul", &[1.0, 2.0], &[3.0, 4.0], 1.0, 2.0, None).unwrap(), [3.0, 8.0]);
        assert!(unary("swish", &[1.0], None).err().unwrap().0.contains("unary op"));
        assert!(softmax(&[1.0; 5], 2.0, 2.0, false, None).err().unwrap().0.contains("rows x cols"));
        assert!(norm(&[1.0; 4], 2.0, 2.0, &[1.0], Some(&[0.0, 0.0]), 1e-5, None).is_err(), "gamma of the wrong length");
        assert!(binary("sub", &[1.0], &[1.0], 1.0, 1.0, None).is_err());
        assert!(unary("relu", &[1.0], Some("avx9000")).is_err());
    }
}
