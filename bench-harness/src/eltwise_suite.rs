//! The row-op suite: softmax and layer norm on transformer-sized rows through lanes'
//! `Eltwise`, ONNX Runtime (`Softmax` / `LayerNormalization` models, gamma and beta as
//! constants) and a plain scalar loop, verified against each other and timed interleaved like
//! the GEMM cases. Throughput in GB/s: 8 bytes per element (one read, one write). In the
//! measurements the `gflops` field holds that GB/s.

use crate::measure::{self, stats, Budget, Plan};
use crate::record::Measurement;
use lanes_kernels::ops::eltwise::Eltwise;
use lanes_kernels::{MatMut, MatRef, Parallelism};
use lanes_testkit::{normwise_error, Rng};

/// The cases: (op, rows, cols).
pub const CASES: [(&str, usize, usize); 6] = [
    ("softmax", 128, 768),
    ("softmax", 128, 3072),
    ("softmax", 1024, 1024),
    ("layer_norm", 128, 768),
    ("layer_norm", 128, 3072),
    ("layer_norm", 1024, 1024),
];

const EPS: f32 = 1e-5;

fn scalar(op: &str, x: &[f32], cols: usize, gamma: &[f32], beta: &[f32], y: &mut [f32]) {
    for (row, out) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
        if op == "softmax" {
            let max = row.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            let mut sum = 0.0;
            for (o, &v) in out.iter_mut().zip(row) {
                *o = (v - max).exp();
                sum += *o;
            }
            out.iter_mut().for_each(|o| *o /= sum);
        } else {
            let mean = row.iter().sum::<f32>() / cols as f32;
            let var = row.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / cols as f32;
            let inv = 1.0 / (var + EPS).sqrt();
            for (j, (o, &v)) in out.iter_mut().zip(row).enumerate() {
                *o = (v - mean) * inv * gamma[j] + beta[j];
            }
        }
    }
}

/// Runs every case at `threads` threads (inside a rayon pool of that size).
pub fn run(threads: usize, budget: Budget, mut emit: impl FnMut(&[Measurement])) -> Result<(), String> {
    let par = if threads > 1 { Parallelism::Rayon } else { Parallelism::Sequential };
    let e = Eltwise::new().parallelism(par);
    for (op, rows, cols) in CASES {
        let started = std::time::Instant::now();
        let mut r = Rng::new(21);
        let x: Vec<f32> = r.vec(rows * cols).iter().map(|v| v * 4.0).collect();
        let gamma: Vec<f32> = r.vec(cols).iter().map(|v| 1.0 + 0.1 * v).collect();
        let beta = r.vec(cols);
        let mut names = vec!["lanes".to_string()];
        #[cfg(feature = "onnxruntime")]
        let ort = match crate::onnxruntime::init() {
            Ok(()) => {
                let model = if op == "softmax" {
                    crate::onnx::softmax(rows, cols)
                } else {
                    crate::onnx::layer_norm(rows, cols, &gamma, &beta, EPS)
                };
                names.push("onnxruntime".into());
                Some(std::cell::RefCell::new(crate::onnxruntime::OrtModel::new(&model, threads)?))
            }
            Err(why) => {
                eprintln!("[{threads}t] onnxruntime skipped: {why}");
                None
            }
        };
        names.push("scalar loop".into());
        let run_impl = |name: &str, y: &mut [f32]| -> Result<(), String> {
            match name {
                "lanes" => {
                    let (xv, yv) = (
                        MatRef::row_major(&x, rows, cols).map_err(|e| e.to_string())?,
                        MatMut::row_major(y, rows, cols).map_err(|e| e.to_string())?,
                    );
                    if op == "softmax" { e.softmax(xv, yv) } else { e.layer_norm(xv, &gamma, &beta, EPS, yv) }
                        .map_err(|e| e.to_string())
                }
                #[cfg(feature = "onnxruntime")]
                "onnxruntime" => ort.as_ref().expect("present").borrow_mut().run(&[rows, cols], &x, y),
                _ => {
                    scalar(op, &x, cols, &gamma, &beta, y);
                    Ok(())
                }
            }
        };
        let mut reference = vec![0.0f32; rows * cols];
        run_impl("lanes", &mut reference)?;
        let mut out = vec![0.0f32; rows * cols];
        let mut errors = Vec::new();
        for name in &names {
            out.fill(f32::NAN);
            run_impl(name, &mut out)?;
            let err = normwise_error(&out, &reference);
            if err > 1e-4 {
                return Err(format!("{name} disagrees with lanes on {op} {rows}x{cols}: relative error {err:.2e}"));
            }
            errors.push(err);
        }
        let plans: Vec<Plan> = names
            .iter()
            .map(|n| {
                budget.plan(measure::warm_up(|| run_impl(n, &mut out).expect("verified above"), 2, budget.per_impl / 8))
            })
            .collect();
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
        let rounds = plans.iter().map(|p| p.rounds).max().unwrap_or(0);
        for round in 0..rounds {
            for j in 0..names.len() {
                let i = (round + j) % names.len();
                if round < plans[i].rounds {
                    times[i].push(measure::time_batch(
                        || run_impl(&names[i], &mut out).expect("verified above"),
                        plans[i].iters,
                    ));
                    if names[i] == "onnxruntime" && threads > 1 {
                        std::thread::sleep(std::time::Duration::from_millis(120));
                    }
                }
            }
        }
        let bytes = 8.0 * (rows * cols) as f64;
        let ms: Vec<Measurement> = names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let s = stats(&times[i]);
                Measurement {
                    suite: "eltwise".into(),
                    case: format!("{op} {rows}x{cols}"),
                    m: rows,
                    n: cols,
                    k: 1,
                    impl_name: name.clone(),
                    isa: if name == "lanes" {
                        e.isa().map(|i| i.name().to_string()).unwrap_or_default()
                    } else {
                        "native".into()
                    },
                    threads,
                    gflops: bytes / s.median / 1e9,
                    gflops_min: bytes / s.max / 1e9,
                    gflops_max: bytes / s.min / 1e9,
                    median_s: s.median,
                    samples: s.samples,
                    iters: plans[i].iters,
                    rel_err: errors[i],
                    peak: None,
                    round_s: times[i].clone(),
                }
            })
            .collect();
        let summary: Vec<String> = ms.iter().map(|m| format!("{} {:.1}", m.impl_name, m.gflops)).collect();
        eprintln!(
            "[{threads}t] {op} {rows}x{cols} {:>5.1}s  GB/s: {}",
            started.elapsed().as_secs_f64(),
            summary.join(", ")
        );
        emit(&ms);
    }
    Ok(())
}

