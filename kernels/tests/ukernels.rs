//! The per-microkernel tester (after XNNPACK's): every variant of every kernel in the
//! registry that this CPU runs, called directly through `AvailableKernel::run_tile`, against
//! an f64 reference. A kernel added to the registry is tested here by that line alone.
//!
//! Sweeps: every m the variant has; every column count a masked variant takes (`1..=width`;
//! the others always compute their full width, narrower panels going through the driver's
//! edge tiles); k in {0, 1, 2, 17, KC-1, KC, KC+1}; A packed (`MR`-row panels) and in place
//! (row-major, padded rows), each value repeated for the `a_broadcast` variants, or for the
//! indirect variants in runs of 1-5 or 1-40 steps whose rows start anywhere in A; alpha/beta
//! combinations; every activation with and without bias. C is NaN-poisoned when beta = 0, and
//! guard values around the tile must survive. The dot-product GEMV variants (`dot_rows_x<n>`,
//! through `AvailableKernel::run_gemv_dot`): every row count up to three row groups, k in {0,
//! 1, 2, 17, every residue of the vector width and unroll, large}, alpha/beta, bias per column
//! or per row, every activation, NaN-poisoned C.
//!
//! Also built for wasm32 (browser-bench/scripts/test-wasm.sh), where `#[test]` is
//! wasm-bindgen-test's.

use lanes_kernels::ops::gemm::{registry, AvailableKernel, DotArgs, TileArgs, Variant, VariantKind};
use lanes_kernels::{Activation, KernelError};
use lanes_testkit::{activation_slack, close, dense_dot_args, Rng, ACTIVATIONS};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const GUARD: f32 = -7.25;

