#!/usr/bin/env bash
# Cold start of mtp-controller against a real cluster:
#   benches/load/controller-scale.sh KUBECONFIG [N]
# creates N Tenants (tier free, label mtp.dev/scale-test=true) while no controller runs, starts
# mtp-controller, and reports
#   - the time from its start until every Tenant is Ready,
#   - its peak RSS (VmHWM),
#   - the writes it made, by verb and resource, counted from the apiserver's own
#     apiserver_request_total (so every client's writes in that time count: run it on a quiet,
#     disposable cluster),
#   - the writes during the idle minute after that (only Lease updates are expected).
# Then it deletes the Tenants (KEEP=1 keeps them).
#
# Needs kubectl, a cluster-admin KUBECONFIG of a disposable cluster with the install applied
# (`mtpctl install | kubectl apply -f -`, or at least the CRD, the mtp-system namespace and the
# controller's RBAC), and kube-controller-manager for namespace deletion at the end.
# Environment:
#   MTP_CONTROLLER_BIN   a built mtp-controller (default: cargo build --release, then target/release)
#   AS_SERVICE_ACCOUNT=1 run the controller with a token of the mtp-controller ServiceAccount (the
#                        shipped RBAC, as in a real install) instead of KUBECONFIG's user
#   CONCURRENCY          --concurrency of the controller (default: its own default)
#   IDLE_SECONDS         length of the idle window (default 60)
#   TIMEOUT              seconds to wait for all Ready (default 600)
set -euo pipefail

kubeconfig=${1:?usage: controller-scale.sh KUBECONFIG [N]}
n=${2:-1000}
idle=${IDLE_SECONDS:-60}
timeout=${TIMEOUT:-600}
root=$(cd "$(dirname "$0")/../.." && pwd)
export KUBECONFIG=$kubeconfig
k() { kubectl --request-timeout=60s "$@"; }
work=$(mktemp -d)
controller_pid=
cleanup() {
  [ -n "$controller_pid" ] && kill "$controller_pid" 2>/dev/null && wait "$controller_pid" 2>/dev/null || true
  if [ "${KEEP:-0}" != 1 ]; then
    k delete tenants -l mtp.dev/scale-test=true --wait=false >/dev/null 2>&1 || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT

bin=${MTP_CONTROLLER_BIN:-}
if [ -z "$bin" ]; then
  (cd "$root" && cargo build --release -q -p mtp-bins --bin mtp-controller)
  bin="${CARGO_TARGET_DIR:-$root/target}/release/mtp-controller"
fi
[ -x "$bin" ] || { echo "no mtp-controller at $bin" >&2; exit 2; }

k get crd tenants.mtp.dev >/dev/null 2>&1 || { "$bin" crd | k apply --server-side -f - >/dev/null; }
k wait --for condition=established crd/tenants.mtp.dev --timeout=60s >/dev/null
k get namespace mtp-system >/dev/null 2>&1 || k create namespace mtp-system >/dev/null

echo "creating $n Tenants (tier free)..."
for ((i = 0; i < n; i++)); do
  printf -- '---\napiVersion: mtp.dev/v1alpha1\nkind: Tenant\nmetadata:\n  name: scale-%05d\n  labels: {mtp.dev/scale-test: "true"}\nspec: {displayName: Scale %d, tier: free, ownerEmail: ops@scale.example, admins: [admin%d@scale.example]}\n' "$i" "$i" "$i"
done >"$work/tenants.yaml"
k apply --server-side --field-manager=scale-test -f "$work/tenants.yaml" >/dev/null

# Writes by verb and resource, from the apiserver's counters.
writes() {
  k get --raw /metrics | awk '
    /^apiserver_request_total\{/ {
      verb = ""; res = ""
      if (match($0, /verb="[A-Z]+"/)) verb = substr($0, RSTART + 6, RLENGTH - 7)
      if (match($0, /resource="[a-z]+"/)) res = substr($0, RSTART + 10, RLENGTH - 11)
      if (verb ~ /^(POST|PUT|PATCH|DELETE|APPLY|CREATE|UPDATE)$/) sum[verb " " res] += $NF
    }
    END { for (k in sum) printf "%s %d\n", k, sum[k] }' | sort
}
delta() { # before after -> lines "VERB resource count" with count > 0
  join -a2 -e 0 -o 0,1.2,2.2 <(awk '{print $1"/"$2, $3}' "$1" | sort) <(awk '{print $1"/"$2, $3}' "$2" | sort) |
    awk '{d = $3 - $2; if (d > 0) { split($1, p, "/"); printf "  %-7s %-22s %d\n", p[1], p[2], d } }'
}

controller_kubeconfig=$kubeconfig
if [ "${AS_SERVICE_ACCOUNT:-0}" = 1 ]; then
  token=$(k -n mtp-system create token mtp-controller --duration=1h)
  server=$(kubectl config view --minify --raw -o jsonpath='{.clusters[0].cluster.server}')
  ca=$(kubectl config view --minify --raw -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
  controller_kubeconfig=$work/controller.kubeconfig
  cat >"$controller_kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "$server", certificate-authority-data: "$ca"}}]
users: [{name: mtp-controller, user: {token: "$token"}}]
contexts: [{name: c, context: {cluster: c, user: mtp-controller}}]
current-context: c
EOF
fi

writes >"$work/before"
start=$(date +%s.%N)
args=(run --kubeconfig "$controller_kubeconfig" --probe-listen 127.0.0.1:0 --identity scale-test)
[ -n "${CONCURRENCY:-}" ] && args+=(--concurrency "$CONCURRENCY")
"$bin" "${args[@]}" >"$work/controller.log" 2>&1 &
controller_pid=$!

ready=0
while :; do
  ready=$(k get tenants -l mtp.dev/scale-test=true \
    -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}' | grep -c '^True$' || true)
  [ "$ready" -ge "$n" ] && break
  if ! kill -0 "$controller_pid" 2>/dev/null; then
    echo "the controller exited; its log:" >&2; tail -50 "$work/controller.log" >&2; exit 1
  fi
  if (($(echo "$(date +%s.%N) - $start > $timeout" | bc))); then
    echo "only $ready of $n Ready after ${timeout}s" >&2; exit 1
  fi
  sleep 0.5
done
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
writes >"$work/after"
rss=$(awk '/VmHWM/ {print $2}' "/proc/$controller_pid/status")

sleep "$idle"
writes >"$work/idle"

printf '%d Tenants Ready in %.1f s after the controller started\n' "$n" "$elapsed"
printf 'controller peak RSS: %d MiB\n' "$((rss / 1024))"
echo "writes until all Ready (verb resource count):"
delta "$work/before" "$work/after"
echo "writes in the ${idle} s idle window after that:"
delta "$work/after" "$work/idle"
