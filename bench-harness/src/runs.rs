//! Results kept per machine: without `--out`, each run writes to
//! `bench-results/<machine slug>/<YYYY-MM-DDTHHMMZ>/`, `bench-results/latest` points at it
//! (`bench-results/LATEST` holds the path where a symlink cannot be made) and
//! `bench-results/index.md` lists every run folder found.

use jiff::Timestamp;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The default root of the per-machine results.
pub const RESULTS_ROOT: &str = "bench-results";

/// The run folder's name for time `t`: `YYYY-MM-DDTHHMMZ`.
pub fn run_folder_name(t: Timestamp) -> String {
    t.strftime("%Y-%m-%dT%H%MZ").to_string()
}

/// Creates `root/<slug>/<YYYY-MM-DDTHHMMZ>/` for time `t` (with `-2`, `-3`, ... appended when
/// a run of the same minute already has that folder) and returns its path.
pub fn create_run_dir(root: &Path, slug: &str, t: Timestamp) -> std::io::Result<PathBuf> {
    let machine = root.join(slug);
    std::fs::create_dir_all(&machine)?;
    let name = run_folder_name(t);
    for i in 1.. {
        let dir = if i == 1 { machine.join(&name) } else { machine.join(format!("{name}-{i}")) };
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
    unreachable!("the loop returns")
}

/// Points `root/latest` at `run_dir` (a relative symlink, made beside it and renamed over the
/// old one). Where that fails, writes the path into `root/LATEST` instead. Returns a line that
/// says which.
pub fn mark_latest(root: &Path, run_dir: &Path) -> String {
    let rel = run_dir.strip_prefix(root).unwrap_or(run_dir).to_path_buf();
    match link_latest(root, &rel) {
        Ok(()) => {
            // A LATEST file from an earlier failure would now be stale.
            let _ = std::fs::remove_file(root.join("LATEST"));
            format!("{} -> {}", root.join("latest").display(), rel.display())
        }
        Err(e) => {
            let text = format!("{}\n", rel.display());
            match std::fs::write(root.join("LATEST"), text) {
                Ok(()) => format!("no symlink ({e}); {} names {}", root.join("LATEST").display(), rel.display()),
                Err(e2) => {
                    format!("warning: neither {}/latest ({e}) nor LATEST ({e2}) could be written", root.display())
                }
            }
        }
    }
}

#[cfg(unix)]
fn link_latest(root: &Path, rel: &Path) -> std::io::Result<()> {
    let tmp = root.join(format!(".latest-{}", std::process::id()));
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(rel, &tmp)?;
    // rename(2) replaces an old symlink in one step; it fails on a real directory named latest.
    std::fs::rename(&tmp, root.join("latest")).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(not(unix))]
fn link_latest(_root: &Path, _rel: &Path) -> std::io::Result<()> {
    Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "symlinks are made on Unix only"))
}

/// What the index shows of one run folder.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunSummary {
    /// Path relative to the results root: `<slug>/<date>`.
    pub rel: String,
    pub slug: String,
    /// The folder name: `YYYY-MM-DDTHHMMZ` (maybe with `-2`).
    pub date: String,
    pub microarch: Option<String>,
    pub lanes_isa: Option<String>,
    /// lanes at 1 thread on the largest GEMM shape (by M·N·K) of the run.
    pub headline: Option<String>,
}

/// Reads what the index needs from `root/<slug>/<date>/`: machine.json (newer runs) or the
/// report's machine table (older ones), and gemm.jsonl. Missing or malformed files leave
/// fields empty; they never fail.
pub fn summarize(root: &Path, slug: &str, date: &str) -> RunSummary {
    let dir = root.join(slug).join(date);
    let machine: Option<serde_json::Value> =
        std::fs::read_to_string(dir.join("machine.json")).ok().and_then(|t| serde_json::from_str(&t).ok());
    let from_machine = |key: &str| {
        machine.as_ref().and_then(|m| m.get(key)).and_then(|v| v.as_str()).filter(|s| !s.is_empty()).map(String::from)
    };
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap_or_default();
    let from_report = |label: &str| {
        report.lines().find_map(|l| {
            let rest = l.strip_prefix("| ")?.strip_prefix(label)?.strip_prefix(" | ")?;
            Some(rest.trim_end().trim_end_matches('|').trim().to_string()).filter(|s| !s.is_empty())
        })
    };
    RunSummary {
        rel: format!("{slug}/{date}"),
        slug: slug.into(),
        date: date.into(),
        microarch: from_machine("microarch").or_else(|| from_report("microarchitecture")),
        lanes_isa: from_machine("lanes_isa").or_else(|| from_report("lanes ISA (`lanes` row)")),
        headline: std::fs::read_to_string(dir.join("gemm.jsonl")).ok().and_then(|t| headline(&t)),
    }
}

