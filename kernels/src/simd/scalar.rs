//! Scalar "vector" math: one lane, `V = f32`, libm's `expf`. The derived math of
//! `simd::derived_math!` expanded here is the scalar definition of tanh, sigmoid and exact
//! GELU that `ops::eltwise::Unary::apply` exposes (the scalar tier runs it).

pub(crate) type V = f32;
/// Lanes per vector.
pub(crate) const L: usize = 1;

/// `e^x` (libm).
#[inline(always)]
pub(crate) fn exp(x: V) -> V {
    x.exp()
}

/// `e^x` for `x <= 0` (softmax's `x - max`): `exp` itself here (libm).
#[inline(always)]
pub(crate) fn exp_le0(x: V) -> V {
    exp(x)
}

crate::simd::derived_math!();

#[inline(always)]
pub(crate) fn splat(x: f32) -> V {
    x
}
#[inline(always)]
pub(crate) fn add(a: V, b: V) -> V {
    a + b
}
#[inline(always)]
pub(crate) fn sub(a: V, b: V) -> V {
    a - b
}
#[inline(always)]
pub(crate) fn mul(a: V, b: V) -> V {
    a * b
}
#[inline(always)]
pub(crate) fn div(a: V, b: V) -> V {
    a / b
}
/// `a*b + c`, two roundings (as the portable and wasm tiers; `f32::mul_add` is a libm call
/// where the target has no FMA).
#[inline(always)]
pub(crate) fn fma(a: V, b: V, c: V) -> V {
    a * b + c
}
#[inline(always)]
pub(crate) fn min(a: V, b: V) -> V {
    // A select, not `f32::min`: that one's sign of a zero result (for -0 and +0) is left open,
    // and a vectorised loop and its scalar remainder disagreed on it in release builds.
    if b < a {
        b
    } else {
        a
    }
}
#[inline(always)]
pub(crate) fn max(a: V, b: V) -> V {
    // (As for `min`.)
    if b > a {
        b
    } else {
        a
    }
}
#[inline(always)]
pub(crate) fn abs(a: V) -> V {
    a.abs()
}
#[inline(always)]
pub(crate) fn lt(a: V, b: V) -> bool {
    a < b
}
#[inline(always)]
pub(crate) fn gt(a: V, b: V) -> bool {
    a > b
}
#[inline(always)]
pub(crate) fn is_nan(a: V) -> bool {
    a.is_nan()
}
/// `m ? a : b`.
#[inline(always)]
pub(crate) fn select(m: bool, a: V, b: V) -> V {
    if m {
        a
    } else {
        b
    }
}
#[inline(always)]
pub(crate) fn hsum(a: V) -> f32 {
    a
}
#[inline(always)]
pub(crate) fn hmax(a: V) -> f32 {
    a
}
/// # Safety
/// `p` valid for reading one f32.
#[inline(always)]
pub(crate) unsafe fn load(p: *const f32) -> V {
    // SAFETY: forwarded from the caller.
    unsafe { p.read() }
}
/// # Safety
/// `p` valid for writing one f32.
#[inline(always)]
pub(crate) unsafe fn store(p: *mut f32, v: V) {
    // SAFETY: forwarded from the caller.
    unsafe { p.write(v) }
}
/// Never called with L = 1 (a tail is shorter than one vector); for the shared kernels.
///
/// # Safety
/// `p` valid for reading `n` f32.
#[inline(always)]
pub(crate) unsafe fn load_partial(p: *const f32, n: usize, fill: f32) -> V {
    if n == 0 {
        fill
    } else {
        // SAFETY: forwarded from the caller (n >= 1 values readable).
        unsafe { p.read() }
    }
}
/// Never called with L = 1; for the shared kernels.
///
/// # Safety
/// `p` valid for writing `n` f32.
#[inline(always)]
pub(crate) unsafe fn store_partial(p: *mut f32, n: usize, v: V) {
    if n > 0 {
        // SAFETY: forwarded from the caller.
        unsafe { p.write(v) }
    }
}
