#!/usr/bin/env bash
# Soak: SOAK_SECONDS (default 600) of mixed load, all at once, on one `mtp-webhook serve` and one
# `mtp-apiserver` (embedded SQLite in a temp dir, static keys), on loopback, in 60 s slices run
# back to back (one wrk per class and slice, so each minute has its own latency percentiles):
#
#   webhook   POST /validate/pod-security, the compact kube-apiserver capture (HTTPS)
#   read      GET a tenant, a page of the tenant list, a tenant's members (64 keys in turn)
#   write     create a tenant, PATCH it, add a member, remove it, delete the tenant (8 keys)
#   authfail  GET /api/v1/tenants with a key the server does not know: 401 expected
#   limited   GET /api/v1/whoami, one key, about 10× its rate limit: 200 and 429 expected
#
# Each class sends at a fixed pace (wrk's `delay()`), well below what the machine can serve, so
# that the latencies measure the servers and not a queue. The RSS of both servers is sampled
# every 10 s (VmRSS) into rss.csv, with the load average (the machine may be shared).
#
# The verdict holds when: no class has an unexpected status or a socket error (connect, read,
# write, or no answer within 10 s); the RSS of each server in the last minute (median of its
# samples) is less than 5 % above its RSS in the minute after the first (the first minute is the
# warm-up); and the p99 of the last minute of the webhook, read and write classes is at most
# 1.5× their first minute's. Exit status 1 otherwise.
#
# Environment: SOAK_SECONDS (a multiple of 60, at least 120), SOAK_PREFILL (below; default 60),
# MTP_APISERVER_BIN and MTP_WEBHOOK_BIN (run these binaries instead of building them), SOAK_OUT
# (keep the per-minute figures, rss.csv and the server logs there; default a temp dir, removed
# at exit), PORT_API, PORT_WEBHOOK. Needs wrk (Debian: apt-get install wrk), curl, sha256sum.
set -euo pipefail
cd "$(dirname "$0")/../.."
command -v wrk >/dev/null || { echo "soak.sh needs wrk: apt-get install wrk" >&2; exit 2; }
seconds="${SOAK_SECONDS:-600}"
minutes=$((seconds / 60))
[ "$minutes" -ge 2 ] || { echo "SOAK_SECONDS must be at least 120" >&2; exit 2; }
api_port="${PORT_API:-18081}"
hook_port="${PORT_WEBHOOK:-18444}"
capture=mtp-policy/testdata/conformance/admissionreview/pods-create.kube-apiserver-v1.26.json
target="${CARGO_TARGET_DIR:-target}"
if [ -z "${MTP_APISERVER_BIN:-}" ] || [ -z "${MTP_WEBHOOK_BIN:-}" ]; then
  cargo build --release -q -p mtp-bins --bin mtp-apiserver --bin mtp-webhook
fi
api_bin=$(realpath "${MTP_APISERVER_BIN:-$target/release/mtp-apiserver}")
hook_bin=$(realpath "${MTP_WEBHOOK_BIN:-$target/release/mtp-webhook}")

if [ -n "${SOAK_OUT:-}" ]; then
  out="$SOAK_OUT"
  mkdir -p "$out"
else
  out=$(mktemp -d)
fi
work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
  [ -n "${SOAK_OUT:-}" ] || rm -rf "$out"
}
trap cleanup EXIT

# Static keys: 64 readers, 8 writers, one rate-limited client, all platform admins; and a key
# the server does not know.
new_secret() { printf 'mtp_%s' "$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"; }
lua_list() { local s="" k; for k in "$@"; do s="$s\"$k\","; done; printf '{%s}' "$s"; }
: >"$work/mtp-api-keys"
key() { # id -> prints the secret, appends its line
  local secret
  secret=$(new_secret)
  printf '%s:%s:mtp:platform-admins\n' "$1" "$(printf '%s' "$secret" | sha256sum | cut -d' ' -f1)" >>"$work/mtp-api-keys"
  printf '%s' "$secret"
}
readers=(); for i in $(seq 64); do readers+=("$(key "reader-$i")"); done
writers=(); for i in $(seq 8); do writers+=("$(key "writer-$i")"); done
limited=$(key limited)
admin=$(key admin)
unknown=$(new_secret)