/// The report section: GB/s per case and lanes' ratio to ONNX Runtime and to the scalar loop.
pub fn render(ms: &[Measurement], threads: &[usize]) -> String {
    use std::fmt::Write;
    let mut s = String::from("\n## Row ops (softmax, layer norm): GB/s\n\n8 bytes per element (read + write) / median time. ONNX Runtime runs a `Softmax` / `LayerNormalization` model; the scalar loop is what one would write first.\n");
    for &t in threads {
        let _ = writeln!(s, "\n### {t} thread{}\n", if t == 1 { "" } else { "s" });
        let _ = writeln!(s, "| case | lanes | onnxruntime | scalar loop | lanes / onnxruntime (paired) | lanes / scalar |\n|---|---:|---:|---:|---:|---:|");
        let mut cases: Vec<&str> = Vec::new();
        for m in ms.iter().filter(|m| m.threads == t) {
            if !cases.contains(&m.case.as_str()) {
                cases.push(&m.case);
            }
        }
        for case in cases {
            let get = |name: &str| ms.iter().find(|m| m.threads == t && m.case == case && m.impl_name == name);
            let fmt = |m: Option<&Measurement>| m.map_or("—".to_string(), |m| format!("{:.1}", m.gflops));
            let vs = |peer: &str| match (get("lanes"), get(peer)) {
                (Some(l), Some(o)) => {
                    let paired = crate::record::paired_ratio(l, o).map_or(String::new(), |p| format!(" ({p:.2}x)"));
                    format!("{:.2}x{paired}", l.gflops / o.gflops)
                }
                _ => "—".into(),
            };
            let _ = writeln!(
                s,
                "| {case} | {} | {} | {} | {} | {} |",
                fmt(get("lanes")),
                fmt(get("onnxruntime")),
                fmt(get("scalar loop")),
                vs("onnxruntime"),
                vs("scalar loop")
            );
        }
    }
    s
}
