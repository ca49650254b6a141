//! Max, average and global average pooling on every ISA this machine runs (or the one
//! `LANES_ISA` forces) against the test kit's f64 references: window sizes, strides smaller,
//! equal to and larger than the window, explicit and "same" padding, both `count_include_pad`
//! choices, channel counts 1..=67, batches, 1x1 images; and the typed errors. Also built for
//! wasm32 (browser-bench/scripts/test-wasm.sh).

use lanes_kernels::ops::conv::Padding;
use lanes_kernels::ops::pool::{global_avg_pool_with_isa, Pool2d, Pool2dParams, PoolKind};
use lanes_kernels::{Isa, KernelError};
use lanes_testkit::{close, global_avg_pool_reference, isas, pool2d_reference, Rng};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const KINDS: [PoolKind; 3] =
    [PoolKind::Max, PoolKind::Avg { count_include_pad: false }, PoolKind::Avg { count_include_pad: true }];

fn check(isa: Isa, p: Pool2dParams, (batch, h, w): (usize, usize, usize), seed: u64) {
    let mut r = Rng::new(seed);
    let g = p.geometry(batch, h, w).unwrap();
    let input = r.vec(g.input_len().unwrap());
    let mut out = vec![f32::NAN; g.output_len().unwrap()];
    let pool = Pool2d::with_isa(isa, p).unwrap();
    pool.run(&input, batch, h, w, &mut out).unwrap();
    let (fresh, g2) = pool.run_to_vec(&input, batch, h, w).unwrap();
    assert_eq!(g2, g);
    assert_eq!(fresh.len(), out.len());
    assert!(fresh.iter().zip(&out).all(|(a, b)| a.to_bits() == b.to_bits()), "{p:?}: run_to_vec differs from run");
    let avg = match p.kind {
        PoolKind::Max => None,
        PoolKind::Avg { count_include_pad } => Some(count_include_pad),
    };
    let want = pool2d_reference(&g, &input, avg);
    let taps = (p.kernel.0 * p.kernel.1) as f32;
    for (i, (&got, &want)) in out.iter().zip(&want).enumerate() {
        let tol = if avg.is_some() { 4.0 * f32::EPSILON * (taps + 2.0) } else { 0.0 };
        assert!(close(got, want, tol), "{isa:?} {p:?} {batch}x{h}x{w}: output {i} got {got}, want {want}");
    }
}

#[test]
fn every_channel_count_and_kind() {
    for isa in isas() {
        for c in 1..=67 {
            for kind in KINDS {
                check(isa, Pool2dParams::new(kind, c, (2, 2)), (1, 6, 7), c as u64);
                let p = Pool2dParams::new(kind, c, (3, 3)).stride(2, 2).padding(Padding::uniform(1));
                check(isa, p, (1, 7, 6), 100 + c as u64);
            }
        }
    }
}

#[test]
fn nan_in_a_max_window_gives_nan() {
    // 2x2 windows over a 4x4 image, 35 channels (full vectors and a tail on every ISA): a NaN
    // first, last, or alone among +-Inf in its window; the other windows stay finite.
    let c = 35;
    for isa in isas() {
        for (pixel, ch) in [(0, 0), (5, 17), (15, 34), (10, 16)] {
            let mut input: Vec<f32> = (0..16 * c).map(|i| (i % 7) as f32 - 3.0).collect();
            input[2 * c + 3] = f32::INFINITY; // pixel (0, 2)
            input[8 * c + 16] = f32::NEG_INFINITY; // pixel (2, 0)
            input[pixel * c + ch] = f32::NAN;
            let mut out = vec![0.0f32; 4 * c];
            Pool2d::with_isa(isa, Pool2dParams::new(PoolKind::Max, c, (2, 2)))
                .unwrap()
                .run(&input, 1, 4, 4, &mut out)
                .unwrap();
            let (y, x) = (pixel / 4, pixel % 4);
            let window = (y / 2) * 2 + x / 2;
            for (i, v) in out.iter().enumerate() {
                assert_eq!(
                    v.is_nan(),
                    i == window * c + ch,
                    "{isa:?}: NaN at pixel {pixel} channel {ch}, output {i} = {v}"
                );
            }
            assert_eq!(out[c + 3], f32::INFINITY, "{isa:?}");
        }
    }
}

#[test]
fn windows_strides_and_paddings() {
    let shapes: Vec<(Pool2dParams, (usize, usize, usize))> = vec![
        (Pool2dParams::new(PoolKind::Max, 8, (3, 3)).stride(1, 1).padding(Padding::Same), (2, 5, 6)),
        (Pool2dParams::new(PoolKind::Max, 5, (2, 3)).stride(3, 4), (1, 9, 13)), // stride > window
        (
            Pool2dParams::new(PoolKind::Max, 19, (3, 2)).stride(2, 1).padding(Padding::Explicit {
                top: 2,
                bottom: 0,
                left: 0,
                right: 1,
            }),
            (3, 5, 4),
        ),
        (Pool2dParams::new(PoolKind::Max, 33, (7, 7)), (1, 7, 7)), // one window
        (Pool2dParams::new(PoolKind::Max, 16, (3, 3)).padding(Padding::Same), (1, 1, 1)), // 1x1 image
        (Pool2dParams::new(PoolKind::Max, 64, (3, 3)).stride(2, 2).padding(Padding::uniform(1)), (1, 16, 16)),
    ];
    for isa in isas() {
        for (i, &(p, shape)) in shapes.iter().enumerate() {
            for kind in KINDS {
                check(isa, Pool2dParams { kind, ..p }, shape, i as u64);
            }
        }
    }
}

