//! The GEMM suite: every test runs once per ISA (all available, or the one forced by LANES_ISA)
//! and compares with the scalar reference.
//!
//! The same file is the wasm suite: built for wasm32 (scalar, simd128, relaxed-simd) it runs
//! in Node and headless Chromium under wasm-bindgen-test (browser-bench/scripts/test-wasm.sh),
//! where `#[test]` is wasm-bindgen-test's. Parts that need threads (rayon) and proptest are
//! native only.

use lanes_kernels::ops::gemm::{APlan, AvailableKernel, BInPlace, BPlan, Strategy};
use lanes_kernels::{Activation, Epilogue, Gemm, Isa, KernelError, MatMut, MatRef, Parallelism};
use lanes_testkit::*;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const ROW: (Layout, Layout, Layout) = (Layout::RowMajor, Layout::RowMajor, Layout::RowMajor);

/// The kernel `isa` runs GEMMs on.
fn kernel(isa: Isa) -> AvailableKernel {
    Gemm::with_isa(isa).unwrap().kernel_for(64, 64, 64).unwrap()
}

/// The strategy `g` plans for a row-major `m x n x k` product with B's row stride `ldb`.
fn plan_of(g: &Gemm, (m, n, k): (usize, usize, usize), ldb: usize) -> Strategy {
    let (a, b, mut c) = (vec![0.0; m * k], vec![0.0; k.max(1) * ldb], vec![0.0; m * n]);
    let b = MatRef::new(&b, k, n, ldb as isize, 1).unwrap();
    g.plan(1.0, MatRef::row_major(&a, m, k).unwrap(), b, &mut MatMut::row_major(&mut c, m, n).unwrap()).unwrap()
}

/// How a strategy reads B (a sweep in place reads it in place).
fn b_plan(s: &Strategy) -> BPlan {
    match s {
        Strategy::Blocked(b) => b.b,
        Strategy::SweepInPlace => BPlan::InPlace,
        other => panic!("expected the blocked path, planned {other:?}"),
    }
}

#[test]
fn every_subtile_up_to_two_tiles() {
    for isa in isas() {
        let g = Gemm::with_isa(isa).unwrap().parallelism(Parallelism::Sequential);
        let kern = kernel(isa);
        for m in 0..=2 * kern.mr {
            for n in 0..=2 * kern.nr {
                for k in [0, 1, 2, 5, 16] {
                    check_case(&g, (m, n, k), 1.0, 0.0, ROW, &Epilogue::NONE, (m * 1000 + n * 10 + k) as u64);
                }
            }
        }
    }
}

#[test]
fn primes_and_depth_around_kc() {
    for isa in isas() {
        let g = Gemm::with_isa(isa).unwrap().parallelism(Parallelism::Sequential);
        let kc = kernel(isa).kc;
        for &(m, n) in &[(17, 31), (31, 67), (67, 17), (127, 5), (1, 127)] {
            for k in [7, kc - 1, kc, kc + 1, 2 * kc + 37] {
                check_case(&g, (m, n, k), 1.0, 1.0, ROW, &Epilogue::NONE, (m + n + k) as u64);
            }
        }
    }
}

#[test]
fn blocks_larger_than_mc_and_nc() {
    for isa in isas() {
        let g = Gemm::with_isa(isa).unwrap().parallelism(Parallelism::Sequential);
        let kern = kernel(isa);
        let (m, n) = (kern.mc + kern.mr + 3, kern.nc + kern.nr + 5);
        check_case(&g, (m, n, 19), -0.5, 2.0, ROW, &Epilogue::NONE, 7);
        // B that must be packed, with M > MC: the shared (KC x NC) block path.
        let packed_b = (Layout::RowMajor, Layout::ColMajor, Layout::RowMajor);
        check_case(&g, (m, n, 19), 1.0, 0.0, packed_b, &Epilogue::new(None, Activation::Relu), 8);
    }
}

#[test]
fn strided_transposed_and_reversed_views() {
    for isa in isas() {
        let g = Gemm::with_isa(isa).unwrap().parallelism(Parallelism::Sequential);
        let kern = kernel(isa);
        let shapes = [(kern.mr + 1, kern.nr + 3, 9), (3, 2 * kern.nr, 33), (1, kern.nr, 300), (kern.mr, 1, 4)];
        for (s, &shape) in shapes.iter().enumerate() {
            for la in LAYOUTS {
                for lb in LAYOUTS {
                    for lc in LAYOUTS {
                        check_case(&g, shape, 1.0, 1.0, (la, lb, lc), &Epilogue::NONE, s as u64);
                    }
                }
            }
        }
    }
}

#[test]
fn partial_tiles_write_only_their_columns() {
    // Row-major C with padding between rows: a partial tile writes C in place (masked on
    // AVX-512) and must leave the padding after its last column untouched (check_case
    // compares every element outside the view bit for bit).
    let padded_c = (Layout::RowMajor, Layout::RowMajor, Layout::Padded { pad: 9, cs: 1 });
    for isa in isas() {
        let g = Gemm::with_isa(isa).unwrap().parallelism(Parallelism::Sequential);
        let kern = kernel(isa);
        for n in (1..=2 * kern.nr + 1).filter(|n| n % kern.nr != 0) {
            let bias: Vec<f32> = (0..n).map(|j| j as f32 * 0.25 - 1.0).collect();
            check_case(&g, (kern.mr + 1, n, 7), 1.5, 0.0, padded_c, &Epilogue::new(Some(&bias), Activation::Relu), 40);
            check_case(&g, (kern.mr + 1, n, 300), 1.0, 0.5, padded_c, &Epilogue::NONE, 41);
        }
    }
}

#[test]
fn alpha_beta_combinations() {
    for isa in isas() {
        let g = Gemm::with_isa(isa).unwrap().parallelism(Parallelism::Sequential);
        let kern = kernel(isa);
        for alpha in [0.0, 1.0, -0.5, 2.0] {
            for beta in [0.0, 1.0, -0.5, 2.0] {
                for &shape in &[(kern.mr * 2 + 1, kern.nr + 1, 23), (1, 3 * kern.nr, 300)] {
                    check_case(&g, shape, alpha, beta, ROW, &Epilogue::NONE, 11);
                    check_case(
                        &g,
                        shape,
                        alpha,
                        beta,
                        (Layout::ColMajor, Layout::Padded { pad: 1, cs: 3 }, Layout::ColMajor),
                        &Epilogue::NONE,
                        12,
                    );
                }
            }
        }
    }
}

