//! Error cases of lanes-nn's public API, function by function, that the other suites do not
//! assert with their variant (docs/safety.md, "Native API: error cases per function", lists
//! every case with the test that covers it, here or elsewhere). No data set is needed: the BERT
//! cases run on a tiny encoder written here.

use lanes_kernels::ops::conv::{Conv2dParams, Padding};
use lanes_kernels::{Activation, KernelError};
use lanes_nn::audio::{fft, parse_wav, read_wav, LogMel};
use lanes_nn::bert::{Bert, BertConfig};
use lanes_nn::conv::{Conv1d, Conv2d, GlobalAvgPool, MaxPool2d, Reshape};
use lanes_nn::data::{keyword_clips, shift_augment, Dataset, InteractionSplit, Mnist, Rating, Standardizer, Tabular};
use lanes_nn::depthwise::DepthwiseConv2d;
use lanes_nn::layers::{Act, Dropout, Layer, Linear};
use lanes_nn::norm::{BatchNorm2d, LayerNorm};
use lanes_nn::sentence::SentenceEmbedder;
use lanes_nn::tokenizer::WordPiece;
use lanes_nn::train::{accuracy, fit_classifier, TrainConfig};
use lanes_nn::transformer::{Embedding, MultiHeadSelfAttention};
use lanes_nn::{io, linalg, loss, metrics, recsys, NnError, Sequential, Tensor};
use std::path::{Path, PathBuf};

fn t(shape: &[usize]) -> Tensor {
    let n = shape.iter().product();
    Tensor::new(shape, (0..n).map(|i| (i % 7) as f32 * 0.25 - 0.5).collect()).unwrap()
}

fn is_shape<T>(r: lanes_nn::Result<T>) -> bool {
    matches!(r, Err(NnError::Shape { .. }))
}

fn is_invalid<T>(r: lanes_nn::Result<T>) -> bool {
    matches!(r, Err(NnError::InvalidArgument(_)))
}

fn is_model_file<T>(r: lanes_nn::Result<T>) -> bool {
    matches!(r, Err(NnError::ModelFile(_)))
}

fn is_data<T>(r: lanes_nn::Result<T>) -> bool {
    matches!(r, Err(NnError::Data(_)))
}

/// A backward pass before any training forward pass, and an output gradient of another shape
/// after one: `InvalidArgument`, then `Shape`.
fn check_backward(layer: &mut dyn Layer, x: &Tensor, bad_grad: &Tensor) {
    let kind = layer.kind();
    assert!(is_invalid(layer.backward(bad_grad)), "{kind}: backward before a training forward");
    layer.forward(x, true).unwrap();
    let e = layer.backward(bad_grad);
    assert!(is_shape(e), "{kind}: gradient of another shape");
}

fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("lanes-nn-errors-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

// ---- Tensor ----

#[test]
fn tensor_constructors_and_shapes() {
    let e = Tensor::new(&[2, 3], vec![0.0; 5]).unwrap_err();
    assert_eq!(e, NnError::Shape { what: "tensor data".into(), expected: vec![2, 3], found: vec![5] });
    assert!(is_shape(Tensor::new(&[usize::MAX, 2], vec![])), "size overflows");
    assert!(is_shape(t(&[2, 3]).reshape(&[4, 2])));
    assert!(is_shape(t(&[2, 3, 1]).dims2("x")));
    assert!(is_shape(t(&[6]).argmax_rows()));
}

// ---- layers: Linear, Act, Dropout ----

#[test]
fn linear_weights_residual_and_gradients() {
    assert!(is_shape(Linear::from_weights(2, 3, vec![0.0; 6], vec![0.0; 2])), "bias of 2 for 3 outputs");
    let mut l = Linear::new(3, 2, 1).unwrap();
    assert!(is_shape(l.forward(&t(&[2, 3, 1]), false)), "3-D input");
    assert!(is_shape(l.forward(&t(&[2, 4]), true)), "4 features into 3 (training)");
    assert!(is_shape(l.infer(&t(&[2, 3]), Activation::Identity, Some(t(&[2, 3])))), "residual of another shape");
    assert!(matches!(
        l.infer(&t(&[2, 3]), Activation::Clamp { min: 1.0, max: 0.0 }, None),
        Err(NnError::Kernel(KernelError::InvalidArgument { .. }))
    ));
    check_backward(&mut l, &t(&[2, 3]), &t(&[2, 3]));
}

#[test]
fn act_and_dropout() {
    let mut bad = Act::new(Activation::Clamp { min: 1.0, max: f32::NAN });
    assert!(matches!(bad.forward(&t(&[2, 2]), false), Err(NnError::Kernel(KernelError::InvalidArgument { .. }))));
    check_backward(&mut Act::relu(), &t(&[2, 2]), &t(&[2, 3]));
    for p in [1.0, -0.1, f32::NAN, f32::INFINITY] {
        assert!(is_invalid(Dropout::new(p, 1)), "p = {p}");
    }
    check_backward(&mut Dropout::new(0.5, 1).unwrap(), &t(&[2, 2]), &t(&[5]));
}

// ---- convolution layers: Conv2d, Conv1d, MaxPool2d, Reshape, GlobalAvgPool ----

#[test]
fn conv2d_layer() {
    let e = Conv2d::new(Conv2dParams::new(2, 3, (3, 3)).stride(0, 1), 1).err().unwrap();
    assert_eq!(e, NnError::Kernel(KernelError::InvalidGeometry { param: "stride height", value: 0 }));
    assert!(is_invalid(Conv2d::new(Conv2dParams::new(4, 4, (3, 3)).groups(2), 1)), "groups 2");
    let mut c = Conv2d::new(Conv2dParams::new(2, 3, (3, 3)), 1).unwrap();
    let e = c.forward(&t(&[1, 2, 2, 2]), false).unwrap_err();
    assert!(matches!(e, NnError::Kernel(KernelError::InvalidGeometry { value: 3, .. })), "{e}");
    check_backward(&mut c, &t(&[1, 4, 4, 2]), &t(&[1, 2, 2, 2]));
}

#[test]
fn conv1d_layer() {
    let pad = Padding::Explicit { top: 0, bottom: 1, left: 0, right: 0 };
    assert!(is_invalid(Conv1d::new(2, 3, 3, 1, 1, pad, 1)));
    let e = Conv1d::new(2, 3, 0, 1, 1, Padding::VALID, 1).err().unwrap();
    assert_eq!(e, NnError::Kernel(KernelError::InvalidGeometry { param: "kernel width", value: 0 }));
    let mut c = Conv1d::new(2, 3, 3, 1, 1, Padding::VALID, 1).unwrap();
    let e = c.forward(&t(&[1, 2, 2]), false).unwrap_err();
    assert!(matches!(e, NnError::Kernel(KernelError::InvalidGeometry { .. })), "2 steps under a 3-tap kernel: {e}");
    check_backward(&mut c, &t(&[1, 5, 2]), &t(&[1, 3, 2]));
}

#[test]
fn max_pool_layer() {
    assert!(is_invalid(MaxPool2d::new(0)));
    assert!(is_invalid(MaxPool2d::rect(2, 0)));
    let mut p = MaxPool2d::new(2).unwrap();
    assert!(is_shape(p.forward(&t(&[1, 4, 4]), false)), "3-D input");
    for train in [false, true] {
        assert!(is_shape(p.forward(&t(&[1, 1, 4, 3]), train)), "1 row under a 2-row window, train {train}");
    }
    check_backward(&mut p, &t(&[1, 4, 4, 3]), &t(&[1, 2, 2, 2]));
}

#[test]
fn reshape_and_global_avg_pool_layers() {
    let mut r = Reshape::new(&[5]);
    assert!(is_shape(r.forward(&t(&[2, 4]), false)));
    assert!(is_invalid(Reshape::new(&[4]).backward(&t(&[2, 4]))), "backward before a forward");
    let mut g = GlobalAvgPool::new();
    assert!(is_shape(g.forward(&t(&[2, 4, 3]), false)), "3-D input");
    let e = g.forward(&Tensor::new(&[1, 0, 3, 2], vec![]).unwrap(), false).unwrap_err();
    assert_eq!(e, NnError::Kernel(KernelError::InvalidGeometry { param: "pixels", value: 0 }));
    let e = g.forward(&Tensor::new(&[1, 3, 3, 0], vec![]).unwrap(), false).unwrap_err();
    assert_eq!(e, NnError::Kernel(KernelError::InvalidGeometry { param: "channels", value: 0 }));
    check_backward(&mut GlobalAvgPool::new(), &t(&[2, 3, 3, 4]), &t(&[2, 3]));
}

// ---- DepthwiseConv2d ----

#[test]
fn depthwise_layer() {
    let e = DepthwiseConv2d::new(0, (3, 3), 1, Padding::Same, 1).err().unwrap();
    assert_eq!(e, NnError::Kernel(KernelError::InvalidGeometry { param: "groups", value: 0 }));
    let e = DepthwiseConv2d::new(3, (3, 0), 1, Padding::Same, 1).err().unwrap();
    assert_eq!(e, NnError::Kernel(KernelError::InvalidGeometry { param: "kernel width", value: 0 }));
    let e = DepthwiseConv2d::new(3, (3, 3), 0, Padding::Same, 1).err().unwrap();
    assert_eq!(e, NnError::Kernel(KernelError::InvalidGeometry { param: "stride height", value: 0 }));
    let mut d = DepthwiseConv2d::new(3, (3, 3), 1, Padding::VALID, 1).unwrap();
    assert!(is_shape(d.forward(&t(&[1, 4, 4, 2]), false)), "2 channels into 3");
    assert!(is_shape(d.forward(&t(&[4, 4, 3]), false)), "3-D input");
    let e = d.forward(&t(&[1, 2, 5, 3]), false).unwrap_err();
    assert!(matches!(e, NnError::Kernel(KernelError::InvalidGeometry { value: 3, .. })), "{e}");
    check_backward(&mut d, &t(&[1, 4, 4, 3]), &t(&[1, 4, 4, 3]));
}

// ---- normalisation: BatchNorm2d, LayerNorm ----

#[test]
fn batch_norm_layer() {
    let mut bn = BatchNorm2d::new(3);
    assert!(is_invalid(bn.forward(&t(&[1, 1, 1, 3]), true)), "one value per channel");
    assert!(is_shape(BatchNorm2d::new(0).forward(&Tensor::new(&[2, 0], vec![]).unwrap(), false)), "no channels");
    check_backward(&mut bn, &t(&[2, 2, 2, 3]), &t(&[2, 2, 3, 3]));
    // Folding into a convolution with another channel count.
    let mut conv = Conv2d::new(Conv2dParams::new(1, 4, (1, 1)), 1).unwrap();
    let e = BatchNorm2d::new(3).fold_into(&mut conv).unwrap_err();
    assert!(matches!(e, NnError::Kernel(KernelError::LengthMismatch { .. })), "{e}");
}

#[test]
fn layer_norm_layer() {
    assert!(is_shape(LayerNorm::from_weights(vec![1.0; 3], vec![0.0; 2], 1e-5)));
    for eps in [-1e-5, f32::NAN, f32::INFINITY] {
        assert!(is_invalid(LayerNorm::new(3, eps)), "eps {eps}");
    }
    let mut ln = LayerNorm::new(3, 1e-5).unwrap();
    for train in [false, true] {
        assert!(is_shape(ln.forward(&t(&[2, 4]), train)), "4 features into 3, train {train}");
        assert!(is_shape(ln.forward(&t(&[2, 3, 1]), train)), "3-D input, train {train}");
    }
    assert!(is_shape(ln.apply_inplace(&mut t(&[2, 2]))));
    check_backward(&mut ln, &t(&[2, 3]), &t(&[3, 3]));
}

// ---- losses ----

#[test]
fn losses_shapes() {
    assert!(is_shape(loss::softmax_cross_entropy(&t(&[6]), &[0])), "1-D logits");
    assert!(is_shape(loss::mse(&t(&[2, 3]), &t(&[3, 2]))));
    assert!(is_shape(loss::binary_cross_entropy_with_logits(&t(&[4, 1]), &t(&[4]))));
}

// ---- model files: io::save, io::load ----

#[test]
fn model_files_that_cannot_be_written_or_read() {
    let mut m = Sequential::new().push(Linear::new(2, 2, 1).unwrap());
    let missing = Path::new("/nonexistent-lanes-dir/model.safetensors");
    assert!(is_model_file(io::save(&mut m, missing)));
    assert!(is_model_file(io::load(&mut m, missing)));
}

// ---- BERT: BertConfig::from_json, Bert, SentenceEmbedder, WordPiece, transformer pieces ----

const CONFIG: &str = r#"{"model_type": "bert", "vocab_size": 5, "hidden_size": 2, "num_hidden_layers": 1,
    "num_attention_heads": 1, "intermediate_size": 3, "max_position_embeddings": 4, "type_vocab_size": 1,
    "layer_norm_eps": 1e-12, "hidden_act": "gelu"}"#;
