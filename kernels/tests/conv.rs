//! Convolution against the test kit's direct f64 convolution, on every ISA this machine runs
//! (or the one `LANES_ISA` forces): odd sizes, padding larger than the kernel, stride larger
//! than the kernel, dilation, 1x1 images, channel counts that are not a multiple of any vector
//! width, groups (depthwise included), both filter layouts, bias + activations, a residual,
//! batches. Also built for wasm32 (browser-bench/scripts/test-wasm.sh).

use lanes_kernels::ops::conv::{Conv2d, Conv2dParams, FilterLayout, Padding};
use lanes_kernels::{Activation, Gemm, KernelError, Parallelism};
use lanes_testkit::{activation_slack, close, conv2d_reference, isas, oihw_to_hwio, Rng, ACTIVATIONS};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

#[allow(clippy::too_many_arguments)]
fn check(
    gemm: Gemm,
    p: Conv2dParams,
    (batch, h, w): (usize, usize, usize),
    bias: bool,
    act: Activation,
    residual: bool,
    layout: FilterLayout,
    seed: u64,
) {
    let mut r = Rng::new(seed);
    let filter = r.vec(p.filter_len().unwrap());
    let bias = bias.then(|| r.vec(p.out_channels));
    let g = p.geometry(batch, h, w).unwrap();
    let input = r.vec(g.input_len().unwrap());
    let res = residual.then(|| r.vec(g.output_len().unwrap()));
    let given = match layout {
        FilterLayout::Oihw => filter.clone(),
        FilterLayout::Hwio => oihw_to_hwio(&filter, p.out_channels, p.in_per_group(), p.kernel.0, p.kernel.1),
    };
    let conv = Conv2d::with_gemm(gemm, p, &given, layout, bias.as_deref(), act).unwrap();
    let mut out = vec![f32::NAN; g.output_len().unwrap()];
    match &res {
        Some(res) => conv.run_with_residual(&input, batch, h, w, res, &mut out).unwrap(),
        None => {
            conv.run(&input, batch, h, w, &mut out).unwrap();
            // The same values, bit for bit, into a fresh (not zeroed) Vec.
            let (fresh, g2) = conv.run_to_vec(&input, batch, h, w).unwrap();
            assert_eq!(g2, g);
            assert!(
                fresh.iter().zip(&out).all(|(a, b)| a.to_bits() == b.to_bits()),
                "{p:?}: run_to_vec differs from run"
            );
            assert_eq!(fresh.len(), out.len());
            g2
        }
    };
    let (want, mag) = conv2d_reference(&g, &input, &filter, bias.as_deref(), res.as_deref(), act);
    let k = (p.kernel.0 * p.kernel.1 * p.in_per_group()) as f32;
    for (i, ((&got, &want), &mag)) in out.iter().zip(&want).zip(&mag).enumerate() {
        let tol = 16.0 * f32::EPSILON * (k + 3.0) * mag + activation_slack(act) * (want.abs() + 1.0);
        assert!(
            close(got, want, tol),
            "{:?} {p:?} {batch}x{h}x{w} {layout:?}: output {i} got {got}, want {want}",
            gemm.isa()
        );
    }
}

/// Every ISA, plus every other available kernel forced by name (a kernel the ISA's default
/// choice skips on this CPU, e.g. the 4x64 AVX-512 tile on Intel).
fn gemms() -> Vec<Gemm> {
    let mut out: Vec<Gemm> =
        isas().into_iter().map(|isa| Gemm::with_isa(isa).unwrap().parallelism(Parallelism::Sequential)).collect();
    for kern in lanes_kernels::ops::gemm::registry::available() {
        let chosen = out.iter().any(|g| g.kernel_for(64, 64, 64).is_ok_and(|k| k.name == kern.name));
        if !chosen {
            out.push(Gemm::with_kernel(kern.name).unwrap().parallelism(Parallelism::Sequential));
        }
    }
    out
}