/// One direct call of `v` on random operands, checked against the f64 reference.
#[allow(clippy::too_many_arguments)]
fn check_tile(
    kern: &AvailableKernel,
    v: &Variant,
    cols: usize,
    k: usize,
    (alpha, beta): (f32, f32),
    with_bias: bool,
    act: Activation,
    a_in_place: bool,
    seed: u64,
) {
    let (m, width) = (v.m, v.width);
    let mut r = Rng::new(seed);
    // A: packed panel (element (i, p) at i + p*m) or row-major with 3 floats of padding;
    // `ABroadcast` variants: the same with each value repeated `Variant::a_lanes` times.
    let lanes = v.a_lanes();
    let (rsa, csa) = if a_in_place { (k + 3, 1) } else { (1, m) };
    let (rsa, csa) = (rsa * lanes, csa * lanes);
    let a: Vec<f32> = r.vec(m * (k + 3) + 1).into_iter().flat_map(|x| std::iter::repeat_n(x, lanes)).collect();
    // B: k steps of `width` values, 5 apart more than the width; C: m rows, 4 floats of guard
    // after each (masked variants: the columns after `cols` are guards too).
    let ldb = width + 5;
    let b = r.vec(k * ldb + width);
    let rsc = width + 4;
    let c0: Vec<f32> = (0..m * rsc).map(|i| if i % rsc < cols { r.next_f32() } else { GUARD }).collect();
    let mut c = c0.clone();
    if beta == 0.0 {
        for i in 0..m {
            c[i * rsc..i * rsc + cols].fill(f32::NAN);
        }
    }
    let bias = with_bias.then(|| r.vec(width));
    let mut b_pack = vec![0.0f32; k * width];
    let is_pack = v.kind == VariantKind::PackB;
    // Indirect variants: k in runs of 1..=5 steps (a_in_place: 1..=40, runs longer than a
    // vector), each row's run at a random start in `a` (rows may overlap, as taps do).
    let indirect = v.kind == VariantKind::Indirect;
    let longest = if a_in_place { 40 } else { 5 };
    let mut run_len = Vec::new();
    while indirect && run_len.iter().sum::<usize>() < k {
        let left = k - run_len.iter().sum::<usize>();
        run_len.push((1 + r.below(longest)).min(left));
    }
    let row_starts: Vec<usize> =
        run_len.iter().flat_map(|&len| (0..m).map(|_| r.below(a.len() - len + 1)).collect::<Vec<_>>()).collect();
    // (run, first step) of each depth step, for the reference.
    let step_run: Vec<(usize, usize)> =
        run_len.iter().enumerate().flat_map(|(ri, &len)| (0..len).map(move |q| (ri, q))).collect();
    let a_at = |i: usize, p: usize| {
        if indirect {
            let (ri, q) = step_run[p];
            a[row_starts[ri * m + i] + q]
        } else {
            a[i * rsa + p * csa]
        }
    };
    let args = TileArgs {
        k,
        a: &a,
        rsa,
        csa,
        b: &b,
        ldb,
        c: &mut c,
        rsc,
        alpha,
        beta,
        bias: bias.as_deref(),
        act,
        cols,
        b_pack: is_pack.then_some(&mut b_pack[..]),
        prefetch_next_a: a_in_place,
    };
    if indirect {
        kern.run_tile_indirect(v, args, &run_len, &row_starts).unwrap();
    } else {
        kern.run_tile(v, args).unwrap();
    }
    let what = format!(
        "{} cols={cols} k={k} alpha={alpha} beta={beta} bias={with_bias} {act:?} a_in_place={a_in_place}",
        v.name()
    );
    for i in 0..m {
        for j in 0..rsc {
            let got = c[i * rsc + j];
            if j >= cols {
                assert_eq!(got.to_bits(), GUARD.to_bits(), "{what}: wrote ({i},{j}) outside the tile");
                continue;
            }
            let (mut acc, mut mag) = (0.0f64, 0.0f64);
            for p in 0..k {
                let x = a_at(i, p) as f64 * b[p * ldb + j] as f64;
                acc += x;
                mag += x.abs();
            }
            let mut want = if alpha == 0.0 { 0.0 } else { alpha as f64 * acc };
            let mut total = alpha.abs() as f64 * mag;
            if beta != 0.0 {
                want += beta as f64 * c0[i * rsc + j] as f64;
                total += (beta as f64 * c0[i * rsc + j] as f64).abs();
            }
            if let Some(bias) = &bias {
                want += bias[j] as f64;
                total += bias[j].abs() as f64;
            }
            let want = act.apply(want as f32);
            let rel = activation_slack(act);
            let tol = 16.0 * f32::EPSILON * (k as f32 + 2.0) * total as f32 + rel * (want.abs() + 1.0) + 1e-30;
            assert!(close(got, want, tol), "{what}: ({i},{j}) got {got}, want {want}, tol {tol}");
        }
    }
    if is_pack {
        for p in 0..k {
            assert_eq!(&b_pack[p * width..(p + 1) * width], &b[p * ldb..p * ldb + width], "{what}: packed step {p}");
        }
    }
}

/// Column counts a variant takes (`AvailableKernel::masked_cols`): every one its last vector
/// can hold for masked variants (and indirect ones of kernels with masked tiles), else its
/// width.
fn col_counts(kern: &AvailableKernel, v: &Variant) -> Vec<usize> {
    kern.masked_cols(v).collect()
}

fn tile_variants() -> Vec<(AvailableKernel, Variant)> {
    registry::available()
        .flat_map(|kern| kern.variants().into_iter().map(move |v| (kern, v)))
        .filter(|(_, v)| !matches!(v.kind, VariantKind::GemvRows | VariantKind::GemvDot))
        .collect()
}

#[test]
fn every_variant_every_column_count_short_depths() {
    for (kern, v) in tile_variants() {
        for cols in col_counts(&kern, &v) {
            for k in [0, 1, 2, 17] {
                check_tile(&kern, &v, cols, k, (1.0, 0.0), false, Activation::Identity, false, (cols * 31 + k) as u64);
                if v.kind != VariantKind::PackB {
                    check_tile(&kern, &v, cols, k, (1.0, 0.0), false, Activation::Identity, true, k as u64);
                }
            }
        }
    }
}

#[test]
fn every_variant_depths_around_kc() {
    for (kern, v) in tile_variants() {
        let cols = *col_counts(&kern, &v).iter().rev().find(|&&c| c < v.width).unwrap_or(&v.width);
        for k in [kern.kc - 1, kern.kc, kern.kc + 1] {
            check_tile(&kern, &v, v.width, k, (1.0, 0.0), false, Activation::Identity, false, k as u64);
            check_tile(&kern, &v, cols, k, (1.0, 0.0), false, Activation::Identity, true, k as u64 + 1);
        }
    }
}

