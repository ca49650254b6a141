//! 64-byte aligned f32 buffers and per-thread scratch space, for packing and workspaces.

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

impl AlignedVec {
    pub fn zeroed(len: usize) -> Self {
        Self { lines: vec![Line([0.0; 16]); len.div_ceil(16)], len }
    }
    /// Like `zeroed`, but `None` instead of aborting when the allocation fails.
    pub fn try_zeroed(len: usize) -> Option<Self> {
        let mut lines = Vec::new();
        lines.try_reserve_exact(len.div_ceil(16)).ok()?;
        lines.resize(len.div_ceil(16), Line([0.0; 16]));
        Some(Self { lines, len })
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
    /// Grows (never shrinks) to at least `len` elements.
    pub fn ensure(&mut self, len: usize) {
        if self.lines.len() * 16 < len {
            self.lines.resize(len.div_ceil(16), Line([0.0; 16]));
        }
        self.len = self.len.max(len);
    }
}

/// A `Vec` of `len` values written by `fill` (given the start of the uninitialised storage)
/// without zeroing them first: an output the caller would otherwise allocate zeroed only for
/// the kernel to overwrite. `TooLarge` (naming `what`, `rows x cols = len`) when it cannot be
/// allocated.
///
/// # Safety
/// When `fill` returns `Ok`, it has written all `len` values.
pub(crate) unsafe fn vec_written_by(
    (what, rows, cols): (&'static str, usize, usize),
    fill: impl FnOnce(*mut f32) -> Result<(), KernelError>,
) -> Result<Vec<f32>, KernelError> {
    let len = rows.checked_mul(cols).ok_or(KernelError::TooLarge { what, rows, cols })?;
    let mut v: Vec<f32> = Vec::new();
    v.try_reserve_exact(len).map_err(|_| KernelError::TooLarge { what, rows, cols })?;
    fill(v.spare_capacity_mut().as_mut_ptr().cast::<f32>())?;
    // SAFETY: the capacity is at least `len`, and `fill` wrote every value (the caller's
    // contract).
    unsafe { v.set_len(len) };
    Ok(v)
}

/// A per-thread scratch buffer (declare with `thread_local!`).
pub(crate) type Scratch = RefCell<AlignedVec>;

/// Runs `f` with the thread's scratch buffer `key`, grown to at least `len` values (a fresh
/// buffer when the thread's is already in use, e.g. by a nested call from a rayon job).
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
        Err(_) => f(AlignedVec::zeroed(len).as_mut_slice()),
    })
}
