//! The models suite: end-to-end inference of whole networks through lanes-nn, ONNX Runtime
//! (the same network as an ONNX graph written by `onnx.rs`, the same weights as constant
//! initializers) and, for all-MiniLM-L6-v2, the NumPy reference `nn/tools/minilm_reference.py`.
//! Batch 1 and 32, verified against lanes before timing, lanes and ORT timed interleaved like
//! the other suites; NumPy is timed in its own process right after them. Throughput in items/s
//! (sentences/s, images/s): in the measurements the `gflops` field holds that number.
//!
//! - `minilm`: all-MiniLM-L6-v2 on token sequences of exactly [`SEQ`] tokens (`[CLS]`, word
//!   pieces of real sentences, `[SEP]`; no padding, so no attention mask on any side).
//! - `mnist_mlp`, `mnist_cnn`: the networks of nn/examples/mnist_mlp.rs and mnist_cnn.rs (`lanes_nn::zoo`) with
//!   seeded random weights and biases (the speed does not depend on their values).

use crate::measure::{self, Budget};
use crate::onnx::{Attr, Graph, INT64};
use crate::record::Measurement;
use lanes_kernels::Gemm;
use lanes_nn::bert::BertConfig;
use lanes_nn::sentence::{minilm_dir, SentenceEmbedder};
use lanes_nn::tokenizer::WordPiece;
use lanes_nn::{Sequential, Tensor};
use lanes_testkit::{normwise_error, Rng};
use safetensors::tensor::Dtype;
use safetensors::SafeTensors;
use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Tokens per MiniLM sequence, `[CLS]` and `[SEP]` included.
pub const SEQ: usize = 16;

/// The batch sizes of every model.
pub const BATCHES: [usize; 2] = [1, 32];

/// MiniLM agrees with lanes when every row's cosine similarity is at least 1 - this.
pub const COSINE_SLACK: f64 = 1e-4;

/// The MNIST networks agree with lanes within this normwise error (max |x - lanes| / max |lanes|).
pub const MNIST_TOLERANCE: f64 = 1e-4;

/// NumPy times at least this many batches (one batch of 32 takes over a second on one core),
/// one with a budget under half a second (`--quick`).
pub const NUMPY_MIN_BATCHES: usize = 3;

/// The sentences the MiniLM token sequences are cut from (32: one per row of a batch).
pub const SENTENCES: [&str; 32] = [
    "The quick brown fox jumps over the lazy dog near the quiet river bank.",
    "Sentence embeddings map text to vectors whose cosine similarity reflects meaning.",
    "A heavy storm closed the mountain pass for three days last winter.",
    "She ordered a cup of green tea and a slice of lemon cake at the station cafe.",
    "Matrix multiplication dominates the running time of most neural networks.",
    "The museum opens at nine in the morning and closes early on Sundays.",
    "Our team shipped the new release after two weeks of careful testing.",
    "Photosynthesis turns sunlight, water and carbon dioxide into sugar and oxygen.",
    "He forgot his umbrella on the train and walked home in the pouring rain.",
    "The recipe calls for two eggs, a cup of flour and a pinch of salt.",
    "Electric cars are becoming cheaper as battery prices keep falling.",
    "The children built a sandcastle and watched the tide wash it away.",
    "A good night's sleep improves memory, mood and concentration.",
    "The orchestra tuned their instruments while the audience found their seats.",
    "Compilers translate source code into instructions the processor can execute.",
    "The old lighthouse still guides fishing boats back to the harbour at night.",
    "Volunteers planted hundreds of trees along the banks of the polluted stream.",
    "My grandmother tells the best stories about growing up on a farm.",
    "The stock market fell sharply after the central bank raised interest rates.",
    "Astronomers discovered a planet orbiting a small star forty light years away.",
    "Please remember to water the plants and feed the cat while I am away.",
    "The bakery on the corner sells fresh bread every morning before sunrise.",
    "Learning a second language changes the way you think about your first one.",
    "The hikers reached the summit just as the clouds began to clear.",
    "Cache misses can make a fast algorithm slower than a simple one.",
    "The library extended its opening hours during the examination period.",
    "A sudden power cut left the whole neighbourhood in darkness for an hour.",
    "The detective noticed a muddy footprint beneath the open kitchen window.",
    "Fresh strawberries taste best in early summer, straight from the field.",
    "The committee will announce the winners of the design competition on Friday.",
    "Wind turbines now supply a large share of the country's electricity.",
    "They celebrated their anniversary with a picnic by the lake.",
];

