//! Error cases of the public API, function by function, that the other suites do not assert
//! with their variant (docs/safety.md, "Native API: error cases per function", lists every case
//! with the test that covers it, here or elsewhere). Each test names the function family and
//! the case; each asserts the `KernelError` variant (and its numbers where they are the point),
//! and that nothing was written where the call has an output. Part of the wasm suite too
//! (browser-bench/scripts/test-wasm.sh), less the child-process and 64-bit-only tests.

use lanes_kernels::ops::conv::{Conv2d, Conv2dParams, FilterLayout, Padding};
use lanes_kernels::ops::eltwise::{self, Binary, Rhs, Unary};
use lanes_kernels::ops::gemm::{registry, AvailableKernel, DotArgs, TileArgs, Variant, VariantKind};
use lanes_kernels::ops::layout::{fold_batch_norm, nhwc_to_nchw, BatchNorm};
use lanes_kernels::ops::pool::{global_avg_pool_with_isa, Pool2d, Pool2dParams, PoolKind};
use lanes_kernels::{microkernels, Activation, Eltwise, Epilogue, Gemm, Isa, KernelError, MatMut, MatRef};
use lanes_testkit::dense_dot_args;
#[cfg(target_arch = "wasm32")]
use wasm_bindgen_test::wasm_bindgen_test as test;

const BAD_CLAMP: Activation = Activation::Clamp { min: 1.0, max: 0.0 };

// ---- views: MatRef / MatMut constructors ----

#[test]
fn views_slice_too_short_names_the_elements_needed() {
    let d = [0.0f32; 6];
    // Past the end: the last element of a 2x3 view at offset 1 is index 6.
    assert_eq!(MatRef::with_offset(&d, 1, 2, 3, 3, 1).unwrap_err(), KernelError::SliceTooShort { needed: 7, len: 6 });
    // Before the start: a negative stride from offset 0 reaches index -3.
    assert_eq!(MatRef::with_offset(&d, 0, 2, 2, -3, 1).unwrap_err(), KernelError::SliceTooShort { needed: 9, len: 6 });
    assert_eq!(MatRef::col_major(&d, 4, 2).unwrap_err(), KernelError::SliceTooShort { needed: 8, len: 6 });
    let mut m = [0.0f32; 6];
    assert_eq!(MatMut::row_major(&mut m, 3, 3).unwrap_err(), KernelError::SliceTooShort { needed: 9, len: 6 });
    assert_eq!(
        MatMut::with_offset(&mut m, 5, 1, 2, 1, 1).unwrap_err(),
        KernelError::SliceTooShort { needed: 7, len: 6 }
    );
    assert_eq!(MatMut::col_major(&mut m, 2, 4).unwrap_err(), KernelError::SliceTooShort { needed: 8, len: 6 });
}

#[test]
fn views_dimensions_or_strides_that_overflow_isize() {
    let d = [0.0f32; 4];
    // A dense layout whose leading dimension does not fit isize.
    assert!(matches!(MatRef::row_major(&d, 2, usize::MAX), Err(KernelError::StrideOverflow { rows: 2, .. })));
    assert!(matches!(MatRef::col_major(&d, usize::MAX, 2), Err(KernelError::StrideOverflow { cols: 2, .. })));
    // Fits in elements, not in bytes.
    assert!(matches!(MatRef::new(&d, 2, 1, isize::MAX / 2, 1), Err(KernelError::StrideOverflow { .. })));
    let mut m = [0.0f32; 4];
    assert!(matches!(MatMut::new(&mut m, 2, 2, isize::MAX, 1), Err(KernelError::StrideOverflow { .. })));
    // SAFETY: only the overflow check runs: the view would not fit in memory.
    let e = unsafe { MatMut::from_raw_parts(m.as_mut_ptr(), 3, 1, isize::MIN / 2, 1) }.unwrap_err();
    assert!(matches!(e, KernelError::StrideOverflow { .. }), "{e}");
}

#[test]
fn views_output_with_interleaved_axes_overlaps_itself() {
    let mut m = [0.0f32; 16];
    // Column stride 2, row stride 1: (0, 1) and (2, 0) are both element 2.
    assert_eq!(
        MatMut::new(&mut m, 3, 3, 1, 2).unwrap_err(),
        KernelError::OverlappingOutput { rows: 3, cols: 3, row_stride: 1, col_stride: 2 }
    );
    // A zero column stride, and negative strides that meet.
    assert!(matches!(MatMut::with_offset(&mut m, 8, 2, 2, 1, 0), Err(KernelError::OverlappingOutput { .. })));
    assert!(matches!(MatMut::with_offset(&mut m, 8, 2, 2, -1, -1), Err(KernelError::OverlappingOutput { .. })));
    assert_eq!(m, [0.0; 16]);
}

// ---- Isa ----

#[test]
fn isa_names_and_availability() {
    assert_eq!("SSE9 ".parse::<Isa>().unwrap_err(), KernelError::UnknownIsa { name: "sse9".into() });
    for isa in Isa::ALL.into_iter().filter(|i| !i.is_available()) {
        assert_eq!(isa.require(), Err(KernelError::IsaUnavailable { isa: isa.name() }));
        assert_eq!(Gemm::with_isa(isa).unwrap_err(), KernelError::IsaUnavailable { isa: isa.name() });
        assert_eq!(Eltwise::with_isa(isa).unwrap_err(), KernelError::IsaUnavailable { isa: isa.name() });
        let e = registry::select(isa, 8, 8, 8).unwrap_err();
        assert_eq!(e, KernelError::IsaUnavailable { isa: isa.name() });
        let p = Pool2dParams::new(PoolKind::Max, 1, (1, 1));
        assert_eq!(Pool2d::with_isa(isa, p).unwrap_err(), KernelError::IsaUnavailable { isa: isa.name() });
        let e = global_avg_pool_with_isa(isa, &[0.0], 1, 1, 1, &mut [0.0]).unwrap_err();
        assert_eq!(e, KernelError::IsaUnavailable { isa: isa.name() });
    }
}

