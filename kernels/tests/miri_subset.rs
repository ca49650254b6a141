//! One small case of every unsafe path of the scalar and portable tiers, sized for Miri
//! (scripts/miri.sh runs this file under Miri with LANES_ISA=scalar and =portable; natively it
//! runs on every ISA in a blink like the other suites): GEMM with partial tiles in every
//! layout (reversed strides included), GEMV, prepacked B, fused bias and activation; the
//! implicit-GEMM, pointwise and depthwise convolutions with residual; max/average/global
//! pooling with padding; unary, binary, softmax and norms on strided rows, in place too;
//! NCHW/NHWC. Each against the test kit's references, as in the full suites.

use lanes_kernels::ops::conv::{Conv2d, Conv2dParams, FilterLayout, Padding};
use lanes_kernels::ops::eltwise::{Binary, Eltwise, Rhs, Unary};
#[cfg(all(feature = "rayon", not(target_arch = "wasm32")))]
use lanes_kernels::ops::gemm::Strategy;
use lanes_kernels::ops::layout::{nchw_to_nhwc, nhwc_to_nchw};
use lanes_kernels::ops::pool::{global_avg_pool_with_isa, Pool2d, Pool2dParams, PoolKind};
use lanes_kernels::{Activation, Epilogue, Gemm, MatMut, MatRef, Parallelism};
use lanes_testkit::{
    check_case, close, conv2d_reference, global_avg_pool_reference, isas, layer_norm_reference, pool2d_reference,
    softmax_reference, unary_reference, Layout, Rng, LAYOUTS,
};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

fn gemm(isa: lanes_kernels::Isa) -> Gemm {
    Gemm::with_isa(isa).unwrap().parallelism(Parallelism::Sequential)
}

#[test]
fn gemm_partial_tiles_layouts_gemv_and_packed_b() {
    for isa in isas() {
        let g = gemm(isa);
        let bias = [0.5f32, -1.0, 2.0, 0.25, -0.5, 1.5, 3.0, -2.0, 0.0];
        for (i, &layout) in LAYOUTS.iter().enumerate() {
            let ls = (layout, LAYOUTS[(i + 1) % 4], LAYOUTS[(i + 2) % 4]);
            check_case(&g, (5, 9, 3), 1.0, 0.0, ls, &Epilogue::NONE, i as u64);
            check_case(&g, (3, 2, 5), -0.5, 2.0, ls, &Epilogue::new(Some(&bias[..2]), Activation::Relu), 10 + i as u64);
        }
        // GEMV (one row), k = 0, a shifted C.
        let row = (Layout::RowMajor, Layout::RowMajor, Layout::Shifted { off: 3 });
        check_case(&g, (1, 9, 7), 1.0, 1.0, row, &Epilogue::new(Some(&bias), Activation::Gelu), 20);
        check_case(&g, (4, 3, 0), 2.0, 0.5, row, &Epilogue::NONE, 21);
        // Prepacked B against unpacked, bit for bit.
        let mut r = Rng::new(22);
        let (m, n, k) = (3, 10, 4);
        let (a, b) = (r.vec(m * k), r.vec(k * n));
        let (av, bv) = (MatRef::row_major(&a, m, k).unwrap(), MatRef::row_major(&b, k, n).unwrap());
        let packed = g.pack_b(bv).unwrap();
        let (mut c1, mut c2) = (vec![f32::NAN; m * n], vec![f32::NAN; m * n]);
        g.run(1.0, av, bv, 0.0, MatMut::row_major(&mut c1, m, n).unwrap()).unwrap();
        g.run_packed(1.0, av, &packed, 0.0, MatMut::row_major(&mut c2, m, n).unwrap(), &Epilogue::NONE).unwrap();
        assert_eq!(c1, c2, "{isa:?}");
        assert_eq!(g.run_packed_to_vec(1.0, av, &packed, &Epilogue::NONE).unwrap(), c2, "{isa:?}");
    }
}