#[test]
fn dense_sweep_of_geometries() {
    let cases: Vec<(Conv2dParams, (usize, usize, usize))> = vec![
        (Conv2dParams::new(3, 5, (3, 3)), (1, 7, 9)),
        (Conv2dParams::new(3, 5, (3, 3)).padding(Padding::uniform(1)), (2, 6, 5)),
        (Conv2dParams::new(4, 17, (3, 3)).padding(Padding::Same).stride(2, 2), (1, 9, 8)),
        (Conv2dParams::new(2, 3, (2, 2)).stride(3, 3).padding(Padding::uniform(4)), (1, 5, 5)), // pad > kernel, stride > kernel
        (
            Conv2dParams::new(5, 7, (3, 3)).dilation(2, 3).padding(Padding::Explicit {
                top: 1,
                bottom: 0,
                left: 2,
                right: 3,
            }),
            (1, 8, 11),
        ),
        (Conv2dParams::new(1, 8, (5, 5)).padding(Padding::Same), (2, 1, 1)), // 1x1 image
        (Conv2dParams::new(19, 33, (1, 1)), (1, 5, 7)),                      // pointwise
        (Conv2dParams::new(19, 33, (1, 1)).stride(2, 2), (1, 5, 7)),         // strided 1x1: indirect
        (Conv2dParams::new(8, 12, (3, 3)).groups(4).padding(Padding::uniform(1)), (1, 6, 6)),
        (Conv2dParams::new(6, 6, (3, 3)).groups(6).padding(Padding::uniform(1)), (2, 5, 4)), // depthwise
        (Conv2dParams::new(6, 12, (5, 5)).groups(6).stride(2, 2).padding(Padding::Same), (1, 9, 9)), // multiplier 2
        (
            Conv2dParams::new(1, 4, (1, 3)).padding(Padding::Explicit { top: 0, bottom: 0, left: 1, right: 1 }),
            (3, 1, 20),
        ), // conv1d
        (Conv2dParams::new(70, 9, (3, 3)), (1, 4, 4)), // depth across several taps per block
        // Batches as one GEMM: tiles straddle images (pixels not a multiple of any MR).
        (Conv2dParams::new(8, 12, (3, 3)).groups(2).padding(Padding::uniform(1)).stride(2, 1), (3, 5, 7)),
        (Conv2dParams::new(3, 16, (3, 3)).padding(Padding::Same), (5, 7, 3)),
        (Conv2dParams::new(1, 16, (3, 3)).padding(Padding::Same), (4, 28, 28)), // MNIST's first layer
        // C_in <= 4 (the direct path): channels not a multiple of any vector, strides,
        // dilation, rows of 8+ interior pixels.
        (Conv2dParams::new(4, 40, (3, 3)).stride(2, 2).padding(Padding::Same), (2, 9, 11)),
        (Conv2dParams::new(2, 18, (3, 3)).dilation(2, 2).padding(Padding::uniform(2)), (1, 7, 12)),
        (Conv2dParams::new(3, 8, (5, 3)).stride(1, 2).padding(Padding::uniform(1)), (2, 6, 21)),
        // Two vectors of channels per block (AVX-512, AVX2) with a partial second one, adjacent
        // (4-pixel blocks on AVX2) and strided pixels, rows not a multiple of the block.
        (Conv2dParams::new(1, 12, (3, 3)).padding(Padding::Same), (1, 5, 9)),
        (Conv2dParams::new(3, 27, (3, 3)).stride(2, 2).padding(Padding::Same), (1, 7, 25)),
        // Its segments: rows wider than one segment (64 pixels; a last block that overlaps the
        // one before), narrower than one block of 8 pixels, a segment all in the padding, and a
        // dilation too large for one pixel's input rows to fit the buffer (no segments).
        (Conv2dParams::new(1, 16, (3, 3)).padding(Padding::Same), (1, 3, 150)),
        (Conv2dParams::new(3, 5, (3, 3)).stride(2, 3).padding(Padding::uniform(1)), (1, 4, 200)),
        (Conv2dParams::new(2, 7, (3, 3)).padding(Padding::Same), (2, 5, 6)),
        (
            Conv2dParams::new(1, 3, (1, 2)).padding(Padding::Explicit { top: 0, bottom: 0, left: 70, right: 70 }),
            (1, 2, 3),
        ),
        (Conv2dParams::new(1, 4, (1, 3)).dilation(1, 700).padding(Padding::uniform(700)), (1, 2, 5)),
        (Conv2dParams::new(4, 4, (3, 2)).dilation(1, 3000), (1, 4, 3003)),
        // Row-pointer tiles: the fewest channels that take them; a depth block that ends
        // inside a tap on every kernel (KH*KW*C_in = 900).
        (Conv2dParams::new(5, 20, (3, 3)).padding(Padding::uniform(1)), (1, 6, 6)),
        (Conv2dParams::new(100, 20, (3, 3)).padding(Padding::uniform(1)), (2, 5, 4)),
        // Rows wide enough for whole tiles away from the padding, whose taps of one input row
        // merge into one run (stride 1 and 2; a depth block cutting taps; batches).
        (Conv2dParams::new(8, 20, (3, 3)).padding(Padding::uniform(1)), (2, 4, 19)),
        (Conv2dParams::new(6, 16, (3, 3)).stride(2, 2).padding(Padding::Same), (1, 5, 29)),
        (Conv2dParams::new(100, 20, (3, 3)).padding(Padding::uniform(1)), (1, 3, 16)),
        // At most 3 output channels: filters kept column-major for the dot-product GEMV, read
        // as a strided B by the implicit GEMM and by the 1x1 GEMM.
        (Conv2dParams::new(9, 1, (3, 3)).padding(Padding::Same), (2, 5, 6)),
        (Conv2dParams::new(6, 3, (3, 3)).stride(2, 2), (1, 7, 7)),
        (Conv2dParams::new(16, 2, (1, 1)), (3, 4, 5)),
    ];
    for gemm in gemms() {
        for (i, &(p, shape)) in cases.iter().enumerate() {
            check(gemm, p, shape, false, Activation::Identity, false, FilterLayout::Oihw, i as u64);
            check(gemm, p, shape, true, Activation::Relu, false, FilterLayout::Hwio, 100 + i as u64);
        }
    }
}

