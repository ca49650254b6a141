//! What the numbers were measured on.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MachineInfo {
    /// `model name` from /proc/cpuinfo (often just "Intel(R) Xeon(R) Processor" in a VM).
    pub cpu: String,
    /// `vendor_id` from /proc/cpuinfo (`GenuineIntel`, `AuthenticAMD`; empty when absent).
    #[serde(default)]
    pub vendor: String,
    /// `cpu family` from /proc/cpuinfo.
    #[serde(default)]
    pub family: Option<u32>,
    /// `model` from /proc/cpuinfo.
    #[serde(default)]
    pub model: Option<u32>,
    /// The microarchitecture from vendor, family and model (and flags where those do not
    /// decide it): see [`microarch`].
    #[serde(default)]
    pub microarch: String,
    /// Short lower-case name of the machine for folder names: microarchitecture, best vector
    /// ISA, logical CPUs (`intel-sapphire-rapids-avx512-2cpu`): see [`slug`].
    #[serde(default)]
    pub slug: String,
    pub logical_cpus: usize,
    /// Vector features that matter here, as detected at run time.
    pub features: Vec<String>,
    /// The data caches lanes' planner sizes its blocks from (`lanes_kernels::CacheSizes`, read
    /// from CPUID or sysfs), e.g. `L1d 32 KiB, L2 512 KiB, L3 32 MiB`; else `cache size` from
    /// /proc/cpuinfo.
    pub cache: String,
    pub date_utc: String,
    pub rustc: String,
    pub lanes_isa: String,
    pub openblas: String,
}

impl MachineInfo {
    pub fn detect() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let field = |name: &str| {
            cpuinfo
                .lines()
                .find(|l| l.split(':').next().is_some_and(|k| k.trim() == name))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        };
        let vendor = field("vendor_id").unwrap_or_default();
        let family = field("cpu family").and_then(|v| v.parse().ok());
        let model = field("model").and_then(|v| v.parse().ok());
        let flags = field("flags").unwrap_or_default();
        let flags: Vec<&str> = flags.split_whitespace().collect();
        let arch = microarch(&vendor, family, model, &flags);
        let logical_cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
        let features = features();
        MachineInfo {
            cpu: field("model name").unwrap_or_else(|| "unknown".into()),
            slug: slug(&arch.short, &best_vector_isa(&features), logical_cpus),
            vendor,
            family,
            model,
            microarch: arch.name,
            logical_cpus,
            features,
            cache: lanes_kernels::CacheSizes::detected().map(cache_sizes).unwrap_or_else(|| {
                field("cache size").map_or_else(|| "unknown".into(), |c| format!("{c} (/proc/cpuinfo)"))
            }),
            date_utc: utc_now(),
            rustc: rustc_version(),
            lanes_isa: lanes_kernels::Isa::selected().map(|i| i.name().to_string()).unwrap_or_else(|e| e.to_string()),
            openblas: openblas_info(),
        }
    }
}

/// `L1d 32 KiB, L2 512 KiB, L3 32 MiB`.
fn cache_sizes(c: lanes_kernels::CacheSizes) -> String {
    let size = |b: usize| {
        if b >= 1 << 20 && b.is_multiple_of(1 << 20) {
            format!("{} MiB", b >> 20)
        } else {
            format!("{} KiB", b >> 10)
        }
    };
    format!("L1d {}, L2 {}, L3 {}", size(c.l1d), size(c.l2), size(c.l3))
}

/// A microarchitecture: the name for the report and the short form for the machine's slug.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Microarch {
    /// E.g. `Intel Sapphire Rapids`, `AMD Zen 3`, `unknown (GenuineIntel family 6 model 42)`.
    pub name: String,
    /// Lower-case, dashes: `intel-sapphire-rapids`, `amd-zen3`, `intel-f6-m42`.
    pub short: String,
}

fn arch(name: impl Into<String>, short: &str) -> Microarch {
    Microarch { name: name.into(), short: short.into() }
}

