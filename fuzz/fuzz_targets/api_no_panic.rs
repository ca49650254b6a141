//! The public safe API of lanes-kernels beyond GEMM (`api_bad_input` covers the views and the
//! GEMM entry points): convolution (dense, grouped, depthwise; both filter layouts; residual),
//! pooling (max, average, global average), the element-wise and row operations, the NCHW/NHWC
//! conversions and batch-norm folding, on arbitrary dimensions (sometimes near `usize::MAX`),
//! strides, paddings, slice lengths, clamp bounds, epsilons and ISAs, with data that is often
//! NaN, Inf or huge. Every call must return `Ok` or a typed `Err`, never panic, never read or
//! write outside its slices (AddressSanitizer), and write nothing when it returns `Err`.
#![no_main]

use lanes_kernels::ops::conv::{Conv2d, Conv2dParams, FilterLayout, Padding};
use lanes_kernels::ops::eltwise::{Binary, Eltwise, Rhs, Unary};
use lanes_kernels::ops::layout::{fold_batch_norm, nchw_to_nhwc, nhwc_to_nchw, BatchNorm};
use lanes_kernels::ops::pool::{global_avg_pool_with_isa, Pool2d, Pool2dParams, PoolKind};
use lanes_kernels::{Activation, Gemm, Isa, KernelError, MatMut, MatRef, Parallelism};
use libfuzzer_sys::fuzz_target;

#[path = "common/bytes.rs"]
mod bytes;
use bytes::Bytes;

/// Most buffers the target allocates (values): bigger requests get a wrong, small length.
const MAX_LEN: usize = 1 << 14;

impl Bytes<'_> {
    /// A size: mostly small (0..8), sometimes up to 64, sometimes huge.
    fn size(&mut self) -> usize {
        match self.u8() {
            0..=199 => self.u8() as usize % 8,
            200..=239 => self.u8() as usize % 64,
            240..=247 => usize::MAX - self.u8() as usize,
            _ => self.u64() as usize,
        }
    }
    /// A stride: mostly small and signed, sometimes extreme.
    fn stride(&mut self) -> isize {
        match self.u8() {
            0..=239 => self.u8() as isize % 24 - 6,
            _ => self.u64() as isize,
        }
    }
    /// A value: small, or raw bits (NaN, Inf, subnormals, huge).
    fn value(&mut self) -> f32 {
        if self.u8() < 192 {
            (self.u8() as f32 - 128.0) / 32.0
        } else {
            [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0, f32::MAX, f32::MIN_POSITIVE / 4.0, 1e30]
                .get(self.u8() as usize % 8)
                .copied()
                .unwrap_or_else(|| self.f32())
        }
    }
    /// `want` values when it is small enough, else (or sometimes anyway) a wrong length.
    fn len_for(&mut self, want: Option<usize>) -> usize {
        match want {
            Some(n) if n <= MAX_LEN && self.u8() >= 16 => n,
            Some(n) if n <= MAX_LEN => n.saturating_add(self.u8() as usize % 3).saturating_sub(1),
            _ => self.u8() as usize % 64,
        }
    }
    /// `n` (at most `MAX_LEN`), or sometimes a small wrong length.
    fn near(&mut self, n: usize) -> usize {
        if self.u8() % 8 == 0 {
            self.u8() as usize % 9
        } else {
            n.min(MAX_LEN)
        }
    }
    fn vec(&mut self, len: usize) -> Vec<f32> {
        (0..len).map(|_| self.value()).collect()
    }
    fn isa(&mut self) -> Isa {
        // Mostly an available one; sometimes any (an unavailable one must be an error).
        let avail = Isa::available();
        let b = self.u8() as usize;
        if b < 224 {
            avail[b % avail.len()]
        } else {
            Isa::ALL[b % Isa::ALL.len()]
        }
    }
    fn parallelism(&mut self) -> Parallelism {
        [Parallelism::Sequential, Parallelism::Sequential, Parallelism::Auto, Parallelism::Rayon]
            [self.u8() as usize % 4]
    }
    fn activation(&mut self) -> Activation {
        match self.u8() % 6 {
            0 => Activation::Identity,
            1 => Activation::Relu,
            2 => Activation::Gelu,
            3 => Activation::Silu,
            4 => Activation::Clamp { min: 0.0, max: 6.0 },
            _ => Activation::Clamp { min: self.value(), max: self.value() },
        }
    }
    fn unary(&mut self) -> Unary {
        match self.u8() % 10 {
            9 => Unary::Clamp { min: self.value(), max: self.value() },
            i => Unary::ALL[i as usize],
        }
    }
    fn padding(&mut self) -> Padding {
        if self.u8() % 4 == 0 {
            Padding::Same
        } else {
            Padding::Explicit { top: self.size(), bottom: self.size(), left: self.size(), right: self.size() }
        }
    }
}