/// One layer run on several image sizes in turn (its offset table is cached per size): each
/// against the reference, the first size again last.
#[test]
fn one_layer_on_several_image_sizes() {
    for gemm in gemms() {
        let p = Conv2dParams::new(6, 9, (3, 3)).padding(Padding::Same).stride(1, 2);
        let mut r = Rng::new(31);
        let filter = r.vec(p.filter_len().unwrap());
        let conv = Conv2d::with_gemm(gemm, p, &filter, FilterLayout::Oihw, None, Activation::Identity).unwrap();
        for (batch, h, w) in [(2, 7, 9), (1, 5, 5), (3, 9, 4), (2, 7, 9)] {
            let g = p.geometry(batch, h, w).unwrap();
            let input = r.vec(g.input_len().unwrap());
            let (out, _) = conv.run_to_vec(&input, batch, h, w).unwrap();
            let (want, mag) = conv2d_reference(&g, &input, &filter, None, None, Activation::Identity);
            for (i, ((&got, &want), &mag)) in out.iter().zip(&want).zip(&mag).enumerate() {
                let tol = 16.0 * f32::EPSILON * 60.0 * mag;
                assert!(close(got, want, tol), "{:?} {batch}x{h}x{w}: output {i} got {got}, want {want}", gemm.isa());
            }
        }
    }
}