/// The microarchitecture from /proc/cpuinfo's `vendor_id`, `cpu family`, `model` and `flags`.
///
/// The model name is no help in these VMs ("Intel(R) Xeon(R) Processor"), so this goes by the
/// numbers, with the flags deciding where one model number covers several generations (Intel
/// family 6 model 85: Skylake, Cascade Lake, Cooper Lake) or where a VM reports a model number
/// that does not match what it runs on (model 167, nominally the desktop Rocket Lake, on
/// Sapphire-Rapids-class cloud hosts: AMX and AVX-512 BF16, which Rocket Lake lacks, give it away).
pub fn microarch(vendor: &str, family: Option<u32>, model: Option<u32>, flags: &[&str]) -> Microarch {
    let has = |f: &str| flags.contains(&f);
    match (vendor, family, model) {
        ("GenuineIntel", Some(6), Some(m)) => match m {
            143 => arch("Intel Sapphire Rapids", "intel-sapphire-rapids"),
            207 => arch("Intel Emerald Rapids", "intel-emerald-rapids"),
            173 => arch("Intel Granite Rapids", "intel-granite-rapids"),
            106 | 108 => arch("Intel Ice Lake server", "intel-ice-lake-server"),
            85 if has("avx512_bf16") => arch("Intel Cooper Lake (family 6 model 85)", "intel-cooper-lake"),
            85 if has("avx512_vnni") => arch("Intel Cascade Lake server (family 6 model 85)", "intel-cascade-lake"),
            85 => arch("Intel Skylake server (family 6 model 85)", "intel-skylake-server"),
            167 if has("amx_tile") || has("avx512_bf16") => arch(
                "Intel Sapphire Rapids class (VM reports family 6 model 167, nominally Rocket Lake; \
                 AMX / AVX-512 BF16 flags present)",
                "intel-sapphire-rapids",
            ),
            167 if has("avx512f") => arch(
                "Intel Sapphire Rapids class? (VM reports family 6 model 167, nominally Rocket Lake; \
                 AVX-512 but no AMX / BF16 flags)",
                "intel-sapphire-rapids",
            ),
            _ => unknown(vendor, family, model),
        },
        ("AuthenticAMD", Some(26), _) => arch("AMD Zen 5", "amd-zen5"),
        ("AuthenticAMD", Some(25), Some(m)) => match m {
            0x00..=0x0F | 0x20..=0x2F | 0x40..=0x4F | 0x50..=0x5F => arch("AMD Zen 3", "amd-zen3"),
            0x10..=0x1F | 0x60..=0x7F | 0xA0..=0xAF => arch("AMD Zen 4", "amd-zen4"),
            // Every Zen 4 has AVX-512, no Zen 3 has.
            _ if has("avx512f") => arch(format!("AMD Zen 4 class (family 25 model {m})"), "amd-zen4"),
            _ => arch(format!("AMD Zen 3 class (family 25 model {m})"), "amd-zen3"),
        },
        ("AuthenticAMD", Some(23), Some(m)) if m >= 0x30 => arch("AMD Zen 2", "amd-zen2"),
        ("AuthenticAMD", Some(23), _) => arch("AMD Zen / Zen+", "amd-zen1"),
        _ => unknown(vendor, family, model),
    }
}

fn unknown(vendor: &str, family: Option<u32>, model: Option<u32>) -> Microarch {
    let num = |x: Option<u32>| x.map_or("?".to_string(), |x| x.to_string());
    if vendor.is_empty() {
        let a = std::env::consts::ARCH;
        return arch(format!("unknown ({a}, no vendor_id in /proc/cpuinfo)"), a);
    }
    let short_vendor = match vendor {
        "GenuineIntel" => "intel".to_string(),
        "AuthenticAMD" => "amd".to_string(),
        v => v.to_ascii_lowercase(),
    };
    arch(
        format!("unknown ({vendor} family {} model {})", num(family), num(model)),
        &format!("{short_vendor}-f{}-m{}", num(family), num(model)),
    )
}

