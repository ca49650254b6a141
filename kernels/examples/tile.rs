//! The ceiling of each available kernel: its full `MR x NR` tile run on k-deep panels that
//! stay in L1/L2, without packing or edge tiles (GFLOP/s, best of 5).
use lanes_kernels::ops::gemm::{registry, TileArgs};
use lanes_kernels::Activation;
use std::time::Instant;

fn main() {
    for kern in registry::available() {
        let full = kern.packed_tile().unwrap();
        for k in [64, 256, 1024] {
            let a = vec![0.01f32; kern.mr * k * full.a_lanes()];
            let b = vec![0.01f32; kern.nr * k];
            let mut c = vec![0.0f32; kern.mr * kern.nr];
            let reps = (200_000_000 / (kern.mr * kern.nr * k)).max(1);
            let best = (0..5)
                .map(|_| {
                    let start = Instant::now();
                    for _ in 0..reps {
                        let args = TileArgs {
                            k,
                            a: &a,
                            rsa: full.a_lanes(),
                            csa: kern.mr * full.a_lanes(),
                            b: &b,
                            ldb: kern.nr,
                            c: &mut c,
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
                    }
                    start.elapsed().as_secs_f64()
                })
                .fold(f64::INFINITY, f64::min);
            let gflops = 2.0 * (kern.mr * kern.nr * k * reps) as f64 / best / 1e9;
            println!("{:<24} k={k:<5} {gflops:7.1} GFLOP/s", full.name());
        }
    }
}