/// One `Conv2d` shared by eight threads at once, each running two image sizes in turn (the
/// cached offset table changes hands and sizes): every output bit-identical to a call alone.
/// Every path (implicit GEMM, depthwise, the direct kernel for C_in <= 4), on one thread and
/// on two (rayon), from plain threads and from inside rayon jobs.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn concurrent_calls_on_one_layer_are_bit_identical() {
    use rayon::prelude::*;
    let layers = [
        Conv2dParams::new(8, 12, (3, 3)).padding(Padding::Same),
        Conv2dParams::new(8, 8, (3, 3)).groups(8).padding(Padding::Same),
        Conv2dParams::new(3, 12, (3, 3)).stride(2, 2).padding(Padding::Same),
    ];
    let threaded = isas().into_iter().map(|isa| (Gemm::with_isa(isa).unwrap().parallelism(Parallelism::Rayon), true));
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    for (gemm, rayon_layer) in gemms().into_iter().map(|g| (g, false)).chain(threaded) {
        for p in layers {
            let mut r = Rng::new(41);
            let conv =
                Conv2d::with_gemm(gemm, p, &r.vec(p.filter_len().unwrap()), FilterLayout::Oihw, None, Activation::Relu)
                    .unwrap();
            let sizes = [(2, 9, 7), (1, 6, 11)];
            let inputs: Vec<Vec<f32>> =
                sizes.iter().map(|&(b, h, w)| r.vec(p.geometry(b, h, w).unwrap().input_len().unwrap())).collect();
            // The reference calls run in the pool, so `Rayon` layers use the same 2 threads.
            let want: Vec<Vec<f32>> = pool.install(|| {
                sizes.iter().zip(&inputs).map(|(&(b, h, w), x)| conv.run_to_vec(x, b, h, w).unwrap().0).collect()
            });
            let check = |t: usize| {
                for round in 0..10 {
                    let i = (t + round) % 2;
                    let (b, h, w) = sizes[i];
                    let got = conv.run_to_vec(&inputs[i], b, h, w).unwrap().0;
                    assert!(got.iter().zip(&want[i]).all(|(x, y)| x.to_bits() == y.to_bits()), "{p:?} thread {t}");
                }
            };
            // (A `Rayon` layer called from plain threads would use the global pool, whose
            // thread count is the machine's.)
            if !rayon_layer {
                std::thread::scope(|s| {
                    for t in 0..8 {
                        s.spawn(move || check(t));
                    }
                });
            }
            pool.install(|| (0..8).into_par_iter().for_each(check));
        }
    }
}

/// An image's output is the same bits alone as inside a batch (every path: the batch is one
/// GEMM whose tiles straddle images, or the direct / depthwise kernels' rows). Not on wasm's
/// GEMM path: its 1- and 2-row tiles split k over two accumulator sets (to hide latency), so a
/// row that lands in such an edge tile, which depends on the batch, gets other last bits.
#[test]
fn an_images_output_does_not_depend_on_its_batch() {
    for gemm in gemms() {
        for p in [
            Conv2dParams::new(8, 12, (3, 3)).padding(Padding::Same),
            Conv2dParams::new(3, 20, (3, 3)).padding(Padding::Same).stride(2, 2),
            Conv2dParams::new(6, 6, (3, 3)).padding(Padding::Same).groups(6),
        ] {
            let gemm_path = p.groups == 1 && p.in_channels > 4;
            if cfg!(target_arch = "wasm32") && gemm_path {
                continue;
            }
            let mut r = Rng::new(43);
            let conv =
                Conv2d::with_gemm(gemm, p, &r.vec(p.filter_len().unwrap()), FilterLayout::Oihw, None, Activation::Relu)
                    .unwrap();
            let (batch, h, w) = (3, 7, 13);
            let input = r.vec(p.geometry(batch, h, w).unwrap().input_len().unwrap());
            let all = conv.run_to_vec(&input, batch, h, w).unwrap().0;
            let (in_len, out_len) = (input.len() / batch, all.len() / batch);
            for n in 0..batch {
                let one = conv.run_to_vec(&input[n * in_len..(n + 1) * in_len], 1, h, w).unwrap().0;
                let same = one.iter().zip(&all[n * out_len..]).all(|(x, y)| x.to_bits() == y.to_bits());
                assert!(same, "{:?} {p:?}: image {n} alone differs from inside the batch", gemm.isa());
            }
        }
    }
}

