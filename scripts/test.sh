#!/usr/bin/env bash
# The whole test suite, on a fresh machine: installs what it needs, then runs every check.
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step's wall time, printed as a table at the end (also when a step fails), so that a slow
# stage shows in CI logs.
step_names=()
step_secs=()
step_t0=$SECONDS
step_now=""
end_step() {
  if [ -n "$step_now" ]; then
    step_names+=("$step_now")
    step_secs+=($((SECONDS - step_t0)))
  fi
  step_now=""
}
step() {
  end_step
  step_now="$*"
  step_t0=$SECONDS
  printf '\n==== %s ==== (%s GiB free)\n' "$*" "$(free_gib)"
}
timings() {
  local rc=$? failed="$step_now" i
  end_step
  printf '\n==== step timings (wall) ====\n'
  for i in "${!step_names[@]}"; do
    printf '%6ss  %s%s\n' "${step_secs[$i]}" "${step_names[$i]}" \
      "$([ "$rc" -ne 0 ] && [ "${step_names[$i]}" = "$failed" ] && echo '  (FAILED)')"
  done
  printf '%6ss  total\n' "$SECONDS"
}
trap timings EXIT

# CI machines have had little free disk (one run stopped with "No space left on device" five
# minutes in): no incremental build state (the tests build at opt-level 2, where it saves
# little), and when free space is short, a stage that has its own target directory removes it
# once it has passed (the next run rebuilds it).
export CARGO_INCREMENTAL=0
free_gib() { df -Pk . | awk 'NR == 2 { print int($4 / 1048576) }'; }
drop_if_disk_short() {
  local free
  free="$(free_gib)"
  if [ "$free" -lt "${LANES_MIN_FREE_GIB:-12}" ]; then
    echo "$free GiB free: removing $* (rebuilt on the next run)"
    rm -rf "$@"
  fi
}
echo "free disk at start: $(free_gib) GiB"

step "setup (scripts/setup.sh all)"
scripts/setup.sh all

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

# AArch64 (the NEON tier): cross-linked with Debian's gcc-aarch64-linux-gnu and run under
# qemu-user, both installed by scripts/setup.sh. The linker and runner are set here, in the
# environment, rather than in .cargo/config.toml: a [target.aarch64-unknown-linux-gnu] section
# there would also apply to native builds on an AArch64 host (it is that host's own triple),
# which need neither. On an AArch64 host the tests below simply run natively.
AARCH64=aarch64-unknown-linux-gnu
if [ "$(uname -m)" != aarch64 ]; then
  export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER="${CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER:-aarch64-linux-gnu-gcc}"
  export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="${CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER:-qemu-aarch64 -L /usr/aarch64-linux-gnu}"
fi
step "cargo clippy -D warnings (aarch64, NEON)"
cargo clippy -p lanes-kernels --target "$AARCH64" --all-targets -- -D warnings

# The minimum supported Rust version: rust-toolchain.toml pins the toolchain this repository
# builds with; it must be exactly the workspace's rust-version, and the library crates must build
# with it (also without default features: no rayon).
step "MSRV (rust-version in Cargo.toml)"
msrv="$(sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)"
pinned="$(sed -n 's/^channel = "\(.*\)"/\1/p' rust-toolchain.toml)"
have="$(rustc --version | awk '{print $2}')"
if [ "${pinned%.*}" != "$msrv" ] || [ "${have%.*}" != "$msrv" ]; then
  echo "rust-version $msrv, rust-toolchain.toml $pinned, rustc $have: they must agree" >&2
  exit 1
fi
echo "rust-version $msrv = rust-toolchain.toml $pinned = rustc $have"
cargo +"$pinned" check -p lanes-kernels -p lanes-nn --lib --all-features
cargo +"$pinned" check -p lanes-kernels --lib --no-default-features

step "API docs (cargo doc -D warnings: every public item documented, no broken links)"
RUSTDOCFLAGS="-D warnings" cargo doc --no-deps -p lanes-kernels -p lanes-nn --all-features

