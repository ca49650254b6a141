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
use lanes_bench::{chart, report, worker};
use std::error::Error;
use std::io::{BufRead, BufReader, Write};
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
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe)
        .args(opts.worker_args(threads))
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

fn write_peaks(opts: &Options, machine: &MachineInfo, peaks: &[peak::Peak]) -> Res<()> {
    let json = serde_json::json!({
        "suite": "peak",
        "chains": peak::CHAINS,
        "cpu": machine.cpu,
        "date_utc": machine.date_utc,
        "peaks": peaks,
    });
    std::fs::write(opts.out.join("peak.json"), serde_json::to_string_pretty(&json)? + "\n")?;
    Ok(())
}

fn driver_main(opts: &Options) -> Res<()> {
    let started = Instant::now();
    let (shapes, source) = load_shapes(opts)?;
    std::fs::create_dir_all(&opts.out).map_err(|e| format!("cannot create {}: {e}", opts.out.display()))?;
    let machine = MachineInfo::detect();
    eprintln!(
        "lanes-bench: {} shapes from {source}, threads {:?}, {} ({} logical CPUs)",
        shapes.len(),
        opts.threads,
        machine.cpu,
        machine.logical_cpus
    );

    // The peak before and after the GEMM runs (the best run counts): one busy moment of the
    // shared machine cannot lower it.
    let (reps, run_ms) = if opts.quick { (3, 10.0) } else { (5, 40.0) };
    let load_before = machine::load_average();
    let mut peak_runs = PeakRuns::measure(&opts.threads, reps, run_ms);
    if opts.peak_only {
        let peaks = peak_runs.summary();
        peak::log(&peaks);
        write_peaks(opts, &machine, &peaks)?;
        eprintln!("lanes-bench: peaks written to {}", opts.out.join("peak.json").display());
        return Ok(());
    }
    peak::log(&peak_runs.summary());

    let mut measurements = Vec::new();
    for &t in &opts.threads {
        measurements.extend(run_worker(opts, t)?);
    }
    peak_runs.merge(PeakRuns::measure(&opts.threads, reps, run_ms));
    let peaks = peak_runs.summary();
    eprintln!("lanes-bench: peaks, best of before and after:");
    peak::log(&peaks);
    write_peaks(opts, &machine, &peaks)?;
    let load_after = machine::load_average();
    let (models_ms, measurements): (Vec<Measurement>, Vec<Measurement>) =
        measurements.into_iter().partition(|m| m.suite == "models");
    if !models_ms.is_empty() {
        let jsonl: String = build_records(&models_ms, &peaks).iter().map(|r| r.to_json_line() + "\n").collect();
        std::fs::write(opts.out.join("models.jsonl"), jsonl)?;
    }
    let (eltwise_ms, measurements): (Vec<Measurement>, Vec<Measurement>) =
        measurements.into_iter().partition(|m| m.suite == "eltwise");
    if !eltwise_ms.is_empty() {
        let jsonl: String = build_records(&eltwise_ms, &peaks).iter().map(|r| r.to_json_line() + "\n").collect();
        std::fs::write(opts.out.join("eltwise.jsonl"), jsonl)?;
    }
    let (conv_ms, measurements): (Vec<Measurement>, Vec<Measurement>) =
        measurements.into_iter().partition(|m| m.suite == "conv");
    let records = build_records(&measurements, &peaks);
    if !conv_ms.is_empty() {
        let conv_jsonl: String = build_records(&conv_ms, &peaks).iter().map(|r| r.to_json_line() + "\n").collect();
        std::fs::write(opts.out.join("conv.jsonl"), conv_jsonl)?;
    }

    let jsonl: String = records.iter().map(|r| r.to_json_line() + "\n").collect();
    std::fs::write(opts.out.join("gemm.jsonl"), jsonl)?;

    let cases: Vec<String> = shapes.iter().map(Shape::name).collect();
    let chart_ok = match chart::draw(&opts.out.join("gemm.svg"), &records, &cases, &opts.threads) {
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
    });
    let md = if conv_ms.is_empty() { md } else { md + &lanes_bench::conv_suite::render(&conv_ms, &opts.threads) };
    let md =
        if eltwise_ms.is_empty() { md } else { md + &lanes_bench::eltwise_suite::render(&eltwise_ms, &opts.threads) };
    let md = if models_ms.is_empty() { md } else { md + &lanes_bench::models_suite::render(&models_ms, &opts.threads) };
    std::fs::write(opts.out.join("report.md"), md)?;
    eprintln!(
        "lanes-bench: done in {:.0} s; report: {}",
        started.elapsed().as_secs_f64(),
        opts.out.join("report.md").display()
    );
    Ok(())
}
