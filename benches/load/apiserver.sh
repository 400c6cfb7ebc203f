#!/usr/bin/env bash
# Load run of `mtp-apiserver` on loopback, SQLite on a temp file, static keys, one process and
# the same run for every case, 32 connections: GET /healthz, GET /api/v1/tenants/{name}
# (authenticated with a static key, then with an OIDC token from the oidc-provider harness of the
# mtp-auth tests: --auth-mode chain, warm verified-token cache), POST /api/v1/tenants (a new
# tenant per request). Needs wrk, curl, node and oidc-provider (.ci/install-deps).
# Bounded: four runs of $DURATION, then the servers stop.
set -euo pipefail
cd "$(dirname "$0")/../.."
duration="${DURATION:-10s}"
port="${PORT:-18080}"
if [ -z "${MTP_APISERVER_BIN:-}" ]; then
  cargo build --release -q -p mtp-bins --bin mtp-apiserver
fi
bin="${MTP_APISERVER_BIN:-$(realpath "${CARGO_TARGET_DIR:-target}")/release/mtp-apiserver}"
dir=$(mktemp -d)
TOKEN_TTL=3600 node mtp-auth/tests/oidc/provider.mjs "$dir" 0 >"$dir/idp" 2>&1 &
idp=$!
trap 'kill $idp 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do grep -q '^READY ' "$dir/idp" && break; sleep 0.1; done
issuer=$(sed -n 's/^READY //p' "$dir/idp")
token=$(curl -sf -u mtp-broker:broker-secret -d grant_type=client_credentials -d scope=api:read \
    -d resource=https://api.mtp.test "$issuer/token" | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')
# Limits out of the way: the run measures the request path, not the limiter's 429s.
(cd "$dir" && RUST_LOG=warn exec "$bin" --listen "127.0.0.1:$port" --cluster-status off \
    --auth-mode chain --oidc-issuer-url "$issuer" --oidc-audience https://api.mtp.test \
    --rate-limit-rps 1000000 --rate-limit-burst 1000000 --rate-limit-ip-rps 0 >"$dir/out" 2>"$dir/log") &
server=$!
trap 'kill $server $idp 2>/dev/null; rm -rf "$dir"' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
key=$(grep -o 'mtp_[A-Za-z0-9_-]*' "$dir/out" | head -1)
curl -sf -o /dev/null -H "Authorization: Bearer $key" -H 'Content-Type: application/json' \
    -d '{"name":"acme","tier":"pro","ownerEmail":"ops@acme.io","admins":["alice","mtp-broker"],"viewers":["bob"]}' \
    "http://127.0.0.1:$port/api/v1/tenants"
cat > "$dir/post.lua" <<LUA
local n = 0

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end
function request()
  n = n + 1
  local body = '{"name":"load-' .. id .. '-' .. n .. '","tier":"free","ownerEmail":"o@x.io","admins":["alice"]}'
  return wrk.format("POST", "/api/v1/tenants",
    {["Authorization"] = "Bearer $key", ["Content-Type"] = "application/json"}, body)
end
function response(status, headers, body)
  if status ~= 201 then io.stderr:write("unexpected status " .. status .. "\n") end
end
LUA
echo "== GET /healthz"
wrk -t2 -c32 -d"$duration" --latency "http://127.0.0.1:$port/healthz"
echo "== GET /api/v1/tenants/acme (static key)"
wrk -t2 -c32 -d"$duration" --latency -H "Authorization: Bearer $key" "http://127.0.0.1:$port/api/v1/tenants/acme"
curl -sf -o /dev/null -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/tenants/acme"
echo "== GET /api/v1/tenants/acme (OIDC token, tenant admin)"
wrk -t2 -c32 -d"$duration" --latency -H "Authorization: Bearer $token" "http://127.0.0.1:$port/api/v1/tenants/acme"
echo "== POST /api/v1/tenants (static key, SQLite)"
wrk -t2 -c32 -d"$duration" --latency -s "$dir/post.lua" "http://127.0.0.1:$port/api/v1/tenants" 2> >(sort | uniq -c >&2)
