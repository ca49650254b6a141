//! Vector math shared by every operation, one module per architecture: exp, sigmoid, the
//! activations, loads/stores and prefetch. Operations' kernels import from here; nothing here
//! imports an operation.

/// Coefficients of e^r on |r| <= ln2/2, degree 6, highest first (Chebyshev fit, rounded to
/// f32: relative error 2e-8 before the rounding of the evaluation).
#[cfg_attr(not(any(target_arch = "x86_64", target_feature = "simd128", target_arch = "aarch64")), allow(dead_code))] // (libm elsewhere)
pub(crate) const EXP_POLY: [f32; 7] = [0.001_394_110_8, 0.008_375_126, 0.041_666_35, 0.166_664_15, 0.5, 1.0, 1.0];
/// The single-scale `exp`'s rounding constant: `x log2(e) + 1.5 * 2^23` rounds to an integer n (f32 has no
/// fraction bits left there) and the extra 127 leaves n + 127, the biased exponent of 2^n, in
/// the low bits.
#[cfg_attr(not(any(target_arch = "x86_64", target_feature = "simd128", target_arch = "aarch64")), allow(dead_code))]
pub(crate) const EXP_ROUND_MAGIC: f32 = 12_583_039.0;
/// Where the single-scale `exp` stops: e^x for |x| <= 87.33 is a normal float (ln(2^-126) =
/// -87.3365), so 2^n is one exponent field.
#[cfg_attr(not(any(target_arch = "x86_64", target_feature = "simd128", target_arch = "aarch64")), allow(dead_code))]
pub(crate) const EXP_NORMAL_LIMIT: f32 = 87.33;

/// `erfcx(u) = e^{u^2} erfc(u)` on `u in [0, 15/sqrt(2)]` as a polynomial in
/// `t = 1 / (1 + 0.3 u)`, degree 11, highest first (Chebyshev fit with mpmath, relative error
/// 3e-8 with these f32 coefficients).
pub(crate) const ERFCX_POLY: [f32; 12] = [
    0.059_111_785,
    -0.355_497_6,
    0.811_929_8,
    -0.959_091_5,
    0.909_66,
    -0.390_677_1,
    0.326_639_8,
    0.087_249_376,
    0.173_644_32,
    0.167_651_6,
    0.169_384_05,
    -4.517_834e-6,
];
/// `0.3 / sqrt(2)`: t = 1 / (1 + ERFCX_P * |x|) for u = |x| / sqrt(2).
pub(crate) const ERFCX_P: f32 = 0.212_132_03;

/// Taylor coefficients of `(tanh(x) - x) / x^3` in powers of x^2, highest first (used for
/// |x| < TANH_SMALL, where the series' truncation error is below 1e-8 relative).
pub(crate) const TANH_POLY: [f32; 6] =
    [21844.0 / 6_081_075.0, -1382.0 / 155_925.0, 62.0 / 2835.0, -17.0 / 315.0, 2.0 / 15.0, -1.0 / 3.0];
pub(crate) const TANH_SMALL: f32 = 0.4;

/// `2*sqrt(2/pi)`: GELU(x) = x * sigmoid(GELU_K * (x + GELU_C x^3)).
pub(crate) const GELU_K: f32 = 1.595_769;
pub(crate) const GELU_C: f32 = 0.044_715;

/// Lane-splatted constants for [`konst!`]: every value of `c` eight times, 32-byte aligned (the
/// widest vector that reads them on wasm: the portable tier's `f32x8`).
#[repr(C, align(32))]
pub(crate) struct KonstTable<const N: usize>(pub(crate) [[f32; 8]; N]);

impl<const N: usize> KonstTable<N> {
    #[allow(dead_code)]
    pub(crate) const fn new(c: [f32; N]) -> Self {
        let mut t = [[0.0; 8]; N];
        let mut i = 0;
        while i < N {
            t[i] = [c[i]; 8];
            i += 1;
        }
        KonstTable(t)
    }
}

/// A constant vector of the module's type `V`: `konst!(c)` (every lane `c`) or
/// `konst!(ARRAY, i)` (every lane `ARRAY[i]`; `i` must fold to a constant). On wasm it is read
/// from a static at each use: V8 (Chromium 156) builds every `v128.const` from immediates,
/// three instructions at each use inside a loop, and the loads made `exp` 1.5x faster there
/// (docs/wasm.md). Elsewhere `splat`: native compilers keep constants in registers.
macro_rules! konst {
    ($c:expr) => {
        $crate::simd::konst!([$c], 0)
    };
    ($table:expr, $i:expr) => {{
        #[cfg(target_arch = "wasm32")]
        {
            static TABLE: $crate::simd::KonstTable<{ $table.len() }> = $crate::simd::KonstTable::new($table);
            const { assert!(core::mem::size_of::<V>() <= 32 && core::mem::align_of::<V>() <= 32) };
            let lanes: *const [f32; 8] = &TABLE.0[$i];
            // SAFETY: 32 readable bytes aligned to 32, at least `V`'s size and alignment, every
            // lane a valid f32. Volatile, or LLVM folds the load back into a `v128.const`.
            unsafe { core::ptr::read_volatile(lanes.cast::<V>()) }
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            splat($table[$i])
        }
    }};
}
pub(crate) use konst;

