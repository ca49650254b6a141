//! OpenBLAS through its C interface (`cblas_sgemm`), linked against the system library
//! (Debian's libopenblas-dev, 32-bit integers).

use std::ffi::{c_char, c_int, CStr};

const CBLAS_ROW_MAJOR: c_int = 101;
const CBLAS_NO_TRANS: c_int = 111;

#[link(name = "openblas")]
extern "C" {
    fn cblas_sgemm(
        order: c_int,
        trans_a: c_int,
        trans_b: c_int,
        m: c_int,
        n: c_int,
        k: c_int,
        alpha: f32,
        a: *const f32,
        lda: c_int,
        b: *const f32,
        ldb: c_int,
        beta: f32,
        c: *mut f32,
        ldc: c_int,
    );
    fn openblas_set_num_threads(n: c_int);
    fn openblas_get_corename() -> *const c_char;
    fn openblas_get_config() -> *const c_char;
}

/// Sets the threads OpenBLAS uses from now on (process-wide).
pub fn set_threads(n: usize) {
    let n = c_int::try_from(n).expect("thread count exceeds a C int");
    // SAFETY: a plain setter taking an integer, no pointers; OpenBLAS clamps it to its limits.
    unsafe { openblas_set_num_threads(n) }
}

/// The kernel family OpenBLAS picked for this CPU (e.g. `SkylakeX`, `Zen`, `Haswell`).
pub fn corename() -> String {
    // SAFETY: OpenBLAS returns a pointer to a static NUL-terminated string, valid for the
    // whole process; it is copied before the block ends.
    unsafe { CStr::from_ptr(openblas_get_corename()).to_string_lossy().trim().to_string() }
}

/// Build configuration (version, threading model, DYNAMIC_ARCH).
pub fn config() -> String {
    // SAFETY: as in `corename`: a static NUL-terminated string, copied at once.
    unsafe { CStr::from_ptr(openblas_get_config()).to_string_lossy().trim().to_string() }
}

/// The vector ISA of a core name, for efficiency: the AVX-512 kernels, else AVX2+FMA.
pub fn isa_of_core(core: &str) -> &'static str {
    let c = core.to_ascii_lowercase();
    if ["skylakex", "cooperlake", "sapphirerapids"].iter().any(|k| c.contains(k)) {
        "avx512"
    } else if ["haswell", "zen", "skylake"].iter().any(|k| c.contains(k)) {
        "avx2"
    } else {
        "unknown"
    }
}

/// Row-major `C = A*B` (m x k times k x n). Panics on slices too short or dimensions over `i32`.
pub fn sgemm(m: usize, n: usize, k: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    assert!(m > 0 && n > 0 && k > 0, "empty product");
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n, "slice too short for {m}x{n}x{k}");
    let d = |x: usize| c_int::try_from(x).expect("dimension exceeds OpenBLAS' 32-bit integers");
    let (mi, ni, ki) = (d(m), d(n), d(k));
    // SAFETY: row-major with lda = k, ldb = n, ldc = n: A, B and C span m*k, k*n and m*n
    // elements, which the slices were checked to hold; C is a `&mut` slice, so it aliases
    // neither A nor B; beta = 0, so C is only written.
    unsafe {
        cblas_sgemm(
            CBLAS_ROW_MAJOR,
            CBLAS_NO_TRANS,
            CBLAS_NO_TRANS,
            mi,
            ni,
            ki,
            1.0,
            a.as_ptr(),
            ki,
            b.as_ptr(),
            ni,
            0.0,
            c.as_mut_ptr(),
            ni,
        )
    }
}
