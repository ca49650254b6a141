//! Microkernel ceiling: GFLOP/s of each available kernel's full tile with hot caches.
fn main() {
    for kern in lanes_kernels::microkernels().iter().filter(|k| k.isa.is_available()) {
        for k in [64usize, 256, 512] {
            let reps = 2_000_000_000 / (2 * kern.mr * kern.nr * k);
            let best = (0..5).map(|_| kern.time_full_tile(k, reps)).fold(f64::INFINITY, f64::min);
            println!(
                "{:24} k={k:4}: {:6.1} GFLOP/s",
                kern.name,
                (2 * kern.mr * kern.nr * k * reps) as f64 / best / 1e9
            );
        }
    }
}
