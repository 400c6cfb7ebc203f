#!/usr/bin/env bash
# The training run of a profile-guided build (deploy/pgo/build.sh): runs an instrumented
# `mtp-webhook serve` on loopback and sends it what a cluster sends a webhook, the
# AdmissionReviews in deploy/pgo/reviews/ (<hook path>/<case>.json, posted to that path, each
# REQUESTS times over 4 connections at once, as the apiserver calls it with ?timeout=10s) and
# kubelet's GET /healthz probes; then stops it with SIGTERM so that it writes its profile.
#
#   deploy/pgo/train.sh PATH/TO/INSTRUMENTED/mtp-webhook
#
# Needs curl. Fails if any answer is not 200 or the server does not stop.
set -euo pipefail
bin="$1"
requests="${REQUESTS:-300}"
reviews="$(cd "$(dirname "$0")" && pwd)/reviews"
port="${PORT:-18449}"
dir=$(mktemp -d)
"$bin" serve --self-signed --cert-dir "$dir" --listen "127.0.0.1:$port" \
  --probe-listen 127.0.0.1:0 2>"$dir/log" &
server=$!
trap 'kill $server 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do
  curl -skf "https://127.0.0.1:$port/healthz" >/dev/null && break
  sleep 0.1
done

# One connection sending `requests` requests; prints the status of each.
send() {
  curl -sk -o /dev/null -w '%{http_code}\n' "$@"
}
for body in "$reviews"/*/*/*.json; do
  path=${body#"$reviews"/}
  path=${path%/*}
  clients=()
  for _ in 1 2 3 4; do
    send -H 'Content-Type: application/json' --data-binary "@$body" \
      "https://127.0.0.1:$port/$path?timeout=10s&[1-$requests]" >>"$dir/codes" &
    clients+=($!)
  done
  wait "${clients[@]}"
done
send "https://127.0.0.1:$port/healthz?[1-$requests]" >>"$dir/codes"

total=$(wc -l <"$dir/codes")
bad=$(grep -vc '^200$' "$dir/codes" || true)
echo "pgo training: $total requests, $bad not answered 200"
[ "$bad" = 0 ] || { cat "$dir/log" >&2; exit 1; }

kill -TERM $server
for _ in $(seq 100); do
  kill -0 $server 2>/dev/null || break
  sleep 0.1
done
if kill -0 $server 2>/dev/null; then
  echo "pgo training: the server did not stop within 10 s of SIGTERM" >&2
  exit 1
fi
wait $server
