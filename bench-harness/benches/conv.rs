//! Criterion benches of `Conv2d` on the layers of shapes/conv.txt (format documented there):
//! ResNet 3x3 and 1x1 layers, MobileNet depthwise layers (the depthwise kernel), a stride-2
//! stem, an MNIST CNN's two layers and a conv1d. Batch 1, single-threaded, the ISA from
//! `LANES_ISA` or the best this CPU has; bias + ReLU fused. Throughput is in FLOP
//! (2 * multiply-adds per run), so criterion's "elem/s" reads as FLOP/s.
//! `cargo bench -p lanes-bench --bench conv` (filter with e.g. `-- dw`).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use lanes_bench::conv_suite::{parse_layers, DEFAULT_LAYERS};
use lanes_kernels::ops::conv::{Conv2d, FilterLayout};
use lanes_kernels::{Activation, Gemm, Parallelism};
use lanes_testkit::Rng;
use std::hint::black_box;
use std::time::Duration;

fn bench_conv(c: &mut Criterion) {
    let gemm = Gemm::new().parallelism(Parallelism::Sequential);
    let mut group = c.benchmark_group(format!("conv/{}", gemm.isa().expect("ISA")));
    group.sample_size(10).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    let mut r = Rng::new(5);
    for layer in parse_layers(DEFAULT_LAYERS).expect("bundled conv.txt") {
        let p = layer.params;
        let g = p.geometry(1, layer.h, layer.w).expect("geometry");
        let filter = r.vec(p.filter_len().unwrap());
        let bias = r.vec(p.out_channels);
        let conv = Conv2d::with_gemm(gemm, p, &filter, FilterLayout::Oihw, Some(&bias), Activation::Relu).unwrap();
        let input = r.vec(g.input_len().unwrap());
        let mut out = vec![0.0f32; g.output_len().unwrap()];
        let macs = g.out_h * g.out_w * g.out_c * p.kernel.0 * p.kernel.1 * p.in_per_group();
        group.throughput(Throughput::Elements(2 * macs as u64));
        group.bench_function(BenchmarkId::from_parameter(&layer.name), |b| {
            b.iter(|| conv.run(black_box(&input), 1, layer.h, layer.w, &mut out).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, bench_conv);
criterion_main!(benches);
