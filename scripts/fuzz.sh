#!/usr/bin/env bash
# Runs every cargo-fuzz target for a while (default 60 s each). Needs a nightly toolchain
# (the one scripts/setup.sh installs for the threaded wasm build) and cargo-fuzz (installed
# here, pinned). Not part of scripts/test.sh: fuzzing is open-ended; crashes land in
# fuzz/artifacts/<target>/ and can be replayed with `cargo +nightly fuzz run <target> <file>`.
# Usage: scripts/fuzz.sh [seconds per target] [target ...]
#        scripts/fuzz.sh replay [target ...]   every committed input of fuzz/seeds/<target> once
#        (deterministic, no fuzzing: what scripts/test.sh runs)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=fuzz
if [ "${1:-}" = replay ]; then mode=replay; shift; secs=0; else secs="${1:-60}"; shift || true; fi
CARGO_FUZZ_VERSION=0.13.1
if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi
if rustup toolchain list | grep -q '^nightly-2026-05-20'; then NIGHTLY=nightly-2026-05-20; else NIGHTLY=nightly; fi
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(gemm_vs_reference api_bad_input conv_vs_reference eltwise_vs_reference api_no_panic model_load sentence_load web_nn_no_panic data_readers_no_panic)
cd fuzz
for t in "${targets[@]}"; do
  if [ "$mode" = replay ]; then
    printf '\n[fuzz] %s: replaying %s committed inputs\n' "$t" "$(ls "seeds/$t" | wc -l)"
    # The seeds as the (read-only) corpus, no new runs: each input runs exactly once. Built at
    # opt-level 1 in its own target directory: the instrumented opt-level 3 build took 7m48s of
    # the CI's 2 cores, opt-level 1 about 2 minutes, and the replay itself runs in seconds either
    # way (AddressSanitizer and the reference comparisons do not depend on the level).
    CARGO_PROFILE_RELEASE_OPT_LEVEL=1 cargo "+$NIGHTLY" fuzz run --target-dir target/replay "$t" "seeds/$t" -- \
      -runs=0 -max_len=4096
  else
    printf '\n[fuzz] %s for %ss\n' "$t" "$secs"
    # Start from the committed seeds; new finds go to corpus/<target> (not committed).
    # -len_control=0: long inputs from the start (the slow gemm_vs_reference target otherwise
    # stayed at 8-byte inputs, all-zero data, for a whole 8-minute run).
    mkdir -p "corpus/$t"
    cargo "+$NIGHTLY" fuzz run "$t" "corpus/$t" "seeds/$t" -- -max_total_time="$secs" -max_len=4096 -len_control=0 -print_final_stats=1
  fi
done
printf '\n[fuzz] no crashes\n'
