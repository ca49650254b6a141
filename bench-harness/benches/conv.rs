//! Criterion benches of `Conv2d` on the layers of shapes/conv.txt (format documented there):
//! ResNet 3x3 and 1x1 layers, MobileNet depthwise layers (the depthwise kernel), a stride-2
//! stem, an MNIST CNN's two layers and a conv1d. Batch 1, single-threaded, the ISA from
//! `LANES_ISA` or the best this CPU has; bias + ReLU fused. Throughput is in FLOP
//! (2 * multiply-adds per run), so criterion's "elem/s" reads as FLOP/s.
//! `cargo bench -p lanes-bench --bench conv` (filter with e.g. `-- dw`).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use lanes_kernels::ops::conv::{Conv2d, Conv2dParams, FilterLayout, Padding};
use lanes_kernels::{Activation, Gemm, Parallelism};
use lanes_testkit::Rng;
use std::hint::black_box;
use std::time::Duration;

const SHAPES: &str = include_str!("../shapes/conv.txt");

struct Layer {
    name: String,
    h: usize,
    w: usize,
    params: Conv2dParams,
}

fn layers() -> Vec<Layer> {
    SHAPES
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            assert_eq!(f.len(), 10, "conv.txt: 10 fields expected in {l:?}");
            let n = |i: usize| f[i].parse::<usize>().unwrap_or_else(|_| panic!("conv.txt: field {i} of {l:?}"));
            let (cin, cout) = (n(3), n(4));
            let padding = match f[8] {
                "same" => Padding::Same,
                "valid" => Padding::VALID,
                p => Padding::uniform(p.parse().expect("conv.txt: padding")),
            };
            let groups = if f[9] == "dw" { cin } else { n(9) };
            let params = Conv2dParams::new(cin, cout, (n(5), n(6))).stride(n(7), n(7)).padding(padding).groups(groups);
            Layer { name: f[0].to_string(), h: n(1), w: n(2), params }
        })
        .collect()
}

fn bench_conv(c: &mut Criterion) {
    let gemm = Gemm::new().parallelism(Parallelism::Sequential);
    let mut group = c.benchmark_group(format!("conv/{}", gemm.isa().expect("ISA")));
    group.sample_size(10).warm_up_time(Duration::from_millis(300)).measurement_time(Duration::from_secs(1));
    let mut r = Rng::new(5);
    for layer in layers() {
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
