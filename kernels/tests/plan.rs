//! The planner's decisions through `Gemm::plan`, one test per path: each asserts the strategy
//! a shape gets on every ISA this CPU runs, and that the call computes the right result, so a
//! moved threshold shows here instead of silently testing another path. Also run on wasm32
//! (browser-bench/scripts/test-wasm.sh), but for the threads test.

use lanes_kernels::ops::gemm::{APlan, BInPlace, BPlan, Strategy};
use lanes_kernels::{Epilogue, Gemm, Isa, MatMut, MatRef, Parallelism};
use lanes_testkit::{check_case, isas, Layout};
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const ROW: (Layout, Layout, Layout) = (Layout::RowMajor, Layout::RowMajor, Layout::RowMajor);

fn plan_of(g: &Gemm, (m, n, k): (usize, usize, usize), b_col_major: bool) -> Strategy {
    let (a, b, mut c) = (vec![0.0; m * k], vec![0.0; k * n], vec![0.0; m * n]);
    let b = if b_col_major { MatRef::col_major(&b, k, n) } else { MatRef::row_major(&b, k, n) }.unwrap();
    g.plan(1.0, MatRef::row_major(&a, m, k).unwrap(), b, &mut MatMut::row_major(&mut c, m, n).unwrap()).unwrap()
}

fn sequential(isa: lanes_kernels::Isa) -> Gemm {
    Gemm::with_isa(isa).unwrap().parallelism(Parallelism::Sequential)
}

#[test]
fn empty_products_plan_nothing() {
    for isa in isas() {
        assert_eq!(plan_of(&sequential(isa), (0, 5, 5), false), Strategy::Nothing);
        assert_eq!(plan_of(&sequential(isa), (5, 0, 5), false), Strategy::Nothing);
    }
}

#[test]
fn small_row_major_products_sweep_in_place() {
    for isa in isas() {
        let g = sequential(isa);
        let kern = g.kernel_for(8, 64, 16).unwrap();
        // Whole panels (n a multiple of NR): every tile writes C in place; one row of tiles
        // reads B in place on every kernel, more (but few) rows on all but `BInPlace::Never`.
        let shape = (kern.mr, 2 * kern.nr, 16);
        assert_eq!(plan_of(&g, shape, false), Strategy::SweepInPlace, "{isa}");
        check_case(&g, shape, 1.0, 0.5, ROW, &Epilogue::NONE, 1);
        // More rows: in place unless `BInPlace::Never`, or when B's block fits in L1.
        for k in [16, kern.kc.min(300)] {
            let taller = (kern.mr + 1, 2 * kern.nr, k);
            let in_l1 = k * 2 * kern.nr * 4 <= 16 << 10;
            assert_eq!(
                plan_of(&g, taller, false) == Strategy::SweepInPlace,
                kern.b_in_place != BInPlace::Never || in_l1,
                "{isa} k={k}"
            );
            check_case(&g, taller, 1.0, 0.5, ROW, &Epilogue::NONE, 1);
        }
    }
}

#[test]
fn column_major_b_under_many_rows_is_packed_once_and_shared() {
    for isa in isas() {
        let g = sequential(isa);
        let kern = g.kernel_for(200, 300, 40).unwrap();
        let Strategy::Blocked(p) = plan_of(&g, (kern.mc + 5, 300, 40), true) else { panic!("{isa}: not blocked") };
        // (A broadcast-packed for kernels whose tiles read it so.)
        let a = if kern.packed_a_lanes() > 1 { APlan::Packed } else { APlan::InPlace };
        assert_eq!((p.a, p.b), (a, BPlan::PackedShared), "{isa}: M > MC, column-major B");
        assert_eq!(p.nc % kern.nr, 0, "{isa}: shared blocks are whole panels");
        let col = (Layout::RowMajor, Layout::ColMajor, Layout::RowMajor);
        check_case(&g, (kern.mc + 5, 300, 40), 1.0, 0.0, col, &Epilogue::NONE, 2);
    }
}