/// `LANES_ISA` naming no ISA makes every call that reads it (the default `Gemm`, `Eltwise`,
/// `Pool2d`, global average pooling, `Conv2d::new`) an `UnknownIsa` error; one naming an ISA
/// this CPU lacks, `IsaUnavailable`. `Isa::selected` reads the variable once per process, so
/// each setting runs in a child process: this test binary, running only the test below.
/// x86-64 only: under qemu-user (the AArch64 suites off AArch64) the emulated binary cannot
/// start a child of itself.
#[cfg(all(target_arch = "x86_64", not(miri)))]
#[test]
fn lanes_isa_unknown_or_unavailable_makes_every_default_call_an_error() {
    let exe = std::env::current_exe().unwrap();
    let unavailable = Isa::ALL.into_iter().find(|i| !i.is_available()).expect("wasm ISAs are never native");
    for value in ["sse9", unavailable.name()] {
        let out = std::process::Command::new(&exe)
            .args(["--exact", "lanes_isa_child", "--ignored", "--test-threads=1"])
            .env("LANES_ISA", value)
            .env("LANES_ISA_CHILD", "1")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && text.contains("1 passed"), "LANES_ISA={value}: {text}");
    }
}

/// The child of the test above (ignored unless run by it).
#[cfg(all(target_arch = "x86_64", not(miri)))]
#[test]
#[ignore = "run by lanes_isa_unknown_or_unavailable_makes_every_default_call_an_error"]
fn lanes_isa_child() {
    if std::env::var_os("LANES_ISA_CHILD").is_none() {
        return;
    }
    let name = std::env::var("LANES_ISA").unwrap();
    let expected = match name.parse::<Isa>() {
        Ok(isa) => KernelError::IsaUnavailable { isa: isa.name() },
        Err(e) => e,
    };
    assert!(matches!(expected, KernelError::UnknownIsa { .. } | KernelError::IsaUnavailable { .. }));
    assert_eq!(Isa::selected(), Err(expected.clone()));
    let (a, b) = ([1.0f32; 4], [1.0f32; 4]);
    let mut c = [7.0f32; 4];
    let view = |d| MatRef::row_major(d, 2, 2).unwrap();
    assert_eq!(
        lanes_kernels::gemm(1.0, view(&a), view(&b), 0.0, MatMut::row_major(&mut c, 2, 2).unwrap()),
        Err(expected.clone())
    );
    assert_eq!(Gemm::new().pack_b(view(&b)).unwrap_err(), expected);
    assert_eq!(Gemm::new().isa(), Err(expected.clone()));
    assert_eq!(Gemm::new().kernel_for(2, 2, 2).unwrap_err(), expected);
    assert_eq!(Eltwise::new().isa(), Err(expected.clone()));
    assert_eq!(eltwise::unary(Unary::Relu, &a, &mut c), Err(expected.clone()));
    assert_eq!(c, [7.0; 4], "nothing written");
    assert_eq!(Pool2d::new(Pool2dParams::new(PoolKind::Max, 1, (1, 1))).unwrap_err(), expected);
    assert_eq!(lanes_kernels::ops::pool::global_avg_pool(&a, 1, 4, 1, &mut c[..1]), Err(expected.clone()));
    // Every convolution path: direct (C_in <= 4), depthwise, GEMM.
    for p in
        [Conv2dParams::new(1, 2, (1, 1)), Conv2dParams::new(8, 8, (1, 1)).groups(8), Conv2dParams::new(8, 2, (1, 1))]
    {
        let filter = vec![1.0; p.filter_len().unwrap()];
        let e = Conv2d::new(p, &filter, FilterLayout::Oihw, None, Activation::Identity).unwrap_err();
        assert_eq!(e, expected, "{p:?}");
    }
    // An ISA chosen explicitly still works.
    Gemm::with_isa(Isa::Scalar)
        .unwrap()
        .run(1.0, view(&a), view(&b), 0.0, MatMut::row_major(&mut c, 2, 2).unwrap())
        .unwrap();
    assert_eq!(c, [2.0; 4]);
}

// ---- GEMM: Gemm::with_kernel, plan, plan_packed, run_packed, run_packed_to_vec, gemm_raw ----

#[test]
fn gemm_with_kernel_unknown_or_unavailable() {
    assert_eq!(Gemm::with_kernel("avx2_99x99").unwrap_err(), KernelError::UnknownKernel { name: "avx2_99x99".into() });
    assert_eq!(AvailableKernel::by_name("").unwrap_err(), KernelError::UnknownKernel { name: String::new() });
    // A compiled kernel whose ISA this CPU lacks (none on a CPU that runs them all).
    for &kern in microkernels().iter().filter(|&&k| AvailableKernel::new(k).is_none()) {
        assert_eq!(Gemm::with_kernel(kern.name).unwrap_err(), KernelError::IsaUnavailable { isa: kern.isa.name() });
        assert_eq!(
            AvailableKernel::by_name(kern.name).unwrap_err(),
            KernelError::IsaUnavailable { isa: kern.isa.name() }
        );
    }
}

#[test]
fn gemm_plan_checks_shapes_like_run() {
    let g = Gemm::new();
    let (a, b) = (vec![0.0f32; 6], vec![0.0f32; 12]);
    let mut c = vec![0.0f32; 8];
    let a23 = MatRef::row_major(&a, 2, 3).unwrap();
    let e = g.plan(1.0, a23, MatRef::row_major(&b, 4, 3).unwrap(), &mut MatMut::row_major(&mut c, 2, 3).unwrap());
    assert!(matches!(e, Err(KernelError::ShapeMismatch { expected: (3, 3), found: (4, 3), .. })), "{e:?}");
    let e = g.plan(1.0, a23, MatRef::row_major(&b, 3, 4).unwrap(), &mut MatMut::row_major(&mut c, 2, 3).unwrap());
    assert!(matches!(e, Err(KernelError::ShapeMismatch { expected: (2, 4), found: (2, 3), .. })), "{e:?}");
    let packed = g.pack_b(MatRef::row_major(&b, 4, 3).unwrap()).unwrap();
    let e = g.plan_packed(1.0, a23, &packed, &mut MatMut::row_major(&mut c, 2, 3).unwrap());
    assert!(matches!(e, Err(KernelError::ShapeMismatch { expected: (3, 3), found: (4, 3), .. })), "{e:?}");
}