/// The widest vector ISA among the detected `features`: `avx512`, `avx2`, `avx`, `sse2`; on
/// other architectures `neon` (aarch64) or `scalar`.
pub fn best_vector_isa(features: &[String]) -> String {
    let has = |f: &str| features.iter().any(|x| x == f);
    if has("avx512f") {
        "avx512"
    } else if has("avx2") {
        "avx2"
    } else if has("avx") {
        "avx"
    } else if has("sse2") {
        "sse2"
    } else if cfg!(target_arch = "aarch64") {
        "neon"
    } else {
        "scalar"
    }
    .into()
}

/// The machine's folder name: `<microarch>-<isa>-<n>cpu`, lower-case ASCII letters, digits and
/// single dashes (`intel-sapphire-rapids-avx512-2cpu`, `amd-zen3-avx2-2cpu`).
pub fn slug(microarch_short: &str, isa: &str, logical_cpus: usize) -> String {
    let raw = format!("{microarch_short}-{isa}-{logical_cpus}cpu").to_ascii_lowercase();
    let mut out = String::new();
    for c in raw.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_string()
}

/// The 1-minute load average from /proc/loadavg, as text ("?" when unknown).
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "?".into())
}

fn features() -> Vec<String> {
    #[cfg(target_arch = "x86_64")]
    {
        let mut f = Vec::new();
        macro_rules! check {
            ($($name:tt),*) => {$(
                if std::is_x86_feature_detected!($name) {
                    f.push($name.to_string());
                }
            )*};
        }
        check!("sse2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512vnni", "avx512bf16");
        f
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        Vec::new()
    }
}

fn rustc_version() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    std::process::Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn openblas_info() -> String {
    #[cfg(feature = "openblas")]
    {
        format!("{} (core {})", crate::openblas::config(), crate::openblas::corename())
    }
    #[cfg(not(feature = "openblas"))]
    {
        "not built (feature `openblas` off)".into()
    }
}

/// The current time as `YYYY-MM-DD HH:MM UTC`.
pub fn utc_now() -> String {
    format_utc(Timestamp::now())
}

