//! Command-line options (hand-rolled: no extra dependency to compile).

use std::path::PathBuf;

pub const USAGE: &str = "\
lanes-bench: lanes' GEMM against matrixmultiply, gemm, OpenBLAS and a naive loop

USAGE: lanes-bench [OPTIONS]

OPTIONS:
  --out DIR          output folder (default: bench-results): gemm.jsonl, peak.json, report.md, gemm.svg
  --quick            small shape list (shapes/quick.txt) and a short time budget: a smoke test
  --shapes FILE      shape list, one `M N K` per line (default: the bundled shapes/gemm.txt)
  --threads LIST     thread counts, comma-separated (default: 1,2)
  --impls LIST       only these (lanes always runs: it is the reference), e.g. openblas,gemm,lanes-*
  --isa-rows WHEN    lanes-<isa> rows for the other ISAs: `1` (1 thread only, default), `all`, `none`
  --budget-ms N      measured time per implementation and case (default 1000; --quick: 60)
  --peak-only        only the FMA peak loops: print them and write peak.json
  -h, --help         this text

Every implementation's result is checked against lanes' (and lanes' against f64) before timing.
Progress goes to stderr. Each thread count runs in its own worker process (matrixmultiply reads
its thread count once per process), all implementations interleaved within it.";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IsaRows {
    OneThread,
    All,
    None,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Options {
    pub out: PathBuf,
    pub quick: bool,
    pub shapes: Option<PathBuf>,
    pub threads: Vec<usize>,
    pub impls: Vec<String>,
    pub isa_rows: IsaRows,
    pub budget_ms: Option<u64>,
    pub peak_only: bool,
    /// Internal: run one thread count and print measurements as JSON lines.
    pub worker: bool,
    pub help: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            out: PathBuf::from("bench-results"),
            quick: false,
            shapes: None,
            threads: vec![1, 2],
            impls: vec![],
            isa_rows: IsaRows::OneThread,
            budget_ms: None,
            peak_only: false,
            worker: false,
            help: false,
        }
    }
}

impl Options {
    /// Arguments for a worker process measuring `threads` threads.
    pub fn worker_args(&self, threads: usize) -> Vec<String> {
        let mut a = vec!["--worker".to_string(), "--threads".into(), threads.to_string()];
        if self.quick {
            a.push("--quick".into());
        }
        if let Some(s) = &self.shapes {
            a.extend(["--shapes".into(), s.display().to_string()]);
        }
        if !self.impls.is_empty() {
            a.extend(["--impls".into(), self.impls.join(",")]);
        }
        let rows = match self.isa_rows {
            IsaRows::OneThread => "1",
            IsaRows::All => "all",
            IsaRows::None => "none",
        };
        a.extend(["--isa-rows".into(), rows.into()]);
        if let Some(b) = self.budget_ms {
            a.extend(["--budget-ms".into(), b.to_string()]);
        }
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

/// Parses the arguments after the program name.
pub fn parse<I: IntoIterator<Item = String>>(args: I) -> Result<Options, String> {
    let mut o = Options::default();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let mut value =
            |name: &str| inline.clone().or_else(|| it.next()).ok_or_else(|| format!("{name} needs a value"));
        match flag.as_str() {
            "--out" => o.out = PathBuf::from(value("--out")?),
            "--quick" => o.quick = true,
            "--shapes" => o.shapes = Some(PathBuf::from(value("--shapes")?)),
            "--threads" => {
                let v = value("--threads")?;
                o.threads = v
                    .split(',')
                    .map(|t| t.trim().parse::<usize>().ok().filter(|&t| t > 0))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| format!("--threads: `{v}` is not a list of positive integers"))?;
            }
            "--impls" => {
                o.impls = value("--impls")?.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
            }
            "--isa-rows" => {
                o.isa_rows = match value("--isa-rows")?.as_str() {
                    "1" => IsaRows::OneThread,
                    "all" => IsaRows::All,
                    "none" => IsaRows::None,
                    other => return Err(format!("--isa-rows: `{other}` is not one of 1, all, none")),
                }
            }
            "--budget-ms" => {
                let v = value("--budget-ms")?;
                o.budget_ms = Some(v.parse().map_err(|_| format!("--budget-ms: `{v}` is not a number"))?);
            }
            "--peak-only" => o.peak_only = true,
            "--worker" => o.worker = true,
            "-h" | "--help" => o.help = true,
            other => return Err(format!("unknown argument `{other}` (see --help)")),
        }
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Options, String> {
        parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults_and_flags() {
        assert_eq!(p(&[]).unwrap(), Options::default());
        let o = p(&["--out", "x", "--quick", "--threads=2,1", "--impls", "lanes-*,gemm", "--isa-rows", "all"]).unwrap();
        assert_eq!(o.out, PathBuf::from("x"));
        assert!(o.quick);
        assert_eq!(o.threads, [2, 1]);
        assert_eq!(o.impls, ["lanes-*", "gemm"]);
        assert!(o.per_isa_rows(2));
    }

    #[test]
    fn errors_are_explained() {
        assert!(p(&["--threads", "0"]).unwrap_err().contains("positive"));
        assert!(p(&["--bogus"]).unwrap_err().contains("unknown argument `--bogus`"));
        assert!(p(&["--out"]).unwrap_err().contains("needs a value"));
    }

    #[test]
    fn worker_args_round_trip() {
        let o = p(&["--quick", "--impls", "gemm", "--budget-ms", "50"]).unwrap();
        let w = parse(o.worker_args(2)).unwrap();
        assert!(w.worker && w.quick);
        assert_eq!(w.threads, [2]);
        assert_eq!(w.impls, ["gemm"]);
        assert_eq!(w.budget_ms, Some(50));
    }
}