/// `f` writes into `out` through the API; when it returns `Err`, `out` must be untouched.
fn unchanged_on_err<T>(what: &str, out: &mut [f32], f: impl FnOnce(&mut [f32]) -> Result<T, KernelError>) {
    let before: Vec<u32> = out.iter().map(|v| v.to_bits()).collect();
    if let Err(e) = f(out) {
        assert!(!e.to_string().is_empty());
        let after: Vec<u32> = out.iter().map(|v| v.to_bits()).collect();
        assert!(before == after, "{what} returned {e:?} but wrote to its output");
    }
}

fn conv(b: &mut Bytes) {
    let p = Conv2dParams {
        in_channels: b.size(),
        out_channels: b.size(),
        kernel: (b.size(), b.size()),
        stride: (b.size(), b.size()),
        dilation: (b.size(), b.size()),
        padding: b.padding(),
        groups: if b.u8() % 2 == 0 { 1 } else { b.size() },
    };
    // Depthwise often: groups == C_in == C_out.
    let p = if b.u8() % 3 == 0 { Conv2dParams { out_channels: p.in_channels, groups: p.in_channels, ..p } } else { p };
    let (batch, h, w) = (b.size(), b.size(), b.size());
    // The geometry alone, whatever the sizes (only arithmetic: must not overflow).
    let geometry = p.geometry(batch, h, w);
    let filter_len = b.len_for(p.filter_len().ok());
    let filter = b.vec(filter_len);
    let bias = match b.u8() % 3 {
        0 => None,
        _ => {
            let n = b.near(p.out_channels);
            Some(b.vec(n))
        }
    };
    let layout = if b.u8() % 2 == 0 { FilterLayout::Oihw } else { FilterLayout::Hwio };
    let act = b.activation();
    let Ok(gemm) = Gemm::with_isa(b.isa()) else { return };
    let gemm = gemm.parallelism(b.parallelism());
    let Ok(c) = Conv2d::with_gemm(gemm, p, &filter, layout, bias.as_deref(), act) else { return };
    let _ = (c.params(), c.is_depthwise(), c.geometry(batch, h, w));
    let input_len = b.len_for(geometry.as_ref().ok().and_then(|g| g.input_len().ok()));
    let output_len = b.len_for(geometry.as_ref().ok().and_then(|g| g.output_len().ok()));
    let input = b.vec(input_len);
    let mut output = vec![f32::from_bits(0x7fc0_1234); output_len];
    if b.u8() % 4 == 0 {
        let residual_len = b.near(output_len);
        let residual = b.vec(residual_len);
        unchanged_on_err("Conv2d::run_with_residual", &mut output, |o| {
            c.run_with_residual(&input, batch, h, w, &residual, o)
        });
    } else {
        unchanged_on_err("Conv2d::run", &mut output, |o| c.run(&input, batch, h, w, o));
    }
    // The fused call allocates the convolution's whole output: only for outputs of a size this
    // harness allows. (A terabyte request fails with `AllocationFailed` in a normal build, but
    // under ASan and libFuzzer's malloc limit it aborts the process; found by the 13:50 UTC
    // campaign of 2026-11-28, input in seeds/api_no_panic/crash-4286e44c...)
    let output_fits = geometry.as_ref().ok().and_then(|g| g.output_len().ok()).is_some_and(|n| n <= MAX_LEN);
    if output_fits && b.u8() % 4 == 0 {
        let window = (b.size(), b.size());
        if let Err(e) = lanes_kernels::ops::pool::max_pool_after_conv(&c, &input, batch, h, w, window) {
            assert!(!e.to_string().is_empty());
        }
    }
}

