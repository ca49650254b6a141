//! The element-wise suite: every test runs on every available ISA (or the one forced by
//! LANES_ISA) and compares with the test kit's f64 references (`lanes_testkit::eltwise`).
//!
//! The same file is part of the wasm suite (browser-bench/scripts/test-wasm.sh): there
//! `#[test]` is wasm-bindgen-test's; the thread tests are native only.

use lanes_kernels::ops::eltwise::{Binary, Eltwise, Rhs, Unary};
use lanes_kernels::{Isa, KernelError, MatMut, MatRef, Parallelism};
use lanes_testkit::*;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

/// Accepted error of each unary function, relative to `max(|reference|, 1e-36)` (errors on
/// results below 1e-36, where f32 runs out of precision, count as absolute), over
/// `sweep_inputs`. docs/eltwise.md
/// lists what was measured on each ISA.
fn unary_tolerance(op: Unary) -> f64 {
    match op {
        Unary::Identity | Unary::Relu | Unary::Clamp { .. } => 0.0,
        Unary::Exp => 2.5e-7,
        Unary::Sigmoid | Unary::Silu => 4.0e-7,
        Unary::Tanh => 3.0e-7,
        // The tanh form's sigmoid argument K(x + C x^3) carries |z| * 2^-24 absolute rounding
        // error in f32 (z = -86 at x = -10): inherent to evaluating the formula in f32.
        Unary::Gelu => 2.0e-5,
        Unary::GeluErf => 8.0e-7,
    }
}

/// Results below this count their error as absolute (see `unary_tolerance`).
const FLOOR: f64 = 1e-36;

fn elt(isa: Isa) -> Eltwise {
    Eltwise::with_isa(isa).unwrap().parallelism(Parallelism::Sequential)
}

/// Worst `rel_error` of `op` over `x` on `isa` (also checks in place == out of place, bit
/// for bit) and the input where it happens.
fn unary_error(isa: Isa, op: Unary, x: &[f32]) -> (f64, f32, f32) {
    let mut y = vec![0.0f32; x.len()];
    elt(isa).unary(op, x, &mut y).unwrap();
    let mut z = x.to_vec();
    elt(isa).unary_inplace(op, &mut z).unwrap();
    for (i, (a, b)) in y.iter().zip(&z).enumerate() {
        assert!(a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()), "{isa} {op:?} in place differs at {}", x[i]);
    }
    let mut worst = (0.0, 0.0, 0.0);
    for (&xi, &yi) in x.iter().zip(&y) {
        let e = rel_error(yi, unary_reference(op, xi), FLOOR);
        if e > worst.0 || e.is_nan() {
            worst = (e, xi, yi);
        }
    }
    worst
}

#[test]
fn unary_full_range_sweep_against_f64() {
    let x = sweep_inputs(7);
    for isa in isas() {
        for op in Unary::ALL {
            let (e, at, got) = unary_error(isa, op, &x);
            println!("accuracy {isa} {}: max rel error {e:.3e} at x = {at:e} (got {got:e})", op.name());
            assert!(
                e <= unary_tolerance(op),
                "{isa} {op:?}: error {e:e} at x = {at:e}: got {got:e}, want {:e}",
                unary_reference(op, at)
            );
        }
    }
}