#[test]
fn gemm_run_packed_shapes_bias_and_clamp() {
    let g = Gemm::new();
    let (a, b) = (vec![1.0f32; 6], vec![1.0f32; 12]);
    let packed = g.pack_b(MatRef::row_major(&b, 3, 4).unwrap()).unwrap();
    let a23 = MatRef::row_major(&a, 2, 3).unwrap();
    let mut c = vec![0.0f32; 8];
    // A's columns are not B's rows.
    let a32 = MatRef::row_major(&a, 3, 2).unwrap();
    let e = g.run_packed(1.0, a32, &packed, 0.0, MatMut::row_major(&mut c[..6], 3, 2).unwrap(), &Epilogue::NONE);
    assert!(matches!(e, Err(KernelError::ShapeMismatch { expected: (2, 4), found: (3, 4), .. })), "{e:?}");
    // C not m x n.
    let e = g.run_packed(1.0, a23, &packed, 0.0, MatMut::row_major(&mut c, 4, 2).unwrap(), &Epilogue::NONE);
    assert!(matches!(e, Err(KernelError::ShapeMismatch { expected: (2, 4), found: (4, 2), .. })), "{e:?}");
    // The epilogue: a bias of another length, clamp bounds out of order.
    let bias = [0.0f32; 3];
    let epi = Epilogue::new(Some(&bias), Activation::Identity);
    let e = g.run_packed(1.0, a23, &packed, 0.0, MatMut::row_major(&mut c, 2, 4).unwrap(), &epi);
    assert_eq!(e, Err(KernelError::LengthMismatch { what: "bias", expected: 4, found: 3 }));
    let epi = Epilogue::new(None, BAD_CLAMP);
    let e = g.run_packed(1.0, a23, &packed, 0.0, MatMut::row_major(&mut c, 2, 4).unwrap(), &epi);
    assert!(matches!(e, Err(KernelError::InvalidArgument { .. })), "{e:?}");
    assert_eq!(c, [0.0; 8], "nothing written");
    // run_packed_to_vec: the same checks.
    assert!(matches!(
        g.run_packed_to_vec(1.0, a32, &packed, &Epilogue::NONE),
        Err(KernelError::ShapeMismatch { expected: (2, 4), found: (3, 4), .. })
    ));
    assert!(matches!(
        g.run_packed_to_vec(1.0, a23, &packed, &Epilogue::new(Some(&bias), Activation::Identity)),
        Err(KernelError::LengthMismatch { what: "bias", expected: 4, found: 3 })
    ));
    assert!(matches!(
        g.run_packed_to_vec(1.0, a23, &packed, &Epilogue::new(None, BAD_CLAMP)),
        Err(KernelError::InvalidArgument { .. })
    ));
}

#[test]
fn gemm_run_packed_to_vec_output_too_large() {
    let g = Gemm::new();
    let b = vec![1.0f32; 2 * 4];
    let packed = g.pack_b(MatRef::row_major(&b, 2, 4).unwrap()).unwrap();
    let one = [1.0f32];
    // m x n overflows usize: refused before the allocator is asked.
    let huge = usize::MAX / 2;
    let a = MatRef::new(&one, huge, 2, 0, 0).unwrap();
    assert_eq!(
        g.run_packed_to_vec(1.0, a, &packed, &Epilogue::NONE).unwrap_err(),
        KernelError::TooLarge { what: "GEMM output", rows: huge, cols: 4 }
    );
}

/// The allocator refuses 2^50 bytes natively (see gemm.rs,
/// `allocations_that_fail_are_errors_and_the_library_keeps_working`).
#[cfg(all(target_pointer_width = "64", not(miri)))]
#[test]
fn gemm_run_packed_to_vec_output_allocation_fails() {
    let g = Gemm::new();
    let b = vec![1.0f32; 2 * 4];
    let packed = g.pack_b(MatRef::row_major(&b, 2, 4).unwrap()).unwrap();
    let one = [1.0f32];
    let a = MatRef::new(&one, 1 << 46, 2, 0, 0).unwrap();
    let e = g.run_packed_to_vec(1.0, a, &packed, &Epilogue::NONE).unwrap_err();
    assert_eq!(e, KernelError::AllocationFailed { what: "GEMM output", bytes: 1 << 50 });
}

#[test]
fn gemm_raw_output_overlapping_b() {
    let g = Gemm::new();
    let mut buf = vec![1.0f32; 64];
    let p = buf.as_mut_ptr();
    // SAFETY: A = buf[0..16], B = buf[16..32], C = buf[24..40]: in bounds; C overlaps B, which
    // the call must refuse before touching memory.
    let e = unsafe { lanes_kernels::gemm_raw(&g, 4, 4, 4, 1.0, p, 4, 1, p.add(16), 4, 1, 0.0, p.add(24), 4, 1) };
    assert_eq!(e, Err(KernelError::Aliasing { input: "B" }));
    // SAFETY: as above; C's column stride 0 maps its columns to one element.
    let e = unsafe { lanes_kernels::gemm_raw(&g, 4, 4, 4, 1.0, p, 4, 1, p.add(16), 4, 1, 0.0, p.add(40), 1, 0) };
    assert!(matches!(e, Err(KernelError::OverlappingOutput { col_stride: 0, .. })), "{e:?}");
    assert!(buf.iter().all(|&x| x == 1.0), "nothing written");
}