/// `n` sequences of exactly `seq` tokens: `[CLS]`, the word pieces of sentence `i` (continued
/// with those of the following sentences when it is short, cut when it is long), `[SEP]`.
pub fn minilm_sequences(tok: &WordPiece, n: usize, seq: usize) -> Result<Vec<Vec<u32>>, String> {
    let special = |t: &str| tok.token_id(t).ok_or_else(|| format!("the vocabulary lacks {t}"));
    let (cls, sep) = (special("[CLS]")?, special("[SEP]")?);
    let bodies: Vec<Vec<u32>> = SENTENCES
        .iter()
        .map(|s| {
            let ids = tok.encode(s).ids;
            ids[1..ids.len() - 1].to_vec()
        })
        .collect();
    Ok((0..n)
        .map(|i| {
            let mut body = Vec::with_capacity(seq + 32);
            let mut j = i;
            while body.len() < seq - 2 {
                body.extend_from_slice(&bodies[j % bodies.len()]);
                j += 1;
            }
            body.truncate(seq - 2);
            let mut ids = vec![cls];
            ids.extend(body);
            ids.push(sep);
            ids
        })
        .collect())
}

/// `w` (`rows x cols`, row-major) transposed.
fn transpose(w: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0; w.len()];
    for r in 0..rows {
        for c in 0..cols {
            t[c * rows + r] = w[r * cols + c];
        }
    }
    t
}

/// `act(x W^T + b)` as `MatMul` + `Add` with `W` (`[out, in]`, PyTorch's layout) transposed.
fn dense(g: &mut Graph, x: &str, w: &[f32], b: &[f32], inputs: usize) -> String {
    let outputs = b.len();
    let wt = g.constant(&[inputs, outputs], &transpose(w, outputs, inputs));
    let b = g.constant(&[outputs], b);
    let y = g.op("MatMul", &[x, &wt], &[]);
    g.op("Add", &[&y, &b], &[])
}