#[test]
fn unary_special_values() {
    for isa in isas() {
        let e = elt(isa);
        let x = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0, -0.0, 1e30, -1e30];
        let mut y = [0.0f32; 7];
        e.unary(Unary::Exp, &x, &mut y).unwrap();
        assert!(y[0].is_nan());
        assert_eq!(&y[1..], &[f32::INFINITY, 0.0, 1.0, 1.0, f32::INFINITY, 0.0], "{isa} exp");
        e.unary(Unary::Tanh, &x, &mut y).unwrap();
        assert!(y[0].is_nan());
        assert_eq!(&y[1..], &[1.0, -1.0, 0.0, -0.0, 1.0, -1.0], "{isa} tanh");
        assert!(y[4].is_sign_negative(), "{isa} tanh(-0) = -0");
        e.unary(Unary::Sigmoid, &x, &mut y).unwrap();
        assert!(y[0].is_nan());
        assert_eq!(&y[1..], &[1.0, 0.0, 0.5, 0.5, 1.0, 0.0], "{isa} sigmoid");
        for op in [Unary::Relu, Unary::Gelu, Unary::GeluErf, Unary::Silu, Unary::Clamp { min: -1.0, max: 1.0 }] {
            e.unary(op, &x, &mut y).unwrap();
            assert!(y[0].is_nan(), "{isa} {op:?}(NaN)");
            assert_eq!(y[3], 0.0, "{isa} {op:?}(0)");
        }
        // The formulas' IEEE evaluation: x * Phi(x) at -Inf is -Inf * 0 = NaN (documented).
        e.unary(Unary::GeluErf, &x, &mut y).unwrap();
        assert_eq!((y[1], y[5], y[6]), (f32::INFINITY, 1e30, -0.0), "{isa} gelu_erf");
        assert!(y[2].is_nan());
    }
}

/// Random values in [-scale, scale).
fn data(r: &mut Rng, len: usize, scale: f32) -> Vec<f32> {
    r.vec(len).into_iter().map(|v| v * scale).collect()
}

#[test]
fn unary_every_length_and_offset_writes_nothing_else() {
    let mut r = Rng::new(11);
    for isa in isas() {
        for op in Unary::ALL {
            for len in (0..=70).chain([127, 1000, 4099]) {
                let off = len % 5;
                let x = data(&mut r, len, 10.0);
                let mut buf = vec![-777.0f32; len + 40];
                elt(isa).unary(op, &x, &mut buf[off..off + len]).unwrap();
                for (i, v) in buf.iter().enumerate() {
                    if i < off || i >= off + len {
                        assert_eq!(*v, -777.0, "{isa} {op:?} len {len} wrote at {i}");
                    } else {
                        let xi = x[i - off];
                        let e = rel_error(*v, unary_reference(op, xi), FLOOR);
                        assert!(e <= unary_tolerance(op), "{isa} {op:?} len {len} at {xi}: {v} ({e:e})");
                    }
                }
            }
        }
    }
}

#[test]
fn unary_vector_paths_match_the_scalar_definition() {
    let x = sweep_inputs(3);
    for isa in isas() {
        for op in Unary::ALL {
            let mut y = vec![0.0; x.len()];
            elt(isa).unary(op, &x, &mut y).unwrap();
            for (&xi, &yi) in x.iter().zip(&y) {
                let want = op.apply(xi);
                let e = rel_error(yi, want as f64, FLOOR);
                // Close to the scalar definition, or closer to the f64 reference than it (the
                // vector sigmoid keeps subnormal results that 1/(1 + e^-z) flushes to 0).
                let r = unary_reference(op, xi);
                assert!(
                    e <= 2.0 * unary_tolerance(op) + 1e-7 || rel_error(yi, r, FLOOR) <= rel_error(want, r, FLOOR),
                    "{isa} {op:?}({xi}) = {yi}, scalar {want}"
                );
            }
        }
    }
}

/// (rows, cols, x row stride, y row stride) cases: every cols in 0..=70 and some large ones,
/// padded rows.
fn row_shapes() -> Vec<(usize, usize, usize, usize)> {
    let mut v = vec![];
    for cols in (0..=70).chain([127, 768, 1000]) {
        v.push((3, cols, cols, cols));
        v.push((2, cols, cols + 5, cols + 3));
    }
    v.push((0, 5, 5, 5));
    v
}

