#!/usr/bin/env bash
# Main job: the comparison benchmark of lanes' GEMM against matrixmultiply, the gemm crate,
# OpenBLAS, ONNX Runtime and a naive loop, plus the machine's FMA peak, then convolutions, row ops
# and whole models (all-MiniLM-L6-v2, MNIST MLP/CNN) against ONNX Runtime (and NumPy for MiniLM).
# Installs what it needs first.
#
# Usage: scripts/bench.sh [lanes-bench options]    e.g. --quick, --out DIR, --threads 1,2
#   (see `cargo run --release -p lanes-bench -- --help` and docs/benchmarking.md)
# Writes report.md, gemm.jsonl, conv.jsonl, eltwise.jsonl, models.jsonl, peak.json, machine.json and
# gemm.svg (then the browser bench's wasm.jsonl, wasm-report.md, wasm-bench.png) into the run folder:
# DIR with --out DIR, else bench-results/<machine>/<YYYY-MM-DDTHHMMZ>/ (bench-results/latest points at
# it; bench-results/index.md lists every run kept there).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh native

start=$(date +%s)
printf '\n[bench] cargo build --release -p lanes-bench\n'
cargo build --release -p lanes-bench
for arg in "$@"; do
  case "$arg" in -h | --help) exec cargo run --release -q -p lanes-bench -- "$@" ;; esac
done
printf '\n[bench] lanes-bench %s\n' "$*"
# lanes-bench prints the run folder (--out DIR, or the new bench-results/<machine>/<date>/) alone on
# stdout at the end; progress goes to stderr.
out="$(cargo run --release -q -p lanes-bench -- "$@" | tail -n 1)"
if [ -z "$out" ] || [ ! -d "$out" ]; then
  # Fallback: the folder bench-results/latest (or the LATEST file) names.
  if [ -L bench-results/latest ]; then
    out="bench-results/$(readlink bench-results/latest)"
  elif [ -f bench-results/LATEST ]; then
    out="bench-results/$(head -n 1 bench-results/LATEST)"
  else
    echo "[bench] cannot tell which folder lanes-bench wrote to" >&2
    exit 1
  fi
fi

if [ -x browser-bench/scripts/bench-wasm.sh ]; then
  printf '\n[bench] browser-bench/scripts/bench-wasm.sh %s\n' "$out"
  browser-bench/scripts/bench-wasm.sh "$out"
fi

printf '\n[bench] done in %ss. Report: %s/report.md (chart: %s/gemm.svg, raw: %s/*.jsonl, %s/peak.json)\n' \
  "$(($(date +%s) - start))" "$out" "$out" "$out" "$out"
if [ -f bench-results/index.md ]; then
  printf '[bench] every run kept under bench-results/: bench-results/index.md\n'
fi
