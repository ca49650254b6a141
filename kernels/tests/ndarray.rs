//! The `ndarray` feature: conversions of every layout ndarray can describe, checked against a
//! naive f64 product, and the typed errors of the layouts and shapes that cannot work.
#![cfg(feature = "ndarray")]

use lanes_kernels::ndarray::{gemm_into, matmul, matmul_packed, matmul_with};
use lanes_kernels::{Activation, Epilogue, Gemm, Isa, KernelError, MatMut, MatRef, Parallelism};
use ndarray::{s, Array2, ArrayView2, ShapeBuilder};

/// A deterministic `rows x cols` array with values in [-1, 1).
fn filled(rows: usize, cols: usize, seed: u32) -> Array2<f32> {
    Array2::from_shape_fn((rows, cols), |(i, j)| {
        let h = (i as u32).wrapping_mul(2_654_435_761) ^ (j as u32).wrapping_mul(40_503) ^ seed.wrapping_mul(97);
        (h % 2001) as f32 / 1000.0 - 1.0
    })
}

/// The naive triple loop in f64.
fn reference(a: ArrayView2<'_, f32>, b: ArrayView2<'_, f32>) -> Array2<f32> {
    let (m, k) = a.dim();
    let n = b.ncols();
    Array2::from_shape_fn((m, n), |(i, j)| (0..k).map(|p| a[(i, p)] as f64 * b[(p, j)] as f64).sum::<f64>() as f32)
}

#[track_caller]
fn assert_close(got: &Array2<f32>, want: &Array2<f32>, k: usize) {
    assert_eq!(got.dim(), want.dim());
    let tol = 1e-5 * (k.max(1) as f32);
    for ((i, j), w) in want.indexed_iter() {
        let g = got[(i, j)];
        assert!((g - w).abs() <= tol * (1.0 + w.abs()), "({i}, {j}): got {g}, want {w}");
    }
}

/// Every A layout below times every B layout, through `matmul`, and through `gemm_into` into
/// every output layout.
#[test]
fn every_layout_matches_the_naive_product() {
    let (m, k, n) = (37, 29, 41);
    let a_std = filled(m, k, 1);
    let a_f = {
        let mut f = Array2::zeros((m, k).f());
        f.assign(&a_std);
        f
    };
    let a_t_src = filled(k, m, 2); // its transpose is m x k
    let a_big = filled(3 * m, 2 * k + 1, 3); // stepped slices of it are m x k
    let b_std = filled(k, n, 4);
    let b_big = filled(2 * k, 3 * n, 5);
    let row = filled(1, n, 6);
    let a_views: Vec<(&str, ArrayView2<'_, f32>)> = vec![
        ("standard", a_std.view()),
        ("fortran", a_f.view()),
        ("transposed", a_t_src.t()),
        ("stepped", a_big.slice(s![..;3, 1..;2])),
        ("negative rows", a_big.slice(s![..m;-1, ..k])),
        ("negative both", a_big.slice(s![..;-3, 1..;-2])),
    ];
    let b_views: Vec<(&str, ArrayView2<'_, f32>)> = vec![
        ("standard", b_std.view()),
        ("stepped", b_big.slice(s![..;2, ..;3])),
        ("negative cols", b_big.slice(s![..k, ..n;-1])),
        ("broadcast row", row.broadcast((k, n)).unwrap()),
    ];
    for (an, a) in &a_views {
        assert_eq!(a.dim(), (m, k), "{an}");
        for (bn, b) in &b_views {
            assert_eq!(b.dim(), (k, n), "{bn}");
            let want = reference(a.view(), b.view());
            assert_close(&matmul(a.view(), b.view()).unwrap(), &want, k);
            // C layouts: standard, Fortran, reversed rows of a larger array.
            let mut c_std = Array2::from_elem((m, n), f32::NAN); // beta = 0: never read
            gemm_into(1.0, a.view(), b.view(), 0.0, c_std.view_mut()).unwrap();
            assert_close(&c_std, &want, k);
            let mut c_f = Array2::from_elem((m, n).f(), f32::NAN);
            gemm_into(1.0, a.view(), b.view(), 0.0, c_f.view_mut()).unwrap();
            assert_close(&c_f.as_standard_layout().to_owned(), &want, k);
            let mut c_big = Array2::<f32>::ones((2 * m, n + 3));
            gemm_into(2.0, a.view(), b.view(), -1.0, c_big.slice_mut(s![..;-2, 3..])).unwrap();
            let got = c_big.slice(s![..;-2, 3..]).to_owned();
            assert_close(&got, &want.mapv(|x| 2.0 * x - 1.0), k);
            // The rows the stepped output skipped are untouched.
            assert!(c_big.slice(s![..;2, ..]).iter().all(|&x| x == 1.0), "{an} x {bn}");
        }
    }
}

