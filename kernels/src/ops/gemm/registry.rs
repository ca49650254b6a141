//! The one list of GEMM microkernels, and [`AvailableKernel`]: a kernel whose ISA this CPU
//! runs, the only way to reach a kernel's functions. The planner, the tests and the benches
//! all start here; adding a kernel is one line in `KERNELS` (listed by [`microkernels`]).

use super::kernels;
use super::ukernel::{Dot, MicroKernel, Tile, Variant, VariantFn, VariantKind};
use crate::activation::Activation;
use crate::error::KernelError;
use crate::isa::Isa;

/// Every GEMM microkernel compiled into this build, slowest ISA first; within an ISA, in the
/// order [`select`] prefers them.
static KERNELS: &[&MicroKernel] = &[
    &kernels::sgemm_4x4_scalar::SGEMM_4X4_SCALAR,
    &kernels::sgemm_2x16_portable::SGEMM_2X16_PORTABLE,
    #[cfg(target_arch = "x86_64")]
    &kernels::x86_64::sgemm_6x16_avx2_fma::SGEMM_6X16_AVX2_FMA,
    #[cfg(target_arch = "x86_64")]
    &kernels::x86_64::sgemm_4x64_avx512::SGEMM_4X64_AVX512,
    #[cfg(target_arch = "x86_64")]
    &kernels::x86_64::sgemm_10x32_avx512::SGEMM_10X32_AVX512,
    #[cfg(target_arch = "aarch64")]
    &kernels::aarch64::sgemm_8x12_neon::SGEMM_8X12_NEON,
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    &kernels::wasm32::sgemm_5x8_wasm_simd128::SGEMM_5X8_WASM_SIMD128,
    #[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
    &kernels::wasm32::sgemm_6x8_wasm_relaxed::SGEMM_6X8_WASM_RELAXED,
];

/// Every GEMM microkernel compiled into this build (descriptors: whether this CPU can run one
/// is [`AvailableKernel::new`]'s answer).
pub fn microkernels() -> &'static [&'static MicroKernel] {
    KERNELS
}

/// The compiled kernel called `name` (e.g. `sgemm_4x64_avx512`).
pub fn find(name: &str) -> Option<&'static MicroKernel> {
    KERNELS.iter().copied().find(|k| k.name == name)
}

/// The kernel variant called `name` (e.g. `sgemm_4x64_avx512.masked_3x32`, see
/// [`Variant::name`]).
pub fn find_variant(name: &str) -> Option<Variant> {
    let (kernel, _) = name.split_once('.')?;
    find(kernel)?.variants().into_iter().find(|v| v.name() == name)
}

/// Every kernel this CPU can run.
pub fn available() -> impl Iterator<Item = AvailableKernel> {
    KERNELS.iter().copied().filter_map(AvailableKernel::new)
}

/// The kernel of `isa` for an `m x n x k` product. Kernels of one ISA are listed in order of
/// preference; rules by CPU and shape pick another:
/// - AVX-512 on Intel (two full 512-bit FMA units), and AVX-512 with `n <= 32` anywhere:
///   `sgemm_10x32_avx512` (20 accumulators; for `n <= 32` the 4x64 tile would run masked
///   4x16/4x32 tiles with 4-8). On Sapphire Rapids, through the driver, against 4x64: 1.00-1.25x
///   on every shape of gemm.txt, 1.2-1.7x with n <= 32 (docs/gemm-tuning.md). AMD Zen 4 keeps
///   4x64 for wider products (measured best there).
pub fn select(isa: Isa, m: usize, n: usize, k: usize) -> Result<AvailableKernel, KernelError> {
    let _ = (m, n, k); // (n is read by the x86 rules only)
    #[cfg(target_arch = "x86_64")]
    let preferred = match isa {
        Isa::Avx512 if n <= 32 || crate::isa::is_intel() => Some("sgemm_10x32_avx512"),
        _ => None,
    };
    #[cfg(not(target_arch = "x86_64"))]
    let preferred: Option<&str> = None;
    if let Some(kernel) = preferred.and_then(|name| available().find(|k| k.name == name)) {
        return Ok(kernel);
    }
    available().find(|kern| kern.isa == isa).ok_or(KernelError::IsaUnavailable { isa: isa.name() })
}

