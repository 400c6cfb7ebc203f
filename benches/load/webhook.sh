#!/usr/bin/env bash
# Load run of `mtp-webhook serve` on loopback: GET /healthz versus POST of the kube-rs
# AdmissionReview capture to the pod-security hook, same TLS listener, same run, 32 connections.
# Needs wrk (Debian package). Bounded: two 15 s runs, then the server is stopped.
set -euo pipefail
cd "$(dirname "$0")/../.."
conformance="${MTP_CONFORMANCE_DIR:-../shared/conformance}"
duration="${DURATION:-15s}"
port="${PORT:-18443}"
cargo build --release -q -p mtp-bins --bin mtp-webhook
bin="${CARGO_TARGET_DIR:-target}/release/mtp-webhook"
dir=$(mktemp -d)
"$bin" serve --self-signed --cert-dir "$dir" --listen "127.0.0.1:$port" --probe-listen 127.0.0.1:0 2>"$dir/log" &
server=$!
trap 'kill $server 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 50); do curl -skf "https://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
cat > "$dir/post.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$conformance/admissionreview/pods-create.kube-rs.json", "rb")
wrk.body = f:read("*a")
f:close()
LUA
echo "== GET /healthz"
wrk -t2 -c32 -d"$duration" --latency "https://127.0.0.1:$port/healthz"
echo "== POST /validate/pod-security (pods-create.kube-rs.json)"
wrk -t2 -c32 -d"$duration" --latency -s "$dir/post.lua" "https://127.0.0.1:$port/validate/pod-security"