fn pool(b: &mut Bytes) {
    let kind = match b.u8() % 3 {
        0 => PoolKind::Max,
        k => PoolKind::Avg { count_include_pad: k == 2 },
    };
    let params = Pool2dParams {
        kind,
        channels: b.size(),
        kernel: (b.size(), b.size()),
        stride: (b.size(), b.size()),
        padding: b.padding(),
    };
    let (batch, h, w) = (b.size(), b.size(), b.size());
    let geometry = params.geometry(batch, h, w);
    let isa = b.isa();
    let input_len = b.len_for(geometry.as_ref().ok().and_then(|g| g.input_len().ok()));
    let output_len = b.len_for(geometry.as_ref().ok().and_then(|g| g.output_len().ok()));
    let input = b.vec(input_len);
    let mut output = vec![f32::from_bits(0x7fc0_1234); output_len];
    if let Ok(pool) = Pool2d::with_isa(isa, params) {
        let _ = pool.params();
        unchanged_on_err("Pool2d::run", &mut output, |o| pool.run(&input, batch, h, w, o));
    }
    // Global average pooling on the same buffers, with sizes of its own.
    let (batch, pixels, channels) = (b.size(), b.size(), b.size());
    unchanged_on_err("global_avg_pool", &mut output, |o| {
        global_avg_pool_with_isa(isa, &input, batch, pixels, channels, o)
    });
}

fn layout(b: &mut Bytes) {
    let (batch, c, h, w) = (b.size(), b.size(), b.size(), b.size());
    let want = [c, h, w].iter().try_fold(batch, |a, &x| a.checked_mul(x));
    let (in_len, out_len) = (b.len_for(want), b.len_for(want));
    let input = b.vec(in_len);
    let mut output = vec![f32::from_bits(0x7fc0_1234); out_len];
    if b.u8() % 2 == 0 {
        unchanged_on_err("nchw_to_nhwc", &mut output, |o| nchw_to_nhwc(&input, batch, c, h, w, o));
    } else {
        unchanged_on_err("nhwc_to_nchw", &mut output, |o| nhwc_to_nchw(&input, batch, c, h, w, o));
    }
    // Batch-norm folding: lengths, eps and variances from the fuzzer.
    let out_channels = b.size();
    let n = out_channels.min(64);
    let lens: [usize; 6] = std::array::from_fn(|_| b.near(n));
    let per = 1 + b.u8() as usize % 4;
    let filter = b.vec(lens[0] * per);
    let (gamma, beta, mean, var) = (b.vec(lens[1]), b.vec(lens[2]), b.vec(lens[3]), b.vec(lens[4]));
    let bias = if b.u8() % 2 == 0 { Some(b.vec(lens[5])) } else { None };
    let bn = BatchNorm { gamma: &gamma, beta: &beta, mean: &mean, var: &var, eps: b.value() };
    if let Ok((f, bias)) = fold_batch_norm(&filter, out_channels, bias.as_deref(), &bn) {
        assert_eq!((f.len(), bias.len()), (filter.len(), out_channels));
    }
}

/// A `rows x cols` view of a fuzzer-sized buffer: strides and offsets from the fuzzer.
struct ViewSpec {
    rows: usize,
    cols: usize,
    len: usize,
    offset: usize,
    rs: isize,
    cs: isize,
}

impl ViewSpec {
    fn new(b: &mut Bytes, rows: usize, cols: usize) -> Self {
        let contiguous = b.u8() % 4 != 0;
        let (rs, cs) = if contiguous { (cols as isize, 1) } else { (b.stride(), b.stride()) };
        let need = rows.checked_mul(cols).unwrap_or(usize::MAX);
        let len = if need <= MAX_LEN && b.u8() % 8 != 0 { need } else { b.u8() as usize * 4 };
        let offset = if contiguous { 0 } else { b.u8() as usize % 64 };
        ViewSpec { rows, cols, len, offset, rs, cs }
    }
    fn view<'a>(&self, data: &'a [f32]) -> Option<MatRef<'a>> {
        MatRef::with_offset(data, self.offset, self.rows, self.cols, self.rs, self.cs).ok()
    }
    fn view_mut<'a>(&self, data: &'a mut [f32]) -> Option<MatMut<'a>> {
        MatMut::with_offset(data, self.offset, self.rows, self.cols, self.rs, self.cs).ok()
    }
}