#[test]
fn alpha_zero_reads_neither_a_nor_b() {
    for isa in isas() {
        let g = Gemm::with_isa(isa).unwrap();
        let (m, n, k) = (5, 9, 4);
        let a = vec![f32::NAN; m * k];
        let b = vec![f32::INFINITY; k * n];
        let mut c = vec![2.0f32; m * n];
        g.run(
            0.0,
            MatRef::row_major(&a, m, k).unwrap(),
            MatRef::row_major(&b, k, n).unwrap(),
            0.5,
            MatMut::row_major(&mut c, m, n).unwrap(),
        )
        .unwrap();
        assert!(c.iter().all(|&x| x == 1.0), "{isa}: {c:?}");
    }
}

#[test]
fn nan_and_inf_in_inputs_propagate_like_the_reference() {
    for isa in isas() {
        let g = Gemm::with_isa(isa).unwrap();
        let kern = kernel(isa);
        let (m, n, k) = (kern.mr + 2, kern.nr + 2, 10);
        let mut a = vec![1.0f32; m * k];
        a[k + 3] = f32::NAN; // row 1
        let mut b = vec![1.0f32; k * n];
        b[2 * n + 4] = f32::INFINITY; // column 4
                                      // Plain, and through the fused ReLU and clamp (NaN stays NaN in the tiles' epilogues).
        for act in [Activation::Identity, Activation::Relu, Activation::Clamp { min: 0.0, max: f32::INFINITY }] {
            let mut c = vec![f32::NAN; m * n];
            g.run_fused(
                1.0,
                MatRef::row_major(&a, m, k).unwrap(),
                MatRef::row_major(&b, k, n).unwrap(),
                0.0,
                MatMut::row_major(&mut c, m, n).unwrap(),
                &Epilogue::new(None, act),
            )
            .unwrap();
            for i in 0..m {
                for j in 0..n {
                    let x = c[i * n + j];
                    match (i, j) {
                        (1, _) => assert!(x.is_nan(), "{isa} {act:?} ({i},{j}) {x}"),
                        (_, 4) => assert_eq!(x, f32::INFINITY, "{isa} {act:?} ({i},{j})"),
                        _ => assert_eq!(x, k as f32, "{isa} {act:?} ({i},{j})"),
                    }
                }
            }
        }
    }
}

#[test]
fn fused_bias_and_every_activation() {
    let acts = [
        Activation::Identity,
        Activation::Relu,
        Activation::RELU6,
        Activation::Clamp { min: -0.25, max: 0.5 },
        Activation::Gelu,
        Activation::GeluErf,
        Activation::Silu,
    ];
    for isa in isas() {
        let g = Gemm::with_isa(isa).unwrap().parallelism(Parallelism::Sequential);
        let kern = kernel(isa);
        for &(m, n, k) in &[(kern.mr + 1, 2 * kern.nr + 3, 40), (2, kern.nr, 600), (1, 5, 3)] {
            let bias: Vec<f32> = (0..n).map(|j| (j as f32 - n as f32 / 2.0) * 0.7).collect();
            for act in acts {
                let epi = Epilogue::new(Some(&bias), act);
                check_case(&g, (m, n, k), 3.0, 0.0, ROW, &epi, 5);
                check_case(&g, (m, n, k), 1.0, 0.5, (Layout::ColMajor, Layout::RowMajor, Layout::ColMajor), &epi, 6);
                check_case(&g, (m, n, k), 1.0, 1.0, ROW, &Epilogue::new(None, act), 7);
            }
        }
    }
}

#[test]
fn activations_match_scalar_definition_on_extreme_values() {
    // One column of C per input value: C = x via A = 1x1 identity and bias = x.
    let xs: Vec<f32> =
        [-1e30, -200.0, -90.0, -88.0, -20.0, -3.0, -1.0, -1e-3, 0.0, 1e-3, 0.5, 1.0, 3.0, 20.0, 88.0, 90.0, 1e30]
            .into_iter()
            .chain([f32::INFINITY, f32::NEG_INFINITY, f32::NAN])
            .collect();
    let n = xs.len();
    for isa in isas() {
        let g = Gemm::with_isa(isa).unwrap();
        for act in [Activation::Relu, Activation::RELU6, Activation::Gelu, Activation::GeluErf, Activation::Silu] {
            let mut c = vec![0.0f32; n];
            let a = [0.0f32];
            let b = vec![0.0f32; n];
            g.run_fused(
                1.0,
                MatRef::row_major(&a, 1, 1).unwrap(),
                MatRef::row_major(&b, 1, n).unwrap(),
                0.0,
                MatMut::row_major(&mut c, 1, n).unwrap(),
                &Epilogue::new(Some(&xs), act),
            )
            .unwrap();
            for (x, got) in xs.iter().zip(&c) {
                let want = act.apply(*x);
                let ok = (want.is_nan() && got.is_nan())
                    || want == *got
                    || (want - got).abs() <= 2e-6 * want.abs().max(1e-30) + 1e-37;
                assert!(ok, "{isa} {act:?}({x}) = {got}, want {want}");
            }
        }
    }
}

