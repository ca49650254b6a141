//! 64-byte aligned f32 buffers and per-thread scratch space, for packing and workspaces, and
//! the fallible allocation helpers: every buffer whose size depends on the caller's input is
//! allocated with `try_reserve_exact` after checked size arithmetic, so that a size that
//! overflows is [`KernelError::TooLarge`] and an allocation the allocator refuses is
//! [`KernelError::AllocationFailed`], never an abort.

use crate::error::KernelError;
use std::cell::RefCell;

#[repr(C, align(64))]
#[derive(Clone, Copy)]
struct Line([f32; 16]);

/// A fixed-size f32 buffer aligned to 64 bytes.
pub(crate) struct AlignedVec {
    lines: Vec<Line>,
    len: usize,
}

/// `rows * cols` values of `T`: their count, or `TooLarge` when the count or its size in
/// bytes overflows (`isize::MAX` bytes is the most any allocation can hold).
pub(crate) fn checked_len<T>(what: &'static str, rows: usize, cols: usize) -> Result<usize, KernelError> {
    rows.checked_mul(cols)
        .filter(|n| n.checked_mul(std::mem::size_of::<T>()).is_some_and(|b| b <= isize::MAX as usize))
        .ok_or(KernelError::TooLarge { what, rows, cols })
}

/// The error for `len` values of `T` that could not be allocated.
#[cold]
fn failed<T>(what: &'static str, len: usize) -> KernelError {
    KernelError::AllocationFailed { what, bytes: len.saturating_mul(std::mem::size_of::<T>()) }
}

/// An empty vector with room for exactly `len` values, or `AllocationFailed`.
pub(crate) fn try_with_capacity<T>(what: &'static str, len: usize) -> Result<Vec<T>, KernelError> {
    let mut v = Vec::new();
    v.try_reserve_exact(len).map_err(|_| failed::<T>(what, len))?;
    Ok(v)
}

/// `len` copies of `value`, or `AllocationFailed`.
pub(crate) fn try_filled<T: Clone>(what: &'static str, len: usize, value: T) -> Result<Vec<T>, KernelError> {
    let mut v = try_with_capacity(what, len)?;
    v.resize(len, value);
    Ok(v)
}

/// A copy of `src`, or `AllocationFailed`.
pub(crate) fn try_to_vec<T: Clone>(what: &'static str, src: &[T]) -> Result<Vec<T>, KernelError> {
    let mut v = try_with_capacity(what, src.len())?;
    v.extend_from_slice(src);
    Ok(v)
}

/// The values of `iter` (of exactly known length), or `AllocationFailed`.
pub(crate) fn try_collect<T>(
    what: &'static str,
    iter: impl ExactSizeIterator<Item = T>,
) -> Result<Vec<T>, KernelError> {
    let mut v = try_with_capacity(what, iter.len())?;
    v.extend(iter);
    Ok(v)
}

impl AlignedVec {
    /// An empty buffer (allocates nothing).
    pub const fn new() -> Self {
        Self { lines: Vec::new(), len: 0 }
    }
    /// `len` zeros, or `AllocationFailed` (`what` names the buffer) instead of aborting when
    /// the allocation fails.
    pub fn try_zeroed(what: &'static str, len: usize) -> Result<Self, KernelError> {
        let mut v = Self::new();
        v.try_ensure(what, len)?;
        Ok(v)
    }
    pub fn as_slice(&self) -> &[f32] {
        // SAFETY: `Line` is `repr(C)` around `[f32; 16]`, so `lines` is `16 * lines.len() >= len`
        // initialised, contiguous f32 values.
        unsafe { std::slice::from_raw_parts(self.lines.as_ptr() as *const f32, self.len) }
    }
    pub fn as_mut_slice(&mut self) -> &mut [f32] {
        // SAFETY: as in `as_slice`, and we hold `&mut self`.
        unsafe { std::slice::from_raw_parts_mut(self.lines.as_mut_ptr() as *mut f32, self.len) }
    }
    /// Grows (never shrinks) to at least `len` elements; `AllocationFailed` (and unchanged)
    /// when the allocator refuses.
    pub fn try_ensure(&mut self, what: &'static str, len: usize) -> Result<(), KernelError> {
        let lines = len.div_ceil(16);
        if self.lines.len() < lines {
            self.lines.try_reserve_exact(lines - self.lines.len()).map_err(|_| failed::<Line>(what, lines))?;
            self.lines.resize(lines, Line([0.0; 16]));
        }
        self.len = self.len.max(len);
        Ok(())
    }
    /// Grows (never shrinks) to at least `len` elements, aborting when the allocator refuses
    /// (for the bounded buffers of [`with_scratch`] only).
    fn ensure(&mut self, len: usize) {
        if self.lines.len() * 16 < len {
            self.lines.resize(len.div_ceil(16), Line([0.0; 16]));
        }
        self.len = self.len.max(len);
    }
}

