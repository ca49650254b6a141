//! `with_awake_workers`: same results as without it, no deadlock when nested, called from
//! inside rayon jobs or from many threads at once, and a panic inside propagates.
#![cfg(not(target_arch = "wasm32"))]

use lanes_kernels::{with_awake_workers, Gemm, MatMut, MatRef, Parallelism};
use rayon::prelude::*;
use std::sync::mpsc;
use std::time::Duration;

/// One test at a time: only one `with_awake_workers` call in a process spins up the workers
/// (a concurrent one just runs its closure), and the thresholds test asserts that it did.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs `body` on its own thread and fails if it takes more than a minute (a deadlock).
fn within_a_minute(body: impl FnOnce() + Send + 'static) {
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (tx, rx) = mpsc::channel();
    let handle = std::thread::spawn(move || {
        body();
        tx.send(()).unwrap();
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(()) => handle.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            // The body panicked: re-raise its panic.
            if let Err(panic) = handle.join() {
                std::panic::resume_unwind(panic);
            }
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("no result after 60 s: a deadlock"),
    }
}

fn product(g: &Gemm, m: usize, n: usize, k: usize) -> Vec<f32> {
    let a: Vec<f32> = (0..m * k).map(|i| ((i * 7) % 13) as f32 - 6.0).collect();
    let b: Vec<f32> = (0..k * n).map(|i| ((i * 5) % 11) as f32 * 0.25).collect();
    let mut c = vec![0.0f32; m * n];
    g.run(
        1.0,
        MatRef::row_major(&a, m, k).unwrap(),
        MatRef::row_major(&b, k, n).unwrap(),
        0.0,
        MatMut::row_major(&mut c, m, n).unwrap(),
    )
    .unwrap();
    c
}

#[test]
fn results_are_the_same_bits_with_and_without_awake_workers() {
    within_a_minute(|| {
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let g = Gemm::new().parallelism(Parallelism::Rayon);
            let plain = pool.install(|| product(&g, 200, 150, 300));
            // From inside the pool and from a thread outside it (the closure then runs on a worker).
            let inside = pool.install(|| with_awake_workers(|| product(&g, 200, 150, 300)));
            let outside = std::thread::scope(|s| {
                s.spawn(|| {
                    pool.install(|| {
                        with_awake_workers(|| (0..3).map(|_| product(&g, 200, 150, 300)).collect::<Vec<_>>())
                    })
                })
                .join()
                .unwrap()
            });
            assert!(plain.iter().zip(&inside).all(|(x, y)| x.to_bits() == y.to_bits()), "{threads} threads, inside");
            for c in outside {
                assert!(plain.iter().zip(&c).all(|(x, y)| x.to_bits() == y.to_bits()), "{threads} threads, outside");
            }
        }
    });
}

#[test]
fn nested_concurrent_and_in_rayon_jobs_without_deadlock() {
    within_a_minute(|| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(3).build().unwrap();
        let g = Gemm::new().parallelism(Parallelism::Rayon);
        let want = product(&g, 96, 80, 64);
        pool.install(|| {
            // Nested: the inner call just runs its closure.
            let c = with_awake_workers(|| with_awake_workers(|| product(&g, 96, 80, 64)));
            assert_eq!(c, want);
            // From inside parallel jobs of an awake call (a thread may steal a spinner while
            // it waits inside one of the closure's own tasks), and from plain rayon jobs.
            let all: Vec<Vec<f32>> = with_awake_workers(|| {
                (0..12).into_par_iter().map(|_| with_awake_workers(|| product(&g, 96, 80, 64))).collect()
            });
            assert!(all.iter().all(|c| *c == want));
        });
        // Many OS threads at once on the global pool.
        std::thread::scope(|s| {
            let handles: Vec<_> = (0..6)
                .map(|_| s.spawn(|| with_awake_workers(|| (0..4).map(|_| product(&g, 96, 80, 64)).collect::<Vec<_>>())))
                .collect();
            for h in handles {
                assert!(h.join().unwrap().iter().all(|c| *c == want));
            }
        });
    });
}

#[test]
fn a_panic_inside_reaches_the_caller_and_later_calls_still_work() {
    within_a_minute(|| {
        let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
        for _ in 0..3 {
            let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                pool.install(|| with_awake_workers(|| -> u32 { panic!("inside") }))
            }));
            assert!(caught.is_err(), "the panic propagates");
        }
        assert_eq!(pool.install(|| with_awake_workers(|| 6 * 7)), 42);
        let g = Gemm::new().parallelism(Parallelism::Rayon);
        assert_eq!(
            pool.install(|| with_awake_workers(|| product(&g, 64, 64, 64))),
            pool.install(|| product(&g, 64, 64, 64))
        );
    });
}

#[test]
fn auto_splits_smaller_products_while_the_workers_are_awake() {
    use lanes_kernels::ops::gemm::{Strategy, AWAKE_PARALLEL_THRESHOLD_FLOP, PARALLEL_THRESHOLD_FLOP};
    let _serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
    let g = Gemm::new();
    let threads_of = |m: usize, n: usize, k: usize| {
        let b = vec![0.5f32; k * n];
        let packed = g.pack_b(MatRef::row_major(&b, k, n).unwrap()).unwrap();
        let (a, mut c) = (vec![1.0f32; m * k], vec![0.0f32; m * n]);
        let s = g.plan_packed(
            1.0,
            MatRef::row_major(&a, m, k).unwrap(),
            &packed,
            &mut MatMut::row_major(&mut c, m, n).unwrap(),
        );
        match s.unwrap() {
            Strategy::Blocked(p) => p.threads,
            other => panic!("{m}x{n}x{k}: not blocked: {other:?}"),
        }
    };
    // A GEMV layer between the two thresholds (1 x 512 x 784), and one below both.
    let (mid, small) = ((1, 512, 784), (1, 64, 512));
    assert!((AWAKE_PARALLEL_THRESHOLD_FLOP..PARALLEL_THRESHOLD_FLOP).contains(&(512 * 784)));
    pool.install(|| {
        assert_eq!(threads_of(mid.0, mid.1, mid.2), 1, "workers asleep: one thread");
        assert_eq!(with_awake_workers(|| threads_of(mid.0, mid.1, mid.2)), 2, "workers awake: two");
        assert_eq!(with_awake_workers(|| threads_of(small.0, small.1, small.2)), 1, "too small even then");
        assert_eq!(threads_of(mid.0, mid.1, mid.2), 1, "asleep again after the call");
    });
}
