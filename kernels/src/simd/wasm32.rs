//! wasm simd128 vector math: unaligned loads/stores, the multiply-add of each wasm ISA
//! (unfused `f32x4.mul` + `f32x4.add`, or `f32x4.relaxed_madd`) and the activations on `v128`.
//! wasm has no run-time feature detection inside a module: this exists when the build enables
//! `+simd128` (and the relaxed multiply-add with `+relaxed-simd`).

use crate::simd::{EXP_NORMAL_LIMIT, EXP_POLY, EXP_ROUND_MAGIC};
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

pub(crate) type V = v128;
/// Lanes per vector.
pub(crate) const L: usize = 4;

/// `e^x`: x = n ln2 + r, |r| <= ln2/2, degree-6 polynomial for e^r (`EXP_POLY`, unfused
/// multiply-adds), times 2^n. Vectors whose lanes all lie in [-87.33, 87.33] (or are NaN)
/// take `exp_normal_range`'s single scale; the others `exp_any_range`, which reaches subnormal
/// results and overflow like libm.
#[inline(always)]
pub(crate) fn exp(x: v128) -> v128 {
    if v128_any_true(f32x4_gt(f32x4_abs(x), konst!(EXP_NORMAL_LIMIT))) {
        return exp_any_range(x);
    }
    exp_normal_range(x)
}

/// `e^x` for `x <= 0` or NaN (softmax's `x - max`): `exp` with the check on one side only.
#[inline(always)]
pub(crate) fn exp_le0(x: v128) -> v128 {
    if v128_any_true(f32x4_lt(x, konst!(-EXP_NORMAL_LIMIT))) {
        return exp_any_range(x);
    }
    exp_normal_range(x)
}

/// `e^x` for |x| <= 87.33 or NaN, where 2^n is a normal float: n is rounded by adding
/// 1.5 * 2^23 + 127 (its low bits are then n + 127, shifted into the exponent: one scale, no
/// rounding instruction, no conversions). No min/max: NaN propagates through the arithmetic.
#[inline(always)]
fn exp_normal_range(x: v128) -> v128 {
    let magic = konst!(EXP_ROUND_MAGIC);
    let biased = f32x4_add(f32x4_mul(x, konst!(std::f32::consts::LOG2_E)), magic);
    let scale = i32x4_shl(biased, 23);
    let n = f32x4_sub(biased, magic);
    let r = f32x4_sub(x, f32x4_mul(n, konst!(0.693_145_75)));
    let r = f32x4_sub(r, f32x4_mul(n, konst!(1.428_606_8e-6)));
    let mut p = konst!(EXP_POLY, 0);
    for i in 1..EXP_POLY.len() {
        p = f32x4_add(f32x4_mul(p, r), konst!(EXP_POLY, i));
    }
    f32x4_mul(p, scale)
}

/// `e^x` for any x: 2^n built in the exponent bits as 2^(n/2) * 2^(n - n/2) (n in
/// [-150, 128]: subnormal results, overflow to +inf). NaN lanes are selected back explicitly:
/// with relaxed-simd LLVM may turn `pmin`/`pmax` into `relaxed_min/max`, whose NaN result is
/// up to the engine (docs/wasm.md).
#[inline(always)]
fn exp_any_range(x0: v128) -> v128 {
    let x = f32x4_pmin(f32x4_pmax(x0, konst!(-104.0)), konst!(88.8));
    let n = f32x4_nearest(f32x4_mul(x, konst!(std::f32::consts::LOG2_E)));
    let r = f32x4_sub(x, f32x4_mul(n, konst!(0.693_145_75)));
    let r = f32x4_sub(r, f32x4_mul(n, konst!(1.428_606_8e-6)));
    let mut p = konst!(EXP_POLY, 0);
    for i in 1..EXP_POLY.len() {
        p = f32x4_add(f32x4_mul(p, r), konst!(EXP_POLY, i));
    }
    let ni = i32x4_trunc_sat_f32x4(n);
    let n1 = i32x4_shr(ni, 1);
    let n2 = i32x4_sub(ni, n1);
    let pow2 = |k: v128| i32x4_shl(i32x4_add(k, i32x4_splat(127)), 23);
    let e = f32x4_mul(f32x4_mul(p, pow2(n1)), pow2(n2));
    v128_bitselect(x0, e, f32x4_ne(x0, x0))
}

