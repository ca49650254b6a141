//! One f32 vector type per ISA behind one trait ([`F32Vector`]), for the operations whose
//! kernels are the same loop on every ISA and differ only in the width and the instructions of
//! a vector (depthwise convolution, pooling): the loop is written once, generic and
//! `#[inline(always)]`, and each ISA's entry point (a `#[target_feature]` function where the
//! ISA needs one) instantiates it, so every instruction is compiled for that ISA.
//!
//! The x86 methods carry `#[target_feature]`, which is why every method is `unsafe`: the
//! caller must have checked the CPU (an `Isa` that passed `Isa::require`). Partial vectors
//! (the channel tail) are masked loads/stores on AVX-512 and AVX2, a copy through a stack
//! array elsewhere (NEON, wasm, portable).

use crate::activation::Activation;

/// An f32 vector of `N` lanes.
///
/// # Safety (of every method)
/// The ISA of the implementation must be available on this CPU; pointers must be valid for
/// the lanes read or written (`N`, or `n` for the `_part` forms).
pub(crate) trait F32Vector: Copy {
    /// Lanes.
    const N: usize;
    /// Whether the direct convolution's blocks of pixels may hold two vectors of output
    /// channels, each broadcast input value feeding two multiply-adds (the registers hold twice
    /// the accumulators: AVX-512 and AVX2, measured; the others are not).
    const TWO_VECTOR_BLOCKS: bool = false;
    unsafe fn splat(x: f32) -> Self;
    unsafe fn load(p: *const f32) -> Self;
    /// The first `n < N` lanes from `p`, the others 0.
    unsafe fn load_part(p: *const f32, n: usize) -> Self;
    unsafe fn store(p: *mut f32, v: Self);
    /// The first `n < N` lanes to `p`; nothing else is written.
    unsafe fn store_part(p: *mut f32, n: usize, v: Self);
    /// `acc + a*b` (fused where the ISA has it).
    unsafe fn madd(a: Self, b: Self, acc: Self) -> Self;
    unsafe fn add(a: Self, b: Self) -> Self;
    unsafe fn mul(a: Self, b: Self) -> Self;
    /// Lane-wise maximum; NaN if either operand is NaN (as PyTorch's max pool).
    unsafe fn max(a: Self, b: Self) -> Self;
    /// The sum of the lanes (in the ISA's reduction order).
    unsafe fn hsum(v: Self) -> f32;
    unsafe fn activate(v: Self, act: Activation) -> Self;
}

/// The first `n <= N` values from `p`, the other lanes 0: a whole vector when `n == N`.
///
/// # Safety
/// `n` values readable at `p`; the ISA of `V` is available.
#[inline(always)]
pub(crate) unsafe fn load_n<V: F32Vector>(p: *const f32, n: usize) -> V {
    // SAFETY: the caller's contract (a partial load reads only n values).
    unsafe {
        if n == V::N {
            V::load(p)
        } else {
            V::load_part(p, n)
        }
    }
}

/// The first `n <= N` lanes of `v` to `p`, nothing else written: a whole vector when `n == N`.
///
/// # Safety
/// `n` values writable at `p`; the ISA of `V` is available.
#[inline(always)]
pub(crate) unsafe fn store_n<V: F32Vector>(p: *mut f32, n: usize, v: V) {
    // SAFETY: the caller's contract (a partial store writes only n values).
    unsafe {
        if n == V::N {
            V::store(p, v)
        } else {
            V::store_part(p, n, v)
        }
    }
}

/// The scalar tier: one lane.
impl F32Vector for f32 {
    const N: usize = 1;
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        x
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees one readable f32.
        unsafe { *p }
    }
    #[inline(always)]
    unsafe fn load_part(_: *const f32, _: usize) -> Self {
        0.0 // n < 1: nothing to read
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: Self) {
        // SAFETY: the caller guarantees one writable f32.
        unsafe { *p = v }
    }
    #[inline(always)]
    unsafe fn store_part(_: *mut f32, _: usize, _: Self) {}
    #[inline(always)]
    unsafe fn madd(a: Self, b: Self, acc: Self) -> Self {
        a * b + acc
    }
    #[inline(always)]
    unsafe fn add(a: Self, b: Self) -> Self {
        a + b
    }
    #[inline(always)]
    unsafe fn mul(a: Self, b: Self) -> Self {
        a * b
    }
    #[inline(always)]
    unsafe fn max(a: Self, b: Self) -> Self {
        if b > a || b.is_nan() {
            b
        } else {
            a
        }
    }
    #[inline(always)]
    unsafe fn hsum(v: Self) -> f32 {
        v
    }
    #[inline(always)]
    unsafe fn activate(v: Self, act: Activation) -> Self {
        act.apply(v)
    }
}

