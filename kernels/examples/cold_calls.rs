//! Per-call time of an n^3 GEMM on one thread vs a 2-thread rayon pool, with a pause between
//! calls, the measurement behind `Parallelism::Auto`'s threshold: back-to-back calls keep the
//! pool's workers spinning, isolated calls pay for waking them.
//! `cargo run --release -p lanes-kernels --example cold_calls -- [n] [pause_us]` (default 64 1000).
use lanes_kernels::{Gemm, MatMut, MatRef, Parallelism};
use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args().skip(1).map(|s| s.parse::<usize>().expect("n and pause_us are integers"));
    let n = args.next().unwrap_or(64);
    let pause = Duration::from_micros(args.next().unwrap_or(1000) as u64);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("a 2-thread pool");
    let (a, b) = (vec![0.5f32; n * n], vec![0.25f32; n * n]);
    let mut c = vec![0.0f32; n * n];
    for par in [Parallelism::Sequential, Parallelism::Rayon] {
        let g = Gemm::new().parallelism(par);
        let mut us: Vec<f64> = pool.install(|| {
            (0..200)
                .map(|_| {
                    std::thread::sleep(pause);
                    let t = Instant::now();
                    let (a, b) = (MatRef::row_major(&a, n, n).unwrap(), MatRef::row_major(&b, n, n).unwrap());
                    g.run(1.0, a, b, 0.0, MatMut::row_major(&mut c, n, n).unwrap()).unwrap();
                    t.elapsed().as_secs_f64() * 1e6
                })
                .collect()
        });
        us.sort_by(f64::total_cmp);
        println!("{n}^3, {:?} pause, {par:?}: median {:.1} us, p90 {:.1} us", pause, us[100], us[180]);
    }
}
