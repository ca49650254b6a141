//! `report.md`: machine, peaks, one GFLOP/s table per thread count, efficiency, chart.

use crate::machine::MachineInfo;
use crate::peak::{Peak, PeakKind};
use crate::peers::{LANES, LANES_PACKED, ONNXRUNTIME};
use crate::record::{Measurement, Record};
use std::fmt::Write;

/// Everything the report is made of.
pub struct ReportInput<'a> {
    pub machine: &'a MachineInfo,
    pub peaks: &'a [Peak],
    pub records: &'a [Record],
    /// Case names in shape-file order.
    pub cases: &'a [String],
    pub threads: &'a [usize],
    /// File name of the chart, relative to the report.
    pub chart: Option<&'a str>,
    /// Free-form lines for the "Run" section (shape file, budget, wall time).
    pub run_notes: &'a [String],
    /// Relative link from the report to docs/benchmarking.md ([`crate::runs::docs_link`]).
    pub docs_link: &'a str,
}

fn find<'r>(records: &'r [Record], case: &str, imp: &str, threads: usize) -> Option<&'r Record> {
    records.iter().find(|r| r.case == case && r.impl_name == imp && r.threads == threads)
}

/// Implementations at `threads`, in the order they first appear.
fn impls_at(records: &[Record], threads: usize) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    for r in records.iter().filter(|r| r.threads == threads) {
        if !out.iter().any(|(n, _)| *n == r.impl_name) {
            out.push((r.impl_name.clone(), r.isa.clone()));
        }
    }
    out
}

/// Shapes with at most this many rows of A are reported in GB/s as well.
const MEMORY_BOUND_M: usize = 8;

/// A table with one row per case and one column per (implementation, threads).
fn table_by_impl(s: &mut String, inp: &ReportInput<'_>, cases: &[&String], cell: impl Fn(&Record) -> String) {
    let mut cols: Vec<(String, usize)> = Vec::new();
    for &t in inp.threads {
        cols.extend(impls_at(inp.records, t).into_iter().map(|(name, _)| (name, t)));
    }
    let _ = write!(s, "| shape |");
    for (name, t) in &cols {
        let _ = write!(s, " {name} {t}t |");
    }
    let _ = write!(s, "\n|---|");
    for _ in &cols {
        s.push_str("---:|");
    }
    s.push('\n');
    for case in cases {
        let _ = write!(s, "| {case} |");
        for (name, t) in &cols {
            let _ = write!(s, " {} |", find(inp.records, case, name, *t).map_or("—".into(), &cell));
        }
        s.push('\n');
    }
}

fn gf(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else {
        format!("{x:.1}")
    }
}

fn pct(x: Option<f64>) -> String {
    x.map_or("—".into(), |x| format!("{:.0}%", 100.0 * x))
}

fn times(x: Option<f64>) -> String {
    x.map_or("—".into(), |x| format!("{x:.2}×"))
}

