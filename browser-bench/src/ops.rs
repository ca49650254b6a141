//! The checked layer under the JS bindings of convolution and the element-wise ops: every
//! argument from JavaScript is validated, every failure an [`ApiError`] with a message.

use crate::api::{dim, parallelism, parse_isa, zeroed, ApiError, Dims, MAX_ELEMENTS};
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

/// A convolution with its filter packed once, for NHWC inputs of any size: one-shot
/// [`ConvLayer::run`], or an input resident in wasm memory ([`ConvLayer::set_input`], then
/// [`ConvLayer::forward`] as often as needed, reading [`ConvLayer::output`]).
pub struct ConvLayer {
    conv: Conv2d,
    gemm: Gemm,
    /// The resident input and its `(batch, height, width)`, and the output it gives.
    input: Vec<f32>,
    shape: Option<(usize, usize, usize)>,
    output: Vec<f32>,
    last_parallel: bool,
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
        Ok(ConvLayer { conv, gemm, input: Vec::new(), shape: None, output: Vec::new(), last_parallel: false })
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

    /// Copies `batch` NHWC images of `height x width` into wasm memory for [`ConvLayer::forward`]
    /// and makes room for the output.
    pub fn set_input(&mut self, input: &[f32], batch: f64, height: f64, width: f64) -> Result<(), ApiError> {
        let (n, h, w) = (dim("batch", batch)?, dim("height", height)?, dim("width", width)?);
        let g = self.conv.geometry(n, h, w)?;
        let (in_len, out_len) = (g.input_len()?, g.output_len()?);
        if input.len() != in_len {
            return Err(err(format!(
                "input has length {}, expected batch x height x width x inChannels = {n} x {h} x {w} x {} = {in_len}",
                input.len(),
                g.in_c
            )));
        }
        if out_len > MAX_ELEMENTS {
            return Err(err(format!("output ({out_len} values) is larger than {MAX_ELEMENTS} elements")));
        }
        self.shape = None;
        self.input = Vec::new();
        self.output = Vec::new();
        let mut copy = Vec::new();
        copy.try_reserve_exact(in_len)
            .map_err(|_| err(format!("out of memory copying the input ({in_len} floats)")))?;
        copy.extend_from_slice(input);
        self.output = zeroed(out_len, "the output")?;
        self.input = copy;
        self.shape = Some((n, h, w));
        Ok(())
    }

    /// Runs on the resident input, on the calling thread or (`parallel`, threads build after
    /// `poolStarted`) on the worker pool when each fork/join brings enough work, by the rule of
    /// the GEMM plans (`api::WASM_FORK_JOIN_MACS`).
    pub fn forward(&mut self, parallel: bool) -> Result<(), ApiError> {
        let (n, h, w) = self.shape.ok_or_else(|| err("forward() before setInput".into()))?;
        let g = self.conv.geometry(n, h, w)?;
        let p = self.conv.params();
        let (kh, kw) = p.kernel;
        let m = n * g.out_h * g.out_w;
        let d = if self.conv.is_depthwise() {
            Dims { m, n: g.out_c, k: kh * kw }
        } else {
            Dims { m, n: p.out_per_group(), k: kh * kw * p.in_per_group() }
        };
        let par = parallelism(parallel, &self.gemm, d)?;
        self.conv.set_parallelism(par);
        self.last_parallel = par != Parallelism::Sequential;
        self.conv.run(&self.input, n, h, w, &mut self.output)?;
        Ok(())
    }

    /// The output of the last [`ConvLayer::forward`] (NHWC).
    pub fn output(&self) -> &[f32] {
        &self.output
    }

    /// Whether the last [`ConvLayer::forward`] used the worker pool.
    pub fn last_parallel(&self) -> bool {
        self.last_parallel
    }
}

fn eltwise(isa: Option<&str>) -> Result<Eltwise, ApiError> {
    Ok(Eltwise::with_isa(parse_isa(isa)?)?.parallelism(Parallelism::Sequential))
}

fn parse_unary(op: &str) -> Result<Unary, ApiError> {
    Ok(match op {
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
    })
}

