#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what it needs, then runs every check.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh all

step() { printf '\n==== %s ====\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy -D warnings"
cargo clippy --workspace --all-targets -- -D warnings
# lanes-web's threads build has code of its own (the pool, the fork/join threshold).
cargo clippy -p lanes-web --features threads --all-targets -- -D warnings
# The wasm code and the wasm test suite (kernels/tests/gemm.rs also builds for wasm32).
step "cargo clippy -D warnings (wasm32, simd128 + relaxed-simd)"
RUSTFLAGS="-C target-feature=+simd128,+relaxed-simd" cargo clippy -p lanes-kernels -p lanes-web -p lanes-nn \
  --no-default-features --target wasm32-unknown-unknown --lib --tests -- -D warnings

step "native tests (default ISA)"
cargo test --workspace

# The same kernel suite once per ISA this CPU has, forced through LANES_ISA.
for isa in $(cargo run -q -p lanes-kernels --example list_isas); do
  step "kernel tests forced to LANES_ISA=$isa"
  LANES_ISA="$isa" cargo test -p lanes-kernels --tests
done

# Every committed fuzz input (fuzz/seeds/<target>) once, deterministically: no time-based
# fuzzing here (scripts/fuzz.sh SECONDS does that), but every past find stays covered.
step "fuzz corpus replay (nightly, AddressSanitizer)"
scripts/fuzz.sh replay

if [ -x browser-bench/scripts/test-wasm.sh ]; then
  step "wasm tests (Node and headless Chromium)"
  browser-bench/scripts/test-wasm.sh
fi
step "all tests passed"