#[test]
fn convolutions_every_path() {
    for isa in isas() {
        let cases = [
            // Implicit GEMM: 3x3, padding, stride 2, two groups.
            Conv2dParams::new(4, 6, (3, 3)).padding(Padding::uniform(1)).stride(2, 1).groups(2),
            // Pointwise: a plain GEMM on the input.
            Conv2dParams::new(6, 5, (1, 1)),
            // Direct (C_in <= 4): padding on every side, stride 2 across, 8+ output columns.
            Conv2dParams::new(3, 5, (3, 3)).padding(Padding::uniform(1)).stride(1, 2),
            // Depthwise: 3x3 "same" and a dilated 2x2.
            Conv2dParams::new(5, 5, (3, 3)).padding(Padding::Same).groups(5),
            Conv2dParams::new(3, 3, (2, 2)).dilation(2, 1).padding(Padding::uniform(1)).groups(3),
        ];
        for (i, p) in cases.into_iter().enumerate() {
            // (The direct path's 8-pixel loop needs 8+ interior columns.)
            let (batch, h, w) = (2, 5, if p.in_channels <= 4 && p.groups == 1 { 17 } else { 4 });
            let mut r = Rng::new(30 + i as u64);
            let filter = r.vec(p.filter_len().unwrap());
            let bias = r.vec(p.out_channels);
            let conv = Conv2d::with_gemm(gemm(isa), p, &filter, FilterLayout::Oihw, Some(&bias), Activation::Identity)
                .unwrap();
            let g = conv.geometry(batch, h, w).unwrap();
            let input = r.vec(g.input_len().unwrap());
            let residual = r.vec(g.output_len().unwrap());
            let mut out = vec![f32::NAN; g.output_len().unwrap()];
            conv.run_with_residual(&input, batch, h, w, &residual, &mut out).unwrap();
            let (want, mag) = conv2d_reference(&g, &input, &filter, Some(&bias), Some(&residual), Activation::Identity);
            for (j, ((&o, &wv), &m)) in out.iter().zip(&want).zip(&mag).enumerate() {
                assert!(close(o, wv, 1e-5 * (m + 1.0)), "{isa:?} case {i}: output {j} got {o}, want {wv}");
            }
            // Into uninitialised storage: the same values as into a slice.
            conv.run(&input, batch, h, w, &mut out).unwrap();
            assert_eq!(conv.run_to_vec(&input, batch, h, w).unwrap().0, out, "{isa:?} case {i}");
        }
    }
}

#[test]
fn pooling_with_padding_and_global() {
    for isa in isas() {
        let (batch, h, w, c) = (1, 5, 4, 5);
        let input = Rng::new(40).vec(batch * h * w * c);
        for (kind, avg) in [
            (PoolKind::Max, None),
            (PoolKind::Avg { count_include_pad: false }, Some(false)),
            (PoolKind::Avg { count_include_pad: true }, Some(true)),
        ] {
            let p = Pool2dParams::new(kind, c, (3, 2)).stride(2, 1).padding(Padding::uniform(1));
            let g = p.geometry(batch, h, w).unwrap();
            let mut out = vec![f32::NAN; g.output_len().unwrap()];
            let pool = Pool2d::with_isa(isa, p).unwrap();
            pool.run(&input, batch, h, w, &mut out).unwrap();
            for (&o, &wv) in out.iter().zip(&pool2d_reference(&g, &input, avg)) {
                assert!(close(o, wv, 1e-5), "{isa:?} {kind:?}: {o} vs {wv}");
            }
            assert_eq!(pool.run_to_vec(&input, batch, h, w).unwrap().0, out, "{isa:?} {kind:?}");
        }
        let mut out = vec![f32::NAN; batch * c];
        global_avg_pool_with_isa(isa, &input, batch, h * w, c, &mut out).unwrap();
        for (&o, &wv) in out.iter().zip(&global_avg_pool_reference(&input, batch, h * w, c)) {
            assert!(close(o, wv, 1e-5), "{isa:?} global: {o} vs {wv}");
        }
    }
}