# Both crates packaged as crates.io would get them and built from the packages (lanes-nn against
# the just-packaged lanes-kernels, through cargo's temporary local registry). Offline: only the
# dependencies already in cargo's cache. --allow-dirty: a local run may have uncommitted work.
step "cargo package (lanes-kernels, lanes-nn)"
# The version stays 0.1.0 while the code changes, and cargo never rebuilds a registry crate of
# a version it has built: the packaged lanes-kernels that lanes-nn is verified against would be
# an earlier run's. So the verification builds in its own target directory, with the lanes
# crates' build state removed first (their dependencies stay built).
verify_dir=target/package-verify
rm -rf target/package "$verify_dir"/debug/.fingerprint/lanes-* "$verify_dir"/debug/deps/liblanes_* \
  "${CARGO_HOME:-$HOME/.cargo}"/registry/{src,cache}/*/lanes-kernels-* \
  "${CARGO_HOME:-$HOME/.cargo}"/registry/{src,cache}/*/lanes-nn-*
cargo package -p lanes-kernels -p lanes-nn --offline --allow-dirty --target-dir "$verify_dir" 2>&1 | grep -v '^warning: ignoring test'
drop_if_disk_short "$verify_dir" target/package

# --workspace includes examples/downstream, which enables lanes-kernels' `ndarray` feature, so
# kernels/tests/ndarray.rs runs here too.
step "native tests (default ISA)"
cargo test --workspace

# The same kernel suite once per ISA this CPU has, forced through LANES_ISA; the ones it lacks
# are named here and again at the end.
native_isas="$(cargo run -q -p lanes-kernels --example list_isas | xargs)"
skipped_isas=()
for isa in scalar portable avx2 avx512 neon; do
  grep -qw "$isa" <<<"$native_isas" || skipped_isas+=("$isa")
done
isa_summary="kernel suites forced to each ISA of this CPU: $native_isas; not on this CPU, so not run natively: ${skipped_isas[*]:-none}"
[ "$(uname -m)" = aarch64 ] || isa_summary+=" (neon runs under qemu-user)"
echo "$isa_summary"
for isa in $native_isas; do
  step "kernel tests forced to LANES_ISA=$isa"
  LANES_ISA="$isa" cargo test -p lanes-kernels --tests
done
drop_if_disk_short target/debug

# The kernel suites and the per-kernel tester again on AArch64 (under qemu-user off AArch64),
# once per ISA forced (the tester runs every kernel the CPU has, sgemm_8x12_neon included, each
# time). The dev profile (opt-level 2, debug assertions on) keeps each run near a minute under
# emulation; qemu's timings say nothing about speed on a real core (docs/neon.md).
for isa in neon portable scalar; do
  step "kernel tests on aarch64 under qemu-user, LANES_ISA=$isa"
  LANES_ISA="$isa" cargo test -p lanes-kernels --tests --target "$AARCH64"
done
drop_if_disk_short "target/$AARCH64"

# The kernel suites under AddressSanitizer, once per ISA this CPU has (nightly; its own target
# directory, target/asan).
step "kernel tests under AddressSanitizer (scripts/asan.sh, every ISA)"
scripts/asan.sh
drop_if_disk_short target/asan

# Every committed fuzz input (fuzz/seeds/<target>) once, deterministically: no time-based
# fuzzing here (scripts/fuzz.sh SECONDS does that), but every past find stays covered.
step "fuzz corpus replay (nightly, AddressSanitizer)"
scripts/fuzz.sh replay
drop_if_disk_short fuzz/target

# Undefined-behaviour checks of the unsafe code on a small subset, scalar and portable tiers
# (2.5 minutes with its build on a shared 2-vCPU machine; skipped with a warning where setup
# could not install Miri).
step "Miri subset (scripts/miri.sh: LANES_ISA=scalar, portable)"
MIRI_OPTIONAL=1 scripts/miri.sh
drop_if_disk_short target/miri

if [ -x browser-bench/scripts/test-wasm.sh ]; then
  step "wasm tests (Node and headless Chromium)"
  browser-bench/scripts/test-wasm.sh
fi
end_step
printf '\n%s\n' "$isa_summary"
printf '\n==== all tests passed ====\n'