# The servers. The per-identity limit is what the `limited` class exceeds; the per-IP limit is
# off (every client is 127.0.0.1). Logs at warn: ten minutes of access logs would measure the
# disk.
(cd "$work" && RUST_LOG=warn exec "$api_bin" --listen "127.0.0.1:$api_port" --cluster-status off \
    --rate-limit-rps 20 --rate-limit-burst 40 --rate-limit-ip-rps 0 >"$out/apiserver.out" 2>"$out/apiserver.log") &
api_pid=$!
pids+=("$api_pid")
RUST_LOG=warn "$hook_bin" serve --self-signed --cert-dir "$work" --listen "127.0.0.1:$hook_port" \
    --probe-listen 127.0.0.1:0 2>"$out/webhook.log" &
hook_pid=$!
pids+=("$hook_pid")
for _ in $(seq 100); do
  curl -sf "http://127.0.0.1:$api_port/healthz" >/dev/null && curl -skf "https://127.0.0.1:$hook_port/healthz" >/dev/null && break
  sleep 0.1
done
curl -sf -o /dev/null -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
    -d '{"name":"acme","tier":"pro","ownerEmail":"ops@acme.io","admins":["alice@acme.io"],"viewers":["bob@acme.io"]}' \
    "http://127.0.0.1:$api_port/api/v1/tenants"
for i in $(seq 30); do # a list with more than a page
  curl -sf -o /dev/null -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
      -d "{\"name\":\"fill-$i\",\"tier\":\"free\",\"ownerEmail\":\"o@x.io\",\"admins\":[\"alice@x.io\"]}" \
      "http://127.0.0.1:$api_port/api/v1/tenants"
done

# Pre-fill: SOAK_PREFILL seconds (default 60) of create/delete cycles as fast as the server
# takes them, before the clock starts, so that the database is not empty and SQLite's page
# caches (2 MiB for each of the 8 connections) have filled: on an empty database they grow with
# it for many minutes, which the RSS criterion would count as growth. The cycles take turns over
# every key, to stay mostly within the per-identity limit (its 429s do not matter here).
prefill="${SOAK_PREFILL:-60}"
if [ "$prefill" -gt 0 ]; then
  cat >"$work/prefill.lua" <<LUA