#[test]
fn many_rows_read_row_major_b_in_place_only_on_by_shape_kernels() {
    let reads_b_in_place = |s: Strategy| match s {
        Strategy::SweepInPlace => true,
        Strategy::Blocked(p) => p.b == BPlan::InPlace,
        other => panic!("not a tiled plan: {other:?}"),
    };
    for isa in isas() {
        let g = sequential(isa);
        // 100 rows (more than the few-rows rule's 64), B 40 x 300: its rows 1200 bytes apart
        // (no L1 set conflict), the block 48 KB (over L1's share, far under L2).
        let kern = g.kernel_for(100, 300, 40).unwrap();
        let in_place = reads_b_in_place(plan_of(&g, (100, 300, 40), false));
        assert_eq!(in_place, kern.b_in_place == BInPlace::ByShape, "{isa} ({:?})", kern.b_in_place);
        check_case(&g, (100, 300, 40), 1.0, 0.5, ROW, &Epilogue::NONE, 3);
        // 64 rows: in place on `ByShape` kernels; on `FewRows` ones up to 8 rows.
        let in_place = reads_b_in_place(plan_of(&g, (64, 300, 40), false));
        assert_eq!(in_place, kern.b_in_place == BInPlace::ByShape, "{isa} ({:?}) 64 rows", kern.b_in_place);
        // 8 rows: in place but on `Never` kernels (unless they are one row of tiles).
        let in_place = reads_b_in_place(plan_of(&g, (8, 300, 40), false));
        let want = kern.b_in_place != BInPlace::Never || 8 <= kern.mr;
        assert_eq!(in_place, want, "{isa} ({:?}) 8 rows", kern.b_in_place);
        check_case(&g, (8, 300, 40), 1.0, 0.5, ROW, &Epilogue::NONE, 4);
    }
}

#[test]
fn one_thread_avx2_packs_b_in_its_tiles_under_rows_whose_a_fits_in_l2() {
    if !isas().contains(&Isa::Avx2) {
        return;
    }
    let g = sequential(Isa::Avx2);
    let kern = g.kernel_for(128, 128, 128).unwrap();
    // More rows than one row block: all of them in one block (A's block, 126 x 128, is far under
    // half of any L2), each panel packed by its first tile.
    let rows = kern.mc + kern.mr;
    let Strategy::Blocked(p) = plan_of(&g, (rows, 128, 128), false) else { panic!("not blocked") };
    assert_eq!((p.a, p.b, p.threads), (APlan::InPlace, BPlan::PackedPerTask, 1), "{rows} rows");
    check_case(&g, (rows, 128 + 5, 128), 1.0, 0.5, ROW, &Epilogue::NONE, 4);
    // B's rows a page apart (1024 columns): one shared packing pass instead.
    let Strategy::Blocked(p) = plan_of(&g, (rows, 1024, 128), false) else { panic!("not blocked") };
    assert_eq!(p.b, BPlan::PackedShared, "rows of B a page apart");
}

#[test]
fn prepacked_b_plans_the_prepacked_path() {
    for isa in isas() {
        let g = sequential(isa);
        let (m, n, k) = (70, 90, 50);
        let b = vec![0.5; k * n];
        let packed = g.pack_b(MatRef::row_major(&b, k, n).unwrap()).unwrap();
        let (a, mut c) = (vec![1.0; m * k], vec![0.0; m * n]);
        let mut cv = MatMut::row_major(&mut c, m, n).unwrap();
        let s = g.plan_packed(1.0, MatRef::row_major(&a, m, k).unwrap(), &packed, &mut cv).unwrap();
        let Strategy::Blocked(p) = s else { panic!("{isa}: not blocked: {s:?}") };
        assert_eq!(p.b, BPlan::Prepacked, "{isa}");
        g.run_packed(1.0, MatRef::row_major(&a, m, k).unwrap(), &packed, 0.0, cv, &Epilogue::NONE).unwrap();
        assert!(c.iter().all(|&x| x == 25.0), "{isa}: 50 products of 1 x 0.5");
    }
}

