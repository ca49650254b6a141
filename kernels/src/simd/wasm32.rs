//! wasm simd128 vector math: unaligned loads/stores, the multiply-add of each wasm ISA
//! (unfused `f32x4.mul` + `f32x4.add`, or `f32x4.relaxed_madd`) and the activations on `v128`.
//! wasm has no run-time feature detection inside a module: this exists when the build enables
//! `+simd128` (and the relaxed multiply-add with `+relaxed-simd`).

use crate::activation::Activation;
use core::arch::wasm32::*;

/// `acc + a*b`, fused or not.
pub(crate) trait MulAdd {
    fn madd(a: v128, b: v128, acc: v128) -> v128;
}

/// Loads 4 f32 (no alignment needed: wasm `v128.load` is 1-aligned).
///
/// # Safety
/// `p` must be valid for reading 4 f32.
#[inline(always)]
pub(crate) unsafe fn load(p: *const f32) -> v128 {
    // SAFETY: the caller guarantees 16 readable bytes; v128_load has no alignment requirement.
    unsafe { v128_load(p.cast::<v128>()) }
}

/// Stores 4 f32.
///
/// # Safety
/// `p` must be valid for writing 4 f32.
#[inline(always)]
pub(crate) unsafe fn store(p: *mut f32, v: v128) {
    // SAFETY: the caller guarantees 16 writable bytes; v128_store has no alignment requirement.
    unsafe { v128_store(p.cast::<v128>(), v) }
}

/// Unfused multiply-add: two roundings, two instructions (simd128).
pub(crate) struct MulThenAdd;

impl MulAdd for MulThenAdd {
    #[inline(always)]
    fn madd(a: v128, b: v128, acc: v128) -> v128 {
        f32x4_add(f32x4_mul(a, b), acc)
    }
}

/// Relaxed multiply-add: `vfmadd231ps` in V8 on x86-64 hosts with FMA (one rounding), mul +
/// add elsewhere (two roundings).
#[cfg(target_feature = "relaxed-simd")]
pub(crate) struct RelaxedMadd;

#[cfg(target_feature = "relaxed-simd")]
impl MulAdd for RelaxedMadd {
    #[inline(always)]
    fn madd(a: v128, b: v128, acc: v128) -> v128 {
        f32x4_relaxed_madd(a, b, acc)
    }
}

/// Applies the activation: clamps in vector registers, GELU and SiLU lane by lane with the
/// scalar definition (`Activation::apply`).
#[inline(always)]
pub(crate) fn activate(x: v128, act: Activation) -> v128 {
    match act {
        Activation::Identity => x,
        Activation::Relu | Activation::Clamp { .. } => {
            let (lo, hi) = act.bounds();
            // pmax(x, lo) = x < lo ? lo : x; pmin(x, hi) = hi < x ? hi : x: NaN would pass
            // through both, but with relaxed-simd enabled LLVM emits `relaxed_min/max` for
            // them, whose NaN result is up to the engine (V8 on x86 gave `lo`). So NaN lanes
            // (x != x) take x explicitly.
            let clamped = f32x4_pmin(f32x4_pmax(x, f32x4_splat(lo)), f32x4_splat(hi));
            v128_bitselect(x, clamped, f32x4_ne(x, x))
        }
        Activation::Gelu | Activation::Silu => f32x4(
            act.apply(f32x4_extract_lane::<0>(x)),
            act.apply(f32x4_extract_lane::<1>(x)),
            act.apply(f32x4_extract_lane::<2>(x)),
            act.apply(f32x4_extract_lane::<3>(x)),
        ),
    }
}