/// The ONNX graph of a BERT encoder with sentence-transformers' pooling: input `X` float
/// `[batch, seq]` holding token ids, output `[batch, hidden]` unit rows (the mean of the last
/// hidden states over the tokens, L2-normalised). `weights` is the model.safetensors file
/// (Hugging Face `BertModel` names, as lanes-nn's `Bert` reads them).
pub fn bert_onnx(config: &BertConfig, weights: &[u8], batch: usize, seq: usize) -> Result<Vec<u8>, String> {
    let file = SafeTensors::deserialize(weights).map_err(|e| format!("model.safetensors: {e}"))?;
    let get = |name: &str, shape: &[usize]| -> Result<Vec<f32>, String> {
        let v = file.tensor(name).map_err(|_| format!("model.safetensors lacks {name}"))?;
        if v.dtype() != Dtype::F32 || v.shape() != shape {
            return Err(format!("{name} is {:?} {:?}, expected F32 {shape:?}", v.dtype(), v.shape()));
        }
        Ok(v.data().chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect())
    };
    let c = config;
    let (h, ff, heads) = (c.hidden_size, c.intermediate_size, c.num_attention_heads);
    let d = h / heads;
    if seq > c.max_position_embeddings {
        return Err(format!("{seq} tokens do not fit {} positions", c.max_position_embeddings));
    }
    let mut g = Graph::new();
    let norm = |g: &mut Graph, x: &str, name: &str| -> Result<String, String> {
        let gamma = g.constant(&[h], &get(&format!("{name}.weight"), &[h])?);
        let beta = g.constant(&[h], &get(&format!("{name}.bias"), &[h])?);
        let attrs = [Attr::int("axis", -1), Attr::float("epsilon", c.layer_norm_eps)];
        Ok(g.op("LayerNormalization", &[x, &gamma, &beta], &attrs))
    };
    let linear = |g: &mut Graph, x: &str, name: &str, inputs: usize, outputs: usize| -> Result<String, String> {
        let w = get(&format!("{name}.weight"), &[outputs, inputs])?;
        Ok(dense(g, x, &w, &get(&format!("{name}.bias"), &[outputs])?, inputs))
    };

    // Embeddings: words (Gather on the ids cast to int64) + positions 0..seq + segment 0.
    let words = g.constant(&[c.vocab_size, h], &get("embeddings.word_embeddings.weight", &[c.vocab_size, h])?);
    let pos = get("embeddings.position_embeddings.weight", &[c.max_position_embeddings, h])?;
    let seg = get("embeddings.token_type_embeddings.weight", &[c.type_vocab_size, h])?;
    let pos_seg: Vec<f32> = (0..seq * h).map(|i| pos[i] + seg[i % h]).collect();
    let pos_seg = g.constant(&[seq, h], &pos_seg);
    let ids = g.op("Cast", &["X"], &[Attr::int("to", INT64)]);
    let x = g.op("Gather", &[&words, &ids], &[]);
    let x = g.op("Add", &[&x, &pos_seg], &[]);
    let mut x = norm(&mut g, &x, "embeddings.LayerNorm")?;

    let heads_shape = g.constant_i64(&[batch as i64, seq as i64, heads as i64, d as i64]);
    let hidden_shape = g.constant_i64(&[batch as i64, seq as i64, h as i64]);
    let scale = g.constant(&[], &[1.0 / (d as f32).sqrt()]);
    let (sqrt2, one, half) =
        (g.constant(&[], &[std::f32::consts::SQRT_2]), g.constant(&[], &[1.0]), g.constant(&[], &[0.5]));
    for i in 0..c.num_hidden_layers {
        let p = format!("encoder.layer.{i}");
        // Query, key and value: one [h, 3h] MatMul, then Split.
        let (mut w, mut b) = (Vec::with_capacity(3 * h * h), Vec::with_capacity(3 * h));
        for part in ["query", "key", "value"] {
            w.extend(get(&format!("{p}.attention.self.{part}.weight"), &[h, h])?);
            b.extend(get(&format!("{p}.attention.self.{part}.bias"), &[h])?);
        }
        let qkv = dense(&mut g, &x, &w, &b, h);
        let parts = g.op_n("Split", &[&qkv], 3, &[Attr::int("axis", -1)]);
        let split_heads = |g: &mut Graph, t: &str, perm: &[i64]| {
            let r = g.op("Reshape", &[t, &heads_shape], &[]);
            g.op("Transpose", &[&r], &[Attr::ints("perm", perm)])
        };
        let q = split_heads(&mut g, &parts[0], &[0, 2, 1, 3]); // [B, heads, seq, d]
        let kt = split_heads(&mut g, &parts[1], &[0, 2, 3, 1]); // [B, heads, d, seq]
        let v = split_heads(&mut g, &parts[2], &[0, 2, 1, 3]);
        let s = g.op("MatMul", &[&q, &kt], &[]);
        let s = g.op("Mul", &[&s, &scale], &[]);
        let s = g.op("Softmax", &[&s], &[Attr::int("axis", -1)]);
        let ctx = g.op("MatMul", &[&s, &v], &[]);
        let ctx = g.op("Transpose", &[&ctx], &[Attr::ints("perm", &[0, 2, 1, 3])]);
        let ctx = g.op("Reshape", &[&ctx, &hidden_shape], &[]);
        let a = linear(&mut g, &ctx, &format!("{p}.attention.output.dense"), h, h)?;
        let a = g.op("Add", &[&a, &x], &[]);
        let a = norm(&mut g, &a, &format!("{p}.attention.output.LayerNorm"))?;
        // Feed-forward with the exact GELU, x * 0.5 * (1 + erf(x / sqrt 2)) (ORT fuses it).
        let inner = linear(&mut g, &a, &format!("{p}.intermediate.dense"), h, ff)?;
        let t = g.op("Div", &[&inner, &sqrt2], &[]);
        let t = g.op("Erf", &[&t], &[]);
        let t = g.op("Add", &[&t, &one], &[]);
        let t = g.op("Mul", &[&inner, &t], &[]);
        let t = g.op("Mul", &[&t, &half], &[]);
        let o = linear(&mut g, &t, &format!("{p}.output.dense"), ff, h)?;
        let o = g.op("Add", &[&o, &a], &[]);
        x = norm(&mut g, &o, &format!("{p}.output.LayerNorm"))?;
    }
    // Mean over the tokens, then L2 normalisation (opset 17: `axes` is an attribute).
    let mean = g.op("ReduceMean", &[&x], &[Attr::ints("axes", &[1]), Attr::int("keepdims", 0)]);
    let l2 = g.op("ReduceL2", &[&mean], &[Attr::ints("axes", &[1]), Attr::int("keepdims", 1)]);
    let y = g.op("Div", &[&mean, &l2], &[]);
    Ok(g.finish(&[batch, seq], &y, &[batch, h]))
}

/// The two MNIST networks of nn/examples (`lanes_nn::zoo`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mnist {
    /// 784-512-256-10, ReLU, dropout (nn/examples/mnist_mlp.rs).
    Mlp,
    /// conv 3x3 1->16, ReLU, max pool 2, conv 3x3 16->32, ReLU, max pool 2, linear 1568->128,
    /// ReLU, dropout, linear 128->10 (nn/examples/mnist_cnn.rs).
    Cnn,
}

/// A network's parameters by name (`<layer>.weight`, `<layer>.bias`).
type Params = HashMap<String, Vec<f32>>;