#[test]
fn empty_images_with_padding_give_bias_only() {
    // Zero-width images with padding: every output pixel is all padding (found by the
    // conv_vs_reference fuzz target: a grouped convolution indexed into the empty input).
    for gemm in gemms() {
        let p = Conv2dParams::new(4, 6, (1, 3)).groups(2).padding(Padding::uniform(2));
        let bias: Vec<f32> = (0..6).map(|i| i as f32 - 2.5).collect();
        let conv = Conv2d::with_gemm(
            gemm,
            p,
            &vec![0.5; p.filter_len().unwrap()],
            FilterLayout::Oihw,
            Some(&bias),
            Activation::Relu,
        )
        .unwrap();
        let g = conv.geometry(2, 1, 0).unwrap();
        assert!(g.output_len().unwrap() > 0 && g.input_len().unwrap() == 0);
        let mut out = vec![f32::NAN; g.output_len().unwrap()];
        conv.run(&[], 2, 1, 0, &mut out).unwrap();
        for (i, v) in out.iter().enumerate() {
            assert_eq!(*v, bias[i % 6].max(0.0), "{:?}: output {i}", gemm.isa());
        }
        assert_eq!(conv.run_to_vec(&[], 2, 1, 0).unwrap().0, out);
    }
}

#[test]
fn run_to_vec_of_empty_outputs_and_bad_input() {
    for gemm in gemms() {
        for p in [Conv2dParams::new(3, 4, (3, 3)), Conv2dParams::new(4, 4, (3, 3)).groups(4)] {
            let conv = Conv2d::with_gemm(
                gemm,
                p,
                &vec![0.5; p.filter_len().unwrap()],
                FilterLayout::Oihw,
                None,
                Activation::Identity,
            )
            .unwrap();
            let (out, g) = conv.run_to_vec(&[], 0, 5, 5).unwrap();
            assert!(out.is_empty() && g.batch == 0);
            assert!(matches!(conv.run_to_vec(&[1.0; 7], 1, 5, 5), Err(KernelError::LengthMismatch { .. })));
        }
    }
}

#[test]
fn bias_activation_and_residual_are_fused() {
    for gemm in gemms() {
        let p = Conv2dParams::new(7, 10, (3, 3)).padding(Padding::uniform(1));
        for act in ACTIVATIONS {
            check(gemm, p, (1, 5, 6), true, act, true, FilterLayout::Oihw, 7);
        }
        check(gemm, Conv2dParams::new(16, 16, (1, 1)), (1, 4, 4), true, Activation::Relu, true, FilterLayout::Hwio, 8);
        // The direct path (C_in <= 4).
        let direct = Conv2dParams::new(3, 20, (3, 3)).padding(Padding::Same);
        check(gemm, direct, (2, 5, 13), true, Activation::Gelu, true, FilterLayout::Hwio, 14);
    }
}

