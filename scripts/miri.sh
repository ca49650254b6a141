#!/usr/bin/env bash
# A small, fast subset of the lanes-kernels tests under Miri (undefined-behaviour checks of the
# unsafe code: out-of-bounds pointer arithmetic and accesses, aliasing, uninitialised reads),
# once with LANES_ISA=scalar and once with LANES_ISA=portable. Miri interprets the code, so the
# AVX2/AVX-512 microkernels are out of reach (it reports no such CPU features: `Isa::available()`
# is scalar and portable there) and the subset is the tests that drive every unsafe path of
# those two tiers on small sizes: views with negative and extreme strides, partial tiles,
# GEMM/GEMV/packing, the direct microkernel calls, convolution (implicit GEMM and depthwise),
# pooling, element-wise and row ops, layout conversion, and the rayon-threaded GEMM, convolution
# and softmax (2 workers, bit-compared with one thread).
# Needs the pinned nightly with the miri component (scripts/setup.sh miri installs both).
# Usage: scripts/miri.sh [extra test-name filters...]
set -euo pipefail
cd "$(dirname "$0")/.."
NIGHTLY=nightly-2026-05-20
if ! rustup toolchain list | grep -q "^$NIGHTLY"; then NIGHTLY=nightly; fi
if ! cargo "+$NIGHTLY" miri --version >/dev/null 2>&1; then
  echo "[miri] no miri component on $NIGHTLY: run scripts/setup.sh miri" >&2
  # MIRI_OPTIONAL=1 (for a CI step): a machine that could not install Miri skips it.
  [ "${MIRI_OPTIONAL:-0}" = 1 ] && exit 0
  exit 1
fi
# Its own target directories, one per ISA (Miri's artefacts do not mix with the normal ones):
# the two runs go in parallel, as Miri interprets on one core.
target_base="${MIRI_TARGET_DIR:-target/miri}"
# LANES_ISA is set inside the interpreted program per run below (-Zmiri-env-set: with
# -Zmiri-env-forward the host's LANES_ISA did not reach the tests on this nightly). Leaks are
# not errors (rayon's global pool outlives the tests, and one registry test leaks its names on
# purpose). Float functions exact (Miri otherwise perturbs `exp`, `tanh`... by a few ulps per
# call, and the subset compares in-place with out-of-place results bit for bit).
base_flags="${MIRIFLAGS:-} -Zmiri-ignore-leaks -Zmiri-deterministic-floats"
cargo "+$NIGHTLY" miri setup >/dev/null

# test binary -> name filters (substring match, `--exact` not used).
run() {
  local bin="$1"
  shift
  local args=(--lib)
  [ "$bin" = lib ] || args=(--test "$bin")
  cargo "+$NIGHTLY" miri test -q -p lanes-kernels "${args[@]}" -- "$@"
}

subset() { # isa
  local isa="$1" t0=$SECONDS
  export CARGO_TARGET_DIR="$target_base/$isa"
  export MIRIFLAGS="$base_flags -Zmiri-env-set=LANES_ISA=$isa"
  run lib
  run gemm zero_sizes_are_fine extreme_strides_on_single_rows_and_columns raw_api_checks_aliasing_and_strides \
    shape_errors_name_the_numbers packing_a_huge_broadcast_view_is_an_error_not_an_abort
  run ukernels direct_calls_refuse_operands_too_short
  run miri_subset --skip threads_split
  # The threaded test under Tree Borrows: rayon's crossbeam-epoch breaks Stacked Borrows' rules
  # (a known report inside crossbeam, not in lanes: crossbeam runs its own Miri CI with
  # -Zmiri-tree-borrows, crossbeam-rs/crossbeam#996) and casts integers to pointers. Miri's data-race
  # detector runs either way.
  MIRIFLAGS="$MIRIFLAGS -Zmiri-tree-borrows -Zmiri-permissive-provenance" run miri_subset threads_split
  printf '[miri] LANES_ISA=%s: %ss\n' "$isa" $((SECONDS - t0))
}

logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT
pids=()
for isa in scalar portable; do
  subset "$isa" >"$logs/$isa" 2>&1 &
  pids+=($!)
done
failed=0
for i in 0 1; do
  wait "${pids[$i]}" || failed=1
done
for isa in scalar portable; do
  printf '\n[miri] LANES_ISA=%s\n' "$isa"
  cat "$logs/$isa"
done
[ "$failed" = 0 ] || { echo "[miri] a run failed (output above)" >&2; exit 1; }