impl Mnist {
    /// The case name's prefix.
    pub fn name(self) -> &'static str {
        match self {
            Mnist::Mlp => "mnist_mlp",
            Mnist::Cnn => "mnist_cnn",
        }
    }

    /// The network (`lanes_nn::zoo`, as the examples build it) with its seeded weights and
    /// seeded biases in [-0.1, 0.1) (the zoo starts from zero biases; non-zero ones make the
    /// comparison with ORT check them), and its parameters.
    pub fn network(self) -> Result<(Sequential, Params), String> {
        let mut net = match self {
            Mnist::Mlp => lanes_nn::zoo::mnist_mlp(),
            Mnist::Cnn => lanes_nn::zoo::mnist_cnn(),
        }
        .map_err(|e| e.to_string())?;
        let mut rng = Rng::new(17);
        let mut params = Params::new();
        for p in net.params() {
            if p.param.name == "bias" {
                let r = rng.vec(p.param.value.len());
                for (v, r) in p.param.value.iter_mut().zip(r) {
                    *v = 0.1 * r;
                }
            }
            params.insert(p.name.clone(), p.param.value.to_vec());
        }
        Ok((net, params))
    }

    /// ORT's input shape: the MLP takes `[batch, 784]`; the CNN `[batch, 1, 28, 28]` (NCHW;
    /// with one channel the same bytes as lanes' NHWC `[batch, 28, 28, 1]`).
    pub fn ort_input(self, batch: usize) -> Vec<usize> {
        match self {
            Mnist::Mlp => vec![batch, 784],
            Mnist::Cnn => vec![batch, 1, 28, 28],
        }
    }

    /// The same network as an ONNX graph (`X` as [`Mnist::ort_input`], output `[batch, 10]`).
    pub fn onnx(self, params: &Params, batch: usize) -> Vec<u8> {
        let p = |name: &str| params[name].as_slice();
        let mut g = Graph::new();
        let y = match self {
            Mnist::Mlp => {
                let x = dense(&mut g, "X", p("0.weight"), p("0.bias"), 784);
                let x = g.op("Relu", &[&x], &[]);
                let x = dense(&mut g, &x, p("3.weight"), p("3.bias"), 512);
                let x = g.op("Relu", &[&x], &[]);
                dense(&mut g, &x, p("6.weight"), p("6.bias"), 256)
            }
            Mnist::Cnn => {
                let conv = |g: &mut Graph, x: &str, layer: usize, cin: usize, cout: usize| {
                    let w = g.constant(&[cout, cin, 3, 3], p(&format!("{layer}.weight")));
                    let b = g.constant(&[cout], p(&format!("{layer}.bias")));
                    let attrs = [
                        Attr::ints("kernel_shape", &[3, 3]),
                        Attr::ints("pads", &[1, 1, 1, 1]),
                        Attr::ints("strides", &[1, 1]),
                    ];
                    let y = g.op("Conv", &[x, &w, &b], &attrs);
                    let y = g.op("Relu", &[&y], &[]);
                    g.op("MaxPool", &[&y], &[Attr::ints("kernel_shape", &[2, 2]), Attr::ints("strides", &[2, 2])])
                };
                let x = conv(&mut g, "X", 1, 1, 16);
                let x = conv(&mut g, &x, 4, 16, 32);
                // NCHW [B, 32, 7, 7] flattens as (c, y, x); lanes flattens NHWC as (y, x, c):
                // the first Linear's columns are permuted to match.
                let shape = g.constant_i64(&[batch as i64, 1568]);
                let x = g.op("Reshape", &[&x, &shape], &[]);
                let w = p("8.weight");
                let mut wp = vec![0.0; w.len()];
                for o in 0..128 {
                    for c in 0..32 {
                        for yx in 0..49 {
                            wp[o * 1568 + c * 49 + yx] = w[o * 1568 + yx * 32 + c];
                        }
                    }
                }
                let x = dense(&mut g, &x, &wp, p("8.bias"), 1568);
                let x = g.op("Relu", &[&x], &[]);
                dense(&mut g, &x, p("11.weight"), p("11.bias"), 128)
            }
        };
        g.finish(&self.ort_input(batch), &y, &[batch, 10])
    }
}

/// Pause after an ORT sample at more than one thread: its idle workers spin.
fn pause_after(name: &str, threads: usize) -> Duration {
    if name == "onnxruntime" && threads > 1 {
        Duration::from_millis(120)
    } else {
        Duration::ZERO
    }
}

/// What one case is: its name, batch, input and output width.
struct Case {
    name: String,
    batch: usize,
    inputs: usize,
    outputs: usize,
}