#[test]
fn layers_of_a_small_cnn() {
    for gemm in gemms() {
        // MNIST-sized: 28x28x1 -> 3x3x8 same -> 3x3x16 stride 2.
        check(
            gemm,
            Conv2dParams::new(1, 8, (3, 3)).padding(Padding::Same),
            (2, 28, 28),
            true,
            Activation::Relu,
            false,
            FilterLayout::Oihw,
            9,
        );
        check(
            gemm,
            Conv2dParams::new(8, 16, (3, 3)).padding(Padding::Same).stride(2, 2),
            (1, 28, 28),
            true,
            Activation::Relu,
            false,
            FilterLayout::Oihw,
            10,
        );
        // A ResNet-like layer, channels past one depth block of every kernel.
        check(
            gemm,
            Conv2dParams::new(64, 64, (3, 3)).padding(Padding::uniform(1)),
            (1, 8, 8),
            true,
            Activation::Relu,
            true,
            FilterLayout::Hwio,
            11,
        );
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn two_threads_match_the_reference() {
    rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap().install(|| {
        for isa in isas() {
            let gemm = Gemm::with_isa(isa).unwrap().parallelism(Parallelism::Rayon);
            check(
                gemm,
                Conv2dParams::new(16, 24, (3, 3)).padding(Padding::uniform(1)),
                (2, 12, 12),
                true,
                Activation::Relu,
                false,
                FilterLayout::Oihw,
                12,
            );
            check(
                gemm,
                Conv2dParams::new(24, 40, (1, 1)),
                (1, 12, 12),
                true,
                Activation::Relu,
                false,
                FilterLayout::Oihw,
                13,
            );
        }
    });
}

/// `set_parallelism` switches a built layer (GEMM and depthwise paths) between one thread and
/// the pool without repacking: the same values either way.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn set_parallelism_keeps_the_packed_filter() {
    rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap().install(|| {
        let mut r = Rng::new(31);
        for params in
            [Conv2dParams::new(16, 24, (3, 3)).padding(Padding::Same), Conv2dParams::new(24, 24, (3, 3)).groups(24)]
        {
            let filter = r.vec(params.filter_len().unwrap());
            let gemm = Gemm::new().parallelism(Parallelism::Sequential);
            let mut conv =
                Conv2d::with_gemm(gemm, params, &filter, FilterLayout::Hwio, None, Activation::Identity).unwrap();
            let input = r.vec(2 * 20 * 20 * params.in_channels);
            let g = conv.geometry(2, 20, 20).unwrap();
            let mut one = vec![0.0; g.output_len().unwrap()];
            conv.run(&input, 2, 20, 20, &mut one).unwrap();
            conv.set_parallelism(Parallelism::Rayon);
            let mut two = vec![f32::NAN; one.len()];
            conv.run(&input, 2, 20, 20, &mut two).unwrap();
            assert_eq!(one, two, "{params:?}");
        }
    });
}

#[test]
fn bad_input_is_a_typed_error() {
    let p = Conv2dParams::new(2, 4, (3, 3));
    let filter = vec![0.0; p.filter_len().unwrap()];
    let conv = Conv2d::new(p, &filter, FilterLayout::Oihw, None, Activation::Identity).unwrap();
    let mut out = vec![0.0; 4];
    // Kernel larger than the input.
    assert!(
        matches!(conv.run(&[0.0; 2 * 2 * 2], 1, 2, 2, &mut out), Err(KernelError::InvalidGeometry { param, value: 3 }) if param.starts_with("kernel height"))
    );
    // Input of the wrong length.
    assert!(matches!(
        conv.run(&[0.0; 17], 1, 3, 3, &mut out[..4]),
        Err(KernelError::LengthMismatch { expected: 18, found: 17, .. })
    ));
    // Output of the wrong length.
    assert!(matches!(
        conv.run(&[0.0; 18], 1, 3, 3, &mut out[..3]),
        Err(KernelError::LengthMismatch { expected: 4, found: 3, .. })
    ));
    // Filter of the wrong length, bias of the wrong length, groups that do not divide.
    assert!(matches!(
        Conv2d::new(p, &filter[1..], FilterLayout::Oihw, None, Activation::Identity),
        Err(KernelError::LengthMismatch { .. })
    ));
    assert!(matches!(
        Conv2d::new(p, &filter, FilterLayout::Oihw, Some(&[0.0; 3]), Activation::Identity),
        Err(KernelError::LengthMismatch { expected: 4, .. })
    ));
    assert!(matches!(
        Conv2d::new(p.groups(3), &filter, FilterLayout::Oihw, None, Activation::Identity),
        Err(KernelError::InvalidGeometry { value: 2, .. })
    ));
    assert!(matches!(
        Conv2d::new(p.stride(0, 1), &filter, FilterLayout::Oihw, None, Activation::Identity),
        Err(KernelError::InvalidGeometry { param: "stride height", value: 0 })
    ));
    // Residual of the wrong length.
    assert!(matches!(
        conv.run_with_residual(&[0.0; 18], 1, 3, 3, &[0.0; 3], &mut out[..4]),
        Err(KernelError::LengthMismatch { what: "residual", .. })
    ));
}

/// A stride far larger than the image (one output pixel per row) on every path: the direct
/// kernel's pixel step overflowed (found by fuzz/api_no_panic), nothing is read past the pixel.
#[test]
fn huge_strides_give_one_pixel_per_row() {
    for gemm in gemms() {
        for cin in [1, 3, 8] {
            let p = Conv2dParams::new(cin, 5, (2, 2)).stride(usize::MAX / 4, usize::MAX / 2);
            check(gemm, p, (2, 3, 4), true, Activation::Relu, false, FilterLayout::Oihw, cin as u64);
        }
    }
}

/// `run_max_pooled_to_vec` equals `run_to_vec` followed by the max-pooling kernel, value for
/// value (NaN where either has NaN), on every ISA and kernel: the fused direct path (1-4 input
/// channels: 2x2, 3x3 and 2x3 windows, 1x1, trailing rows and columns that fill no window,
/// channels that are not a multiple of the vector width, stride, dilation, NaN in the input)
/// and the two-step paths (the GEMM and depthwise convolutions, a window whose convolution
/// values exceed the fused kernel's buffer, a dilation too large for its segments).
#[test]
fn max_pooled_equals_conv_then_pool() {
    use lanes_kernels::ops::pool::{max_pool_after_conv, Pool2d, Pool2dParams, PoolKind};
    let cases = [
        // (params, (batch, h, w), window)
        (Conv2dParams::new(1, 16, (3, 3)).padding(Padding::Same), (3, 28, 28), (2, 2)),
        (Conv2dParams::new(1, 16, (3, 3)).padding(Padding::Same), (2, 13, 11), (2, 2)),
        (Conv2dParams::new(3, 33, (3, 3)).padding(Padding::Same), (1, 15, 17), (3, 3)),
        (Conv2dParams::new(2, 5, (5, 5)).padding(Padding::uniform(1)), (2, 12, 19), (2, 3)),
        (Conv2dParams::new(4, 40, (3, 3)).stride(2, 2).padding(Padding::Same), (1, 23, 21), (2, 2)),
        (Conv2dParams::new(1, 7, (3, 3)).dilation(2, 2), (1, 14, 15), (1, 1)),
        (Conv2dParams::new(1, 1100, (3, 3)).padding(Padding::Same), (1, 6, 6), (2, 2)),
        (Conv2dParams::new(1, 3, (3, 3)).dilation(1, 2000).padding(Padding::uniform(2000)), (1, 4, 4), (2, 2)),
        (Conv2dParams::new(8, 24, (3, 3)).padding(Padding::Same), (2, 9, 10), (2, 2)),
        (Conv2dParams::new(8, 8, (3, 3)).groups(8).padding(Padding::Same), (1, 10, 10), (2, 2)),
    ];
    for gemm in gemms() {
        for (ci, &(p, (batch, h, w), window)) in cases.iter().enumerate() {
            for (ai, act) in [Activation::Relu, Activation::Identity, Activation::Gelu].into_iter().enumerate() {
                let mut r = Rng::new(100 + ci as u64 * 7 + ai as u64);
                let filter = r.vec(p.filter_len().unwrap());
                let bias = r.vec(p.out_channels);
                let mut input = r.vec(p.geometry(batch, h, w).unwrap().input_len().unwrap());
                if ai == 1 {
                    let at = r.below(input.len());
                    input[at] = f32::NAN;
                }
                let conv = Conv2d::with_gemm(gemm, p, &filter, FilterLayout::Oihw, Some(&bias), act).unwrap();
                let (y, g) = conv.run_to_vec(&input, batch, h, w).unwrap();
                let pool =
                    Pool2d::with_isa(gemm.isa().unwrap(), Pool2dParams::new(PoolKind::Max, p.out_channels, window))
                        .unwrap();
                let (want, pg) = pool.run_to_vec(&y, batch, g.out_h, g.out_w).unwrap();
                let (got, dims) = max_pool_after_conv(&conv, &input, batch, h, w, window).unwrap();
                assert_eq!(dims, (pg.out_h, pg.out_w), "{p:?} {window:?}");
                assert_eq!(got.len(), want.len());
                for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                    assert!(
                        a == b || (a.is_nan() && b.is_nan()),
                        "{:?} {p:?} {batch}x{h}x{w} {window:?} {act:?}: value {i} fused {a}, two steps {b}",
                        gemm.isa()
                    );
                }
                if ai == 1 {
                    assert!(got.iter().any(|v| v.is_nan()), "{p:?}: the NaN in the input reached no window");
                }
            }
        }
    }
}

