//! Depthwise convolution (groups == C_in == C_out), vectorised over channels: NHWC keeps a
//! pixel's channels contiguous, so one vector holds the same tap of `N` channels and each tap
//! is one multiply-add per vector, with no reduction across lanes.
//!
//! The filter is packed once as `[KH][KW][C]`. Each output row is cut into its interior
//! pixels (every tap inside the input: no bounds checks, four pixels at a time so four
//! independent accumulator chains hide the multiply-add latency) and its border pixels (the
//! tap ranges clipped to the input, one pixel at a time). The interior loop is instantiated
//! for 3x3 and 5x5 at stride 1 and 2 (constant trip counts, unrolled), and once for any size,
//! stride and dilation. The last channel block is a masked (AVX-512, AVX2) or copied (NEON,
//! wasm, portable) partial vector. Bias, residual and activation are applied in registers before
//! the one store. Rows of the output are split across rayon threads when the `Gemm`'s
//! `Parallelism` allows.
//!
//! Every loop is written once, generic over [`F32Vector`], and instantiated per ISA by a
//! `#[target_feature]` entry point (`rows_avx512`, `rows_avx2`, ...).

use super::{Conv2dGeometry, Conv2dParams, FilterLayout};
use crate::activation::Activation;
use crate::buffer::{try_collect, try_filled, try_to_vec};
use crate::error::KernelError;
use crate::isa::Isa;
use crate::simd::vector::{load_n, select_per_isa, store_n, F32Vector};

/// The packed weights of a depthwise convolution and the ISA it runs on.
pub(crate) struct DepthwiseFilter {
    /// `[KH][KW][C]`.
    pub(crate) taps: Vec<f32>,
    /// `C` values (zeros without a bias).
    pub(crate) bias: Vec<f32>,
    rows: RowFn,
}

impl DepthwiseFilter {
    /// Packs a depthwise filter (`params.groups == in == out channels`, validated by the
    /// caller along with the lengths) for `isa` (an error when unavailable).
    pub(crate) fn new(
        isa: Isa,
        params: &Conv2dParams,
        filter: &[f32],
        layout: FilterLayout,
        bias: Option<&[f32]>,
    ) -> Result<Self, KernelError> {
        let rows = select(isa)?;
        let c = params.out_channels;
        let (kh, kw) = params.kernel;
        let taps = match layout {
            // [C][1][KH][KW] -> [KH][KW][C].
            FilterLayout::Oihw => {
                let mut t = try_filled("depthwise filter", filter.len(), 0.0f32)?;
                for ch in 0..c {
                    for tap in 0..kh * kw {
                        t[tap * c + ch] = filter[ch * kh * kw + tap];
                    }
                }
                t
            }
            // [KH][KW][1][C] is already [KH][KW][C].
            FilterLayout::Hwio => try_to_vec("depthwise filter", filter)?,
        };
        let bias = match bias {
            Some(b) => try_to_vec("bias", b)?,
            None => try_filled("bias", c, 0.0)?,
        };
        Ok(DepthwiseFilter { taps, bias, rows })
    }

