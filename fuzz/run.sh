#!/usr/bin/env bash
# Runs every fuzz target (or those named) for SECONDS each (default 600) with cargo-fuzz on the
# nightly toolchain, each seeded from fuzz/seeds/<target> and the fixtures the tests use, and
# prints per target: executions, coverage (libFuzzer's `cov`), corpus size and findings.
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# A finding is a file under fuzz/artifacts/<target>/ (crash-, leak-, timeout-, oom-); reproduce
# it with `cargo +nightly fuzz run <target> fuzz/artifacts/<target>/<file>` and turn it into a
# regression test of the ordinary suite. Exit status 1 when any target has a finding.
# Needs: rustup's nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
# Builds optimized (`-O`); FUZZ_BUILD_FLAGS="-O -a" adds debug assertions and overflow checks
# (a second build, about as long as the first: ~17 min on two cores).
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-600}"
shift || true
targets=("$@")
if [ "${#targets[@]}" = 0 ]; then
  mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' Cargo.toml | grep -v '^mtp-fuzz$')
fi
command -v cargo-fuzz >/dev/null || { echo "cargo-fuzz is missing: cargo install cargo-fuzz" >&2; exit 1; }
rustup toolchain list | grep -q '^nightly' || { echo "the nightly toolchain is missing: rustup toolchain install nightly" >&2; exit 1; }

fixtures=../mtp-policy/testdata/conformance
# Extra seed folders per target: the fixtures and captures the tests already use.
extra_seeds() {
  case "$1" in
    json_review|admission_router) echo "$fixtures/admissionreview" ;;
    check_input) echo "$fixtures/pss/baseline/pass $fixtures/pss/restricted/fail ../deploy/base" ;;
    *) ;;
  esac
}

summary=()
status=0
for t in "${targets[@]}"; do
  corpus="corpus/$t"
  mkdir -p "$corpus" "artifacts/$t"
  [ -d "seeds/$t" ] && cp -n seeds/"$t"/* "$corpus"/ 2>/dev/null || true
  for d in $(extra_seeds "$t"); do
    [ -d "$d" ] && find "$d" -maxdepth 1 -type f \( -name '*.json' -o -name '*.yaml' \) -exec cp -n {} "$corpus"/ \;
  done
  log="artifacts/$t.log"
  echo "== $t: ${seconds}s"
  before=$(find "artifacts/$t" -type f | wc -l)
  # shellcheck disable=SC2086 # FUZZ_BUILD_FLAGS is a list of flags
  cargo +nightly fuzz run ${FUZZ_BUILD_FLAGS--O} "$t" "$corpus" -- -max_total_time="$seconds" -print_final_stats=1 \
    -timeout=10 -rss_limit_mb=2048 -max_len=65536 >"$log" 2>&1 || true
  after=$(find "artifacts/$t" -type f | wc -l)
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1 || true)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | cut -d' ' -f2 || true)
  files=$(find "$corpus" -type f | wc -l)
  findings=$((after - before))
  [ "$findings" = 0 ] || status=1
  if [ -z "$execs" ] && [ "$findings" = 0 ]; then
    echo "   did not run: see fuzz/$log" >&2
    status=1
  fi
  summary+=("$(printf '%-18s %12s %8s %8s %9s' "$t" "${execs:-?}" "${cov:-?}" "$files" "$findings")")
done
printf '\n%-18s %12s %8s %8s %9s\n' target executions cov corpus findings
printf '%s\n' "${summary[@]}"
exit "$status"
