//! The two public surfaces `api_no_panic` does not reach, on hostile arguments and data:
//!
//! - first byte even: lanes-web's API as JavaScript calls it (`api::sgemm`, `api::Plan`,
//!   `ops::ConvLayer` from a fuzzed JSON spec, `ops::unary` / `softmax` / `norm` / `binary`,
//!   `ops::EltwisePlan`), with dimensions as JS numbers (negative, fractional, NaN, Inf, huge),
//!   any slice lengths, unknown op, activation and ISA names: `Ok` or an `ApiError` (a thrown JS
//!   `Error` in the browser), never a panic (a trap in wasm);
//! - first byte odd: lanes-nn's layers (`Linear`, `Conv2d`, `DepthwiseConv2d`, `MaxPool2d`,
//!   `GlobalAvgPool`, `BatchNorm2d`, `LayerNorm`, `Act`, `Dropout`, `Reshape`) built from fuzzed
//!   sizes, run forward (inference and training) and backward on tensors of fuzzed shapes:
//!   `Ok` or an `NnError`, never a panic.
#![no_main]

use lanes_kernels::ops::conv::{Conv2dParams, Padding};
use lanes_kernels::Activation;
use lanes_nn::conv::{Conv2d, GlobalAvgPool, MaxPool2d, Reshape};
use lanes_nn::depthwise::DepthwiseConv2d;
use lanes_nn::layers::{Act, Dropout, Layer, Linear};
use lanes_nn::norm::{BatchNorm2d, LayerNorm};
use lanes_nn::Tensor;
use lanes_web::{api, ops};
use libfuzzer_sys::fuzz_target;

#[path = "common/bytes.rs"]
mod bytes;
use bytes::Bytes;
use serde_json::json;

