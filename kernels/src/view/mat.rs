//! Matrix views: a slice plus rows/cols and signed strides, validated once at construction so
//! the kernels can index without further checks.

use crate::error::KernelError;
use std::fmt;
use std::marker::PhantomData;

/// Offset range `[min, max]` (in elements, relative to the origin) touched by a strided view.
pub(crate) fn extent_of(rows: usize, cols: usize, rs: isize, cs: isize) -> Result<(isize, isize), KernelError> {
    let overflow = || KernelError::StrideOverflow { rows, cols, row_stride: rs, col_stride: cs };
    if rows == 0 || cols == 0 {
        return Ok((0, 0));
    }
    let r = isize::try_from(rows - 1).map_err(|_| overflow())?;
    let c = isize::try_from(cols - 1).map_err(|_| overflow())?;
    let dr = r.checked_mul(rs).ok_or_else(overflow)?;
    let dc = c.checked_mul(cs).ok_or_else(overflow)?;
    let lo = dr.min(0).checked_add(dc.min(0)).ok_or_else(overflow)?;
    let hi = dr.max(0).checked_add(dc.max(0)).ok_or_else(overflow)?;
    // Keep every element offset representable in bytes too, so pointer arithmetic never wraps.
    hi.checked_sub(lo)
        .and_then(|span| span.checked_add(1))
        .and_then(|n| n.checked_mul(std::mem::size_of::<f32>() as isize))
        .ok_or_else(overflow)?;
    Ok((lo, hi))
}

/// Checks a view against a slice of `len` elements starting at element `offset`.
#[inline]
fn check(len: usize, offset: usize, rows: usize, cols: usize, rs: isize, cs: isize) -> Result<(), KernelError> {
    let (lo, hi) = extent_of(rows, cols, rs, cs)?;
    if rows == 0 || cols == 0 {
        return Ok(());
    }
    let too_short = |needed: usize| KernelError::SliceTooShort { needed, len };
    let off = isize::try_from(offset).map_err(|_| too_short(usize::MAX))?;
    let first = off.checked_add(lo).ok_or_else(|| too_short(usize::MAX))?;
    let last = off.checked_add(hi).ok_or_else(|| too_short(usize::MAX))?;
    if first < 0 {
        return Err(too_short(len + first.unsigned_abs()));
    }
    if last as usize >= len {
        return Err(too_short(last as usize + 1));
    }
    Ok(())
}

/// (row stride, column stride) of a dense row-major or column-major `rows x cols` layout.
#[inline]
fn dense_strides(rows: usize, cols: usize, row_major: bool) -> Result<(isize, isize), KernelError> {
    let lead = isize::try_from(if row_major { cols } else { rows });
    let too_big = |_| KernelError::StrideOverflow {
        rows,
        cols,
        row_stride: if row_major { isize::MAX } else { 1 },
        col_stride: if row_major { 1 } else { isize::MAX },
    };
    let lead = lead.map_err(too_big)?;
    Ok(if row_major { (lead, 1) } else { (1, lead) })
}

/// An immutable strided `rows x cols` view of `f32` values: element `(i, j)` is at
/// `origin + i*row_stride + j*col_stride` (strides in elements, negative and zero allowed).
///
/// Built from a slice ([`MatRef::row_major`], [`MatRef::new`], ...), from raw parts, or (with
/// the `ndarray` feature) from an `ndarray::ArrayView2`. Behaves like a `&'a [f32]`: `Copy`,
/// `Send` and `Sync`.
///
/// ```
/// use lanes_kernels::MatRef;
/// let data = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
/// let a = MatRef::row_major(&data, 2, 3)?; // [[1 2 3], [4 5 6]]
/// assert_eq!(a.get(1, 0), 4.0);
/// assert_eq!(a.t().get(0, 1), 4.0); // transposed view, no copy
/// # Ok::<(), lanes_kernels::KernelError>(())
/// ```
#[derive(Clone, Copy)]
pub struct MatRef<'a> {
    // Element (0, 0). The view does not hold a slice: an ndarray view with steps does not own
    // the elements between its own, so no reference may cover them. Every in-range element is
    // valid for reads for 'a (checked by the constructors, promised by `from_raw_parts`).
    ptr: *const f32,
    rows: usize,
    cols: usize,
    rs: isize,
    cs: isize,
    _borrow: PhantomData<&'a [f32]>,
}

