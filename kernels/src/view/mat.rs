//! Matrix views: a slice plus rows/cols and signed strides, validated once at construction so
//! the kernels can index without further checks.

use crate::error::KernelError;

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

/// An immutable strided `rows x cols` view of `f32` values.
#[derive(Clone, Copy, Debug)]
pub struct MatRef<'a> {
    data: &'a [f32],
    offset: usize,
    rows: usize,
    cols: usize,
    rs: isize,
    cs: isize,
}

/// A mutable strided `rows x cols` view of `f32` values. No two elements share memory.
#[derive(Debug)]
pub struct MatMut<'a> {
    data: &'a mut [f32],
    offset: usize,
    rows: usize,
    cols: usize,
    rs: isize,
    cs: isize,
}

impl<'a> MatRef<'a> {
    /// A view whose element `(i, j)` is `data[offset + i*row_stride + j*col_stride]`.
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
        Ok(Self { data, offset, rows, cols, rs: row_stride, cs: col_stride })
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
    /// The transposed view (no copy).
    pub fn t(self) -> Self {
        Self { rows: self.cols, cols: self.rows, rs: self.cs, cs: self.rs, ..self }
    }
    pub fn rows(&self) -> usize {
        self.rows
    }
    pub fn cols(&self) -> usize {
        self.cols
    }
    pub fn row_stride(&self) -> isize {
        self.rs
    }
    pub fn col_stride(&self) -> isize {
        self.cs
    }
    /// Element `(i, j)`; panics when out of range (for tests and the reference, not hot loops).
    pub fn get(&self, i: usize, j: usize) -> f32 {
        self.data[self.index(i, j)]
    }
    /// Slice index of element `(i, j)`; panics when out of range.
    fn index(&self, i: usize, j: usize) -> usize {
        assert!(i < self.rows && j < self.cols, "index ({i}, {j}) out of a {}x{} view", self.rows, self.cols);
        (self.offset as isize + i as isize * self.rs + j as isize * self.cs) as usize
    }
    /// Pointer to element (0, 0). Valid for every in-range `(i, j)` offset by construction.
    pub fn as_ptr(&self) -> *const f32 {
        self.data.as_ptr().wrapping_add(self.offset)
    }
}

impl<'a> MatMut<'a> {
    /// A mutable view whose element `(i, j)` is `data[offset + i*row_stride + j*col_stride]`.
    /// Refuses strides that would make two elements share memory.
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
        Ok(Self { data, offset, rows, cols, rs: row_stride, cs: col_stride })
    }
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
    #[inline]
    pub fn row_major(data: &'a mut [f32], rows: usize, cols: usize) -> Result<Self, KernelError> {
        let (rs, cs) = dense_strides(rows, cols, true)?;
        Self::new(data, rows, cols, rs, cs)
    }
    #[inline]
    pub fn col_major(data: &'a mut [f32], rows: usize, cols: usize) -> Result<Self, KernelError> {
        let (rs, cs) = dense_strides(rows, cols, false)?;
        Self::new(data, rows, cols, rs, cs)
    }
    pub fn rows(&self) -> usize {
        self.rows
    }
    pub fn cols(&self) -> usize {
        self.cols
    }
    pub fn row_stride(&self) -> isize {
        self.rs
    }
    pub fn col_stride(&self) -> isize {
        self.cs
    }
    pub fn get(&self, i: usize, j: usize) -> f32 {
        self.as_ref().get(i, j)
    }
    pub fn set(&mut self, i: usize, j: usize, v: f32) {
        let idx = self.as_ref().index(i, j);
        self.data[idx] = v;
    }
    pub fn as_mut_ptr(&mut self) -> *mut f32 {
        self.data.as_mut_ptr().wrapping_add(self.offset)
    }
    pub fn as_ref(&self) -> MatRef<'_> {
        MatRef { data: self.data, offset: self.offset, rows: self.rows, cols: self.cols, rs: self.rs, cs: self.cs }
    }
    /// A shorter-lived mutable view of the same elements.
    pub fn rb_mut(&mut self) -> MatMut<'_> {
        MatMut { data: self.data, offset: self.offset, rows: self.rows, cols: self.cols, rs: self.rs, cs: self.cs }
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