#[test]
fn max_pooled_refuses_bad_windows_and_input() {
    use lanes_kernels::ops::pool::max_pool_after_conv;
    let p = Conv2dParams::new(1, 4, (3, 3)).padding(Padding::Same);
    let conv = Conv2d::new(p, &[0.5; 36], FilterLayout::Oihw, None, Activation::Relu).unwrap();
    let x = vec![1.0; 2 * 6 * 5];
    for window in [(0, 2), (2, 0), (7, 2), (2, 6)] {
        assert!(
            matches!(max_pool_after_conv(&conv, &x, 2, 6, 5, window), Err(KernelError::InvalidArgument { .. })),
            "{window:?}"
        );
    }
    assert!(matches!(max_pool_after_conv(&conv, &x[1..], 2, 6, 5, (2, 2)), Err(KernelError::LengthMismatch { .. })));
    let (y, dims) = max_pool_after_conv(&conv, &x, 2, 6, 5, (6, 5)).unwrap();
    assert_eq!((y.len(), dims), (2 * 4, (1, 1)));
    assert!(y.iter().all(|&v| v == 4.5), "{y:?}"); // the centre pixels sum 9 taps of 0.5
    let (empty, dims) = max_pool_after_conv(&conv, &[], 0, 6, 5, (2, 2)).unwrap();
    assert_eq!((empty.len(), dims), (0, (3, 2)));
    // A one-pixel input padded to terabytes of output (direct and GEMM paths): an error, not an
    // abort (the fuzzing campaign of 2026-11-28 reached this call).
    for cin in [1, 8] {
        let p = Conv2dParams::new(cin, 64, (1, 1)).padding(Padding::uniform(100_000));
        let conv = Conv2d::new(p, &vec![0.5; 64 * cin], FilterLayout::Oihw, None, Activation::Relu).unwrap();
        let err = max_pool_after_conv(&conv, &vec![1.0; cin], 1, 1, 1, (2, 2)).unwrap_err();
        // (On wasm32 the output's length itself overflows: InvalidGeometry.)
        let refused = matches!(
            err,
            KernelError::AllocationFailed { .. } | KernelError::TooLarge { .. } | KernelError::InvalidGeometry { .. }
        );
        assert!(refused, "C_in {cin}: {err}");
    }
}