/// A microkernel whose ISA this CPU (and build) runs. Only [`AvailableKernel::new`] makes
/// one, after the CPU check: holding one is the proof that calling its functions is sound.
#[derive(Clone, Copy, Debug)]
pub struct AvailableKernel(&'static MicroKernel);

impl AvailableKernel {
    /// `Some` when this CPU runs `kernel`'s ISA.
    pub fn new(kernel: &'static MicroKernel) -> Option<Self> {
        kernel.isa.is_available().then_some(Self(kernel))
    }

    /// The kernel called `name`, if compiled in and runnable here; a typed error otherwise.
    pub fn by_name(name: &str) -> Result<Self, KernelError> {
        let kernel = find(name).ok_or_else(|| KernelError::UnknownKernel { name: name.to_string() })?;
        Self::new(kernel).ok_or(KernelError::IsaUnavailable { isa: kernel.isa.name() })
    }

    /// The descriptor.
    pub fn kernel(&self) -> &'static MicroKernel {
        self.0
    }

    /// Every function of the kernel ([`MicroKernel::variants`]).
    pub fn variants(&self) -> Vec<Variant> {
        self.0.variants()
    }

    /// The full `MR x NR` tile the driver runs on packed A (the `ABroadcast` one where the
    /// kernel has it): what the tile benches time. Its A layout: [`Variant::a_lanes`].
    pub fn packed_tile(&self) -> Option<Variant> {
        let kind = if self.0.packed_a_lanes() > 1 { VariantKind::ABroadcast } else { VariantKind::Tile };
        self.variants().into_iter().find(|v| v.kind == kind && v.m == self.0.mr)
    }

    /// The `Tile::cols` values variant `v` takes: for a masked tile (and an indirect one of a
    /// kernel with masked tiles) more columns than one vector fewer holds, up to its width
    /// (the planner runs the narrowest that covers a panel); for the others its width.
    pub fn masked_cols(&self, v: &Variant) -> std::ops::RangeInclusive<usize> {
        let masks = v.kind == VariantKind::Masked || (v.kind == VariantKind::Indirect && !self.0.masked.is_empty());
        if !masks {
            return v.width..=v.width;
        }
        let granule = self.0.nr / self.0.masked.len();
        (v.width.saturating_sub(granule) + 1)..=v.width
    }

    /// Runs one tile variant on checked slices: the per-kernel tester's and the benches' way
    /// to call a kernel function directly. Every element the variant reads or writes must lie
    /// inside the slices, else a typed error.
    pub fn run_tile(&self, v: &Variant, args: TileArgs<'_>) -> Result<(), KernelError> {
        if v.kind == VariantKind::Indirect {
            return Err(KernelError::InvalidArgument { what: "indirect variants run with run_tile_indirect" });
        }
        self.run_tile_checked(v, args, None)
    }

    /// Runs an `Indirect` variant: as [`AvailableKernel::run_tile`] (`args.rsa`, `args.csa`
    /// ignored), with A's `k` depth steps in runs: run `r` is `run_len[r]` steps long and row
    /// `i`'s values of it are `a[row_starts[r * m + i]..][..run_len[r]]` (`m` the variant's
    /// rows). The run lengths must add up to `args.k`.
    pub fn run_tile_indirect(
        &self,
        v: &Variant,
        args: TileArgs<'_>,
        run_len: &[usize],
        row_starts: &[usize],
    ) -> Result<(), KernelError> {
        if v.kind != VariantKind::Indirect {
            return Err(KernelError::InvalidArgument { what: "only indirect variants run with run_tile_indirect" });
        }
        let m = v.m;
        if row_starts.len() != run_len.len().saturating_mul(m) {
            return Err(KernelError::LengthMismatch {
                what: "row_starts (runs x rows)",
                expected: run_len.len().saturating_mul(m),
                found: row_starts.len(),
            });
        }
        if run_len.iter().try_fold(0usize, |s, &l| s.checked_add(l)) != Some(args.k) {
            return Err(KernelError::InvalidArgument { what: "run lengths must add up to k" });
        }
        for (r, &len) in run_len.iter().enumerate() {
            for &start in &row_starts[r * m..(r + 1) * m] {
                if start.checked_add(len).is_none_or(|end| end > args.a.len()) {
                    return Err(KernelError::LengthMismatch {
                        what: "A (a run of a row)",
                        expected: start.saturating_add(len),
                        found: args.a.len(),
                    });
                }
            }
        }
        let rows: Vec<*const f32> = row_starts.iter().map(|&s| args.a[s..].as_ptr()).collect();
        self.run_tile_checked(v, args, Some((&rows, run_len)))
    }

    /// `run_tile` and `run_tile_indirect` after their own checks of A (`rows`: the indirect
    /// variants' row pointers, each run inside A, and run lengths).
    fn run_tile_checked(
        &self,
        v: &Variant,
        args: TileArgs<'_>,
        rows: Option<(&[*const f32], &[usize])>,
    ) -> Result<(), KernelError> {
        let VariantFn::Tile(f) = self.check_variant(v)? else {
            return Err(KernelError::InvalidArgument {
                what: "gemv_rows and dot_rows variants run with run_gemv_rows and run_gemv_dot",
            });
        };
        let (m, k) = (v.m, args.k);
        // (Indirect tiles mask like the kernel's masked ones, when it has them.)
        let masked = v.kind == VariantKind::Masked || (v.kind == VariantKind::Indirect && !self.masked.is_empty());
        if masked && !self.masked_cols(v).contains(&args.cols) {
            return Err(KernelError::LengthMismatch {
                what: "masked tile columns",
                expected: v.width,
                found: args.cols,
            });
        }
        // Columns of B, C and bias the variant touches.
        let w = if masked { args.cols } else { v.width };
        let span = |rows: usize, rs: usize, extra: usize| {
            rows.checked_sub(1).map_or(Some(0), |r| r.checked_mul(rs)?.checked_add(extra))
        };
        let need = |what: &'static str, needed: Option<usize>, len: usize| match needed {
            Some(n) if n <= len => Ok(()),
            n => Err(KernelError::LengthMismatch { what, expected: n.unwrap_or(usize::MAX), found: len }),
        };
        // A broadcast-packed value is followed by its copies.
        let a_width = v.a_lanes();
        let a_need = if k == 0 || rows.is_some() {
            Some(0)
        } else {
            span(m, args.rsa, a_width).and_then(|x| x.checked_add((k - 1).checked_mul(args.csa)?))
        };
        need("A", a_need, args.a.len())?;
        need("B", span(k, args.ldb, w), args.b.len())?;
        need("C", span(m, args.rsc, w), args.c.len())?;
        if let Some(bias) = args.bias {
            need("bias", Some(w), bias.len())?;
        }
        let b_pack = match (v.kind, args.b_pack) {
            (VariantKind::PackB, Some(buf)) => {
                need("b_pack", k.checked_mul(v.width), buf.len())?;
                buf.as_mut_ptr()
            }
            (VariantKind::PackB, None) => {
                return Err(KernelError::InvalidArgument { what: "pack_b variants need b_pack" })
            }
            (_, Some(_)) => return Err(KernelError::InvalidArgument { what: "only pack_b variants take b_pack" }),
            (_, None) => std::ptr::null_mut(),
        };
        let plain = args.beta == 0.0 && args.bias.is_none() && args.act == Activation::Identity;
        if v.kind == VariantKind::ShortPlain && !plain {
            return Err(KernelError::InvalidArgument {
                what: "short_plain variants take beta = 0, no bias, no activation",
            });
        }
        args.act.validate()?;
        let strides = [args.rsa, args.csa, args.ldb, args.rsc].map(isize::try_from);
        let [Ok(rsa), Ok(csa), Ok(ldb), Ok(rsc)] = strides else {
            return Err(KernelError::InvalidArgument { what: "tile strides must fit isize" });
        };
        let tile = Tile {
            k,
            a: args.a.as_ptr(),
            rsa,
            csa,
            b: args.b.as_ptr(),
            ldb,
            c: args.c.as_mut_ptr(),
            rsc,
            alpha: args.alpha,
            beta: args.beta,
            bias: args.bias.map_or(std::ptr::null(), |b| b.as_ptr()),
            act: args.act,
            cols: w,
            b_pack,
            prefetch_next_a: args.prefetch_next_a,
            a_rows: rows.map_or(std::ptr::null(), |(r, _)| r.as_ptr()),
            run_len: rows.map_or(std::ptr::null(), |(_, l)| l.as_ptr()),
            runs: rows.map_or(0, |(_, l)| l.len()),
            a_broadcast: v.kind == VariantKind::ABroadcast,
        };
        // SAFETY: the kernel's ISA is available (self), and every element the variant reads or
        // writes was checked to lie inside the slices above (C and b_pack are unique borrows,
        // so no write aliases a read).
        unsafe { f(&tile) };
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    /// Runs a `GemvRows` variant: `acc[j] = sum_p a[p*csa] * b[p*ldb + j]`, `j < acc.len()`.
    pub fn run_gemv_rows(
        &self,
        v: &Variant,
        k: usize,
        a: &[f32],
        csa: usize,
        b: &[f32],
        ldb: usize,
        acc: &mut [f32],
    ) -> Result<(), KernelError> {
        let VariantFn::Rows(f) = self.check_variant(v)? else {
            return Err(KernelError::InvalidArgument { what: "only gemv_rows variants run with run_gemv_rows" });
        };
        let n = acc.len();
        let too_short = |what, len| KernelError::LengthMismatch { what, expected: usize::MAX, found: len };
        if k > 0 {
            let a_need = (k - 1).checked_mul(csa).and_then(|x| x.checked_add(1));
            if a_need.is_none_or(|x| x > a.len()) {
                return Err(too_short("A", a.len()));
            }
            let b_need = (k - 1).checked_mul(ldb).and_then(|x| x.checked_add(n));
            if b_need.is_none_or(|x| x > b.len()) {
                return Err(too_short("B", b.len()));
            }
        }
        let (Ok(csa), Ok(ldb)) = (isize::try_from(csa), isize::try_from(ldb)) else {
            return Err(KernelError::InvalidArgument { what: "strides must fit isize" });
        };
        // SAFETY: the ISA is available (self); k values of A and k rows of n values of B lie
        // inside the slices (checked above); acc holds n values.
        unsafe { f(k, n, a.as_ptr(), csa, b.as_ptr(), ldb, acc.as_mut_ptr()) };
        Ok(())
    }

    /// Runs a `GemvDot` variant of width `w`:
    /// `C[i, j] = act(alpha * sum_p a[i*lda + p] * x[j*ldx + p] + beta*C[i, j] + bias[i, j])`
    /// for `i < m`, `j < w` (see [`DotArgs`]). Every element read or written must lie inside
    /// the slices, else a typed error.
    pub fn run_gemv_dot(&self, v: &Variant, args: DotArgs<'_>) -> Result<(), KernelError> {
        let VariantFn::Dot(f) = self.check_variant(v)? else {
            return Err(KernelError::InvalidArgument { what: "only dot_rows variants run with run_gemv_dot" });
        };
        let (m, k, w) = (args.m, args.k, v.width);
        // Highest index + 1 of `count` (rows, cols) elements with these strides, 0 if none.
        let span = |(rows, cols): (usize, usize), rs: usize, cs: usize| -> Option<usize> {
            if rows == 0 || cols == 0 {
                return Some(0);
            }
            (rows - 1).checked_mul(rs)?.checked_add((cols - 1).checked_mul(cs)?)?.checked_add(1)
        };
        let need = |what: &'static str, needed: Option<usize>, len: usize| match needed {
            Some(n) if n <= len => Ok(()),
            n => Err(KernelError::LengthMismatch { what, expected: n.unwrap_or(usize::MAX), found: len }),
        };
        need("A", span((m, k), args.lda, 1), args.a.len())?;
        need("x", span((w, k), args.ldx, 1), args.x.len())?;
        need("C", span((m, w), args.rsc, args.csc), args.c.len())?;
        if let Some(bias) = args.bias {
            need("bias", span((m, w), args.bias_rs, args.bias_cs), bias.len())?;
        }
        if m > 1 && w > 1 && (args.rsc == 0 || args.csc == 0 || args.rsc == args.csc) {
            return Err(KernelError::InvalidArgument { what: "C's elements must not overlap" });
        }
        args.act.validate()?;
        let strides = [args.lda, args.ldx, args.rsc, args.csc, args.bias_rs, args.bias_cs].map(isize::try_from);
        let [Ok(lda), Ok(ldx), Ok(rsc), Ok(csc), Ok(bias_rs), Ok(bias_cs)] = strides else {
            return Err(KernelError::InvalidArgument { what: "strides must fit isize" });
        };
        let dot = Dot {
            m,
            k,
            a: args.a.as_ptr(),
            lda,
            x: args.x.as_ptr(),
            ldx,
            c: args.c.as_mut_ptr(),
            rsc,
            csc,
            alpha: args.alpha,
            beta: args.beta,
            bias: args.bias.map_or(std::ptr::null(), |b| b.as_ptr()),
            bias_rs,
            bias_cs,
            act: args.act,
        };
        // SAFETY: the kernel's ISA is available (self), and every element the variant reads or
        // writes was checked to lie inside the slices above (C is a unique borrow).
        unsafe { f(&dot) };
        Ok(())
    }

    fn check_variant(&self, v: &Variant) -> Result<VariantFn, KernelError> {
        if std::ptr::eq(v.kernel, self.0) {
            Ok(v.f)
        } else {
            Err(KernelError::InvalidArgument { what: "the variant belongs to another kernel" })
        }
    }
}