local keys = $(lua_list "${readers[@]}" "${writers[@]}")
local threads = {}
function setup(thread) table.insert(threads, thread); thread:set("tid", #threads) end
local step = 0
function request()
  local n = math.floor(step / 2) + 1
  local name = "pre-" .. tid .. "-" .. n
  local h = {["Authorization"] = "Bearer " .. keys[(n * 2 + tid) % #keys + 1], ["Content-Type"] = "application/json"}
  if step % 2 == 0 then
    return wrk.format("POST", "/api/v1/tenants", h, '{"name":"' .. name .. '","tier":"free","ownerEmail":"o@x.io","admins":["alice@x.io"]}')
  end
  return wrk.format("DELETE", "/api/v1/tenants/" .. name, h)
end
function response(status) step = step + 1 end
LUA
  echo "== pre-fill: ${prefill}s of tenant create/delete cycles"
  wrk -t2 -c2 -d"${prefill}s" -s "$work/prefill.lua" "http://127.0.0.1:$api_port/api/v1/tenants" |
    grep -E 'requests in|Non-2xx' || true
  echo "   database: $(du -sk "$work" | cut -f1) KiB; apiserver RSS $(awk '/^VmRSS:/ { print $2 }' "/proc/$api_pid/status") KiB"
fi

# Every class: status counts per thread, and one RESULT line from done().
cat >"$work/common.lua" <<'LUA'
local threads = {}
function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end
counts = {}
function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
end
function done(summary, latency, requests)
  local all = {}
  for _, t in ipairs(threads) do
    for s, n in pairs(t:get("counts")) do all[s] = (all[s] or 0) + n end
  end
  local st = {}
  for s, n in pairs(all) do table.insert(st, s .. ":" .. n) end
  table.sort(st)
  local e = summary.errors
  io.write(string.format("RESULT %d %d %d %d %d %d %d %d %d %s\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.timeout, table.concat(st, ",")))
end
LUA
{
  cat "$work/common.lua"
  cat <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$capture", "rb")
wrk.body = f:read("*a")
f:close()
function delay() return 4 end
LUA
} >"$work/webhook.lua"
{
  cat "$work/common.lua"
  cat <<LUA
local keys = $(lua_list "${readers[@]}")
local paths = {"/api/v1/tenants/acme", "/api/v1/tenants?limit=20", "/api/v1/tenants/acme/members"}
local i = 0
function request()
  i = i + 1
  return wrk.format("GET", paths[i % #paths + 1], {["Authorization"] = "Bearer " .. keys[(i * 7 + tid) % #keys + 1]})
end
function delay() return 5 end
LUA
} >"$work/read.lua"
{
  cat "$work/common.lua"
  cat <<LUA
-- One connection per thread: each thread's cycle is sequential.
local keys = $(lua_list "${writers[@]}")
-- The cycle advances on each response, not on each request: wrk calls request() once more on
-- the first thread's state to check the script, a request that is never sent.
local step, last = 0, ""
function request()
  local op = step % 5
  local n = math.floor(step / 5) + 1
  local name = "s" .. slice .. "-" .. tid .. "-" .. n
  last = op .. " " .. name
  local h = {["Authorization"] = "Bearer " .. keys[(n + tid * 4) % #keys + 1]}
  if op == 0 then
    h["Content-Type"] = "application/json"
    return wrk.format("POST", "/api/v1/tenants", h,
      '{"name":"' .. name .. '","tier":"free","ownerEmail":"o@x.io","admins":["alice@x.io"]}')
  elseif op == 1 then
    h["Content-Type"] = "application/merge-patch+json"
    return wrk.format("PATCH", "/api/v1/tenants/" .. name, h, '{"displayName":"Soak ' .. n .. '"}')
  elseif op == 2 then
    h["Content-Type"] = "application/json"
    return wrk.format("POST", "/api/v1/tenants/" .. name .. "/members", h, '{"userId":"bob@x.io","role":"viewer"}')
  elseif op == 3 then
    return wrk.format("DELETE", "/api/v1/tenants/" .. name .. "/members/bob@x.io", h)
  end
  return wrk.format("DELETE", "/api/v1/tenants/" .. name, h)
end
function delay() return 20 end
local counted = response
function response(status, headers, body)
  counted(status, headers, body)
  step = step + 1
  if status >= 300 then io.stderr:write("write: " .. status .. " to step " .. last .. ": " .. body .. "\n") end
end
LUA
} >"$work/write.lua.in"
{
  cat "$work/common.lua"
  cat <<LUA
wrk.headers["Authorization"] = "Bearer $unknown"
function delay() return 20 end
LUA
} >"$work/authfail.lua"
{
  cat "$work/common.lua"
  cat <<LUA
wrk.headers["Authorization"] = "Bearer $limited"
function delay() return 10 end
LUA
} >"$work/limited.lua"

# class -> "threads connections URL" and the statuses it expects.
declare -A shape expected
shape[webhook]="1 4 https://127.0.0.1:$hook_port/validate/pod-security"
shape[read]="1 4 http://127.0.0.1:$api_port/api/v1/tenants/acme"
shape[write]="2 2 http://127.0.0.1:$api_port/api/v1/tenants"
shape[authfail]="1 1 http://127.0.0.1:$api_port/api/v1/tenants"
shape[limited]="1 2 http://127.0.0.1:$api_port/api/v1/whoami"
expected[webhook]="200"
expected[read]="200"
expected[write]="200 201 204"
expected[authfail]="401"
expected[limited]="200 429"
classes=(webhook read write authfail limited)

rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
echo "t_s,apiserver_rss_kib,webhook_rss_kib,load1" >"$out/rss.csv"
start=$(date +%s)
(
  i=0
  while :; do
    echo "$((i * 10)),$(rss "$api_pid"),$(rss "$hook_pid"),$(cut -d' ' -f1 /proc/loadavg)" >>"$out/rss.csv"
    i=$((i + 1))
    now=$(date +%s)
    sleep $((start + i * 10 - now > 0 ? start + i * 10 - now : 0))
  done
) &
sampler=$!
pids+=("$sampler")

echo "== soak: $minutes min of mixed load; apiserver pid $api_pid, webhook pid $hook_pid; figures in $out"
for m in $(seq "$minutes"); do
  { echo "slice = $m"; cat "$work/write.lua.in"; } >"$work/write.lua" # unique tenant names
  wpids=()
  for c in "${classes[@]}"; do
    read -r t conns url <<<"${shape[$c]}"
    wrk -t"$t" -c"$conns" -d60s --timeout 10s -s "$work/$c.lua" "$url" >"$out/$c.$m.out" 2>&1 &
    wpids+=($!)
  done
  for p in "${wpids[@]}"; do wait "$p" || true; done
  line="minute $m:"
  for c in "${classes[@]}"; do
    read -r _ n _ p50 p99 _ _ _ _ _ st < <(grep '^RESULT ' "$out/$c.$m.out" || echo "RESULT 0 0 0 0 0 0 0 0 0 none")
    line="$line $c $n req p50 $((p50 / 1000)).$(printf '%03d' $((p50 % 1000))) ms p99 $((p99 / 1000)).$(printf '%03d' $((p99 % 1000))) ms [$st];"
  done
  echo "$line"
done
sleep 1
echo "$(($(date +%s) - start)),$(rss "$api_pid"),$(rss "$hook_pid"),$(cut -d' ' -f1 /proc/loadavg)" >>"$out/rss.csv"
kill "$sampler" 2>/dev/null || true

# The verdict.
fail=0
echo "== verdict"
for c in "${classes[@]}"; do
  total=0
  declare -A by=()
  sock=0
  for m in $(seq "$minutes"); do
    read -r _ n _ _ _ _ ec er ew et st < <(grep '^RESULT ' "$out/$c.$m.out" || echo "RESULT 0 0 0 0 0 1 0 0 0 none")
    total=$((total + n))
    sock=$((sock + ec + er + ew + et))
    IFS=, read -ra pairs <<<"$st"
    for pr in "${pairs[@]}"; do
      [ "$pr" = none ] && continue
      by[${pr%%:*}]=$(( ${by[${pr%%:*}]:-0} + ${pr##*:} ))
    done
  done
  statuses=""
  unexpected=0
  for s in $(printf '%s\n' "${!by[@]}" | sort -n); do
    statuses="$statuses $s:${by[$s]}"
    case " ${expected[$c]} " in *" $s "*) ;; *) unexpected=$((unexpected + by[$s])) ;; esac
  done
  ok=ok
  if [ "$unexpected" != 0 ] || [ "$sock" != 0 ] || [ "$total" = 0 ]; then ok=FAIL; fail=1; fi
  echo "$c: $total requests, statuses$statuses, unexpected $unexpected, socket errors $sock: $ok"
  unset by
done
for c in webhook read write; do
  read -r _ _ _ p1 q1 _ < <(grep '^RESULT ' "$out/$c.1.out")
  read -r _ _ _ pn qn _ < <(grep '^RESULT ' "$out/$c.$minutes.out")
  verdict=$(awk -v a="$q1" -v b="$qn" 'BEGIN { r = a > 0 ? b / a : 99; printf "%.2f %s", r, (r <= 1.5 ? "ok" : "FAIL") }')
  case "$verdict" in *FAIL*) fail=1 ;; esac
  awk -v c="$c" -v p1="$p1" -v q1="$q1" -v pn="$pn" -v qn="$qn" -v v="$verdict" -v m="$minutes" 'BEGIN {
    printf "%s latency: minute 1 p50 %.3f ms p99 %.3f ms; minute %d p50 %.3f ms p99 %.3f ms; p99 last/first %s\n",
      c, p1 / 1000, q1 / 1000, m, pn / 1000, qn / 1000, v }'
done
# RSS: the median of the samples of the minute after the warm-up (60 s <= t < 120 s) against
# the median of the last minute's (one sample alone moves by a few % as the allocator breathes).
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
last=$(tail -1 "$out/rss.csv" | cut -d, -f1)
for col in 2:apiserver 3:webhook; do
  i=${col%%:*}
  name=${col##*:}
  b=$(awk -F, -v i="$i" 'NR > 1 && $1 >= 60 && $1 < 120 { print $i }' "$out/rss.csv" | median)
  e=$(awk -F, -v i="$i" -v l="$last" 'NR > 1 && $1 > l - 60 { print $i }' "$out/rss.csv" | median)
  mx=$(awk -F, -v i="$i" 'NR > 1 && $1 >= 60 && $i > m { m = $i } END { print m }' "$out/rss.csv")
  verdict=$(awk -v n="$name" -v b="$b" -v e="$e" -v mx="$mx" -v m="$minutes" 'BEGIN { g = 100 * (e - b) / b
    printf "%s RSS (median of the samples): minute 2 %.1f MiB, minute %d %.1f MiB: %+.1f %% %s (max after warm-up %.1f MiB)",
      n, b / 1024, m, e / 1024, g, (g < 5 ? "ok" : "FAIL"), mx / 1024 }')
  case "$verdict" in *FAIL*) fail=1 ;; esac
  echo "$verdict"
done
if [ "$fail" = 0 ]; then echo "soak: HOLDS"; else echo "soak: FAILS"; fi
exit "$fail"