/// `2048x2048x2048: 150 GFLOP/s, 0.94× gemm` for lanes at 1 thread on the largest shape of
/// a gemm.jsonl text (lines that do not parse are skipped).
pub fn headline(jsonl: &str) -> Option<String> {
    let num = |v: &serde_json::Value, k: &str| v.get(k).and_then(serde_json::Value::as_f64);
    let lanes_1t = jsonl
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("suite").and_then(|s| s.as_str()).unwrap_or("gemm") == "gemm")
        .filter(|v| v.get("impl").and_then(|s| s.as_str()) == Some("lanes") && num(v, "threads") == Some(1.0));
    let size =
        |v: &serde_json::Value| num(v, "m").unwrap_or(0.0) * num(v, "n").unwrap_or(0.0) * num(v, "k").unwrap_or(0.0);
    let best = lanes_1t.max_by(|a, b| size(a).total_cmp(&size(b)))?;
    let mut s = format!("{}: {:.0} GFLOP/s", best.get("case")?.as_str()?, num(&best, "gflops")?);
    if let (Some(r), Some(p)) = (num(&best, "ratio_to_best_peer"), best.get("best_peer").and_then(|p| p.as_str())) {
        let _ = write!(s, ", {r:.2}× {p}");
    }
    Some(s)
}

/// Every `root/*/*/` holding a report.md (the `latest` link is not followed), newest first.
pub fn find_runs(root: &Path) -> Vec<RunSummary> {
    let subdirs = |p: &Path| -> Vec<String> {
        let Ok(rd) = std::fs::read_dir(p) else { return Vec::new() };
        rd.filter_map(Result::ok)
            // file_type() does not follow symlinks: `latest` is skipped.
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().to_str().map(String::from))
            .filter(|n| !n.starts_with('.'))
            .collect()
    };
    let mut runs = Vec::new();
    for slug in subdirs(root) {
        for date in subdirs(&root.join(&slug)) {
            if root.join(&slug).join(&date).join("report.md").is_file() {
                runs.push(summarize(root, &slug, &date));
            }
        }
    }
    runs.sort_by(|a, b| b.date.cmp(&a.date).then_with(|| a.slug.cmp(&b.slug)));
    runs
}

/// The text of index.md for `runs`; `latest` is the `<slug>/<date>` of the newest run, marked.
pub fn render_index(runs: &[RunSummary], latest: Option<&str>) -> String {
    let mut s = String::from(
        "# lanes-bench runs\n\n\
         One row per run folder `<machine>/<date>/` holding a report.md, newest first \
         (written by `lanes-bench` after each run without `--out`). \
         Headline: lanes at 1 thread on the largest GEMM shape of the run, GFLOP/s and the ratio \
         to the fastest peer there.\n\n\
         | machine | date (UTC) | microarchitecture | lanes ISA | headline (lanes, 1 thread) | report |\n\
         |---|---|---|---|---|---|\n",
    );
    let cell = |x: &Option<String>| x.as_deref().unwrap_or("—").replace('|', "\\|");
    for r in runs {
        let mark = if latest == Some(r.rel.as_str()) { " (latest)" } else { "" };
        let _ = writeln!(
            s,
            "| {} | {}{mark} | {} | {} | {} | [report.md]({}/report.md) |",
            r.slug,
            r.date,
            cell(&r.microarch),
            cell(&r.lanes_isa),
            cell(&r.headline),
            r.rel
        );
    }
    if runs.is_empty() {
        s.push_str("\nNo run folders yet.\n");
    }
    s
}