#[test]
fn eltwise_unary_binary_and_row_ops_on_strided_rows() {
    for isa in isas() {
        let e = Eltwise::with_isa(isa).unwrap().parallelism(Parallelism::Sequential);
        let mut r = Rng::new(50);
        // Unary: every function, a length with a vector tail, out of place and in place.
        let x: Vec<f32> = r.vec(19).iter().map(|v| v * 4.0).collect();
        for op in Unary::ALL {
            let mut y = vec![f32::NAN; x.len()];
            e.unary(op, &x, &mut y).unwrap();
            for (&xi, &yi) in x.iter().zip(&y) {
                let want = unary_reference(op, xi);
                assert!(
                    (yi as f64 - want).abs() <= 1e-5 * (1.0 + want.abs()),
                    "{isa:?} {op:?}({xi}) = {yi}, want {want}"
                );
            }
            let mut z = x.clone();
            e.unary_inplace(op, &mut z).unwrap();
            assert_eq!(
                y.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
                z.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
            );
        }
        // Rows of 11 values, row stride 13 (padded), 3 rows; the output reversed (row stride -13).
        let (rows, cols, rs) = (3, 11, 13);
        let buf = r.vec(rows * rs);
        let xv = MatRef::new(&buf, rows, cols, rs as isize, 1).unwrap();
        let row_of = |i: usize| &buf[i * rs..i * rs + cols];
        let mut out = vec![f32::NAN; rows * rs];
        fn out_view(o: &mut [f32], rows: usize, cols: usize, rs: usize) -> MatMut<'_> {
            MatMut::with_offset(o, (rows - 1) * rs, rows, cols, -(rs as isize), 1).unwrap()
        }
        let out_row = |o: &[f32], i: usize| o[(rows - 1 - i) * rs..(rows - 1 - i) * rs + cols].to_vec();
        e.softmax(xv, out_view(&mut out, rows, cols, rs)).unwrap();
        for i in 0..rows {
            for (&g, &w) in out_row(&out, i).iter().zip(&softmax_reference(row_of(i))) {
                assert!((g as f64 - w).abs() <= 1e-6, "{isa:?} softmax row {i}: {g} vs {w}");
            }
        }
        let (gamma, beta) = (r.vec(cols), r.vec(cols));
        e.layer_norm(xv, &gamma, &beta, 1e-5, out_view(&mut out, rows, cols, rs)).unwrap();
        for i in 0..rows {
            for (&g, &w) in out_row(&out, i).iter().zip(&layer_norm_reference(row_of(i), &gamma, &beta, 1e-5)) {
                assert!((g as f64 - w).abs() <= 1e-4 * (1.0 + w.abs()), "{isa:?} layer norm row {i}: {g} vs {w}");
            }
        }
        e.binary(Binary::Add, xv, Rhs::Row(&gamma), out_view(&mut out, rows, cols, rs)).unwrap();
        for i in 0..rows {
            let want: Vec<f32> = row_of(i).iter().zip(&gamma).map(|(a, b)| a + b).collect();
            assert_eq!(out_row(&out, i), want, "{isa:?} add row {i}");
        }
        // In place on the padded rows: log-softmax, RMS norm, mul by a matrix; the padding
        // between rows must survive.
        let mut inplace = buf.clone();
        e.log_softmax_inplace(MatMut::new(&mut inplace, rows, cols, rs as isize, 1).unwrap()).unwrap();
        e.rms_norm_inplace(MatMut::new(&mut inplace, rows, cols, rs as isize, 1).unwrap(), &gamma, 1e-6).unwrap();
        e.binary_inplace(Binary::Mul, MatMut::new(&mut inplace, rows, cols, rs as isize, 1).unwrap(), Rhs::Mat(xv))
            .unwrap();
        for i in 0..rows {
            assert_eq!(inplace[i * rs + cols..(i + 1) * rs], buf[i * rs + cols..(i + 1) * rs], "{isa:?} padding");
        }
    }
}

