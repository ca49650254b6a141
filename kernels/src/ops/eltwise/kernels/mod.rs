//! The element-wise and row kernels of every ISA, written once (`eltwise_kernels!`) over the
//! primitives of `simd/<arch>` and expanded per ISA with its `#[target_feature]`, so each
//! ISA gets its own compiled, inlined copy: AVX-512F (masked tails), AVX2+FMA, NEON, wasm
//! simd128 (both wasm ISAs: the kernels use no relaxed instruction), portable (`wide`) and
//! scalar.
//!
//! Every kernel processes one contiguous run of `n` values: full vectors (two per step),
//! then one partial frame for the remainder (`load_partial` / `store_partial`: a masked
//! load/store on AVX-512, a stack buffer elsewhere), so nothing outside `[p, p + n)` is read
//! or written.

use crate::isa::Isa;
use crate::ops::eltwise::{Binary, Unary};

/// One ISA's kernels. The contract of every function: `x` (and `y` for `binary`) readable for
/// `n` values, the output writable for `n` values, the output either equal to `x` (in place)
/// or disjoint from every input; `gamma`/`beta` readable for `n` values.
pub(crate) struct EltKernels {
    pub(crate) unary: unsafe fn(Unary, *const f32, *mut f32, usize),
    pub(crate) binary: unsafe fn(Binary, *const f32, *const f32, *mut f32, usize),
    pub(crate) softmax: unsafe fn(*const f32, *mut f32, usize),
    pub(crate) log_softmax: unsafe fn(*const f32, *mut f32, usize),
    pub(crate) layer_norm: unsafe fn(*const f32, *mut f32, usize, *const f32, *const f32, f32),
    pub(crate) rms_norm: unsafe fn(*const f32, *mut f32, usize, *const f32, f32),
}

/// `y[i] = body(x[i])` over `n` values, two vectors per step, one partial frame at the end.
macro_rules! map_lanes {
    ($x:expr, $y:expr, $n:expr, |$v:ident| $body:expr) => {{
        let (x, y, n): (*const f32, *mut f32, usize) = ($x, $y, $n);
        let mut i = 0;
        while i + 2 * L <= n {
            // SAFETY: i + 2L <= n: both vectors lie inside x and y (the kernel's contract);
            // in place, each vector is loaded before its own store.
            unsafe {
                let $v = load(x.add(i));
                let a = $body;
                let $v = load(x.add(i + L));
                let b = $body;
                store(y.add(i), a);
                store(y.add(i + L), b);
            }
            i += 2 * L;
        }
        if i + L <= n {
            // SAFETY: i + L <= n.
            unsafe {
                let $v = load(x.add(i));
                store(y.add(i), $body);
            }
            i += L;
        }
        if i < n {
            // SAFETY: the n - i < L values left are inside x and y; partial loads/stores touch
            // nothing else.
            unsafe {
                let $v = load_partial(x.add(i), n - i, 0.0);
                store_partial(y.add(i), n - i, $body);
            }
        }
    }};
}

/// `z[i] = body(x[i], y[i])`.
macro_rules! map2_lanes {
    ($x:expr, $y:expr, $z:expr, $n:expr, |$a:ident, $b:ident| $body:expr) => {{
        let (x, y, z, n): (*const f32, *const f32, *mut f32, usize) = ($x, $y, $z, $n);
        let mut i = 0;
        while i + L <= n {
            // SAFETY: i + L <= n: inside x, y and z (the kernel's contract).
            unsafe {
                let ($a, $b) = (load(x.add(i)), load(y.add(i)));
                store(z.add(i), $body);
            }
            i += L;
        }
        if i < n {
            // SAFETY: the n - i < L values left; partial loads/stores touch nothing else.
            unsafe {
                let ($a, $b) = (load_partial(x.add(i), n - i, 0.0), load_partial(y.add(i), n - i, 0.0));
                store_partial(z.add(i), n - i, $body);
            }
        }
    }};
}