/// Verifies every implementation against lanes (`error` of its output against lanes', at most
/// `tolerance`), then times them interleaved. `run(i, out)` is one call of implementation `i`
/// (0 = lanes) writing `batch x outputs` values.
fn verify_and_time(
    case: &Case,
    names: &[String],
    threads: usize,
    budget: Budget,
    mut run: impl FnMut(usize, &mut [f32]) -> Result<(), String>,
    error: impl Fn(&[f32], &[f32]) -> f64,
    tolerance: f64,
) -> Result<(Vec<Measurement>, Vec<f32>), String> {
    let len = case.batch * case.outputs;
    let mut reference = vec![0.0f32; len];
    run(0, &mut reference)?;
    let mut out = vec![0.0f32; len];
    let mut errors = Vec::new();
    for (i, name) in names.iter().enumerate() {
        out.fill(f32::NAN);
        run(i, &mut out)?;
        let err = error(&out, &reference);
        if err.is_nan() || err > tolerance {
            return Err(format!(
                "{name} disagrees with lanes on {}: error {err:.2e} (limit {tolerance:.0e})",
                case.name
            ));
        }
        errors.push(err);
    }
    let (plans, times) = measure::interleaved(
        names.len(),
        budget,
        |i| run(i, &mut out).expect("verified above"),
        |i| pause_after(&names[i], threads),
    );
    let isa = Gemm::new().isa().map(|i| i.name().to_string()).unwrap_or_default();
    let ms = names
        .iter()
        .enumerate()
        .map(|(i, name)| Measurement {
            suite: "models".into(),
            case: case.name.clone(),
            m: case.batch,
            n: case.inputs,
            k: case.outputs,
            impl_name: name.clone(),
            isa: if i == 0 { isa.clone() } else { "native".into() },
            threads,
            rel_err: errors[i],
            // `gflops` = items/s: `work` is counted in units of 1e-9 items.
            ..Measurement::timed(case.batch as f64 * 1e9, &times[i], plans[i].iters)
        })
        .collect();
    Ok((ms, reference))
}

/// 1 - the smallest cosine similarity (in f64) of corresponding rows of width `dim`; infinite
/// when a value is not finite.
fn cosine_gap(got: &[f32], want: &[f32], dim: usize) -> f64 {
    got.chunks_exact(dim)
        .zip(want.chunks_exact(dim))
        .map(|(a, b)| {
            if a.iter().chain(b).any(|v| !v.is_finite()) {
                return f64::INFINITY;
            }
            let dot: f64 = a.iter().zip(b).map(|(&x, &y)| x as f64 * y as f64).sum();
            let norm = |v: &[f32]| v.iter().map(|&x| x as f64 * x as f64).sum::<f64>().sqrt();
            let (na, nb) = (norm(a), norm(b));
            if na == 0.0 || nb == 0.0 {
                return if na == nb { 0.0 } else { 1.0 };
            }
            (1.0 - dot / (na * nb)).max(0.0)
        })
        .fold(0.0, f64::max)
}

fn log(threads: usize, case: &str, started: std::time::Instant, ms: &[Measurement]) {
    let summary: Vec<String> = ms.iter().map(|m| format!("{} {:.1}", m.impl_name, m.gflops)).collect();
    eprintln!(
        "[{threads}t] models {case:<18} {:>5.1}s  items/s: {}",
        started.elapsed().as_secs_f64(),
        summary.join(", ")
    );
}

/// One MNIST network at one batch size: lanes (and ORT when available), verified and timed.
pub fn mnist_case(kind: Mnist, batch: usize, threads: usize, budget: Budget) -> Result<Vec<Measurement>, String> {
    let started = std::time::Instant::now();
    let (net, params) = kind.network()?;
    let net = RefCell::new(net);
    let x = Rng::new(23).vec(batch * 784).iter().map(|v| 0.5 + 0.5 * v).collect::<Vec<f32>>();
    let input = Tensor::new(&[batch, 784], x.clone()).map_err(|e| e.to_string())?;
    #[cfg_attr(not(feature = "onnxruntime"), allow(unused_mut))] // ORT is pushed on
    let mut names = vec!["lanes".to_string()];
    #[cfg(feature = "onnxruntime")]
    let ort = match crate::onnxruntime::init() {
        Ok(()) => {
            names.push("onnxruntime".into());
            Some(RefCell::new(crate::onnxruntime::OrtModel::new(&kind.onnx(&params, batch), threads)?))
        }
        Err(why) => {
            eprintln!("[{threads}t] models {}: onnxruntime skipped: {why}", kind.name());
            None
        }
    };
    #[cfg(not(feature = "onnxruntime"))]
    let _ = &params;
    let case = Case { name: format!("{} b{batch}", kind.name()), batch, inputs: 784, outputs: 10 };
    let dims = kind.ort_input(batch);
    let _ = &dims;
    let run = |i: usize, out: &mut [f32]| -> Result<(), String> {
        match names[i].as_str() {
            "lanes" => {
                let y = net.borrow_mut().forward(&input, false).map_err(|e| e.to_string())?;
                out.copy_from_slice(y.data());
                Ok(())
            }
            #[cfg(feature = "onnxruntime")]
            "onnxruntime" => ort.as_ref().expect("present").borrow_mut().run(&dims, &x, out),
            other => unreachable!("no implementation {other}"),
        }
    };
    let (ms, _) = verify_and_time(&case, &names, threads, budget, run, normwise_error, MNIST_TOLERANCE)?;
    log(threads, &case.name, started, &ms);
    Ok(ms)
}

