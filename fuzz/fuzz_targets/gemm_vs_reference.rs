//! Every available ISA, with B as given and prepacked, against the f64 reference on
//! fuzzer-chosen shapes, strides (including negative), alpha/beta, bias and activation, with
//! arbitrary f32 data (NaN, Inf, subnormals).
#![no_main]

use lanes_testkit::{bound, close, gemm_reference};
use lanes_kernels::{Activation, Epilogue, Gemm, Isa, MatMut, MatRef, Parallelism};
use libfuzzer_sys::fuzz_target;

#[path = "common/bytes.rs"]
mod bytes;
use bytes::Bytes;

/// (buffer length, offset, row stride, column stride) for an `r x c` view of a given layout.
fn layout(kind: u8, r: usize, c: usize) -> (usize, usize, isize, isize) {
    match kind % 4 {
        0 => (r * c, 0, c as isize, 1),
        1 => (r * c, 0, 1, r as isize),
        2 => (r * (2 * c + 1) + 1, 0, (2 * c + 1) as isize, 2),
        _ => (r * c, (r * c).saturating_sub(1), -(c as isize), -1),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    // k up to 699: two depth blocks of every kernel (KC 256-576 on the CPU tiers).
    let (m, n) = (b.u8() as usize % 40, b.u8() as usize % 70);
    let k = b.u16() as usize % 700;
    let (la, lb, lc) = (b.u8(), b.u8(), b.u8());
    let alpha = [0.0, 1.0, -0.5, 2.0][b.u8() as usize % 4];
    let beta = [0.0, 1.0, -0.5, 2.0][b.u8() as usize % 4];
    let act = [
        Activation::Identity,
        Activation::Relu,
        Activation::RELU6,
        Activation::Gelu,
        Activation::Silu,
        Activation::GeluErf,
    ][b.u8() as usize % 6];
    let use_bias = b.u8() % 2 == 1;
    let special = b.u8() % 4 == 0; // sometimes raw bytes as floats (NaN, Inf, huge)
    let value = |b: &mut Bytes| if special { b.f32() } else { (b.u8() as f32 - 128.0) / 64.0 };
    let ga = layout(la, m, k);
    let gb = layout(lb, k, n);
    let gc = layout(lc, m, n);
    let a: Vec<f32> = (0..ga.0).map(|_| value(&mut b)).collect();
    let bm: Vec<f32> = (0..gb.0).map(|_| value(&mut b)).collect();
    let c0: Vec<f32> = (0..gc.0).map(|_| value(&mut b)).collect();
    let bias: Vec<f32> = (0..n).map(|_| value(&mut b)).collect();
    let epi = Epilogue::new(use_bias.then_some(&bias[..]), act);
    let av = MatRef::with_offset(&a, ga.1, m, k, ga.2, ga.3).unwrap();
    let bv = MatRef::with_offset(&bm, gb.1, k, n, gb.2, gb.3).unwrap();

    let mut want = c0.clone();
    gemm_reference(alpha, av, bv, beta, MatMut::with_offset(&mut want, gc.1, m, n, gc.2, gc.3).unwrap(), &epi);
    let c0v = MatRef::with_offset(&c0, gc.1, m, n, gc.2, gc.3).unwrap();
    let wv = MatRef::with_offset(&want, gc.1, m, n, gc.2, gc.3).unwrap();
    let check = |got: &[f32], what: &str| {
        let gv = MatRef::with_offset(got, gc.1, m, n, gc.2, gc.3).unwrap();
        for i in 0..m {
            for j in 0..n {
                let (x, y) = (gv.get(i, j), wv.get(i, j));
                let tol = bound(alpha, av, bv, beta, &c0v, epi.bias, i, j) * 4.0 + 2e-6 * y.abs();
                // Terms beyond 1e30 (or overflowing): the summation order decides Inf vs NaN.
                if !(tol <= 4.0 * f32::EPSILON * (k as f32 + 2.0) * 1e30) {
                    continue;
                }
                let ok = close(x, y, tol);
                assert!(ok, "{what} {m}x{n}x{k} layouts {la}/{lb}/{lc} alpha {alpha} beta {beta} {act:?}: ({i},{j}) got {x}, want {y}");
            }
        }
    };
    for isa in Isa::available() {
        let g = Gemm::with_isa(isa).unwrap().parallelism(Parallelism::Sequential);
        let mut got = c0.clone();
        g.run_fused(alpha, av, bv, beta, MatMut::with_offset(&mut got, gc.1, m, n, gc.2, gc.3).unwrap(), &epi)
            .unwrap();
        check(&got, &format!("{isa}"));
        // B prepacked (panels, or column by column when n <= 3).
        let packed = g.pack_b(bv).unwrap();
        let mut got = c0.clone();
        g.run_packed(alpha, av, &packed, beta, MatMut::with_offset(&mut got, gc.1, m, n, gc.2, gc.3).unwrap(), &epi)
            .unwrap();
        check(&got, &format!("{isa} packed"));
    }
});
