//! wasm32 microkernels: simd128 (`f32x4.mul` + `f32x4.add`) and relaxed-simd
//! (`f32x4.relaxed_madd`, a real FMA in V8 on x86 hosts with FMA).
//!
//! wasm has no run-time feature detection inside a module: which of these exist is fixed by
//! the build's target features (`+simd128`, `+simd128,+relaxed-simd`), and JavaScript picks the
//! build (see docs/wasm.md). Both kernels share one generic tile body ([`tile`]); they differ
//! only in the multiply-add ([`MulAdd`]).
//!
//! Register budget: V8 on x86-64 gives wasm the 16 XMM registers minus one scratch. A `M x 8`
//! tile needs `2M` accumulators + 2 B vectors + 1 broadcast A (+ 1 product temporary for the
//! unfused mul+add): 6x8 (12 accumulators, 15 registers) for relaxed-simd, 5x8 (10
//! accumulators, 14 registers) for simd128. Both only fit when each broadcast is consumed as
//! soon as it is loaded, which LLVM's default wasm scheduling does not do (it hoists every
//! broadcast of a k step first): the builds pass `-C llvm-args=-pre-RA-sched=source`.
//! Measured tile candidates are in docs/wasm.md.

#[cfg(target_feature = "simd128")]
use super::dot::dot_rows;
#[cfg(target_feature = "simd128")]
use crate::ops::gemm::ukernel::variant::INDIRECT;
#[cfg(target_feature = "simd128")]
use crate::ops::gemm::ukernel::{Dot, Tile};
#[cfg(target_feature = "simd128")]
use crate::simd::vector::Wasm;
#[cfg(target_feature = "simd128")]
use crate::simd::wasm32::{activate, activate_piecewise, load, store, MulAdd};
#[cfg(target_feature = "simd128")]
use core::arch::wasm32::*;

#[cfg(target_feature = "simd128")]
pub(crate) mod sgemm_5x8_wasm_simd128;
#[cfg(target_feature = "relaxed-simd")]
pub(crate) mod sgemm_6x8_wasm_relaxed;

