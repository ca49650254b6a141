//! Command-line options (clap, derive API).

use clap::{ArgAction, Parser, ValueEnum};
use std::path::PathBuf;

/// Where the per-ISA lanes rows (`lanes-<isa>` for the ISAs other than the best) run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum IsaRows {
    /// At 1 thread only.
    #[value(name = "1")]
    OneThread,
    /// At every thread count.
    All,
    /// Never.
    None,
}

/// When the AVX2-tier pass runs (see [`Options::avx2_tier`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Avx2Tier {
    /// When the CPU has AVX-512 (and AVX2): the main rows then measure AVX-512.
    Auto,
    /// Whenever the CPU has AVX2 and FMA.
    On,
    /// Never.
    Off,
}

/// lanes-bench: lanes' GEMM against matrixmultiply, gemm, OpenBLAS, ONNX Runtime and a naive loop.
///
/// Writes gemm.jsonl, peak.json, machine.json, report.md and gemm.svg into
/// bench-results/MACHINE/YYYY-MM-DDTHHMMZ/ (or --out DIR). See docs/benchmarking.md.
#[derive(Clone, Debug, PartialEq, Parser)]
#[command(
    name = "lanes-bench",
    // A repeated option: the last one given wins.
    args_override_self = true,
    after_help = "\
Every implementation's result is checked against lanes' (and lanes' against f64) before timing.
Progress goes to stderr. Each thread count runs in its own worker process (matrixmultiply reads
its thread count once per process), all implementations interleaved within it."
)]
pub struct Options {
    /// Output folder, written exactly there [default: bench-results/MACHINE/YYYY-MM-DDTHHMMZ/,
    /// then bench-results/latest points at it and bench-results/index.md lists every run]
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Small shape list (shapes/quick.txt) and a short time budget: a smoke test
    #[arg(long)]
    pub quick: bool,

    /// Shape list, one `M N K` per line [default: the bundled shapes/gemm.txt]
    #[arg(long, value_name = "FILE")]
    pub shapes: Option<PathBuf>,

    /// Thread counts, comma-separated
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "1,2",
        value_parser = positive_count,
        action = ArgAction::Set,
    )]
    pub threads: Vec<usize>,

    /// Only these implementations, comma-separated, e.g. openblas,gemm,lanes-* (lanes always
    /// runs: it is the reference)
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = trimmed, action = ArgAction::Set)]
    pub impls: Vec<String>,

    /// `lanes-<isa>` rows for the other ISAs: at 1 thread only, at every thread count, or never
    #[arg(long, value_name = "WHEN", value_enum, default_value = "1")]
    pub isa_rows: IsaRows,

    /// Measured time per implementation and case, in ms [default: 1000; with --quick: 60]
    #[arg(long, value_name = "N")]
    pub budget_ms: Option<u64>,

    /// Only the FMA peak loops: print them and write peak.json
    #[arg(long)]
    pub peak_only: bool,

    /// Convolution layer list (shapes/conv.txt format) [default: the bundled shapes/conv.txt]
    #[arg(long, value_name = "FILE")]
    pub conv_layers: Option<PathBuf>,

    /// Skip the convolution and row-op suites (conv.jsonl, eltwise.jsonl and their report sections)
    #[arg(long)]
    pub no_conv: bool,

    /// Skip the models suite (all-MiniLM-L6-v2 and the MNIST networks end to end: models.jsonl
    /// and its report section)
    #[arg(long)]
    pub no_models: bool,

    /// A GEMM pass at 1 thread of lanes forced to AVX2 against peers limited to AVX2 (OpenBLAS
    /// with OPENBLAS_CORETYPE=Haswell, matrixmultiply): gemm-avx2.jsonl and a report section
    #[arg(long, value_name = "WHEN", value_enum, default_value = "auto")]
    pub avx2_tier: Avx2Tier,

    /// Internal: run one thread count and print measurements as JSON lines.
    #[arg(long, hide = true)]
    pub worker: bool,
}

/// A thread count: a positive integer (spaces around it allowed, as in `1, 2`).
fn positive_count(s: &str) -> Result<usize, String> {
    s.trim().parse::<usize>().ok().filter(|&t| t > 0).ok_or_else(|| format!("`{s}` is not a positive integer"))
}