/// A `Vec` of `rows x cols` values written by `fill` (given the start of the uninitialised
/// storage) without zeroing them first: an output the caller would otherwise allocate zeroed
/// only for the kernel to overwrite. `TooLarge` / `AllocationFailed` (naming `what`) when it
/// cannot be allocated.
///
/// # Safety
/// When `fill` returns `Ok`, it has written all `rows * cols` values.
pub(crate) unsafe fn vec_written_by(
    (what, rows, cols): (&'static str, usize, usize),
    fill: impl FnOnce(*mut f32) -> Result<(), KernelError>,
) -> Result<Vec<f32>, KernelError> {
    let len = checked_len::<f32>(what, rows, cols)?;
    let mut v: Vec<f32> = try_with_capacity(what, len)?;
    fill(v.spare_capacity_mut().as_mut_ptr().cast::<f32>())?;
    // SAFETY: the capacity is at least `len`, and `fill` wrote every value (the caller's
    // contract).
    unsafe { v.set_len(len) };
    Ok(v)
}

/// A per-thread scratch buffer (declare with `thread_local!`).
pub(crate) type Scratch = RefCell<AlignedVec>;

/// Runs `f` with the thread's scratch buffer `key`, grown to at least `len` values (a fresh
/// buffer when the thread's is already in use, e.g. by a nested call from a rayon job);
/// `AllocationFailed` (naming `what`), without calling `f`, when the buffer cannot grow.
pub(crate) fn try_with_scratch<R>(
    key: &'static std::thread::LocalKey<Scratch>,
    what: &'static str,
    len: usize,
    f: impl FnOnce(&mut [f32]) -> R,
) -> Result<R, KernelError> {
    key.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.try_ensure(what, len)?;
            Ok(f(&mut buf.as_mut_slice()[..len]))
        }
        Err(_) => Ok(f(AlignedVec::try_zeroed(what, len)?.as_mut_slice())),
    })
}

/// Grows the thread's scratch buffer `key` to at least `len` values ahead of a call that will
/// use it (through [`with_scratch`]), so that the call does not allocate: `AllocationFailed`
/// when it cannot. Nothing to do when the buffer is in use (a nested call, which gets a fresh
/// buffer).
pub(crate) fn try_reserve_scratch(
    key: &'static std::thread::LocalKey<Scratch>,
    what: &'static str,
    len: usize,
) -> Result<(), KernelError> {
    key.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => buf.try_ensure(what, len),
        Err(_) => Ok(()),
    })
}

/// Runs `f` with the thread's scratch buffer `key`, grown to at least `len` values. For the
/// buffers whose size the block sizes bound (a few MiB at most) and which the call reserved
/// beforehand on its own thread ([`try_reserve_scratch`]): only a rayon worker's first use
/// (or a nested call) allocates here, and aborts like any small allocation when memory is
/// exhausted.
pub(crate) fn with_scratch<R>(
    key: &'static std::thread::LocalKey<Scratch>,
    len: usize,
    f: impl FnOnce(&mut [f32]) -> R,
) -> R {
    key.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            buf.ensure(len);
            f(&mut buf.as_mut_slice()[..len])
        }
        Err(_) => {
            let mut buf = AlignedVec::new();
            buf.ensure(len);
            f(buf.as_mut_slice())
        }
    })
}
