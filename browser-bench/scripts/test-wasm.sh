#!/usr/bin/env bash
# The wasm test suite (called by scripts/test.sh when executable):
#  1. wasm-bindgen-test in Node: scalar, simd128, relaxed (NODE_ARGS=--experimental-wasm-relaxed-simd)
#  2. wasm-bindgen-test in headless Chromium: simd128, relaxed (CHROMEDRIVER=/usr/bin/chromedriver)
#  3. the four lanes-web builds (build-wasm.sh, LANES_WASM_QUICK=1), then the page tests in headless Chromium
#     (playwright-core): loader choice, JS errors, a short verified benchmark, COOP/COEP.
# Each flavour compiles under its own cargo profile (wasm-test-<flavour>, inheriting dev) so the
# different target features keep separate build caches. About 5 minutes from scratch on 2 cores.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$here/.." && pwd)"
cd "$root"
step() { printf '\n---- wasm: %s ----\n' "$*"; }
t0=$SECONDS

need() { command -v "$1" >/dev/null || { echo "[test-wasm] $1 not found: run scripts/setup.sh wasm" >&2; exit 1; }; }
need wasm-bindgen-test-runner
need node
if [ "$(wasm-bindgen-test-runner --version 2>/dev/null | awk '{print $2}')" != "0.2.130" ]; then
  echo "[test-wasm] wasm-bindgen-test-runner 0.2.130 needed (cargo install wasm-bindgen-cli --version 0.2.130)" >&2
  exit 1
fi
CHROMEDRIVER="${CHROMEDRIVER:-$(command -v chromedriver || echo /usr/bin/chromedriver)}"
[ -x "$CHROMEDRIVER" ] || { echo "[test-wasm] chromedriver not found: apt-get install chromium-driver" >&2; exit 1; }
if [ ! -d "$here/node_modules/playwright-core" ]; then
  step "npm ci (browser-bench)"
  (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)
fi

export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner
export WASM_BINDGEN_TEST_TIMEOUT="${WASM_BINDGEN_TEST_TIMEOUT:-300}"
# The same code generation flags as the shipped builds (scripts/build-wasm.sh).
SCHED="-C llvm-args=-pre-RA-sched=source"
flags_of() {
  case "$1" in
    scalar) echo "$SCHED" ;;
    simd128) echo "-C target-feature=+simd128 $SCHED" ;;
    relaxed) echo "-C target-feature=+simd128,+relaxed-simd $SCHED" ;;
  esac
}
run_tests() { # flavour, where (node|chromium)
  local v="$1" where="$2"
  step "wasm-bindgen-test: $v in $where"
  local env=()
  [ "$v" = relaxed ] && [ "$where" = node ] && env+=(NODE_ARGS=--experimental-wasm-relaxed-simd)
  # chromedriver answers the runner's polls of the page only when the page's script yields, and
  # by default gives up after 30 s: the GEMM suite runs synchronously for longer than that
  # (33 s, relaxed, Zen 3). webdriver.json raises chromedriver's script timeout.
  [ "$where" = chromium ] && env+=(WASM_BINDGEN_USE_BROWSER=1 "CHROMEDRIVER=$CHROMEDRIVER"
    "WASM_BINDGEN_TEST_WEBDRIVER_JSON=$here/scripts/webdriver.json")
  # opt-level 3 as in the shipped builds (LLVM's choice of instructions differs from the dev
  # profile's 2: with relaxed-simd, min/max patterns became relaxed_min/max at one level and
  # not the other); debug assertions stay on.
  local profile=(--profile "wasm-test-$v" --config "profile.wasm-test-$v.inherits='dev'"
    --config "profile.wasm-test-$v.opt-level=3")
  # The kernels' own suites (kernels/tests/gemm.rs, the per-microkernel tester ukernels.rs, plan.rs,
  # conv.rs, eltwise.rs,
  # single-threaded as shipped), then the
  # wasm-bindgen API of lanes-web.
  local kernels=(cargo test -p lanes-kernels --no-default-features --target wasm32-unknown-unknown "${profile[@]}")
  env "${env[@]}" RUSTFLAGS="$(flags_of "$v")" "${kernels[@]}" \
    --test gemm --test ukernels --test plan --test conv --test depthwise --test pool --test nchw --test eltwise \
    --test errors_by_function
  env "${env[@]}" RUSTFLAGS="$(flags_of "$v")" cargo test -p lanes-web --target wasm32-unknown-unknown \
    "${profile[@]}" --test bindings
}

run_tests scalar node
run_tests simd128 node
run_tests relaxed node
run_tests simd128 chromium
run_tests relaxed chromium

step "build the four lanes-web variants (quick: 16 codegen units, no LTO)"
# The page tests check the loader, the bindings and the results, not the speed: the shipped
# builds' fat LTO would double this step's time for the same code.
LANES_WASM_QUICK=1 "$here/scripts/build-wasm.sh"

step "page tests in headless Chromium"
node "$here/scripts/test-page.mjs"

echo "[test-wasm] all wasm tests passed in $((SECONDS - t0)) s"
