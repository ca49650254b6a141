//! wasm relaxed-simd: a 6x8 register tile (12 accumulators) with `f32x4.relaxed_madd`, which
//! V8 compiles to `vfmadd231ps` on x86-64 hosts with FMA (one rounding) and to mul + add
//! elsewhere (two roundings): results may differ from the simd128 kernel in the last bits.
//!
//! 12 accumulators + 2 B vectors + 1 broadcast A = 15 XMM registers, all V8 leaves to wasm on
//! x86-64. That only holds if each A broadcast is consumed right after it is loaded: the
//! builds pass `-C llvm-args=-pre-RA-sched=source` (scripts/build-wasm.sh), without which LLVM
//! hoists all six broadcasts (12 + 2 + 6 = 20 live vectors) and V8 spills (6x8 then runs at
//! half speed). Measured in Chromium 156 on the 2-vCPU Xeon (GFLOP/s, 1 thread, 512^3):
//! 4x8 49, 5x8 51, 6x8 53; 4x12 and 3x16 spill (~25). See docs/wasm.md.

use super::{dot, gemv_rows, tile};
use crate::isa::Isa;
use crate::ops::gemm::ukernel::variant::{GENERAL, INDIRECT};
use crate::ops::gemm::ukernel::{BInPlace, Dot, MicroKernel, Tile};
use crate::simd::wasm32::RelaxedMadd;

const MR: usize = 6;
/// Two `v128` per row.
const NV: usize = 2;
/// The M = 1 (GEMV) kernel streams B rows 32 wide: 8 independent accumulators.
const GEMV_NV: usize = 8;

/// `M x 8` tile, `M <= 6`; `U` accumulator sets over consecutive k steps; `VARIANT`
/// [`GENERAL`] or [`INDIRECT`] (A through row pointers).
///
/// # Safety
/// The `Tile` contract (see `ops::gemm::ukernel::Tile`); relaxed-simd is enabled for the whole build.
unsafe fn sgemm_mx8_wasm_relaxed<const M: usize, const U: usize, const VARIANT: u8>(t: &Tile) {
    // SAFETY: forwarded contract.
    unsafe { tile::<RelaxedMadd, M, NV, U, VARIANT>(t) }
}

/// `1 x 32` tile for M = 1 with B read in place (row-major, not packed).
///
/// # Safety
/// The `Tile` contract with `NR = 4 * GEMV_NV`.
unsafe fn sgemm_1xn_wasm_relaxed(t: &Tile) {
    // SAFETY: forwarded contract.
    unsafe { tile::<RelaxedMadd, 1, GEMV_NV, 1, GENERAL>(t) }
}

/// Dot-product GEMV against `N` columns.
///
/// # Safety
/// The `Dot` contract.
unsafe fn dot_wasm_relaxed<const N: usize, const U: usize>(d: &Dot) {
    // SAFETY: forwarded contract.
    unsafe { dot::<RelaxedMadd, N, U>(d) }
}

pub(crate) static SGEMM_6X8_WASM_RELAXED: MicroKernel = MicroKernel {
    name: "sgemm_6x8_wasm_relaxed",
    isa: Isa::WasmRelaxed,
    mr: MR,
    nr: 4 * NV,
    // KC 512: the 512x8 B panel (16 KiB) and the A panel (<= 12 KiB) share the 48 KiB L1;
    // measured +2-4% over KC 256, flat from 384 to 1024. MC 120 (a multiple of 5, 6 and 8):
    // the A block (240 KiB) stays in L2. NC 1024 (a multiple of NR).
    kc: 512,
    mc: 120,
    nc: 1024,
    gemv: &[(sgemm_1xn_wasm_relaxed, 4 * GEMV_NV)],
    gemv_dot: &[dot_wasm_relaxed::<1, 2>, dot_wasm_relaxed::<2, 1>, dot_wasm_relaxed::<3, 1>],
    gemv_rows: Some(gemv_rows::<RelaxedMadd>),
    rows_short_plain: &[],
    b_in_place: BInPlace::ByShape,
    masked: &[],
    pack_b_tile: None,
    indirect: &[&[
        sgemm_mx8_wasm_relaxed::<1, 4, INDIRECT>,
        sgemm_mx8_wasm_relaxed::<2, 2, INDIRECT>,
        sgemm_mx8_wasm_relaxed::<3, 1, INDIRECT>,
        sgemm_mx8_wasm_relaxed::<4, 1, INDIRECT>,
        sgemm_mx8_wasm_relaxed::<5, 1, INDIRECT>,
        sgemm_mx8_wasm_relaxed::<6, 1, INDIRECT>,
    ]],
    rows_a_broadcast: &[],
    rows: &[
        sgemm_mx8_wasm_relaxed::<1, 4, GENERAL>,
        sgemm_mx8_wasm_relaxed::<2, 2, GENERAL>,
        sgemm_mx8_wasm_relaxed::<3, 1, GENERAL>,
        sgemm_mx8_wasm_relaxed::<4, 1, GENERAL>,
        sgemm_mx8_wasm_relaxed::<5, 1, GENERAL>,
        sgemm_mx8_wasm_relaxed::<6, 1, GENERAL>,
    ],
};
