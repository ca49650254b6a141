#!/usr/bin/env bash
# Runs every cargo-fuzz target for a while (default 60 s each). Needs a nightly toolchain
# (the one scripts/setup.sh installs for the threaded wasm build) and cargo-fuzz (installed
# here, pinned). Not part of scripts/test.sh: fuzzing is open-ended; crashes land in
# fuzz/artifacts/<target>/ and can be replayed with `cargo +nightly fuzz run <target> <file>`.
# Usage: scripts/fuzz.sh [seconds per target] [target ...]
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${1:-60}"; shift || true
CARGO_FUZZ_VERSION=0.13.1
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi
if rustup toolchain list | grep -q '^nightly-2026-05-20'; then NIGHTLY=nightly-2026-05-20; else NIGHTLY=nightly; fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(gemm_vs_reference api_bad_input conv_vs_reference eltwise_vs_reference)
cd fuzz
for t in "${targets[@]}"; do
  printf '\n[fuzz] %s for %ss\n' "$t" "$secs"
  cargo "+$NIGHTLY" fuzz run "$t" -- -max_total_time="$secs" -max_len=4096
done
printf '\n[fuzz] no crashes\n'