// ---- microkernels: AvailableKernel::run_tile, run_tile_indirect, run_gemv_rows, run_gemv_dot ----

fn variants_of(kind: VariantKind) -> Vec<(AvailableKernel, Variant)> {
    registry::available()
        .flat_map(|kern| kern.variants().into_iter().map(move |v| (kern, v)))
        .filter(|(_, v)| v.kind == kind)
        .collect()
}

/// Dense operands for a `v.m x width` tile of depth 4 (A row-major, B rows `width` apart).
struct TileOperands {
    a: Vec<f32>,
    b: Vec<f32>,
    c: Vec<f32>,
    b_pack: Vec<f32>,
}

impl TileOperands {
    fn new(v: &Variant) -> Self {
        let (m, w, k) = (v.m.max(1), v.width.max(1), 4);
        TileOperands { a: vec![1.0; m * k], b: vec![1.0; k * w], c: vec![0.0; m * w], b_pack: vec![0.0; k * w] }
    }

    fn args(&mut self, v: &Variant) -> TileArgs<'_> {
        let w = v.width.max(1);
        TileArgs {
            k: 4,
            a: &self.a,
            rsa: 4,
            csa: 1,
            b: &self.b,
            ldb: w,
            c: &mut self.c,
            rsc: w,
            alpha: 1.0,
            beta: 0.0,
            bias: None,
            act: Activation::Identity,
            cols: w,
            b_pack: (v.kind == VariantKind::PackB).then_some(&mut self.b_pack[..]),
            prefetch_next_a: false,
        }
    }
}

#[test]
fn run_tile_refuses_operands_too_short() {
    for (kern, v) in variants_of(VariantKind::Tile) {
        let mut o = TileOperands::new(&v);
        let (a, b) = (o.a.clone(), o.b.clone());
        let e = kern.run_tile(&v, TileArgs { a: &a[1..], ..o.args(&v) });
        assert!(matches!(e, Err(KernelError::LengthMismatch { what: "A", .. })), "{}: {e:?}", v.name());
        let e = kern.run_tile(&v, TileArgs { b: &b[1..], ..o.args(&v) });
        assert!(matches!(e, Err(KernelError::LengthMismatch { what: "B", .. })), "{}: {e:?}", v.name());
        let mut c = vec![0.0; v.m * v.width - 1];
        let e = kern.run_tile(&v, TileArgs { c: &mut c, ..o.args(&v) });
        assert!(matches!(e, Err(KernelError::LengthMismatch { what: "C", .. })), "{}: {e:?}", v.name());
        let bias = vec![0.0; v.width - 1];
        let e = kern.run_tile(&v, TileArgs { bias: Some(&bias), ..o.args(&v) });
        assert!(matches!(e, Err(KernelError::LengthMismatch { what: "bias", .. })), "{}: {e:?}", v.name());
        assert!(o.c.iter().all(|&x| x == 0.0), "{}: nothing written", v.name());
    }
    for (kern, v) in variants_of(VariantKind::PackB) {
        let mut o = TileOperands::new(&v);
        let mut short = vec![0.0; 4 * v.width - 1];
        let e = kern.run_tile(&v, TileArgs { b_pack: Some(&mut short), ..o.args(&v) });
        assert!(matches!(e, Err(KernelError::LengthMismatch { what: "b_pack", .. })), "{}: {e:?}", v.name());
    }
}

#[test]
fn run_tile_refuses_the_wrong_variant_or_arguments() {
    let tiles = variants_of(VariantKind::Tile);
    let (kern, tile) = tiles[0];
    let mut o = TileOperands::new(&tile);
    // A variant of another kernel.
    if let Some((_, other)) = tiles.iter().find(|(k, _)| k.name != kern.name) {
        let e = kern.run_tile(other, o.args(other));
        assert!(
            matches!(e, Err(KernelError::InvalidArgument { what: "the variant belongs to another kernel" })),
            "{e:?}"
        );
    }
    // Clamp bounds out of order; strides past isize.
    let e = kern.run_tile(&tile, TileArgs { act: BAD_CLAMP, ..o.args(&tile) });
    assert!(matches!(e, Err(KernelError::InvalidArgument { .. })), "{e:?}");
    let big = isize::MAX as usize + 1;
    let e = kern.run_tile(&tile, TileArgs { k: 1, csa: big, ..o.args(&tile) });
    assert!(matches!(e, Err(KernelError::InvalidArgument { what: "tile strides must fit isize" })), "{e:?}");
    // b_pack given to a variant that does not pack.
    let mut buf = vec![0.0; 64];
    let e = kern.run_tile(&tile, TileArgs { b_pack: Some(&mut buf), ..o.args(&tile) });
    assert!(matches!(e, Err(KernelError::InvalidArgument { what: "only pack_b variants take b_pack" })), "{e:?}");
    // A pack_b variant without b_pack.
    for (kern, v) in variants_of(VariantKind::PackB) {
        let mut o = TileOperands::new(&v);
        let e = kern.run_tile(&v, TileArgs { b_pack: None, ..o.args(&v) });
        assert!(matches!(e, Err(KernelError::InvalidArgument { what: "pack_b variants need b_pack" })), "{e:?}");
    }
    // A short_plain variant with beta, bias or an activation.
    for (kern, v) in variants_of(VariantKind::ShortPlain) {
        let mut o = TileOperands::new(&v);
        let e = kern.run_tile(&v, TileArgs { beta: 1.0, ..o.args(&v) });
        assert!(matches!(e, Err(KernelError::InvalidArgument { .. })), "{}: {e:?}", v.name());
        let e = kern.run_tile(&v, TileArgs { act: Activation::Relu, ..o.args(&v) });
        assert!(matches!(e, Err(KernelError::InvalidArgument { .. })), "{}: {e:?}", v.name());
    }
    // Indirect, gemv_rows and dot variants are not run_tile's.
    for kind in [VariantKind::Indirect, VariantKind::GemvRows, VariantKind::GemvDot] {
        for (kern, v) in variants_of(kind) {
            let mut o = TileOperands::new(&v);
            let e = kern.run_tile(&v, o.args(&v));
            assert!(matches!(e, Err(KernelError::InvalidArgument { .. })), "{}: {e:?}", v.name());
        }
    }
}

