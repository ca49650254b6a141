#!/usr/bin/env bash
# API compatibility of lanes-kernels and lanes-nn against the last release, with
# cargo-semver-checks (docs/using-lanes.md, "Semver policy").
#
# The baseline is the newest git tag named v<semver> (e.g. v0.1.0); with none, there is nothing
# to compare against and the script says so and exits 0. cargo-semver-checks is installed here,
# pinned, only when a comparison will run (`cargo install --locked`, several minutes once): it is
# deliberately not part of scripts/setup.sh or scripts/test.sh.
#
# Usage: scripts/semver.sh [BASELINE_TAG]
set -euo pipefail
cd "$(dirname "$0")/.."
SEMVER_CHECKS_VERSION=0.51.0  # the newest on crates.io when this script was written (needs Rust >= 1.93)
CRATES=(lanes-kernels lanes-nn)

baseline="${1:-$(git tag --list 'v[0-9]*' --sort=-v:refname | head -n 1)}"
if [ -z "$baseline" ]; then
  echo "[semver] no release tag (v*) yet: nothing to compare against, skipped."
  echo "[semver] after the first release (git tag v0.1.0), this script compares HEAD with it."
  exit 0
fi
if ! git rev-parse -q --verify "refs/tags/$baseline" >/dev/null; then
  echo "[semver] $baseline is not a tag of this repository" >&2
  exit 2
fi

have="$(cargo semver-checks --version 2>/dev/null | awk '{print $2}' || true)"
if [ "$have" != "$SEMVER_CHECKS_VERSION" ]; then
  echo "[semver] cargo install --locked cargo-semver-checks $SEMVER_CHECKS_VERSION (several minutes, once)"
  cargo install --locked cargo-semver-checks --version "$SEMVER_CHECKS_VERSION"
fi

args=()
for c in "${CRATES[@]}"; do args+=(--package "$c"); done
echo "[semver] comparing ${CRATES[*]} at HEAD with $baseline"
# --all-features: the ndarray API is public too.
cargo semver-checks check-release "${args[@]}" --baseline-rev "$baseline" --all-features
