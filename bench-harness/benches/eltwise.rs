//! Criterion benches of the element-wise ops (`lanes_kernels::ops::eltwise`), single-threaded,
//! for every ISA this CPU runs and a plain scalar loop (`loop`, what the compiler makes of
//! the scalar definition), throughput in bytes moved (read + written):
//! - every unary op on 4 Ki floats (L1) and 16 Mi floats (beyond L2), group `unary/<op>/<n>`;
//! - add with a broadcast row on the same sizes, group `add/<n>`;
//! - softmax and layer norm on 128x768 and 128x3072 rows, group `<op>/<rows>x<cols>`.
//!
//! `cargo bench -p lanes-bench --bench eltwise` (filter with e.g. `-- softmax`).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use lanes_kernels::ops::eltwise::{Binary, Eltwise, Rhs, Unary};
use lanes_kernels::{Isa, MatMut, MatRef, Parallelism};
use lanes_testkit::Rng;
use std::hint::black_box;
use std::time::Duration;

const SIZES: [usize; 2] = [4 << 10, 16 << 20];

fn elt(isa: Isa) -> Eltwise {
    Eltwise::with_isa(isa).unwrap().parallelism(Parallelism::Sequential)
}

fn group<'a>(c: &'a mut Criterion, name: String) -> criterion::BenchmarkGroup<'a, criterion::measurement::WallTime> {
    let mut g = c.benchmark_group(name);
    g.sample_size(10).warm_up_time(Duration::from_millis(200)).measurement_time(Duration::from_millis(600));
    g
}

fn bench_unary(c: &mut Criterion) {
    let mut r = Rng::new(1);
    for n in SIZES {
        let x: Vec<f32> = r.vec(n).into_iter().map(|v| v * 8.0).collect();
        let mut y = vec![0.0f32; n];
        for op in Unary::ALL {
            if op == Unary::Identity {
                continue;
            }
            let mut g = group(c, format!("unary/{}/{n}", op.name()));
            g.throughput(Throughput::Bytes((8 * n) as u64));
            g.bench_function("loop", |b| {
                b.iter(|| {
                    for (yi, &xi) in y.iter_mut().zip(black_box(&x)) {
                        *yi = op.apply(xi);
                    }
                })
            });
            for isa in Isa::available() {
                let e = elt(isa);
                g.bench_function(BenchmarkId::from_parameter(isa), |b| {
                    b.iter(|| e.unary(op, black_box(&x), &mut y).unwrap())
                });
            }
            g.finish();
        }
        let row: Vec<f32> = r.vec(1024);
        let mut g = group(c, format!("add/{n}"));
        g.throughput(Throughput::Bytes((8 * n) as u64));
        let rows = n / 1024;
        g.bench_function("loop", |b| {
            b.iter(|| {
                for (yr, xr) in y.chunks_exact_mut(1024).zip(black_box(&x).chunks_exact(1024)) {
                    for ((yi, &xi), &ri) in yr.iter_mut().zip(xr).zip(&row) {
                        *yi = xi + ri;
                    }
                }
            })
        });
        for isa in Isa::available() {
            let e = elt(isa);
            g.bench_function(BenchmarkId::from_parameter(isa), |b| {
                b.iter(|| {
                    let (xv, yv) = (
                        MatRef::row_major(black_box(&x), rows, 1024).unwrap(),
                        MatMut::row_major(&mut y, rows, 1024).unwrap(),
                    );
                    e.binary(Binary::Add, xv, Rhs::Row(&row), yv).unwrap()
                })
            });
        }
        g.finish();
    }
}

/// Softmax of one row the plain way (max, exp and sum, scale), for the `loop` line.
fn softmax_loop(x: &[f32], y: &mut [f32]) {
    let m = x.iter().fold(f32::NEG_INFINITY, |m, &v| m.max(v));
    let mut s = 0.0;
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi = (xi - m).exp();
        s += *yi;
    }
    let inv = 1.0 / s;
    y.iter_mut().for_each(|v| *v *= inv);
}

/// Layer norm of one row the plain way (two passes), for the `loop` line.
fn layer_norm_loop(x: &[f32], g: &[f32], b: &[f32], y: &mut [f32]) {
    let n = x.len() as f32;
    let mean = x.iter().sum::<f32>() / n;
    let var = x.iter().map(|v| (v - mean) * (v - mean)).sum::<f32>() / n;
    let rstd = 1.0 / (var + 1e-5).sqrt();
    for (((yi, &xi), &gi), &bi) in y.iter_mut().zip(x).zip(g).zip(b) {
        *yi = (xi - mean) * rstd * gi + bi;
    }
}

fn bench_rows(c: &mut Criterion) {
    let mut r = Rng::new(2);
    for (rows, cols) in [(128, 768), (128, 3072)] {
        let x: Vec<f32> = r.vec(rows * cols).into_iter().map(|v| v * 4.0).collect();
        let (gamma, beta) = (r.vec(cols), r.vec(cols));
        let mut y = vec![0.0f32; rows * cols];
        for op in ["softmax", "layer_norm"] {
            let mut g = group(c, format!("{op}/{rows}x{cols}"));
            g.throughput(Throughput::Bytes((8 * rows * cols) as u64));
            g.bench_function("loop", |b| {
                b.iter(|| {
                    for (xr, yr) in black_box(&x).chunks_exact(cols).zip(y.chunks_exact_mut(cols)) {
                        if op == "softmax" {
                            softmax_loop(xr, yr)
                        } else {
                            layer_norm_loop(xr, &gamma, &beta, yr)
                        }
                    }
                })
            });
            for isa in Isa::available() {
                let e = elt(isa);
                g.bench_function(BenchmarkId::from_parameter(isa), |b| {
                    b.iter(|| {
                        let xv = MatRef::row_major(black_box(&x), rows, cols).unwrap();
                        let yv = MatMut::row_major(&mut y, rows, cols).unwrap();
                        if op == "softmax" {
                            e.softmax(xv, yv).unwrap()
                        } else {
                            e.layer_norm(xv, &gamma, &beta, 1e-5, yv).unwrap()
                        }
                    })
                });
            }
            g.finish();
        }
    }
}

criterion_group!(benches, bench_unary, bench_rows);
criterion_main!(benches);
