//! Keeping rayon's workers awake through a run of parallel sections (a model's forward pass).
//! An idle rayon worker goes to sleep within microseconds, and waking it took 50-100 us on the
//! 2-vCPU VMs measured (docs/gemm-tuning.md, "Threads"): more than the whole parallel work of
//! many layers, so each section after a sequential stretch ran mostly on one thread.

#[cfg(feature = "rayon")]
use std::cell::Cell;
#[cfg(feature = "rayon")]
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Rounds without work after which a spinning worker leaves (each round: one look for work
/// and [`PAUSES_PER_ROUND`] pause instructions, about 1-2 us on x86): the pool goes back to
/// sleeping through long sequential stretches, and a spinner that finds itself inside one of
/// `f`'s own tasks (possible with 3+ threads) cannot hold `f` up for long.
#[cfg(feature = "rayon")]
const IDLE_ROUNDS: u32 = 1000;

/// Pause instructions between two looks for work: fewer looks, less traffic on the deques the
/// working threads use.
#[cfg(feature = "rayon")]
const PAUSES_PER_ROUND: u32 = 32;

/// `with_awake_workers` calls running now (anywhere): a nested or concurrent call just runs
/// its closure, so spinners never wait on each other.
#[cfg(feature = "rayon")]
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

#[cfg(feature = "rayon")]
thread_local! {
    /// Set on the thread running the closure of a `with_awake_workers` call.
    static AWAKE_HERE: Cell<bool> = const { Cell::new(false) };
}

/// Whether this thread runs the closure of a [`with_awake_workers`] call: its pool's other
/// workers are spinning, so a fork costs a few microseconds instead of a wake-up.
#[cfg(feature = "rayon")]
pub(crate) fn workers_awake() -> bool {
    AWAKE_HERE.with(Cell::get)
}

/// Whether this thread is a worker of a rayon pool (where [`with_awake_workers`] costs about a
/// microsecond; from other threads it costs a trip into the pool and back). `false` without
/// the `rayon` feature.
pub fn on_pool_thread() -> bool {
    #[cfg(feature = "rayon")]
    return rayon::current_thread_index().is_some();
    #[cfg(not(feature = "rayon"))]
    false
}

/// Runs `f` on a thread of the current rayon pool while the pool's other workers stay awake,
/// and returns its result. Each other worker runs a spinner that executes rayon work as it
/// appears ([`rayon::yield_now`]) until `f` returns, or until it has found none for about a
/// millisecond. The parallel sections inside `f` (GEMMs, convolutions of a forward pass) then
/// start on every thread at once instead of waiting for sleeping workers to wake; from a
/// thread outside the pool, `f` runs on a worker (one trip into the pool for the whole of `f`,
/// not one per section).
///
/// The spinning workers keep their cores busy while `f` runs, as ONNX Runtime's spinning
/// workers do. One call at a time per process spins: with one thread, while another
/// `with_awake_workers` call runs (nested or on another thread), or without the `rayon`
/// feature, `f` simply runs here.
///
/// Inside `f`, `Parallelism::Auto` splits products from
/// [`crate::ops::gemm::AWAKE_PARALLEL_THRESHOLD_FLOP`] multiply-adds (forks are cheap there)
/// instead of [`crate::ops::gemm::PARALLEL_THRESHOLD_FLOP`]: a product between the two runs on
/// the pool's threads instead of one, and like any change of thread count that may change its
/// last bits (docs/using-lanes.md, "Determinism"). With `Sequential` or `Rayon` the work is
/// split exactly as without it, only started sooner: the same bits.
///
/// ```
/// let y = lanes_kernels::with_awake_workers(|| 6 * 7);
/// assert_eq!(y, 42);
/// ```
pub fn with_awake_workers<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    #[cfg(feature = "rayon")]
    {
        let threads = rayon::current_num_threads();
        if threads <= 1 {
            return f();
        }
        let _active = Leave(&ACTIVE);
        if ACTIVE.fetch_add(1, Ordering::AcqRel) > 0 {
            return f();
        }
        let done = AtomicBool::new(false);
        let done = &done;
        rayon::scope(move |s| {
            let owner = rayon::current_thread_index();
            for _ in 1..threads {
                s.spawn(move |_| spin(done, owner));
            }
            // Set on return and on unwind: the scope waits for the spinners to see it.
            let _done = SetOnDrop(done);
            let _here = AwakeHere::enter();
            f()
        })
    }
    #[cfg(not(feature = "rayon"))]
    f()
}

/// Executes rayon work until `done` or [`IDLE_ROUNDS`] rounds without any; returns at once on
/// `owner`, the thread running `f` (which pops its own spinner when it waits inside `f`).
#[cfg(feature = "rayon")]
fn spin(done: &AtomicBool, owner: Option<usize>) {
    if rayon::current_thread_index() == owner {
        return;
    }
    let mut idle = 0;
    while !done.load(Ordering::Acquire) && idle < IDLE_ROUNDS {
        if rayon::yield_now() == Some(rayon::Yield::Executed) {
            idle = 0;
        } else {
            idle += 1;
            for _ in 0..PAUSES_PER_ROUND {
                std::hint::spin_loop();
            }
        }
    }
}

#[cfg(feature = "rayon")]
struct SetOnDrop<'a>(&'a AtomicBool);

#[cfg(feature = "rayon")]
impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Counts the call out of [`ACTIVE`] on return and on unwind.
#[cfg(feature = "rayon")]
struct Leave<'a>(&'a AtomicUsize);

#[cfg(feature = "rayon")]
impl Drop for Leave<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// [`AWAKE_HERE`] for the lifetime of the guard (restored on unwind too).
#[cfg(feature = "rayon")]
struct AwakeHere(bool);

#[cfg(feature = "rayon")]
impl AwakeHere {
    fn enter() -> Self {
        AwakeHere(AWAKE_HERE.with(|a| a.replace(true)))
    }
}

#[cfg(feature = "rayon")]
impl Drop for AwakeHere {
    fn drop(&mut self) {
        AWAKE_HERE.with(|a| a.set(self.0));
    }
}