pub fn render(inp: &ReportInput<'_>) -> String {
    let mut s = String::new();
    let m = inp.machine;
    let _ = writeln!(s, "# lanes GEMM benchmark\n");
    let _ = writeln!(
        s,
        "f32 `C = A·B`, row-major, alpha = 1, beta = 0. GFLOP/s = 2·M·N·K / median time per call. \
         All implementations of one thread count ran interleaved in one process; see \
         [docs/benchmarking.md]({}) for how to read this.\n",
        inp.docs_link
    );
    let _ = writeln!(s, "## Machine\n\n| | |\n|---|---|");
    let _ = writeln!(s, "| CPU | {} |", m.cpu);
    let _ = writeln!(s, "| microarchitecture | {} |", m.microarch);
    let num = |x: Option<u32>| x.map_or("?".to_string(), |x| x.to_string());
    let _ = writeln!(s, "| vendor / family / model | {} / {} / {} |", m.vendor, num(m.family), num(m.model));
    let _ = writeln!(s, "| machine (results folder) | {} |", m.slug);
    let _ = writeln!(s, "| logical CPUs | {} |", m.logical_cpus);
    let _ = writeln!(s, "| data caches (L1d, L2 per core) | {} |", m.cache);
    let _ = writeln!(s, "| vector features | {} |", m.features.join(" "));
    let _ = writeln!(s, "| lanes ISA (`lanes` row) | {} |", m.lanes_isa);
    let _ = writeln!(s, "| OpenBLAS | {} |", m.openblas);
    let _ = writeln!(s, "| rustc | {} |", m.rustc);
    let _ = writeln!(s, "| date | {} |", m.date_utc);
    for note in inp.run_notes {
        let _ = writeln!(s, "| run | {note} |");
    }

    // Peak table.
    let _ = writeln!(s, "\n## Peak: independent FMA chains ({} accumulators)\n", crate::peak::CHAINS);
    let _ = write!(s, "| instruction mix |");
    for t in inp.threads {
        let _ = write!(s, " {t} thread{} GFLOP/s |", if *t == 1 { "" } else { "s" });
    }
    let _ = write!(s, "\n|---|");
    for _ in inp.threads {
        let _ = write!(s, "---:|");
    }
    s.push('\n');
    for kind in PeakKind::ALL {
        let row: Vec<&Peak> =
            inp.threads.iter().filter_map(|&t| inp.peaks.iter().find(|p| p.kind == kind && p.threads == t)).collect();
        if row.is_empty() {
            continue;
        }
        let _ = write!(s, "| {} |", kind.label());
        for &t in inp.threads {
            match inp.peaks.iter().find(|p| p.kind == kind && p.threads == t) {
                Some(p) => {
                    let _ = write!(s, " {} (median {}) |", gf(p.gflops), gf(p.gflops_median));
                }
                None => s.push_str(" — |"),
            }
        }
        s.push('\n');
    }
    for p in crate::peak::suspicious(inp.peaks) {
        let _ = writeln!(
            s,
            "\n**Warning:** {} on {} threads reached only {} GFLOP/s, under 1.5× the one-thread peak: \
             another process had a core while it was measured, so efficiencies at {} threads are overstated.",
            p.label,
            p.threads,
            gf(p.gflops),
            p.threads
        );
    }
    let _ = writeln!(s, "\nThe peak is the best of the repetitions (measured before and after the GEMM runs); efficiency below = GFLOP/s / the peak of the instruction mix the implementation uses, at the same thread count.");

    // One GFLOP/s table per thread count.
    for &t in inp.threads {
        let impls = impls_at(inp.records, t);
        if impls.is_empty() {
            continue;
        }
        let _ =
            writeln!(s, "\n## GEMM, {t} thread{}: GFLOP/s (median; fastest in bold)\n", if t == 1 { "" } else { "s" });
        let _ = write!(s, "| shape (M×N×K) |");
        for (name, isa) in &impls {
            let _ = write!(s, " {name} ({isa}) |");
        }
        let scaling = t > 1 && inp.threads.contains(&1);
        // lanes with B prepacked against ONNX Runtime, which prepacks its constant B.
        let packed_vs_ort = [LANES_PACKED, ONNXRUNTIME].iter().all(|n| impls.iter().any(|(i, _)| i == n));
        let _ = write!(s, " lanes / best peer | lanes eff. | lanes min–max |");
        if packed_vs_ort {
            let _ = write!(s, " lanes-packed / onnxruntime |");
        }
        if scaling {
            let _ = write!(s, " lanes {t}t/1t |");
        }
        let _ = write!(s, "\n|---|");
        for _ in 0..impls.len() + 3 + usize::from(scaling) + usize::from(packed_vs_ort) {
            s.push_str("---:|");
        }
        s.push('\n');
        for case in inp.cases {
            let row: Vec<Option<&Record>> = impls.iter().map(|(n, _)| find(inp.records, case, n, t)).collect();
            if row.iter().all(Option::is_none) {
                continue;
            }
            let best = row.iter().flatten().map(|r| r.gflops).fold(0.0, f64::max);
            let _ = write!(s, "| {case} |");
            for r in &row {
                match r {
                    Some(r) if r.gflops == best => {
                        let _ = write!(s, " **{}** |", gf(r.gflops));
                    }
                    Some(r) => {
                        let _ = write!(s, " {} |", gf(r.gflops));
                    }
                    None => s.push_str(" — |"),
                }
            }
            let lanes = find(inp.records, case, LANES, t);
            let vs_best = lanes.map_or("—".into(), |l| match (&l.best_peer, l.ratio_to_best_peer) {
                (Some(p), Some(x)) => match l.paired_ratio_to_best_peer {
                    Some(y) => format!("{} ({p}; paired {})", times(Some(x)), times(Some(y))),
                    None => format!("{} ({p})", times(Some(x))),
                },
                _ => "—".into(),
            });
            let _ = write!(
                s,
                " {vs_best} | {} | {} |",
                pct(lanes.and_then(|l| l.efficiency)),
                lanes.map_or("—".into(), |l| format!("{}–{}", gf(l.gflops_min), gf(l.gflops_max)))
            );
            if packed_vs_ort {
                let x = find(inp.records, case, LANES_PACKED, t).map(|r| {
                    let paired = r.paired_ratio_to_onnxruntime;
                    match paired {
                        Some(y) => format!("{} (paired {})", times(r.ratio_to_onnxruntime), times(Some(y))),
                        None => times(r.ratio_to_onnxruntime),
                    }
                });
                let _ = write!(s, " {} |", x.unwrap_or_else(|| "—".into()));
            }
            if scaling {
                let one = find(inp.records, case, LANES, 1);
                let x = lanes.zip(one).map(|(l, o)| l.gflops / o.gflops);
                let _ = write!(s, " {} |", times(x));
            }
            s.push('\n');
        }
    }

    // Bandwidth-bound shapes: GB/s.
    let thin: Vec<&String> =
        inp.cases.iter().filter(|c| inp.records.iter().any(|r| &r.case == *c && r.m <= MEMORY_BOUND_M)).collect();
    if !thin.is_empty() {
        let _ = writeln!(
            s,
            "\n## Bandwidth-bound shapes (M ≤ {MEMORY_BOUND_M}): GB/s\n\n\
             Minimal traffic (A, B and C read or written once, 4 bytes each) / median time. \
             These shapes do about one multiply-add per weight loaded, so memory bandwidth, not FLOP/s, bounds them.\n"
        );
        table_by_impl(&mut s, inp, &thin, |r| gf(r.gbytes_per_s));
    }

    // Efficiency of every implementation.
    let _ = writeln!(s, "\n## Efficiency: % of the measured peak of each implementation's instruction mix\n");
    let all: Vec<&String> = inp.cases.iter().collect();
    table_by_impl(&mut s, inp, &all, |r| pct(r.efficiency));
    let mut cols: Vec<Option<PeakKind>> = Vec::new();
    for &t in inp.threads {
        for (name, _) in impls_at(inp.records, t) {
            cols.push(inp.records.iter().find(|r| r.impl_name == name && r.threads == t).and_then(|r| r.peak_kind));
        }
    }
    let _ = write!(s, "| *peak used* |");
    for kind in &cols {
        let _ = write!(s, " *{}* |", kind.map_or("—", |k| k.label()));
    }
    s.push('\n');

    if let Some(chart) = inp.chart {
        let _ = writeln!(s, "\n## Chart\n\n![GFLOP/s per shape and implementation]({chart})");
    }
    let _ = writeln!(
        s,
        "\n## Notes\n\n\
         - `lanes` is the default `Gemm` (best ISA or `LANES_ISA`); `lanes-<isa>` rows force one ISA. \
         lanes uses `Parallelism::Sequential` at 1 thread and its default `Parallelism::Auto` above (rayon with a pool of exactly the thread count from 96³ multiply-adds, one thread below).\n\
         - `—`: not measured. `naive` and `lanes-scalar` skip shapes above 512³ multiply-adds (they would take minutes).\n\
         - Ratios compare medians measured side by side in the same process and thread count; \
         `lanes / best peer` is against the fastest of matrixmultiply, gemm and OpenBLAS on that row; \
         `paired` is the median of that ratio taken round by round (each round times every implementation back to back), \
         which cancels slow phases of a shared machine: when the two differ, trust neither to better than their gap.\n\
         - min–max: GFLOP/s of the slowest and the fastest sample; a wide range means the shared machine was busy.\n\
         - Every result was checked against lanes' (and lanes' against f64) before timing; raw numbers are in `gemm.jsonl` and `peak.json`."
    );
    s
}

