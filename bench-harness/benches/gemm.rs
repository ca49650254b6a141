//! Criterion benches of every microkernel this CPU can run (the kernel table drives the list:
//! a new kernel is benchmarked by being added to it), single-threaded, on a few shapes from
//! shapes/gemm.txt. Throughput is in FLOP (2*M*N*K per call).
//!
//! `cargo bench -p lanes-bench` (filter with e.g. `-- avx512/256`).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use lanes_bench::shapes::{parse_shapes, Shape, DEFAULT_SHAPES};
use lanes_kernels::{microkernels, Gemm, MatMut, MatRef, MicroKernel, Parallelism};
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

fn input(len: usize, seed: u32) -> Vec<f32> {
    (0..len)
        .map(|i| ((i as u32).wrapping_mul(2_654_435_761).wrapping_add(seed) >> 8) as f32 / (1 << 24) as f32 - 0.5)
        .collect()
}

fn bench_kernel(c: &mut Criterion, kernel: &MicroKernel) {
    let gemm = Gemm::with_isa(kernel.isa).expect("kernel ISA is available").parallelism(Parallelism::Sequential);
    if gemm.kernel().map(|k| k.name) != Ok(kernel.name) {
        eprintln!("skipping {}: Gemm picks another kernel for {}", kernel.name, kernel.isa);
        return;
    }
    let mut group = c.benchmark_group(kernel.name);
    group.sample_size(10).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    for shape in shapes() {
        let Shape { m, n, k } = shape;
        let (a, b) = (input(m * k, 1), input(k * n, 2));
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

fn kernels(c: &mut Criterion) {
    for kernel in microkernels().iter().filter(|k| k.isa.is_available()) {
        bench_kernel(c, kernel);
    }
}

criterion_group!(benches, kernels);
criterion_main!(benches);