#[test]
fn packed_b_matches_unpacked() {
    for isa in isas() {
        let g = Gemm::with_isa(isa).unwrap();
        let kern = kernel(isa);
        // Narrow B (n <= 3) is kept column by column for the dot-product GEMV: deep and shallow
        // (k < 16 takes the tiles), one row and many, more rows than a depth block.
        let narrow = [(kern.mr * 3 + 1, 1, 300), (37, 2, 2 * kern.kc + 5), (37, 3, 5), (1, 2, 40), (2, 3, 1)];
        let shapes = [(1, 3 * kern.nr + 1, 2 * kern.kc + 1), (kern.mr * 3 + 1, kern.nr + 1, 70), (0, 4, 4), (3, 3, 0)];
        for &(m, n, k) in shapes.iter().chain(&narrow) {
            let mut r = Rng::new((m * n + k) as u64);
            let a = r.vec(m * k);
            let b = r.vec(k * n);
            let bias = r.vec(n);
            let packed = g.pack_b(MatRef::col_major(&b, k, n).unwrap()).unwrap();
            assert_eq!((packed.rows(), packed.cols()), (k, n));
            let epi = Epilogue::new(Some(&bias), Activation::Relu);
            let mut c1 = vec![f32::NAN; m * n];
            let mut c2 = vec![f32::NAN; m * n];
            g.run_packed(
                1.5,
                MatRef::row_major(&a, m, k).unwrap(),
                &packed,
                0.0,
                MatMut::row_major(&mut c1, m, n).unwrap(),
                &epi,
            )
            .unwrap();
            // Into a fresh (not zeroed) Vec: the same bits.
            let fresh = g.run_packed_to_vec(1.5, MatRef::row_major(&a, m, k).unwrap(), &packed, &epi).unwrap();
            assert_eq!(fresh.len(), m * n);
            assert!(fresh.iter().zip(&c1).all(|(x, y)| x.to_bits() == y.to_bits()), "{isa} to_vec {m}x{n}x{k}");
            g.run_fused(
                1.5,
                MatRef::row_major(&a, m, k).unwrap(),
                MatRef::col_major(&b, k, n).unwrap(),
                0.0,
                MatMut::row_major(&mut c2, m, n).unwrap(),
                &epi,
            )
            .unwrap();
            let c0 = vec![0.0f32; m * n];
            assert_close(
                &format!("{isa} packed {m}x{n}x{k}"),
                1.5,
                MatRef::row_major(&a, m, k).unwrap(),
                MatRef::col_major(&b, k, n).unwrap(),
                0.0,
                MatRef::row_major(&c0, m, n).unwrap(),
                MatRef::row_major(&c1, m, n).unwrap(),
                &epi,
                0.0,
            );
            // Same kernel, same blocking: bit-identical to the unpacked path, unless that one is
            // the dot-product GEMV (M <= 3 with column-major B: another summation order).
            let unpacked = g
                .plan(
                    1.5,
                    MatRef::row_major(&a, m, k).unwrap(),
                    MatRef::col_major(&b, k, n).unwrap(),
                    &mut MatMut::row_major(&mut c2, m, n).unwrap(),
                )
                .unwrap();
            if !matches!(unpacked, Strategy::GemvDot(_)) {
                assert!(c1.iter().zip(&c2).all(|(x, y)| x.to_bits() == y.to_bits()), "{isa} {m}x{n}x{k}");
            }
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn two_threads_match_the_reference() {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    pool.install(|| {
        for isa in isas() {
            let g = Gemm::with_isa(isa).unwrap().parallelism(Parallelism::Rayon);
            let kern = kernel(isa);
            for &shape in &[
                (1, 5 * kern.nr + 3, 100),
                (2 * kern.mc + 5, 3 * kern.nr + 1, 40),
                (kern.mr * 3, kern.nc + 7, 2 * kern.kc + 3),
                (3, 2, 1),
            ] {
                check_case(&g, shape, 1.0, 0.5, ROW, &Epilogue::new(None, Activation::Silu), 3);
                check_case(
                    &g,
                    shape,
                    1.0,
                    0.0,
                    (Layout::ColMajor, Layout::ColMajor, Layout::Padded { pad: 2, cs: 1 }),
                    &Epilogue::NONE,
                    4,
                );
            }
        }
    });
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn nested_calls_from_rayon_jobs() {
    // Calls from inside rayon jobs (e.g. a batch of layers in parallel) must not conflict
    // over the driver's thread-local scratch buffers.
    use rayon::prelude::*;
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    let (m, n, k) = (150, 90, 300);
    let mut r = Rng::new(9);
    let a = r.vec(m * k);
    let b = r.vec(k * n);
    let mut want = vec![0.0f32; m * n];
    Gemm::new()
        .parallelism(Parallelism::Sequential)
        .run(
            1.0,
            MatRef::row_major(&a, m, k).unwrap(),
            MatRef::row_major(&b, k, n).unwrap(),
            0.0,
            MatMut::row_major(&mut want, m, n).unwrap(),
        )
        .unwrap();
    let outs: Vec<Vec<f32>> = pool.install(|| {
        (0..8)
            .into_par_iter()
            .map(|_| {
                let mut c = vec![0.0f32; m * n];
                Gemm::new()
                    .parallelism(Parallelism::Rayon)
                    .run(
                        1.0,
                        MatRef::row_major(&a, m, k).unwrap(),
                        MatRef::row_major(&b, k, n).unwrap(),
                        0.0,
                        MatMut::row_major(&mut c, m, n).unwrap(),
                    )
                    .unwrap();
                c
            })
            .collect()
    });
    for c in outs {
        assert_eq!(c, want);
    }
}

#[test]
fn shape_errors_name_the_numbers() {
    let a = vec![0.0f32; 6];
    let b = vec![0.0f32; 12];
    let mut c = vec![0.0f32; 8];
    let g = Gemm::new();
    let err = g
        .run(
            1.0,
            MatRef::row_major(&a, 2, 3).unwrap(),
            MatRef::row_major(&b, 4, 3).unwrap(),
            0.0,
            MatMut::row_major(&mut c, 2, 3).unwrap(),
        )
        .unwrap_err();
    assert_eq!(
        err,
        KernelError::ShapeMismatch { what: "B (must be k x n with k = columns of A)", expected: (3, 3), found: (4, 3) }
    );
    assert!(err.to_string().contains("expected 3x3, found 4x3"), "{err}");
    let err = g
        .run(
            1.0,
            MatRef::row_major(&a, 2, 3).unwrap(),
            MatRef::row_major(&b, 3, 4).unwrap(),
            0.0,
            MatMut::row_major(&mut c, 2, 3).unwrap(),
        )
        .unwrap_err();
    assert!(err.to_string().contains("expected 2x4, found 2x3"), "{err}");
    let bias = [0.0f32; 3];
    let err = g
        .run_fused(
            1.0,
            MatRef::row_major(&a, 2, 3).unwrap(),
            MatRef::row_major(&b, 3, 4).unwrap(),
            0.0,
            MatMut::row_major(&mut c, 2, 4).unwrap(),
            &Epilogue::new(Some(&bias), Activation::Identity),
        )
        .unwrap_err();
    assert_eq!(err, KernelError::LengthMismatch { what: "bias", expected: 4, found: 3 });
    let err = g
        .run_fused(
            1.0,
            MatRef::row_major(&a, 2, 3).unwrap(),
            MatRef::row_major(&b, 3, 4).unwrap(),
            0.0,
            MatMut::row_major(&mut c, 2, 4).unwrap(),
            &Epilogue::new(None, Activation::Clamp { min: 1.0, max: 0.0 }),
        )
        .unwrap_err();
    assert!(matches!(err, KernelError::InvalidArgument { .. }));
    // Nothing was written by the refused calls.
    assert!(c.iter().all(|&x| x == 0.0));
}

#[test]
fn packing_a_huge_broadcast_view_is_an_error_not_an_abort() {
    // Zero strides make a valid 1e10 x 1e10 view of one value (2^31 - 1 squared on 32-bit
    // wasm, where dimensions must fit isize); packing it cannot fit.
    let huge = 10_000_000_000u64.min(isize::MAX as u64) as usize;
    let one = [1.0f32];
    let b = MatRef::new(&one, huge, huge, 0, 0).unwrap();
    let err = Gemm::new().pack_b(b).unwrap_err();
    assert!(matches!(err, KernelError::TooLarge { rows, .. } if rows == huge), "{err}");
    assert!(err.to_string().contains("does not fit"), "{err}");
    // No columns: nothing to pack, immediately, however deep (found by fuzz/api_bad_input).
    let b = MatRef::new(&one, usize::MAX / 2, 0, 0, 0).unwrap();
    let packed = Gemm::new().pack_b(b).unwrap();
    assert_eq!((packed.rows(), packed.cols()), (usize::MAX / 2, 0));
}

/// Buffers the allocator must refuse, natively: 2^50 bytes (1 PiB) fit `isize` but no
/// machine's memory nor x86-64's 47-bit address space. (Under AddressSanitizer, scripts/asan.sh
/// sets `allocator_may_return_null=1` so that its allocator refuses too rather than abort.) The
/// wasm suite (browser-bench/tests/bindings.rs) does the same against wasm's 4 GiB.
#[cfg(all(target_pointer_width = "64", not(miri)))]
#[test]
fn allocations_that_fail_are_errors_and_the_library_keeps_working() {
    // One thread: kernels with GEMV strips and no whole-row GEMV (AVX2 and wasm have one).
    let takes_strips = |isa: Isa| {
        let kern = kernel(isa);
        kern.gemv_width() > 0
            && !kern.variants().iter().any(|v| v.kind == lanes_kernels::ops::gemm::VariantKind::GemvRows)
    };
    let one = [1.0f32];
    let huge = 1usize << 24;
    let err = Gemm::new().pack_b(MatRef::new(&one, huge, huge, 0, 0).unwrap()).unwrap_err();
    assert!(matches!(err, KernelError::AllocationFailed { what: "packed B", bytes } if bytes >= 1 << 50), "{err}");
    assert!(err.to_string().starts_with("out of memory: could not allocate"), "{err}");
    // The GEMV strips gather a strided row of A (here a zero column stride: any depth over one
    // value) into a workspace of k values, allocated before anything is written.
    // (Wide enough for every kernel's strips.)
    let n = 515;
    let row: Vec<f32> = (0..n).map(|j| j as f32).collect();
    let mut strips = 0;
    for isa in isas() {
        let g = Gemm::with_isa(isa).unwrap().parallelism(Parallelism::Sequential);
        let mut c = vec![f32::NAN; n];
        let a = MatRef::new(&one, 1, 1 << 48, 0, 0).unwrap();
        let b = MatRef::new(&row, 1 << 48, n, 0, 1).unwrap();
        let strategy = g.plan(1.0, a, b, &mut MatMut::row_major(&mut c, 1, n).unwrap()).unwrap();
        // (Only the strips gather A's row; any other plan, the whole-row GEMV included, reads A
        // in place and would compute 2^48-deep sums.)
        assert_eq!(matches!(strategy, Strategy::GemvStrips(_)), takes_strips(isa), "{isa}: {strategy:?}");
        if !matches!(strategy, Strategy::GemvStrips(_)) {
            continue;
        }
        strips += 1;
        let err = g.run(1.0, a, b, 0.0, MatMut::row_major(&mut c, 1, n).unwrap()).unwrap_err();
        assert!(
            matches!(err, KernelError::AllocationFailed { what: "GEMM workspace", bytes } if bytes >= 1 << 50),
            "{isa}: {err}"
        );
        // A depth whose workspace size overflows: refused before the allocator is asked.
        let deep = usize::MAX / 2;
        let (a, b) = (MatRef::new(&one, 1, deep, 0, 0).unwrap(), MatRef::new(&row, deep, n, 0, 1).unwrap());
        let err = g.run(1.0, a, b, 0.0, MatMut::row_major(&mut c, 1, n).unwrap()).unwrap_err();
        assert_eq!(err, KernelError::TooLarge { what: "GEMV row of A", rows: 1, cols: deep }, "{isa}");
        assert!(c.iter().all(|x| x.is_nan()), "{isa}: nothing written by the refused calls");
        // The library keeps working: the same GEMV at depth 3 (C = 3 * row).
        let (a, b) = (MatRef::new(&one, 1, 3, 0, 0).unwrap(), MatRef::new(&row, 3, n, 0, 1).unwrap());
        g.run(1.0, a, b, 0.0, MatMut::row_major(&mut c, 1, n).unwrap()).unwrap();
        assert!(c.iter().zip(&row).all(|(&c, &r)| c == 3.0 * r), "{isa}: {c:?}");
    }
    // Every kernel whose M = 1 products take the strips (AVX-512 here) took the path above.
    assert_eq!(strips, isas().into_iter().filter(|&i| takes_strips(i)).count());
}

#[test]
fn zero_sizes_are_fine() {
    let g = Gemm::new();
    let mut c = vec![3.0f32; 6];
    // k = 0: C = beta * C.
    g.run(
        1.0,
        MatRef::row_major(&[], 2, 0).unwrap(),
        MatRef::row_major(&[], 0, 3).unwrap(),
        2.0,
        MatMut::row_major(&mut c, 2, 3).unwrap(),
    )
    .unwrap();
    assert!(c.iter().all(|&x| x == 6.0));
    // k = 0 views accept any strides (no element is addressed): extreme ones must not
    // overflow the driver's pointer arithmetic, nor the dot GEMV's that N = 3 takes
    // (fuzz/seeds/api_bad_input/crash-6a700e...), on any ISA.
    for isa in isas() {
        let g = Gemm::with_isa(isa).unwrap().parallelism(Parallelism::Sequential);
        let a = MatRef::new(&[], 20, 0, isize::MAX, 1).unwrap();
        let b = MatRef::new(&[], 0, 3, isize::MIN, isize::MAX).unwrap();
        let mut c2 = vec![1.0f32; 60];
        g.run(1.0, a, b, 3.0, MatMut::row_major(&mut c2, 20, 3).unwrap()).unwrap();
        assert!(c2.iter().all(|&x| x == 3.0), "{isa}");
    }
    g.run(
        1.0,
        MatRef::row_major(&[], 0, 5).unwrap(),
        MatRef::row_major(&[0.0; 15], 5, 3).unwrap(),
        0.0,
        MatMut::row_major(&mut [], 0, 3).unwrap(),
    )
    .unwrap();
}

#[test]
fn extreme_strides_on_single_rows_and_columns() {
    // A stride along a dimension of size 1 is never applied to an element, so any value is a
    // valid view; the kernels must not compute addresses with it either (`ptr::offset` past
    // the last k step overflowed here; found by fuzz/api_bad_input).
    for isa in isas() {
        let g = Gemm::with_isa(isa).unwrap().parallelism(Parallelism::Sequential);
        for (m, n) in [(1, 5), (3, 5), (3, 70), (1, 300)] {
            let a = vec![1.5f32; m];
            let b = vec![2.0f32; n];
            for big in [isize::MAX, isize::MIN, isize::MAX / 3] {
                let av = MatRef::new(&a, m, 1, 1, big).unwrap();
                let bv = MatRef::new(&b, 1, n, big, 1).unwrap();
                let mut c = vec![f32::NAN; m * n];
                g.run(1.0, av, bv, 0.0, MatMut::row_major(&mut c, m, n).unwrap()).unwrap();
                assert!(c.iter().all(|&x| x == 3.0), "{isa} {m}x{n}x1 stride {big}: {c:?}");
            }
        }
    }
}

#[test]
fn forced_unavailable_isa_is_an_error() {
    let missing = if cfg!(target_arch = "wasm32") { Isa::Avx2 } else { Isa::WasmRelaxed };
    assert_eq!(Gemm::with_isa(missing).unwrap_err(), KernelError::IsaUnavailable { isa: missing.name() });
}

#[cfg(target_arch = "wasm32")]
#[test]
fn the_wasm_build_has_the_kernels_its_target_features_promise() {
    let have = Isa::available();
    assert_eq!(have.contains(&Isa::WasmSimd128), cfg!(target_feature = "simd128"));
    assert_eq!(have.contains(&Isa::WasmRelaxed), cfg!(target_feature = "relaxed-simd"));
    let best = Isa::best();
    if cfg!(target_feature = "relaxed-simd") {
        assert_eq!(best, Isa::WasmRelaxed);
        assert_eq!(kernel(best).name, "sgemm_6x8_wasm_relaxed");
    } else if cfg!(target_feature = "simd128") {
        assert_eq!(best, Isa::WasmSimd128);
    } else {
        assert_eq!(best, Isa::Portable);
    }
}

/// On AArch64 the NEON tier is detected and chosen by default, and runs its own kernel (under
/// qemu-user in scripts/test.sh): a failed detection would otherwise leave the NEON code
/// untested while every suite still passed on the portable tier.
#[cfg(target_arch = "aarch64")]
#[test]
fn the_aarch64_build_detects_and_selects_neon() {
    assert!(Isa::available().contains(&Isa::Neon), "{:?}", Isa::available());
    assert_eq!(Isa::best(), Isa::Neon);
    assert_eq!(kernel(Isa::Neon).name, "sgemm_8x12_neon");
    assert_eq!("neon".parse::<Isa>().unwrap(), Isa::Neon);
}

#[test]
fn raw_api_checks_aliasing_and_strides() {
    let g = Gemm::new();
    let mut buf = vec![1.0f32; 64];
    let p = buf.as_mut_ptr();
    // SAFETY: all views lie inside `buf`; the call must refuse before touching memory.
    let err = unsafe { lanes_kernels::gemm_raw(&g, 4, 4, 4, 1.0, p, 4, 1, p.add(16), 4, 1, 0.0, p.add(8), 4, 1) }
        .unwrap_err();
    assert_eq!(err, KernelError::Aliasing { input: "A" });
    // SAFETY: as above.
    let err = unsafe { lanes_kernels::gemm_raw(&g, 4, 4, 4, 1.0, p, 4, 1, p.add(16), 4, 1, 0.0, p.add(32), 0, 1) }
        .unwrap_err();
    assert!(matches!(err, KernelError::OverlappingOutput { .. }));
    // SAFETY: as above.
    let err =
        unsafe { lanes_kernels::gemm_raw(&g, 4, 4, 4, 1.0, p, isize::MAX, 1, p.add(16), 4, 1, 0.0, p.add(32), 4, 1) }
            .unwrap_err();
    assert!(matches!(err, KernelError::StrideOverflow { .. }));
    // A valid call: C (rows 8..) = A (rows 0..4) * B (rows 4..8).
    // SAFETY: A = buf[0..16], B = buf[16..32], C = buf[32..48], disjoint and in bounds.
    unsafe { lanes_kernels::gemm_raw(&g, 4, 4, 4, 1.0, p, 4, 1, p.add(16), 4, 1, 0.0, p.add(32), 4, 1) }.unwrap();
    assert!(buf[32..48].iter().all(|&x| x == 4.0));
}

#[cfg(not(target_arch = "wasm32"))]
mod random_shapes {
    use super::*;
    use proptest::prelude::*;
    use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

    #[test]
    fn proptest_random_shapes_and_layouts() {
        let config = Config { cases: 64, failure_persistence: None, ..Config::default() };
        let mut runner = TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]));
        let strategy = (
            0usize..70,
            0usize..90,
            0usize..300,
            0usize..4,
            0usize..4,
            0usize..4,
            prop::sample::select(vec![0.0f32, 1.0, -0.5, 2.0]),
        );
        runner
            .run(&strategy, |(m, n, k, la, lb, lc, beta)| {
                for isa in isas() {
                    let g = Gemm::with_isa(isa).unwrap().parallelism(Parallelism::Sequential);
                    check_case(
                        &g,
                        (m, n, k),
                        1.25,
                        beta,
                        (LAYOUTS[la], LAYOUTS[lb], LAYOUTS[lc]),
                        &Epilogue::NONE,
                        (m ^ n ^ k) as u64,
                    );
                }
                Ok(())
            })
            .unwrap();
    }
}

#[test]
fn gemv_streams_b_without_packing() {
    // M = 1 with row-major B takes a GEMV path when the kernel has one: whole rows of B
    // (wasm) or strips; leftover columns go through masked strips (AVX-512) or the blocked path.
    for isa in isas() {
        let g = Gemm::with_isa(isa).unwrap().parallelism(Parallelism::Sequential);
        let kern = kernel(isa);
        let w = kern.gemv_width().max(kern.nr);
        let planned = plan_of(&g, (1, 3 * w + 5, 300), 3 * w + 5);
        match (kern.gemv_width(), &planned) {
            (0, Strategy::SweepInPlace | Strategy::Blocked(_)) => {}
            (_, Strategy::GemvRows { threads: 1 }) if ["simd128", "relaxed", "avx2"].contains(&isa.name()) => {}
            (_, Strategy::GemvStrips(s)) => {
                assert!(s.groups.iter().flatten().all(|strip| strip.width <= w), "{isa}: {s:?}");
                assert!(s.groups[0][0].width == kern.gemv_width(), "{isa}: widest strip first: {s:?}");
            }
            (_, other) => panic!("{isa}: M = 1 planned {other:?}"),
        }
        for n in [w, 3 * w + 5, w + kern.nr + 1, 1000] {
            for k in [0, 1, 300, kern.kc * 2 + 1] {
                let bias: Vec<f32> = (0..n).map(|j| j as f32 * 0.01 - 1.0).collect();
                check_case(&g, (1, n, k), 1.0, 0.0, ROW, &Epilogue::NONE, 21);
                check_case(&g, (1, n, k), -0.5, 2.0, ROW, &Epilogue::new(Some(&bias), Activation::Gelu), 22);
                let strided_a = (Layout::Padded { pad: 1, cs: 2 }, Layout::RowMajor, Layout::RowMajor);
                check_case(&g, (1, n, k), 2.0, 1.0, strided_a, &Epilogue::new(Some(&bias), Activation::Relu), 23);
                // Masked tail strips must not write past column n (C's padding stays untouched).
                let padded_c = (Layout::RowMajor, Layout::RowMajor, Layout::Padded { pad: 9, cs: 1 });
                check_case(&g, (1, n, k), 1.0, 0.5, padded_c, &Epilogue::new(Some(&bias), Activation::Identity), 25);
            }
        }
    }
    // B's rows at every alignment (AVX2 peels the columns before a 32-byte boundary).
    for isa in isas() {
        let g = Gemm::with_isa(isa).unwrap().parallelism(Parallelism::Sequential);
        let n = 3 * kernel(isa).gemv_width().max(kernel(isa).nr) + 8;
        for off in 0..16 {
            let shifted_b = (Layout::RowMajor, Layout::Shifted { off }, Layout::RowMajor);
            check_case(&g, (1, n, 67), 1.0, 0.5, shifted_b, &Epilogue::new(None, Activation::Relu), 26);
        }
    }
    #[cfg(not(target_arch = "wasm32"))]
    rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap().install(|| {
        for isa in isas() {
            let g = Gemm::with_isa(isa).unwrap().parallelism(Parallelism::Rayon);
            check_case(&g, (1, 3072, 77), 1.0, 0.5, ROW, &Epilogue::new(None, Activation::Silu), 24);
            // Strips in depth blocks, one group of them per thread, columns left over.
            let bias: Vec<f32> = (0..1000).map(|j| j as f32 * 0.01 - 1.0).collect();
            check_case(&g, (1, 1000, 500), 1.5, 0.5, ROW, &Epilogue::new(Some(&bias), Activation::Gelu), 27);
        }
    });
}

#[test]
fn few_columns_and_few_rows_every_layout() {
    // N = 1, 2, 3 (the dot GEMV with row-major A, the tiles otherwise or when too shallow) and
    // M = 1, 2, 3 with column-major B (the transposed dot GEMV): every layout of A, B and C
    // (B's row stride unit, padded, negative), depths around the vector widths and the unroll.
    let mut layouts = LAYOUTS.to_vec();
    layouts.push(Layout::Padded { pad: 5, cs: 1 });
    for isa in isas() {
        let g = Gemm::with_isa(isa).unwrap().parallelism(Parallelism::Sequential);
        for few in 1..=3 {
            for many in [1, 2, 3, 4, 5, 7, 9, 17, 64] {
                for k in [0, 1, 2, 15, 16, 17, 33, 64, 300] {
                    let seed = (few * 10000 + many * 100 + k) as u64;
                    for (s, shape) in [(many, few, k), (few, many, k)].into_iter().enumerate() {
                        // Every layout of each operand, the others row-major (then all at once
                        // for a few depths).
                        for &l in &layouts {
                            for ls in [
                                (l, Layout::RowMajor, Layout::RowMajor),
                                (Layout::RowMajor, l, Layout::RowMajor),
                                (Layout::RowMajor, Layout::RowMajor, l),
                            ] {
                                check_case(&g, shape, 1.0, 0.0, ls, &Epilogue::NONE, seed + s as u64);
                            }
                        }
                        if [2, 17, 300].contains(&k) {
                            for &la in &layouts {
                                for &lb in &layouts {
                                    check_case(
                                        &g,
                                        shape,
                                        -0.5,
                                        1.5,
                                        (la, lb, Layout::Padded { pad: 2, cs: 1 }),
                                        &Epilogue::NONE,
                                        seed,
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
        // alpha/beta, bias per column of C and every activation, on both orientations.
        for &(shape, lb) in
            &[((70, 1, 257), Layout::RowMajor), ((33, 3, 100), Layout::Reversed), ((2, 50, 130), Layout::ColMajor)]
        {
            let bias: Vec<f32> = (0..shape.1).map(|j| j as f32 * 0.3 - 0.4).collect();
            for (alpha, beta) in [(1.0, 0.0), (-0.5, 2.0), (0.0, 1.0)] {
                for act in [
                    Activation::Identity,
                    Activation::Relu,
                    Activation::Gelu,
                    Activation::GeluErf,
                    Activation::Silu,
                    Activation::RELU6,
                ] {
                    let epi = Epilogue::new(Some(&bias), act);
                    check_case(&g, shape, alpha, beta, (Layout::RowMajor, lb, Layout::RowMajor), &epi, 70);
                }
            }
        }
        // Long rows: several KiB streamed per row, the last vector partial.
        for shape in [(9, 1, 4099), (6, 2, 2053), (1, 7, 3001)] {
            check_case(
                &g,
                shape,
                1.0,
                0.5,
                (Layout::RowMajor, Layout::ColMajor, Layout::RowMajor),
                &Epilogue::NONE,
                71,
            );
            check_case(&g, shape, 1.0, 0.5, ROW, &Epilogue::NONE, 72);
        }
    }
    // Row tasks over two threads (the split is by rows: results as on one thread, up to order).
    #[cfg(not(target_arch = "wasm32"))]
    rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap().install(|| {
        for isa in isas() {
            let g = Gemm::with_isa(isa).unwrap().parallelism(Parallelism::Rayon);
            let bias = [0.25f32; 3];
            for (m, n, k) in [(1001, 1, 600), (517, 3, 1000), (2, 999, 700)] {
                let lb = if m <= 3 { Layout::ColMajor } else { Layout::Padded { pad: 1, cs: 1 } };
                let epi = Epilogue::new(Some(&bias[..n.min(3)]).filter(|_| n <= 3), Activation::Silu);
                check_case(&g, (m, n, k), 1.0, 0.5, (Layout::RowMajor, lb, Layout::RowMajor), &epi, 73);
            }
        }
    });
}

#[test]
fn four_kib_row_strides_and_large_b_blocks_take_the_packing_path() {
    // Row-major operands are read in place unless their row stride is a multiple of 1024
    // floats (L1 set conflicts) or, for B shared by more than 64 rows, a depth block
    // outgrows L2; these shapes exercise the packing of both A and B.
    for isa in isas() {
        let g = Gemm::with_isa(isa).unwrap().parallelism(Parallelism::Sequential);
        let kern = kernel(isa);
        // The plans these cases are named after.
        let packs = b_plan(&plan_of(&g, (67, 1024, 300), 1024));
        assert!(matches!(packs, BPlan::PackedPerTask | BPlan::PackedShared), "{isa}: 4 KiB rows of B: {packs:?}");
        let few_rows = b_plan(&plan_of(&g, (2 * kern.mr + 3, 1024, 300), 1024));
        // (`BInPlace::Never` kernels read B in place only for a single row of tiles;
        // `FewRows` ones not with rows 4 KiB apart.)
        assert_eq!(
            few_rows == BPlan::InPlace,
            kern.b_in_place == BInPlace::ByShape,
            "{isa}: M <= 64 reads B in place: {few_rows:?}"
        );
        if kern.b_in_place == BInPlace::FewRows {
            let eight = b_plan(&plan_of(&g, (8, 1000, 300), 1000));
            let twelve = b_plan(&plan_of(&g, (12, 1000, 300), 1000));
            assert_eq!((eight, twelve == BPlan::InPlace), (BPlan::InPlace, false), "{isa}: FewRows");
        }
        let big = b_plan(&plan_of(&g, (67, 1100, 1000), 1100));
        assert_ne!(big, BPlan::InPlace, "{isa}: a depth block of B larger than L2 is packed");
        let a_4k = {
            let (a, b, mut c) = (vec![0.0; 67 * 1024], vec![0.0; 300 * 64], vec![0.0; 67 * 64]);
            let a = MatRef::new(&a, 67, 300, 1024, 1).unwrap();
            let b = MatRef::row_major(&b, 300, 64).unwrap();
            g.plan(1.0, a, b, &mut MatMut::row_major(&mut c, 67, 64).unwrap()).unwrap()
        };
        assert!(matches!(a_4k, Strategy::Blocked(p) if p.a == APlan::Packed), "{isa}: 4 KiB rows of A: {a_4k:?}");
        check_case(&g, (67, 1024, 300), 1.0, 0.5, ROW, &Epilogue::NONE, 31);
        // M <= MC: the first tile of each panel packs it as it reads it (x86 kernels), with
        // the full epilogue.
        let bias: Vec<f32> = (0..1024).map(|j| (j % 13) as f32 * 0.1 - 0.6).collect();
        check_case(&g, (67, 1024, 300), 2.0, 0.0, ROW, &Epilogue::new(Some(&bias), Activation::Silu), 36);
        check_case(&g, (65, 2048 + 3, 256), 1.0, 0.0, ROW, &Epilogue::new(None, Activation::Relu), 32);
        // Few rows (M <= 64): B read in place even at a 4 KiB stride.
        check_case(&g, (2 * kern.mr + 3, 1024, 300), 1.0, 0.5, ROW, &Epilogue::NONE, 35);
        // Any stride: a depth block of B larger than L2 (kc x n x 4 bytes > 1 MiB) is packed too.
        check_case(&g, (67, 1100, 1000), 1.0, 0.5, ROW, &Epilogue::NONE, 34);
    }
    // The same with two threads: B packed in parallel, row-major bands per thread.
    #[cfg(not(target_arch = "wasm32"))]
    rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap().install(|| {
        for isa in isas() {
            let g = Gemm::with_isa(isa).unwrap().parallelism(Parallelism::Rayon);
            // M in (64, MC] (MC > 64 on all but the scalar kernel): each task packs the panels it uses.
            check_case(&g, (69, 1024, 300), 1.0, 0.0, ROW, &Epilogue::NONE, 33);
            // The same with a partial last panel (2085 = 32 * 64 + 37), packed in its task.
            check_case(&g, (69, 2085, 300), 1.0, 0.5, ROW, &Epilogue::new(None, Activation::Relu), 37);
        }
    });
}

#[test]
fn every_kernel_of_the_registry_through_the_driver() {
    // The ISA loops above run the kernel `registry::select` picks; this runs every kernel this
    // CPU has by name, so a second kernel of an ISA is exercised through the whole driver too.
    for kern in lanes_kernels::ops::gemm::registry::available() {
        let g = Gemm::with_kernel(kern.name).unwrap().parallelism(Parallelism::Sequential);
        let (mr, nr, kc) = (kern.mr, kern.nr, kern.kc);
        let bias: Vec<f32> = (0..3 * nr + 5).map(|j| j as f32 * 0.01 - 0.5).collect();
        for &(m, n, k) in &[(mr + 1, nr + 3, 9), (2 * mr + 1, 3 * nr + 5, kc + 3), (kern.mc + mr + 1, nr - 1, 40)] {
            check_case(&g, (m, n, k), 1.0, 0.0, ROW, &Epilogue::NONE, 51);
            check_case(&g, (m, n, k), -0.5, 2.0, ROW, &Epilogue::new(Some(&bias[..n]), Activation::Gelu), 52);
            let strided = (Layout::ColMajor, Layout::Padded { pad: 3, cs: 2 }, Layout::Padded { pad: 9, cs: 1 });
            check_case(&g, (m, n, k), 1.5, 0.5, strided, &Epilogue::NONE, 53);
        }
        let n = 3 * kern.gemv_width().max(nr) + 5;
        check_case(&g, (1, n, 77), 1.0, 0.5, ROW, &Epilogue::NONE, 54);
        // Prepacked B for this kernel.
        let (m, n, k) = (2 * mr + 3, 2 * nr + 7, kc + 5);
        let mut r = Rng::new(55);
        let (a, b) = (r.vec(m * k), r.vec(k * n));
        let packed = g.pack_b(MatRef::row_major(&b, k, n).unwrap()).unwrap();
        assert_eq!(packed.kernel_name(), kern.name);
        let (mut c1, mut c2) = (vec![0.0; m * n], vec![0.0; m * n]);
        g.run_packed(
            1.0,
            MatRef::row_major(&a, m, k).unwrap(),
            &packed,
            0.0,
            MatMut::row_major(&mut c1, m, n).unwrap(),
            &Epilogue::NONE,
        )
        .unwrap();
        g.run(
            1.0,
            MatRef::row_major(&a, m, k).unwrap(),
            MatRef::row_major(&b, k, n).unwrap(),
            0.0,
            MatMut::row_major(&mut c2, m, n).unwrap(),
        )
        .unwrap();
        let zero = vec![0.0; m * n];
        assert_close(
            kern.name,
            1.0,
            MatRef::row_major(&a, m, k).unwrap(),
            MatRef::row_major(&b, k, n).unwrap(),
            0.0,
            MatRef::row_major(&zero, m, n).unwrap(),
            MatRef::row_major(&c1, m, n).unwrap(),
            &Epilogue::NONE,
            0.0,
        );
        assert_close(
            kern.name,
            1.0,
            MatRef::row_major(&a, m, k).unwrap(),
            MatRef::row_major(&b, k, n).unwrap(),
            0.0,
            MatRef::row_major(&zero, m, n).unwrap(),
            MatRef::row_major(&c2, m, n).unwrap(),
            &Epilogue::NONE,
            0.0,
        );
    }
    #[cfg(target_arch = "x86_64")]
    if Isa::Avx512.is_available() {
        assert!(kernel(Isa::Avx512).name.ends_with("_avx512"), "select stays within the ISA");
    }
}

/// Determinism: the same input, ISA and thread count give the same bits, whether the calls run
/// one after another, from many threads at once on shared prepacked weights, or from inside
/// rayon jobs.
#[cfg(not(target_arch = "wasm32"))]
#[test]
fn concurrent_calls_on_shared_weights_are_bit_identical() {
    use std::sync::Arc;
    for isa in isas() {
        let (m, n, k) = (67, 130, 300);
        let mut r = Rng::new(77);
        let (a, b) = (r.vec(m * k), r.vec(k * n));
        let bias = r.vec(n);
        let g = Gemm::with_isa(isa).unwrap().parallelism(Parallelism::Sequential);
        let packed = Arc::new(g.pack_b(MatRef::row_major(&b, k, n).unwrap()).unwrap());
        let run = |g: &Gemm, packed: &lanes_kernels::PackedB| {
            let mut c = vec![0.0f32; m * n];
            let epi = Epilogue::new(Some(&bias), Activation::Gelu);
            g.run_packed(
                1.0,
                MatRef::row_major(&a, m, k).unwrap(),
                packed,
                0.0,
                MatMut::row_major(&mut c, m, n).unwrap(),
                &epi,
            )
            .unwrap();
            c
        };
        let want = run(&g, &packed);
        // Eight OS threads at once on the same packed weights.
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..8).map(|_| s.spawn(|| run(&g, &packed))).collect();
            for h in handles {
                assert!(
                    h.join().unwrap().iter().zip(&want).all(|(x, y)| x.to_bits() == y.to_bits()),
                    "{isa}: concurrent call differs"
                );
            }
        });
        // From inside rayon jobs, each call with 2 threads of its own (same thread count twice).
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        let g2 = Gemm::with_isa(isa).unwrap().parallelism(Parallelism::Rayon);
        let want2 = pool.install(|| run(&g2, &packed));
        let got: Vec<Vec<f32>> = pool.install(|| {
            use rayon::prelude::*;
            (0..6).into_par_iter().map(|_| run(&g2, &packed)).collect()
        });
        for c in got {
            assert!(
                c.iter().zip(&want2).all(|(x, y)| x.to_bits() == y.to_bits()),
                "{isa}: call from a rayon job differs"
            );
        }
    }
}
