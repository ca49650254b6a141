#!/usr/bin/env bash
# Builds lanes-web four ways into browser-bench/www/pkg/<variant>/ (cargo build + wasm-bindgen
# --target web). Idempotent: cargo and wasm-bindgen only redo what changed.
#   scalar   no SIMD (baseline)             stable
#   simd128  +simd128                        stable
#   relaxed  +simd128,+relaxed-simd          stable
#   threads  relaxed + atomics, rayon pool   nightly, -Z build-std (about 2 min the first time)
# Usage: browser-bench/scripts/build-wasm.sh [variant...]   (default: all four)
# Each variant has its own cargo profile (wasm-<variant>, inheriting release) so the different
# target features do not invalidate each other's build cache.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"
variants=("$@")
[ ${#variants[@]} -gt 0 ] || variants=(scalar simd128 relaxed threads)
NIGHTLY="${LANES_NIGHTLY:-}"
if [ -z "$NIGHTLY" ]; then
  # docs/wasm.md names nightly-2026-05-20; a plain `nightly` toolchain works as well.
  if rustup toolchain list | grep -q '^nightly-2026-05-20'; then NIGHTLY=nightly-2026-05-20; else NIGHTLY=nightly; fi
fi
want_bindgen=0.2.130
have_bindgen="$(wasm-bindgen --version 2>/dev/null | awk '{print $2}')"
if [ "$have_bindgen" != "$want_bindgen" ]; then
  echo "[build-wasm] wasm-bindgen $want_bindgen needed (found '${have_bindgen:-none}'): run scripts/setup.sh wasm" >&2
  exit 1
fi

target_dir="${CARGO_TARGET_DIR:-$root/target}"
# LANES_WASM_QUICK=1 (the test suite's page tests): the same code built with 16 codegen units
# and no LTO, which compiles in about half the time on 2 cores; the shipped builds (the default,
# scripts/bench.sh) use one codegen unit and fat LTO.
quick="${LANES_WASM_QUICK:-0}"
profile_name() { if [ "$quick" = 1 ]; then echo "wasm-quick-$1"; else echo "wasm-$1"; fi; }
profile_args() {
  local p
  p="$(profile_name "$1")"
  # codegen-units=1 + fat LTO: one module, everything inlined into the kernels' callers.
  local cgu=1 lto="'fat'"
  [ "$quick" = 1 ] && cgu=16 lto="'off'"
  echo --profile "$p" \
    --config "profile.$p.inherits='release'" \
    --config "profile.$p.codegen-units=$cgu" \
    --config "profile.$p.lto=$lto" \
    --config "profile.$p.debug=0" \
    --config "profile.$p.panic='abort'"
}

# LLVM's default pre-RA scheduling for wasm hoists every A broadcast of a k step ahead of the
# multiply-adds; V8 then needs more than its 15 XMM registers for the 6x8 / 5x8 tiles and
# spills (half speed). Source order keeps one broadcast live at a time (docs/wasm.md).
SCHED="-C llvm-args=-pre-RA-sched=source"

build() {
  local v="$1" flags toolchain="" extra=()
  case "$v" in
    scalar) flags="$SCHED" ;;
    simd128) flags="-C target-feature=+simd128 $SCHED" ;;
    relaxed) flags="-C target-feature=+simd128,+relaxed-simd $SCHED" ;;
    threads)
      if ! rustup component list --toolchain "$NIGHTLY" --installed 2>/dev/null | grep -q '^rust-src'; then
        echo "[build-wasm] the threads build needs a nightly toolchain with rust-src and the wasm32 target:" >&2
        echo "  rustup toolchain install nightly-2026-05-20 --profile minimal -c rust-src -t wasm32-unknown-unknown" >&2
        exit 1
      fi
      toolchain="+$NIGHTLY"
      flags="-C target-feature=+atomics,+bulk-memory,+simd128,+relaxed-simd $SCHED"
      flags+=" -C link-arg=--shared-memory -C link-arg=--max-memory=1073741824 -C link-arg=--import-memory"
      flags+=" -C link-arg=--export=__wasm_init_tls -C link-arg=--export=__tls_size"
      flags+=" -C link-arg=--export=__tls_align -C link-arg=--export=__tls_base"
      extra=(--features threads -Z build-std=panic_abort,std)
      ;;
    *) echo "[build-wasm] unknown variant $v (scalar|simd128|relaxed|threads)" >&2; exit 2 ;;
  esac
  local t0=$SECONDS
  echo "[build-wasm] $v: cargo $toolchain build (RUSTFLAGS='$flags')"
  # shellcheck disable=SC2046
  RUSTFLAGS="$flags" cargo $toolchain build -q -p lanes-web --lib --target wasm32-unknown-unknown \
    $(profile_args "$v") "${extra[@]}"
  local out="$here/www/pkg/$v"
  mkdir -p "$out"
  wasm-bindgen --target web --out-dir "$out" --no-typescript \
    "$target_dir/wasm32-unknown-unknown/$(profile_name "$v")/lanes_web.wasm"
  echo "[build-wasm] $v: $(du -k "$out/lanes_web_bg.wasm" | cut -f1) KiB in $((SECONDS - t0)) s -> www/pkg/$v/"
}

for v in "${variants[@]}"; do build "$v"; done
