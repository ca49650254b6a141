//! `lanes-bench`: see `--help` and docs/benchmarking.md.

#![deny(unsafe_code)]

use clap::Parser;
use lanes_bench::cli::Options;
use lanes_bench::machine::{self, MachineInfo};
use lanes_bench::measure::Budget;
use lanes_bench::peak::{self, PeakRuns};
use lanes_bench::peers::RosterOptions;
use lanes_bench::record::{build_records, Measurement};
use lanes_bench::shapes::{parse_shapes, Shape, DEFAULT_SHAPES, QUICK_SHAPES};
use lanes_bench::{chart, report, runs, worker};
use std::error::Error;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

type Res<T> = Result<T, Box<dyn Error + Send + Sync>>;

fn main() -> ExitCode {
    // Exits with 0 after --help, with 2 and a message on a bad command line.
    let opts = Options::parse();
    let result = if opts.worker { worker_main(&opts) } else { driver_main(&opts) };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lanes-bench: error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The shapes to run and a description of where they came from.
fn load_shapes(opts: &Options) -> Res<(Vec<Shape>, String)> {
    let (text, source) = match &opts.shapes {
        Some(path) => (
            std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?,
            path.display().to_string(),
        ),
        None if opts.quick => (QUICK_SHAPES.to_string(), "bench-harness/shapes/quick.txt".to_string()),
        None => (DEFAULT_SHAPES.to_string(), "bench-harness/shapes/gemm.txt".to_string()),
    };
    let shapes = parse_shapes(&text).map_err(|e| format!("{source}: {e}"))?;
    Ok((shapes, source))
}

fn budget(opts: &Options) -> Budget {
    let mut b = if opts.quick { Budget::QUICK } else { Budget::DEFAULT };
    if let Some(ms) = opts.budget_ms {
        b.per_impl = Duration::from_millis(ms);
    }
    b
}

/// One thread count: measurements as JSON lines on stdout, progress on stderr.
fn worker_main(opts: &Options) -> Res<()> {
    let &[threads] = opts.threads.as_slice() else {
        return Err("--worker takes exactly one thread count".into());
    };
    // matrixmultiply reads this once, at its first call; nothing has called it yet.
    std::env::set_var("MATMUL_NUM_THREADS", threads.to_string());
    #[cfg(feature = "openblas")]
    lanes_bench::openblas::set_threads(threads);
    #[cfg(feature = "openblas")]
    if let Ok(core) = std::env::var("OPENBLAS_CORETYPE") {
        eprintln!(
            "[{threads}t] OpenBLAS runs its {} kernels (OPENBLAS_CORETYPE={core})",
            lanes_bench::openblas::corename()
        );
    }
    let (shapes, _) = load_shapes(opts)?;
    let roster = RosterOptions { per_isa_rows: opts.per_isa_rows(threads), only: opts.only() };
    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build()?;
    let budget = budget(opts);
    let emit = |ms: &[Measurement]| {
        let mut out = std::io::stdout().lock();
        for m in ms {
            let _ = writeln!(out, "{}", serde_json::to_string(m).expect("measurement serialises"));
        }
        let _ = out.flush();
    };
    pool.install(|| worker::run(&shapes, threads, &roster, budget, emit))?;
    if !opts.no_conv {
        let layers = load_conv_layers(opts)?;
        pool.install(|| lanes_bench::conv_suite::run(&layers, threads, budget, emit))?;
        pool.install(|| lanes_bench::eltwise_suite::run(threads, budget, emit))?;
    }
    if !opts.no_models {
        pool.install(|| lanes_bench::models_suite::run(threads, budget, emit))?;
    }
    Ok(())
}

/// The convolution layers: `--conv-layers FILE` or the bundled shapes/conv.txt.
fn load_conv_layers(opts: &Options) -> Res<Vec<lanes_bench::conv_suite::ConvLayer>> {
    let text = match &opts.conv_layers {
        Some(path) => std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?,
        None => lanes_bench::conv_suite::DEFAULT_LAYERS.to_string(),
    };
    Ok(lanes_bench::conv_suite::parse_layers(&text)?)
}

/// Runs one worker process and collects its measurements.
fn run_worker(opts: &Options, threads: usize) -> Res<Vec<Measurement>> {
    run_worker_with(opts.worker_args(threads), threads, &[])
}

/// A worker process with these arguments and extra environment variables.
fn run_worker_with(args: Vec<String>, threads: usize, env: &[(&str, &str)]) -> Res<Vec<Measurement>> {
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .args(args)
        .envs(env.iter().copied())
        .env("MATMUL_NUM_THREADS", threads.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout = child.stdout.take().expect("piped stdout");
    let mut out = Vec::new();
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        if line.trim_start().starts_with('{') {
            out.push(serde_json::from_str(&line).map_err(|e| format!("bad line from worker: {e}: {line}"))?);
        }
    }
    let status = child.wait()?;
    if !status.success() {
        return Err(format!("the {threads}-thread worker failed ({status}); see its message above").into());
    }
    Ok(out)
}

fn write_peaks(out: &Path, machine: &MachineInfo, peaks: &[peak::Peak]) -> Res<()> {
    let json = serde_json::json!({
        "suite": "peak",
        "chains": peak::CHAINS,
        "cpu": machine.cpu,
        "microarch": machine.microarch,
        "machine": machine.slug,
        "date_utc": machine.date_utc,
        "peaks": peaks,
    });
    std::fs::write(out.join("peak.json"), serde_json::to_string_pretty(&json)? + "\n")?;
    Ok(())
}

/// The output folder: `--out DIR` as given, or a new `bench-results/<slug>/<date>/`
/// (`true`: the per-machine layout, whose `latest` link and index.md are updated at the end).
fn output_dir(opts: &Options, machine: &MachineInfo) -> Res<(PathBuf, bool)> {
    match &opts.out {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
            Ok((dir.clone(), false))
        }
        None => {
            let root = Path::new(runs::RESULTS_ROOT);
            let dir = runs::create_run_dir(root, &machine.slug, jiff::Timestamp::now())
                .map_err(|e| format!("cannot create a run folder under {}: {e}", root.display()))?;
            Ok((dir, true))
        }
    }
}

