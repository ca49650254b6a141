//! wasm simd128: a 5x8 register tile (10 accumulators) with `f32x4.mul` + `f32x4.add`.
//! 10 accumulators + 2 B vectors + 1 broadcast A + 1 product temporary = 14 of the 15 XMM
//! registers V8 gives wasm on x86-64 (6x8 needs 16 and spills: 26 GFLOP/s instead of 42).
//! Like the relaxed kernel it relies on the builds' `-C llvm-args=-pre-RA-sched=source` to
//! keep one A broadcast live at a time. Measured in Chromium 156, 1 thread, 512^3:
//! 4x8 40.5, 5x8 42.4, 2x16 38.3, 6x8 25.8 GFLOP/s (docs/wasm.md).

use super::{dot, gemv_rows, tile};
use crate::isa::Isa;
use crate::ops::gemm::ukernel::variant::{GENERAL, INDIRECT};
use crate::ops::gemm::ukernel::{BInPlace, Dot, MicroKernel, Tile};
use crate::simd::wasm32::MulThenAdd;

const MR: usize = 5;
/// Two `v128` per row.
const NV: usize = 2;
/// The M = 1 (GEMV) kernel streams B rows 32 wide: 8 independent accumulators.
const GEMV_NV: usize = 8;

/// `M x 8` tile, `M <= 5`; `U` accumulator sets over consecutive k steps; `VARIANT`
/// [`GENERAL`] or [`INDIRECT`] (A through row pointers).
///
/// # Safety
/// The `Tile` contract (see `ops::gemm::ukernel::Tile`); simd128 is enabled for the whole build.
unsafe fn sgemm_mx8_wasm_simd128<const M: usize, const U: usize, const VARIANT: u8>(t: &Tile) {
    // SAFETY: forwarded contract.
    unsafe { tile::<MulThenAdd, M, NV, U, VARIANT>(t) }
}

/// `1 x 32` tile for M = 1 with B read in place (row-major, not packed).
///
/// # Safety
/// The `Tile` contract with `NR = 4 * GEMV_NV`.
unsafe fn sgemm_1xn_wasm_simd128(t: &Tile) {
    // SAFETY: forwarded contract.
    unsafe { tile::<MulThenAdd, 1, GEMV_NV, 1, GENERAL>(t) }
}

/// Dot-product GEMV against `N` columns.
///
/// # Safety
/// The `Dot` contract.
unsafe fn dot_wasm_simd128<const N: usize, const U: usize>(d: &Dot) {
    // SAFETY: forwarded contract.
    unsafe { dot::<MulThenAdd, N, U>(d) }
}

pub(crate) static SGEMM_5X8_WASM_SIMD128: MicroKernel = MicroKernel {
    name: "sgemm_5x8_wasm_simd128",
    isa: Isa::WasmSimd128,
    mr: MR,
    nr: 4 * NV,
    // KC 512: the 512x8 B panel (16 KiB) and the A panel (<= 12 KiB) share the 48 KiB L1;
    // measured +2-4% over KC 256, flat from 384 to 1024. MC 120 (a multiple of 5, 6 and 8):
    // the A block (240 KiB) stays in L2. NC 1024 (a multiple of NR).
    kc: 512,
    mc: 120,
    nc: 1024,
    gemv: &[(sgemm_1xn_wasm_simd128, 4 * GEMV_NV)],
    gemv_dot: &[dot_wasm_simd128::<1, 2>, dot_wasm_simd128::<2, 1>, dot_wasm_simd128::<3, 1>],
    gemv_rows: Some(gemv_rows::<MulThenAdd>),
    rows_short_plain: &[],
    b_in_place: BInPlace::ByShape,
    masked: &[],
    pack_b_tile: None,
    indirect: &[&[
        sgemm_mx8_wasm_simd128::<1, 4, INDIRECT>,
        sgemm_mx8_wasm_simd128::<2, 2, INDIRECT>,
        sgemm_mx8_wasm_simd128::<3, 1, INDIRECT>,
        sgemm_mx8_wasm_simd128::<4, 1, INDIRECT>,
        sgemm_mx8_wasm_simd128::<5, 1, INDIRECT>,
    ]],
    rows_a_broadcast: &[],
    rows: &[
        sgemm_mx8_wasm_simd128::<1, 4, GENERAL>,
        sgemm_mx8_wasm_simd128::<2, 2, GENERAL>,
        sgemm_mx8_wasm_simd128::<3, 1, GENERAL>,
        sgemm_mx8_wasm_simd128::<4, 1, GENERAL>,
        sgemm_mx8_wasm_simd128::<5, 1, GENERAL>,
    ],
};