/// A NaN in the input makes exactly the outputs whose windows read it NaN, through ReLU and
/// clamp too (NaN propagates through the fused activations), on the direct, depthwise and
/// GEMM paths of every ISA.
#[test]
fn a_nan_in_the_input_reaches_exactly_its_windows() {
    let layers = [
        Conv2dParams::new(1, 16, (3, 3)).padding(Padding::Same),
        Conv2dParams::new(3, 20, (3, 3)).padding(Padding::Same),
        Conv2dParams::new(24, 24, (3, 3)).groups(24).padding(Padding::Same),
        Conv2dParams::new(16, 32, (3, 3)).padding(Padding::Same),
    ];
    for gemm in gemms() {
        for (li, p) in layers.into_iter().enumerate() {
            for act in [Activation::Relu, Activation::RELU6, Activation::Identity] {
                let mut r = Rng::new(70 + li as u64);
                let filter = r.vec(p.filter_len().unwrap());
                let g = p.geometry(2, 9, 11).unwrap();
                let mut input = r.vec(g.input_len().unwrap());
                input[(9 * 11 + 4 * 11 + 6) * p.in_channels + p.in_channels - 1] = f32::NAN; // image 1, (4, 6)
                let conv = Conv2d::with_gemm(gemm, p, &filter, FilterLayout::Oihw, None, act).unwrap();
                let (got, _) = conv.run_to_vec(&input, 2, 9, 11).unwrap();
                let (want, _) = conv2d_reference(&g, &input, &filter, None, None, act);
                for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                    assert_eq!(a.is_nan(), b.is_nan(), "{:?} {p:?} {act:?}: output {i} is {a}, want {b}", gemm.isa());
                }
                assert!(got.iter().any(|v| v.is_nan()), "{p:?}");
            }
        }
    }
}
