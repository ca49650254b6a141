//! Convolution on fuzzer-chosen geometry (kernel, stride, dilation, explicit or same padding,
//! groups, tiny and 1x1 images, batches) on every available ISA against the direct f64
//! convolution of the test kit; impossible geometry must be a typed error, never a panic. Then
//! the convolution followed by a max pool (`max_pool_after_conv`) against the two steps.
#![no_main]

use lanes_kernels::ops::conv::{Conv2d, Conv2dParams, FilterLayout, Padding};
use lanes_kernels::ops::pool::{max_pool_after_conv, Pool2d, Pool2dParams, PoolKind};
use lanes_kernels::{Activation, Gemm, Isa, Parallelism};
use lanes_testkit::{close, conv2d_reference};
use libfuzzer_sys::fuzz_target;

#[path = "common/bytes.rs"]
mod bytes;
use bytes::Bytes;

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    let groups = 1 + b.u8() as usize % 3;
    let cin = groups * (1 + b.u8() as usize % 4);
    let cout = groups * (1 + b.u8() as usize % 4);
    let kernel = (b.u8() as usize % 6, 1 + b.u8() as usize % 5); // kernel height 0 is invalid
    let stride = (b.u8() as usize % 4, 1 + b.u8() as usize % 3); // stride 0 is invalid
    let dilation = (1 + b.u8() as usize % 3, 1 + b.u8() as usize % 2);
    let padding = if b.u8() % 3 == 0 {
        Padding::Same
    } else {
        Padding::Explicit { top: b.u8() as usize % 5, bottom: b.u8() as usize % 5, left: b.u8() as usize % 5, right: b.u8() as usize % 5 }
    };
    let (batch, h, w) = (1 + b.u8() as usize % 2, b.u8() as usize % 12, 1 + b.u8() as usize % 12);
    let act = [Activation::Identity, Activation::Relu, Activation::Gelu][b.u8() as usize % 3];
    let special = b.u8() % 4 == 0;
    let value = |b: &mut Bytes| (b.u8() as f32 - 128.0) / 64.0;
    let p = Conv2dParams::new(cin, cout, kernel).stride(stride.0, stride.1).dilation(dilation.0, dilation.1).padding(padding).groups(groups);
    let Ok(len) = p.filter_len() else { return };
    let filter: Vec<f32> = (0..len).map(|_| value(&mut b)).collect();
    let bias: Vec<f32> = (0..cout).map(|_| value(&mut b)).collect();
    let geometry = p.geometry(batch, h, w);
    for isa in Isa::available() {
        let gemm = Gemm::with_isa(isa).unwrap().parallelism(Parallelism::Sequential);
        let conv = match Conv2d::with_gemm(gemm, p, &filter, FilterLayout::Oihw, Some(&bias), act) {
            Ok(conv) => conv,
            Err(_) => {
                assert!(p.validate().is_err(), "{isa}: valid parameters refused: {p:?}");
                return;
            }
        };
        let Ok(g) = geometry else {
            let input = vec![0.0; batch * h * w * cin];
            assert!(conv.run(&input, batch, h, w, &mut []).is_err(), "{isa}: impossible geometry accepted: {p:?} {h}x{w}");
            continue;
        };
        let input: Vec<f32> = {
            let mut b2 = Bytes(data);
            (0..g.input_len().unwrap()).map(|_| if special { b2.f32() } else { (b2.u8() as f32 - 128.0) / 64.0 }).collect()
        };
        let mut out = vec![f32::NAN; g.output_len().unwrap()];
        conv.run(&input, batch, h, w, &mut out).unwrap();
        let (want, mag) = conv2d_reference(&g, &input, &filter, Some(&bias), None, act);
        let k = (p.kernel.0 * p.kernel.1 * p.in_per_group()) as f32;
        for (i, ((&o, &wv), &m)) in out.iter().zip(&want).zip(&mag).enumerate() {
            let tol = 16.0 * f32::EPSILON * (k + 3.0) * m + 2e-6 * (wv.abs() + 1.0);
            // Terms beyond 1e30 (or overflowing): the summation order decides Inf vs NaN.
            if !(m <= 1e30) {
                continue;
            }
            assert!(close(o, wv, tol), "{isa} {p:?} {batch}x{h}x{w}: output {i} got {o}, want {wv}");
        }
        // Convolution + max pool (fused on the direct path) equals the two steps, value for value.
        let window = (1 + data.len() % 3, 1 + data.len() / 3 % 3);
        let fused = max_pool_after_conv(&conv, &input, batch, h, w, window);
        if window.0 > g.out_h || window.1 > g.out_w {
            assert!(fused.is_err(), "{isa}: window {window:?} over a {}x{} output accepted", g.out_h, g.out_w);
            continue;
        }
        let (fused, dims) = fused.unwrap();
        let pool = Pool2d::with_isa(isa, Pool2dParams::new(PoolKind::Max, cout, window)).unwrap();
        let (want, pg) = pool.run_to_vec(&out, batch, g.out_h, g.out_w).unwrap();
        assert_eq!(dims, (pg.out_h, pg.out_w));
        assert_eq!(fused.len(), want.len());
        for (i, (a, b)) in fused.iter().zip(&want).enumerate() {
            assert!(a == b || (a.is_nan() && b.is_nan()), "{isa} {p:?} {window:?}: pooled {i} fused {a}, two steps {b}");
        }
    }
});