crate::simd::derived_math!();
crate::activation::vector_activate!();

#[inline(always)]
pub(crate) fn splat(x: f32) -> V {
    f32x4_splat(x)
}
#[inline(always)]
pub(crate) fn add(a: V, b: V) -> V {
    f32x4_add(a, b)
}
#[inline(always)]
pub(crate) fn sub(a: V, b: V) -> V {
    f32x4_sub(a, b)
}
#[inline(always)]
pub(crate) fn mul(a: V, b: V) -> V {
    f32x4_mul(a, b)
}
#[inline(always)]
pub(crate) fn div(a: V, b: V) -> V {
    f32x4_div(a, b)
}
/// `a*b + c`, unfused (two roundings) on both wasm ISAs, so results do not depend on the engine.
#[inline(always)]
pub(crate) fn fma(a: V, b: V, c: V) -> V {
    f32x4_add(f32x4_mul(a, b), c)
}
#[inline(always)]
pub(crate) fn min(a: V, b: V) -> V {
    f32x4_pmin(a, b)
}
#[inline(always)]
pub(crate) fn max(a: V, b: V) -> V {
    f32x4_pmax(a, b)
}
#[inline(always)]
pub(crate) fn abs(a: V) -> V {
    f32x4_abs(a)
}
#[inline(always)]
pub(crate) fn lt(a: V, b: V) -> V {
    f32x4_lt(a, b)
}
#[inline(always)]
pub(crate) fn gt(a: V, b: V) -> V {
    f32x4_gt(a, b)
}
#[inline(always)]
pub(crate) fn is_nan(a: V) -> V {
    f32x4_ne(a, a)
}
/// `m ? a : b` lane-wise (`m` from a comparison).
#[inline(always)]
pub(crate) fn select(m: V, a: V, b: V) -> V {
    v128_bitselect(a, b, m)
}
#[inline(always)]
pub(crate) fn hsum(a: V) -> f32 {
    let s = f32x4_add(a, i32x4_shuffle::<2, 3, 0, 1>(a, a));
    f32x4_extract_lane::<0>(f32x4_add(s, i32x4_shuffle::<1, 0, 3, 2>(s, s)))
}
#[inline(always)]
pub(crate) fn hmax(a: V) -> f32 {
    let s = f32x4_pmax(a, i32x4_shuffle::<2, 3, 0, 1>(a, a));
    f32x4_extract_lane::<0>(f32x4_pmax(s, i32x4_shuffle::<1, 0, 3, 2>(s, s)))
}
/// The first `n < 4` values at `p`, the other lanes `fill` (nothing past `p + n` is touched).
///
/// # Safety
/// `p` valid for reading `n` f32.
#[inline(always)]
pub(crate) unsafe fn load_partial(p: *const f32, n: usize, fill: f32) -> V {
    let mut buf = [fill; L];
    // SAFETY: n < L values readable at p (caller), writable in buf.
    unsafe { core::ptr::copy_nonoverlapping(p, buf.as_mut_ptr(), n.min(L)) };
    // SAFETY: buf holds L values.
    unsafe { load(buf.as_ptr()) }
}
/// Stores the first `n < 4` lanes of `v` at `p`.
///
/// # Safety
/// `p` valid for writing `n` f32.
#[inline(always)]
pub(crate) unsafe fn store_partial(p: *mut f32, n: usize, v: V) {
    let mut buf = [0.0f32; L];
    // SAFETY: buf holds L values.
    unsafe { store(buf.as_mut_ptr(), v) };
    // SAFETY: n < L values writable at p (caller).
    unsafe { core::ptr::copy_nonoverlapping(buf.as_ptr(), p, n.min(L)) };
}