/// `acc = body(acc, v)` over the `n` values at `x` into two vector accumulators (a partial
/// frame filled with `fill` at the end, which must leave `acc` unchanged), combined with
/// `combine`.
macro_rules! reduce_lanes {
    ($x:expr, $n:expr, $init:expr, $fill:expr, $combine:ident, |$acc:ident, $v:ident| $body:expr) => {{
        let (x, n): (*const f32, usize) = ($x, $n);
        let (mut acc0, mut acc1) = ($init, $init);
        let mut i = 0;
        while i + 2 * L <= n {
            // SAFETY: i + 2L <= n: inside x.
            unsafe {
                let ($acc, $v) = (acc0, load(x.add(i)));
                acc0 = $body;
                let ($acc, $v) = (acc1, load(x.add(i + L)));
                acc1 = $body;
            }
            i += 2 * L;
        }
        if i + L <= n {
            // SAFETY: i + L <= n.
            let ($acc, $v) = (acc0, unsafe { load(x.add(i)) });
            acc0 = $body;
            i += L;
        }
        if i < n {
            // SAFETY: the n - i < L values left.
            let ($acc, $v) = (acc1, unsafe { load_partial(x.add(i), n - i, $fill) });
            acc1 = $body;
        }
        $combine(acc0, acc1)
    }};
}