/// Prepacked B that stays in L2 whole: each task runs all depth blocks of its rows (C stays in
/// cache between them); larger B or a single depth block: the blocks one after another. Beta,
/// bias and activation (first and last depth block) give the reference's values either way,
/// on one thread and (natively) on two.
#[test]
fn small_prepacked_b_runs_every_depth_block_in_one_task() {
    let l2 = lanes_kernels::CacheSizes::for_planning().l2;
    let sequential_gemms = isas().into_iter().map(sequential);
    // Natively also on two threads.
    #[cfg(not(target_arch = "wasm32"))]
    let gemms: Vec<Gemm> = sequential_gemms
        .chain(isas().into_iter().map(|isa| Gemm::with_isa(isa).unwrap().parallelism(Parallelism::Rayon)))
        .collect();
    #[cfg(target_arch = "wasm32")]
    let gemms: Vec<Gemm> = sequential_gemms.collect();
    let run = |g: &Gemm| {
        let kern = g.kernel_for(64, 64, 1024).unwrap();
        let isa = kern.isa;
        for (m, n, k) in [(2 * kern.mc + 7, 20, 2 * kern.kc + 5), (40, 2048, 2 * kern.kc + 5), (40, 20, kern.kc)] {
            let b: Vec<f32> = (0..k * n).map(|i| ((i * 7) % 13) as f32 - 6.0).collect();
            let a: Vec<f32> = (0..m * k).map(|i| ((i * 5) % 11) as f32 - 5.0).collect();
            let bias: Vec<f32> = (0..n).map(|j| j as f32 - 3.0).collect();
            let c0: Vec<f32> = (0..m * n).map(|i| (i % 7) as f32).collect();
            let packed = g.pack_b(MatRef::row_major(&b, k, n).unwrap()).unwrap();
            let mut c = c0.clone();
            let av = MatRef::row_major(&a, m, k).unwrap();
            let s = g.plan_packed(1.0, av, &packed, &mut MatMut::row_major(&mut c, m, n).unwrap()).unwrap();
            let Strategy::Blocked(p) = s else { panic!("{isa}: {m}x{n}x{k} not blocked: {s:?}") };
            let in_task = k > kern.depth_block(k) && k * n * 4 <= l2 / 2;
            assert_eq!(p.depth_in_task, in_task, "{isa} {m}x{n}x{k}: L2 {l2}");
            assert_eq!(in_task, n == 20 && k > kern.kc, "{isa} {m}x{n}x{k}: L2 {l2}: not the case meant");
            let epi = Epilogue::new(Some(&bias), lanes_kernels::Activation::Relu);
            g.run_packed(2.0, av, &packed, 0.5, MatMut::row_major(&mut c, m, n).unwrap(), &epi).unwrap();
            for i in 0..m {
                for j in 0..n {
                    let dot: f64 = (0..k).map(|p| a[i * k + p] as f64 * b[p * n + j] as f64).sum();
                    let want = (2.0 * dot + 0.5 * c0[i * n + j] as f64 + bias[j] as f64).max(0.0);
                    // Integer-valued products: exact in f32 up to 2^24.
                    assert_eq!(c[i * n + j] as f64, want, "{isa} {m}x{n}x{k} ({i}, {j})");
                }
            }
        }
    };
    #[cfg(not(target_arch = "wasm32"))]
    rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap().install(|| gemms.iter().for_each(run));
    #[cfg(target_arch = "wasm32")]
    gemms.iter().for_each(run);
}