/// A mutable strided `rows x cols` view of `f32` values. No two elements share memory (the
/// constructors refuse zero strides and other self-overlapping layouts with
/// [`KernelError::OverlappingOutput`]). Behaves like a `&'a mut [f32]`: `Send` and `Sync`.
pub struct MatMut<'a> {
    // Element (0, 0); every in-range element is valid for reads and writes for 'a and is
    // reached by no other live reference or view.
    ptr: *mut f32,
    rows: usize,
    cols: usize,
    rs: isize,
    cs: isize,
    _borrow: PhantomData<&'a mut [f32]>,
}

// SAFETY: a MatRef is a shared borrow of f32 values (like `&[f32]`, which is Send and Sync);
// it only ever reads through its pointer.
unsafe impl Send for MatRef<'_> {}
// SAFETY: as above.
unsafe impl Sync for MatRef<'_> {}
// SAFETY: a MatMut is a unique borrow of f32 values (like `&mut [f32]`): moving it to another
// thread moves the unique access.
unsafe impl Send for MatMut<'_> {}
// SAFETY: through `&MatMut` only reads are possible (`get`, `as_ref`), like `&&mut [f32]`.
unsafe impl Sync for MatMut<'_> {}

impl fmt::Debug for MatRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MatRef")
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .field("row_stride", &self.rs)
            .field("col_stride", &self.cs)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for MatMut<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MatMut")
            .field("rows", &self.rows)
            .field("cols", &self.cols)
            .field("row_stride", &self.rs)
            .field("col_stride", &self.cs)
            .finish_non_exhaustive()
    }
}

/// Element offset of `(i, j)`, for an in-range index of a validated view (fits in isize).
#[inline]
fn offset_of(i: usize, j: usize, rs: isize, cs: isize) -> isize {
    i as isize * rs + j as isize * cs
}

impl<'a> MatRef<'a> {
    /// A view whose element `(i, j)` is `data[offset + i*row_stride + j*col_stride]`.
    /// [`KernelError::SliceTooShort`] when an element falls outside `data`,
    /// [`KernelError::StrideOverflow`] when an offset overflows `isize`.
    #[inline]
    pub fn with_offset(
        data: &'a [f32],
        offset: usize,
        rows: usize,
        cols: usize,
        row_stride: isize,
        col_stride: isize,
    ) -> Result<Self, KernelError> {
        check(data.len(), offset, rows, cols, row_stride, col_stride)?;
        let ptr = data.as_ptr().wrapping_add(offset);
        Ok(Self { ptr, rows, cols, rs: row_stride, cs: col_stride, _borrow: PhantomData })
    }
    /// A view whose element `(i, j)` is `data[i*row_stride + j*col_stride]`.
    #[inline]
    pub fn new(
        data: &'a [f32],
        rows: usize,
        cols: usize,
        row_stride: isize,
        col_stride: isize,
    ) -> Result<Self, KernelError> {
        Self::with_offset(data, 0, rows, cols, row_stride, col_stride)
    }
    /// A dense row-major view (`row_stride = cols`).
    #[inline]
    pub fn row_major(data: &'a [f32], rows: usize, cols: usize) -> Result<Self, KernelError> {
        let (rs, cs) = dense_strides(rows, cols, true)?;
        Self::new(data, rows, cols, rs, cs)
    }
    /// A dense column-major view (`col_stride = rows`).
    #[inline]
    pub fn col_major(data: &'a [f32], rows: usize, cols: usize) -> Result<Self, KernelError> {
        let (rs, cs) = dense_strides(rows, cols, false)?;
        Self::new(data, rows, cols, rs, cs)
    }
    /// A view of memory the caller vouches for: element `(i, j)` is
    /// `ptr.offset(i*row_stride + j*col_stride)`. Checks that no offset overflows `isize`
    /// ([`KernelError::StrideOverflow`]); zero and negative strides are allowed.
    ///
    /// # Safety
    /// When `rows` and `cols` are non-zero, every element `(i, j)` with `i < rows`,
    /// `j < cols` must be valid for reads of an aligned `f32` for `'a`, and no one may write
    /// it during `'a`. Memory between the elements is never touched.
    #[inline]
    pub unsafe fn from_raw_parts(
        ptr: *const f32,
        rows: usize,
        cols: usize,
        row_stride: isize,
        col_stride: isize,
    ) -> Result<Self, KernelError> {
        extent_of(rows, cols, row_stride, col_stride)?;
        Ok(Self { ptr, rows, cols, rs: row_stride, cs: col_stride, _borrow: PhantomData })
    }
    /// The transposed view (no copy).
    pub fn t(self) -> Self {
        Self { rows: self.cols, cols: self.rows, rs: self.cs, cs: self.rs, ..self }
    }
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// Distance in elements from `(i, j)` to `(i + 1, j)`.
    pub fn row_stride(&self) -> isize {
        self.rs
    }
    /// Distance in elements from `(i, j)` to `(i, j + 1)`.
    pub fn col_stride(&self) -> isize {
        self.cs
    }
    /// Element `(i, j)`; panics when out of range (for tests and the reference, not hot loops).
    pub fn get(&self, i: usize, j: usize) -> f32 {
        assert!(i < self.rows && j < self.cols, "index ({i}, {j}) out of a {}x{} view", self.rows, self.cols);
        // SAFETY: (i, j) is in range, and every in-range element is valid for reads for 'a
        // (checked by the constructors or promised to `from_raw_parts`).
        unsafe { *self.ptr.offset(offset_of(i, j, self.rs, self.cs)) }
    }
    /// Pointer to element (0, 0). Valid for every in-range `(i, j)` offset by construction
    /// (dangling for an empty view).
    pub fn as_ptr(&self) -> *const f32 {
        self.ptr
    }
}