/// The per-machine layout's bookkeeping after a run: `bench-results/latest` and index.md.
fn finish_run_dir(out: &Path) {
    let root = Path::new(runs::RESULTS_ROOT);
    eprintln!("lanes-bench: {}", runs::mark_latest(root, out));
    let latest = out.strip_prefix(root).ok().map(|p| p.display().to_string());
    match runs::write_index(root, latest.as_deref()) {
        Ok(path) => eprintln!("lanes-bench: index of runs: {}", path.display()),
        Err(e) => eprintln!("lanes-bench: warning: no index.md: {e}"),
    }
}

fn driver_main(opts: &Options) -> Res<()> {
    let started = Instant::now();
    let (shapes, source) = load_shapes(opts)?;
    let machine = MachineInfo::detect();
    let (out, per_machine) = output_dir(opts, &machine)?;
    let out = out.as_path();
    std::fs::write(out.join("machine.json"), serde_json::to_string_pretty(&machine)? + "\n")?;
    eprintln!(
        "lanes-bench: {} shapes from {source}, threads {:?}, {} ({}; {} logical CPUs); writing to {}",
        shapes.len(),
        opts.threads,
        machine.cpu,
        machine.microarch,
        machine.logical_cpus,
        out.display()
    );

    // The peak before and after the GEMM runs (the best run counts): one busy moment of the
    // shared machine cannot lower it.
    let (reps, run_ms) = if opts.quick { (3, 10.0) } else { (5, 40.0) };
    let load_before = machine::load_average();
    let mut peak_runs = PeakRuns::measure(&opts.threads, reps, run_ms);
    if opts.peak_only {
        let peaks = peak_runs.summary();
        peak::log(&peaks);
        write_peaks(out, &machine, &peaks)?;
        eprintln!("lanes-bench: peaks written to {}", out.join("peak.json").display());
        // No report: `latest` keeps naming the last full run and the index would skip this one.
        println!("{}", out.display());
        return Ok(());
    }
    peak::log(&peak_runs.summary());

    let mut measurements = Vec::new();
    for &t in &opts.threads {
        measurements.extend(run_worker(opts, t)?);
    }
    let has = |f: &str| machine.features.iter().any(|x| x == f);
    if opts.avx2_tier(has("avx512f"), has("avx2") && has("fma")) {
        // In a process of its own: OpenBLAS reads OPENBLAS_CORETYPE when it loads, lanes
        // LANES_ISA at its first call.
        eprintln!("lanes-bench: AVX2 tier: lanes forced to AVX2, OpenBLAS held to its Haswell kernels, 1 thread");
        let env = [("LANES_ISA", "avx2"), ("OPENBLAS_CORETYPE", "Haswell")];
        for mut m in run_worker_with(opts.avx2_tier_worker_args(), 1, &env)? {
            m.suite = report::AVX2_TIER_SUITE.into();
            measurements.push(m);
        }
    }
    peak_runs.merge(PeakRuns::measure(&opts.threads, reps, run_ms));
    let peaks = peak_runs.summary();
    eprintln!("lanes-bench: peaks, best of before and after:");
    peak::log(&peaks);
    write_peaks(out, &machine, &peaks)?;
    let load_after = machine::load_average();
    let (models_ms, measurements): (Vec<Measurement>, Vec<Measurement>) =
        measurements.into_iter().partition(|m| m.suite == "models");
    if !models_ms.is_empty() {
        let jsonl: String = build_records(&models_ms, &peaks).iter().map(|r| r.to_json_line() + "\n").collect();
        std::fs::write(out.join("models.jsonl"), jsonl)?;
    }
    let (eltwise_ms, measurements): (Vec<Measurement>, Vec<Measurement>) =
        measurements.into_iter().partition(|m| m.suite == "eltwise");
    if !eltwise_ms.is_empty() {
        let jsonl: String = build_records(&eltwise_ms, &peaks).iter().map(|r| r.to_json_line() + "\n").collect();
        std::fs::write(out.join("eltwise.jsonl"), jsonl)?;
    }
    let (avx2_ms, measurements): (Vec<Measurement>, Vec<Measurement>) =
        measurements.into_iter().partition(|m| m.suite == report::AVX2_TIER_SUITE);
    if !avx2_ms.is_empty() {
        let jsonl: String = build_records(&avx2_ms, &peaks).iter().map(|r| r.to_json_line() + "\n").collect();
        std::fs::write(out.join("gemm-avx2.jsonl"), jsonl)?;
    }
    let (conv_ms, measurements): (Vec<Measurement>, Vec<Measurement>) =
        measurements.into_iter().partition(|m| m.suite == "conv");
    let records = build_records(&measurements, &peaks);
    if !conv_ms.is_empty() {
        let conv_jsonl: String = build_records(&conv_ms, &peaks).iter().map(|r| r.to_json_line() + "\n").collect();
        std::fs::write(out.join("conv.jsonl"), conv_jsonl)?;
    }

    let jsonl: String = records.iter().map(|r| r.to_json_line() + "\n").collect();
    std::fs::write(out.join("gemm.jsonl"), jsonl)?;

    let cases: Vec<String> = shapes.iter().map(Shape::name).collect();
    let chart_ok = match chart::draw(&out.join("gemm.svg"), &records, &cases, &opts.threads) {
        Ok(()) => true,
        Err(e) => {
            eprintln!("lanes-bench: warning: no chart: {e}");
            false
        }
    };
    let b = budget(opts);
    let run_notes = vec![
        format!("{} shapes from `{source}`; threads {:?}", shapes.len(), opts.threads),
        format!(
            "about {} ms measured per implementation and case, {}–{} samples each; median reported",
            b.per_impl.as_millis(),
            b.min_rounds,
            b.rounds
        ),
        format!("load average (1 min) {load_before} before, {load_after} after: above 0 means other processes shared the cores"),
        format!(
            "total wall time {:.0} s (`lanes-bench {}`)",
            started.elapsed().as_secs_f64(),
            std::env::args().skip(1).collect::<Vec<_>>().join(" ")
        ),
    ];
    let md = report::render(&report::ReportInput {
        machine: &machine,
        peaks: &peaks,
        records: &records,
        cases: &cases,
        threads: &opts.threads,
        chart: chart_ok.then_some("gemm.svg"),
        run_notes: &run_notes,
        docs_link: &runs::docs_link(out),
    });
    let md = if avx2_ms.is_empty() { md } else { md + &report::render_avx2_tier(&avx2_ms) };
    let md = if conv_ms.is_empty() { md } else { md + &lanes_bench::conv_suite::render(&conv_ms, &opts.threads) };
    let md =
        if eltwise_ms.is_empty() { md } else { md + &lanes_bench::eltwise_suite::render(&eltwise_ms, &opts.threads) };
    let md = if models_ms.is_empty() { md } else { md + &lanes_bench::models_suite::render(&models_ms, &opts.threads) };
    std::fs::write(out.join("report.md"), md)?;
    if per_machine {
        finish_run_dir(out);
    }
    eprintln!(
        "lanes-bench: done in {:.0} s; report: {}",
        started.elapsed().as_secs_f64(),
        out.join("report.md").display()
    );
    // The run folder, alone on stdout (scripts/bench.sh passes it on to the browser bench).
    println!("{}", out.display());
    Ok(())
}