/// Runs a row op on `x` (rows x cols in a buffer with row stride `xs`) into a guarded output
/// buffer with row stride `ys`, checks the padding is untouched, returns the rows.
fn run_rows(
    rows: usize,
    cols: usize,
    xs: usize,
    ys: usize,
    x: &[f32],
    f: impl Fn(MatRef<'_>, MatMut<'_>) -> Result<(), KernelError>,
) -> Vec<Vec<f32>> {
    let mut y = vec![-777.0f32; rows * ys + 16];
    let xv = MatRef::new(x, rows, cols, xs as isize, 1).unwrap();
    f(xv, MatMut::new(&mut y, rows, cols, ys as isize, 1).unwrap()).unwrap();
    for (i, v) in y.iter().enumerate() {
        if i >= rows * ys || i % ys >= cols {
            assert_eq!(*v, -777.0, "{rows}x{cols} wrote outside the view at {i}");
        }
    }
    (0..rows).map(|i| y[i * ys..i * ys + cols].to_vec()).collect()
}

fn check_rows(what: &str, got: &[Vec<f32>], want: &[Vec<f64>], tol: f64, floor: f64) {
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        for (j, (&g, &w)) in g.iter().zip(w).enumerate() {
            let e = rel_error(g, w, floor);
            assert!(e <= tol, "{what}: ({i},{j}) got {g}, want {w} (error {e:e})");
        }
    }
}

fn rows_of(x: &[f32], rows: usize, cols: usize, xs: usize) -> Vec<&[f32]> {
    (0..rows).map(|i| &x[i * xs..i * xs + cols]).collect()
}

#[test]
fn row_ops_every_width_strided_against_f64() {
    let mut r = Rng::new(5);
    for isa in isas() {
        let e = elt(isa);
        for (rows, cols, xs, ys) in row_shapes() {
            let x = data(&mut r, rows * xs + 3, 8.0);
            let xr = rows_of(&x, rows, cols, xs);
            let (gamma, beta) = (data(&mut r, cols, 2.0), data(&mut r, cols, 1.0));
            let what = |op: &str| format!("{isa} {op} {rows}x{cols} strides {xs}/{ys}");
            let sm = run_rows(rows, cols, xs, ys, &x, |x, y| e.softmax(x, y));
            let want: Vec<_> = xr.iter().map(|r| softmax_reference(r)).collect();
            check_rows(&what("softmax"), &sm, &want, 2e-6, FLOOR);
            let ls = run_rows(rows, cols, xs, ys, &x, |x, y| e.log_softmax(x, y));
            let want: Vec<_> = xr.iter().map(|r| log_softmax_reference(r)).collect();
            check_rows(&what("log_softmax"), &ls, &want, 1e-6, 1.0);
            let ln = run_rows(rows, cols, xs, ys, &x, |x, y| e.layer_norm(x, &gamma, &beta, 1e-5, y));
            let want: Vec<_> = xr.iter().map(|r| layer_norm_reference(r, &gamma, &beta, 1e-5)).collect();
            check_rows(&what("layer_norm"), &ln, &want, 2e-6, 1.0);
            let rn = run_rows(rows, cols, xs, ys, &x, |x, y| e.rms_norm(x, &gamma, 1e-6, y));
            let want: Vec<_> = xr.iter().map(|r| rms_norm_reference(r, &gamma, 1e-6)).collect();
            check_rows(&what("rms_norm"), &rn, &want, 2e-6, 1.0);
            // In place gives the same bits.
            for (name, out) in [("softmax", &sm), ("log_softmax", &ls), ("layer_norm", &ln), ("rms_norm", &rn)] {
                let mut z = x.clone();
                let zv = MatMut::new(&mut z, rows, cols, xs as isize, 1).unwrap();
                match name {
                    "softmax" => e.softmax_inplace(zv),
                    "log_softmax" => e.log_softmax_inplace(zv),
                    "layer_norm" => e.layer_norm_inplace(zv, &gamma, &beta, 1e-5),
                    _ => e.rms_norm_inplace(zv, &gamma, 1e-6),
                }
                .unwrap();
                for i in 0..rows {
                    let zr = &z[i * xs..i * xs + cols];
                    assert!(zr.iter().zip(&out[i]).all(|(a, b)| a.to_bits() == b.to_bits()), "{} in place", what(name));
                }
                assert_eq!(z[rows * xs..], x[rows * xs..], "{} in place wrote past the rows", what(name));
            }
        }
    }
}

