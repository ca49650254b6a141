//! The GEMM suite on wasm: every ISA of this build (scalar, portable, and simd128 and/or
//! relaxed-simd by target features) against the f64 reference: every subtile, depths around
//! KC, blocks beyond MC/NC, strided and reversed views, alpha/beta with NaN-poisoned C, the
//! fused epilogue, packed B, the M = 1 (GEMV) path and writes confined to C's view.
//! Run in Node and in headless Chromium by browser-bench/scripts/test-wasm.sh.
#![cfg(target_arch = "wasm32")]

#[path = "../../kernels/tests/common/mod.rs"]
mod common;

use common::*;
use lanes_kernels::{Activation, Epilogue, Gemm, Isa, MatMut, MatRef, MicroKernel, Parallelism};
use wasm_bindgen_test::wasm_bindgen_test;

fn gemm(isa: Isa) -> Gemm {
    Gemm::with_isa(isa).unwrap().parallelism(Parallelism::Sequential)
}

/// One case (see `common::check_case`) on this build's kernel for `isa`, one thread.
#[allow(clippy::too_many_arguments)]
fn check(
    isa: Isa,
    m: usize,
    n: usize,
    k: usize,
    la: Layout,
    lb: Layout,
    lc: Layout,
    alpha: f32,
    beta: f32,
    epi: &Epilogue<'_>,
    seed: u64,
) {
    check_case(&gemm(isa), (m, n, k), alpha, beta, (la, lb, lc), epi, seed);
}

fn plain(isa: Isa, m: usize, n: usize, k: usize, seed: u64) {
    let rm = Layout::RowMajor;
    check(isa, m, n, k, rm, rm, rm, 1.0, 0.0, &Epilogue::NONE, seed);
}

#[wasm_bindgen_test]
fn the_build_has_the_kernels_its_target_features_promise() {
    let have = Isa::available();
    assert_eq!(have.contains(&Isa::WasmSimd128), cfg!(target_feature = "simd128"));
    assert_eq!(have.contains(&Isa::WasmRelaxed), cfg!(target_feature = "relaxed-simd"));
    let best = Isa::best();
    if cfg!(target_feature = "relaxed-simd") {
        assert_eq!(best, Isa::WasmRelaxed);
        assert_eq!(MicroKernel::for_isa(best).unwrap().name, "sgemm_6x8_wasm_relaxed");
    } else if cfg!(target_feature = "simd128") {
        assert_eq!(best, Isa::WasmSimd128);
    }
    assert!(Isa::Avx2.require().is_err());
}

#[wasm_bindgen_test]
fn every_subtile_up_to_two_tiles() {
    for isa in isas() {
        let kern = MicroKernel::for_isa(isa).unwrap();
        let (mr, nr) = (kern.mr, kern.nr);
        for m in 1..=2 * mr + 1 {
            for n in 1..=2 * nr + 1 {
                for k in [1, 3, 8] {
                    plain(isa, m, n, k, (m * 1000 + n * 10 + k) as u64);
                }
            }
        }
    }
}

#[wasm_bindgen_test]
fn depths_around_kc_and_primes() {
    for isa in isas() {
        let kc = MicroKernel::for_isa(isa).unwrap().kc;
        for k in [0, 1, 2, 5, 7, 13, kc - 1, kc, kc + 1, 2 * kc + 3] {
            for (m, n) in [(1, 1), (7, 11), (13, 29), (5, 37)] {
                plain(isa, m, n, k, (k * 7 + m * 3 + n) as u64);
            }
        }
    }
}

#[wasm_bindgen_test]
fn blocks_larger_than_mc_and_nc() {
    for isa in isas() {
        let kern = MicroKernel::for_isa(isa).unwrap();
        plain(isa, kern.mc + 3, 19, 33, 1);
        plain(isa, 6, kern.nc + 9, 17, 2);
        plain(isa, 67, 131, kern.kc + 41, 3);
    }
}

#[wasm_bindgen_test]
fn strided_transposed_and_reversed_views() {
    for isa in isas() {
        for (i, &la) in LAYOUTS.iter().enumerate() {
            for (j, &lb) in LAYOUTS.iter().enumerate() {
                for (l, &lc) in LAYOUTS.iter().enumerate() {
                    let seed = (i * 16 + j * 4 + l) as u64;
                    check(isa, 11, 19, 23, la, lb, lc, 1.0, 0.0, &Epilogue::NONE, seed);
                    check(isa, 1, 37, 9, la, lb, lc, 0.5, 2.0, &Epilogue::NONE, seed + 100);
                }
            }
        }
    }
}

#[wasm_bindgen_test]
fn alpha_beta_with_nan_poisoned_c() {
    let rm = Layout::RowMajor;
    for isa in isas() {
        for (alpha, beta) in [(1.0, 0.0), (0.5, 0.0), (-2.0, 0.0), (1.0, 1.0), (-1.5, 0.25), (0.0, 0.5), (0.0, 0.0)] {
            for (m, n, k) in [(4, 8, 5), (9, 17, 31), (1, 70, 12)] {
                check(isa, m, n, k, rm, rm, rm, alpha, beta, &Epilogue::NONE, (m + n + k) as u64);
            }
        }
        // beta = 0 never reads C: NaN in C cannot leak into the result.
        let (m, n, k) = (13, 21, 7);
        let mut rng = Rng::new(5);
        let (a, b) = (rng.vec(m * k), rng.vec(k * n));
        let mut c = vec![f32::NAN; m * n];
        gemm(isa)
            .run(
                1.0,
                MatRef::row_major(&a, m, k).unwrap(),
                MatRef::row_major(&b, k, n).unwrap(),
                0.0,
                MatMut::row_major(&mut c, m, n).unwrap(),
            )
            .unwrap();
        assert!(c.iter().all(|x| x.is_finite()), "{isa}: NaN leaked from C with beta = 0");
    }
}

