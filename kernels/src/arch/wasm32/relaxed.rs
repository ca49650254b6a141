//! wasm relaxed-simd: a 4x8 register tile (8 accumulators) with `f32x4.relaxed_madd`, which
//! V8 compiles to `vfmadd231ps` on x86-64 hosts with FMA (one rounding) and to mul + add
//! elsewhere (two roundings): results may differ from the simd128 kernel in the last bits.

use super::{tile, MulAdd};
use crate::dispatch::Isa;
use crate::gemm::kernel::{MicroKernel, Tile};
use core::arch::wasm32::*;

const MR: usize = 4;
/// Two `v128` per row.
const NV: usize = 2;
/// The M = 1 (GEMV) kernel streams B rows 32 wide: 8 independent accumulators.
const GEMV_NV: usize = 8;

/// Relaxed (fused where the host has FMA) multiply-add.
pub(crate) struct RelaxedMadd;

impl MulAdd for RelaxedMadd {
    #[inline(always)]
    fn madd(a: v128, b: v128, acc: v128) -> v128 {
        f32x4_relaxed_madd(a, b, acc)
    }
}

/// `M x 8` tile, `M <= 4`; `U` accumulator sets over consecutive k steps.
///
/// # Safety
/// The `Tile` contract (see `gemm::kernel::Tile`); relaxed-simd is enabled for the whole build.
unsafe fn sgemm_mx8_wasm_relaxed<const M: usize, const U: usize>(t: &Tile) {
    // SAFETY: forwarded contract.
    unsafe { tile::<RelaxedMadd, M, NV, U>(t) }
}

/// `1 x 32` tile for M = 1 with B read in place (row-major, not packed).
///
/// # Safety
/// The `Tile` contract with `NR = 4 * GEMV_NV`.
unsafe fn sgemm_1xn_wasm_relaxed(t: &Tile) {
    // SAFETY: forwarded contract.
    unsafe { tile::<RelaxedMadd, 1, GEMV_NV, 1>(t) }
}

pub(crate) static SGEMM_WASM_RELAXED: MicroKernel = MicroKernel {
    name: "sgemm_4x8_wasm_relaxed",
    isa: Isa::WasmRelaxed,
    mr: MR,
    nr: 4 * NV,
    kc: 256,
    mc: 128,
    nc: 1024,
    gemv: &[(sgemm_1xn_wasm_relaxed, 4 * GEMV_NV)],
    rows: &[
        sgemm_mx8_wasm_relaxed::<1, 4>,
        sgemm_mx8_wasm_relaxed::<2, 2>,
        sgemm_mx8_wasm_relaxed::<3, 1>,
        sgemm_mx8_wasm_relaxed::<4, 1>,
    ],
};
