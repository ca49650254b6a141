//! The JS bindings' Rust layer on wasm: results through `sgemm` / `GemmPlan`, and every kind of
//! bad argument a JS caller can pass (wrong lengths, negative / fractional / NaN / huge
//! dimensions, unknown or unavailable ISA, threads in a build without them) is an error with a
//! message, both as `ApiError` and as the JS `Error` the exported functions throw.
#![cfg(target_arch = "wasm32")]

use lanes_kernels::{Epilogue, MatRef};
use lanes_testkit::{assert_close, Rng};
use lanes_web::api::{self, Dims, Plan, MAX_ELEMENTS};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::wasm_bindgen_test;

/// Every element within the test kit's bound for a row-major `m x n x k` product.
fn assert_product(got: &[f32], a: &[f32], b: &[f32], (m, n, k): (usize, usize, usize)) {
    let (av, bv) = (MatRef::row_major(a, m, k).unwrap(), MatRef::row_major(b, k, n).unwrap());
    let zero = vec![0.0; m * n];
    let c0 = MatRef::row_major(&zero, m, n).unwrap();
    let got = MatRef::row_major(got, m, n).unwrap();
    assert_close("lanes-web", 1.0, av, bv, 0.0, c0, got, &Epilogue::NONE, 0.0);
}

fn js_message(e: wasm_bindgen::JsError) -> String {
    let v: JsValue = e.into();
    let err: js_sys::Error = v.into();
    assert_eq!(String::from(err.name()), "Error");
    String::from(err.message())
}

#[wasm_bindgen_test]
fn sgemm_and_plans_compute_the_product() {
    for (m, n, k) in [(3, 5, 7), (17, 33, 65), (1, 100, 40), (0, 4, 4), (4, 4, 0)] {
        let mut r = Rng::new(1);
        let (a, b) = (r.vec(m * k), r.vec(k * n));
        let mut c = vec![f32::NAN; m * n];
        api::sgemm(m as f64, n as f64, k as f64, 1.0, &a, &b, 0.0, &mut c, None).unwrap();
        if k == 0 {
            assert!(c.iter().all(|&x| x == 0.0));
        } else {
            assert_product(&c, &a, &b, (m, n, k));
        }
        for isa in lanes_kernels::Isa::available() {
            let mut plan = Plan::new(m as f64, n as f64, k as f64, Some(isa.name())).unwrap();
            plan.set_a(&a).unwrap();
            plan.set_b(&b).unwrap();
            for packed in [true, false] {
                plan.run(packed, false).unwrap();
                assert_product(plan.c(), &a, &b, (m, n, k));
            }
        }
    }
}

#[wasm_bindgen_test]
fn bad_dimensions_are_errors_with_messages() {
    for (v, needle) in [
        (-1.0, "got -1"),
        (1.5, "got 1.5"),
        (f64::NAN, "got NaN"),
        (f64::INFINITY, "got inf"),
        (1e12, "got 1000000000000"),
    ] {
        let e = Dims::new(v, 2.0, 2.0).unwrap_err();
        assert!(e.0.contains("m must be an integer") && e.0.contains(needle), "{e}");
    }
    let e = Dims::new(2.0, 2.0, -3.0).unwrap_err();
    assert!(e.0.contains("k must be"), "{e}");
    // Each dimension fits but the product does not.
    let big = (MAX_ELEMENTS / 2) as f64;
    let e = Dims::new(big, big, 1.0).unwrap_err();
    assert!(e.0.contains("C (") && e.0.contains("larger than"), "{e}");
    let e = Plan::new(big, 4.0, big, None).err().unwrap();
    assert!(e.0.contains("A ("), "{e}");
}

#[wasm_bindgen_test]
fn wrong_lengths_are_errors_with_messages() {
    let (a, b) = (vec![0.0; 6], vec![0.0; 12]);
    let mut c = vec![0.0; 8];
    let e = api::sgemm(2.0, 4.0, 3.0, 1.0, &a[..5], &b, 0.0, &mut c, None).unwrap_err();
    assert_eq!(e.0, "lanes: A has length 5, expected 2x3 = 6 (row-major)");
    let e = api::sgemm(2.0, 4.0, 3.0, 1.0, &a, &b[..11], 0.0, &mut c, None).unwrap_err();
    assert!(e.0.contains("B has length 11, expected 3x4 = 12"), "{e}");
    let e = api::sgemm(2.0, 4.0, 3.0, 1.0, &a, &b, 0.0, &mut c[..7], None).unwrap_err();
    assert!(e.0.contains("C has length 7, expected 2x4 = 8"), "{e}");
    // Swapped dimensions are caught by the lengths too.
    let e = api::sgemm(4.0, 2.0, 3.0, 1.0, &a, &b, 0.0, &mut c, None).unwrap_err();
    assert!(e.0.contains("A has length 6, expected 4x3 = 12"), "{e}");
    // C untouched on error.
    assert!(c.iter().all(|&x| x == 0.0));

    let mut plan = Plan::new(2.0, 4.0, 3.0, None).unwrap();
    assert!(plan.set_a(&a[..4]).unwrap_err().0.contains("A has length 4"));
    assert!(plan.set_b(&b[..3]).unwrap_err().0.contains("B has length 3"));
    assert!(plan.run(true, false).unwrap_err().0.contains("before setB"));
}