/// Copies `n` values to a zeroed stack array (the partial load of the ISAs without masks).
#[inline(always)]
unsafe fn part<const N: usize>(p: *const f32, n: usize) -> [f32; N] {
    let mut a = [0.0f32; N];
    // SAFETY: the caller guarantees n <= N readable values at p.
    unsafe { core::ptr::copy_nonoverlapping(p, a.as_mut_ptr(), n) };
    a
}

/// The portable tier: `wide::f32x8` (the build's baseline instructions).
#[derive(Clone, Copy)]
pub(crate) struct Portable(wide::f32x8);

impl F32Vector for Portable {
    const N: usize = 8;
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self {
        Portable(wide::f32x8::splat(x))
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: the caller guarantees 8 readable f32; read_unaligned needs no alignment.
        Portable(wide::f32x8::from(unsafe { p.cast::<[f32; 8]>().read_unaligned() }))
    }
    #[inline(always)]
    unsafe fn load_part(p: *const f32, n: usize) -> Self {
        // SAFETY: forwarded contract.
        Portable(wide::f32x8::from(unsafe { part::<8>(p, n) }))
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: Self) {
        // SAFETY: the caller guarantees 8 writable f32.
        unsafe { p.cast::<[f32; 8]>().write_unaligned(v.0.to_array()) }
    }
    #[inline(always)]
    unsafe fn store_part(p: *mut f32, n: usize, v: Self) {
        // SAFETY: the caller guarantees n <= 8 writable f32.
        unsafe { core::ptr::copy_nonoverlapping(v.0.to_array().as_ptr(), p, n) }
    }
    #[inline(always)]
    unsafe fn madd(a: Self, b: Self, acc: Self) -> Self {
        Portable(a.0.mul_add(b.0, acc.0))
    }
    #[inline(always)]
    unsafe fn add(a: Self, b: Self) -> Self {
        Portable(a.0 + b.0)
    }
    #[inline(always)]
    unsafe fn mul(a: Self, b: Self) -> Self {
        Portable(a.0 * b.0)
    }
    #[inline(always)]
    unsafe fn max(a: Self, b: Self) -> Self {
        let nan = a.0.is_nan() | b.0.is_nan();
        Portable(nan.blend(a.0 + b.0, a.0.fast_max(b.0)))
    }
    #[inline(always)]
    unsafe fn hsum(v: Self) -> f32 {
        crate::simd::portable::hsum(v.0)
    }
    #[inline(always)]
    unsafe fn activate(v: Self, act: Activation) -> Self {
        if act == Activation::Identity {
            return v;
        }
        Portable(wide::f32x8::from(v.0.to_array().map(|x| act.apply(x))))
    }
}