#[test]
fn run_tile_indirect_refuses_bad_runs() {
    let (kern, tile) = variants_of(VariantKind::Tile)[0];
    let mut o = TileOperands::new(&tile);
    let e = kern.run_tile_indirect(&tile, o.args(&tile), &[4], &vec![0; tile.m]);
    assert!(matches!(e, Err(KernelError::InvalidArgument { .. })), "not an indirect variant: {e:?}");
    for (kern, v) in variants_of(VariantKind::Indirect) {
        let m = v.m;
        let mut o = TileOperands::new(&v);
        let cols = *kern.masked_cols(&v).end();
        let e = kern.run_tile_indirect(&v, TileArgs { cols, ..o.args(&v) }, &[4], &vec![0; m + 1]);
        let want = KernelError::LengthMismatch { what: "row_starts (runs x rows)", expected: m, found: m + 1 };
        assert_eq!(e, Err(want), "{}", v.name());
        let e = kern.run_tile_indirect(&v, TileArgs { cols, ..o.args(&v) }, &[3], &vec![0; m]);
        assert!(matches!(e, Err(KernelError::InvalidArgument { what: "run lengths must add up to k" })), "{e:?}");
        let last = o.a.len() - 3; // a run of 4 from here ends past A
        let e = kern.run_tile_indirect(&v, TileArgs { cols, ..o.args(&v) }, &[4], &vec![last; m]);
        assert!(matches!(e, Err(KernelError::LengthMismatch { what: "A (a run of a row)", .. })), "{e:?}");
        assert!(o.c.iter().all(|&x| x == 0.0), "{}: nothing written", v.name());
    }
}

#[test]
fn run_gemv_rows_refuses_bad_operands() {
    let (kern, tile) = variants_of(VariantKind::Tile)[0];
    let mut acc = vec![0.0f32; 8];
    let e = kern.run_gemv_rows(&tile, 2, &[1.0; 2], 1, &[1.0; 16], 8, &mut acc);
    assert!(matches!(e, Err(KernelError::InvalidArgument { .. })), "not a gemv_rows variant: {e:?}");
    // (The AVX2 and wasm kernels have gemv_rows variants.)
    for (kern, v) in variants_of(VariantKind::GemvRows) {
        let e = kern.run_gemv_rows(&v, 2, &[1.0; 1], 1, &[1.0; 16], 8, &mut acc);
        assert!(matches!(e, Err(KernelError::LengthMismatch { what: "A", .. })), "{e:?}");
        let e = kern.run_gemv_rows(&v, 2, &[1.0; 2], 1, &[1.0; 15], 8, &mut acc);
        assert!(matches!(e, Err(KernelError::LengthMismatch { what: "B", .. })), "{e:?}");
        assert!(acc.iter().all(|&x| x == 0.0));
    }
}

#[test]
fn run_gemv_dot_refuses_bad_operands() {
    for (kern, v) in variants_of(VariantKind::GemvDot) {
        let shape = (3, 5, v.width);
        let (a, x) = (vec![1.0f32; 3 * 5], vec![1.0f32; v.width * 5]);
        let mut c = vec![0.0f32; 3 * v.width];
        let bias = vec![0.0f32; 3 * v.width];
        let name = v.name();
        let e = kern.run_gemv_dot(&v, dense_dot_args(shape, &a[1..], &x, &mut c, None));
        assert!(matches!(e, Err(KernelError::LengthMismatch { what: "A", .. })), "{name}: {e:?}");
        let e = kern.run_gemv_dot(&v, dense_dot_args(shape, &a, &x[1..], &mut c, None));
        assert!(matches!(e, Err(KernelError::LengthMismatch { what: "x", .. })), "{name}: {e:?}");
        let e = kern.run_gemv_dot(&v, dense_dot_args(shape, &a, &x, &mut c[1..], None));
        assert!(matches!(e, Err(KernelError::LengthMismatch { what: "C", .. })), "{name}: {e:?}");
        let e = kern.run_gemv_dot(&v, dense_dot_args(shape, &a, &x, &mut c, Some(&bias[1..])));
        assert!(matches!(e, Err(KernelError::LengthMismatch { what: "bias", .. })), "{name}: {e:?}");
        let e = kern.run_gemv_dot(&v, DotArgs { act: BAD_CLAMP, ..dense_dot_args(shape, &a, &x, &mut c, None) });
        assert!(matches!(e, Err(KernelError::InvalidArgument { .. })), "{name}: {e:?}");
        if v.width > 1 {
            let e = kern.run_gemv_dot(&v, DotArgs { rsc: 1, csc: 1, ..dense_dot_args(shape, &a, &x, &mut c, None) });
            assert!(matches!(e, Err(KernelError::InvalidArgument { what: "C's elements must not overlap" })), "{e:?}");
        }
        let big = isize::MAX as usize + 1;
        let e =
            kern.run_gemv_dot(&v, DotArgs { bias_rs: big, m: 1, ..dense_dot_args(shape, &a, &x, &mut c, Some(&bias)) });
        assert!(matches!(e, Err(KernelError::InvalidArgument { what: "strides must fit isize" })), "{name}: {e:?}");
        assert!(c.iter().all(|&x| x == 0.0), "{name}: nothing written");
        // A tile variant is not a dot variant.
        let tile = kern.variants().into_iter().find(|t| t.kind == VariantKind::Tile).unwrap();
        let e = kern.run_gemv_dot(&tile, dense_dot_args(shape, &a, &x, &mut c, None));
        assert!(matches!(e, Err(KernelError::InvalidArgument { .. })), "{e:?}");
    }
}

