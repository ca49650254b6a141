//! The convolution suite: the layers of shapes/conv.txt through lanes' `Conv2d`, ONNX Runtime
//! (a `Conv` model with the filter and bias as constant initializers; NCHW, as ORT wants, the
//! data transposed outside the timing) and a naive direct convolution, verified against each
//! other, timed interleaved round by round like the GEMM cases. Bias + ReLU fused in lanes;
//! ORT's model is Conv + Relu.

use crate::measure::{self, Budget};
use crate::record::Measurement;
use lanes_kernels::ops::conv::{Conv2d, Conv2dGeometry, Conv2dParams, FilterLayout, Padding};
use lanes_kernels::{Activation, Gemm, Parallelism};
use lanes_testkit::{normwise_error, Rng};
use std::time::Duration;

/// The bundled layer list.
pub const DEFAULT_LAYERS: &str = include_str!("../shapes/conv.txt");

/// One layer of conv.txt.
#[derive(Clone, Debug)]
pub struct ConvLayer {
    pub name: String,
    pub h: usize,
    pub w: usize,
    pub params: Conv2dParams,
}

impl ConvLayer {
    /// The geometry of one image.
    pub fn geometry(&self) -> Conv2dGeometry {
        self.params.geometry(1, self.h, self.w).expect("conv.txt layers are valid")
    }
    /// Multiply-adds of one run.
    pub fn macs(&self) -> usize {
        let g = self.geometry();
        g.out_h * g.out_w * g.out_c * self.params.kernel.0 * self.params.kernel.1 * self.params.in_per_group()
    }
}

/// Parses conv.txt (format at the top of that file).
pub fn parse_layers(text: &str) -> Result<Vec<ConvLayer>, String> {
    let mut out = Vec::new();
    for (ln, raw) in text.lines().enumerate() {
        let l = raw.split('#').next().unwrap_or("").trim();
        if l.is_empty() {
            continue;
        }
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() != 10 {
            return Err(format!("line {}: 10 fields expected, found {}: {l:?}", ln + 1, f.len()));
        }
        let n = |i: usize| {
            f[i].parse::<usize>().map_err(|_| format!("line {}: field {} ({:?}) is not a number", ln + 1, i + 1, f[i]))
        };
        let (cin, cout) = (n(3)?, n(4)?);
        let padding = match f[8] {
            "same" => Padding::Same,
            "valid" => Padding::VALID,
            p => Padding::uniform(p.parse().map_err(|_| format!("line {}: padding {p:?}", ln + 1))?),
        };
        let groups = if f[9] == "dw" { cin } else { n(9)? };
        let params = Conv2dParams::new(cin, cout, (n(5)?, n(6)?)).stride(n(7)?, n(7)?).padding(padding).groups(groups);
        let layer = ConvLayer { name: f[0].to_string(), h: n(1)?, w: n(2)?, params };
        params.geometry(1, layer.h, layer.w).map_err(|e| format!("line {}: {e}", ln + 1))?;
        out.push(layer);
    }
    Ok(out)
}

/// The naive direct convolution: loops over output pixels, taps and channels (f32), the
/// output rows split over the current rayon pool.
fn naive(g: &Conv2dGeometry, input: &[f32], filter_oihw: &[f32], bias: &[f32], out: &mut [f32]) {
    use rayon::prelude::*;
    let (kh, kw) = g.kernel;
    let (cin, cout) = (g.in_c / g.groups, g.out_c / g.groups);
    out.par_chunks_mut(g.out_w * g.out_c).enumerate().for_each(|(oy, row)| {
        for ox in 0..g.out_w {
            for co in 0..g.out_c {
                let grp = co / cout;
                let mut acc = bias[co];
                for ky in 0..kh {
                    for kx in 0..kw {
                        if let Some((iy, ix)) = g.input_at(oy, ox, ky, kx) {
                            let x = &input[(iy * g.in_w + ix) * g.in_c + grp * cin..][..cin];
                            for (ci, &xv) in x.iter().enumerate() {
                                acc += xv * filter_oihw[((co * cin + ci) * kh + ky) * kw + kx];
                            }
                        }
                    }
                }
                row[ox * g.out_c + co] = acc.max(0.0);
            }
        }
    });
}

