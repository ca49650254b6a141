//! Depthwise convolution (groups == C_in == C_out) through `Conv2d`, on every ISA this machine
//! runs (or the one `LANES_ISA` forces), against the test kit's direct f64 convolution: the
//! dedicated 3x3 and 5x5 stride 1/2 interiors and the generic one (other sizes, stride 3,
//! dilation), padding larger than the kernel, 1x1 images, every channel count 1..=67 (tails of
//! every vector width), both filter layouts, bias + activations + residual, batches, threads.
//! Also built for wasm32 (browser-bench/scripts/test-wasm.sh).

use lanes_kernels::ops::conv::{Conv2d, Conv2dParams, FilterLayout, Padding};
use lanes_kernels::{Activation, Gemm, KernelError, Parallelism};
use lanes_testkit::{activation_slack, close, conv2d_reference, isas, oihw_to_hwio, Rng, ACTIVATIONS};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

struct Case {
    p: Conv2dParams,
    shape: (usize, usize, usize),
    bias: bool,
    act: Activation,
    residual: bool,
    layout: FilterLayout,
}

fn case(c: usize, k: (usize, usize), shape: (usize, usize, usize)) -> Case {
    Case {
        p: Conv2dParams::new(c, c, k).groups(c),
        shape,
        bias: false,
        act: Activation::Identity,
        residual: false,
        layout: FilterLayout::Oihw,
    }
}

fn check(gemm: Gemm, cs: &Case, seed: u64) {
    let (p, (batch, h, w)) = (cs.p, cs.shape);
    let mut r = Rng::new(seed);
    let filter = r.vec(p.filter_len().unwrap());
    let bias = cs.bias.then(|| r.vec(p.out_channels));
    let g = p.geometry(batch, h, w).unwrap();
    let input = r.vec(g.input_len().unwrap());
    let res = cs.residual.then(|| r.vec(g.output_len().unwrap()));
    let given = match cs.layout {
        FilterLayout::Oihw => filter.clone(),
        FilterLayout::Hwio => oihw_to_hwio(&filter, p.out_channels, 1, p.kernel.0, p.kernel.1),
    };
    let conv = Conv2d::with_gemm(gemm, p, &given, cs.layout, bias.as_deref(), cs.act).unwrap();
    assert!(conv.is_depthwise());
    let mut out = vec![f32::NAN; g.output_len().unwrap()];
    match &res {
        Some(res) => conv.run_with_residual(&input, batch, h, w, res, &mut out).unwrap(),
        None => conv.run(&input, batch, h, w, &mut out).unwrap(),
    };
    let (want, mag) = conv2d_reference(&g, &input, &filter, bias.as_deref(), res.as_deref(), cs.act);
    let k = (p.kernel.0 * p.kernel.1) as f32;
    for (i, ((&got, &want), &mag)) in out.iter().zip(&want).zip(&mag).enumerate() {
        let tol = 16.0 * f32::EPSILON * (k + 3.0) * mag + activation_slack(cs.act) * (want.abs() + 1.0);
        assert!(close(got, want, tol), "{:?} {p:?} {batch}x{h}x{w}: output {i} got {got}, want {want}", gemm.isa());
    }
}

fn gemms() -> Vec<Gemm> {
    isas().into_iter().map(|isa| Gemm::with_isa(isa).unwrap().parallelism(Parallelism::Sequential)).collect()
}

#[test]
fn every_channel_count_on_3x3_and_5x5_stride_1_and_2() {
    for gemm in gemms() {
        for c in 1..=67 {
            for (k, s) in [(3, 1), (3, 2), (5, 1), (5, 2)] {
                let mut cs = case(c, (k, k), (1, 9, 11));
                cs.p = cs.p.stride(s, s).padding(Padding::uniform(k / 2));
                cs.bias = c % 2 == 0;
                check(gemm, &cs, (c * 10 + k + s) as u64);
            }
        }
    }
}

