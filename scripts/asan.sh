#!/usr/bin/env bash
# The lanes-kernels test suites (the library's unit tests and every kernels/tests/*.rs: gemm,
# ukernels, plan, conv, depthwise, pool, nchw, eltwise, layout, miri_subset, ndarray) under
# AddressSanitizer, once per ISA this CPU has (LANES_ISA=scalar, portable, avx2, avx512 here):
# out-of-bounds reads and writes on the heap and the stack, use after free, in every
# microkernel, the AVX2/AVX-512 ones included (Miri cannot run those: scripts/miri.sh).
# Needs the pinned nightly (scripts/setup.sh installs it; the machine's `nightly` otherwise).
# Usage: scripts/asan.sh [isa ...]   (default: every ISA of `list_isas`)
#
# Notes:
# - No -Zbuild-std: on x86_64 Linux the sanitizer runtime intercepts malloc/free and the libc
#   memory functions, so heap buffers that std allocates are poisoned and checked like ours;
#   only accesses made *inside* the uninstrumented std code (e.g. `copy_from_slice` lowered to
#   an intercepted memcpy is checked, a std-internal loop is not) go unchecked. The kernels'
#   own loads and stores, which is what this step is for, are all instrumented.
# - Its own target directory (target/asan), so the normal builds keep their cache.
# - ASAN_OPTIONS: allocator_may_return_null=1 (a test asks for 1 PiB on purpose and expects
#   `KernelError::AllocationFailed`; ASan's default is to abort on such a request);
#   detect_leaks=0 (rayon's global pool outlives the tests and one registry test leaks its
#   names on purpose, as for Miri).
set -euo pipefail
cd "$(dirname "$0")/.."
NIGHTLY=nightly-2026-05-20
if ! rustup toolchain list | grep -q "^$NIGHTLY"; then NIGHTLY=nightly; fi
if ! rustup toolchain list | grep -q "^$NIGHTLY"; then
  echo "[asan] no nightly toolchain: run scripts/setup.sh asan (it installs $NIGHTLY)" >&2
  exit 1
fi
# The ISAs this CPU has (a normal build, before the sanitizer flags are set).
all_isas="$(cargo run -q -p lanes-kernels --example list_isas)"
export CARGO_TARGET_DIR="${ASAN_TARGET_DIR:-target/asan}"
export RUSTFLAGS="-Zsanitizer=address"
export RUSTDOCFLAGS="-Zsanitizer=address"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}allocator_may_return_null=1:detect_leaks=0"
# An explicit --target keeps RUSTFLAGS off the build scripts and proc macros (which the
# sanitizer runtime cannot be linked into).
target=(--target x86_64-unknown-linux-gnu)

isas=("$@")
[ ${#isas[@]} -gt 0 ] || read -r -d '' -a isas <<<"$all_isas" || true
skipped=()
for isa in scalar portable avx2 avx512; do
  grep -qx "$isa" <<<"$all_isas" || skipped+=("$isa")
done
echo "[asan] ISAs: ${isas[*]}; skipped (not on this CPU/build): ${skipped[*]:-none}"

t0=$SECONDS
cargo "+$NIGHTLY" test -q -p lanes-kernels --features ndarray --tests "${target[@]}" --no-run
printf '[asan] build: %ss\n' $((SECONDS - t0))
for isa in "${isas[@]}"; do
  printf '\n[asan] LANES_ISA=%s\n' "$isa"
  t1=$SECONDS
  LANES_ISA="$isa" cargo "+$NIGHTLY" test -q -p lanes-kernels --features ndarray --tests "${target[@]}"
  printf '[asan] LANES_ISA=%s: %ss\n' "$isa" $((SECONDS - t1))
done
printf '\n[asan] no errors (%s ISAs, %ss)\n' "${#isas[@]}" $((SECONDS - t0))
