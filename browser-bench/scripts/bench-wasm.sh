#!/usr/bin/env bash
# The browser benchmark (called by scripts/bench.sh when executable): builds the four lanes-web
# variants, serves www/ with COOP/COEP on 127.0.0.1, runs the page in headless Chromium and writes
#   <out_dir>/wasm.jsonl  <out_dir>/wasm-report.md  <out_dir>/wasm-bench.png
# Usage: browser-bench/scripts/bench-wasm.sh [out_dir]     (default: bench-results/; scripts/bench.sh
# passes the native run folder, bench-results/<machine>/<date>/ or its --out DIR)
# Suites: gemm (GFLOP/s), conv (the layers of bench-harness/shapes/conv.txt, GFLOP/s) and
# eltwise (softmax, layer norm, exp; GB/s, one thread), one JSON line per (suite, case,
# implementation, threads).
# Environment: WASM_BENCH_SUITES (default gemm,conv,eltwise), WASM_BENCH_SHAPES (comma list of
# MxNxK, or "all" for every shape of bench-harness/shapes/gemm.txt; default: the 7 issue
# shapes), WASM_BENCH_CONV (layer names of conv.txt; default all), WASM_BENCH_ELTWISE (e.g.
# softmax:128x768; default all 9), WASM_BENCH_THREADS (default 1,2,hardwareConcurrency),
# WASM_BENCH_IMPLS, WASM_BENCH_MIN_MS (250), WASM_BENCH_ROUNDS (3), WASM_BENCH_TIMEOUT (1500 s).
# About 10 minutes on a 2-core machine once built (GEMM ~6, conv ~3, eltwise ~1.5).
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$here/.." && pwd)"
out="${1:-$root/bench-results}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
cd "$root"
# scripts/bench.sh only sets up the native tools: make sure Chromium, wasm-bindgen-cli, the wasm
# target and the npm packages are there (idempotent; LANES_SKIP_SETUP=1 skips it).
if [ "${LANES_SKIP_SETUP:-0}" != 1 ] && [ -x "$root/scripts/setup.sh" ]; then
  "$root/scripts/setup.sh" wasm
fi
if [ ! -d "$here/node_modules/playwright-core" ]; then
  echo "[bench-wasm] npm ci (browser-bench)"
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi
"$here/scripts/build-wasm.sh"
shapes="${WASM_BENCH_SHAPES:-64x64x64,128x128x128,256x256x256,512x512x512,1024x1024x1024,1x3072x768,128x3072x768}"
args=(--out "$out" --shapes "$shapes" --minMs "${WASM_BENCH_MIN_MS:-250}" --rounds "${WASM_BENCH_ROUNDS:-3}" --timeout "${WASM_BENCH_TIMEOUT:-1500}")
[ -n "${WASM_BENCH_SUITES:-}" ] && args+=(--suites "$WASM_BENCH_SUITES")
[ -n "${WASM_BENCH_CONV:-}" ] && args+=(--conv "$WASM_BENCH_CONV")
[ -n "${WASM_BENCH_ELTWISE:-}" ] && args+=(--eltwise "$WASM_BENCH_ELTWISE")
[ -n "${WASM_BENCH_THREADS:-}" ] && args+=(--threads "$WASM_BENCH_THREADS")
[ -n "${WASM_BENCH_IMPLS:-}" ] && args+=(--impls "$WASM_BENCH_IMPLS")
echo "[bench-wasm] running the page in headless Chromium (suites ${WASM_BENCH_SUITES:-gemm,conv,eltwise}; GEMM shapes $shapes)"
node "$here/scripts/run-bench.mjs" "${args[@]}"
echo "[bench-wasm] report: $out/wasm-report.md"