// ---- convolution: Conv2dParams, Conv2d ----

#[test]
fn conv_params_zero_sizes_and_groups() {
    let base = Conv2dParams::new(4, 6, (3, 3));
    let bad = |p: Conv2dParams| match p.validate() {
        Err(KernelError::InvalidGeometry { param, value }) => (param, value),
        other => panic!("{p:?}: {other:?}"),
    };
    assert_eq!(bad(Conv2dParams::new(4, 6, (0, 3))), ("kernel height", 0));
    assert_eq!(bad(Conv2dParams::new(4, 6, (3, 0))), ("kernel width", 0));
    assert_eq!(bad(base.stride(1, 0)), ("stride width", 0));
    assert_eq!(bad(base.dilation(0, 1)), ("dilation height", 0));
    assert_eq!(bad(base.groups(0)), ("groups", 0));
    assert_eq!(bad(Conv2dParams::new(0, 6, (3, 3))), ("in_channels", 0));
    assert_eq!(bad(Conv2dParams::new(4, 0, (3, 3))), ("out_channels", 0));
    assert_eq!(bad(base.groups(4)), ("out_channels (not divisible by groups)", 6));
    // The filter's size overflows.
    let huge = Conv2dParams::new(1, usize::MAX / 2, (3, 3));
    assert_eq!(huge.filter_len(), Err(KernelError::InvalidGeometry { param: "filter size", value: usize::MAX }));
    assert_eq!(bad(huge), ("filter size", usize::MAX));
    // Conv2d::new refuses them before looking at the filter.
    let e = Conv2d::new(base.groups(0), &[], FilterLayout::Oihw, None, Activation::Identity).unwrap_err();
    assert_eq!(e, KernelError::InvalidGeometry { param: "groups", value: 0 });
}

#[test]
fn conv_new_refuses_clamp_bounds_on_every_path() {
    for p in
        [Conv2dParams::new(1, 2, (3, 3)), Conv2dParams::new(4, 4, (3, 3)).groups(4), Conv2dParams::new(8, 2, (3, 3))]
    {
        let filter = vec![0.5; p.filter_len().unwrap()];
        for act in [BAD_CLAMP, Activation::Clamp { min: f32::NAN, max: 1.0 }] {
            let e = Conv2d::new(p, &filter, FilterLayout::Hwio, None, act).unwrap_err();
            assert!(matches!(e, KernelError::InvalidArgument { .. }), "{p:?}: {e}");
        }
    }
}

#[test]
fn conv_geometry_and_output_lengths_through_a_layer() {
    let p = Conv2dParams::new(8, 2, (3, 3)).padding(Padding::Same);
    let conv =
        Conv2d::new(p, &vec![0.5; p.filter_len().unwrap()], FilterLayout::Oihw, None, Activation::Identity).unwrap();
    assert!(matches!(conv.geometry(1, usize::MAX, 2), Err(KernelError::InvalidGeometry { value: usize::MAX, .. })));
    // An image too small for the kernel (valid padding), through run_to_vec.
    let p = Conv2dParams::new(8, 2, (3, 3));
    let conv =
        Conv2d::new(p, &vec![0.5; p.filter_len().unwrap()], FilterLayout::Oihw, None, Activation::Identity).unwrap();
    let e = conv.run_to_vec(&[0.0; 8 * 2 * 2], 1, 2, 2).unwrap_err();
    assert!(matches!(e, KernelError::InvalidGeometry { value: 3, .. }), "{e}");
}

/// A one-pixel input padded to 2^23 x 2^23 output pixels: 2^52 output values of 4 bytes, more
/// than any address space; `run_to_vec` asks the allocator before anything is computed.
#[cfg(all(target_pointer_width = "64", not(miri)))]
#[test]
fn conv_run_to_vec_output_allocation_fails_on_every_path() {
    let pad = Padding::uniform(1 << 22);
    for (cin, cout, groups) in [(1, 4, 1), (4, 4, 4), (8, 4, 1)] {
        let p = Conv2dParams::new(cin, cout, (1, 1)).groups(groups).padding(pad);
        let conv =
            Conv2d::new(p, &vec![0.5; p.filter_len().unwrap()], FilterLayout::Oihw, None, Activation::Relu).unwrap();
        let e = conv.run_to_vec(&vec![1.0; cin], 1, 1, 1).unwrap_err();
        assert!(matches!(e, KernelError::AllocationFailed { what: "convolution output", .. }), "C_in {cin}: {e}");
    }
}

// ---- pooling: Pool2dParams, Pool2d, global_avg_pool ----

#[test]
fn pool_zero_window_and_run_to_vec_input_length() {
    for kernel in [(0, 2), (2, 0)] {
        let p = Pool2dParams::new(PoolKind::Max, 3, kernel);
        let e = p.geometry(1, 4, 4).unwrap_err();
        assert!(matches!(e, KernelError::InvalidGeometry { value: 0, .. }), "{kernel:?}: {e}");
    }
    let pool = Pool2d::new(Pool2dParams::new(PoolKind::Avg { count_include_pad: false }, 3, (2, 2))).unwrap();
    assert_eq!(
        pool.run_to_vec(&[0.0; 47], 1, 4, 4).unwrap_err(),
        KernelError::LengthMismatch { what: "input (batch x height x width x channels)", expected: 48, found: 47 }
    );
}

/// A 1 x 2^48 window over a one-pixel row padded by 2^48 - 1 on each side: 2^48 output values
/// from a 1-value input; `run_to_vec` asks the allocator before anything is computed.
#[cfg(all(target_pointer_width = "64", not(miri)))]
#[test]
fn pool_run_to_vec_output_allocation_fails() {
    let k = 1usize << 48;
    let pad = Padding::Explicit { top: 0, bottom: 0, left: k - 1, right: k - 1 };
    let pool = Pool2d::new(Pool2dParams::new(PoolKind::Max, 4, (1, k)).stride(1, 1).padding(pad)).unwrap();
    let e = pool.run_to_vec(&[1.0; 4], 1, 1, 1).unwrap_err();
    assert!(matches!(e, KernelError::AllocationFailed { what: "pooling output", .. }), "{e}");
}

