#!/usr/bin/env bash
# Load run of `mtp-webhook serve` on loopback: GET /healthz versus POST of the kube-rs
# AdmissionReview capture to the pod-security hook, same TLS listener, same server process,
# 32 connections (wrk, 2 threads).
#
# ROUNDS (default 1) alternates the two ROUNDS times, DURATION (default 15s) each, and sums the
# requests of each side: on a virtual machine whose speed drifts by a third from one ten-second
# run to the next, short interleaved rounds give both sides the same machine. The last line is
# the ratio of the totals and the median of the rounds' p99 of each side. COMPACT=1 posts the
# capture compacted (as the apiserver would send it; needs python3) instead of as it is.
# MTP_WEBHOOK_BIN runs that binary instead of building one (e.g. the profile-guided build of
# deploy/pgo/build.sh, which the image ships).
# Needs wrk (Debian package). Bounded: 2 × ROUNDS × DURATION, then the server is stopped.
set -euo pipefail
cd "$(dirname "$0")/../.."
conformance="${MTP_CONFORMANCE_DIR:-mtp-policy/testdata/conformance}"
duration="${DURATION:-15s}"
rounds="${ROUNDS:-1}"
port="${PORT:-18443}"
if [ -z "${MTP_WEBHOOK_BIN:-}" ]; then
  cargo build --release -q -p mtp-bins --bin mtp-webhook
fi
bin="${MTP_WEBHOOK_BIN:-${CARGO_TARGET_DIR:-target}/release/mtp-webhook}"
echo "== binary: $bin"
dir=$(mktemp -d)
"$bin" serve --self-signed --cert-dir "$dir" --listen "127.0.0.1:$port" --probe-listen 127.0.0.1:0 2>"$dir/log" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do curl -skf "https://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
body="$conformance/admissionreview/pods-create.kube-rs.json"
if [ "${COMPACT:-0}" = 1 ]; then
  # The capture is pretty-printed; the apiserver sends compact JSON.
  python3 -c 'import json, sys; sys.stdout.write(json.dumps(json.load(open(sys.argv[1])), separators=(",", ":")))' \
    "$body" > "$dir/body.json"
  body="$dir/body.json"
fi
echo "== body: $body ($(wc -c < "$body") bytes)"
cat > "$dir/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$body", "rb")
wrk.body = f:read("*a")
f:close()
LUA
for round in $(seq "$rounds"); do
  echo "== round $round: GET /healthz"
  wrk -t2 -c32 -d"$duration" --latency "https://127.0.0.1:$port/healthz" | tee -a "$dir/get.out"
  echo "== round $round: POST /validate/pod-security (pods-create.kube-rs.json)"
  wrk -t2 -c32 -d"$duration" --latency -s "$dir/post.lua" "https://127.0.0.1:$port/validate/pod-security" | tee -a "$dir/post.out"
done
# wrk prints "N requests in 3.00s" and the 99% latency in us, ms or s (plain POSIX awk).
summary() {
  local p99
  p99=$(awk '/^ +99%/ { v = $2; f = 1
                        if (v ~ /us$/) f = 0.001; else if (v ~ /ms$/) f = 1; else if (v ~ /s$/) f = 1000
                        print (v + 0) * f }' "$1" | sort -n |
        awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
  awk -v p99="$p99" '/ requests in / { n += $1; t += $4 + 0 }
    END { printf "%d %.1f %.0f %.2f\n", n, t, n / t, p99 }' "$1"
}
read -r gn gt gr gp < <(summary "$dir/get.out")
read -r pn pt pr pp < <(summary "$dir/post.out")
echo "== totals over $rounds round(s)"
echo "GET /healthz: $gn requests in ${gt}s = $gr/s, median p99 $gp ms"
echo "POST pod-security: $pn requests in ${pt}s = $pr/s, median p99 $pp ms"
awk -v g="$gr" -v p="$pr" -v gp="$gp" -v pp="$pp" \
  'BEGIN { printf "POST/GET requests/s: %.1f %%; p99 POST/GET: %.2f\n", 100 * p / g, pp / gp }'