#[test]
fn nchw_nhwc_round_trip() {
    let (batch, c, h, w) = (2, 3, 5, 17);
    let x = Rng::new(60).vec(batch * c * h * w);
    let (mut y, mut z) = (vec![0.0; x.len()], vec![0.0; x.len()]);
    nchw_to_nhwc(&x, batch, c, h, w, &mut y).unwrap();
    assert_eq!(y[((h + 2) * w + 3) * c + 1], x[((c + 1) * h + 2) * w + 3], "image 1, channel 1, (2, 3)");
    nhwc_to_nchw(&y, batch, c, h, w, &mut z).unwrap();
    assert_eq!(x, z);
}

/// The threaded paths (rayon tasks writing disjoint blocks of C and of the output through raw
/// pointers, B packed in a section shared by the tasks or inside them): a 2-worker pool with
/// `Parallelism::Rayon`, which splits even these small sizes, against one thread, bit for bit.
/// Under Miri this is where a data race between tasks would show.
#[cfg(all(feature = "rayon", not(target_arch = "wasm32")))]
#[test]
fn threads_split_the_work_and_give_the_same_bits() {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for isa in isas() {
        let seq = gemm(isa);
        let par = Gemm::with_isa(isa).unwrap().parallelism(Parallelism::Rayon);
        let mut r = Rng::new(60);
        let (m, n, k) = (13, 40, 7);
        let (a, b) = (r.vec(m * k), r.vec(k * n));
        let (av, bv) = (MatRef::row_major(&a, m, k).unwrap(), MatRef::row_major(&b, k, n).unwrap());
        let bias = r.vec(n);
        let epi = Epilogue::new(Some(&bias), Activation::Relu);
        let mut want = r.vec(m * n);
        let mut got = want.clone();
        let plan = pool.install(|| par.plan(0.5, av, bv, &mut MatMut::row_major(&mut got, m, n).unwrap())).unwrap();
        assert!(matches!(&plan, Strategy::Blocked(p) if p.threads == 2), "{isa:?}: {plan:?}");
        seq.run_fused(0.5, av, bv, 1.5, MatMut::row_major(&mut want, m, n).unwrap(), &epi).unwrap();
        pool.install(|| par.run_fused(0.5, av, bv, 1.5, MatMut::row_major(&mut got, m, n).unwrap(), &epi)).unwrap();
        assert_eq!(bits(&got), bits(&want), "{isa:?} GEMM");
        let packed = par.pack_b(bv).unwrap();
        let got = pool.install(|| par.run_packed_to_vec(1.0, av, &packed, &Epilogue::NONE)).unwrap();
        assert_eq!(bits(&got), bits(&seq.run_packed_to_vec(1.0, av, &packed, &Epilogue::NONE).unwrap()), "{isa:?}");

        let p = Conv2dParams::new(4, 6, (3, 3)).padding(Padding::uniform(1));
        let filter = r.vec(p.filter_len().unwrap());
        let mut conv = Conv2d::with_gemm(seq, p, &filter, FilterLayout::Oihw, None, Activation::Identity).unwrap();
        let input = r.vec(conv.geometry(2, 5, 4).unwrap().input_len().unwrap());
        let want = conv.run_to_vec(&input, 2, 5, 4).unwrap().0;
        conv.set_parallelism(Parallelism::Rayon);
        let got = pool.install(|| conv.run_to_vec(&input, 2, 5, 4)).unwrap().0;
        assert_eq!(bits(&got), bits(&want), "{isa:?} conv");

        let (rows, cols) = (9, 21);
        let x = r.vec(rows * cols);
        let softmax = |par: Parallelism| {
            let mut y = vec![f32::NAN; rows * cols];
            let e = Eltwise::with_isa(isa).unwrap().parallelism(par);
            e.softmax(MatRef::row_major(&x, rows, cols).unwrap(), MatMut::row_major(&mut y, rows, cols).unwrap())
                .unwrap();
            y
        };
        let want = softmax(Parallelism::Sequential);
        assert_eq!(bits(&pool.install(|| softmax(Parallelism::Rayon))), bits(&want), "{isa:?} softmax");
    }
}