#[test]
fn other_sizes_strides_dilations_and_paddings() {
    let mut cases = [
        case(5, (3, 3), (1, 7, 9)),    // valid: interior only
        case(17, (1, 1), (2, 4, 5)),   // 1x1 depthwise
        case(9, (2, 4), (1, 6, 9)),    // non-square
        case(33, (7, 7), (1, 10, 12)), // 7x7, generic interior
        case(20, (1, 3), (3, 1, 20)),  // conv1d
        case(16, (3, 3), (2, 1, 1)),   // 1x1 image, "same"
        case(19, (3, 3), (1, 13, 14)), // stride 3
        case(24, (3, 3), (1, 12, 12)), // dilation
        case(7, (2, 2), (1, 5, 5)),    // padding > kernel
        case(12, (5, 5), (1, 3, 4)),   // all border
        case(40, (3, 3), (1, 6, 6)),   // asymmetric padding
    ];
    cases[5].p = cases[5].p.padding(Padding::Same);
    cases[6].p = cases[6].p.stride(3, 3).padding(Padding::uniform(1));
    cases[7].p = cases[7].p.dilation(2, 3).padding(Padding::uniform(2));
    cases[8].p = cases[8].p.stride(3, 3).padding(Padding::uniform(4));
    cases[9].p = cases[9].p.padding(Padding::uniform(2));
    cases[10].p = cases[10].p.stride(2, 1).padding(Padding::Explicit { top: 0, bottom: 2, left: 1, right: 0 });
    cases[4].p = cases[4].p.padding(Padding::Explicit { top: 0, bottom: 0, left: 1, right: 1 });
    for gemm in gemms() {
        for (i, cs) in cases.iter_mut().enumerate() {
            cs.bias = false;
            cs.act = Activation::Identity;
            cs.layout = FilterLayout::Oihw;
            check(gemm, cs, i as u64);
            cs.bias = true;
            cs.act = Activation::Relu;
            cs.layout = FilterLayout::Hwio;
            check(gemm, cs, 100 + i as u64);
        }
    }
}

#[test]
fn bias_activation_and_residual_are_fused() {
    for gemm in gemms() {
        for act in ACTIVATIONS {
            for (c, k) in [(21, 3), (35, 5), (6, 4)] {
                let mut cs = case(c, (k, k), (2, 8, 7));
                cs.p = cs.p.padding(Padding::Same);
                cs.bias = true;
                cs.act = act;
                cs.residual = true;
                check(gemm, &cs, (c + k) as u64);
            }
        }
    }
}