#[wasm_bindgen_test]
fn isa_and_threads_errors() {
    let e = api::parse_isa(Some("avx2")).unwrap_err();
    assert!(e.0.contains("ISA avx2 is not available"), "{e}");
    let e = api::parse_isa(Some("sse9")).unwrap_err();
    assert!(e.0.contains("unknown ISA"), "{e}");
    assert_eq!(api::parse_isa(Some("auto")).unwrap(), lanes_kernels::Isa::best());
    assert_eq!(api::parse_isa(Some("scalar")).unwrap(), lanes_kernels::Isa::Scalar);
    let mut plan = Plan::new(2.0, 2.0, 2.0, None).unwrap();
    plan.set_b(&[1.0, 0.0, 0.0, 1.0]).unwrap();
    let e = plan.run(true, true).unwrap_err();
    assert!(e.0.contains("threads"), "{e}");
    assert!(api::set_pool_threads(2).is_err());
}

#[wasm_bindgen_test]
fn exported_functions_throw_js_errors() {
    let (a, b) = (vec![1.0; 4], vec![1.0; 4]);
    let mut c = vec![0.0; 4];
    let msg = js_message(lanes_web::sgemm(2.0, 2.0, 2.0, 1.0, &a[..3], &b, 0.0, &mut c, None).unwrap_err());
    assert_eq!(msg, "lanes: A has length 3, expected 2x2 = 4 (row-major)");
    let msg = js_message(lanes_web::sgemm(-2.0, 2.0, 2.0, 1.0, &a, &b, 0.0, &mut c, None).unwrap_err());
    assert!(msg.contains("m must be an integer"), "{msg}");
    let msg = js_message(lanes_web::sgemm(2.0, 2.0, 2.0, 1.0, &a, &b, 0.0, &mut c, Some("bogus".into())).unwrap_err());
    assert!(msg.contains("unknown ISA"), "{msg}");
    let msg = js_message(lanes_web::GemmPlan::new(f64::NAN, 1.0, 1.0, None).err().unwrap());
    assert!(msg.contains("got NaN"), "{msg}");
    let msg = js_message(lanes_web::pool_started(2.0).unwrap_err());
    assert!(msg.contains("not the threads build"), "{msg}");
    lanes_web::sgemm(2.0, 2.0, 2.0, 1.0, &a, &b, 0.0, &mut c, Some("auto".into())).unwrap();
    assert_eq!(c, [2.0; 4]);
    // buildInfo() is a plain JS object with the fields of BuildInfo (poolThreads in camelCase).
    let want = lanes_web::BuildInfo::current();
    assert_eq!(want.variant, lanes_web::variant());
    let info = lanes_web::build_info().unwrap();
    assert!(info.is_object() && !info.is_instance_of::<js_sys::Map>(), "{info:?}");
    let field = |name: &str| js_sys::Reflect::get(&info, &JsValue::from_str(name)).unwrap();
    assert_eq!(field("variant").as_string().as_deref(), Some(lanes_web::variant()));
    assert_eq!(field("kernel").as_string(), Some(want.kernel));
    assert_eq!(field("best").as_string(), Some(want.best));
    assert_eq!(field("threads").as_bool(), Some(false));
    assert_eq!(field("poolThreads").as_f64(), Some(1.0));
    let isas: Vec<String> = js_sys::Array::from(&field("isas")).iter().filter_map(|v| v.as_string()).collect();
    assert_eq!(isas, want.isas);
}

