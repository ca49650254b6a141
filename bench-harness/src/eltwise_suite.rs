//! The element-wise suite: softmax and layer norm on transformer-sized rows, and ReLU, sigmoid
//! and a broadcast bias add on arrays larger than L2, through lanes' `Eltwise`, ONNX Runtime
//! (`Softmax` / `LayerNormalization` / `Relu` / `Sigmoid` / `Add` models, gamma, beta and the
//! bias row as constants) and a plain scalar loop, verified against each other and timed
//! interleaved like the GEMM cases, beside a plain copy of the same bytes (`copy`: the machine's
//! copy bandwidth for this working set, the ceiling of a one-pass op). Throughput in GB/s: 8
//! bytes per element (one read, one write). In the measurements the `gflops` field holds that
//! GB/s.

use crate::measure::{self, Budget};
use crate::record::Measurement;
use lanes_kernels::ops::eltwise::{Binary, Eltwise, Rhs, Unary};
use lanes_kernels::{MatMut, MatRef, Parallelism};
use lanes_testkit::{normwise_error, Rng};
use std::time::Duration;

/// The cases: (op, rows, cols). The one-pass ops run on 4 MiB (in L3 on the machines so far)
/// and 64 MiB (memory) inputs.
pub const CASES: [(&str, usize, usize); 11] = [
    ("softmax", 128, 768),
    ("softmax", 128, 3072),
    ("softmax", 1024, 1024),
    ("layer_norm", 128, 768),
    ("layer_norm", 128, 3072),
    ("layer_norm", 1024, 1024),
    ("relu", 1024, 1024),
    ("relu", 4096, 4096),
    ("add_row", 1024, 1024),
    ("add_row", 4096, 4096),
    ("sigmoid", 1024, 1024),
];

const EPS: f32 = 1e-5;

fn scalar(op: &str, x: &[f32], cols: usize, gamma: &[f32], beta: &[f32], y: &mut [f32]) {
    match op {
        "relu" => y.iter_mut().zip(x).for_each(|(o, &v)| *o = v.max(0.0)),
        "sigmoid" => y.iter_mut().zip(x).for_each(|(o, &v)| *o = 1.0 / (1.0 + (-v).exp())),
        _ => {
            for (row, out) in x.chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
                scalar_row(op, row, gamma, beta, out);
            }
        }
    }
}

fn scalar_row(op: &str, row: &[f32], gamma: &[f32], beta: &[f32], out: &mut [f32]) {
    let cols = row.len();
    if op == "add_row" {
        for ((o, &v), &b) in out.iter_mut().zip(row).zip(beta) {
            *o = v + b;
        }
    } else if op == "softmax" {
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
                let model = match op {
                    "softmax" => crate::onnx::softmax(rows, cols),
                    "layer_norm" => crate::onnx::layer_norm(rows, cols, &gamma, &beta, EPS),
                    "relu" => crate::onnx::unary("Relu", rows, cols),
                    "sigmoid" => crate::onnx::unary("Sigmoid", rows, cols),
                    _ => crate::onnx::add_row(rows, cols, &beta),
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
        names.push("copy".into());
        let run_impl = |name: &str, y: &mut [f32]| -> Result<(), String> {
            match name {
                "lanes" => match op {
                    "relu" => e.unary(Unary::Relu, &x, y),
                    "sigmoid" => e.unary(Unary::Sigmoid, &x, y),
                    _ => {
                        let (xv, yv) = (
                            MatRef::row_major(&x, rows, cols).map_err(|e| e.to_string())?,
                            MatMut::row_major(y, rows, cols).map_err(|e| e.to_string())?,
                        );
                        match op {
                            "softmax" => e.softmax(xv, yv),
                            "layer_norm" => e.layer_norm(xv, &gamma, &beta, EPS, yv),
                            _ => e.binary(Binary::Add, xv, Rhs::Row(&beta), yv),
                        }
                    }
                }
                .map_err(|e| e.to_string()),
                #[cfg(feature = "onnxruntime")]
                "onnxruntime" => ort.as_ref().expect("present").borrow_mut().run(&[rows, cols], &x, y),
                "copy" => {
                    // On as many threads as the others (lanes splits rows over the pool).
                    use rayon::prelude::*;
                    let per = cols * rows.div_ceil(threads);
                    y.par_chunks_mut(per).zip(x.par_chunks(per)).for_each(|(o, i)| o.copy_from_slice(i));
                    Ok(())
                }
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
            if name == "copy" {
                let exact = out == x;
                errors.push(if exact { 0.0 } else { f64::INFINITY });
                if !exact {
                    return Err(format!("copy of {rows}x{cols} differs from its input"));
                }
                continue;
            }
            let err = normwise_error(&out, &reference);
            if err > 1e-4 {
                return Err(format!("{name} disagrees with lanes on {op} {rows}x{cols}: relative error {err:.2e}"));
            }
            errors.push(err);
        }
        let (plans, times) = measure::interleaved(
            names.len(),
            budget,
            |i| run_impl(&names[i], &mut out).expect("verified above"),
            // ORT's idle workers spin after a call.
            |i| if names[i] == "onnxruntime" && threads > 1 { Duration::from_millis(120) } else { Duration::ZERO },
        );
        let bytes = 8.0 * (rows * cols) as f64;
        let isa = e.isa().map(|i| i.name().to_string()).unwrap_or_default();
        let ms: Vec<Measurement> = names
            .iter()
            .enumerate()
            .map(|(i, name)| Measurement {
                suite: "eltwise".into(),
                case: format!("{op} {rows}x{cols}"),
                m: rows,
                n: cols,
                k: 1,
                impl_name: name.clone(),
                isa: if name == "lanes" { isa.clone() } else { "native".into() },
                threads,
                rel_err: errors[i],
                ..Measurement::timed(bytes, &times[i], plans[i].iters)
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
    "\n## Element-wise and row ops (softmax, layer norm, ReLU, bias add, sigmoid): GB/s\n\n8 bytes per element (read + write) / median time. ONNX Runtime runs a `Softmax` / `LayerNormalization` / `Relu` / `Add` (a constant row) / `Sigmoid` model; the scalar loop is what one would write first; `copy` copies the same bytes (the copy bandwidth for this working set, on as many threads: the ceiling of a one-pass op; ReLU and the bias add are one pass, the rest compute).\n"
        .to_string()
        + &crate::report::suite_tables(
            ms,
            threads,
            "case",
            &["lanes", "onnxruntime", "scalar loop", "copy"],
            &["onnxruntime", "scalar loop", "copy"],
        )
}