impl std::ops::Deref for AvailableKernel {
    type Target = MicroKernel;
    fn deref(&self) -> &MicroKernel {
        self.0
    }
}

/// Operands of one direct tile call ([`AvailableKernel::run_tile`]). A: element `(i, p)` at
/// `a[i*rsa + p*csa]` (followed by its copies, [`Variant::a_lanes`] values in all); B: k step `p` at `b[p*ldb..]`; C: row `i` at `c[i*rsc..]`.
#[derive(Debug)]
pub struct TileArgs<'a> {
    /// Depth (may be 0: only the epilogue runs).
    pub k: usize,
    /// A, `m x k`.
    pub a: &'a [f32],
    /// A's row stride.
    pub rsa: usize,
    /// A's column stride.
    pub csa: usize,
    /// B, `k` steps of the variant's width.
    pub b: &'a [f32],
    /// Distance between B's k steps.
    pub ldb: usize,
    /// C, `m` rows of the variant's width.
    pub c: &'a mut [f32],
    /// C's row stride.
    pub rsc: usize,
    /// Scale of the product.
    pub alpha: f32,
    /// Scale of C (0: C is not read).
    pub beta: f32,
    /// One value per column, added before the activation.
    pub bias: Option<&'a [f32]>,
    /// Applied last.
    pub act: Activation,
    /// Masked variants: the columns read and written (`1..=width`); ignored by the others.
    pub cols: usize,
    /// `PackB` variants: where B is copied (`k * NR` values); `None` for the others.
    pub b_pack: Option<&'a mut [f32]>,
    /// Prefetch the next tile's rows of A (a hint; any value is sound).
    pub prefetch_next_a: bool,
}

