//! What the numbers were measured on.

use serde::{Deserialize, Serialize};
use std::time::{SystemTime, UNIX_EPOCH};

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

/// `YYYY-MM-DD HH:MM UTC` without a date library.
pub fn utc_now() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    format_utc(secs)
}

pub fn format_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let (h, mi) = ((secs % 86_400) / 3600, (secs % 3600) / 60);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {h:02}:{mi:02} UTC")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formatting() {
        assert_eq!(format_utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_utc(951_782_400 + 3661), "2000-02-29 01:01 UTC");
        assert_eq!(format_utc(1_795_000_000), "2026-11-18 11:06 UTC");
    }
}