/// Expands one ISA's kernels (and its `KERNELS` table) in a module that glob-imports the
/// ISA's `simd` primitives; the attributes go on every function.
macro_rules! eltwise_kernels {
    ($(#[$attr:meta])*) => {
        use $crate::ops::eltwise::kernels::EltKernels;
        use $crate::ops::eltwise::{Binary, Unary};

        /// # Safety
        /// `EltKernels`' contract.
        $(#[$attr])*
        unsafe fn unary(op: Unary, x: *const f32, y: *mut f32, n: usize) {
            match op {
                Unary::Identity => map_lanes!(x, y, n, |v| v),
                Unary::Relu => map_lanes!(x, y, n, |v| clamp(v, splat(0.0), splat(f32::INFINITY))),
                Unary::Clamp { min, max } => map_lanes!(x, y, n, |v| clamp(v, splat(min), splat(max))),
                Unary::Gelu => map_lanes!(x, y, n, |v| gelu_tanh(v)),
                Unary::GeluErf => map_lanes!(x, y, n, |v| gelu_erf(v)),
                Unary::Silu => map_lanes!(x, y, n, |v| silu(v)),
                Unary::Sigmoid => map_lanes!(x, y, n, |v| sigmoid(v)),
                Unary::Tanh => map_lanes!(x, y, n, |v| tanh(v)),
                Unary::Exp => map_lanes!(x, y, n, |v| exp(v)),
            }
        }

        /// # Safety
        /// `EltKernels`' contract.
        $(#[$attr])*
        unsafe fn binary(op: Binary, x: *const f32, y: *const f32, z: *mut f32, n: usize) {
            match op {
                Binary::Add => map2_lanes!(x, y, z, n, |a, b| add(a, b)),
                Binary::Mul => map2_lanes!(x, y, z, n, |a, b| mul(a, b)),
            }
        }

        /// The row maximum (NaN may or may not be returned: NaN then reaches the output
        /// through `exp(x - max)` anyway).
        ///
        /// # Safety
        /// `x` readable for `n > 0` values.
        $(#[$attr])*
        unsafe fn row_max(x: *const f32, n: usize) -> f32 {
            let m = reduce_lanes!(x, n, splat(f32::NEG_INFINITY), f32::NEG_INFINITY, max, |acc, v| max(acc, v));
            hmax(m)
        }

        /// # Safety
        /// `EltKernels`' contract.
        $(#[$attr])*
        unsafe fn softmax(x: *const f32, y: *mut f32, n: usize) {
            if n == 0 {
                return;
            }
            // SAFETY: forwarded.
            let mx = splat(unsafe { row_max(x, n) });
            // y = e^(x - max) and its sum (tail lanes: e^(-inf - max) = 0, or NaN only
            // when the row's result is NaN anyway).
            let mut sum = splat(0.0);
            let mut sum2 = splat(0.0);
            let mut i = 0;
            // Two vectors per step: two independent exp chains and sums in flight.
            while i + 2 * L <= n {
                // SAFETY: i + 2L <= n.
                unsafe {
                    let e = exp_le0(sub(load(x.add(i)), mx));
                    let e2 = exp_le0(sub(load(x.add(i + L)), mx));
                    store(y.add(i), e);
                    store(y.add(i + L), e2);
                    sum = add(sum, e);
                    sum2 = add(sum2, e2);
                }
                i += 2 * L;
            }
            let mut sum = add(sum, sum2);
            while i + L <= n {
                // SAFETY: i + L <= n.
                unsafe {
                    let e = exp_le0(sub(load(x.add(i)), mx));
                    store(y.add(i), e);
                    sum = add(sum, e);
                }
                i += L;
            }
            if i < n {
                // SAFETY: the n - i < L values left.
                unsafe {
                    let e = exp_le0(sub(load_partial(x.add(i), n - i, f32::NEG_INFINITY), mx));
                    store_partial(y.add(i), n - i, e);
                    sum = add(sum, e);
                }
            }
            let inv = splat(1.0 / hsum(sum));
            map_lanes!(y, y, n, |v| mul(v, inv));
        }

        /// # Safety
        /// `EltKernels`' contract.
        $(#[$attr])*
        unsafe fn log_softmax(x: *const f32, y: *mut f32, n: usize) {
            if n == 0 {
                return;
            }
            // SAFETY: forwarded.
            let m = unsafe { row_max(x, n) };
            let mx = splat(m);
            let s = reduce_lanes!(x, n, splat(0.0), f32::NEG_INFINITY, add, |acc, v| add(acc, exp_le0(sub(v, mx))));
            let lse = splat(hsum(s).ln());
            map_lanes!(x, y, n, |v| sub(sub(v, mx), lse));
        }

        /// # Safety
        /// `EltKernels`' contract.
        $(#[$attr])*
        unsafe fn layer_norm(x: *const f32, y: *mut f32, n: usize, gamma: *const f32, beta: *const f32, eps: f32) {
            if n == 0 {
                return;
            }
            let s = reduce_lanes!(x, n, splat(0.0), 0.0, add, |acc, v| add(acc, v));
            let mean = hsum(s) / n as f32;
            let vm = splat(mean);
            // Two passes: the variance of x - mean (tail lanes filled with the mean add 0).
            let q = reduce_lanes!(x, n, splat(0.0), mean, add, |acc, v| {
                let d = sub(v, vm);
                fma(d, d, acc)
            });
            let rstd = splat(1.0 / (hsum(q) / n as f32 + eps).sqrt());
            let mut i = 0;
            while i + L <= n {
                // SAFETY: i + L <= n: inside x, y, gamma, beta.
                unsafe {
                    let d = mul(sub(load(x.add(i)), vm), rstd);
                    store(y.add(i), fma(d, load(gamma.add(i)), load(beta.add(i))));
                }
                i += L;
            }
            if i < n {
                // SAFETY: the n - i < L values left.
                unsafe {
                    let d = mul(sub(load_partial(x.add(i), n - i, 0.0), vm), rstd);
                    let g = load_partial(gamma.add(i), n - i, 0.0);
                    store_partial(y.add(i), n - i, fma(d, g, load_partial(beta.add(i), n - i, 0.0)));
                }
            }
        }

        /// # Safety
        /// `EltKernels`' contract.
        $(#[$attr])*
        unsafe fn rms_norm(x: *const f32, y: *mut f32, n: usize, gamma: *const f32, eps: f32) {
            if n == 0 {
                return;
            }
            let q = reduce_lanes!(x, n, splat(0.0), 0.0, add, |acc, v| fma(v, v, acc));
            let rstd = splat(1.0 / (hsum(q) / n as f32 + eps).sqrt());
            map2_lanes!(x, gamma, y, n, |v, g| mul(mul(v, rstd), g));
        }

        pub(crate) static KERNELS: EltKernels =
            EltKernels { unary, binary, softmax, log_softmax, layer_norm, rms_norm };
    };
}

#[cfg(target_arch = "aarch64")]
pub(crate) mod aarch64;
pub(crate) mod portable;
pub(crate) mod scalar;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub(crate) mod wasm32;
#[cfg(target_arch = "x86_64")]
pub(crate) mod x86_64;

/// The kernels of `isa` (which the caller has checked is available).
pub(crate) fn for_isa(isa: Isa) -> &'static EltKernels {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => &x86_64::avx512::KERNELS,
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2 => &x86_64::avx2_fma::KERNELS,
        #[cfg(target_arch = "aarch64")]
        Isa::Neon => &aarch64::neon::KERNELS,
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        Isa::WasmSimd128 | Isa::WasmRelaxed => &wasm32::simd128::KERNELS,
        Isa::Portable => &portable::KERNELS,
        _ => &scalar::KERNELS,
    }
}
