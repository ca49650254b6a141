//! The slow direct convolution every conv path is checked against (f64 accumulation).

use lanes_kernels::ops::conv::Conv2dGeometry;
use lanes_kernels::Activation;

/// `output[n][oy][ox][co] = act(sum x * w + bias[co] + residual)` on NHWC input, OIHW filter
/// (`[C_out][C_in/groups][KH][KW]`), with the magnitude `sum |x * w| + |bias| + |residual|` of
/// each output's terms (for error bounds). Returns (values, magnitudes).
pub fn conv2d_reference(
    g: &Conv2dGeometry,
    input: &[f32],
    filter_oihw: &[f32],
    bias: Option<&[f32]>,
    residual: Option<&[f32]>,
    act: Activation,
) -> (Vec<f32>, Vec<f32>) {
    let (kh, kw) = g.kernel;
    let (cin, cout) = (g.in_c / g.groups, g.out_c / g.groups);
    let len = g.batch * g.out_h * g.out_w * g.out_c;
    let (mut out, mut mag) = (vec![0.0f32; len], vec![0.0f32; len]);
    for n in 0..g.batch {
        for oy in 0..g.out_h {
            for ox in 0..g.out_w {
                for co_all in 0..g.out_c {
                    let grp = co_all / cout;
                    let (mut acc, mut m) = (0.0f64, 0.0f64);
                    for ky in 0..kh {
                        for kx in 0..kw {
                            // Signed input coordinates: taps in the padding read zero.
                            let iy = (oy * g.stride.0 + ky * g.dilation.0) as isize - g.pad_top as isize;
                            let ix = (ox * g.stride.1 + kx * g.dilation.1) as isize - g.pad_left as isize;
                            if iy < 0 || ix < 0 || iy >= g.in_h as isize || ix >= g.in_w as isize {
                                continue;
                            }
                            for ci in 0..cin {
                                let x = input
                                    [((n * g.in_h + iy as usize) * g.in_w + ix as usize) * g.in_c + grp * cin + ci];
                                let w = filter_oihw[((co_all * cin + ci) * kh + ky) * kw + kx];
                                acc += x as f64 * w as f64;
                                m += (x as f64 * w as f64).abs();
                            }
                        }
                    }
                    let idx = ((n * g.out_h + oy) * g.out_w + ox) * g.out_c + co_all;
                    if let Some(b) = bias {
                        acc += b[co_all] as f64;
                        m += (b[co_all] as f64).abs();
                    }
                    if let Some(r) = residual {
                        acc += r[idx] as f64;
                        m += (r[idx] as f64).abs();
                    }
                    out[idx] = act.apply(acc as f32);
                    mag[idx] = m as f32;
                }
            }
        }
    }
    (out, mag)
}

/// OIHW filter values rearranged to HWIO (`[KH][KW][C_in/groups][C_out]`).
pub fn oihw_to_hwio(filter: &[f32], cout: usize, cin_per_group: usize, kh: usize, kw: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; filter.len()];
    for co in 0..cout {
        for ci in 0..cin_per_group {
            for ky in 0..kh {
                for kx in 0..kw {
                    out[((ky * kw + kx) * cin_per_group + ci) * cout + co] =
                        filter[((co * cin_per_group + ci) * kh + ky) * kw + kx];
                }
            }
        }
    }
    out
}