#[test]
fn softmax_special_rows() {
    let inf = f32::INFINITY;
    let rows: Vec<Vec<f32>> = vec![
        vec![1e30, -1e30, 0.0, 5.0],
        vec![-1e30, -1e30, -1e30],
        vec![3e38, -3e38, 1.0],
        vec![-inf, -inf, -inf, -inf, -inf],
        vec![-inf, 0.0, 1.0, -inf],
        vec![1.0, f32::NAN, 2.0],
        vec![1.0, inf, 2.0],
        vec![88.0, 89.0, 90.0, 1000.0],
        vec![-1e-45, 1e-45, 0.0, -0.0],
        // Around the point where e^(x - max) leaves the normal floats (x - max = -87.34).
        vec![0.0, -50.0, -87.0, -87.33, -87.34, -88.0, -100.0, -104.0, -200.0],
        vec![1.0, -86.5, -86.25, -87.25, -87.5],
    ];
    for isa in isas() {
        let e = elt(isa);
        for row in &rows {
            let n = row.len();
            // Replicate the row to 37 columns (tails and full vectors): pad with -inf, which
            // does not change the softmax of the finite entries.
            for cols in [n, 37] {
                let mut x = row.clone();
                x.resize(cols, f32::NEG_INFINITY);
                let mut y = vec![0.0; cols];
                e.softmax(MatRef::row_major(&x, 1, cols).unwrap(), MatMut::row_major(&mut y, 1, cols).unwrap())
                    .unwrap();
                check_rows(&format!("{isa} softmax {x:?}"), &[y], &[softmax_reference(&x)], 2e-6, FLOOR);
                let mut y = vec![0.0; cols];
                e.log_softmax(MatRef::row_major(&x, 1, cols).unwrap(), MatMut::row_major(&mut y, 1, cols).unwrap())
                    .unwrap();
                check_rows(&format!("{isa} log_softmax {x:?}"), &[y], &[log_softmax_reference(&x)], 1e-6, 1.0);
            }
        }
    }
}

#[test]
fn norms_special_rows() {
    for isa in isas() {
        let e = elt(isa);
        for row in [vec![1.0f32, f32::NAN, 2.0], vec![1.0, f32::INFINITY, 2.0], vec![3.0; 5], vec![1e-30, -1e-30, 0.0]]
        {
            let n = row.len();
            let (g, b) = (vec![1.0; n], vec![0.5; n]);
            let mut y = vec![0.0; n];
            e.layer_norm(
                MatRef::row_major(&row, 1, n).unwrap(),
                &g,
                &b,
                1e-5,
                MatMut::row_major(&mut y, 1, n).unwrap(),
            )
            .unwrap();
            check_rows(
                &format!("{isa} layer_norm {row:?}"),
                &[y],
                &[layer_norm_reference(&row, &g, &b, 1e-5)],
                2e-6,
                1.0,
            );
            let mut y = vec![0.0; n];
            e.rms_norm(MatRef::row_major(&row, 1, n).unwrap(), &g, 1e-6, MatMut::row_major(&mut y, 1, n).unwrap())
                .unwrap();
            check_rows(&format!("{isa} rms_norm {row:?}"), &[y], &[rms_norm_reference(&row, &g, 1e-6)], 2e-6, 1.0);
        }
    }
}