impl<'a> MatMut<'a> {
    /// A mutable view whose element `(i, j)` is `data[offset + i*row_stride + j*col_stride]`.
    /// Refuses strides that would make two elements share memory
    /// ([`KernelError::OverlappingOutput`]), besides the errors of [`MatRef::with_offset`].
    #[inline]
    pub fn with_offset(
        data: &'a mut [f32],
        offset: usize,
        rows: usize,
        cols: usize,
        row_stride: isize,
        col_stride: isize,
    ) -> Result<Self, KernelError> {
        check(data.len(), offset, rows, cols, row_stride, col_stride)?;
        if !distinct(rows, cols, row_stride, col_stride) {
            return Err(KernelError::OverlappingOutput { rows, cols, row_stride, col_stride });
        }
        let ptr = data.as_mut_ptr().wrapping_add(offset);
        Ok(Self { ptr, rows, cols, rs: row_stride, cs: col_stride, _borrow: PhantomData })
    }
    /// A mutable view whose element `(i, j)` is `data[i*row_stride + j*col_stride]`.
    #[inline]
    pub fn new(
        data: &'a mut [f32],
        rows: usize,
        cols: usize,
        row_stride: isize,
        col_stride: isize,
    ) -> Result<Self, KernelError> {
        Self::with_offset(data, 0, rows, cols, row_stride, col_stride)
    }
    /// A dense row-major mutable view (`row_stride = cols`).
    #[inline]
    pub fn row_major(data: &'a mut [f32], rows: usize, cols: usize) -> Result<Self, KernelError> {
        let (rs, cs) = dense_strides(rows, cols, true)?;
        Self::new(data, rows, cols, rs, cs)
    }
    /// A dense column-major mutable view (`col_stride = rows`).
    #[inline]
    pub fn col_major(data: &'a mut [f32], rows: usize, cols: usize) -> Result<Self, KernelError> {
        let (rs, cs) = dense_strides(rows, cols, false)?;
        Self::new(data, rows, cols, rs, cs)
    }
    /// A mutable view of memory the caller vouches for: element `(i, j)` is
    /// `ptr.offset(i*row_stride + j*col_stride)`. Checks that no offset overflows `isize`
    /// ([`KernelError::StrideOverflow`]) and that no two elements share memory
    /// ([`KernelError::OverlappingOutput`]: zero strides, interleaved axes).
    ///
    /// # Safety
    /// When `rows` and `cols` are non-zero, every element `(i, j)` with `i < rows`,
    /// `j < cols` must be valid for reads and writes of an aligned `f32` for `'a`, and no one
    /// else may read or write it during `'a`. Memory between the elements is never touched.
    #[inline]
    pub unsafe fn from_raw_parts(
        ptr: *mut f32,
        rows: usize,
        cols: usize,
        row_stride: isize,
        col_stride: isize,
    ) -> Result<Self, KernelError> {
        extent_of(rows, cols, row_stride, col_stride)?;
        if !distinct(rows, cols, row_stride, col_stride) {
            return Err(KernelError::OverlappingOutput { rows, cols, row_stride, col_stride });
        }
        Ok(Self { ptr, rows, cols, rs: row_stride, cs: col_stride, _borrow: PhantomData })
    }
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.rows
    }
    /// Number of columns.
    pub fn cols(&self) -> usize {
        self.cols
    }
    /// Distance in elements from `(i, j)` to `(i + 1, j)`.
    pub fn row_stride(&self) -> isize {
        self.rs
    }
    /// Distance in elements from `(i, j)` to `(i, j + 1)`.
    pub fn col_stride(&self) -> isize {
        self.cs
    }
    /// Element `(i, j)`; panics when out of range.
    pub fn get(&self, i: usize, j: usize) -> f32 {
        self.as_ref().get(i, j)
    }
    /// Writes element `(i, j)`; panics when out of range.
    pub fn set(&mut self, i: usize, j: usize, v: f32) {
        assert!(i < self.rows && j < self.cols, "index ({i}, {j}) out of a {}x{} view", self.rows, self.cols);
        // SAFETY: (i, j) is in range, and every in-range element is valid for writes for 'a
        // and unique to this view (constructors / `from_raw_parts` contract); `&mut self`.
        unsafe { *self.ptr.offset(offset_of(i, j, self.rs, self.cs)) = v }
    }
    /// Pointer to element (0, 0) (dangling for an empty view).
    pub fn as_mut_ptr(&mut self) -> *mut f32 {
        self.ptr
    }
    /// A read-only view of the same elements, borrowed from this one.
    pub fn as_ref(&self) -> MatRef<'_> {
        MatRef { ptr: self.ptr, rows: self.rows, cols: self.cols, rs: self.rs, cs: self.cs, _borrow: PhantomData }
    }
    /// A shorter-lived mutable view of the same elements.
    pub fn rb_mut(&mut self) -> MatMut<'_> {
        MatMut { ptr: self.ptr, rows: self.rows, cols: self.cols, rs: self.rs, cs: self.cs, _borrow: PhantomData }
    }
}