/// `y = op(x)`: `relu`, `gelu`, `gelu_erf`, `silu`, `sigmoid`, `tanh`, `exp`, `identity`.
pub fn unary(op: &str, x: &[f32], isa: Option<&str>) -> Result<Vec<f32>, ApiError> {
    let op = parse_unary(op)?;
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

/// What an [`EltwisePlan`] computes.
enum PlanOp {
    Unary(Unary),
    Softmax {
        log: bool,
    },
    /// Layer norm (`beta` given) or RMS norm.
    Norm {
        gamma: Vec<f32>,
        beta: Option<Vec<f32>>,
        eps: f32,
    },
}

/// An element-wise or row operation on a `rows x cols` array resident in wasm memory: set the
/// input once, run it as often as needed, read the output (what the benchmark page times).
pub struct EltwisePlan {
    op: PlanOp,
    rows: usize,
    cols: usize,
    eltwise: Eltwise,
    x: Vec<f32>,
    y: Vec<f32>,
}

impl EltwisePlan {
    /// `op`: a unary op of [`unary`], `softmax`, `logSoftmax`, `layerNorm` (needs `gamma` and
    /// `beta` of `cols` values) or `rmsNorm` (needs `gamma`).
    pub fn new(
        op: &str,
        rows: f64,
        cols: f64,
        gamma: Option<&[f32]>,
        beta: Option<&[f32]>,
        eps: f32,
        isa: Option<&str>,
    ) -> Result<Self, ApiError> {
        let (r, c) = (dim("rows", rows)?, dim("cols", cols)?);
        let len = r
            .checked_mul(c)
            .filter(|&l| l <= MAX_ELEMENTS)
            .ok_or_else(|| err(format!("rows x cols = {r} x {c} is larger than {MAX_ELEMENTS} elements")))?;
        let row_param = |what: &str, v: Option<&[f32]>| -> Result<Vec<f32>, ApiError> {
            match v {
                Some(v) if v.len() == c => Ok(v.to_vec()),
                Some(v) => Err(err(format!("{what} has length {}, expected cols = {c}", v.len()))),
                None => Err(err(format!("{op} needs {what} ({c} values)"))),
            }
        };
        let plan_op = match op {
            "softmax" => PlanOp::Softmax { log: false },
            "logSoftmax" => PlanOp::Softmax { log: true },
            "layerNorm" => {
                PlanOp::Norm { gamma: row_param("gamma", gamma)?, beta: Some(row_param("beta", beta)?), eps }
            }
            "rmsNorm" => PlanOp::Norm { gamma: row_param("gamma", gamma)?, beta: None, eps },
            other => PlanOp::Unary(parse_unary(other).map_err(|_| {
                err(format!(
                    "op {other:?}: expected softmax, logSoftmax, layerNorm, rmsNorm or a unary op (relu, gelu, gelu_erf, silu, sigmoid, tanh, exp, identity)"
                ))
            })?),
        };
        if let PlanOp::Norm { eps, .. } = plan_op {
            if !(eps.is_finite() && eps >= 0.0) {
                return Err(err(format!("eps must be finite and >= 0, got {eps}")));
            }
        }
        Ok(EltwisePlan {
            op: plan_op,
            rows: r,
            cols: c,
            eltwise: eltwise(isa)?,
            x: zeroed(len, "the input")?,
            y: zeroed(len, "the output")?,
        })
    }

    /// Copies the input (`rows x cols`, row-major) into wasm memory.
    pub fn set_input(&mut self, x: &[f32]) -> Result<(), ApiError> {
        if x.len() != self.x.len() {
            return Err(err(format!("x has length {}, expected rows x cols = {} x {}", x.len(), self.rows, self.cols)));
        }
        self.x.copy_from_slice(x);
        Ok(())
    }

    /// Computes the output from the resident input (on the calling thread).
    pub fn run(&mut self) -> Result<(), ApiError> {
        let (r, c) = (self.rows, self.cols);
        let e = &self.eltwise;
        match &self.op {
            PlanOp::Unary(op) => e.unary(*op, &self.x, &mut self.y)?,
            PlanOp::Softmax { log } => {
                let (xv, yv) = (MatRef::row_major(&self.x, r, c)?, MatMut::row_major(&mut self.y, r, c)?);
                if *log {
                    e.log_softmax(xv, yv)?
                } else {
                    e.softmax(xv, yv)?
                }
            }
            PlanOp::Norm { gamma, beta, eps } => {
                let (xv, yv) = (MatRef::row_major(&self.x, r, c)?, MatMut::row_major(&mut self.y, r, c)?);
                match beta {
                    Some(beta) => e.layer_norm(xv, gamma, beta, *eps, yv)?,
                    None => e.rms_norm(xv, gamma, *eps, yv)?,
                }
            }
        }
        Ok(())
    }

    /// The output of the last [`EltwisePlan::run`].
    pub fn output(&self) -> &[f32] {
        &self.y
    }
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
    fn resident_conv_input_matches_the_one_shot_run() {
        for json in [
            r#"{"inChannels": 3, "outChannels": 5, "kernel": [3, 3], "stride": [2, 2], "padding": "same", "layout": "hwio"}"#,
            r#"{"inChannels": 4, "outChannels": 4, "kernel": [3, 3], "padding": 1, "groups": 4, "layout": "hwio"}"#,
        ] {
            let s = spec(json);
            let (params, _) = s.params().unwrap();
            let filter: Vec<f32> = (0..params.filter_len().unwrap()).map(|i| (i % 7) as f32 - 3.0).collect();
            let mut layer = ConvLayer::new(&s, &filter, None, None, None).unwrap();
            let cin = params.in_channels;
            let input: Vec<f32> = (0..2 * 9 * 7 * cin).map(|i| (i % 5) as f32 * 0.5).collect();
            let want = layer.run(&input, 2.0, 9.0, 7.0).unwrap();
            assert!(layer.forward(false).err().unwrap().0.contains("before setInput"));
            assert!(layer.set_input(&input[1..], 2.0, 9.0, 7.0).err().unwrap().0.contains("input has length"));
            layer.set_input(&input, 2.0, 9.0, 7.0).unwrap();
            layer.forward(false).unwrap();
            assert_eq!(layer.output(), &want[..], "{json}");
            assert!(!layer.last_parallel());
            // Not the threads build: a parallel run is refused with a message.
            assert!(layer.forward(true).err().unwrap().0.contains("no threads"));
        }
    }

    #[test]
    fn eltwise_plans_match_the_one_shot_functions() {
        let (rows, cols) = (3usize, 10usize);
        let x: Vec<f32> = (0..rows * cols).map(|i| ((i * 7) % 11) as f32 * 0.3 - 1.5).collect();
        let gamma: Vec<f32> = (0..cols).map(|i| 1.0 + 0.1 * i as f32).collect();
        let beta: Vec<f32> = (0..cols).map(|i| 0.05 * i as f32).collect();
        let (r, c) = (rows as f64, cols as f64);
        let cases: [(&str, Vec<f32>); 4] = [
            ("exp", unary("exp", &x, None).unwrap()),
            ("softmax", softmax(&x, r, c, false, None).unwrap()),
            ("logSoftmax", softmax(&x, r, c, true, None).unwrap()),
            ("layerNorm", norm(&x, r, c, &gamma, Some(&beta), 1e-5, None).unwrap()),
        ];
        for (op, want) in cases {
            let mut p = EltwisePlan::new(op, r, c, Some(&gamma), Some(&beta), 1e-5, None).unwrap();
            p.set_input(&x).unwrap();
            p.run().unwrap();
            assert_eq!(p.output(), &want[..], "{op}");
        }
        let e = |op: &str, g: Option<&[f32]>, b: Option<&[f32]>| {
            EltwisePlan::new(op, r, c, g, b, 1e-5, None).err().unwrap().0
        };
        assert!(e("layerNorm", Some(&gamma), None).contains("layerNorm needs beta"));
        assert!(e("layerNorm", Some(&gamma[1..]), Some(&beta)).contains("gamma has length 9, expected cols = 10"));
        assert!(e("swish", None, None).contains("op \"swish\""));
        assert!(EltwisePlan::new("softmax", -1.0, c, None, None, 0.0, None).is_err());
        assert!(EltwisePlan::new("layerNorm", r, c, Some(&gamma), Some(&beta), f32::NAN, None)
            .err()
            .unwrap()
            .0
            .contains("eps"));
        let mut p = EltwisePlan::new("softmax", r, c, None, None, 0.0, None).unwrap();
        assert!(p.set_input(&x[1..]).err().unwrap().0.contains("x has length 29"));
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