#[test]
fn global_avg_pool_channels_size_and_input() {
    let isa = Isa::Scalar;
    let mut out = [5.0f32; 4];
    assert_eq!(
        global_avg_pool_with_isa(isa, &[], 1, 4, 0, &mut out[..0]),
        Err(KernelError::InvalidGeometry { param: "channels", value: 0 })
    );
    assert_eq!(
        global_avg_pool_with_isa(isa, &[], usize::MAX, 2, 2, &mut out),
        Err(KernelError::InvalidGeometry { param: "input size", value: usize::MAX })
    );
    assert_eq!(
        global_avg_pool_with_isa(isa, &[0.0; 7], 1, 2, 4, &mut out),
        Err(KernelError::LengthMismatch { what: "input (batch x pixels x channels)", expected: 8, found: 7 })
    );
    assert_eq!(out, [5.0; 4], "nothing written");
}

// ---- layout: nchw_to_nhwc / nhwc_to_nchw, fold_batch_norm ----

#[test]
fn layout_lengths_and_sizes() {
    let mut out = [0.0f32; 6];
    assert_eq!(
        nhwc_to_nchw(&[0.0; 6], 1, 2, 3, 1, &mut out[..5]),
        Err(KernelError::LengthMismatch { what: "output (batch x C x H x W)", expected: 6, found: 5 })
    );
    assert_eq!(
        nhwc_to_nchw(&[], 1, usize::MAX / 2, 3, 1, &mut []),
        Err(KernelError::InvalidGeometry { param: "tensor size", value: usize::MAX })
    );
    assert_eq!(out, [0.0; 6]);
}

#[test]
fn fold_batch_norm_eps_and_short_vectors() {
    let v = [1.0f32; 2];
    let bn = BatchNorm { gamma: &v, beta: &v, mean: &v, var: &v, eps: f32::NAN };
    assert_eq!(
        fold_batch_norm(&[0.0; 4], 2, None, &bn),
        Err(KernelError::InvalidArgument { what: "batch norm eps is NaN" })
    );
    // eps that makes var + eps zero.
    let bn = BatchNorm { eps: -1.0, ..bn };
    assert_eq!(
        fold_batch_norm(&[0.0; 4], 2, None, &bn),
        Err(KernelError::InvalidArgument { what: "batch norm var + eps must be positive" })
    );
    let bn = BatchNorm { eps: 1e-5, ..bn };
    let short = [1.0f32; 1];
    for (name, bn) in [
        ("gamma", BatchNorm { gamma: &short, ..bn }),
        ("beta", BatchNorm { beta: &short, ..bn }),
        ("running mean", BatchNorm { mean: &short, ..bn }),
    ] {
        assert_eq!(
            fold_batch_norm(&[0.0; 4], 2, None, &bn),
            Err(KernelError::LengthMismatch { what: name, expected: 2, found: 1 })
        );
    }
    // An empty filter.
    assert!(matches!(fold_batch_norm(&[], 2, None, &bn), Err(KernelError::LengthMismatch { found: 0, .. })));
}

// ---- element-wise and row ops: Eltwise and the free functions ----

/// A 4x3 row-major, 3x4 row-major and 3x4 column-major view of 12 values.
fn rm43(y: &mut [f32; 12]) -> MatMut<'_> {
    MatMut::row_major(&mut y[..], 4, 3).unwrap()
}
fn rm34(y: &mut [f32; 12]) -> MatMut<'_> {
    MatMut::row_major(&mut y[..], 3, 4).unwrap()
}
fn cm34(y: &mut [f32; 12]) -> MatMut<'_> {
    MatMut::col_major(&mut y[..], 3, 4).unwrap()
}

#[test]
fn eltwise_shapes_of_every_output_and_operand() {
    let e = Eltwise::with_isa(Isa::Scalar).unwrap();
    let x = [1.0f32; 12];
    let g = [1.0f32; 4];
    let xv = MatRef::row_major(&x, 3, 4).unwrap();
    let mut y = [0.0f32; 12];
    let shape = |r| matches!(r, Err(KernelError::ShapeMismatch { expected: (3, 4), found: (4, 3), .. }));
    let y43 = rm43;
    assert!(shape(e.binary(Binary::Add, xv, Rhs::Row(&g), y43(&mut y))), "binary output");
    assert!(shape(e.log_softmax(xv, y43(&mut y))), "log_softmax output");
    assert!(shape(e.layer_norm(xv, &g, &g, 0.0, y43(&mut y))), "layer_norm output");
    assert!(shape(e.rms_norm(xv, &g, 0.0, y43(&mut y))), "rms_norm output");
    assert!(shape(eltwise::softmax(xv, y43(&mut y))), "softmax (free function)");
    // In place: the right operand of another shape, a broadcast row of another length.
    let mut xm = x;
    let x43 = MatRef::row_major(&x, 4, 3).unwrap();
    let e2 = e.binary_inplace(Binary::Mul, MatMut::row_major(&mut xm, 3, 4).unwrap(), Rhs::Mat(x43));
    assert!(shape(e2), "binary_inplace right operand");
    let e2 = eltwise::binary_inplace(Binary::Add, MatMut::row_major(&mut xm, 3, 4).unwrap(), Rhs::Row(&g[..3]));
    assert_eq!(e2, Err(KernelError::LengthMismatch { what: "broadcast row", expected: 4, found: 3 }));
    assert_eq!(y, [0.0; 12]);
    assert_eq!(xm, x, "nothing written");
}