#[test]
fn every_variant_alpha_beta_bias_and_activation() {
    for (kern, v) in tile_variants() {
        let cols = col_counts(&kern, &v)[col_counts(&kern, &v).len() / 2];
        if v.kind == VariantKind::ShortPlain {
            // Specialised for beta = 0, no bias, no activation: only alpha varies.
            for alpha in [1.0, -0.5, 0.0] {
                check_tile(&kern, &v, cols, 9, (alpha, 0.0), false, Activation::Identity, true, 5);
            }
            continue;
        }
        for (alpha, beta) in [(1.0, 0.0), (-0.5, 2.0), (0.0, 1.0), (2.0, -1.0)] {
            for act in ACTIVATIONS {
                for with_bias in [false, true] {
                    check_tile(&kern, &v, cols, 9, (alpha, beta), with_bias, act, false, 7);
                }
            }
        }
    }
}

#[test]
fn gemv_rows_variants() {
    for kern in registry::available() {
        for v in kern.variants().into_iter().filter(|v| v.kind == VariantKind::GemvRows) {
            for (k, n) in [(0, 5), (1, 1), (3, 33), (4, 32), (5, 67), (64, 100)] {
                let mut r = Rng::new((k * n) as u64);
                let (csa, ldb) = (2, n + 3);
                let a = r.vec(k * csa + 1);
                let b = r.vec(k * ldb + n);
                let mut acc = vec![f32::NAN; n];
                if k == 0 {
                    acc.fill(0.0);
                }
                kern.run_gemv_rows(&v, k, &a, csa, &b, ldb, &mut acc).unwrap();
                for (j, &got) in acc.iter().enumerate() {
                    let want: f64 = (0..k).map(|p| a[p * csa] as f64 * b[p * ldb + j] as f64).sum();
                    let mag: f64 = (0..k).map(|p| (a[p * csa] as f64 * b[p * ldb + j] as f64).abs()).sum();
                    let tol = 8.0 * f32::EPSILON * (k as f32 + 1.0) * mag as f32;
                    assert!(close(got, want as f32, tol), "{} k={k} n={n} col {j}: got {got}, want {want}", v.name());
                }
            }
        }
    }
}

/// Runs variant `v` directly on a depth-4 tile of zeros (A packed, B `v.width` wide) into `c`
/// with `cols` columns: the indirect variants through one run of row pointers.
fn run_depth_4(
    kern: &AvailableKernel,
    v: &Variant,
    c: &mut [f32],
    cols: usize,
    b_pack: Option<&mut [f32]>,
) -> Result<(), KernelError> {
    let (m, w) = (v.m, v.width);
    let lanes = v.a_lanes();
    let (a, b) = (vec![0.0; m * 4 * lanes], vec![0.0; 4 * w]);
    let args = TileArgs {
        k: 4,
        a: &a,
        rsa: lanes,
        csa: m * lanes,
        b: &b,
        ldb: w,
        c,
        rsc: w,
        alpha: 1.0,
        beta: 0.0,
        bias: None,
        act: Activation::Identity,
        cols,
        b_pack,
        prefetch_next_a: false,
    };
    if v.kind == VariantKind::Indirect {
        kern.run_tile_indirect(v, args, &[4], &vec![0; m])
    } else {
        kern.run_tile(v, args)
    }
}

#[test]
fn direct_calls_refuse_operands_too_short() {
    for (kern, v) in tile_variants() {
        let w = v.width;
        let mut c = vec![0.0; v.m * w - 1];
        let mut b_pack = vec![0.0; 4 * w];
        let b_pack = (v.kind == VariantKind::PackB).then_some(&mut b_pack[..]);
        let refused = run_depth_4(&kern, &v, &mut c, w, b_pack).is_err();
        assert!(refused, "{}: C one value short was accepted", v.name());
    }
}