fn nhwc_to_nchw(x: &[f32], h: usize, w: usize, c: usize) -> Vec<f32> {
    let mut out = vec![0.0; x.len()];
    for p in 0..h * w {
        for ch in 0..c {
            out[ch * h * w + p] = x[p * c + ch];
        }
    }
    out
}

enum Kind {
    Lanes(Conv2d),
    #[cfg(feature = "onnxruntime")]
    Ort(std::cell::RefCell<crate::onnxruntime::OrtModel>, Vec<f32>),
    Naive,
}

struct Impl {
    name: String,
    isa: String,
    kind: Kind,
}

/// Runs every layer at `threads` threads (inside a rayon pool of that size); calls `emit` with
/// each layer's measurements.
pub fn run(
    layers: &[ConvLayer],
    threads: usize,
    budget: Budget,
    mut emit: impl FnMut(&[Measurement]),
) -> Result<(), String> {
    let par = if threads > 1 { Parallelism::Rayon } else { Parallelism::Sequential };
    let gemm = Gemm::new().parallelism(par);
    let isa = gemm.isa().map_err(|e| e.to_string())?.name().to_string();
    for layer in layers {
        let started = std::time::Instant::now();
        let p = layer.params;
        let g = layer.geometry();
        let mut r = Rng::new(11);
        let filter = r.vec(p.filter_len().map_err(|e| e.to_string())?);
        let bias = r.vec(p.out_channels);
        let input = r.vec(g.input_len().map_err(|e| e.to_string())?);
        let conv = Conv2d::with_gemm(gemm, p, &filter, FilterLayout::Oihw, Some(&bias), Activation::Relu)
            .map_err(|e| e.to_string())?;
        let mut impls = vec![Impl { name: "lanes".into(), isa: isa.clone(), kind: Kind::Lanes(conv) }];
        #[cfg(feature = "onnxruntime")]
        match crate::onnxruntime::init() {
            Ok(()) => {
                let total = |size: usize, stride: usize, k: usize, d: usize, out: usize| {
                    ((out - 1) * stride + (k - 1) * d + 1).saturating_sub(size)
                };
                let (th, tw) = (
                    total(g.in_h, g.stride.0, g.kernel.0, g.dilation.0, g.out_h),
                    total(g.in_w, g.stride.1, g.kernel.1, g.dilation.1, g.out_w),
                );
                let pads = [g.pad_top, g.pad_left, th.saturating_sub(g.pad_top), tw.saturating_sub(g.pad_left)];
                let model = crate::onnx::conv(
                    [1, g.in_c, g.in_h, g.in_w],
                    [1, g.out_c, g.out_h, g.out_w],
                    &filter,
                    [p.out_channels, p.in_per_group(), p.kernel.0, p.kernel.1],
                    &bias,
                    [g.stride.0, g.stride.1],
                    [g.dilation.0, g.dilation.1],
                    pads,
                    p.groups,
                    true,
                );
                let ort = crate::onnxruntime::OrtModel::new(&model, threads)?;
                impls.push(Impl {
                    name: "onnxruntime".into(),
                    isa: "native".into(),
                    kind: Kind::Ort(ort.into(), nhwc_to_nchw(&input, g.in_h, g.in_w, g.in_c)),
                });
            }
            Err(why) => eprintln!("[{threads}t] onnxruntime skipped: {why}"),
        }
        if layer.macs() <= 200_000_000 {
            impls.push(Impl { name: "naive".into(), isa: "sse2".into(), kind: Kind::Naive });
        }
        let out_len = g.output_len().map_err(|e| e.to_string())?;
        let run_impl = |imp: &Impl, out: &mut [f32]| -> Result<(), String> {
            match &imp.kind {
                Kind::Lanes(conv) => conv.run(&input, 1, g.in_h, g.in_w, out).map(|_| ()).map_err(|e| e.to_string()),
                #[cfg(feature = "onnxruntime")]
                Kind::Ort(ort, x_nchw) => ort.borrow_mut().run(&[1, g.in_c, g.in_h, g.in_w], x_nchw, out),
                Kind::Naive => {
                    naive(&g, &input, &filter, &bias, out);
                    Ok(())
                }
            }
        };
        // Verify every implementation against lanes (ORT's NCHW output transposed back).
        let mut reference = vec![0.0f32; out_len];
        run_impl(&impls[0], &mut reference)?;
        let mut out = vec![0.0f32; out_len];
        let mut errors = Vec::new();
        let k = p.kernel.0 * p.kernel.1 * p.in_per_group();
        for imp in &impls {
            out.fill(f32::NAN);
            run_impl(imp, &mut out)?;
            let got =
                if imp.name == "onnxruntime" { nhwc_to_nchw(&out, g.out_c, 1, g.out_h * g.out_w) } else { out.clone() };
            let err = normwise_error(&got, &reference);
            if err > lanes_testkit::normwise_tolerance(k) {
                return Err(format!("{} disagrees with lanes on {}: relative error {err:.2e}", imp.name, layer.name));
            }
            errors.push(err);
        }
        let (plans, times) = measure::interleaved(
            impls.len(),
            budget,
            |i| run_impl(&impls[i], &mut out).expect("verified above"),
            // ORT's idle workers spin after a call.
            |i| if impls[i].name == "onnxruntime" && threads > 1 { Duration::from_millis(120) } else { Duration::ZERO },
        );
        let flop = 2.0 * layer.macs() as f64;
        let ms: Vec<Measurement> = impls
            .iter()
            .enumerate()
            .map(|(i, imp)| Measurement {
                suite: "conv".into(),
                case: layer.name.clone(),
                m: g.out_h * g.out_w,
                n: g.out_c,
                k,
                impl_name: imp.name.clone(),
                isa: imp.isa.clone(),
                threads,
                rel_err: errors[i],
                ..Measurement::timed(flop, &times[i], plans[i].iters)
            })
            .collect();
        let summary: Vec<String> = ms.iter().map(|m| format!("{} {:.1}", m.impl_name, m.gflops)).collect();
        eprintln!(
            "[{threads}t] conv {:<20} {:>5.1}s  GFLOP/s: {}",
            layer.name,
            started.elapsed().as_secs_f64(),
            summary.join(", ")
        );
        emit(&ms);
    }
    Ok(())
}