#[test]
fn eltwise_rows_must_be_contiguous_for_every_op() {
    let e = Eltwise::with_isa(Isa::Scalar).unwrap();
    let x = [1.0f32; 12];
    let g = [1.0f32; 4];
    let cm = MatRef::col_major(&x, 3, 4).unwrap();
    let rm = MatRef::row_major(&x, 3, 4).unwrap();
    let mut y = [0.0f32; 12];
    let not_contiguous = |r: Result<(), KernelError>| {
        matches!(
            r,
            Err(KernelError::InvalidArgument { what: "element-wise rows must be contiguous (column stride 1)" })
        )
    };
    let ym = rm34;
    let ycm = cm34;
    assert!(not_contiguous(e.binary(Binary::Add, cm, Rhs::Row(&g), ym(&mut y))), "binary input");
    assert!(not_contiguous(e.binary(Binary::Add, rm, Rhs::Mat(cm), ym(&mut y))), "binary right operand");
    assert!(not_contiguous(e.binary(Binary::Add, rm, Rhs::Row(&g), ycm(&mut y))), "binary output");
    assert!(not_contiguous(e.log_softmax(cm, ym(&mut y))), "log_softmax");
    assert!(not_contiguous(e.layer_norm(cm, &g, &g, 0.0, ym(&mut y))), "layer_norm");
    assert!(not_contiguous(e.rms_norm(rm, &g, 0.0, ycm(&mut y))), "rms_norm output");
    assert!(not_contiguous(e.softmax_inplace(ycm(&mut y))), "softmax_inplace");
    assert!(not_contiguous(e.log_softmax_inplace(ycm(&mut y))), "log_softmax_inplace");
    assert!(not_contiguous(e.layer_norm_inplace(ycm(&mut y), &g, &g, 0.0)), "layer_norm_inplace");
    assert!(not_contiguous(e.rms_norm_inplace(ycm(&mut y), &g, 0.0)), "rms_norm_inplace");
    assert_eq!(y, [0.0; 12], "nothing written");
}

#[test]
fn eltwise_in_place_norms_check_gamma_beta_and_eps() {
    let e = Eltwise::with_isa(Isa::Scalar).unwrap();
    let g = [1.0f32; 4];
    let mut x = [2.0f32; 12];
    let xm = rm34;
    assert_eq!(
        e.layer_norm_inplace(xm(&mut x), &g, &g[..3], 0.0),
        Err(KernelError::LengthMismatch { what: "beta", expected: 4, found: 3 })
    );
    assert_eq!(
        e.rms_norm_inplace(xm(&mut x), &g[..2], 0.0),
        Err(KernelError::LengthMismatch { what: "gamma", expected: 4, found: 2 })
    );
    for eps in [-1.0, f32::NAN] {
        assert!(matches!(e.layer_norm_inplace(xm(&mut x), &g, &g, eps), Err(KernelError::InvalidArgument { .. })));
        assert!(matches!(
            eltwise::rms_norm(
                MatRef::row_major(&[1.0; 4], 1, 4).unwrap(),
                &g,
                eps,
                MatMut::row_major(&mut [0.0; 4], 1, 4).unwrap()
            ),
            Err(KernelError::InvalidArgument { .. })
        ));
    }
    assert_eq!(x, [2.0; 12], "nothing written");
    // unary_inplace and the free unary: clamp bounds.
    assert!(matches!(
        eltwise::unary_inplace(Unary::Clamp { min: 0.0, max: f32::NAN }, &mut x),
        Err(KernelError::InvalidArgument { .. })
    ));
    assert_eq!(
        Unary::Clamp { min: 2.0, max: 1.0 }.validate(),
        Err(KernelError::InvalidArgument { what: "clamp bounds must be ordered and not NaN" })
    );
}

// ---- ndarray: conversions, matmul, matmul_with, matmul_packed, gemm_into ----

#[cfg(feature = "ndarray")]
mod ndarray_api {
    use super::*;
    use lanes_kernels::ndarray::{matmul, matmul_packed, matmul_with};
    use ndarray::{Array2, ArrayView2};

    #[test]
    fn ndarray_output_too_large() {
        // A (2^62 x 0) times B (0 x 2^62): empty operands, an output of 2^124 values.
        let big = 1usize << 62;
        let a = ArrayView2::<f32>::from_shape((big, 0), &[]).unwrap();
        let b = ArrayView2::<f32>::from_shape((0, big), &[]).unwrap();
        assert_eq!(matmul(a, b).unwrap_err(), KernelError::TooLarge { what: "output C", rows: big, cols: big });
    }

    #[cfg(all(target_pointer_width = "64", not(miri)))]
    #[test]
    fn ndarray_output_allocation_fails() {
        let (m, n) = (1usize << 24, 1usize << 24);
        let a = ArrayView2::<f32>::from_shape((m, 0), &[]).unwrap();
        let b = ArrayView2::<f32>::from_shape((0, n), &[]).unwrap();
        let e = matmul_with(&Gemm::new(), a, b).unwrap_err();
        assert_eq!(e, KernelError::AllocationFailed { what: "output C", bytes: 1 << 50 });
    }

    #[test]
    fn ndarray_matmul_packed_shapes_and_clamp() {
        let g = Gemm::new();
        let w = Array2::<f32>::ones((4, 3));
        let packed = g.pack_b(MatRef::try_from(&w).unwrap()).unwrap();
        let x = Array2::<f32>::ones((2, 5));
        assert!(matches!(
            matmul_packed(&g, x.view(), &packed, &Epilogue::NONE),
            Err(KernelError::ShapeMismatch { expected: (5, 3), found: (4, 3), .. })
        ));
        let x = Array2::<f32>::ones((2, 4));
        assert!(matches!(
            matmul_packed(&g, x.view(), &packed, &Epilogue::new(None, BAD_CLAMP)),
            Err(KernelError::InvalidArgument { .. })
        ));
    }
}