#[wasm_bindgen_test]
fn conv_and_element_wise_bindings_compute_and_throw() {
    use lanes_kernels::ops::conv::{Conv2dParams, Padding};
    use lanes_kernels::Activation;
    let spec = js_sys::JSON::parse(
        r#"{"inChannels": 3, "outChannels": 5, "kernel": [3, 3], "stride": [2, 1], "padding": "same"}"#,
    )
    .unwrap();
    let mut r = Rng::new(3);
    let filter = r.vec(5 * 3 * 9);
    let bias = r.vec(5);
    let input = r.vec(2 * 7 * 6 * 3);
    let mut layer = lanes_web::Conv2dLayer::new(spec, &filter, Some(bias.clone()), Some("relu".into()), None).unwrap();
    assert_eq!(layer.output_shape(2.0, 7.0, 6.0).unwrap(), vec![2, 4, 6, 5]);
    let out = layer.run(&input, 2.0, 7.0, 6.0).unwrap();
    let g = Conv2dParams::new(3, 5, (3, 3)).stride(2, 1).padding(Padding::Same).geometry(2, 7, 6).unwrap();
    let (want, mag) = lanes_testkit::conv2d_reference(&g, &input, &filter, Some(&bias), None, Activation::Relu);
    for (i, ((&o, &w), &m)) in out.iter().zip(&want).zip(&mag).enumerate() {
        assert!((o - w).abs() <= 1e-5 * (m + 1.0), "conv output {i}: got {o}, want {w}");
    }
    let bad = js_sys::JSON::parse(r#"{"inChannels": 3, "outChannels": 5, "kernel": [0, 3]}"#).unwrap();
    let msg = js_message(lanes_web::Conv2dLayer::new(bad, &filter, None, None, None).err().unwrap());
    assert!(msg.contains("kernel height"), "{msg}");
    let msg = js_message(layer.run(&input[1..], 2.0, 7.0, 6.0).err().unwrap());
    assert!(msg.contains("input"), "{msg}");
    // The resident input (what the benchmark page times): the same output; no pool here.
    assert!(js_message(layer.forward(None).err().unwrap()).contains("before setInput"));
    layer.set_input(&input, 2.0, 7.0, 6.0).unwrap();
    layer.forward(None).unwrap();
    assert_eq!(layer.output().to_vec(), out);
    let dst = js_sys::Float32Array::new_with_length(out.len() as u32);
    layer.output_into(&dst).unwrap();
    assert_eq!(dst.to_vec(), out);
    let short = js_sys::Float32Array::new_with_length(3);
    assert!(js_message(layer.output_into(&short).err().unwrap()).contains("destination has length 3"));
    assert!(!layer.last_parallel());
    assert!(js_message(layer.forward(Some(true)).err().unwrap()).contains("no threads"));
    assert!(js_message(layer.set_input(&input[1..], 2.0, 7.0, 6.0).err().unwrap()).contains("input has length"));
    let x = r.vec(3 * 8);
    let mut plan = lanes_web::EltwisePlan::new("softmax", 3.0, 8.0, None, None, None, None).unwrap();
    plan.set_input(&x).unwrap();
    plan.run().unwrap();
    assert_eq!(plan.result().to_vec(), lanes_web::softmax(&x, 3.0, 8.0, None).unwrap());
    let dst = js_sys::Float32Array::new_with_length(24);
    plan.result_into(&dst).unwrap();
    assert_eq!(dst.to_vec(), plan.result().to_vec());
    let msg = js_message(
        lanes_web::EltwisePlan::new("layerNorm", 3.0, 8.0, Some(vec![1.0; 8]), None, None, None).err().unwrap(),
    );
    assert!(msg.contains("needs beta"), "{msg}");
    // Element-wise ops: values and thrown errors.
    let s = lanes_web::softmax(&[0.0, 0.0, 1.0, 1.0], 2.0, 2.0, None).unwrap();
    assert_eq!(s, vec![0.5; 4]);
    assert_eq!(lanes_web::unary("relu", &[-2.0, 3.0], None).unwrap(), vec![0.0, 3.0]);
    assert!(js_message(lanes_web::unary("swish", &[1.0], None).err().unwrap()).contains("unary op"));
    assert!(js_message(lanes_web::layer_norm(&[1.0; 3], 1.0, 2.0, &[1.0; 2], &[0.0; 2], 1e-5, None).err().unwrap())
        .contains("rows x cols"));
}

/// The row ops and the sentence model the earlier tests do not reach: values, and the JS
/// errors they throw on bad input.
#[wasm_bindgen_test]
fn row_ops_and_the_sentence_model_throw_js_errors() {
    // logSoftmax: log of softmax, row by row; a wrong length throws.
    let x = [0.0f32, 0.0, 1.0, 3.0];
    let got = lanes_web::log_softmax(&x, 2.0, 2.0, None).unwrap();
    let want = [-(2.0f32.ln()), -(2.0f32.ln()), -(1.0 + 2f32.exp()).ln(), 2.0 - (1.0 + 2f32.exp()).ln()];
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() <= 1e-6, "logSoftmax {got:?} vs {want:?}");
    }
    let msg = js_message(lanes_web::log_softmax(&x[..3], 2.0, 2.0, None).unwrap_err());
    assert!(msg.contains("x has length 3, expected rows x cols = 2 x 2"), "{msg}");
    // rmsNorm: x / rms(x) * gamma; gamma of the wrong length and a negative eps throw.
    let got = lanes_web::rms_norm(&[3.0, 4.0], 1.0, 2.0, &[1.0, 2.0], 0.0, None).unwrap();
    let rms = (12.5f32).sqrt();
    assert!((got[0] - 3.0 / rms).abs() <= 1e-6 && (got[1] - 8.0 / rms).abs() <= 1e-6, "{got:?}");
    let msg = js_message(lanes_web::rms_norm(&[3.0, 4.0], 1.0, 2.0, &[1.0], 0.0, None).unwrap_err());
    assert!(msg.contains("has length 1, expected 2"), "{msg}");
    assert!(lanes_web::rms_norm(&[3.0, 4.0], 1.0, 2.0, &[1.0, 1.0], -1.0, None).is_err());
    // binary: add / mul, with a broadcast row; an unknown op and a wrong length throw.
    assert_eq!(
        lanes_web::binary("add", &[1.0, 2.0, 3.0, 4.0], &[10.0, 20.0], 2.0, 2.0, None).unwrap(),
        [11.0, 22.0, 13.0, 24.0]
    );
    assert_eq!(lanes_web::binary("mul", &[1.0, 2.0], &[3.0, 4.0], 1.0, 2.0, None).unwrap(), [3.0, 8.0]);
    let msg = js_message(lanes_web::binary("sub", &[1.0], &[1.0], 1.0, 1.0, None).unwrap_err());
    assert!(msg.contains("binary op \"sub\""), "{msg}");
    let msg = js_message(lanes_web::binary("add", &[1.0; 4], &[1.0; 3], 2.0, 2.0, None).unwrap_err());
    assert!(msg.contains("y has length 3"), "{msg}");
    // SentenceModel: a broken config, a vocabulary without its special tokens, and weights
    // that are not a safetensors file all throw (the loader itself is fuzzed natively:
    // fuzz/fuzz_targets/sentence_load.rs).
    let config = r#"{"model_type": "bert", "vocab_size": 5, "hidden_size": 4, "num_hidden_layers": 1,
        "num_attention_heads": 2, "intermediate_size": 8, "max_position_embeddings": 8,
        "type_vocab_size": 1, "layer_norm_eps": 1e-12}"#;
    let vocab = "[PAD]\n[UNK]\n[CLS]\n[SEP]\nhello";
    let msg = js_message(lanes_web::SentenceModel::new("{", vocab, &[]).err().unwrap());
    assert!(msg.contains("config.json"), "{msg}");
    let msg = js_message(lanes_web::SentenceModel::new(config, "hello", &[]).err().unwrap());
    assert!(msg.contains("special token"), "{msg}");
    let msg = js_message(lanes_web::SentenceModel::new(config, vocab, &[1, 2, 3]).err().unwrap());
    assert!(msg.contains("safetensors"), "{msg}");
    let huge = config.replace("\"hidden_size\": 4", "\"hidden_size\": 1048576");
    let msg = js_message(lanes_web::SentenceModel::new(&huge, vocab, &[1, 2, 3]).err().unwrap());
    assert!(msg.contains("safetensors"), "{msg}");
}