#[cfg(target_arch = "x86_64")]
pub(crate) use x86::{Avx2, Avx512};

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::F32Vector;
    use crate::activation::Activation;
    use crate::simd::x86_64::{avx2_fma, avx512};
    use core::arch::x86_64::*;

    /// AVX-512F: 16 lanes, masked tails.
    #[derive(Clone, Copy)]
    pub(crate) struct Avx512(__m512);

    #[inline(always)]
    fn mask16(n: usize) -> __mmask16 {
        ((1u32 << n) - 1) as __mmask16
    }

    impl F32Vector for Avx512 {
        const N: usize = 16;
        const TWO_VECTOR_BLOCKS: bool = true;
        #[target_feature(enable = "avx512f")]
        #[inline]
        unsafe fn splat(x: f32) -> Self {
            Avx512(_mm512_set1_ps(x))
        }
        #[target_feature(enable = "avx512f")]
        #[inline]
        unsafe fn load(p: *const f32) -> Self {
            // SAFETY: the caller guarantees 16 readable f32 (loadu: any alignment).
            Avx512(unsafe { _mm512_loadu_ps(p) })
        }
        #[target_feature(enable = "avx512f")]
        #[inline]
        unsafe fn load_part(p: *const f32, n: usize) -> Self {
            // SAFETY: masked-off lanes are not read (no fault); the first n are readable.
            Avx512(unsafe { _mm512_maskz_loadu_ps(mask16(n), p) })
        }
        #[target_feature(enable = "avx512f")]
        #[inline]
        unsafe fn store(p: *mut f32, v: Self) {
            // SAFETY: the caller guarantees 16 writable f32.
            unsafe { _mm512_storeu_ps(p, v.0) }
        }
        #[target_feature(enable = "avx512f")]
        #[inline]
        unsafe fn store_part(p: *mut f32, n: usize, v: Self) {
            // SAFETY: only the first n (writable) lanes are written.
            unsafe { _mm512_mask_storeu_ps(p, mask16(n), v.0) }
        }
        #[target_feature(enable = "avx512f")]
        #[inline]
        unsafe fn madd(a: Self, b: Self, acc: Self) -> Self {
            Avx512(_mm512_fmadd_ps(a.0, b.0, acc.0))
        }
        #[target_feature(enable = "avx512f")]
        #[inline]
        unsafe fn add(a: Self, b: Self) -> Self {
            Avx512(_mm512_add_ps(a.0, b.0))
        }
        #[target_feature(enable = "avx512f")]
        #[inline]
        unsafe fn mul(a: Self, b: Self) -> Self {
            Avx512(_mm512_mul_ps(a.0, b.0))
        }
        #[target_feature(enable = "avx512f")]
        #[inline]
        unsafe fn max(a: Self, b: Self) -> Self {
            // maxps yields its second operand when either is NaN: a's NaN is put back.
            let a_nan = _mm512_cmp_ps_mask::<_CMP_UNORD_Q>(a.0, a.0);
            Avx512(_mm512_mask_mov_ps(_mm512_max_ps(a.0, b.0), a_nan, a.0))
        }
        #[target_feature(enable = "avx512f")]
        #[inline]
        unsafe fn hsum(v: Self) -> f32 {
            avx512::hsum(v.0)
        }
        #[target_feature(enable = "avx512f")]
        #[inline]
        unsafe fn activate(v: Self, act: Activation) -> Self {
            if act == Activation::Relu {
                // One instruction: maxps yields its second operand, v, when v is NaN.
                return Avx512(_mm512_max_ps(_mm512_setzero_ps(), v.0));
            }
            Avx512(avx512::activate(v.0, act))
        }
    }

    /// AVX2 + FMA: 8 lanes, `vmaskmovps` tails.
    #[derive(Clone, Copy)]
    pub(crate) struct Avx2(__m256);

    #[target_feature(enable = "avx2,fma")]
    #[inline]
    fn mask8(n: usize) -> __m256i {
        // Lane i is on (sign bit set) when i < n.
        _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))
    }

    impl F32Vector for Avx2 {
        const N: usize = 8;
        const TWO_VECTOR_BLOCKS: bool = true;
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        unsafe fn splat(x: f32) -> Self {
            Avx2(_mm256_set1_ps(x))
        }
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        unsafe fn load(p: *const f32) -> Self {
            // SAFETY: the caller guarantees 8 readable f32 (loadu: any alignment).
            Avx2(unsafe { _mm256_loadu_ps(p) })
        }
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        unsafe fn load_part(p: *const f32, n: usize) -> Self {
            // SAFETY: masked-off lanes are not read (no fault); the first n are readable.
            Avx2(unsafe { _mm256_maskload_ps(p, mask8(n)) })
        }
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        unsafe fn store(p: *mut f32, v: Self) {
            // SAFETY: the caller guarantees 8 writable f32.
            unsafe { _mm256_storeu_ps(p, v.0) }
        }
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        unsafe fn store_part(p: *mut f32, n: usize, v: Self) {
            // SAFETY: only the first n (writable) lanes are written.
            unsafe { _mm256_maskstore_ps(p, mask8(n), v.0) }
        }
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        unsafe fn madd(a: Self, b: Self, acc: Self) -> Self {
            Avx2(_mm256_fmadd_ps(a.0, b.0, acc.0))
        }
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        unsafe fn add(a: Self, b: Self) -> Self {
            Avx2(_mm256_add_ps(a.0, b.0))
        }
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        unsafe fn mul(a: Self, b: Self) -> Self {
            Avx2(_mm256_mul_ps(a.0, b.0))
        }
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        unsafe fn max(a: Self, b: Self) -> Self {
            // maxps yields its second operand when either is NaN: a's NaN is put back.
            let a_nan = _mm256_cmp_ps::<_CMP_UNORD_Q>(a.0, a.0);
            Avx2(_mm256_blendv_ps(_mm256_max_ps(a.0, b.0), a.0, a_nan))
        }
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        unsafe fn hsum(v: Self) -> f32 {
            avx2_fma::hsum(v.0)
        }
        #[target_feature(enable = "avx2,fma")]
        #[inline]
        unsafe fn activate(v: Self, act: Activation) -> Self {
            if act == Activation::Relu {
                // One instruction: maxps yields its second operand, v, when v is NaN.
                return Avx2(_mm256_max_ps(_mm256_setzero_ps(), v.0));
            }
            Avx2(avx2_fma::activate(v.0, act))
        }
    }
}