/// Operands of one direct dot-product GEMV call ([`AvailableKernel::run_gemv_dot`]), `w` the
/// variant's width: A row `i` at `a[i*lda..]`, x column `j` at `x[j*ldx..]` (`k` values each),
/// C element `(i, j)` at `c[i*rsc + j*csc]`, its bias at `bias[i*bias_rs + j*bias_cs]`.
#[derive(Debug)]
pub struct DotArgs<'a> {
    /// Rows of A and C.
    pub m: usize,
    /// Length of the dot products (may be 0: only the epilogue runs).
    pub k: usize,
    /// A, `m` rows of `k` values.
    pub a: &'a [f32],
    /// A's row stride.
    pub lda: usize,
    /// x, `w` columns of `k` values.
    pub x: &'a [f32],
    /// Distance between x's columns.
    pub ldx: usize,
    /// C, `m x w`.
    pub c: &'a mut [f32],
    /// C's row stride.
    pub rsc: usize,
    /// C's column stride.
    pub csc: usize,
    /// Scale of the products.
    pub alpha: f32,
    /// Scale of C (0: C is not read).
    pub beta: f32,
    /// Bias values, added before the activation.
    pub bias: Option<&'a [f32]>,
    /// The bias's stride along rows (0: one value per column).
    pub bias_rs: usize,
    /// The bias's stride along columns (0: one value per row).
    pub bias_cs: usize,
    /// Applied last.
    pub act: Activation,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table's invariants that the driver relies on (checked for every compiled kernel,
    /// available on this CPU or not).
    #[test]
    fn every_kernel_entry_is_consistent() {
        for k in microkernels() {
            assert_eq!(k.rows.len(), k.mr, "{}: one row function per m", k.name);
            assert!(k.rows_short_plain.is_empty() || k.rows_short_plain.len() == k.mr, "{}", k.name);
            assert!(k.masked.is_empty() || k.nr % k.masked.len() == 0, "{}: NR splits into masked widths", k.name);
            assert!(k.masked.iter().all(|rows| rows.len() == k.mr), "{}: masked tiles for every m", k.name);
            assert!(
                k.indirect.is_empty() || k.nr % k.indirect.len() == 0,
                "{}: NR splits into indirect widths",
                k.name
            );
            assert!(k.indirect.iter().all(|rows| rows.len() == k.mr), "{}: indirect tiles for every m", k.name);
            // PackedB blocks are NC wide and panels NR wide: NC must be a whole number of panels.
            assert_eq!(k.nc % k.nr, 0, "{}: NC must be a multiple of NR", k.name);
            use super::super::ukernel::{MAX_NR, MAX_TILE};
            assert!(k.mr * k.nr <= MAX_TILE && k.nr <= MAX_NR, "{}: edge tiles must fit the stack buffer", k.name);
            assert!(k.mr <= super::super::pack::MAX_MR, "{}: indirect packing keeps MR rows of state", k.name);
            assert!(k.kc > 0 && k.mc >= k.mr, "{}", k.name);
            assert!(k.gemv.windows(2).all(|w| w[0].1 > w[1].1), "{}: GEMV strips widest first", k.name);
            assert!(k.gemv_dot.len() <= 3, "{}: dot kernels for 1..=3 columns", k.name);
        }
    }

    #[test]
    fn names_are_unique_and_found() {
        let mut names = std::collections::HashSet::new();
        for k in microkernels() {
            assert!(names.insert(k.name), "{} listed twice", k.name);
            assert!(std::ptr::eq(find(k.name).unwrap(), *k));
            for v in k.variants() {
                let name = v.name();
                assert!(names.insert(Box::leak(name.clone().into_boxed_str())), "{name} twice");
                let found = find_variant(&name).unwrap();
                assert_eq!((found.kind, found.m, found.width), (v.kind, v.m, v.width), "{name}");
            }
        }
        assert!(find("sgemm_1x1_nothing").is_none());
        assert!(matches!(AvailableKernel::by_name("nope"), Err(KernelError::UnknownKernel { .. })));
    }
}