    /// Runs on validated operands (`input`, `output`, `residual` of the geometry's lengths)
    /// with up to `threads` threads. `AllocationFailed` (before anything is written) when its
    /// column table cannot be allocated.
    pub(crate) fn run(
        &self,
        g: &Conv2dGeometry,
        input: &[f32],
        residual: Option<&[f32]>,
        act: Activation,
        output: &mut [f32],
        threads: usize,
    ) -> Result<(), KernelError> {
        // A kernel axis of size 1 never steps by its dilation: make it 1, so that the interior
        // loop's `dilation * row size` step (formed even when only tap 0 is used) cannot
        // overflow for a huge dilation. (Found by the api_no_panic fuzz target.)
        let mut g = *g;
        if g.kernel.0 == 1 {
            g.dilation.0 = 1;
        }
        if g.kernel.1 == 1 {
            g.dilation.1 = 1;
        }
        let g = &g;
        let (_, kw) = g.kernel;
        let xr = try_collect(
            "depthwise column table",
            (0..g.out_w).map(|ox| tap_range(ox * g.stride.1, g.dilation.1, g.pad_left, g.in_w, kw)),
        )?;
        let ox_lo = xr.iter().position(|&r| r == (0, kw)).unwrap_or(g.out_w);
        let ox_hi = xr.iter().rposition(|&r| r == (0, kw)).map_or(ox_lo, |i| i + 1);
        let fast = match (g.kernel, g.stride.1, g.dilation) {
            ((3, 3), 1, (1, 1)) => Fast::K3S1,
            ((3, 3), 2, (1, 1)) => Fast::K3S2,
            ((5, 5), 1, (1, 1)) => Fast::K5S1,
            ((5, 5), 2, (1, 1)) => Fast::K5S2,
            _ => Fast::Any,
        };
        let job = Job { g: *g, input, taps: &self.taps, bias: &self.bias, residual, act, xr, ox_lo, ox_hi, fast };
        let f = self.rows;
        super::for_row_blocks(output, g.out_w * g.out_c, threads, |first, block| {
            // SAFETY: `f` was selected for an ISA that `select` checked; `block` holds whole
            // rows starting at row `first`; `job`'s slices have the geometry's lengths (checked
            // by Conv2d) and its tables were built for it.
            unsafe { f(&job, first, block) }
        });
        Ok(())
    }
}

/// Which interior loop a geometry gets.
#[derive(Clone, Copy)]
enum Fast {
    K3S1,
    K3S2,
    K5S1,
    K5S2,
    Any,
}

/// One call's operands and precomputed column tap ranges.
struct Job<'a> {
    g: Conv2dGeometry,
    input: &'a [f32],
    taps: &'a [f32],
    bias: &'a [f32],
    residual: Option<&'a [f32]>,
    act: Activation,
    /// Per output column: the taps `kx0..kx1` that fall inside the input.
    xr: Vec<(usize, usize)>,
    /// Output columns `ox_lo..ox_hi` have every tap inside the input (horizontally).
    ox_lo: usize,
    ox_hi: usize,
    fast: Fast,
}

/// Taps `k0..k1` (of `k`) of the output at `base = o * stride` that land inside an input of
/// `size` after `pad` zeros: `pad <= base + t * dil < pad + size`. Empty when `k0 >= k1`.
#[inline]
pub(crate) fn tap_range(base: usize, dil: usize, pad: usize, size: usize, k: usize) -> (usize, usize) {
    let k0 = if base >= pad { 0 } else { (pad - base).div_ceil(dil) };
    let k1 = if base >= pad + size { 0 } else { k.min((pad + size - base).div_ceil(dil)) };
    (k0.min(k), k1.max(k0.min(k)))
}

