#!/usr/bin/env bash
# Soak: 1,000 concurrent connections for a bounded time against an authenticated GET (expects 200)
# and an error GET (an unknown machine id: expects 404), at the shell's descriptor limit. Reports
# requests, responses by status (any other status, and socket errors, are failures), p99, the
# server's memory (VmRSS before / peak / after, peak from VmHWM), threads and open descriptors
# before and after a settle time (they should return to idle). Loopback only; bounded in time.
#
#   bench/soak.sh                       # 30 s per scenario, 1,000 connections, release build
#   DURATION=10 PROFILE=dev bench/soak.sh        # or BIN=path/to/palisade
#   NOFILE=1024 bench/soak.sh           # the usual default limit of a desktop shell
#
# Exits non-zero when any response had an unexpected status or any connection failed.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-30}
CONNECTIONS=${CONNECTIONS:-1000}
THREADS=${THREADS:-2}
SETTLE=${SETTLE:-10}
PROFILE=${PROFILE:-release}
TARGET=${CARGO_TARGET_DIR:-target}
[ -n "${NOFILE:-}" ] && ulimit -n "$NOFILE"

if ! command -v wrk >/dev/null; then
  (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null
fi
if [ -z "${BIN:-}" ]; then
  cargo build --profile "$PROFILE" -q -p palisade
  BIN=$TARGET/$([ "$PROFILE" = dev ] && echo debug || echo "$PROFILE")/palisade
fi

DATA=$(mktemp -d)
LOG=$DATA/serve.log
LUA=$DATA/statuses.lua
"$BIN" serve --data "$DATA/store" --http 127.0.0.1:0 --https off --no-rate-limits >"$LOG" 2>"$DATA/serve.err" &
SERVER=$!
SAMPLER=
cleanup() {
  [ -n "$SAMPLER" ] && kill "$SAMPLER" 2>/dev/null || true
  kill "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  rm -rf "$DATA"
}
trap cleanup EXIT
for _ in $(seq 600); do grep -q 'HTTP ' "$LOG" && break; sleep 0.1; done
BASE=$(grep -o 'http://[0-9.:]*' "$LOG" | head -1)
[ -n "$BASE" ] || { echo "the server did not start within 60 s" >&2; exit 1; }
TOKEN=$("$BIN" token --data "$DATA/store")
MACHINE=$(curl -s -H "Authorization: Bearer $TOKEN" "$BASE/api/machines?\$top=1&\$select=id" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["value"][0]["id"])')

# Counts every response by status in each wrk thread; `done` adds them up.
cat >"$LUA" <<'LUA'
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init() statuses = {} end
function response(status) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency)
  local total = {}
  for _, t in ipairs(threads) do
    for status, n in pairs(t:get("statuses")) do total[status] = (total[status] or 0) + n end
  end
  local line = "statuses:"
  for status, n in pairs(total) do line = line .. " " .. status .. "=" .. n end
  print(line)
  print(string.format("p99_ms: %.1f", latency:percentile(99) / 1000))
  print(string.format("max_ms: %.1f", latency.max / 1000))
  print(string.format("socket_errors: connect=%d read=%d write=%d timeout=%d",
    summary.errors.connect, summary.errors.read, summary.errors.write, summary.errors.timeout))
end
LUA

proc() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$SERVER/status"; }
fds() { ls "/proc/$SERVER/fd" 2>/dev/null | wc -l; }
db_fds() { ls -l "/proc/$SERVER/fd" 2>/dev/null | grep -c 'palisade.db' || true; }
usage() { echo "VmRSS=$(proc VmRSS) kB threads=$(proc Threads) fds=$(fds) (palisade.db*: $(db_fds))"; }

echo "== soak: $CONNECTIONS connections, $THREADS wrk threads, ${DURATION}s per scenario, ulimit -n $(ulimit -n), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "binary: $BIN"
echo "before: $(usage)"
# Peak descriptors and threads, sampled; peak memory is the kernel's high-water mark (VmHWM).
PEAKS=$DATA/peaks
( max_fd=0; max_th=0
  while kill -0 "$SERVER" 2>/dev/null; do
    f=$(fds); t=$(proc Threads); [ "${f:-0}" -gt $max_fd ] && max_fd=$f; [ "${t:-0}" -gt $max_th ] && max_th=$t
    echo "$max_fd $max_th" >"$PEAKS"; sleep 0.5
  done ) &
SAMPLER=$!

FAILED=0
scenario() {
  local label=$1 path=$2 expected=$3 out
  echo "== $label: GET $path (expected $expected)"
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s --latency -s "$LUA" \
    -H "Authorization: Bearer $TOKEN" "$BASE$path" 2>&1)
  echo "$out" | grep -E 'requests in|Requests/sec|^ +99%|^statuses|^p99_ms|^max_ms|^socket_errors'
  local unexpected
  unexpected=$(echo "$out" | grep '^statuses:' | tr ' ' '\n' | grep '=' | grep -v "^$expected=" || true)
  if [ -n "$unexpected" ]; then
    echo "FAILURES (unexpected statuses): $(echo $unexpected)"
    FAILED=1
  fi
  if echo "$out" | grep '^socket_errors:' | grep -qE '=[1-9]'; then
    echo "FAILURES: socket errors (refused, reset or timed-out connections)"
    FAILED=1
  fi
  echo "during/after $label: $(usage)"
}
scenario "authenticated GET" "/api/machines/$MACHINE" 200
scenario "error GET" "/api/machines/0000000000000000000000000000000000000000" 404

echo "peak: VmHWM=$(proc VmHWM) kB, sampled max fds=$(cut -d' ' -f1 "$PEAKS") threads=$(cut -d' ' -f2 "$PEAKS")"
sleep "$SETTLE"
echo "after ${SETTLE}s idle: $(usage)"
echo "server log, store and descriptor errors:"
grep -oE 'unable to open database file|Too many open files' "$DATA/serve.err" | sort | uniq -c || true
exit "$FAILED"