/// Regenerates `root/index.md` from the run folders under `root`; returns its path.
pub fn write_index(root: &Path, latest: Option<&str>) -> std::io::Result<PathBuf> {
    let path = root.join("index.md");
    std::fs::write(&path, render_index(&find_runs(root), latest))?;
    Ok(path)
}

/// The relative link from a report in `out` to docs/benchmarking.md, for an `out` given
/// relative to the workspace root (`bench-results/a/b` -> `../../../docs/benchmarking.md`);
/// `../docs/benchmarking.md` when that cannot be worked out (an absolute or `..` path).
pub fn docs_link(out: &Path) -> String {
    use std::path::Component;
    let mut depth = 0;
    for c in out.components() {
        match c {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            _ => return "../docs/benchmarking.md".into(),
        }
    }
    "../".repeat(depth.max(1)) + "docs/benchmarking.md"
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A fresh folder under the system temp dir, removed on drop (no tempfile crate here).
    struct TempDir(PathBuf);
    impl TempDir {
        fn new() -> TempDir {
            static N: AtomicUsize = AtomicUsize::new(0);
            let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
            let p = std::env::temp_dir().join(format!(
                "lanes-bench-runs-{}-{nanos}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            std::fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }
    }
    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn write(path: &Path, text: &str) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    const GEMM_JSONL: &str = r#"{"suite":"gemm","case":"64x64x64","m":64,"n":64,"k":64,"impl":"lanes","threads":1,"gflops":90.0,"ratio_to_best_peer":1.2,"best_peer":"gemm"}
{"suite":"gemm","case":"2048x2048x2048","m":2048,"n":2048,"k":2048,"impl":"gemm","threads":1,"gflops":160.0}
{"suite":"gemm","case":"2048x2048x2048","m":2048,"n":2048,"k":2048,"impl":"lanes","threads":2,"gflops":290.0}
{"suite":"gemm","case":"2048x2048x2048","m":2048,"n":2048,"k":2048,"impl":"lanes","threads":1,"gflops":150.4,"ratio_to_best_peer":0.94,"best_peer":"gemm"}
not json
"#;

    #[test]
    fn headline_picks_the_largest_shape_at_one_thread() {
        assert_eq!(headline(GEMM_JSONL).as_deref(), Some("2048x2048x2048: 150 GFLOP/s, 0.94× gemm"));
        // No peer measured: no ratio.
        let solo = r#"{"case":"8x8x8","m":8,"n":8,"k":8,"impl":"lanes","threads":1,"gflops":3.0,"ratio_to_best_peer":null,"best_peer":null}"#;
        assert_eq!(headline(solo).as_deref(), Some("8x8x8: 3 GFLOP/s"));
        assert_eq!(headline(""), None);
        assert_eq!(headline("{\"impl\":\"gemm\",\"threads\":1}"), None);
    }

    #[test]
    fn run_folders_and_latest() {
        let tmp = TempDir::new();
        let root = tmp.0.join("bench-results");
        let t = Timestamp::from_second(1_795_000_000).unwrap();
        assert_eq!(run_folder_name(t), "2026-11-18T1106Z");
        let a = create_run_dir(&root, "amd-zen3-avx2-2cpu", t).unwrap();
        let b = create_run_dir(&root, "amd-zen3-avx2-2cpu", t).unwrap();
        assert_eq!(a, root.join("amd-zen3-avx2-2cpu/2026-11-18T1106Z"));
        assert_eq!(b, root.join("amd-zen3-avx2-2cpu/2026-11-18T1106Z-2"));
        assert!(a.is_dir() && b.is_dir());

        let said = mark_latest(&root, &a);
        assert!(said.contains("amd-zen3-avx2-2cpu/2026-11-18T1106Z"), "{said}");
        #[cfg(unix)]
        {
            assert_eq!(
                std::fs::read_link(root.join("latest")).unwrap(),
                Path::new("amd-zen3-avx2-2cpu/2026-11-18T1106Z")
            );
            // Replaced, not stacked.
            mark_latest(&root, &b);
            assert_eq!(
                std::fs::read_link(root.join("latest")).unwrap(),
                Path::new("amd-zen3-avx2-2cpu/2026-11-18T1106Z-2")
            );
            assert!(!root.join("LATEST").exists());
            // A real folder in the way: the LATEST file instead.
            std::fs::remove_file(root.join("latest")).unwrap();
            write(&root.join("latest/keep"), "x");
            let said = mark_latest(&root, &a);
            assert!(said.contains("LATEST"), "{said}");
            assert_eq!(std::fs::read_to_string(root.join("LATEST")).unwrap(), "amd-zen3-avx2-2cpu/2026-11-18T1106Z\n");
        }
    }

    #[test]
    fn index_of_fake_run_folders() {
        let tmp = TempDir::new();
        let root = tmp.0.as_path();
        // New layout, with machine.json and gemm.jsonl.
        let spr = root.join("intel-sapphire-rapids-avx512-2cpu/2026-11-18T1106Z");
        write(&spr.join("report.md"), "# lanes GEMM benchmark\n");
        write(
            &spr.join("machine.json"),
            r#"{"cpu":"Intel(R) Xeon(R) Processor","microarch":"Intel Sapphire Rapids","lanes_isa":"avx512","slug":"intel-sapphire-rapids-avx512-2cpu"}"#,
        );
        write(&spr.join("gemm.jsonl"), GEMM_JSONL);
        // Older run: no machine.json, ISA from the report's table, no gemm.jsonl.
        let zen3 = root.join("amd-zen3-avx2-2cpu/2026-11-17T0900Z");
        write(&zen3.join("report.md"), "## Machine\n\n| | |\n|---|---|\n| lanes ISA (`lanes` row) | avx2 |\n");
        // Not runs: no report.md, a loose file, a hidden folder, the old flat layout's files.
        write(&root.join("amd-zen3-avx2-2cpu/2026-11-16T0900Z/peak.json"), "{}");
        write(&root.join("report.md"), "old flat report");
        write(&root.join("mnist_mlp.safetensors"), "");
        write(&root.join(".hidden/x/report.md"), "");
        #[cfg(unix)]
        std::os::unix::fs::symlink("intel-sapphire-rapids-avx512-2cpu/2026-11-18T1106Z", root.join("latest")).unwrap();

        let runs = find_runs(root);
        let rels: Vec<&str> = runs.iter().map(|r| r.rel.as_str()).collect();
        assert_eq!(rels, ["intel-sapphire-rapids-avx512-2cpu/2026-11-18T1106Z", "amd-zen3-avx2-2cpu/2026-11-17T0900Z"]);
        assert_eq!(runs[0].microarch.as_deref(), Some("Intel Sapphire Rapids"));
        assert_eq!(runs[0].lanes_isa.as_deref(), Some("avx512"));
        assert_eq!(runs[1].lanes_isa.as_deref(), Some("avx2"));
        assert_eq!((runs[1].microarch.as_deref(), runs[1].headline.as_deref()), (None, None));

        let path = write_index(root, Some("intel-sapphire-rapids-avx512-2cpu/2026-11-18T1106Z")).unwrap();
        let md = std::fs::read_to_string(path).unwrap();
        assert!(
            md.contains(
                "| intel-sapphire-rapids-avx512-2cpu | 2026-11-18T1106Z (latest) | Intel Sapphire Rapids | avx512 | \
             2048x2048x2048: 150 GFLOP/s, 0.94× gemm | \
             [report.md](intel-sapphire-rapids-avx512-2cpu/2026-11-18T1106Z/report.md) |"
            ),
            "{md}"
        );
        assert!(md.contains("| amd-zen3-avx2-2cpu | 2026-11-17T0900Z | — | avx2 | — |"), "{md}");
        assert_eq!(md.lines().filter(|l| l.starts_with("| ")).count(), 3, "{md}");
        assert!(render_index(&[], None).contains("No run folders yet."));
    }

    #[test]
    fn docs_links() {
        assert_eq!(docs_link(Path::new("bench-results")), "../docs/benchmarking.md");
        assert_eq!(
            docs_link(Path::new("bench-results/amd-zen3-avx2-2cpu/2026-11-17T0900Z")),
            "../../../docs/benchmarking.md"
        );
        assert_eq!(docs_link(Path::new("./out")), "../docs/benchmarking.md");
        assert_eq!(docs_link(Path::new("/tmp/r")), "../docs/benchmarking.md");
    }
}