impl Bytes<'_> {
    fn small(&mut self, below: u8) -> usize {
        (self.u8() % below) as usize
    }
    /// A dimension as JavaScript may pass it.
    fn js_dim(&mut self) -> f64 {
        const ODD: [f64; 9] = [-1.0, 0.5, f64::NAN, f64::INFINITY, 1e10, 4294967296.0, 9007199254740993.0, 1e300, -0.0];
        let b = self.u8();
        if b < 224 { (b % 12) as f64 } else { ODD[(b - 224) as usize % ODD.len()] }
    }
    fn value(&mut self) -> f32 {
        match self.u8() {
            250 => f32::NAN,
            251 => f32::INFINITY,
            252 => f32::NEG_INFINITY,
            253 => f32::MAX,
            254 => 1e-40,
            b => (b as f32 - 128.0) / 32.0,
        }
    }
    fn vec(&mut self, len: usize) -> Vec<f32> {
        (0..len).map(|_| self.value()).collect()
    }
    /// A slice length: usually the one the call wants (when it is small), sometimes off.
    fn len(&mut self, want: f64) -> usize {
        let exact = if want.is_finite() && (0.0..=4096.0).contains(&want) { want as usize } else { 0 };
        match self.u8() % 8 {
            0 => exact + 1,
            1 => exact.saturating_sub(1),
            2 => self.small(40),
            _ => exact,
        }
    }
    fn isa(&mut self) -> Option<&'static str> {
        [None, Some("auto"), Some("scalar"), Some("portable"), Some("avx2"), Some("avx512"), Some("simd128"), Some("x")]
            [self.small(8)]
    }
    fn name(&mut self, names: &[&'static str]) -> &'static str {
        names[self.small(names.len() as u8)]
    }
}

const UNARY: [&str; 12] =
    ["identity", "relu", "relu6", "clamp", "gelu", "gelu_erf", "silu", "sigmoid", "tanh", "exp", "swish", ""];

fn web(b: &mut Bytes) {
    match b.u8() % 6 {
        0 => {
            let (m, n, k) = (b.js_dim(), b.js_dim(), b.js_dim());
            let (la, lb, lc) = (b.len(m * k), b.len(k * n), b.len(m * n));
            let (a, bm, mut c) = (b.vec(la), b.vec(lb), b.vec(lc));
            let (alpha, beta, isa) = (b.value(), b.value(), b.isa());
            let _ = api::sgemm(m, n, k, alpha, &a, &bm, beta, &mut c, isa);
        }
        1 => {
            let (m, n, k) = (b.js_dim(), b.js_dim(), b.js_dim());
            if let Ok(mut plan) = api::Plan::new(m, n, k, b.isa()) {
                let (la, lb) = (b.len(m * k), b.len(k * n));
                let _ = plan.set_a(&b.vec(la));
                let _ = plan.set_b(&b.vec(lb));
                let _ = plan.run(b.u8() % 2 == 0, b.u8() % 4 == 0);
            }
        }
        2 => {
            let mut spec = json!({
                "inChannels": b.js_dim(), "outChannels": b.js_dim(), "kernel": [b.js_dim(), b.js_dim()],
            });
            if b.u8() % 2 == 0 {
                spec["stride"] = json!([b.js_dim(), b.js_dim()]);
            }
            if b.u8() % 2 == 0 {
                spec["dilation"] = json!([b.js_dim(), b.js_dim()]);
            }
            match b.u8() % 5 {
                0 => spec["padding"] = json!("same"),
                1 => spec["padding"] = json!(b.js_dim()),
                2 => spec["padding"] = json!([b.js_dim(), b.js_dim(), b.js_dim(), b.js_dim()]),
                3 => spec["padding"] = json!(b.name(&["valid", "full", ""])),
                _ => {}
            }
            if b.u8() % 3 == 0 {
                spec["groups"] = json!(b.js_dim());
            }
            if b.u8() % 3 == 0 {
                spec["layout"] = json!(b.name(&["oihw", "hwio", "nchw"]));
            }
            let Ok(spec) = serde_json::from_value::<ops::ConvSpec>(spec) else { return };
            let want = spec.in_channels * spec.out_channels * spec.kernel[0] * spec.kernel[1];
            let filter_len = b.len(want);
            let filter = b.vec(filter_len);
            let bias_len = b.len(spec.out_channels);
            let bias = (b.u8() % 2 == 0).then(|| b.vec(bias_len));
            let act = [None, Some("relu"), Some("gelu"), Some("swish")][b.small(4)];
            let Ok(mut layer) = ops::ConvLayer::new(&spec, &filter, bias.as_deref(), act, b.isa()) else { return };
            let (n, h, w) = (b.js_dim(), b.js_dim(), b.js_dim());
            let _ = layer.output_shape(n, h, w);
            let input_len = b.len(n * h * w * spec.in_channels);
            let input = b.vec(input_len);
            if let Ok(out) = layer.run(&input, n, h, w) {
                let shape = layer.output_shape(n, h, w).expect("run succeeded");
                assert_eq!(out.len(), shape.iter().product::<usize>());
            }
            if layer.set_input(&input, n, h, w).is_ok() {
                let _ = layer.forward(b.u8() % 4 == 0);
            }
        }
        3 => {
            let n = b.small(64);
            let _ = ops::unary(b.name(&UNARY), &b.vec(n), b.isa());
        }
        4 => {
            let (rows, cols) = (b.js_dim(), b.js_dim());
            let lx = b.len(rows * cols);
            let x = b.vec(lx);
            match b.u8() % 4 {
                0 => drop(ops::softmax(&x, rows, cols, b.u8() % 2 == 0, b.isa())),
                1 => {
                    let lg = b.len(cols);
                    let gamma = b.vec(lg);
                    let beta = (b.u8() % 2 == 0).then(|| b.vec(lg));
                    let eps = b.value();
                    drop(ops::norm(&x, rows, cols, &gamma, beta.as_deref(), eps, b.isa()));
                }
                _ => {
                    let ly = if b.u8() % 2 == 0 { b.len(cols) } else { b.len(rows * cols) };
                    let y = b.vec(ly);
                    drop(ops::binary(b.name(&["add", "mul", "sub"]), &x, &y, rows, cols, b.isa()));
                }
            }
        }
        _ => {
            let op = b.name(&["softmax", "logSoftmax", "layerNorm", "rmsNorm", "relu", "gelu", "tanh", "x"]);
            let (rows, cols) = (b.js_dim(), b.js_dim());
            let lg = b.len(cols);
            let gamma = (b.u8() % 3 != 0).then(|| b.vec(lg));
            let beta = (b.u8() % 3 != 0).then(|| b.vec(lg));
            let eps = b.value();
            let Ok(mut plan) = ops::EltwisePlan::new(op, rows, cols, gamma.as_deref(), beta.as_deref(), eps, b.isa())
            else {
                return;
            };
            let lx = b.len(rows * cols);
            if plan.set_input(&b.vec(lx)).is_ok() {
                let _ = plan.run();
            }
        }
    }
}

fn layer(b: &mut Bytes) -> Option<Box<dyn Layer>> {
    let seed = b.u8() as u64;
    Some(match b.u8() % 10 {
        0 => Box::new(Linear::new(b.small(20), b.small(20), seed).ok()?),
        1 => {
            let p = Conv2dParams::new(b.small(6), b.small(6), (b.small(5), b.small(5)))
                .stride(b.small(4), b.small(4))
                .dilation(b.small(3), b.small(3))
                .padding(if b.u8() % 2 == 0 { Padding::Same } else { Padding::uniform(b.small(4)) });
            Box::new(Conv2d::new(p, seed).ok()?)
        }
        2 => {
            let pad = if b.u8() % 2 == 0 { Padding::Same } else { Padding::uniform(b.small(3)) };
            Box::new(DepthwiseConv2d::new(b.small(8), (b.small(5), b.small(5)), b.small(4), pad, seed).ok()?)
        }
        3 => Box::new(MaxPool2d::new(b.small(5)).ok()?),
        4 => Box::new(GlobalAvgPool::new()),
        5 => Box::new(BatchNorm2d::new(b.small(8))),
        6 => Box::new(LayerNorm::new(b.small(20), [1e-5, 0.0, -1.0, f32::NAN][b.small(4)]).ok()?),
        7 => Box::new(Act::new([Activation::Relu, Activation::Gelu, Activation::Silu, Activation::GeluErf][b.small(4)])),
        8 => Box::new(Dropout::new([0.0, 0.5, 0.99, 1.0, -0.1, f32::NAN][b.small(6)], seed).ok()?),
        _ => {
            let rank = 1 + b.small(4);
            let shape: Vec<usize> = (0..rank).map(|_| b.small(10)).collect();
            Box::new(Reshape::new(&shape))
        }
    })
}

fn tensor(b: &mut Bytes) -> Option<Tensor> {
    let rank = 1 + b.small(4);
    let shape: Vec<usize> = (0..rank).map(|_| b.small(9)).collect();
    let len = shape.iter().product::<usize>().min(4096);
    Tensor::new(&shape, b.vec(len)).ok()
}

fn nn(b: &mut Bytes) {
    let Some(mut l) = layer(b) else { return };
    let Some(x) = tensor(b) else { return };
    let train = b.u8() % 2 == 0;
    let Ok(y) = l.forward(&x, train) else { return };
    if train {
        // The gradient of the output's shape, or of another one.
        let grad = if b.u8() % 4 == 0 { tensor(b) } else { Tensor::new(y.shape(), b.vec(y.data().len())).ok() };
        if let Some(g) = grad {
            let _ = l.backward(&g);
        }
    } else {
        let _ = l.backward(&y); // backward after an inference pass: an error
    }
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    if b.u8() % 2 == 0 {
        web(&mut b);
    } else {
        nn(&mut b);
    }
});
