//! What the numbers were measured on.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct MachineInfo {
    pub cpu: String,
    pub logical_cpus: usize,
    /// Vector features that matter here, as detected at run time.
    pub features: Vec<String>,
    /// `cache size` from /proc/cpuinfo (per core L2 on most x86 guests).
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
        MachineInfo {
            cpu: field("model name").unwrap_or_else(|| "unknown".into()),
            logical_cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            features: features(),
            cache: field("cache size").unwrap_or_else(|| "unknown".into()),
            date_utc: utc_now(),
            rustc: rustc_version(),
            lanes_isa: lanes_kernels::Isa::selected().map(|i| i.name().to_string()).unwrap_or_else(|e| e.to_string()),
            openblas: openblas_info(),
        }
    }
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
}