#[test]
fn narrow_prepacked_b_plans_the_dot_product_gemv() {
    for isa in isas() {
        let g = sequential(isa);
        for n in 1..=3 {
            let (m, k) = (50, 64);
            let b = vec![0.5; k * n];
            let packed = g.pack_b(MatRef::row_major(&b, k, n).unwrap()).unwrap();
            let (a, mut c) = (vec![1.0; m * k], vec![0.0; m * n]);
            let mut cv = MatMut::row_major(&mut c, m, n).unwrap();
            let s = g.plan_packed(1.0, MatRef::row_major(&a, m, k).unwrap(), &packed, &mut cv).unwrap();
            let Strategy::GemvDot(d) = s else { panic!("{isa} n = {n}: not the dot GEMV: {s:?}") };
            assert!(!d.transposed && !d.gather, "{isa} n = {n}: B's columns are read in place: {d:?}");
            g.run_packed(1.0, MatRef::row_major(&a, m, k).unwrap(), &packed, 0.0, cv, &Epilogue::NONE).unwrap();
            assert!(c.iter().all(|&x| x == 32.0), "{isa}: 64 products of 1 x 0.5");
        }
    }
}

#[test]
fn gemv_strips_cover_every_column_once() {
    for isa in isas() {
        let g = sequential(isa);
        let kern = g.kernel_for(1, 1000, 300).unwrap();
        if kern.gemv_width() == 0 {
            continue;
        }
        let n = 1000;
        match plan_of(&g, (1, n, 300), false) {
            Strategy::GemvStrips(s) => {
                let mut next = s.head;
                for strip in s.groups.iter().flatten() {
                    assert_eq!(strip.col, next, "{isa}: strips contiguous: {s:?}");
                    next += strip.width;
                }
                assert_eq!(next + s.tail, n, "{isa}: head + strips + tail = n: {s:?}");
            }
            Strategy::GemvRows { .. } => {}
            other => panic!("{isa}: M = 1 planned {other:?}"),
        }
        check_case(&g, (1, n, 300), 1.0, 0.5, ROW, &Epilogue::NONE, 3);
    }
}

#[test]
fn gemv_strips_over_rows_a_page_apart_use_short_depth_blocks() {
    // Rows of B 4 KiB or more apart (one page per row of a strip): blocks of 32 rows (16 on
    // AVX2, whose strips read fewer lines of each page), else 192.
    for isa in isas() {
        let g = sequential(isa);
        let paged = if isa == Isa::Avx2 { 16 } else { 32 };
        for (n, want) in [(1000, 192), (1024, paged), (2100, paged)] {
            match plan_of(&g, (1, n, 100), false) {
                Strategy::GemvStrips(s) => assert_eq!(s.depth_block, want, "{isa} n={n}"),
                Strategy::GemvRows { .. } | Strategy::SweepInPlace | Strategy::Blocked(_) => {}
                other => panic!("{isa}: M = 1 planned {other:?}"),
            }
            // Several blocks, the last one partial; beta in the first, bias and activation in the last.
            let bias: Vec<f32> = (0..n).map(|j| j as f32 * 0.01 - 1.0).collect();
            let ep = Epilogue::new(Some(&bias), lanes_kernels::Activation::Gelu);
            check_case(&g, (1, n, 100), -0.5, 2.0, ROW, &ep, 4);
        }
    }
}

