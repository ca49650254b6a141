//! Which instruction set runs: detected once and cached; `LANES_ISA` or an explicit
//! [`Isa`] forces a path (for tests and benchmarks). Asking for an ISA the CPU or the build
//! lacks is an error, never a crash.

use crate::error::KernelError;
use std::str::FromStr;
use std::sync::OnceLock;

/// An instruction-set tier. Each has its own microkernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Isa {
    /// Plain Rust scalar code under the same blocked driver (not the test oracle).
    Scalar,
    /// Portable SIMD through the `wide` crate (fixed at compile time, runs everywhere).
    Portable,
    /// x86-64 AVX2 + FMA.
    Avx2,
    /// x86-64 AVX-512F.
    Avx512,
    /// AArch64 NEON (Advanced SIMD: 128-bit vectors, fused multiply-add).
    Neon,
    /// wasm32 simd128 (mul + add).
    WasmSimd128,
    /// wasm32 relaxed-simd (`f32x4_relaxed_madd`).
    WasmRelaxed,
}

impl Isa {
    /// Every ISA this crate knows, slowest first within each architecture (whether or not this
    /// build has it): [`Isa::best`] is the last available one.
    pub const ALL: [Isa; 7] =
        [Isa::Scalar, Isa::Portable, Isa::Avx2, Isa::Avx512, Isa::Neon, Isa::WasmSimd128, Isa::WasmRelaxed];

    /// Short lower-case name, as accepted by `LANES_ISA`.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Scalar => "scalar",
            Isa::Portable => "portable",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
            Isa::Neon => "neon",
            Isa::WasmSimd128 => "simd128",
            Isa::WasmRelaxed => "relaxed",
        }
    }

    /// Whether this CPU (and this build) can run the ISA.
    pub fn is_available(self) -> bool {
        match self {
            Isa::Scalar | Isa::Portable => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => std::is_x86_feature_detected!("avx512f"),
            #[cfg(target_arch = "aarch64")]
            Isa::Neon => std::arch::is_aarch64_feature_detected!("neon"),
            #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
            Isa::WasmSimd128 => true,
            #[cfg(all(target_arch = "wasm32", target_feature = "relaxed-simd"))]
            Isa::WasmRelaxed => true,
            #[allow(unreachable_patterns)]
            _ => false,
        }
    }

    /// Every ISA this machine can run, slowest first.
    pub fn available() -> Vec<Isa> {
        Isa::ALL.into_iter().filter(|i| i.is_available()).collect()
    }

    /// The fastest available ISA.
    pub fn best() -> Isa {
        *Isa::available().last().expect("scalar is always available")
    }

    /// `Ok(self)` when available, a typed error otherwise.
    pub fn require(self) -> Result<Isa, KernelError> {
        if self.is_available() {
            Ok(self)
        } else {
            Err(KernelError::IsaUnavailable { isa: self.name() })
        }
    }

    /// The ISA to use by default: `LANES_ISA` if set (validated), else [`Isa::best`].
    /// Computed once per process.
    pub fn selected() -> Result<Isa, KernelError> {
        static SELECTED: OnceLock<Result<Isa, KernelError>> = OnceLock::new();
        SELECTED
            .get_or_init(|| match std::env::var("LANES_ISA") {
                Ok(name) if !name.is_empty() && name != "auto" => name.parse::<Isa>().and_then(Isa::require),
                _ => Ok(Isa::best()),
            })
            .clone()
    }
}

/// Whether this x86-64 CPU is Intel's (`GenuineIntel` in CPUID leaf 0): kernel choice differs
/// where vendors build the same ISA differently (Intel's AVX-512 cores have two full 512-bit
/// FMA units, AMD Zen 4 splits a zmm FMA into two 256-bit halves). Computed once.
#[cfg(target_arch = "x86_64")]
pub(crate) fn is_intel() -> bool {
    static INTEL: OnceLock<bool> = OnceLock::new();
    *INTEL.get_or_init(|| x86_vendor() == *b"GenuineIntel")
}

/// The CPU vendor string of CPUID leaf 0 (`GenuineIntel`, `AuthenticAMD`, ...).
#[cfg(target_arch = "x86_64")]
pub(crate) fn x86_vendor() -> [u8; 12] {
    let r = core::arch::x86_64::__cpuid(0);
    let mut v = [0u8; 12];
    for (chunk, w) in v.chunks_exact_mut(4).zip([r.ebx, r.edx, r.ecx]) {
        chunk.copy_from_slice(&w.to_le_bytes());
    }
    v
}

impl FromStr for Isa {
    type Err = KernelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim().to_ascii_lowercase();
        Isa::ALL
            .into_iter()
            .find(|i| i.name() == s || (s == "avx2_fma" && *i == Isa::Avx2) || (s == "avx512f" && *i == Isa::Avx512))
            .ok_or(KernelError::UnknownIsa { name: s })
    }
}

impl std::fmt::Display for Isa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_round_trips_and_rejects_unknown() {
        for isa in Isa::ALL {
            assert_eq!(isa.name().parse::<Isa>().unwrap(), isa);
        }
        assert!(matches!("sse9".parse::<Isa>(), Err(KernelError::UnknownIsa { .. })));
    }

    #[test]
    fn unavailable_isa_is_an_error() {
        assert!(Isa::Scalar.require().is_ok());
        #[cfg(not(target_arch = "wasm32"))]
        assert_eq!(Isa::WasmRelaxed.require(), Err(KernelError::IsaUnavailable { isa: "relaxed" }));
    }
}