const VOCAB: &str = "[PAD]\n[UNK]\n[CLS]\n[SEP]\na\n";

/// A safetensors file with every tensor of `config`'s encoder (plus `extra`), small values.
fn tiny_bert_weights(config: &BertConfig, extra: Option<&str>) -> Vec<u8> {
    use safetensors::tensor::{Dtype, TensorView};
    let mut shapes = config.tensor_shapes();
    if let Some(name) = extra {
        shapes.push((name.into(), vec![1]));
    }
    let bytes: Vec<Vec<u8>> = shapes
        .iter()
        .map(|(_, s)| (0..s.iter().product::<usize>()).flat_map(|i| (0.1 * (i % 5) as f32).to_le_bytes()).collect())
        .collect();
    let views: Vec<(&str, TensorView<'_>)> = shapes
        .iter()
        .zip(&bytes)
        .map(|((name, shape), data)| (name.as_str(), TensorView::new(Dtype::F32, shape.clone(), data).unwrap()))
        .collect();
    safetensors::serialize(views, None).unwrap()
}

#[test]
fn bert_config_fields_out_of_range() {
    assert!(BertConfig::from_json(CONFIG).is_ok());
    let bad = |from: &str, to: &str| {
        let text = CONFIG.replace(from, to);
        assert_ne!(text, CONFIG, "{from}");
        match BertConfig::from_json(&text) {
            Err(NnError::ModelFile(m)) => m,
            other => panic!("{from} -> {to}: {other:?}"),
        }
    };
    assert!(bad("{", "[").contains("config.json"), "not JSON");
    assert!(bad("\"vocab_size\": 5,", "").contains("lacks vocab_size"));
    assert!(bad("\"vocab_size\": 5", "\"vocab_size\": -5").contains("vocab_size is not a count"));
    assert!(bad("\"hidden_size\": 2", "\"hidden_size\": 0").contains("out of range"));
    assert!(bad("\"hidden_size\": 2", "\"hidden_size\": 1048577").contains("out of range"));
    assert!(bad("\"model_type\": \"bert\",", "").contains("model_type"));
    assert!(bad("\"model_type\": \"bert\"", "\"model_type\": \"roberta\"").contains("model_type"));
    assert!(bad("\"hidden_act\": \"gelu\"", "\"hidden_act\": \"relu\"").contains("hidden_act"));
    assert!(bad("\"type_vocab_size\": 1,", "\"type_vocab_size\": 1, \"position_embedding_type\": \"relative_key\",")
        .contains("position_embedding_type"));
    assert!(bad("\"layer_norm_eps\": 1e-12", "\"layer_norm_eps\": -1").contains("layer_norm_eps"));
    assert!(bad("\"num_attention_heads\": 1", "\"num_attention_heads\": 3").contains("do not divide"));
}

#[test]
fn bert_weights_and_forward() {
    let config = BertConfig::from_json(CONFIG).unwrap();
    let weights = tiny_bert_weights(&config, None);
    let mut bert = Bert::from_safetensors(config.clone(), &weights).unwrap();
    assert_eq!(bert.forward(&[2, 4, 3], &[3]).unwrap().shape(), [3, 2]);
    assert!(is_shape(bert.forward(&[2, 4, 3], &[2])), "lengths that do not add up to the tokens");
    assert!(is_invalid(bert.forward(&[2, 4, 4, 4, 3], &[5])), "5 tokens, 4 positions");
    assert!(is_invalid(bert.forward(&[2, 5, 3], &[3])), "token id 5 of a vocabulary of 5");
    // Files that do not fit the configuration.
    let extra = tiny_bert_weights(&config, Some("encoder.layer.1.output.dense.bias"));
    assert!(is_model_file(Bert::from_safetensors(config.clone(), &extra)), "a tensor of a second layer");
    let two_layers = BertConfig { num_hidden_layers: 2, ..config.clone() };
    assert!(is_model_file(Bert::from_safetensors(two_layers, &weights)), "a missing layer");
    assert!(is_model_file(Bert::from_safetensors(config.clone(), &weights[..weights.len() - 1])), "truncated");
    // A configuration built by hand (not through from_json) with no attention heads.
    let headless = BertConfig { num_attention_heads: 0, ..config };
    assert!(is_invalid(Bert::from_safetensors(headless.clone(), &tiny_bert_weights(&headless, None))));
}

#[test]
fn sentence_embedder_parts_that_do_not_fit() {
    let config = BertConfig::from_json(CONFIG).unwrap();
    let weights = tiny_bert_weights(&config, None);
    let mut model = SentenceEmbedder::from_bytes(CONFIG, VOCAB, &weights).unwrap();
    assert_eq!(model.embed(&["a a", ""]).unwrap().shape(), [2, 2]);
    assert!(is_invalid(model.embed_ids(&[vec![2, 3], vec![]])), "an empty sequence");
    assert!(is_invalid(model.embed_ids(&[vec![2, 9, 3]])), "an id outside the vocabulary");
    assert!(is_invalid(model.embed_ids(&[vec![2, 4, 4, 4, 3]])), "longer than the positions");
    // A vocabulary of another size, one longer than the positions, one without [SEP].
    let bert = || Bert::from_safetensors(config.clone(), &weights).unwrap();
    let six = WordPiece::from_vocab(&format!("{VOCAB}b\n"), 4).unwrap();
    assert!(is_model_file(SentenceEmbedder::new(six, bert())));
    let long = WordPiece::from_vocab(VOCAB, 5).unwrap();
    assert!(is_invalid(SentenceEmbedder::new(long, bert())));
    assert!(is_invalid(SentenceEmbedder::from_bytes(CONFIG, "[PAD]\n[UNK]\n[CLS]\na\nb\n", &weights)));
    assert!(is_model_file(SentenceEmbedder::from_bytes("{}", VOCAB, &weights)));
    assert!(is_model_file(SentenceEmbedder::load(Path::new("/nonexistent-lanes-dir"))));
}

#[test]
fn wordpiece_vocabularies() {
    assert!(is_invalid(WordPiece::from_vocab("[CLS]\n[SEP]\n", 8)), "no [UNK]");
    assert!(is_invalid(WordPiece::from_vocab("[UNK]\n[CLS]\n[SEP]\n[UNK]\n", 8)), "[UNK] twice");
    assert!(is_invalid(WordPiece::from_vocab("[UNK]\n[CLS]\n[SEP]\n", 1)), "no room for [CLS] and [SEP]");
}

#[test]
fn embedding_and_attention() {
    assert!(is_shape(Embedding::from_weights(3, 2, vec![0.0; 5])));
    assert!(is_shape(Embedding::from_weights(usize::MAX, 2, vec![])), "size overflows");
    let mut e = Embedding::from_weights(3, 2, vec![0.5; 6]).unwrap();
    assert!(is_invalid(e.row(3)));
    assert!(is_invalid(e.backward(&t(&[1, 2]))), "backward before a training forward");
    e.forward(&[0, 2], true).unwrap();
    assert!(is_shape(e.backward(&t(&[3, 2]))));
    // Projections of the wrong shapes; heads that do not divide the width.
    let lin = |i, o| Linear::new(i, o, 1).unwrap();
    assert!(is_shape(MultiHeadSelfAttention::new(1, lin(4, 8), lin(4, 4))), "qkv [8, 4]");
    assert!(is_shape(MultiHeadSelfAttention::new(1, lin(4, 12), lin(4, 3))), "out [3, 4]");
    assert!(is_invalid(MultiHeadSelfAttention::new(3, lin(4, 12), lin(4, 4))));
    assert!(is_invalid(MultiHeadSelfAttention::new(0, lin(4, 12), lin(4, 4))));
    let mut att = MultiHeadSelfAttention::new(2, lin(4, 12), lin(4, 4)).unwrap();
    assert!(is_shape(att.forward(&t(&[3, 5]), &[3], None)), "width 5 into 4");
    assert!(is_shape(att.forward(&t(&[3, 4]), &[2], None)), "lengths that do not add up");
    assert!(is_shape(att.forward(&t(&[3, 4, 1]), &[3], None)), "3-D input");
    assert!(is_shape(att.forward(&t(&[3, 4]), &[3], Some(t(&[2, 4])))), "residual of another shape");
}

// ---- training: fit_classifier, train_epoch, accuracy, shift_augment ----

fn toy(n: usize, features: usize) -> Dataset {
    let x = t(&[n, features]);
    Dataset { features, inputs: x.into_data(), labels: (0..n).map(|i| i % 2).collect() }
}

fn cfg() -> TrainConfig {
    TrainConfig { epochs: 1, batch: 4, lr: 0.01, seed: 1, progress: false, image_side: 0, shift: 0 }
}

#[test]
fn training_loss_that_is_not_finite() {
    // Finite inputs, an infinite bias: the logits hold Inf, the loss is NaN.
    let mut m = Sequential::new().push(Linear::from_weights(3, 2, vec![0.0; 6], vec![f32::INFINITY, 0.0]).unwrap());
    match fit_classifier(&mut m, &toy(8, 3), &toy(4, 3), cfg()) {
        Err(NnError::NonFinite { what: "loss", batch: 0 }) => {}
        other => panic!("expected NonFinite loss, got {other:?}"),
    }
}

#[test]
fn training_data_of_another_width() {
    let mut m = Sequential::new().push(Linear::new(3, 2, 1).unwrap());
    assert!(is_shape(fit_classifier(&mut m, &toy(8, 4), &toy(4, 3), cfg())));
    assert!(is_shape(accuracy(&mut m, &toy(4, 5))));
    // Random shifts of images whose side does not match the features.
    let shifted = TrainConfig { image_side: 3, shift: 1, ..cfg() };
    assert!(is_shape(fit_classifier(&mut m, &toy(8, 3), &toy(4, 3), shifted)));
    assert!(is_shape(shift_augment(&mut t(&[2, 10]), 3, 3, 1, 0)));
    assert!(is_shape(shift_augment(&mut t(&[2, 3, 3]), 3, 3, 1, 0)), "3-D images");
}

// ---- data: Mnist, Standardizer, Tabular, InteractionSplit ----

#[test]
fn mnist_files_that_are_missing_or_malformed() {
    let dir = scratch_dir("mnist");
    let m = match Mnist::load_from(&dir) {
        Err(NnError::Data(m)) => m,
        other => panic!("{:?}", other.map(|_| ())),
    };
    assert!(m.contains("0.json") && m.contains("scripts/setup.sh"), "{m}");
    std::fs::remove_dir_all(&dir).unwrap();
    let ok = r#"{"data": []}"#;
    let mut files = vec![ok; 10];
    assert!(is_data(Mnist::from_json(&files[..9]).map(|_| ())), "nine files");
    files[3] = "{";
    assert!(is_data(Mnist::from_json(&files).map(|_| ())), "not JSON");
    files[3] = r#"{"pixels": []}"#;
    assert!(is_data(Mnist::from_json(&files).map(|_| ())), "no data array");
    files[3] = r#"{"data": [0.5, 0.5]}"#;
    assert!(is_data(Mnist::from_json(&files).map(|_| ())), "not a whole number of images");
}

#[test]
fn tabular_feature_counts() {
    let train = Tabular { features: 2, inputs: vec![1., 2., 3., 4.], targets: vec![0., 1.] };
    let s = Standardizer::fit(&train);
    let mut other = Tabular { features: 3, inputs: vec![1., 2., 3.], targets: vec![1.] };
    assert!(is_shape(s.apply(&mut other)));
    assert_eq!(other.inputs, vec![1., 2., 3.], "nothing changed");
    let inconsistent = Tabular { features: 2, inputs: vec![1., 2., 3.], targets: vec![0., 1.] };
    assert!(is_shape(inconsistent.inputs_tensor()));
}

#[test]
fn chronological_split_fraction() {
    let r = [Rating { user: 1, item: 1, rating: 5.0, timestamp: 0 }];
    for f in [1.0, -0.1, f64::NAN] {
        assert!(is_invalid(InteractionSplit::chronological(&r, f)), "fraction {f}");
    }
}

// ---- audio: parse_wav, read_wav, keyword_clips, fft, LogMel ----

#[test]
fn wav_and_keyword_files() {
    assert!(is_data(read_wav(Path::new("/nonexistent-lanes-dir/a.wav"))));
    // A `data` chunk before `fmt `, and a format with 0 channels.
    let mut b = b"RIFF\0\0\0\0WAVEdata\x02\0\0\0\0\0".to_vec();
    assert!(is_data(parse_wav(&b, "a.wav")));
    b = b"RIFF\0\0\0\0WAVEfmt \x10\0\0\0".to_vec();
    b.extend([1, 0, 0, 0, 0x80, 0x3e, 0, 0, 0, 0, 0, 0, 0, 0, 16, 0]); // PCM, 0 channels, 16 kHz, 16 bits
    b.extend(b"data\0\0\0\0");
    match parse_wav(&b, "b.wav") {
        Err(NnError::Data(m)) => assert!(m.contains("0 channels"), "{m}"),
        other => panic!("{other:?}"),
    }
    // A folder with a voice folder but no keyword recordings; then an unreadable recording.
    let dir = scratch_dir("kws");
    std::fs::create_dir_all(dir.join("en+f1")).unwrap();
    match keyword_clips(&dir) {
        Err(NnError::Data(m)) => assert!(m.contains("no keyword recordings"), "{m}"),
        other => panic!("{:?}", other.map(|c| c.len())),
    }
    std::fs::write(dir.join("en+f1/yes_s1_p1.wav"), b"not a wav").unwrap();
    match keyword_clips(&dir) {
        Err(NnError::Data(m)) => assert!(m.contains("yes_s1_p1.wav"), "{m}"),
        other => panic!("{:?}", other.map(|c| c.len())),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn fft_and_log_mel_arguments() {
    assert!(is_invalid(fft(&mut [0.0; 6], &mut [0.0; 6])), "not a power of two");
    assert!(is_invalid(fft(&mut [0.0; 8], &mut [0.0; 4])), "imaginary parts of another length");
    assert!(is_invalid(fft(&mut [], &mut [])), "empty");
    for (window, hop, bands, lo, hi) in [
        (1, 160, 40, 20.0, 8000.0),
        (400, 0, 40, 20.0, 8000.0),
        (400, 160, 0, 20.0, 8000.0),
        (400, 160, 40, -1.0, 8000.0),
        (400, 160, 40, 900.0, 800.0),
        (400, 160, 40, 20.0, 9000.0),
        (400, 160, 40, f64::NAN, 8000.0),
    ] {
        assert!(is_invalid(LogMel::new(16_000, window, hop, bands, lo, hi)), "{window} {hop} {bands} {lo}-{hi}");
    }
    assert!(is_invalid(LogMel::speech(0, 40)), "0 Hz");
}

// ---- metrics, linalg ----

#[test]
fn metrics_lengths() {
    for f in [metrics::rmse, metrics::r2, metrics::binary_accuracy, metrics::log_loss] {
        assert!(is_shape(f(&[1.0, 2.0], &[1.0])), "lengths differ");
        assert!(is_shape(f(&[], &[])), "empty");
    }
}

#[test]
fn linalg_shapes_and_domains() {
    assert!(is_shape(linalg::cholesky_solve(&[1.0; 3], &[1.0, 2.0])));
    assert!(is_invalid(linalg::cholesky_solve(&[1.0, 2.0, 2.0, 1.0], &[1.0, 1.0])), "indefinite");
    assert!(is_invalid(linalg::cholesky_solve(&[f64::NAN], &[1.0])), "NaN pivot");
    let x = t(&[4, 2]);
    assert!(is_shape(linalg::least_squares(&t(&[8]), &[0.0; 8], 0.0)), "1-D input");
    assert!(is_shape(linalg::least_squares(&x, &[0.0; 3], 0.0)), "3 targets for 4 rows");
    for ridge in [-1.0, f64::NAN, f64::INFINITY] {
        assert!(is_invalid(linalg::least_squares(&x, &[0.0; 4], ridge)), "ridge {ridge}");
    }
}

// ---- recommendation: MatrixFactorization, recommend, recall_at_k, ndcg_at_k ----

#[test]
fn matrix_factorisation_and_ranking() {
    for (u, i, d) in [(0, 5, 3), (4, 0, 3), (4, 5, 0)] {
        assert!(is_invalid(recsys::MatrixFactorization::new(u, i, d, 0.5, 1)), "{u} {i} {d}");
    }
    let mut mf = recsys::MatrixFactorization::new(4, 5, 3, 0.5, 1).unwrap();
    assert!(is_invalid(mf.scores(&[1, 4])));
    check_backward(&mut mf, &Tensor::new(&[2, 1], vec![0.0, 3.0]).unwrap(), &t(&[2, 4]));
    let scores = t(&[2, 3]);
    assert!(is_shape(recsys::recommend(&t(&[6]), 2, &[vec![]])), "1-D scores");
    assert!(is_shape(recsys::recommend(&scores, 2, &[vec![]])), "seen items of one user for two");
    let (recs, truth) = (vec![vec![1u32], vec![2]], vec![vec![1u32]]);
    assert!(is_shape(recsys::recall_at_k(&recs, &truth, 1)));
    assert!(is_shape(recsys::ndcg_at_k(&recs, &truth, 1)));
    assert!(is_invalid(recsys::ndcg_at_k(&[vec![1]], &[vec![]], 1)), "no user with held-out items");
}

// ---- inputs that once panicked or returned a silent result (found writing docs/safety.md) ----

#[test]
fn former_panics_and_silent_results_are_errors() {
    for scale in [-1.0, f32::NAN, f32::INFINITY] {
        assert!(is_invalid(recsys::MatrixFactorization::new(4, 5, 3, scale, 1)), "scale {scale}");
    }
    assert!(is_invalid(recsys::MatrixFactorization::new(usize::MAX, 5, 3, 0.5, 1)), "user embeddings overflow");
    assert!(recsys::MatrixFactorization::new(4, 5, 3, 0.0, 1).is_ok(), "scale 0: all-zero embeddings");
    assert!(
        is_invalid(loss::softmax_cross_entropy(&t(&[2, 0]), &[0, 0])),
        "labels of [2, 0] logits are not below 0 classes"
    );
    let (recs, truth) = (vec![vec![1u32]], vec![vec![1u32]]);
    assert!(is_invalid(recsys::recall_at_k(&recs, &truth, 0)), "recall at k = 0");
    assert!(is_invalid(recsys::ndcg_at_k(&recs, &truth, 0)), "NDCG at k = 0");
    let data = Dataset { features: 2, inputs: vec![0.5; 6], labels: vec![0, 1, 0] };
    assert!(is_invalid(data.batch(&[0, 3], 7)), "an index past the examples");
    let bad = Dataset { features: 2, inputs: vec![0.5; 5], labels: vec![0, 1, 0] };
    assert!(is_shape(bad.batch(&[0], 0)), "inputs not labels x features");
    assert_eq!(data.batch(&[2, 0], 0).unwrap().1, vec![0, 0]);
    let table = Tabular { features: 2, inputs: vec![0.5; 6], targets: vec![1.0, 2.0, 3.0] };
    assert!(is_invalid(table.batch(&[3])), "a row past the table");
    let bad = Tabular { features: 2, inputs: vec![0.5; 5], targets: vec![1.0, 2.0, 3.0] };
    assert!(is_shape(bad.batch(&[0])), "inputs not rows x features");
    assert_eq!(bad.split_at(3).0.inputs.len(), 5, "split_at of inconsistent fields does not panic");
    let mut images = t(&[2, 4]);
    assert!(is_shape(shift_augment(&mut images, usize::MAX, 2, 1, 0)), "height x width overflows");
    shift_augment(&mut images, 2, 2, usize::MAX, 0).expect("a huge shift bound is the image's size");
    // No feature columns: an intercept-only fit, the mean of y.
    let (w, b) = linalg::least_squares(&t(&[4, 0]), &[1.0, 2.0, 3.0, 6.0], 0.0).unwrap();
    assert!(w.is_empty());
    assert!((b - 3.0).abs() < 1e-5, "intercept {b}");
}