/// The conv section of report.md: per thread count, each layer's GFLOP/s and lanes' ratio to
/// ONNX Runtime (ratio of medians and paired).
pub fn render(ms: &[Measurement], threads: &[usize]) -> String {
    "\n## Convolution (shapes/conv.txt, batch 1, NHWC, bias + ReLU fused)\n\n\
     GFLOP/s = 2 x multiply-adds / median time. ONNX Runtime runs an NCHW `Conv` + `Relu` model with the filter as a constant; `naive` is a direct loop (layers up to 200M multiply-adds).\n"
        .to_string()
        + &crate::report::suite_tables(ms, threads, "layer", &["lanes", "onnxruntime", "naive"], &["onnxruntime"])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_layers_parse() {
        let layers = parse_layers(DEFAULT_LAYERS).unwrap();
        assert!(layers.len() >= 9);
        let dw = layers.iter().find(|l| l.name == "mbv2_dw3x3_144").unwrap();
        assert_eq!(dw.params.groups, 144);
        assert_eq!(dw.macs(), 56 * 56 * 144 * 9);
        assert!(parse_layers("x 1 2 3").is_err());
        assert!(parse_layers("bad 4 4 1 1 9 9 1 valid 1").is_err(), "kernel larger than the input");
    }

    #[test]
    fn a_small_layer_runs_and_agrees() {
        let layers = parse_layers("t 6 5 3 4 3 3 1 same 1\nd 6 5 4 4 3 3 2 1 dw").unwrap();
        let mut got = Vec::new();
        let budget = Budget { per_impl: std::time::Duration::from_millis(5), ..Budget::QUICK };
        run(&layers, 1, budget, |ms| got.extend_from_slice(ms)).unwrap();
        assert!(got.iter().any(|m| m.impl_name == "naive" && m.case == "d"));
        assert!(got.iter().all(|m| m.gflops > 0.0 && m.rel_err < 1e-4 && m.suite == "conv"));
    }
}