/// The math every ISA derives from its primitives (`V`, `splat`, `add`, `sub`, `mul`, `div`,
/// `fma`, `min`, `max`, `abs`, `lt`, `gt`, `is_nan`, `select`, `exp`), written once: sigmoid,
/// tanh, the two GELUs, SiLU and a NaN-propagating clamp. Expanded inside each
/// `simd/<arch>` module with that module's `#[target_feature]` attribute, so the code is
/// compiled (and inlined) for the ISA like hand-written intrinsics. `min` / `max` may return
/// either operand for NaN: nothing here depends on it.
macro_rules! derived_math {
    ($(#[$attr:meta])*) => {
        /// `1 / (1 + e^-z)`, as `e^z / (1 + e^z)` for `z < 0` so tiny results keep their
        /// precision. NaN propagates. (`exp_le0`: its argument is never positive.)
        $(#[$attr])*
        #[inline]
        pub(crate) fn sigmoid(z: V) -> V {
            let e = exp_le0(sub(splat(0.0), abs(z)));
            let s = div($crate::simd::konst!(1.0), add($crate::simd::konst!(1.0), e));
            select(lt(z, splat(0.0)), mul(e, s), s)
        }

        /// `tanh(x)`: an odd Taylor polynomial for `|x| < 0.4`, else `1 - 2 / (e^{2|x|} + 1)`
        /// with x's sign. `+-Inf` gives `+-1`, NaN propagates.
        $(#[$attr])*
        #[inline]
        pub(crate) fn tanh(x: V) -> V {
            use $crate::simd::{TANH_POLY, TANH_SMALL};
            let a = abs(x);
            let x2 = mul(x, x);
            let mut p = $crate::simd::konst!(TANH_POLY, 0);
            for i in 1..TANH_POLY.len() {
                p = fma(p, x2, $crate::simd::konst!(TANH_POLY, i));
            }
            // x (1 + x^2 p) keeps the sign of -0 (x + x^3 p would round -0 + 0 to +0).
            let small = mul(x, fma(p, x2, $crate::simd::konst!(1.0)));
            let e = exp(add(a, a));
            let big = sub($crate::simd::konst!(1.0), div($crate::simd::konst!(2.0), add(e, $crate::simd::konst!(1.0))));
            let big = select(lt(x, splat(0.0)), sub(splat(0.0), big), big);
            select(lt(a, $crate::simd::konst!(TANH_SMALL)), small, big)
        }

        /// GELU, tanh form: `x * sigmoid(GELU_K (x + GELU_C x^3))` (`Activation::Gelu`).
        $(#[$attr])*
        #[inline]
        pub(crate) fn gelu_tanh(x: V) -> V {
            use $crate::simd::{GELU_C, GELU_K};
            let x3 = mul(mul(x, x), x);
            mul(x, sigmoid(mul($crate::simd::konst!(GELU_K), fma($crate::simd::konst!(GELU_C), x3, x))))
        }

        /// SiLU: `x * sigmoid(x)`.
        $(#[$attr])*
        #[inline]
        pub(crate) fn silu(x: V) -> V {
            mul(x, sigmoid(x))
        }

        /// Exact GELU: `x * Phi(x) = x/2 * erfc(-x / sqrt(2))`. `erfc(u)` for `u >= 0` is
        /// `e^{-u^2} erfcx(u)` with `u^2 = x^2/2` split exactly into hi + lo (Veltkamp, no FMA
        /// needed), `erfcx` a polynomial in `1/(1 + 0.3u)`; for `x > 0`, `Phi = 1 - erfc/2`.
        /// x is clamped to +-15 inside Phi (Phi is 0 or 1 in f32 beyond). NaN propagates.
        $(#[$attr])*
        #[inline]
        pub(crate) fn gelu_erf(x: V) -> V {
            use $crate::simd::{ERFCX_P, ERFCX_POLY};
            let ax = abs(min(max(x, $crate::simd::konst!(-15.0)), $crate::simd::konst!(15.0)));
            let c = mul(ax, $crate::simd::konst!(4097.0));
            let h = sub(c, sub(c, ax));
            let l = sub(ax, h);
            let hi = mul(ax, ax);
            let lo = add(add(sub(mul(h, h), hi), mul(add(h, h), l)), mul(l, l));
            let e = mul(exp(mul(hi, $crate::simd::konst!(-0.5))), sub($crate::simd::konst!(1.0), mul(lo, $crate::simd::konst!(0.5))));
            let t = div($crate::simd::konst!(1.0), fma(ax, $crate::simd::konst!(ERFCX_P), $crate::simd::konst!(1.0)));
            let mut f = $crate::simd::konst!(ERFCX_POLY, 0);
            for i in 1..ERFCX_POLY.len() {
                f = fma(f, t, $crate::simd::konst!(ERFCX_POLY, i));
            }
            let half = mul(mul(e, f), $crate::simd::konst!(0.5));
            mul(x, select(gt(x, splat(0.0)), sub($crate::simd::konst!(1.0), half), half))
        }

        /// `min(max(x, lo), hi)`; NaN propagates (whatever `min`/`max` do with it).
        $(#[$attr])*
        #[inline]
        pub(crate) fn clamp(x: V, lo: V, hi: V) -> V {
            select(is_nan(x), x, min(max(x, lo), hi))
        }
    };
}
pub(crate) use derived_math;

#[cfg(target_arch = "aarch64")]
pub(crate) mod aarch64;
pub(crate) mod portable;
pub(crate) mod scalar;
pub(crate) mod vector;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub(crate) mod wasm32;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86_64;

/// Hints the caches to fetch `cols` values at `src`, one prefetch per 64-byte line (any
/// address: prefetches never fault). A no-op where the target has no prefetch instruction.
#[inline(always)]
pub(crate) fn prefetch_row(src: *const f32, cols: usize) {
    #[cfg(target_arch = "x86_64")]
    for j in (0..cols).step_by(16) {
        // SAFETY: a prefetch is a hint; it does not fault or read on invalid addresses.
        unsafe { core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_T0 }>(src.wrapping_add(j).cast()) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (src, cols);
}
