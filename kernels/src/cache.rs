//! The data-cache sizes of the CPU we run on, read once at run time (CPUID on x86-64, sysfs on
//! Linux elsewhere), so that blocks meant to stay in a cache level are sized from this CPU's
//! caches rather than from one tuning machine's (L2 per core: 512 KiB on Zen 3, 1 MiB on Zen 4,
//! 2 MiB on Sapphire Rapids).

use std::sync::OnceLock;

/// Data-cache sizes in bytes: L1d and L2 of one core, L3 as the CPU reports it (shared).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CacheSizes {
    /// Level-1 data cache of one core.
    pub l1d: usize,
    /// Level-2 cache of one core.
    pub l2: usize,
    /// Level-3 cache (shared between cores; 0 when there is none or it is not reported).
    pub l3: usize,
}

impl CacheSizes {
    /// What the planner assumes where the CPU does not say (wasm, Miri, an unknown CPU): the
    /// smallest x86 caches lanes is tuned on (Zen 3: 32 KiB L1d, 512 KiB L2, 32 MiB L3).
    pub const FALLBACK: CacheSizes = CacheSizes { l1d: 32 << 10, l2: 512 << 10, l3: 32 << 20 };

    /// This CPU's caches, or `None` where they cannot be read (wasm, Miri, a CPU or VM that
    /// reports none). Read once per process.
    pub fn detected() -> Option<CacheSizes> {
        static DETECTED: OnceLock<Option<CacheSizes>> = OnceLock::new();
        *DETECTED.get_or_init(detect)
    }

    /// [`CacheSizes::detected`], else [`CacheSizes::FALLBACK`]: what the planner uses.
    pub fn for_planning() -> CacheSizes {
        Self::detected().unwrap_or(Self::FALLBACK)
    }
}

#[cfg(all(target_arch = "x86_64", not(miri)))]
fn detect() -> Option<CacheSizes> {
    from_cpuid().or_else(from_sysfs)
}

#[cfg(all(not(target_arch = "x86_64"), not(target_arch = "wasm32"), not(miri)))]
fn detect() -> Option<CacheSizes> {
    from_sysfs()
}

#[cfg(any(target_arch = "wasm32", miri))]
fn detect() -> Option<CacheSizes> {
    None
}

/// The deterministic cache parameters leaf: Intel's leaf 4, AMD's (and Hygon's) 0x8000001D
/// where the CPU has it (topology extensions), else AMD's older 0x80000005/6 size fields.
#[cfg(all(target_arch = "x86_64", not(miri)))]
fn from_cpuid() -> Option<CacheSizes> {
    use core::arch::x86_64::{__cpuid, __cpuid_count};
    let max_leaf = __cpuid(0).eax;
    let vendor = &crate::isa::x86_vendor();
    let amd = vendor == b"AuthenticAMD" || vendor == b"HygonGenuine";
    let max_ext = __cpuid(0x8000_0000).eax;
    let topology_ext = max_ext >= 0x8000_001D && __cpuid(0x8000_0001).ecx & (1 << 22) != 0;
    let leaf = match () {
        _ if vendor == b"GenuineIntel" && max_leaf >= 4 => 4,
        _ if amd && topology_ext => 0x8000_001D,
        _ if amd && max_ext >= 0x8000_0006 => {
            // L1d in KiB (0x80000005 ECX[31:24]), L2 in KiB (0x80000006 ECX[31:16]), L3 in
            // 512 KiB units (EDX[31:18]).
            let l1d = (__cpuid(0x8000_0005).ecx >> 24) as usize * 1024;
            let l2l3 = __cpuid(0x8000_0006);
            let l2 = (l2l3.ecx >> 16) as usize * 1024;
            let l3 = (l2l3.edx >> 18) as usize * (512 << 10);
            return (l1d > 0 && l2 > 0).then_some(CacheSizes { l1d, l2, l3 });
        }
        _ => return None,
    };
    let mut sizes = CacheSizes { l1d: 0, l2: 0, l3: 0 };
    for sub in 0..16 {
        let c = __cpuid_count(leaf, sub);
        let kind = c.eax & 0x1f; // 0: no more caches, 1: data, 2: instruction, 3: unified
        if kind == 0 {
            break;
        }
        if kind == 2 {
            continue;
        }
        // ways x partitions x line size x sets, each field stored minus one.
        let field = |v: u32, shift: u32, bits: u32| ((v >> shift) & ((1 << bits) - 1)) as usize + 1;
        let bytes = field(c.ebx, 22, 10) * field(c.ebx, 12, 10) * field(c.ebx, 0, 12) * (c.ecx as usize + 1);
        match (c.eax >> 5) & 7 {
            1 => sizes.l1d = bytes,
            2 => sizes.l2 = bytes,
            3 => sizes.l3 = bytes,
            _ => {}
        }
    }
    (sizes.l1d > 0 && sizes.l2 > 0).then_some(sizes)
}

