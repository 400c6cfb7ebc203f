#!/usr/bin/env bash
# Profile-guided release build of `mtp-webhook` (the binary in front of every write in the
# cluster): an instrumented build, a training run (deploy/pgo/train.sh: AdmissionReviews to each
# hook and health probes on loopback), then the release build optimized with that profile.
# benches/README.md ("Profile-guided build") has what it buys.
#
#   deploy/pgo/build.sh [OUT_DIR]     (default: $CARGO_TARGET_DIR/pgo, or target/pgo)
#
# Leaves OUT_DIR/mtp-webhook. Needs rustup's llvm-tools component (added when missing: its
# llvm-profdata matches rustc's LLVM) and curl. Instrumented and optimized builds get target
# directories of their own under the target directory (their RUSTFLAGS differ from a plain
# build's, so sharing one would rebuild everything each time).
set -euo pipefail
cd "$(dirname "$0")/../.."
target="$(realpath -m "${CARGO_TARGET_DIR:-target}")"
out="$(realpath -m "${1:-$target/pgo}")"
host=$(rustc -vV | sed -n 's/^host: //p')
profdata="$(rustc --print sysroot)/lib/rustlib/$host/bin/llvm-profdata"
if [ ! -x "$profdata" ]; then
  rustup component add llvm-tools
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== instrumented build"
RUSTFLAGS="${RUSTFLAGS:-} -Cprofile-generate=$work/raw" CARGO_TARGET_DIR="$target/pgo-generate" \
  cargo build --release --locked -p mtp-bins --bin mtp-webhook

echo "== training run"
LLVM_PROFILE_FILE="$work/raw/%m_%p.profraw" \
  deploy/pgo/train.sh "$target/pgo-generate/release/mtp-webhook"
"$profdata" merge -o "$work/mtp-webhook.profdata" "$work/raw"

echo "== optimized build"
RUSTFLAGS="${RUSTFLAGS:-} -Cprofile-use=$work/mtp-webhook.profdata" \
  CARGO_TARGET_DIR="$target/pgo-use" \
  cargo build --release --locked -p mtp-bins --bin mtp-webhook
mkdir -p "$out"
cp "$target/pgo-use/release/mtp-webhook" "$out/mtp-webhook"
echo "== $out/mtp-webhook"