/// The `suite` of the AVX2-tier pass's measurements (`--avx2-tier`).
pub const AVX2_TIER_SUITE: &str = "gemm-avx2";

/// The AVX2-tier section: lanes forced to AVX2 against the peers held to AVX2, 1 thread.
pub fn render_avx2_tier(ms: &[Measurement]) -> String {
    let core = ms.iter().find(|m| m.impl_name == crate::peers::OPENBLAS).map_or("—", |m| m.isa.as_str());
    format!(
        "\n## GEMM, AVX2 tier (`--avx2-tier`)\n\n\
         lanes forced to AVX2 (`LANES_ISA=avx2`) against the peers that can be held to AVX2 in a \
         process of their own: OpenBLAS with `OPENBLAS_CORETYPE=Haswell` (its kernels: `{core}`) \
         and matrixmultiply (AVX2+FMA kernels on x86-64 whatever the CPU). The gemm crate and ONNX \
         Runtime are left out: their AVX-512 paths are chosen when they are built or loaded. \
         Raw numbers in `gemm-avx2.jsonl` (efficiency against the ymm FMA peak).\n"
    ) + &suite_tables(
        ms,
        &[1],
        "shape",
        &[crate::peers::LANES, crate::peers::LANES_PACKED, crate::peers::OPENBLAS, crate::peers::MATRIXMULTIPLY],
        &[crate::peers::OPENBLAS, crate::peers::MATRIXMULTIPLY],
    )
}