#[test]
fn masked_tiles_refuse_column_counts_outside_their_last_vector() {
    // A masked tile masks only its last vector: fewer columns than one vector less holds
    // (which the narrower tile covers), none, or more than its width are typed errors.
    for (kern, v) in tile_variants() {
        let range = kern.masked_cols(&v);
        if range.start() == range.end() {
            continue;
        }
        for cols in [0, range.start() - 1, v.width + 1] {
            let mut c = vec![0.0; v.m * v.width];
            let result = run_depth_4(&kern, &v, &mut c, cols, None);
            assert!(
                matches!(result, Err(KernelError::LengthMismatch { what: "masked tile columns", .. })),
                "{}: {cols} columns gave {result:?}",
                v.name()
            );
        }
    }
}

#[test]
fn every_compiled_kernel_is_tested_or_reported_unavailable() {
    let tested: Vec<&str> = registry::available().map(|k| k.name).collect();
    for kern in registry::microkernels() {
        if !tested.contains(&kern.name) {
            // Not a failure: this CPU lacks the ISA (the CI log shows which were skipped).
            println!("skipped {} ({} not available on this CPU)", kern.name, kern.isa);
        }
    }
    assert!(tested.contains(&"sgemm_4x4_scalar"), "the scalar kernel runs everywhere");
    // The NEON kernel is only exercised where NEON is detected: on AArch64 (natively, or under
    // qemu-user in scripts/test.sh) it must be, else this suite would pass without it.
    #[cfg(target_arch = "aarch64")]
    assert!(tested.contains(&"sgemm_8x12_neon"), "NEON not detected: tested only {tested:?}");
    println!("tested: {}", tested.join(", "));
}

fn dot_variants() -> Vec<(AvailableKernel, Variant)> {
    registry::available()
        .flat_map(|kern| kern.variants().into_iter().map(move |v| (kern, v)))
        .filter(|(_, v)| v.kind == VariantKind::GemvDot)
        .collect()
}

/// One direct call of the dot variant `v` (width `w`) on `m` rows of random operands, checked
/// against the f64 reference. A has padded rows, x padded columns; C is `m x w` with padding
/// (guards) between rows and columns; `bias_per_row` indexes the bias by row, else by column.
#[allow(clippy::too_many_arguments)]
fn check_dot(
    kern: &AvailableKernel,
    v: &Variant,
    m: usize,
    k: usize,
    (alpha, beta): (f32, f32),
    bias: Option<bool>,
    act: Activation,
    seed: u64,
) {
    let w = v.width;
    let mut r = Rng::new(seed);
    let (lda, ldx) = (k + 3, k + 5);
    let a = r.vec(m * lda + 1);
    let x = r.vec(w * ldx + 1);
    // C(i, j) at i*rsc + j*csc: rows 2w + 1 apart, columns 2 apart (guards in between).
    let (rsc, csc) = (2 * w + 1, 2);
    let inside = |idx: usize| idx % rsc < 2 * w && (idx % rsc).is_multiple_of(2) && idx / rsc < m;
    let c0: Vec<f32> = (0..m * rsc + 1).map(|i| if inside(i) { r.next_f32() } else { GUARD }).collect();
    let mut c = c0.clone();
    if beta == 0.0 {
        c.iter_mut().enumerate().filter(|(i, _)| inside(*i)).for_each(|(_, x)| *x = f32::NAN);
    }
    let (bias_rs, bias_cs) = if bias == Some(true) { (1, 0) } else { (0, 1) };
    let bias_vals = bias.map(|_| r.vec(m.max(w)));
    let args = DotArgs {
        m,
        k,
        a: &a,
        lda,
        x: &x,
        ldx,
        c: &mut c,
        rsc,
        csc,
        alpha,
        beta,
        bias: bias_vals.as_deref(),
        bias_rs,
        bias_cs,
        act,
    };
    kern.run_gemv_dot(v, args).unwrap();
    let what = format!("{} m={m} k={k} alpha={alpha} beta={beta} bias={bias:?} {act:?}", v.name());
    for (idx, &got) in c.iter().enumerate() {
        if !inside(idx) {
            assert_eq!(got.to_bits(), GUARD.to_bits(), "{what}: wrote index {idx} outside C");
            continue;
        }
        let (i, j) = (idx / rsc, idx % rsc / csc);
        let (mut acc, mut mag) = (0.0f64, 0.0f64);
        for p in 0..k {
            let t = a[i * lda + p] as f64 * x[j * ldx + p] as f64;
            acc += t;
            mag += t.abs();
        }
        let mut want = if alpha == 0.0 { 0.0 } else { alpha as f64 * acc };
        let mut total = alpha.abs() as f64 * mag;
        if beta != 0.0 {
            want += beta as f64 * c0[idx] as f64;
            total += (beta as f64 * c0[idx] as f64).abs();
        }
        if let Some(b) = &bias_vals {
            let bv = b[i * bias_rs + j * bias_cs] as f64;
            want += bv;
            total += bv.abs();
        }
        let want = act.apply(want as f32);
        let rel = activation_slack(act);
        let tol = 16.0 * f32::EPSILON * (k as f32 + 2.0) * total as f32 + rel * (want.abs() + 1.0) + 1e-30;
        assert!(close(got, want, tol), "{what}: ({i},{j}) got {got}, want {want}, tol {tol}");
    }
}