fn trimmed(s: &str) -> Result<String, String> {
    Ok(s.trim().to_string())
}

impl Options {
    /// The `--impls` filter without empty names (`--impls ''` or a trailing comma): empty = all.
    pub fn only(&self) -> Vec<String> {
        self.impls.iter().filter(|s| !s.is_empty()).cloned().collect()
    }

    /// Arguments for a worker process measuring `threads` threads.
    pub fn worker_args(&self, threads: usize) -> Vec<String> {
        let mut a = vec!["--worker".to_string(), "--threads".into(), threads.to_string()];
        if self.quick {
            a.push("--quick".into());
        }
        if let Some(s) = &self.shapes {
            a.extend(["--shapes".into(), s.display().to_string()]);
        }
        let only = self.only();
        if !only.is_empty() {
            a.extend(["--impls".into(), only.join(",")]);
        }
        let rows = self.isa_rows.to_possible_value().expect("no variant is skipped");
        a.extend(["--isa-rows".into(), rows.get_name().into()]);
        if let Some(b) = self.budget_ms {
            a.extend(["--budget-ms".into(), b.to_string()]);
        }
        if let Some(c) = &self.conv_layers {
            a.extend(["--conv-layers".into(), c.display().to_string()]);
        }
        if self.no_conv {
            a.push("--no-conv".into());
        }
        if self.no_models {
            a.push("--no-models".into());
        }
        a
    }

    /// Whether the AVX2-tier pass runs on a CPU with (or without) AVX-512 and AVX2+FMA.
    pub fn avx2_tier(&self, has_avx512: bool, has_avx2: bool) -> bool {
        has_avx2
            && match self.avx2_tier {
                Avx2Tier::Auto => has_avx512,
                Avx2Tier::On => true,
                Avx2Tier::Off => false,
            }
    }

    /// Arguments for the AVX2-tier worker: the GEMM shapes at 1 thread, lanes and the peers
    /// that can be held to AVX2 in a process of their own (its environment does the holding).
    pub fn avx2_tier_worker_args(&self) -> Vec<String> {
        let mut a = self.worker_args(1);
        // Later options win (`args_override_self`).
        a.extend(
            ["--impls", "lanes,lanes-packed,openblas,matrixmultiply", "--isa-rows", "none", "--no-conv", "--no-models"]
                .map(String::from),
        );
        a
    }