/// Linux's view of CPU 0's caches (`/sys/devices/system/cpu/cpu0/cache/index*/`).
#[cfg(all(not(target_arch = "wasm32"), not(miri)))]
fn from_sysfs() -> Option<CacheSizes> {
    let mut sizes = CacheSizes { l1d: 0, l2: 0, l3: 0 };
    for index in 0..8 {
        let dir = format!("/sys/devices/system/cpu/cpu0/cache/index{index}");
        let read = |name: &str| std::fs::read_to_string(format!("{dir}/{name}")).ok();
        let (Some(level), Some(kind), Some(size)) = (read("level"), read("type"), read("size")) else {
            break;
        };
        if kind.trim() == "Instruction" {
            continue;
        }
        let Some(bytes) = parse_size(size.trim()) else { continue };
        match level.trim() {
            "1" => sizes.l1d = bytes,
            "2" => sizes.l2 = bytes,
            "3" => sizes.l3 = bytes,
            _ => {}
        }
    }
    (sizes.l1d > 0 && sizes.l2 > 0).then_some(sizes)
}

/// `"32K"`, `"1024K"`, `"32M"` or a plain byte count, as sysfs writes cache sizes.
#[cfg_attr(any(target_arch = "wasm32", miri), allow(dead_code))]
fn parse_size(s: &str) -> Option<usize> {
    let (digits, unit) = match s.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => s.split_at(i),
        None => (s, ""),
    };
    let n: usize = digits.parse().ok()?;
    let scale = match unit {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sysfs_sizes_parse() {
        assert_eq!(parse_size("32K"), Some(32 << 10));
        assert_eq!(parse_size("32768K"), Some(32 << 20));
        assert_eq!(parse_size("2M"), Some(2 << 20));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("12Q"), None);
        assert_eq!(parse_size("K"), None);
        assert_eq!(parse_size("99999999999999999999G"), None);
    }

    #[test]
    fn planning_sizes_are_plausible() {
        let c = CacheSizes::for_planning();
        assert!((16 << 10..=1 << 20).contains(&c.l1d), "{c:?}");
        assert!((128 << 10..=64 << 20).contains(&c.l2), "{c:?}");
        assert!(c.l1d < c.l2, "{c:?}");
    }

    /// Where Linux reports the caches too, CPUID agrees with it on L1d and L2 (L3 may be
    /// reported per core complex or whole).
    #[cfg(all(target_arch = "x86_64", target_os = "linux", not(miri)))]
    #[test]
    fn cpuid_agrees_with_linux() {
        let (Some(cpuid), Some(sysfs)) = (from_cpuid(), from_sysfs()) else {
            eprintln!("cache sizes: CPUID {:?}, sysfs {:?}: nothing to compare", from_cpuid(), from_sysfs());
            return;
        };
        assert_eq!((cpuid.l1d, cpuid.l2), (sysfs.l1d, sysfs.l2), "CPUID {cpuid:?}, sysfs {sysfs:?}");
    }
}