#[test]
fn layers_of_mobilenet() {
    for gemm in gemms() {
        for (c, s, hw) in [(32, 1, 28), (96, 2, 28), (144, 1, 14), (67, 2, 15)] {
            let mut cs = case(c, (3, 3), (1, hw, hw));
            cs.p = cs.p.stride(s, s).padding(Padding::Same);
            cs.bias = true;
            cs.act = Activation::RELU6;
            check(gemm, &cs, c as u64);
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn threads_match_the_reference() {
    rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap().install(|| {
        for isa in isas() {
            let gemm = Gemm::with_isa(isa).unwrap().parallelism(Parallelism::Rayon);
            let mut cs = case(37, (3, 3), (3, 13, 10));
            cs.p = cs.p.padding(Padding::uniform(1));
            cs.bias = true;
            cs.residual = true;
            cs.act = Activation::Relu;
            check(gemm, &cs, 77);
        }
    });
}

#[test]
fn bad_input_is_a_typed_error() {
    let p = Conv2dParams::new(4, 4, (3, 3)).groups(4);
    let filter = vec![0.0; p.filter_len().unwrap()];
    let conv = Conv2d::new(p, &filter, FilterLayout::Oihw, None, Activation::Identity).unwrap();
    assert!(conv.is_depthwise());
    let mut out = vec![0.0; 4];
    assert!(matches!(
        conv.run(&[0.0; 2 * 2 * 4], 1, 2, 2, &mut out),
        Err(KernelError::InvalidGeometry { param, value: 3 }) if param.starts_with("kernel height")
    ));
    assert!(matches!(
        conv.run(&[0.0; 35], 1, 3, 3, &mut out[..4]),
        Err(KernelError::LengthMismatch { expected: 36, found: 35, .. })
    ));
    assert!(matches!(
        conv.run(&[0.0; 36], 1, 3, 3, &mut out[..3]),
        Err(KernelError::LengthMismatch { expected: 4, found: 3, .. })
    ));
    assert!(matches!(
        conv.run_with_residual(&[0.0; 36], 1, 3, 3, &[0.0; 5], &mut out[..4]),
        Err(KernelError::LengthMismatch { what: "residual", expected: 4, found: 5 })
    ));
    assert!(matches!(
        Conv2d::new(p, &filter[1..], FilterLayout::Oihw, None, Activation::Identity),
        Err(KernelError::LengthMismatch { what: "filter", .. })
    ));
    assert!(matches!(
        Conv2d::new(p.stride(1, 0), &filter, FilterLayout::Oihw, None, Activation::Identity),
        Err(KernelError::InvalidGeometry { param: "stride width", value: 0 })
    ));
    assert!(matches!(
        Conv2d::new(p, &filter, FilterLayout::Oihw, Some(&[0.0; 3]), Activation::Identity),
        Err(KernelError::LengthMismatch { what: "bias", expected: 4, found: 3 })
    ));
}

/// Found by the `api_no_panic` fuzz target: an empty batch with a huge width used to allocate a
/// per-column table for it before noticing there was nothing to compute (capacity overflow).
#[test]
fn an_empty_batch_of_huge_images_is_fine() {
    for gemm in gemms() {
        let p = Conv2dParams::new(4, 4, (3, 3)).groups(4).padding(Padding::uniform(1));
        let conv = Conv2d::with_gemm(gemm, p, &[0.5; 36], FilterLayout::Oihw, None, Activation::Relu).unwrap();
        assert!(conv.is_depthwise());
        let g = conv.run(&[], 0, 3, usize::MAX / 16, &mut []).unwrap();
        assert_eq!((g.out_h, g.out_w), (3, usize::MAX / 16));
        conv.run_with_residual(&[], 0, usize::MAX / 16, 5, &[], &mut []).unwrap();
    }
}

/// Found by the `api_no_panic` fuzz target: a 1-tall or 1-wide depthwise kernel with a huge
/// dilation on that axis (valid: the dilated extent is still 1) overflowed computing the
/// interior loop's row step.
#[test]
fn a_huge_dilation_on_a_size_1_kernel_axis_is_fine() {
    for gemm in gemms() {
        for (kernel, dilation) in
            [((1, 3), (usize::MAX / 2, 1)), ((3, 1), (1, usize::MAX / 3)), ((1, 1), (usize::MAX, usize::MAX))]
        {
            let p = Conv2dParams::new(8, 8, kernel).groups(8).dilation(dilation.0, dilation.1);
            let filter: Vec<f32> = (0..p.filter_len().unwrap()).map(|i| i as f32 * 0.25).collect();
            let conv = Conv2d::with_gemm(gemm, p, &filter, FilterLayout::Oihw, None, Activation::Identity).unwrap();
            let (batch, h, w) = (2, 4, 5);
            let g = conv.geometry(batch, h, w).unwrap();
            let input: Vec<f32> = (0..g.input_len().unwrap()).map(|i| (i % 7) as f32 - 3.0).collect();
            let mut out = vec![f32::NAN; g.output_len().unwrap()];
            conv.run(&input, batch, h, w, &mut out).unwrap();
            let (want, _) = conv2d_reference(&g, &input, &filter, None, None, Activation::Identity);
            assert_eq!(out, want, "{kernel:?} dilation {dilation:?}");
        }
    }
}

/// Found by the `api_no_panic` fuzz target (2026-11-28 campaign): a depthwise convolution with
/// a huge horizontal stride (valid: one output column, or a second one made only of padding)
/// overflowed computing the interior loop's pixel step `stride * C`, a panic in debug builds.
#[test]
fn a_huge_horizontal_stride_is_fine() {
    for gemm in gemms() {
        for (stride, right) in [(usize::MAX / 2, 0), (usize::MAX / 4, usize::MAX / 4), (usize::MAX, 0)] {
            for kernel in [(3, 3), (1, 2), (2, 1)] {
                let p = Conv2dParams::new(8, 8, kernel).groups(8).stride(1, stride).padding(Padding::Explicit {
                    top: 0,
                    bottom: 0,
                    left: 0,
                    right,
                });
                let filter: Vec<f32> = (0..p.filter_len().unwrap()).map(|i| i as f32 * 0.25).collect();
                let conv = Conv2d::with_gemm(gemm, p, &filter, FilterLayout::Oihw, None, Activation::Identity).unwrap();
                let (batch, h, w) = (2, 4, 5);
                let g = conv.geometry(batch, h, w).unwrap();
                let input: Vec<f32> = (0..g.input_len().unwrap()).map(|i| (i % 7) as f32 - 3.0).collect();
                let mut out = vec![f32::NAN; g.output_len().unwrap()];
                conv.run(&input, batch, h, w, &mut out).unwrap();
                let (want, _) = conv2d_reference(&g, &input, &filter, None, None, Activation::Identity);
                assert_eq!(out, want, "{kernel:?} stride {stride} right padding {right} (out_w {})", g.out_w);
            }
        }
    }
}