fn eltwise(b: &mut Bytes) {
    let Ok(e) = Eltwise::with_isa(b.isa()) else { return };
    let e = e.parallelism(b.parallelism());
    let _ = e.isa();
    let (rows, cols) = (b.size(), b.size());
    // Keep the work bounded: a huge view of zero strides is valid, just slow.
    if rows.saturating_mul(cols) > 1 << 16 && rows.min(cols) > 0 {
        return;
    }
    let op = b.u8() % 8;
    let xs = ViewSpec::new(b, rows, cols);
    let mut x = b.vec(xs.len);
    match op {
        0 => {
            let op = b.unary();
            let mut y = vec![0.0f32; if b.u8() % 8 == 0 { b.u8() as usize } else { x.len() }];
            unchanged_on_err("Eltwise::unary", &mut y, |y| e.unary(op, &x, y));
            unchanged_on_err("Eltwise::unary_inplace", &mut x, |x| e.unary_inplace(op, x));
        }
        1 | 2 => {
            let op = if op == 1 { Binary::Add } else { Binary::Mul };
            let (yr, yc) = if b.u8() % 4 == 0 { (b.size(), b.size()) } else { (rows, cols) };
            let ys = ViewSpec::new(b, yr, yc);
            let y = b.vec(ys.len);
            let row = {
                let n = b.near(cols);
                b.vec(n)
            };
            let rhs = match (b.u8() % 2, ys.view(&y)) {
                (0, Some(m)) => Rhs::Mat(m),
                _ => Rhs::Row(&row),
            };
            let os = ViewSpec::new(b, rows, cols);
            let mut out = vec![f32::from_bits(0x7fc0_1234); os.len];
            if let Some(xv) = xs.view(&x) {
                unchanged_on_err("Eltwise::binary", &mut out, |o| match os.view_mut(o) {
                    Some(ov) => e.binary(op, xv, rhs, ov),
                    None => Ok(()),
                });
            }
            unchanged_on_err("Eltwise::binary_inplace", &mut x, |x| match xs.view_mut(x) {
                Some(xv) => e.binary_inplace(op, xv, rhs),
                None => Ok(()),
            });
        }
        _ => {
            let gamma = {
                let n = b.near(cols);
                b.vec(n)
            };
            let beta = {
                let n = b.near(cols);
                b.vec(n)
            };
            let eps = if b.u8() % 4 == 0 { b.value() } else { 1e-5 };
            let (yr, yc) = if b.u8() % 8 == 0 { (b.size(), b.size()) } else { (rows, cols) };
            let ys = ViewSpec::new(b, yr, yc);
            let mut out = vec![f32::from_bits(0x7fc0_1234); ys.len];
            if let Some(xv) = xs.view(&x) {
                unchanged_on_err("row op", &mut out, |o| match ys.view_mut(o) {
                    Some(yv) => match op {
                        3 => e.softmax(xv, yv),
                        4 => e.log_softmax(xv, yv),
                        5 => e.layer_norm(xv, &gamma, &beta, eps, yv),
                        _ => e.rms_norm(xv, &gamma, eps, yv),
                    },
                    None => Ok(()),
                });
            }
            unchanged_on_err("row op in place", &mut x, |x| match xs.view_mut(x) {
                Some(xv) => match op {
                    3 => e.softmax_inplace(xv),
                    4 => e.log_softmax_inplace(xv),
                    5 => e.layer_norm_inplace(xv, &gamma, &beta, eps),
                    _ => e.rms_norm_inplace(xv, &gamma, eps),
                },
                None => Ok(()),
            });
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut b = Bytes(data);
    match b.u8() % 4 {
        0 => conv(&mut b),
        1 => pool(&mut b),
        2 => eltwise(&mut b),
        _ => layout(&mut b),
    }
});