#[test]
fn dot_variants_every_row_count_and_depth() {
    let dots = dot_variants();
    for (kern, v) in &dots {
        // Every residue of the widest vector (16 lanes) times the widest unroll (2), and a depth
        // that streams rows of several KiB.
        let depths: Vec<usize> = [0, 1, 2, 17].into_iter().chain(29..=64).chain([1000, 4099]).collect();
        for m in 1..=13 {
            for &k in &depths {
                if m > 5 && k > 64 && k != 4099 {
                    continue;
                }
                check_dot(kern, v, m, k, (1.0, 0.0), None, Activation::Identity, (m * 7919 + k) as u64);
            }
        }
    }
    assert!(dots.iter().any(|(k, _)| k.name == "sgemm_4x4_scalar"), "the scalar kernel has dot variants");
    // Every kernel with a dot path has one per column count 1..=3.
    for kern in registry::available().filter(|k| dots.iter().any(|(d, _)| d.name == k.name)) {
        let widths: Vec<usize> = dots.iter().filter(|(d, _)| d.name == kern.name).map(|(_, v)| v.width).collect();
        assert_eq!(widths, [1, 2, 3], "{}", kern.name);
    }
}

#[test]
fn dot_variants_alpha_beta_bias_and_activation() {
    for (kern, v) in dot_variants() {
        for (alpha, beta) in [(1.0, 0.0), (-0.5, 2.0), (0.0, 1.0), (2.0, -1.0)] {
            for act in ACTIVATIONS {
                for bias in [None, Some(false), Some(true)] {
                    for (m, k) in [(5, 9), (4, 37), (1, 0)] {
                        check_dot(&kern, &v, m, k, (alpha, beta), bias, act, 11);
                    }
                }
            }
        }
    }
}

#[test]
fn dot_calls_refuse_operands_too_short() {
    for (kern, v) in dot_variants() {
        let shape = (5, 8, v.width);
        let (a, x) = (vec![0.0; 5 * 8], vec![0.0; v.width * 8]);
        let mut c = vec![0.0; 5 * v.width];
        assert!(kern.run_gemv_dot(&v, dense_dot_args(shape, &a, &x, &mut c, None)).is_ok(), "{v:?}");
        assert!(kern.run_gemv_dot(&v, dense_dot_args(shape, &a[1..], &x, &mut c, None)).is_err(), "{v:?}: A");
        assert!(kern.run_gemv_dot(&v, dense_dot_args(shape, &a, &x[1..], &mut c, None)).is_err(), "{v:?}: x");
        let short = c.len() - 1;
        assert!(kern.run_gemv_dot(&v, dense_dot_args(shape, &a, &x, &mut c[..short], None)).is_err(), "{v:?}: C");
        // A tile variant is not a dot variant, and the other way round.
        let tile = kern.variants().into_iter().find(|t| t.kind == VariantKind::Tile).unwrap();
        assert!(kern.run_gemv_dot(&tile, dense_dot_args(shape, &a, &x, &mut c, None)).is_err());
    }
}
