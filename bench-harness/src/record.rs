//! What a worker measures ([`Measurement`]) and the final `gemm.jsonl` line ([`Record`]) with
//! efficiency and the ratios to peers at the same case and thread count.

use crate::peak::{self, Peak, PeakKind};
use crate::peers::{GEMM, MATRIXMULTIPLY, NAIVE, ONNXRUNTIME, OPENBLAS, PEERS};
use serde::{Deserialize, Serialize};

/// One (case, impl, threads) as measured by a worker process.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Measurement {
    /// `gemm` or `conv`.
    #[serde(default = "gemm_suite")]
    pub suite: String,
    pub case: String,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    #[serde(rename = "impl")]
    pub impl_name: String,
    pub isa: String,
    pub threads: usize,
    /// `2*m*n*k / median time per call`, in 1e9 FLOP/s.
    pub gflops: f64,
    /// From the slowest and the fastest sample.
    pub gflops_min: f64,
    pub gflops_max: f64,
    pub median_s: f64,
    pub samples: usize,
    /// Calls per sample.
    pub iters: usize,
    /// Max relative error against lanes' result (lanes: against f64 at sampled entries).
    pub rel_err: f64,
    /// The peak efficiency is measured against (not written to gemm.jsonl).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak: Option<PeakKind>,
    /// Seconds per call of each sample, in round order: sample `r` ran in round `r` of the
    /// case's interleaved loop, next to the other implementations' sample `r` (not written
    /// to gemm.jsonl; used for the paired ratios).
    #[serde(default)]
    pub round_s: Vec<f64>,
}

impl Measurement {
    /// The timing fields for `work` units (FLOP, or bytes) per call, from `times` (seconds per
    /// call of each sample, in round order) of `iters` calls each; the other fields empty, to be
    /// filled with struct update syntax.
    pub fn timed(work: f64, times: &[f64], iters: usize) -> Measurement {
        let s = crate::measure::stats(times);
        Measurement {
            suite: String::new(),
            case: String::new(),
            m: 0,
            n: 0,
            k: 0,
            impl_name: String::new(),
            isa: String::new(),
            threads: 0,
            gflops: work / s.median / 1e9,
            gflops_min: work / s.max / 1e9,
            gflops_max: work / s.min / 1e9,
            median_s: s.median,
            samples: s.samples,
            iters,
            rel_err: 0.0,
            peak: None,
            round_s: times.to_vec(),
        }
    }
}

fn gemm_suite() -> String {
    "gemm".into()
}

/// One line of `gemm.jsonl`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub suite: String,
    pub case: String,
    pub m: usize,
    pub n: usize,
    pub k: usize,
    #[serde(rename = "impl")]
    pub impl_name: String,
    pub isa: String,
    pub threads: usize,
    pub gflops: f64,
    pub gflops_min: f64,
    pub gflops_max: f64,
    /// `gflops / peak` of the instruction mix this impl uses, at this thread count.
    pub efficiency: Option<f64>,
    pub peak_kind: Option<PeakKind>,
    /// `gflops / that peer's gflops`, same case and thread count; null when the peer was not
    /// measured there (or is this impl itself).
    pub ratio_to_matrixmultiply: Option<f64>,
    pub ratio_to_gemm: Option<f64>,
    pub ratio_to_openblas: Option<f64>,
    pub ratio_to_onnxruntime: Option<f64>,
    /// Against the fastest of matrixmultiply, gemm and OpenBLAS (other than itself).
    pub ratio_to_best_peer: Option<f64>,
    pub best_peer: Option<String>,
    /// The same against the best peer, paired: the median over the rounds both ran of
    /// (peer's time / this impl's time). Samples of one round run back to back, so slow
    /// phases of a shared machine cancel out of each pair.
    pub paired_ratio_to_best_peer: Option<f64>,
    /// Paired, against ONNX Runtime (the `lanes-packed` row's like-for-like peer).
    pub paired_ratio_to_onnxruntime: Option<f64>,
    pub ratio_to_naive: Option<f64>,
    /// Minimal memory traffic (A, B and C once each, 4 bytes per element) / median time, in
    /// 1e9 B/s: the figure that matters when the shape is bound by bandwidth (GEMV, M = 1).
    pub gbytes_per_s: f64,
    pub median_s: f64,
    pub samples: usize,
    pub iters: usize,
    pub rel_err: f64,
}

impl Record {
    /// The `gemm.jsonl` line (no trailing newline).
    pub fn to_json_line(&self) -> String {
        serde_json::to_string(self).expect("a Record always serialises")
    }
}

