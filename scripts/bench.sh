#!/usr/bin/env bash
# Main job: the comparison benchmark of lanes' GEMM against matrixmultiply, the gemm crate,
# OpenBLAS, ONNX Runtime and a naive loop, plus the machine's FMA peak, then convolutions, row ops
# and whole models (all-MiniLM-L6-v2, MNIST MLP/CNN) against ONNX Runtime (and NumPy for MiniLM).
# Installs what it needs first.
#
# Usage: scripts/bench.sh [lanes-bench options]    e.g. --quick, --out DIR, --threads 1,2
#   (see `cargo run --release -p lanes-bench -- --help` and docs/benchmarking.md)
# Writes DIR/report.md (default bench-results/), gemm.jsonl, conv.jsonl, eltwise.jsonl, models.jsonl,
# peak.json and gemm.svg.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh native

# The output folder: the last --out given (default bench-results), passed on to the wasm bench.
out=bench-results
args=("$@")
for ((i = 0; i < ${#args[@]}; i++)); do
  case "${args[$i]}" in
    --out) out="${args[$((i + 1))]:-$out}" ;;
    --out=*) out="${args[$i]#--out=}" ;;
  esac
done

start=$(date +%s)
printf '\n[bench] cargo build --release -p lanes-bench\n'
cargo build --release -p lanes-bench
printf '\n[bench] lanes-bench --out %s %s\n' "$out" "$*"
cargo run --release -q -p lanes-bench -- --out "$out" "$@"

if [ -x browser-bench/scripts/bench-wasm.sh ]; then
  printf '\n[bench] browser-bench/scripts/bench-wasm.sh %s\n' "$out"
  browser-bench/scripts/bench-wasm.sh "$out"
fi

printf '\n[bench] done in %ss. Report: %s/report.md (chart: %s/gemm.svg, raw: %s/*.jsonl, %s/peak.json)\n' \
  "$(($(date +%s) - start))" "$out" "$out" "$out" "$out"
