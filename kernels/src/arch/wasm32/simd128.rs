//! wasm simd128: a 4x8 register tile (8 accumulators) with `f32x4.mul` + `f32x4.add`.
//! V8 keeps the 8 accumulators, 2 B vectors, 1 broadcast A and the product temporary in the
//! 15 usable XMM registers on x86-64; larger tiles measured slower (docs/wasm.md).

use super::{tile, MulAdd};
use crate::dispatch::Isa;
use crate::gemm::kernel::{MicroKernel, Tile};
use core::arch::wasm32::*;

const MR: usize = 4;
/// Two `v128` per row.
const NV: usize = 2;
/// The M = 1 (GEMV) kernel streams B rows 32 wide: 8 independent accumulators.
const GEMV_NV: usize = 8;

/// Unfused multiply-add: two roundings, two instructions.
pub(crate) struct MulThenAdd;

impl MulAdd for MulThenAdd {
    #[inline(always)]
    fn madd(a: v128, b: v128, acc: v128) -> v128 {
        f32x4_add(f32x4_mul(a, b), acc)
    }
}

/// `M x 8` tile, `M <= 4`; `U` accumulator sets over consecutive k steps.
///
/// # Safety
/// The `Tile` contract (see `gemm::kernel::Tile`); simd128 is enabled for the whole build.
unsafe fn sgemm_mx8_wasm_simd128<const M: usize, const U: usize>(t: &Tile) {
    // SAFETY: forwarded contract.
    unsafe { tile::<MulThenAdd, M, NV, U>(t) }
}

/// `1 x 32` tile for M = 1 with B read in place (row-major, not packed).
///
/// # Safety
/// The `Tile` contract with `NR = 4 * GEMV_NV`.
unsafe fn sgemm_1xn_wasm_simd128(t: &Tile) {
    // SAFETY: forwarded contract.
    unsafe { tile::<MulThenAdd, 1, GEMV_NV, 1>(t) }
}

pub(crate) static SGEMM_WASM_SIMD128: MicroKernel = MicroKernel {
    name: "sgemm_4x8_wasm_simd128",
    isa: Isa::WasmSimd128,
    mr: MR,
    nr: 4 * NV,
    kc: 256,
    mc: 128,
    nc: 1024,
    gemv: &[(sgemm_1xn_wasm_simd128, 4 * GEMV_NV)],
    rows: &[
        sgemm_mx8_wasm_simd128::<1, 4>,
        sgemm_mx8_wasm_simd128::<2, 2>,
        sgemm_mx8_wasm_simd128::<3, 1>,
        sgemm_mx8_wasm_simd128::<4, 1>,
    ],
};
