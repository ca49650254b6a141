//! Quick GFLOP/s probe for tuning: `cargo run --release -p lanes-kernels --example gflops -- [threads] [MxNxK ...]`
//! (environment: GFLOPS_OFFSET, GFLOPS_PACKED, GFLOPS_B_COL, see below).
//! The real comparison benchmark lives in bench-harness/.
use lanes_kernels::{Epilogue, Gemm, MatMut, MatRef, Parallelism};
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let threads: usize = args.next().and_then(|t| t.parse().ok()).unwrap_or(1);
    let mut shapes: Vec<(usize, usize, usize)> = args
        .map(|s| {
            let v: Vec<usize> = s.split('x').map(|x| x.parse().unwrap()).collect();
            (v[0], v[1], v[2])
        })
        .collect();
    if shapes.is_empty() {
        shapes = vec![
            (64, 64, 64),
            (256, 256, 256),
            (512, 512, 512),
            (1024, 1024, 1024),
            (1, 3072, 768),
            (128, 3072, 768),
            (512, 512, 4608),
            (3136, 64, 576),
        ];
    }
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
    // GFLOPS_KERNEL=<name> forces one microkernel of the registry.
    let g = match std::env::var("GFLOPS_KERNEL") {
        Ok(name) => Gemm::with_kernel(&name).expect("a kernel this CPU runs"),
        Err(_) => Gemm::new(),
    };
    let g = g.parallelism(if threads > 1 { Parallelism::Rayon } else { Parallelism::Sequential });
    for (m, n, k) in shapes {
        // GFLOPS_OFFSET=o starts every operand `o` floats past a 64-byte boundary (default 0).
        let off: usize = std::env::var("GFLOPS_OFFSET").ok().and_then(|v| v.parse().ok()).unwrap_or(0);
        let (mut abuf, mut bbuf, mut cbuf) =
            (vec![0.0f32; m * k + 32], vec![0.0f32; k * n + 32], vec![0.0f32; m * n + 32]);
        let a = at_offset(&mut abuf, off, m * k);
        a.iter_mut().enumerate().for_each(|(i, x)| *x = (i % 7) as f32 * 0.1);
        let b = at_offset(&mut bbuf, off, k * n);
        b.iter_mut().enumerate().for_each(|(i, x)| *x = (i % 5) as f32 * 0.1);
        let c = at_offset(&mut cbuf, off, m * n);
        let flop = 2.0 * (m * n * k) as f64;
        let reps = ((2e9 / flop) as usize).clamp(3, 2000);
        let mut best = f64::INFINITY;
        pool.install(|| {
            // GFLOPS_PACKED=1: B packed once (`Gemm::pack_b`), as weights are.
            let packed =
                std::env::var_os("GFLOPS_PACKED").map(|_| g.pack_b(MatRef::row_major(b, k, n).unwrap()).unwrap());
            for _ in 0..5 {
                let t = Instant::now();
                for _ in 0..reps {
                    let (a, c) = (MatRef::row_major(a, m, k).unwrap(), MatMut::row_major(c, m, n).unwrap());
                    match &packed {
                        Some(pb) => g.run_packed(1.0, a, pb, 0.0, c, &Epilogue::NONE).unwrap(),
                        None => g.run(1.0, a, b_view(b, k, n), 0.0, c).unwrap(),
                    }
                }
                best = best.min(t.elapsed().as_secs_f64() / reps as f64);
            }
        });
        println!("{:?} {m}x{n}x{k} t={threads}: {:.1} GFLOP/s", g.isa().unwrap(), flop / best / 1e9);
    }
}

/// B as a `k x n` view: row-major, or column-major with GFLOPS_B_COL=1 (e.g. `1xNxK` then
/// runs the transposed dot GEMV).
fn b_view(b: &[f32], k: usize, n: usize) -> MatRef<'_> {
    if std::env::var_os("GFLOPS_B_COL").is_some() {
        MatRef::col_major(b, k, n).unwrap()
    } else {
        MatRef::row_major(b, k, n).unwrap()
    }
}

/// `len` floats of `buf` starting `off` floats past a 64-byte boundary (`buf` has 32 spare).
fn at_offset(buf: &mut [f32], off: usize, len: usize) -> &mut [f32] {
    let start = buf.as_ptr().align_offset(64) + off;
    &mut buf[start..start + len]
}