#[test]
fn global_average_pool() {
    for isa in isas() {
        for (batch, pixels, c) in [(1, 1, 1), (2, 49, 67), (1, 9, 16), (3, 7, 8), (1, 196, 33), (2, 3, 1)] {
            let mut r = Rng::new((batch * pixels * c) as u64);
            let input = r.vec(batch * pixels * c);
            let mut out = vec![f32::NAN; batch * c];
            global_avg_pool_with_isa(isa, &input, batch, pixels, c, &mut out).unwrap();
            let want = global_avg_pool_reference(&input, batch, pixels, c);
            for (i, (&got, &want)) in out.iter().zip(&want).enumerate() {
                assert!(close(got, want, 4.0 * f32::EPSILON * (pixels as f32 + 2.0)), "{isa:?} {i}: {got} vs {want}");
            }
        }
    }
}

#[test]
fn bad_input_is_a_typed_error() {
    let geometry_err = |p: Pool2dParams, h, w| match p.geometry(1, h, w) {
        Err(KernelError::InvalidGeometry { param, value }) => (param, value),
        other => panic!("expected InvalidGeometry, got {other:?}"),
    };
    let p = Pool2dParams::new(PoolKind::Max, 4, (3, 3));
    assert_eq!(geometry_err(p.stride(0, 1), 5, 5), ("stride height", 0));
    assert_eq!(geometry_err(p, 2, 5), ("kernel height (dilated, larger than the padded input)", 3));
    assert_eq!(geometry_err(p.padding(Padding::uniform(3)), 5, 5), ("padding top (not smaller than the window)", 3));
    assert!(matches!(
        Pool2d::new(Pool2dParams::new(PoolKind::Max, 0, (2, 2))),
        Err(KernelError::InvalidGeometry { param: "channels", value: 0 })
    ));
    let pool = Pool2d::new(p).unwrap();
    let mut out = vec![0.0; 4];
    assert!(matches!(
        pool.run(&[0.0; 35], 1, 3, 3, &mut out[..4]),
        Err(KernelError::LengthMismatch { expected: 36, found: 35, .. })
    ));
    assert!(matches!(
        pool.run(&[0.0; 36], 1, 3, 3, &mut out[..3]),
        Err(KernelError::LengthMismatch { expected: 4, found: 3, .. })
    ));
    let isa = Isa::Scalar;
    assert!(matches!(
        global_avg_pool_with_isa(isa, &[0.0; 8], 1, 0, 8, &mut out),
        Err(KernelError::InvalidGeometry { param: "pixels", value: 0 })
    ));
    assert!(matches!(
        global_avg_pool_with_isa(isa, &[0.0; 8], 1, 2, 4, &mut out[..3]),
        Err(KernelError::LengthMismatch { expected: 4, found: 3, .. })
    ));
    #[cfg(not(target_arch = "wasm32"))]
    assert!(matches!(Pool2d::with_isa(Isa::WasmRelaxed, p), Err(KernelError::IsaUnavailable { isa: "relaxed" })));
}

/// Found by the `api_no_panic` fuzz target: an empty batch with a huge width used to allocate
/// per-column tables for it (a capacity-overflow panic), and an empty image (zero height or
/// width) with padding used to read the empty input (every window was padding only).
#[test]
fn empty_batches_run_and_empty_images_are_errors() {
    for isa in isas() {
        let p = Pool2dParams::new(PoolKind::Max, 3, (2, 2)).stride(1, 1);
        let pool = Pool2d::with_isa(isa, p).unwrap();
        let g = pool.run(&[], 0, 4, usize::MAX / 8, &mut []).unwrap();
        assert_eq!((g.batch, g.out_h, g.out_w), (0, 3, usize::MAX / 8 - 1));
        for kind in KINDS {
            for padding in [Padding::uniform(1), Padding::Same] {
                let p = Pool2dParams::new(kind, 3, (2, 2)).padding(padding);
                let pool = Pool2d::with_isa(isa, p).unwrap();
                let mut out = [7.0f32; 3];
                for (h, w, param) in [(0, 2, "input height"), (2, 0, "input width"), (0, 0, "input height")] {
                    assert_eq!(p.geometry(1, h, w), Err(KernelError::InvalidGeometry { param, value: 0 }));
                    assert_eq!(pool.run(&[], 1, h, w, &mut out), Err(KernelError::InvalidGeometry { param, value: 0 }));
                    assert_eq!(out, [7.0; 3], "nothing written");
                }
            }
        }
    }
}
