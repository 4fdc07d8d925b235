#!/usr/bin/env bash
# CPU cost per request (issue 17, for a shared machine): wall-clock req/s means nothing while other
# work shares the cores, but the server's own CPU time per request barely moves with the load around
# it. For each row, wrk runs DURATION seconds against a fresh Palisade (demo tenant, rate limits
# off) and the script prints the server's user+sys CPU time (from /proc/<pid>/stat) per request,
# and per 100,000 requests, and the same for the bare hyper ceiling (`palisade-ceiling`) answering
# the same bytes. The ratio of CPU costs is what the req/s ratio would be if the server had the
# cores to itself and the client were free.
#
#   bench/cpu.sh                         # release build, 5 s per row
#   DURATION=3 PALISADE_BIN=/tmp/old bench/cpu.sh   # another build (an A/B)
#   ROWS="machine notfound" bench/cpu.sh # some rows only
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-32}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
ROWS=${ROWS:-"machine notfound unauthorized health alerts10 filter token"}
if [ "${BUILD:-1}" = 1 ]; then cargo build --release -q -p palisade -p palisade-ceiling; fi
BIN=${PALISADE_BIN:-$TARGET_DIR/release/palisade}
CEILING_BIN=$TARGET_DIR/release/palisade-ceiling
WORK=$(mktemp -d)
PIDS=()
cleanup() { local p; for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
TICK=$(getconf CLK_TCK)
# user+sys CPU seconds of a process, all threads (fields 14 and 15 of /proc/<pid>/stat).
cpu() { awk -v t="$TICK" '{ sub(/^.*\) /, ""); printf "%.3f", ($12 + $13) / t }' "/proc/$1/stat"; }
rss() { awk '/^VmRSS/{printf "%.1f", $2 / 1024}' "/proc/$1/status"; }

"$BIN" credentials --data "$WORK/demo" >/dev/null
"$BIN" serve --data "$WORK/demo" --http 127.0.0.1:0 --https off --no-rate-limits >"$WORK/p.log" 2>"$WORK/p.err" &
PID=$!; PIDS+=("$PID")
for _ in $(seq 300); do grep -q 'HTTP ' "$WORK/p.log" && break; sleep 0.1; done
BASE=$(grep -o 'http://[0-9.:]*' "$WORK/p.log" | head -1)
TOKEN=$("$BIN" token --data "$WORK/demo")
read -r TENANT CLIENT_ID CLIENT_SECRET < <("$BIN" credentials --data "$WORK/demo" --json |
  python3 -c 'import json,sys; c = json.load(sys.stdin); print(c["tenantId"], c["clientId"], c["clientSecret"])')
FIRST=$(curl -sSf -H "Authorization: Bearer $TOKEN" "$BASE/api/machines?\$top=1&\$select=id,computerDnsName")
read -r MACHINE NAME < <(python3 -c 'import json,sys; m = json.load(sys.stdin)["value"][0]; print(m["id"], m["computerDnsName"])' <<<"$FIRST")
FORM="grant_type=client_credentials&client_id=$CLIENT_ID&client_secret=$CLIENT_SECRET&scope=https%3A%2F%2Fapi.securitycenter.microsoft.com%2F.default"
printf 'wrk.method = "POST"\nwrk.body = "%s"\nwrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n' "$FORM" >"$WORK/token.lua"
IDLE_RSS=$(rss "$PID")

# wrk for DURATION against base+path; prints the requests it completed.
load() {
  local base=$1 path=$2 auth=$3 script=$4 args=(-t1 -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s)
  [ -n "$auth" ] && args+=(-H "Authorization: Bearer $auth")
  [ -n "$script" ] && args+=(-s "$script")
  wrk "${args[@]}" "$base$path" | awk '/requests in/ { print $1 }'
}

# CPU µs per request of a server process under one row's load.
measure() {
  local pid=$1 base=$2 path=$3 auth=$4 script=$5 before after n
  before=$(cpu "$pid")
  n=$(load "$base" "$path" "$auth" "$script")
  after=$(cpu "$pid")
  python3 -c "import sys; b, a, n = map(float, sys.argv[1:]); print(f'{(a - b) / n * 1e6:.1f} {n:.0f}')" "$before" "$after" "$n"
}

echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) CPU per request: wrk -t1 -c$CONNECTIONS -d${DURATION}s, load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '| row | Palisade CPU µs/req | CPU s per 100k | requests | ceiling CPU µs/req | cost ratio (ceiling/Palisade) |\n|---|---|---|---|---|---|\n'
for row in $ROWS; do
  auth=$TOKEN script="" method=()
  case $row in
    machine) path="/api/machines/$MACHINE" ;;
    notfound) path="/api/machines/0000000000000000000000000000000000000000" ;;
    unauthorized) path="/api/machines" auth="" ;;
    health) path="/_palisade/health" auth="" ;;
    alerts10) path="/api/alerts?\$top=10" ;;
    filter) path="/api/machines?\$filter=computerDnsName%20eq%20'$NAME'" ;;
    token) path="/$TENANT/oauth2/v2.0/token" auth="" script=$WORK/token.lua method=(-H 'content-type: application/x-www-form-urlencoded' --data "$FORM") ;;
    *) echo "unknown row $row" >&2; exit 1 ;;
  esac
  headers=()
  [ -n "$auth" ] && headers=(-H "Authorization: Bearer $auth")
  curl -sS -o "$WORK/answer" "${headers[@]}" "${method[@]}" "$BASE$path"
  read -r p_us p_n < <(measure "$PID" "$BASE" "$path" "$auth" "$script")
  "$CEILING_BIN" --listen 127.0.0.1:0 --body-file "$WORK/answer" >"$WORK/c.log" &
  CPID=$!; PIDS+=("$CPID")
  for _ in $(seq 100); do grep -q listening "$WORK/c.log" && break; sleep 0.05; done
  CBASE=$(grep -o 'http://[0-9.:]*' "$WORK/c.log" | head -1)
  read -r c_us _ < <(measure "$CPID" "$CBASE" "$path" "$auth" "$script")
  kill "$CPID"; wait "$CPID" 2>/dev/null || true
  python3 -c "import sys; r, p, n, c = sys.argv[1], float(sys.argv[2]), sys.argv[3], float(sys.argv[4]); print(f'| {r} | {p:.1f} | {p / 10:.2f} | {int(n):,} | {c:.1f} | {c / p:.3f}x |')" "$row" "$p_us" "$p_n" "$c_us"
done
echo
echo "Palisade RSS: idle $IDLE_RSS MiB, after the rows $(rss "$PID") MiB, $(awk '/^Threads/{print $2}' /proc/$PID/status) threads, $(find /proc/$PID/fd -mindepth 1 | wc -l) descriptors"
sleep "${SETTLE:-12}"
echo "  after ${SETTLE:-12} s quiet: $(rss "$PID") MiB, $(awk '/^Threads/{print $2}' /proc/$PID/status) threads, $(find /proc/$PID/fd -mindepth 1 | wc -l) descriptors"