/// True when `(i, j) -> i*rs + j*cs` is injective on the `rows x cols` grid.
/// Sufficient test: order the two axes by |stride|; the larger stride must exceed the
/// span covered by the smaller axis.
pub(crate) fn distinct(rows: usize, cols: usize, rs: isize, cs: isize) -> bool {
    if rows == 0 || cols == 0 || (rows == 1 && cols == 1) {
        return true;
    }
    if rows <= 1 {
        return cs != 0;
    }
    if cols <= 1 {
        return rs != 0;
    }
    let (small_n, small_s, big_s) = if rs.unsigned_abs() <= cs.unsigned_abs() {
        (rows, rs.unsigned_abs(), cs.unsigned_abs())
    } else {
        (cols, cs.unsigned_abs(), rs.unsigned_abs())
    };
    // extent() already proved these products fit in isize.
    small_s != 0 && big_s >= small_s * small_n
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_short_slices_with_numbers() {
        let d = [0.0f32; 5];
        let e = MatRef::row_major(&d, 2, 3).unwrap_err();
        assert_eq!(e, KernelError::SliceTooShort { needed: 6, len: 5 });
        assert!(e.to_string().contains("needs 6"));
    }

    #[test]
    fn rejects_overflowing_strides() {
        let d = [0.0f32; 4];
        let e = MatRef::new(&d, 3, 2, isize::MAX / 2, 1).unwrap_err();
        assert!(matches!(e, KernelError::StrideOverflow { rows: 3, cols: 2, .. }), "{e}");
        let e = MatRef::new(&d, usize::MAX, 2, 1, 1).unwrap_err();
        assert!(matches!(e, KernelError::StrideOverflow { .. }), "{e}");
    }

    #[test]
    fn negative_strides_are_checked_against_the_offset() {
        let d = [1.0f32, 2.0, 3.0, 4.0];
        let v = MatRef::with_offset(&d, 3, 2, 2, -2, -1).unwrap();
        assert_eq!(v.get(0, 0), 4.0);
        assert_eq!(v.get(1, 1), 1.0);
        assert!(MatRef::with_offset(&d, 2, 2, 2, -2, -1).is_err());
    }

    #[test]
    fn output_views_must_not_overlap_themselves() {
        let mut d = [0.0f32; 16];
        assert!(matches!(MatMut::new(&mut d, 2, 2, 0, 1), Err(KernelError::OverlappingOutput { .. })));
        assert!(matches!(MatMut::new(&mut d, 3, 3, 2, 1), Err(KernelError::OverlappingOutput { .. })));
        assert!(MatMut::new(&mut d, 3, 3, 1, 3).is_ok());
        assert!(MatMut::new(&mut d, 1, 4, 0, 1).is_ok());
    }

    #[test]
    fn empty_views_need_no_memory() {
        assert!(MatRef::row_major(&[], 0, 7).is_ok());
        assert!(MatRef::new(&[], 7, 0, isize::MAX, isize::MAX).is_ok());
    }
}