#[test]
fn binary_broadcast_and_full_every_width() {
    let mut r = Rng::new(9);
    for isa in isas() {
        let e = elt(isa);
        for (rows, cols, xs, ys) in row_shapes() {
            let x = data(&mut r, rows * xs + 3, 4.0);
            let row = data(&mut r, cols, 4.0);
            let full = data(&mut r, rows * xs + 3, 4.0);
            for op in [Binary::Add, Binary::Mul] {
                for broadcast in [true, false] {
                    let rhs = if broadcast {
                        Rhs::Row(&row)
                    } else {
                        Rhs::Mat(MatRef::new(&full, rows, cols, xs as isize, 1).unwrap())
                    };
                    let got = run_rows(rows, cols, xs, ys, &x, |x, y| e.binary(op, x, rhs, y));
                    let yv = |i: usize, j: usize| if broadcast { row[j] } else { full[i * xs + j] };
                    for i in 0..rows {
                        for j in 0..cols {
                            let want = op.apply(x[i * xs + j], yv(i, j));
                            assert_eq!(got[i][j], want, "{isa} {op:?} {rows}x{cols} ({i},{j})");
                        }
                    }
                    let mut z = x.clone();
                    e.binary_inplace(op, MatMut::new(&mut z, rows, cols, xs as isize, 1).unwrap(), rhs).unwrap();
                    for i in 0..rows {
                        assert_eq!(z[i * xs..i * xs + cols], got[i][..], "{isa} {op:?} in place");
                    }
                }
            }
        }
    }
}

#[test]
fn bad_input_is_a_typed_error() {
    for isa in isas() {
        let e = elt(isa);
        let x = [1.0f32; 12];
        let mut y = [0.0f32; 12];
        assert_eq!(
            e.unary(Unary::Exp, &x, &mut y[..11]),
            Err(KernelError::LengthMismatch { what: "unary output", expected: 12, found: 11 })
        );
        for (min, max) in [(1.0, 0.0), (f32::NAN, 1.0), (0.0, f32::NAN)] {
            assert!(matches!(e.unary(Unary::Clamp { min, max }, &x, &mut y), Err(KernelError::InvalidArgument { .. })));
            assert!(matches!(
                e.unary_inplace(Unary::Clamp { min, max }, &mut y),
                Err(KernelError::InvalidArgument { .. })
            ));
        }
        let xv = || MatRef::row_major(&x, 3, 4).unwrap();
        let g = [1.0f32; 4];
        let mut y2 = [0.0f32; 12];
        for eps in [-1e-5, f32::NAN] {
            assert!(matches!(e.layer_norm(xv(), &g, &g, eps, out(&mut y2)), Err(KernelError::InvalidArgument { .. })));
            assert!(matches!(e.rms_norm(xv(), &g, eps, out(&mut y2)), Err(KernelError::InvalidArgument { .. })));
        }
        assert_eq!(
            e.layer_norm(xv(), &g[..3], &g, 0.0, out(&mut y2)),
            Err(KernelError::LengthMismatch { what: "gamma", expected: 4, found: 3 })
        );
        assert_eq!(
            e.layer_norm(xv(), &g, &g[..2], 0.0, out(&mut y2)),
            Err(KernelError::LengthMismatch { what: "beta", expected: 4, found: 2 })
        );
        assert_eq!(
            e.rms_norm(xv(), &g[..1], 0.0, out(&mut y2)),
            Err(KernelError::LengthMismatch { what: "gamma", expected: 4, found: 1 })
        );
        assert!(matches!(
            e.softmax(xv(), MatMut::row_major(&mut y2[..], 4, 3).unwrap()),
            Err(KernelError::ShapeMismatch { .. })
        ));
        assert_eq!(
            e.binary(Binary::Add, xv(), Rhs::Row(&g[..3]), out(&mut y2)),
            Err(KernelError::LengthMismatch { what: "broadcast row", expected: 4, found: 3 })
        );
        assert!(matches!(
            e.binary(Binary::Mul, xv(), Rhs::Mat(MatRef::row_major(&x, 4, 3).unwrap()), out(&mut y2)),
            Err(KernelError::ShapeMismatch { .. })
        ));
        // Rows must be contiguous.
        assert!(matches!(
            e.softmax(MatRef::col_major(&x, 3, 4).unwrap(), out(&mut y2)),
            Err(KernelError::InvalidArgument { .. })
        ));
        // rows x stride overflowing isize, or rows past the slice: refused by the views.
        assert!(matches!(MatRef::new(&x, 3, 4, isize::MAX / 2, 1), Err(KernelError::StrideOverflow { .. })));
        assert!(matches!(MatRef::new(&x, 3, 4, 5, 1), Err(KernelError::SliceTooShort { .. })));
        assert_eq!(y, [0.0; 12], "nothing written by refused calls");
    }
    #[cfg(not(target_arch = "wasm32"))]
    assert_eq!(Eltwise::with_isa(Isa::WasmRelaxed).err(), Some(KernelError::IsaUnavailable { isa: "relaxed" }));
    #[cfg(target_arch = "wasm32")]
    assert_eq!(Eltwise::with_isa(Isa::Avx512).err(), Some(KernelError::IsaUnavailable { isa: "avx512" }));
}

