//! Direct f64 references for pooling and the NCHW/NHWC layouts.

use lanes_kernels::ops::conv::Conv2dGeometry;

/// Max (`avg == None`) or average pooling (`avg == Some(count_include_pad)`) on NHWC input,
/// with the geometry of a `Pool2dParams` (signed coordinates; padded taps are skipped, and
/// counted in the divisor only with `count_include_pad`).
pub fn pool2d_reference(g: &Conv2dGeometry, input: &[f32], avg: Option<bool>) -> Vec<f32> {
    let (kh, kw) = g.kernel;
    let c = g.in_c;
    let mut out = vec![0.0f32; g.batch * g.out_h * g.out_w * c];
    for n in 0..g.batch {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                for ch in 0..c {
                    let (mut sum, mut max, mut count) = (0.0f64, f64::NEG_INFINITY, 0usize);
                    for ky in 0..kh {
                        for kx in 0..kw {
                            let iy = (oy * g.stride.0 + ky) as isize - g.pad_top as isize;
                            let ix = (ox * g.stride.1 + kx) as isize - g.pad_left as isize;
                            if iy < 0 || ix < 0 || iy >= g.in_h as isize || ix >= g.in_w as isize {
                                continue;
                            }
                            let x = input[((n * g.in_h + iy as usize) * g.in_w + ix as usize) * c + ch] as f64;
                            sum += x;
                            max = max.max(x);
                            count += 1;
                        }
                    }
                    let v = match avg {
                        None => max,
                        Some(true) => sum / (kh * kw) as f64,
                        Some(false) => sum / count as f64,
                    };
                    out[((n * g.out_h + oy) * g.out_w + ox) * c + ch] = v as f32;
                }
            }
        }
    }
    out
}

/// Mean over the pixels of each image and channel: `batch x pixels x channels` ->
/// `batch x channels`.
pub fn global_avg_pool_reference(input: &[f32], batch: usize, pixels: usize, channels: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; batch * channels];
    for n in 0..batch {
        for ch in 0..channels {
            let s: f64 = (0..pixels).map(|p| input[(n * pixels + p) * channels + ch] as f64).sum();
            out[n * channels + ch] = (s / pixels as f64) as f32;
        }
    }
    out
}