/// `YYYY-MM-DD HH:MM UTC`.
pub fn format_utc(t: Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formatting() {
        let at = |secs| format_utc(Timestamp::from_second(secs).unwrap());
        assert_eq!(at(0), "1970-01-01 00:00 UTC");
        assert_eq!(at(951_782_400 + 3661), "2000-02-29 01:01 UTC");
        assert_eq!(at(1_795_000_000), "2026-11-18 11:06 UTC");
        assert_eq!(utc_now().len(), at(0).len());
    }

    #[test]
    fn cache_sizes_in_the_report() {
        let c = lanes_kernels::CacheSizes { l1d: 48 << 10, l2: 2 << 20, l3: 105 << 20 };
        assert_eq!(cache_sizes(c), "L1d 48 KiB, L2 2 MiB, L3 105 MiB");
        assert_eq!(cache_sizes(lanes_kernels::CacheSizes::FALLBACK), "L1d 32 KiB, L2 512 KiB, L3 32 MiB");
    }

    fn short(vendor: &str, family: u32, model: u32, flags: &[&str]) -> String {
        microarch(vendor, Some(family), Some(model), flags).short
    }

    #[test]
    fn intel_table() {
        let i = |model, flags: &[&str]| short("GenuineIntel", 6, model, flags);
        assert_eq!(i(143, &[]), "intel-sapphire-rapids");
        assert_eq!(microarch("GenuineIntel", Some(6), Some(143), &[]).name, "Intel Sapphire Rapids");
        assert_eq!(i(207, &[]), "intel-emerald-rapids");
        assert_eq!(i(173, &[]), "intel-granite-rapids");
        assert_eq!(i(106, &[]), "intel-ice-lake-server");
        assert_eq!(i(108, &[]), "intel-ice-lake-server");
        assert_eq!(i(85, &["avx512f"]), "intel-skylake-server");
        assert_eq!(i(85, &["avx512f", "avx512_vnni"]), "intel-cascade-lake");
        assert_eq!(i(85, &["avx512f", "avx512_vnni", "avx512_bf16"]), "intel-cooper-lake");
        // The VMs' Sapphire Rapids hosts report model 167 (0xA7, nominally Rocket Lake).
        let vm = microarch("GenuineIntel", Some(6), Some(167), &["avx2", "avx512f", "avx512_bf16", "amx_tile"]);
        assert_eq!(vm.short, "intel-sapphire-rapids");
        assert!(vm.name.contains("Sapphire Rapids class") && vm.name.contains("167"), "{}", vm.name);
        let weak = microarch("GenuineIntel", Some(6), Some(167), &["avx512f"]);
        assert_eq!(weak.short, "intel-sapphire-rapids");
        assert!(weak.name.contains("no AMX"), "{}", weak.name);
        // Without AVX-512 the number decides nothing.
        assert_eq!(i(167, &["avx2"]), "intel-f6-m167");
        let u = microarch("GenuineIntel", Some(6), Some(42), &[]);
        assert_eq!(u.name, "unknown (GenuineIntel family 6 model 42)");
        assert_eq!(u.short, "intel-f6-m42");
        assert_eq!(microarch("GenuineIntel", Some(15), None, &[]).name, "unknown (GenuineIntel family 15 model ?)");
    }

    #[test]
    fn amd_table() {
        let a = |family, model| short("AuthenticAMD", family, model, &[]);
        for m in [0x00, 0x01, 0x0F, 0x21, 0x44, 0x50, 0x5F] {
            assert_eq!(a(25, m), "amd-zen3", "model {m:#x}");
        }
        for m in [0x10, 0x11, 0x1F, 0x61, 0x74, 0x7F, 0xA0, 0xAF] {
            assert_eq!(a(25, m), "amd-zen4", "model {m:#x}");
        }
        assert_eq!(microarch("AuthenticAMD", Some(25), Some(1), &[]).name, "AMD Zen 3");
        assert_eq!(microarch("AuthenticAMD", Some(25), Some(17), &[]).name, "AMD Zen 4");
        // A family 25 model outside the table: AVX-512 means Zen 4.
        assert_eq!(short("AuthenticAMD", 25, 0x90, &["avx512f"]), "amd-zen4");
        assert_eq!(short("AuthenticAMD", 25, 0x90, &["avx2"]), "amd-zen3");
        assert!(microarch("AuthenticAMD", Some(25), Some(0x90), &[]).name.contains("model 144"));
        assert_eq!(a(26, 0x02), "amd-zen5");
        assert_eq!(a(26, 0x44), "amd-zen5");
        assert_eq!(a(23, 0x01), "amd-zen1");
        assert_eq!(a(23, 0x31), "amd-zen2");
        assert_eq!(a(23, 0x71), "amd-zen2");
        assert_eq!(a(21, 0x02), "amd-f21-m2");
        assert_eq!(microarch("HygonGenuine", Some(24), Some(0), &[]).short, "hygongenuine-f24-m0");
        assert!(microarch("", None, None, &[]).name.starts_with("unknown ("));
    }

    #[test]
    fn slugs() {
        let f = |xs: &[&str]| xs.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(best_vector_isa(&f(&["sse2", "avx", "avx2", "fma", "avx512f"])), "avx512");
        assert_eq!(best_vector_isa(&f(&["sse2", "avx", "avx2", "fma"])), "avx2");
        assert_eq!(slug("intel-sapphire-rapids", "avx512", 2), "intel-sapphire-rapids-avx512-2cpu");
        assert_eq!(slug("amd-zen3", "avx2", 2), "amd-zen3-avx2-2cpu");
        assert_eq!(slug("Odd Vendor__f6/m42-", "AVX2", 16), "odd-vendor-f6-m42-avx2-16cpu");
        let s = slug(&microarch("", None, None, &[]).short, "neon", 4);
        assert!(s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'), "{s}");
    }
}