fn out(y: &mut [f32; 12]) -> MatMut<'_> {
    MatMut::row_major(&mut y[..], 3, 4).unwrap()
}

#[test]
fn free_functions_and_activation_mapping() {
    let x: Vec<f32> = (0..40).map(|i| i as f32 * 0.3 - 6.0).collect();
    let mut y = vec![0.0; 40];
    lanes_kernels::ops::eltwise::unary(Unary::from(lanes_kernels::Activation::RELU6), &x, &mut y).unwrap();
    assert!(x.iter().zip(&y).all(|(a, b)| *b == a.clamp(0.0, 6.0)));
    for op in Unary::ALL {
        for xi in [-3.0f32, -0.5, 0.25, 2.0] {
            let h = 1e-3f64;
            let f = |v: f64| unary_reference(op, v as f32);
            let fd = (f(xi as f64 + h) - f(xi as f64 - h)) / (2.0 * h);
            assert!((op.derivative(xi) as f64 - fd).abs() < 3e-3 * fd.abs().max(1.0), "{op:?}' at {xi}");
        }
    }
}

#[cfg(all(not(target_arch = "wasm32"), feature = "rayon"))]
#[test]
fn threads_give_the_same_bits() {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    let mut r = Rng::new(1);
    let n = (1 << 18) + 13;
    let x = data(&mut r, n, 10.0);
    for isa in isas() {
        for op in [Unary::Exp, Unary::GeluErf, Unary::Relu] {
            let mut a = vec![0.0; n];
            let mut b = vec![0.0; n];
            elt(isa).unary(op, &x, &mut a).unwrap();
            pool.install(|| Eltwise::with_isa(isa).unwrap().parallelism(Parallelism::Rayon).unary(op, &x, &mut b))
                .unwrap();
            assert!(a.iter().zip(&b).all(|(p, q)| p.to_bits() == q.to_bits()), "{isa} {op:?} threads");
            let mut c = x.clone();
            pool.install(|| Eltwise::with_isa(isa).unwrap().unary_inplace(op, &mut c)).unwrap();
            assert!(a.iter().zip(&c).all(|(p, q)| p.to_bits() == q.to_bits()), "{isa} {op:?} auto in place");
        }
        let (rows, cols) = (200, 1000);
        let g = data(&mut r, cols, 1.0);
        let (mut a, mut b) = (vec![0.0; rows * cols], vec![0.0; rows * cols]);
        let xv = MatRef::row_major(&x[..rows * cols], rows, cols).unwrap();
        elt(isa).layer_norm(xv, &g, &g, 1e-5, MatMut::row_major(&mut a, rows, cols).unwrap()).unwrap();
        pool.install(|| {
            Eltwise::with_isa(isa).unwrap().parallelism(Parallelism::Rayon).layer_norm(
                xv,
                &g,
                &g,
                1e-5,
                MatMut::row_major(&mut b, rows, cols).unwrap(),
            )
        })
        .unwrap();
        assert_eq!(a, b, "{isa} layer_norm threads");
        elt(isa).softmax(xv, MatMut::row_major(&mut a, rows, cols).unwrap()).unwrap();
        pool.install(|| Eltwise::with_isa(isa).unwrap().softmax(xv, MatMut::row_major(&mut b, rows, cols).unwrap()))
            .unwrap();
        assert_eq!(a, b, "{isa} softmax threads");
    }
}
