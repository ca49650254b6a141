//! Criterion benches driven by the kernel registry: a kernel added to it is benchmarked here
//! by that line alone. For every kernel this CPU runs, single-threaded:
//! - its full tile on hot, packed panels (the kernel's ceiling), group `<kernel>/tile`;
//! - GEMM through the public API forced to that kernel, on the shapes of shapes/gemm.txt up
//!   to 256^3 multiply-adds, group `<kernel>`.
//!
//! - group `ndarray`: 64^3 and 1024^3 on the default kernel, one thread, called directly on
//!   `Vec`s (`direct`), through `MatRef::try_from` of ndarray views (`views`, what
//!   `lanes_kernels::ndarray::gemm_into` does) and through the allocating `matmul_with`
//!   (`matmul_alloc`): the cost of the ndarray path.
//!
//! Throughput is in FLOP (2*M*N*K per call). `cargo bench -p lanes-bench` (filter with e.g.
//! `-- avx512`).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use lanes_bench::shapes::{parse_shapes, Shape, DEFAULT_SHAPES};
use lanes_kernels::ops::gemm::{registry, AvailableKernel, TileArgs};
use lanes_kernels::{Activation, Gemm, MatMut, MatRef, Parallelism};
use lanes_testkit::Rng;
use std::hint::black_box;
use std::time::Duration;

/// The shapes from gemm.txt that a criterion run can afford for every kernel (the scalar one
/// included): up to 256^3 multiply-adds.
fn shapes() -> Vec<Shape> {
    parse_shapes(DEFAULT_SHAPES)
        .expect("bundled shape list")
        .into_iter()
        .filter(|s| s.macs() <= 256 * 256 * 256)
        .collect()
}

fn bench_tile(c: &mut Criterion, kern: AvailableKernel) {
    let full = kern.packed_tile();
    let Some(full) = full else { return };
    let mut group = c.benchmark_group(format!("{}/tile", kern.name));
    group.sample_size(10).warm_up_time(Duration::from_millis(200)).measurement_time(Duration::from_millis(500));
    let mut r = Rng::new(3);
    for k in [64, 256] {
        let (a, b) = (r.vec(kern.mr * k * full.a_lanes()), r.vec(kern.nr * k));
        let mut out = vec![0.0f32; kern.mr * kern.nr];
        group.throughput(Throughput::Elements(2 * (kern.mr * kern.nr * k) as u64));
        group.bench_function(BenchmarkId::from_parameter(format!("k{k}")), |bench| {
            bench.iter(|| {
                let args = TileArgs {
                    k,
                    a: black_box(&a),
                    rsa: full.a_lanes(),
                    csa: kern.mr * full.a_lanes(),
                    b: black_box(&b),
                    ldb: kern.nr,
                    c: &mut out,
                    rsc: kern.nr,
                    alpha: 1.0,
                    beta: 1.0,
                    bias: None,
                    act: Activation::Identity,
                    cols: kern.nr,
                    b_pack: None,
                    prefetch_next_a: false,
                };
                kern.run_tile(&full, args).unwrap();
            })
        });
    }
    group.finish();
}

fn bench_gemm(c: &mut Criterion, kern: AvailableKernel) {
    let gemm = Gemm::with_kernel(kern.name).expect("an available kernel").parallelism(Parallelism::Sequential);
    let mut group = c.benchmark_group(kern.name);
    group.sample_size(10).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    let mut r = Rng::new(1);
    for shape in shapes() {
        let Shape { m, n, k } = shape;
        let (a, b) = (r.vec(m * k), r.vec(k * n));
        let mut out = vec![0.0f32; m * n];
        group.throughput(Throughput::Elements(2 * shape.macs() as u64));
        group.bench_function(BenchmarkId::from_parameter(shape.name()), |bench| {
            bench.iter(|| {
                gemm.run(
                    1.0,
                    MatRef::row_major(black_box(&a), m, k).unwrap(),
                    MatRef::row_major(black_box(&b), k, n).unwrap(),
                    0.0,
                    MatMut::row_major(&mut out, m, n).unwrap(),
                )
                .unwrap();
                black_box(&mut out);
            })
        });
    }
    group.finish();
}

fn bench_ndarray(c: &mut Criterion) {
    use ndarray::Array2;
    let gemm = Gemm::new().parallelism(Parallelism::Sequential);
    let mut group = c.benchmark_group("ndarray");
    group.sample_size(20).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(2));
    let mut r = Rng::new(5);
    for s in [64, 1024] {
        let (m, n, k) = (s, s, s);
        let (a, b) = (r.vec(m * k), r.vec(k * n));
        let mut out = vec![0.0f32; m * n];
        let (aa, ba) =
            (Array2::from_shape_vec((m, k), a.clone()).unwrap(), Array2::from_shape_vec((k, n), b.clone()).unwrap());
        let mut ca = Array2::<f32>::zeros((m, n));
        group.throughput(Throughput::Elements(2 * (m * n * k) as u64));
        let name = format!("{s}x{s}x{s}");
        group.bench_function(BenchmarkId::new("direct", &name), |bench| {
            bench.iter(|| {
                gemm.run(
                    1.0,
                    MatRef::row_major(black_box(&a), m, k).unwrap(),
                    MatRef::row_major(black_box(&b), k, n).unwrap(),
                    0.0,
                    MatMut::row_major(&mut out, m, n).unwrap(),
                )
                .unwrap();
                black_box(&mut out);
            })
        });
        group.bench_function(BenchmarkId::new("views", &name), |bench| {
            bench.iter(|| {
                gemm.run(
                    1.0,
                    MatRef::try_from(black_box(aa.view())).unwrap(),
                    MatRef::try_from(black_box(ba.view())).unwrap(),
                    0.0,
                    MatMut::try_from(ca.view_mut()).unwrap(),
                )
                .unwrap();
                black_box(&mut ca);
            })
        });
        group.bench_function(BenchmarkId::new("matmul_alloc", &name), |bench| {
            bench.iter(|| {
                black_box(
                    lanes_kernels::ndarray::matmul_with(&gemm, black_box(aa.view()), black_box(ba.view())).unwrap(),
                )
            })
        });
    }
    group.finish();
}

fn kernels(c: &mut Criterion) {
    bench_ndarray(c);
    for kern in registry::available() {
        bench_tile(c, kern);
        bench_gemm(c, kern);
    }
}

criterion_group!(benches, kernels);
criterion_main!(benches);