/// Computes whole output rows `first..first + out.len() / row_len` (row = image * out_h + oy).
///
/// # Safety
/// The ISA of the instantiation is available; the job's slices have the geometry's lengths
/// and `out` holds whole rows that exist.
type RowFn = unsafe fn(&Job<'_>, usize, &mut [f32]);

select_per_isa! {
    /// The entry point of `isa`, or why it cannot run.
    fn select -> RowFn = rows(job: &Job<'_>, first: usize, out: &mut [f32])
}

/// See [`RowFn`].
#[inline(always)]
unsafe fn rows<V: F32Vector>(job: &Job<'_>, first: usize, out: &mut [f32]) {
    let g = &job.g;
    let c = g.out_c;
    let row_len = g.out_w * c;
    let (kh, _) = g.kernel;
    for (i, out_row) in out.chunks_exact_mut(row_len).enumerate() {
        let r = first + i;
        let (n, oy) = (r / g.out_h, r % g.out_h);
        let img = job.input[n * g.in_h * g.in_w * c..].as_ptr();
        let dst = out_row.as_mut_ptr();
        let res = job.residual.map(|res| res[r * row_len..].as_ptr());
        let (ky0, ky1) = tap_range(oy * g.stride.0, g.dilation.0, g.pad_top, g.in_h, kh);
        let mut ox = 0;
        while ox < g.out_w {
            if ky0 == 0 && ky1 == kh && ox == job.ox_lo && job.ox_lo < job.ox_hi {
                // SAFETY: rows oy*sh - pt + ky*dh and columns ox*sw - pl + kx*dw are inside
                // the image for every tap and every ox in ox_lo..ox_hi.
                unsafe {
                    let src = img.add(((oy * g.stride.0 - g.pad_top) * g.in_w + ox * g.stride.1 - g.pad_left) * c);
                    match job.fast {
                        Fast::K3S1 => interior::<V, 3, 1>(job, src, dst, res, ox),
                        Fast::K3S2 => interior::<V, 3, 2>(job, src, dst, res, ox),
                        Fast::K5S1 => interior::<V, 5, 1>(job, src, dst, res, ox),
                        Fast::K5S2 => interior::<V, 5, 2>(job, src, dst, res, ox),
                        Fast::Any => interior::<V, 0, 0>(job, src, dst, res, ox),
                    }
                }
                ox = job.ox_hi;
                continue;
            }
            // SAFETY: the tap ranges keep every read inside the image.
            unsafe { border::<V>(job, img, dst, res, oy, ox, (ky0, ky1)) };
            ox += 1;
        }
    }
}

/// Output columns `ox_lo..ox_hi` of one row whose taps are all inside the input. `src` is
/// the input at tap (0, 0) of column `ox_lo`, `dst` and `res` the output and residual rows.
/// `K` and `S` fix the kernel size and stride (dilation 1) when non-zero.
///
/// # Safety
/// As [`RowFn`], with the interior established by the caller.
#[inline(always)]
unsafe fn interior<V: F32Vector, const K: usize, const S: usize>(
    job: &Job<'_>,
    src: *const f32,
    dst: *mut f32,
    res: Option<*const f32>,
    ox_lo: usize,
) {
    let g = &job.g;
    let c = g.out_c;
    // The input step between interior pixels. With two or more interior columns the stride is
    // below the image width, so `stride * C` fits (the input holds `in_w * C` values); with one
    // it is never applied to an address that is read (`p * sx` with p = 0, and the step after
    // the last pixel is a wrapping add), but a huge stride overflowed the multiplication: a
    // panic in debug builds. Found by the api_no_panic fuzz target (kernels/tests/depthwise.rs).
    let sx = if S > 0 { S } else { g.stride.1 }.wrapping_mul(c);
    let mut ox = ox_lo;
    let mut src = src;
    while ox + 4 <= job.ox_hi {
        // SAFETY: four interior pixels.
        unsafe { pixels::<V, K, 4>(job, src, sx, dst.add(ox * c), res.map(|r| r.add(ox * c))) };
        src = src.wrapping_add(4 * sx);
        ox += 4;
    }
    while ox < job.ox_hi {
        // SAFETY: one interior pixel.
        unsafe { pixels::<V, K, 1>(job, src, sx, dst.add(ox * c), res.map(|r| r.add(ox * c))) };
        src = src.wrapping_add(sx);
        ox += 1;
    }
}

/// `P` interior pixels, `sx` apart in the input, one channel block at a time.
#[inline(always)]
unsafe fn pixels<V: F32Vector, const K: usize, const P: usize>(
    job: &Job<'_>,
    src: *const f32,
    sx: usize,
    dst: *mut f32,
    res: Option<*const f32>,
) {
    let g = &job.g;
    let c = g.out_c;
    let (kh, kw) = if K > 0 { (K, K) } else { g.kernel };
    let (dy, dx) = if K > 0 { (g.in_w * c, c) } else { (g.dilation.0 * g.in_w * c, g.dilation.1 * c) };
    let w = job.taps.as_ptr();
    let bias = job.bias.as_ptr();
    let mut cb = 0;
    // SAFETY: (whole body) every input address is a tap inside the image (the caller's
    // interior), weights and bias are read below C, outputs/residuals are this row's pixels;
    // full blocks read N channels below C, the tail n = C - cb < N.
    unsafe {
        while cb + V::N <= c {
            let b = V::load(bias.add(cb));
            let mut acc = [b; P];
            for ky in 0..kh {
                for kx in 0..kw {
                    let wv = V::load(w.add((ky * kw + kx) * c + cb));
                    let s = src.add(ky * dy + kx * dx + cb);
                    for (p, a) in acc.iter_mut().enumerate() {
                        *a = V::madd(V::load(s.add(p * sx)), wv, *a);
                    }
                }
            }
            for (p, a) in acc.iter().enumerate() {
                let mut v = *a;
                if let Some(r) = res {
                    v = V::add(v, V::load(r.add(p * c + cb)));
                }
                V::store(dst.add(p * c + cb), V::activate(v, job.act));
            }
            cb += V::N;
        }
        if cb < c {
            let n = c - cb;
            let b = V::load_part(bias.add(cb), n);
            let mut acc = [b; P];
            for ky in 0..kh {
                for kx in 0..kw {
                    let wv = V::load_part(w.add((ky * kw + kx) * c + cb), n);
                    let s = src.add(ky * dy + kx * dx + cb);
                    for (p, a) in acc.iter_mut().enumerate() {
                        *a = V::madd(V::load_part(s.add(p * sx), n), wv, *a);
                    }
                }
            }
            for (p, a) in acc.iter().enumerate() {
                let mut v = *a;
                if let Some(r) = res {
                    v = V::add(v, V::load_part(r.add(p * c + cb), n));
                }
                V::store_part(dst.add(p * c + cb), n, V::activate(v, job.act));
            }
        }
    }
}

/// One output pixel with its taps clipped to the input: rows `ky0..ky1` (given), columns from
/// the job's table.
#[inline(always)]
unsafe fn border<V: F32Vector>(
    job: &Job<'_>,
    img: *const f32,
    dst: *mut f32,
    res: Option<*const f32>,
    oy: usize,
    ox: usize,
    (ky0, ky1): (usize, usize),
) {
    let g = &job.g;
    let c = g.out_c;
    let (_, kw) = g.kernel;
    let (kx0, kx1) = job.xr[ox];
    let w = job.taps.as_ptr();
    let bias = job.bias.as_ptr();
    let (dst, res) = (dst.wrapping_add(ox * c), res.map(|r| r.wrapping_add(ox * c)));
    let at = |ky: usize, kx: usize| {
        let iy = oy * g.stride.0 + ky * g.dilation.0 - g.pad_top;
        let ix = ox * g.stride.1 + kx * g.dilation.1 - g.pad_left;
        (iy * g.in_w + ix) * c
    };
    let mut cb = 0;
    // SAFETY: (whole body) taps in ky0..ky1 x kx0..kx1 are inside the image (`tap_range`);
    // channel blocks as in `pixels`.
    unsafe {
        while cb < c {
            let n = (c - cb).min(V::N);
            let ld = |p: *const f32| load_n::<V>(p, n);
            let mut acc = ld(bias.add(cb));
            for ky in ky0..ky1 {
                for kx in kx0..kx1 {
                    acc = V::madd(ld(img.add(at(ky, kx) + cb)), ld(w.add((ky * kw + kx) * c + cb)), acc);
                }
            }
            if let Some(r) = res {
                acc = V::add(acc, ld(r.add(cb)));
            }
            store_n::<V>(dst.add(cb), n, V::activate(acc, job.act));
            cb += V::N;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::tap_range;

    #[test]
    fn tap_ranges_clip_to_the_input() {
        // 3 taps, pad 1, input 4: output 0 loses tap 0, output at base 3 loses tap 2.
        assert_eq!(tap_range(0, 1, 1, 4, 3), (1, 3));
        assert_eq!(tap_range(1, 1, 1, 4, 3), (0, 3));
        assert_eq!(tap_range(3, 1, 1, 4, 3), (0, 2));
        // Dilation 2, pad 3: taps at 0, 2, 4 -> inputs -3, -1, 1: only tap 2.
        assert_eq!(tap_range(0, 2, 3, 4, 3), (2, 3));
        // Entirely in the padding.
        let (a, b) = tap_range(9, 1, 4, 2, 2);
        assert!(a >= b);
    }
}