#[test]
fn gemv_strips_start_aligned_except_on_avx512() {
    for isa in isas() {
        let g = sequential(isa);
        let kern = g.kernel_for(1, 1000, 64).unwrap();
        let (k, n) = (64, 3 * kern.gemv_width().max(8) + 8);
        // B one float past a 32-byte boundary, every row likewise (row stride a multiple of 8).
        let buf = vec![0.25f32; k * n + 16];
        let off = (0..8).find(|o| (buf.as_ptr() as usize + 4 * o) % 32 == 4).unwrap();
        let b = MatRef::with_offset(&buf, off, k, n, n as isize, 1).unwrap();
        let (a, mut c) = (vec![1.0; k], vec![0.0; n]);
        let s = g.plan(1.0, MatRef::row_major(&a, 1, k).unwrap(), b, &mut MatMut::row_major(&mut c, 1, n).unwrap());
        if let Strategy::GemvStrips(s) = s.unwrap() {
            // AVX-512 reads unaligned rows as they are.
            let want = if kern.isa == lanes_kernels::Isa::Avx512 { 0 } else { 7 };
            assert_eq!(s.head, want, "{isa}: {s:?}");
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
#[test]
fn threads_split_blocked_and_gemv_work() {
    rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap().install(|| {
        for isa in isas() {
            let g = Gemm::with_isa(isa).unwrap().parallelism(Parallelism::Rayon);
            let Strategy::Blocked(p) = plan_of(&g, (256, 256, 256), false) else { panic!("{isa}: not blocked") };
            assert_eq!(p.threads, 2, "{isa}");
            // AVX2 with threads: rows whose A block fits in half of L2 (up to 2 * MC, or any
            // number when B's rows are under a page apart), every task takes all rows and packs
            // its own panels; otherwise the row blocks share one packed block.
            let kern = g.kernel_for(128, 128, 128).unwrap();
            if isa == Isa::Avx2 {
                let rows = kern.mc + kern.mr;
                let Strategy::Blocked(p) = plan_of(&g, (rows, 1024, 128), false) else { panic!("{isa}: not blocked") };
                assert_eq!(p.b, BPlan::PackedPerTask, "{isa}: {rows} rows");
                check_case(&g, (rows, 128 + 5, 128), 1.0, 0.5, ROW, &Epilogue::NONE, 3);
                let more = 2 * kern.mc + 1;
                let Strategy::Blocked(p) = plan_of(&g, (more, 128, 128), false) else { panic!("{isa}") };
                assert_eq!(p.b, BPlan::PackedPerTask, "{isa}: over 2 * MC rows, B's rows 512 bytes apart");
                check_case(&g, (more, 128 + 5, 128), 1.0, 0.5, ROW, &Epilogue::NONE, 3);
                let Strategy::Blocked(p) = plan_of(&g, (more, 1024, 128), false) else { panic!("{isa}") };
                assert_eq!(p.b, BPlan::PackedShared, "{isa}: over 2 * MC rows, B's rows a page apart");
            }
            if let Strategy::GemvStrips(s) = plan_of(&g, (1, 3072, 77), false) {
                assert_eq!(s.groups.len(), 2, "{isa}: one group of strips per thread");
            }
            // The whole-row GEMV (AVX2) splits its columns over the threads from 1M
            // multiply-adds, with shares of whole 64-column groups and a ragged last one; below,
            // the strips do.
            if isa == Isa::Avx2 {
                assert_eq!(plan_of(&g, (1, 3001, 1000), false), Strategy::GemvRows { threads: 2 }, "{isa}");
                let bias: Vec<f32> = (0..3001).map(|j| j as f32 * 0.01).collect();
                check_case(
                    &g,
                    (1, 3001, 1000),
                    0.5,
                    2.0,
                    ROW,
                    &Epilogue::new(Some(&bias), lanes_kernels::Activation::Relu),
                    5,
                );
                let Strategy::GemvStrips(s) = plan_of(&g, (1, 700, 700), false) else { panic!("{isa}: small: strips") };
                assert_eq!(s.groups.len(), 2, "{isa}");
                check_case(&g, (1, 700, 700), 1.0, 0.0, ROW, &Epilogue::NONE, 6);
            }
            // The dot GEMV splits its rows into tasks (several per thread, multiples of 4 rows).
            let Strategy::GemvDot(d) = plan_of(&g, (4096, 1, 4096), false) else { panic!("{isa}: not dot") };
            assert_eq!(d.threads, 2, "{isa}");
            assert!(d.rows_per_task.is_multiple_of(4) && d.rows_per_task < 4096 / 2, "{isa}: {d:?}");
            // Too little work to split.
            let Strategy::GemvDot(d) = plan_of(&g, (64, 1, 64), false) else { panic!("{isa}: not dot") };
            assert_eq!(d.threads, 1, "{isa}");
            let auto = Gemm::with_isa(isa).unwrap();
            let Strategy::Blocked(p) = plan_of(&auto, (32, 32, 32), false) else {
                continue; // small products may sweep in place: one thread either way
            };
            assert_eq!(p.threads, 1, "{isa}: Auto stays on one thread below the threshold");
        }
    });
}

#[cfg(target_arch = "x86_64")]
#[test]
fn avx512_picks_its_kernel_by_cpu_and_shape() {
    use lanes_kernels::Isa;
    if !Isa::Avx512.is_available() {
        println!("skipped: no AVX-512 on this CPU");
        return;
    }
    let intel = std::fs::read_to_string("/proc/cpuinfo").is_ok_and(|c| c.contains("GenuineIntel"));
    let wide = if intel { "sgemm_10x32_avx512" } else { "sgemm_4x64_avx512" };
    let g = Gemm::with_isa(Isa::Avx512).unwrap();
    assert_eq!(g.kernel_for(3136, 32, 27).unwrap().name, "sgemm_10x32_avx512", "N <= 32");
    assert_eq!(g.kernel_for(3136, 33, 27).unwrap().name, wide);
    assert_eq!(g.kernel_for(64, 64, 64).unwrap().name, wide);
    check_case(&g, (37, 32, 27), 1.0, 0.5, ROW, &Epilogue::NONE, 60);
}

#[test]
fn few_columns_plan_the_dot_gemv() {
    use lanes_kernels::ops::gemm::DotPlan;
    let dot = |s: Strategy| match s {
        Strategy::GemvDot(d) => d,
        other => panic!("expected the dot GEMV, planned {other:?}"),
    };
    for isa in isas() {
        let g = sequential(isa);
        // N = 1, row-major A: B's one column is contiguous (row stride 1), read in place.
        let d = dot(plan_of(&g, (1000, 1, 4096), false));
        assert_eq!(d, DotPlan { transposed: false, gather: false, rows_per_task: 1000, threads: 1 }, "{isa}");
        // N = 1 at any depth (the tiles would use one of their NR columns).
        dot(plan_of(&g, (3136, 1, 16), false));
        // N = 2, 3: row-major B's columns are strided (gathered), column-major ones are not.
        assert!(dot(plan_of(&g, (2048, 2, 300), false)).gather, "{isa}");
        assert!(!dot(plan_of(&g, (2048, 3, 300), true)).gather, "{isa}");
        // Too shallow for N = 2, 3: the tiles.
        assert!(!matches!(plan_of(&g, (3136, 3, 8), false), Strategy::GemvDot(_)), "{isa}");
        // M = 1 with column-major B: B's columns are the rows streamed (transposed).
        let d = dot(plan_of(&g, (1, 3072, 768), true));
        assert!(d.transposed && !d.gather, "{isa}: {d:?}");
        assert!(dot(plan_of(&g, (3, 500, 64), true)).transposed, "{isa}");
        // N = 4 is a GEMM again.
        assert!(!matches!(plan_of(&g, (64, 4, 300), false), Strategy::GemvDot(_)), "{isa}");
        for (shape, col_b) in [((1000, 1, 300), false), ((37, 3, 64), false), ((2, 77, 100), true)] {
            let lb = if col_b { Layout::ColMajor } else { Layout::RowMajor };
            let bias: Vec<f32> = (0..shape.1).map(|j| j as f32 * 0.5 - 1.0).collect();
            let epi = Epilogue::new(Some(&bias), lanes_kernels::Activation::Relu);
            check_case(&g, shape, 1.5, 0.5, (Layout::RowMajor, lb, Layout::RowMajor), &epi, 4);
        }
    }
}