/// `a / b` when both are measured and `b > 0`.
pub fn ratio(a: f64, b: Option<f64>) -> Option<f64> {
    b.filter(|&b| b > 0.0 && b.is_finite()).map(|b| a / b)
}

/// Median over the rounds both ran of `peer time / my time` (None without common rounds).
pub fn paired_ratio(me: &Measurement, peer: &Measurement) -> Option<f64> {
    let r: Vec<f64> =
        me.round_s.iter().zip(&peer.round_s).filter(|(&a, &b)| a > 0.0 && b > 0.0).map(|(&a, &b)| b / a).collect();
    (!r.is_empty()).then(|| crate::measure::stats(&r).median)
}

/// Turns measurements into records: efficiency from `peaks`, ratios from the other rows of the
/// same case and thread count.
pub fn build_records(ms: &[Measurement], peaks: &[Peak]) -> Vec<Record> {
    ms.iter()
        .map(|me| {
            let row = |name: &str| {
                (me.impl_name != name)
                    .then(|| ms.iter().find(|o| o.case == me.case && o.threads == me.threads && o.impl_name == name))
                    .flatten()
            };
            let peer = |name: &str| row(name).map(|o| o.gflops);
            let best = PEERS.iter().filter_map(|&p| peer(p).map(|g| (p, g))).max_by(|a, b| a.1.total_cmp(&b.1));
            let peak_gflops = me.peak.and_then(|k| peak::lookup(peaks, k, me.threads));
            Record {
                suite: me.suite.clone(),
                case: me.case.clone(),
                m: me.m,
                n: me.n,
                k: me.k,
                impl_name: me.impl_name.clone(),
                isa: me.isa.clone(),
                threads: me.threads,
                gflops: me.gflops,
                gflops_min: me.gflops_min,
                gflops_max: me.gflops_max,
                efficiency: ratio(me.gflops, peak_gflops),
                peak_kind: me.peak,
                ratio_to_matrixmultiply: ratio(me.gflops, peer(MATRIXMULTIPLY)),
                ratio_to_gemm: ratio(me.gflops, peer(GEMM)),
                ratio_to_openblas: ratio(me.gflops, peer(OPENBLAS)),
                ratio_to_onnxruntime: ratio(me.gflops, peer(ONNXRUNTIME)),
                ratio_to_best_peer: ratio(me.gflops, best.map(|b| b.1)),
                best_peer: best.map(|b| b.0.to_string()),
                paired_ratio_to_best_peer: best.and_then(|b| row(b.0)).and_then(|o| paired_ratio(me, o)),
                paired_ratio_to_onnxruntime: row(ONNXRUNTIME).and_then(|o| paired_ratio(me, o)),
                ratio_to_naive: ratio(me.gflops, peer(NAIVE)),
                gbytes_per_s: 4.0 * (me.m * me.k + me.k * me.n + me.m * me.n) as f64 / me.median_s / 1e9,
                median_s: me.median_s,
                samples: me.samples,
                iters: me.iters,
                rel_err: me.rel_err,
            }
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn fake(case: &str, imp: &str, isa: &str, threads: usize, gflops: f64) -> Measurement {
        let dims: Vec<usize> = case.split('x').map(|d| d.parse().unwrap()).collect();
        Measurement {
            suite: "gemm".into(),
            case: case.into(),
            m: dims[0],
            n: dims[1],
            k: dims[2],
            impl_name: imp.into(),
            isa: isa.into(),
            threads,
            gflops,
            gflops_min: gflops * 0.9,
            gflops_max: gflops * 1.05,
            median_s: 2.0 * (dims[0] * dims[1] * dims[2]) as f64 / gflops / 1e9,
            samples: 7,
            iters: 10,
            rel_err: 1e-7,
            peak: crate::peers::peak_of_isa(isa),
            round_s: vec![2.0 * (dims[0] * dims[1] * dims[2]) as f64 / gflops / 1e9; 7],
        }
    }

    pub(crate) fn fake_peaks() -> Vec<Peak> {
        [(PeakKind::Avx512Fma, 1, 200.0), (PeakKind::Avx512Fma, 2, 400.0), (PeakKind::Avx2Fma, 1, 100.0)]
            .into_iter()
            .map(|(kind, threads, gflops)| Peak {
                kind,
                label: kind.label().into(),
                threads,
                gflops,
                gflops_median: gflops,
            })
            .collect()
    }

    #[test]
    fn ratio_needs_a_positive_peer() {
        assert_eq!(ratio(10.0, Some(4.0)), Some(2.5));
        assert_eq!(ratio(10.0, Some(0.0)), None);
        assert_eq!(ratio(10.0, None), None);
    }

    #[test]
    fn ratios_and_efficiency_use_the_same_case_and_threads() {
        let ms = vec![
            fake("64x64x64", "lanes", "avx512", 1, 100.0),
            fake("64x64x64", "matrixmultiply", "avx512", 1, 50.0),
            fake("64x64x64", "gemm", "avx512", 1, 80.0),
            fake("64x64x64", "naive", "sse2", 1, 5.0),
            fake("64x64x64", "lanes", "avx512", 2, 300.0),
            fake("64x64x64", "gemm", "avx512", 2, 100.0),
            fake("8x8x8", "openblas", "avx2", 1, 1000.0),
        ];
        let r = build_records(&ms, &fake_peaks());
        let lanes1 = &r[0];
        assert_eq!(lanes1.ratio_to_matrixmultiply, Some(2.0));
        assert_eq!(lanes1.ratio_to_gemm, Some(1.25));
        assert_eq!(lanes1.ratio_to_openblas, None, "OpenBLAS measured only on another case");
        assert_eq!(lanes1.ratio_to_best_peer, Some(1.25));
        assert_eq!(lanes1.best_peer.as_deref(), Some("gemm"));
        assert_eq!(lanes1.ratio_to_naive, Some(20.0));
        assert_eq!(lanes1.efficiency, Some(0.5));
        // A peer's own row: no ratio to itself, best peer among the others.
        let gemm1 = &r[2];
        assert_eq!(gemm1.ratio_to_gemm, None);
        assert_eq!(gemm1.ratio_to_best_peer, Some(80.0 / 50.0));
        // Two threads compare with two threads only.
        let lanes2 = &r[4];
        assert_eq!(lanes2.ratio_to_gemm, Some(3.0));
        assert_eq!(lanes2.ratio_to_matrixmultiply, None);
        assert_eq!(lanes2.efficiency, Some(0.75));
        // Peak not measured for sse2 in the fake set: no efficiency.
        assert_eq!(r[3].efficiency, None);
    }

    #[test]
    fn paired_ratio_is_the_median_of_per_round_ratios() {
        let mut me = fake("64x64x64", "lanes", "avx512", 1, 100.0);
        let mut peer = fake("64x64x64", "gemm", "avx512", 1, 100.0);
        // A slow phase in round 1 hits both: per round 1.2, 1.1, 1.1 (median 1.1), while the
        // medians alone (1.0 vs 1.2) would say 1.2.
        me.round_s = vec![1.0, 3.0, 1.0];
        peer.round_s = vec![1.2, 3.3, 1.1];
        assert!((paired_ratio(&me, &peer).unwrap() - 1.1).abs() < 1e-12);
        // Only rounds both ran count; none in common: no ratio.
        peer.round_s = vec![1.2];
        assert!((paired_ratio(&me, &peer).unwrap() - 1.2).abs() < 1e-12);
        peer.round_s.clear();
        assert_eq!(paired_ratio(&me, &peer), None);
    }

    #[test]
    fn json_line_has_the_documented_fields() {
        let r = build_records(&[fake("512x512x512", "lanes", "avx512", 1, 100.0)], &fake_peaks()).remove(0);
        let line = r.to_json_line();
        assert!(!line.contains('\n'));
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        for key in [
            "suite",
            "case",
            "m",
            "n",
            "k",
            "impl",
            "isa",
            "threads",
            "gflops",
            "gflops_min",
            "gflops_max",
            "efficiency",
            "ratio_to_matrixmultiply",
            "ratio_to_gemm",
            "ratio_to_openblas",
            "ratio_to_best_peer",
            "paired_ratio_to_best_peer",
            "ratio_to_naive",
            "gbytes_per_s",
        ] {
            assert!(v.get(key).is_some(), "missing {key} in {line}");
        }
        assert_eq!(v["suite"], "gemm");
        assert_eq!(v["case"], "512x512x512");
        assert_eq!(v["impl"], "lanes");
        assert_eq!(v["m"], 512);
        assert_eq!(v["efficiency"], 0.5);
        assert!(v["ratio_to_gemm"].is_null());
        assert!(line.starts_with(r#"{"suite":"gemm","case":"512x512x512","m":512"#), "{line}");
        let back: Record = serde_json::from_str(&line).unwrap();
        assert_eq!(back, r);
    }
}