/// A per-thread-count table of one suite's measurements: a row per case (in the order
/// measured), the throughput of each of `impls`, and lanes' ratio to each of `ratios_to`
/// (ratio of medians, paired in parentheses). Used by the convolution and row-op sections.
pub fn suite_tables(
    ms: &[Measurement],
    threads: &[usize],
    case_label: &str,
    impls: &[&str],
    ratios_to: &[&str],
) -> String {
    let mut s = String::new();
    for &t in threads {
        let _ = writeln!(s, "\n### {t} thread{}\n", if t == 1 { "" } else { "s" });
        let mut head = format!("| {case_label} |");
        let mut rule = String::from("|---|");
        for name in impls {
            let _ = write!(head, " {name} |");
            rule.push_str("---:|");
        }
        for peer in ratios_to {
            let _ = write!(head, " lanes / {peer} (paired) |");
            rule.push_str("---:|");
        }
        let _ = writeln!(s, "{head}\n{rule}");
        let mut cases: Vec<&str> = Vec::new();
        for m in ms.iter().filter(|m| m.threads == t) {
            if !cases.contains(&m.case.as_str()) {
                cases.push(&m.case);
            }
        }
        for case in cases {
            let get = |name: &str| ms.iter().find(|m| m.threads == t && m.case == case && m.impl_name == name);
            let mut row = format!("| {case} |");
            for name in impls {
                let _ = write!(row, " {} |", get(name).map_or("—".to_string(), |m| format!("{:.1}", m.gflops)));
            }
            for peer in ratios_to {
                let cell = match (get("lanes"), get(peer)) {
                    (Some(l), Some(o)) => {
                        let paired = crate::record::paired_ratio(l, o).map_or(String::new(), |p| format!(" ({p:.2}x)"));
                        format!("{:.2}x{paired}", l.gflops / o.gflops)
                    }
                    _ => "—".into(),
                };
                let _ = write!(row, " {cell} |");
            }
            let _ = writeln!(s, "{row}");
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::build_records;
    use crate::record::tests::{fake, fake_peaks};

    #[test]
    fn avx2_tier_section() {
        let ms = vec![
            Measurement { suite: AVX2_TIER_SUITE.into(), ..fake("256x256x256", "lanes", "avx2", 1, 90.0) },
            Measurement { suite: AVX2_TIER_SUITE.into(), ..fake("256x256x256", "openblas", "Haswell", 1, 100.0) },
            Measurement { suite: AVX2_TIER_SUITE.into(), ..fake("256x256x256", "matrixmultiply", "avx2", 1, 60.0) },
        ];
        let md = render_avx2_tier(&ms);
        assert!(md.contains("## GEMM, AVX2 tier"), "{md}");
        assert!(md.contains("(its kernels: `Haswell`)"), "{md}");
        assert!(md.contains("| shape | lanes | lanes-packed | openblas | matrixmultiply |"), "{md}");
        assert!(md.contains("| 256x256x256 | 90.0 | — | 100.0 | 60.0 | 0.90x"), "{md}");
    }

    #[test]
    fn report_on_fake_data() {
        let ms = vec![
            fake("64x64x64", "lanes", "avx512", 1, 100.0),
            fake("64x64x64", "gemm", "avx512", 1, 80.0),
            fake("64x64x64", "naive", "sse2", 1, 5.0),
            fake("2048x2048x2048", "lanes", "avx512", 1, 150.0),
            fake("2048x2048x2048", "gemm", "avx512", 1, 160.0),
            fake("64x64x64", "lanes", "avx512", 2, 150.0),
            fake("64x64x64", "gemm", "avx512", 2, 120.0),
            fake("1x3072x768", "lanes", "avx512", 1, 20.0),
        ];
        let records = build_records(&ms, &fake_peaks());
        let machine = MachineInfo {
            cpu: "Test CPU".into(),
            vendor: "AuthenticAMD".into(),
            family: Some(25),
            model: Some(1),
            microarch: "AMD Zen 3".into(),
            slug: "amd-zen3-avx2-2cpu".into(),
            logical_cpus: 2,
            ..Default::default()
        };
        let cases = vec!["64x64x64".to_string(), "2048x2048x2048".to_string(), "1x3072x768".to_string()];
        let md = render(&ReportInput {
            machine: &machine,
            peaks: &fake_peaks(),
            records: &records,
            cases: &cases,
            threads: &[1, 2],
            chart: Some("gemm.svg"),
            run_notes: &["budget 400 ms".to_string()],
            docs_link: "../../../docs/benchmarking.md",
        });
        assert!(md.contains("| CPU | Test CPU |"), "{md}");
        assert!(md.contains("| microarchitecture | AMD Zen 3 |"), "{md}");
        assert!(md.contains("| vendor / family / model | AuthenticAMD / 25 / 1 |"), "{md}");
        assert!(md.contains("| machine (results folder) | amd-zen3-avx2-2cpu |"), "{md}");
        assert!(md.contains("[docs/benchmarking.md](../../../docs/benchmarking.md)"), "{md}");
        assert!(md.contains("## GEMM, 1 thread: GFLOP/s"));
        assert!(md.contains("## GEMM, 2 threads: GFLOP/s"));
        assert!(md.contains(
            "| shape (M×N×K) | lanes (avx512) | gemm (avx512) | naive (sse2) | lanes / best peer | lanes eff. |"
        ));
        // 1 thread, 64^3: lanes fastest, 1.25x gemm, 50% of 200.
        assert!(
            md.contains("| 64x64x64 | **100** | 80.0 | 5.0 | 1.25× (gemm; paired 1.25×) | 50% | 90.0–105 |"),
            "{md}"
        );
        // 2048^3: gemm fastest, naive not run.
        assert!(md.contains("| 2048x2048x2048 | 150 | **160** | — | 0.94× (gemm; paired 0.94×) | 75% |"), "{md}");
        // 2 threads: scaling column.
        assert!(md.contains("lanes 2t/1t"));
        assert!(
            md.contains("| 64x64x64 | **150** | 120 | 1.25× (gemm; paired 1.25×) | 38% | 135–158 | 1.50× |"),
            "{md}"
        );
        assert!(md.contains("| AVX-512 zmm FMA | 200 (median 200) | 400 (median 400) |"));
        assert!(md.contains("![GFLOP/s per shape and implementation](gemm.svg)"));
        // GEMV: GB/s table, 4 bytes x (768 + 768*3072 + 3072) / (2*768*3072 / 20e9 s).
        assert!(md.contains("## Bandwidth-bound shapes (M ≤ 8): GB/s"));
        assert!(md.contains("| 1x3072x768 | 40.1 | — | — | — |"), "{md}");
        assert!(md.contains("| 64x64x64 | 50% | 40% | — | 38% | 30% |"), "{md}");
        // Every table row has as many cells as its header.
        for table in md.split("\n\n").filter(|b| b.starts_with('|')) {
            let cells: Vec<usize> = table.lines().map(|l| l.matches('|').count()).collect();
            assert!(cells.iter().all(|&c| c == cells[0]), "ragged table:\n{table}");
        }
    }
}
