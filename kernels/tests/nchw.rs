//! NCHW <-> NHWC conversion and batch-norm folding: round trips against the index formula,
//! and a folded convolution against the convolution followed by the batch norm (f64 reference
//! on both sides). Also built for wasm32 (browser-bench/scripts/test-wasm.sh).

use lanes_kernels::ops::conv::{Conv2d, Conv2dParams, FilterLayout, Padding};
use lanes_kernels::ops::layout::{fold_batch_norm, nchw_to_nhwc, nhwc_to_nchw, BatchNorm};
use lanes_kernels::{Activation, KernelError};
use lanes_testkit::{close, conv2d_reference, Rng};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

#[test]
fn nchw_and_nhwc_round_trip() {
    for (n, c, h, w) in [(1, 1, 1, 1), (2, 3, 4, 5), (1, 17, 19, 3), (3, 40, 1, 33), (1, 64, 8, 8)] {
        let x: Vec<f32> = (0..n * c * h * w).map(|i| i as f32).collect();
        let mut nhwc = vec![f32::NAN; x.len()];
        nchw_to_nhwc(&x, n, c, h, w, &mut nhwc).unwrap();
        for b in 0..n {
            for ch in 0..c {
                for y in 0..h {
                    for xx in 0..w {
                        assert_eq!(nhwc[((b * h + y) * w + xx) * c + ch], x[((b * c + ch) * h + y) * w + xx]);
                    }
                }
            }
        }
        let mut back = vec![f32::NAN; x.len()];
        nhwc_to_nchw(&nhwc, n, c, h, w, &mut back).unwrap();
        assert_eq!(back, x);
    }
    let mut out = [0.0; 5];
    assert!(matches!(
        nchw_to_nhwc(&[0.0; 6], 1, 2, 3, 1, &mut out),
        Err(KernelError::LengthMismatch { expected: 6, found: 5, .. })
    ));
    assert!(matches!(
        nhwc_to_nchw(&[0.0; 5], 1, 2, 3, 1, &mut out),
        Err(KernelError::LengthMismatch { expected: 6, found: 5, .. })
    ));
}

#[test]
fn folded_batch_norm_matches_conv_then_batch_norm() {
    for (cin, cout, groups, bias) in [(3, 8, 1, true), (4, 6, 2, false), (5, 5, 5, true)] {
        let mut r = Rng::new((cin * cout) as u64);
        let p = Conv2dParams::new(cin, cout, (3, 3)).groups(groups).padding(Padding::uniform(1));
        let filter = r.vec(p.filter_len().unwrap());
        let b = bias.then(|| r.vec(cout));
        let gamma = r.vec(cout);
        let beta = r.vec(cout);
        let mean = r.vec(cout);
        let var: Vec<f32> = r.vec(cout).iter().map(|v| v.abs() + 0.1).collect();
        let bn = BatchNorm { gamma: &gamma, beta: &beta, mean: &mean, var: &var, eps: 1e-5 };
        let (wf, bf) = fold_batch_norm(&filter, cout, b.as_deref(), &bn).unwrap();
        let (batch, h, w) = (2, 5, 6);
        let g = p.geometry(batch, h, w).unwrap();
        let input = r.vec(g.input_len().unwrap());
        // conv then batch norm, in f64 after the reference conv.
        let (conv, _) = conv2d_reference(&g, &input, &filter, b.as_deref(), None, Activation::Identity);
        let conv_f = Conv2d::new(p, &wf, FilterLayout::Oihw, Some(&bf), Activation::Identity).unwrap();
        let mut got = vec![f32::NAN; g.output_len().unwrap()];
        conv_f.run(&input, batch, h, w, &mut got).unwrap();
        for (i, (&got, &y)) in got.iter().zip(&conv).enumerate() {
            let o = i % cout;
            let want = gamma[o] as f64 * (y as f64 - mean[o] as f64) / (var[o] as f64 + 1e-5).sqrt() + beta[o] as f64;
            assert!(close(got, want as f32, 1e-4 * (1.0 + want.abs() as f32)), "{i}: {got} vs {want}");
        }
    }
}

/// Found by the `api_no_panic` fuzz target: with no images, the size of one image may overflow
/// (the tensor's length, 0, does not); that used to panic on the multiplication.
#[test]
fn an_empty_batch_of_huge_images_converts_to_nothing() {
    let big = usize::MAX / 2;
    nchw_to_nhwc(&[], 0, 3, big, 5, &mut []).unwrap();
    nhwc_to_nchw(&[], 0, big, 4, big, &mut []).unwrap();
    assert!(matches!(nchw_to_nhwc(&[], 1, 3, big, 5, &mut []), Err(KernelError::InvalidGeometry { .. })));
}

#[test]
fn batch_norm_folding_rejects_bad_input() {
    let v = [1.0f32; 2];
    let bn = BatchNorm { gamma: &v, beta: &v, mean: &v, var: &v, eps: 1e-5 };
    assert!(matches!(fold_batch_norm(&[0.0; 5], 2, None, &bn), Err(KernelError::LengthMismatch { found: 5, .. })));
    assert!(matches!(
        fold_batch_norm(&[0.0; 4], 2, Some(&[0.0; 3]), &bn),
        Err(KernelError::LengthMismatch { what: "bias", expected: 2, found: 3 })
    ));
    let short = [1.0f32; 1];
    assert!(matches!(
        fold_batch_norm(&[0.0; 4], 2, None, &BatchNorm { var: &short, ..bn }),
        Err(KernelError::LengthMismatch { what: "running var", .. })
    ));
    let neg = [-1.0f32; 2];
    assert!(matches!(
        fold_batch_norm(&[0.0; 4], 2, None, &BatchNorm { var: &neg, ..bn }),
        Err(KernelError::InvalidArgument { .. })
    ));
    assert!(matches!(
        fold_batch_norm(&[0.0; 4], 0, None, &bn),
        Err(KernelError::InvalidGeometry { param: "out_channels", value: 0 })
    ));
}