#[test]
fn owned_arrays_and_references_convert() {
    let a = filled(4, 3, 7);
    let r = MatRef::try_from(&a).unwrap();
    assert_eq!((r.rows(), r.cols(), r.row_stride(), r.col_stride()), (4, 3, 3, 1));
    assert_eq!(r.get(2, 1), a[(2, 1)]);
    let shared = a.to_shared();
    assert_eq!(MatRef::try_from(&shared).unwrap().get(3, 2), a[(3, 2)]);
    let mut c = Array2::<f32>::zeros((4, 3));
    let mut v = MatMut::try_from(&mut c).unwrap();
    v.set(1, 2, 5.0);
    assert_eq!(c[(1, 2)], 5.0);
}

#[test]
fn empty_arrays() {
    let a = Array2::<f32>::zeros((0, 5));
    let b = filled(5, 3, 8);
    assert_eq!(matmul(a.view(), b.view()).unwrap().dim(), (0, 3));
    // k = 0: C = 0 (beta = 0), whatever the inputs.
    let a = Array2::<f32>::zeros((4, 0));
    let b = Array2::<f32>::zeros((0, 3));
    assert_eq!(matmul(a.view(), b.view()).unwrap(), Array2::<f32>::zeros((4, 3)));
    let mut c = Array2::<f32>::ones((4, 3));
    gemm_into(1.0, a.view(), b.view(), 0.5, c.view_mut()).unwrap();
    assert_eq!(c, Array2::from_elem((4, 3), 0.5));
    let a = filled(2, 3, 9);
    assert_eq!(matmul(a.view(), Array2::<f32>::zeros((3, 0)).view()).unwrap().dim(), (2, 0));
}

#[test]
fn bad_shapes_and_layouts_are_typed_errors() {
    let a = filled(3, 4, 10);
    let b = filled(5, 2, 11);
    assert!(matches!(
        matmul(a.view(), b.view()),
        Err(KernelError::ShapeMismatch { expected: (4, 2), found: (5, 2), .. })
    ));
    let mut c = Array2::<f32>::zeros((3, 3));
    let b = filled(4, 2, 12);
    assert!(matches!(
        gemm_into(1.0, a.view(), b.view(), 0.0, c.view_mut()),
        Err(KernelError::ShapeMismatch { expected: (3, 2), found: (3, 3), .. })
    ));
    assert!(c.iter().all(|&x| x == 0.0), "nothing written on error");
    // An output that maps two elements to one address cannot be an ndarray ArrayViewMut in
    // safe code; the raw constructor the conversion goes through refuses it.
    let mut d = [0.0f32; 8];
    // SAFETY: every element the views would address lies in `d`.
    let e = unsafe { MatMut::from_raw_parts(d.as_mut_ptr(), 3, 4, 0, 1) }.unwrap_err();
    assert!(matches!(e, KernelError::OverlappingOutput { row_stride: 0, .. }), "{e}");
    // SAFETY: as above.
    let e = unsafe { MatMut::from_raw_parts(d.as_mut_ptr(), 2, 3, 1, 1) }.unwrap_err();
    assert!(matches!(e, KernelError::OverlappingOutput { .. }), "{e}");
    // SAFETY: only the overflow check runs: the view would not fit in memory.
    let e = unsafe { MatRef::from_raw_parts(d.as_ptr(), 3, 3, isize::MAX / 2, 1) }.unwrap_err();
    assert!(matches!(e, KernelError::StrideOverflow { .. }), "{e}");
    // A zero-stride (broadcast) input is fine, and so is a read-only view of anything.
    let col = filled(4, 1, 13);
    let bcast = col.broadcast((4, 6)).unwrap();
    let want = reference(a.view(), bcast.view());
    assert_close(&matmul(a.view(), bcast).unwrap(), &want, 4);
}

#[test]
fn configured_gemm_and_prepacked_weights() {
    let x = filled(9, 16, 14);
    let w = filled(16, 12, 15); // in x out
    let bias: Vec<f32> = (0..12).map(|j| j as f32 / 10.0 - 0.5).collect();
    let want = reference(x.view(), w.view()) + ndarray::ArrayView1::from(&bias[..]);
    let want = want.mapv(|v| v.max(0.0));
    for isa in Isa::available() {
        let g = Gemm::with_isa(isa).unwrap().parallelism(Parallelism::Sequential);
        // W^T stored [out, in] (PyTorch's layout): pack its transposed view.
        let w_t = w.t().to_owned();
        let packed = g.pack_b(MatRef::try_from(w_t.t()).unwrap()).unwrap();
        let y = matmul_packed(&g, x.view(), &packed, &Epilogue::new(Some(&bias), Activation::Relu)).unwrap();
        assert_close(&y, &want, 16);
        let plain = matmul_with(&g, x.view(), w.view()).unwrap();
        assert_close(&plain, &reference(x.view(), w.view()), 16);
    }
    let g = Gemm::new();
    let packed = g.pack_b(MatRef::try_from(&w).unwrap()).unwrap();
    let short_bias = [0.0f32; 3];
    assert!(matches!(
        matmul_packed(&g, x.view(), &packed, &Epilogue::new(Some(&short_bias), Activation::Identity)),
        Err(KernelError::LengthMismatch { expected: 12, found: 3, .. })
    ));
}