/// Requests too large for wasm's 4 GiB of memory are thrown JS errors, not traps, and the
/// module keeps working after them.
#[wasm_bindgen_test]
fn requests_too_large_for_wasm_memory_throw_and_the_module_keeps_working() {
    // A convolution with more than 4 input channels is a GEMM whose A is read through an
    // offset table of one entry per output pixel and tap: a 1 x 16384 kernel over a 1 x 65536
    // image ("same" padding: 65536 output pixels) needs 2^30 of them (4 GiB), though the filter
    // is 640 KiB and the image 1.25 MiB. (With at most 4 channels the direct kernel needs no
    // such table.)
    let spec =
        js_sys::JSON::parse(r#"{"inChannels": 5, "outChannels": 2, "kernel": [1, 16384], "padding": "same"}"#).unwrap();
    let layer = lanes_web::Conv2dLayer::new(spec, &vec![0.5; 5 * 2 * 16384], None, None, None).unwrap();
    let msg = js_message(layer.run(&vec![1.0; 5 * 65536], 1.0, 1.0, 65536.0).err().unwrap());
    assert_eq!(msg, "lanes: indirection buffer (pixels x taps) of 65536x16384 elements does not fit in memory");
    drop(layer);

    // A GEMM plan whose packed B (64 MiB) no longer fits: the rest of the 4 GiB is taken by
    // reservations that are never touched (so they cost no real memory), then `setB` packs B.
    let (m, n, k) = (2usize, 4096usize, 4096usize);
    let mut plan = lanes_web::GemmPlan::new(m as f64, n as f64, k as f64, None).unwrap();
    let mut r = Rng::new(5);
    let (a, b) = (r.vec(m * k), r.vec(k * n));
    plan.set_a(&a).unwrap();
    let mut hog: Vec<Vec<u8>> = Vec::with_capacity(256);
    loop {
        let mut v = Vec::new();
        if hog.len() == hog.capacity() || v.try_reserve_exact(32 << 20).is_err() {
            break;
        }
        hog.push(v);
    }
    assert!(hog.len() > 8, "could reserve only {} x 32 MiB", hog.len());
    let err = plan.set_b(&b).err();
    drop(hog);
    let msg = js_message(err.expect("packing 64 MiB with less than 32 MiB free must fail"));
    assert_eq!(msg, format!("lanes: out of memory: could not allocate {} bytes for packed B", k * n * 4));

    // The module keeps working: the same plan once memory is free again, and a fresh sgemm.
    plan.set_b(&b).unwrap();
    plan.run(true, false).unwrap();
    let c = plan.result();
    let (a2, b2) = (MatRef::row_major(&a, m, k).unwrap(), MatRef::row_major(&b, k, n).unwrap());
    let zero = vec![0.0; m * n];
    let got = MatRef::row_major(&c, m, n).unwrap();
    assert_close(
        "plan after the error",
        1.0,
        a2,
        b2,
        0.0,
        MatRef::row_major(&zero, m, n).unwrap(),
        got,
        &Epilogue::NONE,
        0.0,
    );
    let (a, b) = (r.vec(3 * 5), r.vec(5 * 4));
    let mut c = vec![f32::NAN; 12];
    lanes_web::sgemm(3.0, 4.0, 5.0, 1.0, &a, &b, 0.0, &mut c, None).unwrap();
    assert_product(&c, &a, &b, (3, 4, 5));
}

/// Training runs in wasm (the clock, the progress callback into JavaScript, Adam, the conv
/// backward pass): the MLP learns the synthetic digits; the CNN runs an epoch; bad input throws.
#[wasm_bindgen_test]
fn mnist_trainer_learns_in_wasm() {
    use lanes_web::train::synthetic_digits;
    use lanes_web::MnistTrainer;
    let digits = synthetic_digits(50);
    let mut t = MnistTrainer::new("mlp", digits.clone(), 0.0).unwrap();
    assert_eq!((t.train_size(), t.test_size()), (400, 100));
    // A JS function counting its calls in a global.
    let count = js_sys::Function::new_with_args(
        "done, total",
        "globalThis.__lanesBatches = (globalThis.__lanesBatches || 0) + 1;",
    );
    let mut stats = JsValue::NULL;
    for _ in 0..8 {
        stats = t.train_epoch(Some(count.clone())).unwrap();
    }
    let get = |k: &str| js_sys::Reflect::get(&stats, &k.into()).unwrap().as_f64().unwrap();
    let batches = js_sys::Reflect::get(&js_sys::global(), &"__lanesBatches".into()).unwrap().as_f64().unwrap();
    assert_eq!(batches, 56.0, "one callback per batch");
    assert!(get("accuracy") >= 0.9, "accuracy {}", get("accuracy"));
    assert!(get("imagesPerS") > 0.0 && get("epoch") == 8.0 && get("images") == 400.0);
    let p = t.predict(&[0.5; 784]).unwrap();
    assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);

    let mut cnn = MnistTrainer::new("cnn", digits.clone(), 100.0).unwrap();
    let s = cnn.train_epoch(None).unwrap();
    let loss = js_sys::Reflect::get(&s, &"loss".into()).unwrap().as_f64().unwrap();
    assert!(loss.is_finite() && loss > 0.0);

    assert!(js_message(MnistTrainer::new("rnn", digits.clone(), 0.0).err().unwrap()).contains("architecture"));
    assert!(MnistTrainer::new("mlp", digits[..9].to_vec(), 0.0).is_err());
    assert!(MnistTrainer::new("mlp", digits.clone(), -1.0).is_err());
    assert!(js_message(t.predict(&[0.0; 10]).err().unwrap()).contains("784"));
}