/// The `M x (4*NV)` tile body shared by both wasm kernels:
/// `C[0..M, 0..4NV] = act(alpha*A*B + beta*C + bias)`. `VARIANT`: [`GENERAL`](crate::ops::gemm::ukernel::variant::GENERAL) (A packed or in
/// place through `a`, `rsa`, `csa`) or [`INDIRECT`] (A through the row pointers
/// `Tile::a_rows`, run by run; always the full width, as the general tiles).
///
/// `U` independent accumulator sets cover consecutive k steps (summed at the end): with few
/// rows (`M = 1, 2`, the GEMV-like tiles) one set alone is a chain of dependent adds, so the
/// narrow tiles use `U > 1` to keep ~8 multiply-adds in flight.
///
/// # Safety
/// The `Tile` contract for an `M x 4NV` tile (see `ops::gemm::ukernel::Tile`).
#[cfg(target_feature = "simd128")]
#[inline(always)]
pub(crate) unsafe fn tile<F: MulAdd, const M: usize, const NV: usize, const U: usize, const VARIANT: u8>(t: &Tile) {
    let zero = f32x4_splat(0.0);
    let mut acc = [[[zero; NV]; M]; U];
    let mut b = t.b;
    if VARIANT == INDIRECT {
        for r in 0..t.runs {
            // SAFETY: run r has run_len[r] steps and M row pointers, each to that many readable
            // values (the `Tile::a_rows` contract); B holds 4*NV values per k step. Each A
            // broadcast is consumed right after its load (the register budget above).
            unsafe {
                let rows: [*const f32; M] = core::array::from_fn(|i| *t.a_rows.add(r * M + i));
                let len = *t.run_len.add(r);
                let mut c = 0;
                while c + U <= len {
                    for (s, set) in acc.iter_mut().enumerate() {
                        let mut bv = [zero; NV];
                        for (j, v) in bv.iter_mut().enumerate() {
                            *v = load(b.add(4 * j));
                        }
                        // Indexed loops, not `zip`: without LTO (a dependent's default
                        // release build) `Zip::new` stayed a call per k step (20x slower).
                        for (i, row) in set.iter_mut().enumerate() {
                            let ai = v128_load32_splat(rows[i].add(c + s).cast::<u32>());
                            for (j, r) in row.iter_mut().enumerate() {
                                *r = F::madd(ai, bv[j], *r);
                            }
                        }
                        b = b.wrapping_offset(t.ldb);
                    }
                    c += U;
                }
                for c in c..len {
                    for (i, row) in acc[0].iter_mut().enumerate() {
                        let ai = v128_load32_splat(rows[i].add(c).cast::<u32>());
                        for (j, r) in row.iter_mut().enumerate() {
                            *r = F::madd(ai, load(b.add(4 * j)), *r);
                        }
                    }
                    b = b.wrapping_offset(t.ldb);
                }
            }
        }
    } else {
        let mut a = t.a;
        let mut k = t.k;
        while k >= U {
            for set in acc.iter_mut() {
                // SAFETY: k step inside the tile: packed A holds M values, B holds 4*NV values.
                unsafe {
                    let mut bv = [zero; NV];
                    for (j, v) in bv.iter_mut().enumerate() {
                        *v = load(b.add(4 * j));
                    }
                    for (i, row) in set.iter_mut().enumerate() {
                        let ai = v128_load32_splat(a.offset(i as isize * t.rsa).cast::<u32>());
                        for (j, r) in row.iter_mut().enumerate() {
                            *r = F::madd(ai, bv[j], *r);
                        }
                    }
                    // Wrapping: past the last k step these point beyond the operands (never
                    // read), which with extreme strides may not even be an address.
                    a = a.wrapping_offset(t.csa);
                    b = b.wrapping_offset(t.ldb);
                }
            }
            k -= U;
        }
        for _ in 0..k {
            // SAFETY: as above, for the remaining (< U) k steps.
            unsafe {
                for (i, row) in acc[0].iter_mut().enumerate() {
                    let ai = v128_load32_splat(a.offset(i as isize * t.rsa).cast::<u32>());
                    for (j, r) in row.iter_mut().enumerate() {
                        *r = F::madd(ai, load(b.add(4 * j)), *r);
                    }
                }
                // Wrapping: past the last k step these point beyond the operands (never read),
                // which with extreme strides may not even be an address.
                a = a.wrapping_offset(t.csa);
                b = b.wrapping_offset(t.ldb);
            }
        }
    }
    let (first, rest) = acc.split_at_mut(1);
    let sum = &mut first[0];
    for set in rest.iter() {
        for (i, srow) in sum.iter_mut().enumerate() {
            for (j, s) in srow.iter_mut().enumerate() {
                *s = f32x4_add(*s, set[i][j]);
            }
        }
    }
    let alpha = f32x4_splat(t.alpha);
    let beta = f32x4_splat(t.beta);
    for (i, row) in sum.iter().enumerate() {
        for (j, &v) in row.iter().enumerate() {
            // SAFETY: row i < M of the tile holds 4*NV contiguous values; bias (if not null)
            // holds 4*NV values.
            unsafe {
                let c = t.c.offset(i as isize * t.rsc).add(4 * j);
                let mut v = f32x4_mul(v, alpha);
                if t.beta != 0.0 {
                    v = F::madd(load(c), beta, v);
                }
                if !t.bias.is_null() {
                    v = f32x4_add(v, load(t.bias.add(4 * j)));
                }
                store(c, activate_piecewise(v, t.act));
            }
        }
    }
    if !t.act.is_piecewise_linear() {
        // GELU / SiLU over the stored tile: their code is a call in wasm, which would force
        // V8 to spill every accumulator still live in the loop above.
        for i in 0..M {
            for j in 0..NV {
                // SAFETY: as above.
                unsafe {
                    let c = t.c.offset(i as isize * t.rsc).add(4 * j);
                    store(c, activate(load(c), t.act));
                }
            }
        }
    }
}

/// Whole-row GEMV (`ukernel::GemvRowsFn`) with multiply-add `F`: the shared
/// [`gemv_rows`](super::gemv_rows::gemv_rows), chunks of 8 `v128` (32 columns), the row loop
/// kept. wasm has no prefetch instruction, and strips wait on memory at every row (1x3072x768
/// in Chromium: 15 GFLOP/s in strips).
///
/// # Safety
/// The shared function's contract (simd128 is part of the build).
#[cfg(target_feature = "simd128")]
pub(crate) unsafe fn gemv_rows<F: MulAdd>(
    k: usize,
    n: usize,
    a: *const f32,
    csa: isize,
    b: *const f32,
    ldb: isize,
    acc: *mut f32,
) {
    // SAFETY: forwarded contract.
    unsafe { super::gemv_rows::gemv_rows::<Wasm<F>, 8, false>(k, n, a, csa, b, ldb, acc) }
}

/// Dot-product GEMV against `N` columns (`ukernel::GemvDotFn`) with multiply-add `F`: 4 rows x
/// N `v128` accumulators, `U` sets (2 for N = 1: 8 multiply-adds in flight; 1 for N = 2, 3,
/// whose 8-12 accumulators already cover the latency and 12 + 3 + 1 live vectors fill the 15
/// registers V8 leaves).
///
/// # Safety
/// The `Dot` contract.
#[cfg(target_feature = "simd128")]
#[inline(always)]
pub(crate) unsafe fn dot<F: MulAdd, const N: usize, const U: usize>(d: &Dot) {
    // SAFETY: forwarded contract; simd128 is enabled for the whole build.
    unsafe { dot_rows::<Wasm<F>, N, U>(d) }
}