#[wasm_bindgen_test]
fn fused_bias_and_every_activation() {
    let rm = Layout::RowMajor;
    let acts = [
        Activation::Identity,
        Activation::Relu,
        Activation::RELU6,
        Activation::Clamp { min: -0.25, max: 0.5 },
        Activation::Gelu,
        Activation::Silu,
    ];
    for isa in isas() {
        for act in acts {
            for (m, n, k) in [(5, 13, 9), (1, 40, 3), (1, 77, 37), (8, 16, 300)] {
                let bias: Vec<f32> = Rng::new(n as u64).vec(n);
                check(isa, m, n, k, rm, rm, rm, 1.0, 0.0, &Epilogue::new(Some(&bias), act), k as u64);
                check(isa, m, n, k, rm, rm, rm, 0.75, 0.5, &Epilogue::new(None, act), k as u64 + 1);
            }
        }
    }
}

#[wasm_bindgen_test]
fn packed_b_matches_the_reference() {
    let rm = Layout::RowMajor;
    for isa in isas() {
        let g = gemm(isa);
        for (m, n, k) in [(1, 3072 / 16, 96), (7, 29, 300), (33, 64, 17), (1, 1, 1)] {
            let mut rng = Rng::new((m * n * k) as u64);
            let (a, b) = (rng.vec(m * k), rng.vec(k * n));
            let mut c = vec![f32::NAN; m * n];
            let pb = g.pack_b(MatRef::row_major(&b, k, n).unwrap()).unwrap();
            g.run_packed(
                1.0,
                MatRef::row_major(&a, m, k).unwrap(),
                &pb,
                0.0,
                MatMut::row_major(&mut c, m, n).unwrap(),
                &Epilogue::NONE,
            )
            .unwrap();
            let c0 = vec![f32::NAN; m * n];
            assert_close(
                &format!("{isa} packed {m}x{n}x{k}"),
                1.0,
                view(&a, rm, m, k),
                view(&b, rm, k, n),
                0.0,
                view(&c0, rm, m, n),
                view(&c, rm, m, n),
                &Epilogue::NONE,
                0.0,
            );
        }
    }
}

#[wasm_bindgen_test]
fn gemv_rows_stream_b() {
    for isa in isas() {
        for n in [1, 7, 8, 31, 32, 33, 64, 100, 257] {
            for k in [1, 4, 5, 300] {
                plain(isa, 1, n, k, (n * 31 + k) as u64);
            }
        }
    }
}

#[wasm_bindgen_test]
fn partial_tiles_and_gemv_leave_c_padding_untouched() {
    // Row-major C with padding between rows: edge tiles and the GEMV (rows streamed, then the
    // epilogue as a k = 1 product) must write exactly the view (check_case compares every
    // element outside it bit for bit).
    let (rm, padded) = (Layout::RowMajor, Layout::Padded { pad: 9, cs: 1 });
    for isa in isas() {
        let nr = MicroKernel::for_isa(isa).unwrap().nr;
        for n in [1, nr - 1, nr + 1, 2 * nr + 3, 100] {
            let bias: Vec<f32> = Rng::new(n as u64).vec(n);
            check(isa, 7, n, 19, rm, rm, padded, 1.5, 0.0, &Epilogue::new(Some(&bias), Activation::Relu), 50);
            check(isa, 7, n, 19, rm, rm, padded, 1.0, 0.5, &Epilogue::NONE, 51);
        }
        for n in [33, 100, 300] {
            check(isa, 1, n, 37, rm, rm, padded, 1.0, 0.5, &Epilogue::NONE, 52);
        }
    }
}

#[wasm_bindgen_test]
fn special_values_propagate_like_the_reference() {
    let rm = Layout::RowMajor;
    for isa in isas() {
        let (m, n, k) = (6, 20, 9);
        let mut rng = Rng::new(9);
        let mut a = rng.vec(m * k);
        let b = rng.vec(k * n);
        a[2 * k + 3] = f32::NAN;
        a[4 * k] = f32::INFINITY;
        let mut c = vec![0.0; m * n];
        gemm(isa)
            .run(
                1.0,
                MatRef::row_major(&a, m, k).unwrap(),
                MatRef::row_major(&b, k, n).unwrap(),
                0.0,
                MatMut::row_major(&mut c, m, n).unwrap(),
            )
            .unwrap();
        let c0 = vec![0.0; m * n];
        assert_close(
            &format!("{isa} NaN/Inf"),
            1.0,
            view(&a, rm, m, k),
            view(&b, rm, k, n),
            0.0,
            view(&c0, rm, m, n),
            view(&c, rm, m, n),
            &Epilogue::NONE,
            0.0,
        );
    }
}