/// The workspace's Python (`.venv/bin/python`, scripts/setup.sh) and the NumPy reference.
fn numpy_reference() -> Result<(PathBuf, PathBuf), String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let python = root.join(".venv/bin/python");
    let script = root.join("nn/tools/minilm_reference.py");
    if !python.exists() {
        return Err(format!("{} not found (run scripts/setup.sh)", python.display()));
    }
    Ok((python, script))
}

/// Runs the NumPy reference on `ids` at `threads` BLAS threads for about `seconds` of timed
/// batches: its embeddings and the seconds of each timed batch.
fn numpy_bench(ids: &[Vec<u32>], threads: usize, seconds: f64) -> Result<(Vec<f32>, Vec<f64>), String> {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let (python, script) = numpy_reference()?;
    let t = threads.to_string();
    let mut child = Command::new(&python)
        .arg(&script)
        .arg(minilm_dir())
        .envs([("OMP_NUM_THREADS", &t), ("OPENBLAS_NUM_THREADS", &t), ("MKL_NUM_THREADS", &t)])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", python.display()))?;
    let min_batches = if seconds >= 0.5 { NUMPY_MIN_BATCHES } else { 1 };
    let bench = serde_json::json!({ "batch": ids.len(), "seconds": seconds, "min_batches": min_batches });
    let request = serde_json::json!({ "ids": ids, "bench": bench });
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(request.to_string().as_bytes())
        .map_err(|e| format!("writing to the NumPy reference: {e}"))?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        return Err(format!(
            "the NumPy reference failed ({}): {}",
            out.status,
            err.trim().lines().last().unwrap_or("")
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| format!("NumPy reference: {e}"))?;
    let emb: Vec<Vec<f64>> = serde_json::from_value(v["embeddings"].clone()).map_err(|e| e.to_string())?;
    let times: Vec<f64> = serde_json::from_value(v["bench"]["batch_seconds"].clone())
        .map_err(|e| format!("NumPy reference without bench.batch_seconds: {e}"))?;
    Ok((emb.into_iter().flatten().map(|x| x as f32).collect(), times))
}

/// all-MiniLM-L6-v2 at each of `batches` (at most 32): lanes and ORT interleaved, then NumPy.
/// Skipped with a message when the model is not in data/minilm.
pub fn minilm(
    threads: usize,
    budget: Budget,
    batches: &[usize],
    emit: &mut impl FnMut(&[Measurement]),
) -> Result<(), String> {
    let dir = minilm_dir();
    let mut embedder = match SentenceEmbedder::load(&dir) {
        Ok(e) => e,
        Err(why) => {
            eprintln!("[{threads}t] models: minilm skipped: {why}");
            return Ok(());
        }
    };
    let dim = embedder.dim();
    #[cfg(feature = "onnxruntime")]
    let ort_inputs = match crate::onnxruntime::init() {
        Ok(()) => {
            let read =
                |name: &str| std::fs::read(dir.join(name)).map_err(|e| format!("{}: {e}", dir.join(name).display()));
            let config =
                BertConfig::from_json(&String::from_utf8_lossy(&read("config.json")?)).map_err(|e| e.to_string())?;
            Some((config, read("model.safetensors")?))
        }
        Err(why) => {
            eprintln!("[{threads}t] models minilm: onnxruntime skipped: {why}");
            None
        }
    };
    let numpy = numpy_reference();
    if let Err(why) = &numpy {
        eprintln!("[{threads}t] models minilm: numpy skipped: {why}");
    }
    let all = minilm_sequences(embedder.tokenizer(), batches.iter().copied().max().unwrap_or(1), SEQ)?;
    for &batch in batches {
        let started = std::time::Instant::now();
        let seqs = &all[..batch];
        let case = Case { name: format!("minilm b{batch} {SEQ}tok"), batch, inputs: SEQ, outputs: dim };
        #[cfg_attr(not(feature = "onnxruntime"), allow(unused_mut))] // ORT is pushed on
        let mut names = vec!["lanes".to_string()];
        #[cfg(feature = "onnxruntime")]
        let ort = match &ort_inputs {
            Some((config, weights)) => {
                names.push("onnxruntime".into());
                let model = bert_onnx(config, weights, batch, SEQ)?;
                Some(RefCell::new(crate::onnxruntime::OrtModel::new(&model, threads)?))
            }
            None => None,
        };
        let x: Vec<f32> = seqs.iter().flatten().map(|&id| id as f32).collect();
        let _ = &x;
        let embedder = RefCell::new(&mut embedder);
        let run = |i: usize, out: &mut [f32]| -> Result<(), String> {
            match names[i].as_str() {
                "lanes" => {
                    let y = embedder.borrow_mut().embed_ids(seqs).map_err(|e| e.to_string())?;
                    out.copy_from_slice(y.data());
                    Ok(())
                }
                #[cfg(feature = "onnxruntime")]
                "onnxruntime" => ort.as_ref().expect("present").borrow_mut().run(&[batch, SEQ], &x, out),
                other => unreachable!("no implementation {other}"),
            }
        };
        let gap = |a: &[f32], b: &[f32]| cosine_gap(a, b, dim);
        let (mut ms, reference) = verify_and_time(&case, &names, threads, budget, run, gap, COSINE_SLACK)?;
        #[cfg(feature = "onnxruntime")]
        drop(ort);
        if numpy.is_ok() {
            // ORT's workers may still spin for a moment; then NumPy in its own process.
            std::thread::sleep(Duration::from_millis(120));
            match numpy_bench(seqs, threads, budget.per_impl.as_secs_f64()) {
                Ok((emb, times)) => {
                    let err = cosine_gap(&emb, &reference, dim);
                    if err.is_nan() || err > COSINE_SLACK {
                        return Err(format!("numpy disagrees with lanes on {}: error {err:.2e}", case.name));
                    }
                    let lanes = &ms[0];
                    ms.push(Measurement {
                        impl_name: "numpy".into(),
                        isa: "native".into(),
                        rel_err: err,
                        suite: lanes.suite.clone(),
                        case: lanes.case.clone(),
                        m: lanes.m,
                        n: lanes.n,
                        k: lanes.k,
                        threads,
                        // Timed in another process after the others: no paired ratio.
                        round_s: Vec::new(),
                        ..Measurement::timed(batch as f64 * 1e9, &times, 1)
                    });
                }
                Err(why) => eprintln!("[{threads}t] models {}: numpy skipped: {why}", case.name),
            }
        }
        log(threads, &case.name, started, &ms);
        emit(&ms);
    }
    Ok(())
}

/// Every model at every batch size at `threads` threads (inside a rayon pool of that size).
pub fn run(threads: usize, budget: Budget, mut emit: impl FnMut(&[Measurement])) -> Result<(), String> {
    minilm(threads, budget, &BATCHES, &mut emit)?;
    for kind in [Mnist::Mlp, Mnist::Cnn] {
        for batch in BATCHES {
            emit(&mnist_case(kind, batch, threads, budget)?);
        }
    }
    Ok(())
}

/// The report section: items/s per case and lanes' ratio to ONNX Runtime and to NumPy.
pub fn render(ms: &[Measurement], threads: &[usize]) -> String {
    format!(
        "\n## Models: end-to-end inference, items/s\n\n\
         Sentences/s (all-MiniLM-L6-v2, {SEQ} tokens per sentence, no padding) or images/s (MNIST) = batch / median time \
         per call (in models.jsonl this number is in the `gflops` field). lanes runs lanes-nn (`SentenceEmbedder::embed_ids`, \
         `Sequential::forward`); ONNX Runtime the same network as an ONNX graph with the same weights; NumPy the reference \
         nn/tools/minilm_reference.py, timed in its own process right after the other two (so its ratio is not paired).\n"
    ) + &crate::report::suite_tables(
        ms,
        threads,
        "case",
        &["lanes", "onnxruntime", "numpy"],
        &["onnxruntime", "numpy"],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny_budget() -> Budget {
        Budget { per_impl: Duration::from_millis(5), ..Budget::QUICK }
    }

    #[test]
    fn the_mnist_networks_agree_with_their_onnx_graphs() {
        for kind in [Mnist::Mlp, Mnist::Cnn] {
            let ms = mnist_case(kind, 3, 1, tiny_budget()).unwrap();
            assert_eq!(ms[0].impl_name, "lanes");
            assert!(ms.iter().all(|m| m.suite == "models" && m.gflops > 0.0 && m.rel_err <= MNIST_TOLERANCE), "{ms:?}");
            #[cfg(feature = "onnxruntime")]
            if crate::onnxruntime::init().is_ok() {
                assert!(ms.iter().any(|m| m.impl_name == "onnxruntime"));
            }
        }
    }

    /// The real model when scripts/setup.sh has put it in data/minilm: lanes, ORT's graph and
    /// the NumPy reference agree on two sequences (the suite's own verification).
    #[test]
    fn minilm_agrees_with_onnxruntime_and_numpy() {
        if !minilm_dir().join("model.safetensors").exists() {
            eprintln!("skipped: no all-MiniLM-L6-v2 in {}", minilm_dir().display());
            return;
        }
        let mut got = Vec::new();
        minilm(1, tiny_budget(), &[2], &mut |ms: &[Measurement]| got.extend_from_slice(ms)).unwrap();
        assert_eq!(got[0].case, "minilm b2 16tok");
        assert!(got.iter().all(|m| m.rel_err <= COSINE_SLACK && m.gflops > 0.0), "{got:?}");
        if numpy_reference().is_ok() {
            assert!(got.iter().any(|m| m.impl_name == "numpy"), "{got:?}");
        }
    }

    #[test]
    fn sequences_have_exactly_seq_real_tokens() {
        let vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nthe\nquick\nbrown\nfox\n";
        let tok = WordPiece::from_vocab(vocab, 256).unwrap();
        let seqs = minilm_sequences(&tok, 32, SEQ).unwrap();
        assert_eq!(seqs.len(), 32);
        for s in &seqs {
            assert_eq!(s.len(), SEQ);
            assert_eq!((s[0], s[SEQ - 1]), (2, 3));
            assert!(s[1..SEQ - 1].iter().all(|&id| id != 0 && id != 2 && id != 3));
        }
    }

    /// A BERT of a tiny configuration with random weights: the ONNX graph ORT runs gives the
    /// embeddings lanes-nn's `SentenceEmbedder` gives.
    #[cfg(feature = "onnxruntime")]
    #[test]
    fn a_tiny_bert_graph_agrees_with_lanes() {
        use safetensors::tensor::TensorView;
        if let Err(why) = crate::onnxruntime::init() {
            eprintln!("skipped: {why}");
            return;
        }
        let (vocab, h, ff, layers, max_pos) = (12usize, 8usize, 16usize, 2usize, 10usize);
        let config_json = serde_json::json!({
            "model_type": "bert", "hidden_act": "gelu", "vocab_size": vocab, "hidden_size": h,
            "num_hidden_layers": layers, "num_attention_heads": 2, "intermediate_size": ff,
            "max_position_embeddings": max_pos, "type_vocab_size": 2, "layer_norm_eps": 1e-12
        })
        .to_string();
        let vocab_txt: String =
            ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "a", "b", "c", "d", "e", "f", "g", "h"].join("\n") + "\n";
        let shapes = lanes_nn::bert::BertConfig::from_json(&config_json).unwrap().tensor_shapes();
        let mut rng = Rng::new(5);
        let data: Vec<Vec<u8>> = shapes
            .iter()
            .map(|(name, s)| {
                let n = s.iter().product();
                let v: Vec<f32> = if name.ends_with("LayerNorm.weight") {
                    rng.vec(n).iter().map(|x| 1.0 + 0.2 * x).collect()
                } else {
                    rng.vec(n)
                };
                v.iter().flat_map(|x| x.to_le_bytes()).collect()
            })
            .collect();
        let views: Vec<(String, TensorView<'_>)> = shapes
            .iter()
            .zip(&data)
            .map(|((name, s), d)| (name.clone(), TensorView::new(Dtype::F32, s.clone(), d).unwrap()))
            .collect();
        let weights = safetensors::serialize(views, None).unwrap();
        let mut lanes = SentenceEmbedder::from_bytes(&config_json, &vocab_txt, &weights).unwrap();
        let config = BertConfig::from_json(&config_json).unwrap();
        let (batch, seq) = (3, 7);
        let ids: Vec<Vec<u32>> = (0..batch)
            .map(|b| {
                (0..seq)
                    .map(|t| {
                        if t == 0 {
                            2
                        } else if t == seq - 1 {
                            3
                        } else {
                            4 + ((b * 5 + t * 3) % 8) as u32
                        }
                    })
                    .collect()
            })
            .collect();
        let want = lanes.embed_ids(&ids).unwrap();
        let model = bert_onnx(&config, &weights, batch, seq).unwrap();
        let mut ort = crate::onnxruntime::OrtModel::new(&model, 1).unwrap();
        let x: Vec<f32> = ids.iter().flatten().map(|&i| i as f32).collect();
        let mut got = vec![0.0; batch * h];
        ort.run(&[batch, seq], &x, &mut got).unwrap();
        let gap = cosine_gap(&got, want.data(), h);
        assert!(gap < 1e-5, "1 - cosine = {gap:.2e}\nort   {got:?}\nlanes {:?}", want.data());
        assert!(normwise_error(&got, want.data()) < 1e-4);
    }
}