    /// Whether `lanes-<isa>` rows run at `threads`.
    pub fn per_isa_rows(&self, threads: usize) -> bool {
        match self.isa_rows {
            IsaRows::OneThread => threads == 1,
            IsaRows::All => true,
            IsaRows::None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::error::ErrorKind;

    fn p(args: &[&str]) -> Result<Options, clap::Error> {
        Options::try_parse_from(std::iter::once("lanes-bench").chain(args.iter().copied()))
    }

    #[test]
    fn avx2_tier_pass() {
        let d = p(&[]).unwrap();
        assert_eq!(d.avx2_tier, Avx2Tier::Auto);
        assert!(d.avx2_tier(true, true) && !d.avx2_tier(false, true) && !d.avx2_tier(true, false));
        let on = p(&["--avx2-tier", "on", "--impls", "gemm", "--quick"]).unwrap();
        assert!(on.avx2_tier(false, true) && !on.avx2_tier(false, false));
        assert!(!p(&["--avx2-tier=off"]).unwrap().avx2_tier(true, true));
        let w = Options::try_parse_from(std::iter::once("x".to_string()).chain(on.avx2_tier_worker_args())).unwrap();
        assert!(w.worker && w.quick && w.no_conv && w.no_models);
        assert_eq!((w.threads.as_slice(), w.isa_rows), (&[1][..], IsaRows::None));
        assert_eq!(w.only(), ["lanes", "lanes-packed", "openblas", "matrixmultiply"]);
        assert!(p(&["--avx2-tier", "sometimes"]).is_err());
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory;
        Options::command().debug_assert();
    }

    #[test]
    fn defaults_and_flags() {
        let d = p(&[]).unwrap();
        assert_eq!(d.out, None);
        assert!(!d.quick && !d.peak_only && !d.worker);
        assert_eq!(d.shapes, None);
        assert_eq!(d.threads, [1, 2]);
        assert!(d.impls.is_empty());
        assert_eq!(d.isa_rows, IsaRows::OneThread);
        assert_eq!(d.budget_ms, None);
        assert!(!d.no_models && !d.no_conv);

        let o =
            p(&["--out", "x", "--quick", "--threads=2, 1", "--impls", "lanes-*, gemm", "--isa-rows", "all"]).unwrap();
        assert_eq!(o.out, Some(PathBuf::from("x")));
        assert!(o.quick);
        assert_eq!(o.threads, [2, 1]);
        assert_eq!(o.impls, ["lanes-*", "gemm"]);
        assert!(o.per_isa_rows(2));
        let o = p(&["--isa-rows=none", "--budget-ms", "50", "--peak-only", "--shapes", "s.txt"]).unwrap();
        assert_eq!((o.isa_rows, o.budget_ms, o.peak_only), (IsaRows::None, Some(50), true));
        assert_eq!(o.shapes, Some(PathBuf::from("s.txt")));
        assert!(!o.per_isa_rows(1));
    }

    #[test]
    fn the_last_of_a_repeated_option_wins() {
        let o = p(&["--out", "bench-results", "--out", "/tmp/r", "--threads", "1,2", "--threads", "2"]).unwrap();
        assert_eq!(o.out, Some(PathBuf::from("/tmp/r")));
        assert_eq!(o.threads, [2]);
        assert!(p(&["--quick", "--quick"]).unwrap().quick);
    }

    #[test]
    fn errors_are_explained() {
        let e = p(&["--threads", "0"]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ValueValidation);
        assert!(e.to_string().contains("positive"), "{e}");
        let e = p(&["--threads", "1,x"]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::ValueValidation);
        let e = p(&["--bogus"]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::UnknownArgument);
        assert!(e.to_string().contains("--bogus"), "{e}");
        assert_eq!(p(&["--out"]).unwrap_err().kind(), ErrorKind::InvalidValue);
        assert_eq!(p(&["--budget-ms", "soon"]).unwrap_err().kind(), ErrorKind::ValueValidation);
        assert_eq!(p(&["--isa-rows", "2"]).unwrap_err().kind(), ErrorKind::InvalidValue);
        assert_eq!(p(&["stray"]).unwrap_err().kind(), ErrorKind::UnknownArgument);
    }

    #[test]
    fn help_lists_every_public_option() {
        let e = p(&["--help"]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::DisplayHelp);
        let help = e.to_string();
        for opt in [
            "--out",
            "--quick",
            "--shapes",
            "--threads",
            "--impls",
            "--isa-rows",
            "--budget-ms",
            "--peak-only",
            "--no-models",
        ] {
            assert!(help.contains(opt), "{opt} missing from\n{help}");
        }
        assert!(!help.contains("--worker"), "{help}");
        assert_eq!(p(&["-h"]).unwrap_err().kind(), ErrorKind::DisplayHelp);
    }

    #[test]
    fn worker_args_round_trip() {
        let o = p(&["--quick", "--impls", "gemm,", "--budget-ms", "50", "--isa-rows", "none", "--no-models"]).unwrap();
        assert_eq!(o.only(), ["gemm"]);
        let w = Options::try_parse_from(std::iter::once("lanes-bench".to_string()).chain(o.worker_args(2))).unwrap();
        assert!(w.worker && w.quick && w.no_models && !w.no_conv);
        assert_eq!(w.threads, [2]);
        assert_eq!(w.impls, ["gemm"]);
        assert_eq!(w.budget_ms, Some(50));
        assert_eq!(w.isa_rows, IsaRows::None);
        // An empty filter means all implementations: the worker gets no --impls at all.
        let o = p(&["--impls", ""]).unwrap();
        assert!(o.only().is_empty());
        assert!(!o.worker_args(1).contains(&"--impls".to_string()));
    }
}