#[cfg(target_arch = "aarch64")]
pub(crate) use arm::Neon;

#[cfg(target_arch = "aarch64")]
mod arm {
    use super::{part, F32Vector};
    use crate::activation::Activation;
    use crate::simd::aarch64::neon;
    use core::arch::aarch64::*;

    /// NEON: 4 lanes, tails copied through a stack array (NEON has no masked loads).
    #[derive(Clone, Copy)]
    pub(crate) struct Neon(float32x4_t);

    impl F32Vector for Neon {
        const N: usize = 4;
        #[target_feature(enable = "neon")]
        #[inline]
        unsafe fn splat(x: f32) -> Self {
            Neon(vdupq_n_f32(x))
        }
        #[target_feature(enable = "neon")]
        #[inline]
        unsafe fn load(p: *const f32) -> Self {
            // SAFETY: the caller guarantees 4 readable f32.
            Neon(unsafe { neon::load(p) })
        }
        #[target_feature(enable = "neon")]
        #[inline]
        unsafe fn load_part(p: *const f32, n: usize) -> Self {
            // SAFETY: forwarded contract (n readable values).
            let a = unsafe { part::<4>(p, n) };
            // SAFETY: `a` holds 4 values.
            Neon(unsafe { neon::load(a.as_ptr()) })
        }
        #[target_feature(enable = "neon")]
        #[inline]
        unsafe fn store(p: *mut f32, v: Self) {
            // SAFETY: the caller guarantees 4 writable f32.
            unsafe { neon::store(p, v.0) }
        }
        #[target_feature(enable = "neon")]
        #[inline]
        unsafe fn store_part(p: *mut f32, n: usize, v: Self) {
            // SAFETY: the caller guarantees n < 4 writable f32 at p.
            unsafe { neon::store_partial(p, n, v.0) }
        }
        #[target_feature(enable = "neon")]
        #[inline]
        unsafe fn madd(a: Self, b: Self, acc: Self) -> Self {
            Neon(vfmaq_f32(acc.0, a.0, b.0))
        }
        #[target_feature(enable = "neon")]
        #[inline]
        unsafe fn add(a: Self, b: Self) -> Self {
            Neon(vaddq_f32(a.0, b.0))
        }
        #[target_feature(enable = "neon")]
        #[inline]
        unsafe fn mul(a: Self, b: Self) -> Self {
            Neon(vmulq_f32(a.0, b.0))
        }
        #[target_feature(enable = "neon")]
        #[inline]
        unsafe fn max(a: Self, b: Self) -> Self {
            Neon(vmaxq_f32(a.0, b.0))
        }
        #[target_feature(enable = "neon")]
        #[inline]
        unsafe fn hsum(v: Self) -> f32 {
            neon::hsum(v.0)
        }
        #[target_feature(enable = "neon")]
        #[inline]
        unsafe fn activate(v: Self, act: Activation) -> Self {
            Neon(neon::activate(v.0, act))
        }
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub(crate) use wasm::Wasm;

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm {
    use super::{part, F32Vector};
    use crate::activation::Activation;
    use crate::simd::wasm32::{self, MulAdd};
    use core::arch::wasm32::*;
    use core::marker::PhantomData;

    /// simd128: 4 lanes; `M` is the multiply-add (`MulThenAdd` or `RelaxedMadd`).
    pub(crate) struct Wasm<M>(v128, PhantomData<M>);

    impl<M> Clone for Wasm<M> {
        #[inline(always)]
        fn clone(&self) -> Self {
            *self
        }
    }
    impl<M> Copy for Wasm<M> {}

    #[inline(always)]
    fn w<M>(v: v128) -> Wasm<M> {
        Wasm(v, PhantomData)
    }

    impl<M: MulAdd> F32Vector for Wasm<M> {
        const N: usize = 4;
        #[inline(always)]
        unsafe fn splat(x: f32) -> Self {
            w(f32x4_splat(x))
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> Self {
            // SAFETY: the caller guarantees 4 readable f32.
            w(unsafe { wasm32::load(p) })
        }
        #[inline(always)]
        unsafe fn load_part(p: *const f32, n: usize) -> Self {
            // SAFETY: forwarded contract (n readable values).
            let a = unsafe { part::<4>(p, n) };
            w(f32x4(a[0], a[1], a[2], a[3]))
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: Self) {
            // SAFETY: the caller guarantees 4 writable f32.
            unsafe { wasm32::store(p, v.0) }
        }
        #[inline(always)]
        unsafe fn store_part(p: *mut f32, n: usize, v: Self) {
            let mut a = [0.0f32; 4];
            // SAFETY: `a` has room for 4 f32.
            unsafe { wasm32::store(a.as_mut_ptr(), v.0) };
            // SAFETY: the caller guarantees n <= 4 writable f32 at p.
            unsafe { core::ptr::copy_nonoverlapping(a.as_ptr(), p, n) }
        }
        #[inline(always)]
        unsafe fn madd(a: Self, b: Self, acc: Self) -> Self {
            w(M::madd(a.0, b.0, acc.0))
        }
        #[inline(always)]
        unsafe fn add(a: Self, b: Self) -> Self {
            w(f32x4_add(a.0, b.0))
        }
        #[inline(always)]
        unsafe fn mul(a: Self, b: Self) -> Self {
            w(f32x4_mul(a.0, b.0))
        }
        #[inline(always)]
        unsafe fn max(a: Self, b: Self) -> Self {
            w(f32x4_max(a.0, b.0)) // (NaN-propagating, unlike pmax)
        }
        #[inline(always)]
        unsafe fn hsum(v: Self) -> f32 {
            wasm32::hsum(v.0)
        }
        #[inline(always)]
        unsafe fn activate(v: Self, act: Activation) -> Self {
            w(wasm32::activate(v.0, act))
        }
    }
}

/// `fn $select(isa) -> Result<$fn_ty, KernelError>` for a function `$generic::<V>` that is
/// generic over [`F32Vector`]: one entry point per ISA, each compiled with its
/// `#[target_feature]` from the one generic source, and the entry point of `isa` (or
/// `IsaUnavailable` when this CPU or build lacks it). Calling the returned function is safe
/// when `$generic`'s own contract holds: `select` checked the ISA.
macro_rules! select_per_isa {
    ($(#[$attr:meta])* fn $select:ident -> $fn_ty:ty = $generic:ident($($arg:ident: $ty:ty),* $(,)?)) => {
        $(#[$attr])*
        fn $select(isa: $crate::isa::Isa) -> Result<$fn_ty, $crate::error::KernelError> {
            use $crate::isa::Isa;
            unsafe fn scalar($($arg: $ty),*) {
                // SAFETY: forwarded contract.
                unsafe { $generic::<f32>($($arg),*) }
            }
            unsafe fn portable($($arg: $ty),*) {
                // SAFETY: forwarded contract.
                unsafe { $generic::<$crate::simd::vector::Portable>($($arg),*) }
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2($($arg: $ty),*) {
                // SAFETY: forwarded contract (the caller checked AVX2 + FMA).
                unsafe { $generic::<$crate::simd::vector::Avx2>($($arg),*) }
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f")]
            unsafe fn avx512($($arg: $ty),*) {
                // SAFETY: forwarded contract (the caller checked AVX-512F).
                unsafe { $generic::<$crate::simd::vector::Avx512>($($arg),*) }
            }
            #[cfg(target_arch = "aarch64")]
            #[target_feature(enable = "neon")]
            unsafe fn neon($($arg: $ty),*) {
                // SAFETY: forwarded contract (the caller checked NEON).
                unsafe { $generic::<$crate::simd::vector::Neon>($($arg),*) }
            }
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            unsafe fn simd128($($arg: $ty),*) {
                use $crate::simd::{vector::Wasm, wasm32::MulThenAdd};
                // SAFETY: forwarded contract (simd128 is part of the build).
                unsafe { $generic::<Wasm<MulThenAdd>>($($arg),*) }
            }
            #[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
            unsafe fn relaxed($($arg: $ty),*) {
                use $crate::simd::{vector::Wasm, wasm32::RelaxedMadd};
                // SAFETY: forwarded contract (relaxed-simd is part of the build).
                unsafe { $generic::<Wasm<RelaxedMadd>>($($arg),*) }
            }
            isa.require()?;
            Ok(match isa {
                Isa::Scalar => scalar as $fn_ty,
                Isa::Portable => portable,
                #[cfg(target_arch = "x86_64")]
                Isa::Avx2 => avx2,
                #[cfg(target_arch = "x86_64")]
                Isa::Avx512 => avx512,
                #[cfg(target_arch = "aarch64")]
                Isa::Neon => neon,
                #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
                Isa::WasmSimd128 => simd128,
                #[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
                Isa::WasmRelaxed => relaxed,
                #[allow(unreachable_patterns)]
                _ => return Err($crate::error::KernelError::IsaUnavailable { isa: isa.name() }),
            })
        }
    };
}
pub(crate) use select_per_isa;
