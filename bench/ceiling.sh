#!/usr/bin/env bash
# Ceiling benchmark (issue 17): Palisade against a bare hyper server (`palisade-ceiling`) that answers
# a static body of the same size, on the same machine, with the same client (wrk -t2 -c64), the two
# servers measured alternately (P, C, P, C...) so that drift cancels. Prints req/s, p50/p99 and the
# ratio to the ceiling per request, the ratio targets of issue 17 beside them (reported, never
# enforced), Palisade's RSS idle and after the load, its threads and descriptors after the load, and
# its time to first answer on an existing store. Loopback only; bounded in time.
#
#   bench/ceiling.sh                      # 10 s per run, 2 rounds, 1,000,000 seeded alerts
#   SHORT=1 bench/ceiling.sh              # CI smoke mode: 2 s per run, 1 round, no seeded store
#   SHORT=1 PROFILE=debug bench/ceiling.sh  # same on the debug build `cargo test` already made (CI)
#   DURATION=5 ROUNDS=3 ALERTS=0 bench/ceiling.sh
#   PALISADE_BIN=/tmp/palisade-old SHORT=1 bench/ceiling.sh   # another build of Palisade
#   STEADY_RUNS=0 bench/ceiling.sh        # without the steadiness check (ten more runs)
#
# Rows on a fresh data directory (the demo tenant): GET a machine by id with a token, a
# ResourceNotFound, an Unauthorized, the health probe, $top=10 alerts, a one-row OData filter, the
# token endpoint and an indicator import of 500. The $top=100 alerts row runs on a store seeded with
# ALERTS alerts over MACHINES machines (the store bench/http.sh keeps in target/bench-data-…, reused;
# seeding 1,000,000 takes minutes and 8 GB the first time). ALERTS=0 skips that row.
#
# When it seeds, the seed's rate over the whole run (index builds included) and its CPU time are
# printed and kept beside the store. STEADY_RUNS (default 10; 0 in SHORT mode) back-to-back runs of
# the authenticated GET check that the rate stays within ±15 % and p99 within 5× of p50, with the
# server's CPU per request, threads and descriptors after each and 15 s after the last.
#
# Exits non-zero only when something is broken (a server does not start, a row answers an unexpected
# status); a missed target is printed, not judged.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "${SHORT:-0}" = 1 ]; then
  DURATION=${DURATION:-2} ROUNDS=${ROUNDS:-1} ALERTS=${ALERTS:-0} WARMUP=${WARMUP:-0} STARTS=${STARTS:-3}
  STEADY_RUNS=${STEADY_RUNS:-0}
fi
STEADY_RUNS=${STEADY_RUNS:-10} # back-to-back runs of the steadiness check (0: none)
DURATION=${DURATION:-10}      # seconds per wrk run
ROUNDS=${ROUNDS:-2}           # Palisade/ceiling pairs per row
ALERTS=${ALERTS:-1000000}     # alerts in the seeded store (0: no store, no $top=100 row)
MACHINES=${MACHINES:-100000}  # machines in the seeded store (http.sh's default, to share its store)
WARMUP=${WARMUP:-1}           # seconds of wrk on each server before a row's measured runs
STARTS=${STARTS:-5}           # starts measured for the time to first answer
THREADS=2 CONNECTIONS=64
DATA=${DATA:-target/bench-data-$MACHINES-$ALERTS}
TARGET_DIR=${CARGO_TARGET_DIR:-target}

if ! command -v wrk >/dev/null; then
  (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null
fi
for tool in curl python3; do
  command -v "$tool" >/dev/null || { echo "ceiling.sh needs $tool" >&2; exit 1; }
done
# PROFILE=debug reuses the test build, so CI keeps the script from rotting without a release build;
# its figures then mean nothing (nor are they judged). PALISADE_BIN measures another Palisade binary
# (an A/B against an older build) with this workspace's ceiling.
PROFILE=${PROFILE:-release}
case "$PROFILE" in
  release) cargo build --release -q -p palisade -p palisade-ceiling; PROFILE_DIR=release ;;
  debug) cargo build -q -p palisade -p palisade-ceiling; PROFILE_DIR=debug ;;
  *) echo "ceiling.sh: PROFILE is release or debug" >&2; exit 1 ;;
esac
BIN=${PALISADE_BIN:-$TARGET_DIR/$PROFILE_DIR/palisade}
CEILING_BIN=$TARGET_DIR/$PROFILE_DIR/palisade-ceiling

WORK=$(mktemp -d)
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do stop "$pid"; done
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "ceiling.sh: $*" >&2; exit 1; }

# Starts `palisade serve` on a data directory (HTTP only, port 0, rate limits off); sets PALISADE_PID
# and PALISADE_BASE. The first start on a store written by an older version migrates it (minutes
# at 1,000,000 alerts), hence the ten-minute bound.
start_palisade() {
  local data=$1 log=$WORK/palisade-$RANDOM.log
  "$BIN" serve --data "$data" --http 127.0.0.1:0 --https off --no-rate-limits >"$log" 2>"$log.err" &
  PALISADE_PID=$!
  PIDS+=("$PALISADE_PID")
  for _ in $(seq 6000); do
    grep -q 'HTTP ' "$log" && break
    kill -0 "$PALISADE_PID" 2>/dev/null || fail "palisade exited at start: $(tail -3 "$log.err")"
    sleep 0.1
  done
  PALISADE_BASE=$(grep -o 'http://[0-9.:]*' "$log" | head -1) || true
  [ -n "$PALISADE_BASE" ] || fail "palisade did not start within 10 minutes on $data"
}

# Stops a server this script started and forgets its id (so the exit trap never signals a reused id).
# A graceful stop gets 30 s; then SIGKILL.
stop() {
  local pid n keep=()
  kill "$1" 2>/dev/null || true
  for n in $(seq 301); do
    [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || echo Z)" != Z ] || break
    [ "$n" -le 300 ] || kill -9 "$1" 2>/dev/null || true
    sleep 0.1
  done
  wait "$1" 2>/dev/null || true
  for pid in "${PIDS[@]}"; do [ "$pid" = "$1" ] || keep+=("$pid"); done
  PIDS=("${keep[@]}")
}

# Starts the ceiling with a body file; sets CEILING_PID and CEILING_BASE.
start_ceiling() {
  local log=$WORK/ceiling.log
  "$CEILING_BIN" --listen 127.0.0.1:0 --body-file "$1" >"$log" &
  CEILING_PID=$!
  PIDS+=("$CEILING_PID")
  for _ in $(seq 600); do
    grep -q listening "$log" && break
    kill -0 "$CEILING_PID" 2>/dev/null || fail "palisade-ceiling exited at start"
    sleep 0.05
  done
  CEILING_BASE=$(grep -o 'http://[0-9.:]*' "$log" | head -1) || true
  [ -n "$CEILING_BASE" ] || fail "palisade-ceiling did not start"
}

# Palisade's resident memory (MiB), threads and open descriptors.
rss_mib() { awk '/^VmRSS/{printf "%.1f", $2 / 1024}' "/proc/$1/status"; }
threads() { awk '/^Threads/{print $2}' "/proc/$1/status"; }
fds() { find "/proc/$1/fd" -mindepth 1 -maxdepth 1 | wc -l; }
usage() { echo "$(rss_mib "$1") MiB, $(threads "$1") threads, $(fds "$1") descriptors"; }
# The highest RSS, threads and descriptors sampled as each Palisade run ended.
after_load() {
  awk '$1 > r { r = $1 } $3 > t { t = $3 } $5 > d { d = $5 }
    END { printf "%.1f MiB, %d threads, %d descriptors", r, t, d }' "$WORK/usage-$1"
}

# Time from exec to the first 200 from /_palisade/health, STARTS times on an existing store: Python
# blocks on the banner (no busy loop that would take a core from the starting server), reads the
# port from it, then sends the request on a raw socket, retrying until it is answered.
time_to_first_answer() {
  python3 - "$BIN" "$1" "$STARTS" <<'PY'
import re, socket, statistics, subprocess, sys, threading, time
binary, data, starts = sys.argv[1], sys.argv[2], int(sys.argv[3])
took = []
for n in range(starts):
    t0 = time.perf_counter()
    p = subprocess.Popen([binary, "serve", "--data", data, "--http", "127.0.0.1:0", "--https", "off",
                          "--no-rate-limits"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    watchdog = threading.Timer(600, p.kill)
    watchdog.start()
    try:
        port = None
        for line in p.stdout:
            m = re.search(r"HTTP +http://127\.0\.0\.1:(\d+)", line)
            if m:
                port = int(m.group(1))
                break
        if port is None:
            sys.exit(f"palisade did not start on {data}")
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                    s.sendall(b"GET /_palisade/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                    if s.recv(16).startswith(b"HTTP/1.1 200"):
                        break
            except OSError:
                pass
            if time.perf_counter() - t0 > 600:
                sys.exit("no 200 from /_palisade/health")
            time.sleep(0.001)
        took.append((time.perf_counter() - t0) * 1000)
    finally:
        watchdog.cancel()
        p.terminate()
        p.wait(timeout=60)
print(f"median {statistics.median(took):.1f} ms (min {min(took):.1f}, max {max(took):.1f}, {starts} starts)")
PY
}

RESULTS=$WORK/results.tsv
: >"$RESULTS"
ROW=0

# wrk once against a base URL; prints "req/s p50 p99 non2xx errors" (latencies as wrk writes them).
wrk_once() {
  local base=$1 path=$2 duration=$3 script=$4 auth=$5 out=$WORK/wrk.out
  local args=(-t"$THREADS" -c"$CONNECTIONS" -d"${duration}s" --timeout 10s --latency)
  [ -n "$script" ] && args+=(-s "$script")
  [ -n "$auth" ] && args+=(-H "Authorization: Bearer $auth")
  wrk "${args[@]}" "$base$path" >"$out" 2>&1 || fail "wrk failed: $(tail -3 "$out")"
  awk '
    /^Requests\/sec/ { rps = $2 }
    $1 == "50%" { p50 = $2 }
    $1 == "99%" { p99 = $2 }
    /Non-2xx or 3xx responses/ { non2xx = $NF }
    /Socket errors/ { gsub(",", ""); errors = $4 + $6 + $8 + $10 }
    END { printf "%s %s %s %d %d\n", rps, p50, p99, non2xx, errors }' "$out"
}

# One row: check Palisade's status once with curl (keeping its answer as the ceiling's body), then
# ROUNDS alternating runs. Arguments: label, expected status, target ratio ("-" for none), path,
# token ("" for none), wrk script ("" for a GET), curl arguments for the check (method, body).
row() {
  local label=$1 expect=$2 target=$3 path=$4 token=$5 script=$6
  shift 6
  ROW=$((ROW + 1))
  local answer=$WORK/answer-$ROW.json status
  local auth=()
  [ -n "$token" ] && auth=(-H "Authorization: Bearer $token")
  status=$(curl -sS --max-time 60 -o "$answer" -w '%{http_code}' "${auth[@]}" "$@" "$PALISADE_BASE$path" 2>&1) ||
    fail "$label: curl failed for $path: $status"
  [ "$status" = "$expect" ] || fail "$label: HTTP $status (expected $expect) for $path: $(head -c 300 "$answer")"
  if grep -q '"isFailed":true' "$answer"; then fail "$label: the import failed: $(head -c 300 "$answer")"; fi
  start_ceiling "$answer"
  echo "== $label: HTTP $status, $(wc -c <"$answer") bytes"
  if [ "$WARMUP" -gt 0 ]; then
    wrk_once "$PALISADE_BASE" "$path" "$WARMUP" "$script" "$token" >/dev/null
    wrk_once "$CEILING_BASE" "$path" "$WARMUP" "$script" "$token" >/dev/null
  fi
  local round p c
  for round in $(seq "$ROUNDS"); do
    p=$(wrk_once "$PALISADE_BASE" "$path" "$DURATION" "$script" "$token")
    usage "$PALISADE_PID" >>"$WORK/usage-$PALISADE_PID"
    c=$(wrk_once "$CEILING_BASE" "$path" "$DURATION" "$script" "$token")
    echo "   round $round  palisade: $p   ceiling: $c   (req/s p50 p99 non-2xx socket-errors)"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$ROW" "$label" "$expect" "$target" "$(wc -c <"$answer")" "$p" "$c" >>"$RESULTS"
  done
  stop "$CEILING_PID"
}

echo "== $(date -u +%Y-%m-%dT%H:%M:%SZ) ceiling benchmark: wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, $ROUNDS round(s), warm-up ${WARMUP}s"
echo "== machine: $(nproc) cores, $(awk -F': *' '/model name/{print $2; exit}' /proc/cpuinfo), load average $(cut -d' ' -f1-3 /proc/loadavg)"

# --- the demo tenant: a fresh data directory, initialised once so that starts find an existing store.
DEMO=$WORK/demo
"$BIN" credentials --data "$DEMO" >/dev/null
TTFA_DEMO=$(time_to_first_answer "$DEMO")
start_palisade "$DEMO"
DEMO_PID=$PALISADE_PID
curl -sf --max-time 30 -o /dev/null "$PALISADE_BASE/_palisade/health" || fail "no 200 from /_palisade/health"
sleep 1
IDLE_DEMO=$(usage "$DEMO_PID")
TOKEN=$("$BIN" token --data "$DEMO")
CREDENTIALS=$("$BIN" credentials --data "$DEMO" --json)
read -r TENANT CLIENT_ID CLIENT_SECRET < <(python3 -c \
  'import json,sys; c = json.load(sys.stdin); print(c["tenantId"], c["clientId"], c["clientSecret"])' <<<"$CREDENTIALS") || true
[ -n "$CLIENT_SECRET" ] || fail "cannot read the development app's credentials: $CREDENTIALS"
FIRST=$(curl -sSf --max-time 30 -H "Authorization: Bearer $TOKEN" \
  "$PALISADE_BASE/api/machines?\$top=1&\$select=id,computerDnsName") || fail "cannot list machines: $FIRST"
read -r MACHINE NAME < <(python3 -c 'import json,sys; m = json.load(sys.stdin)["value"][0]; print(m["id"], m["computerDnsName"])' <<<"$FIRST") || true
[ -n "$NAME" ] || fail "no machine in the demo tenant"
ZEROS=0000000000000000000000000000000000000000

# The token endpoint: a client-credentials form, the same on every call.
FORM="grant_type=client_credentials&client_id=$CLIENT_ID&client_secret=$CLIENT_SECRET&scope=https%3A%2F%2Fapi.securitycenter.microsoft.com%2F.default"
cat >"$WORK/token.lua" <<EOF
wrk.method = "POST"
wrk.body = "$FORM"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
EOF
# The import: the same 500 SHA-256 indicators on every call, so the first call creates them and
# every later one updates them (distinct values would reach the tenant's cap of 15,000 in 30 calls).
python3 - "$WORK/import.json" <<'PY'
import json, sys
items = [{"indicatorValue": format(0xce1 * 1000 + n, "064x"), "indicatorType": "FileSha256", "action": "Block",
          "title": f"ceiling {n}", "description": "ceiling benchmark", "severity": "Medium"} for n in range(500)]
with open(sys.argv[1], "w") as f:
    json.dump({"Indicators": items}, f)
PY
cat >"$WORK/import.lua" <<EOF
local f = assert(io.open("$WORK/import.json", "rb"))
wrk.body = f:read("*a")
f:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
EOF

row "GET /api/machines/{id} (token)" 200 0.5 "/api/machines/$MACHINE" "$TOKEN" ""
row "GET /api/machines/{0x40} (ResourceNotFound)" 404 0.5 "/api/machines/$ZEROS" "$TOKEN" ""
row "GET /api/machines, no token (Unauthorized)" 401 0.5 "/api/machines" "" ""
row "GET /_palisade/health" 200 0.8 "/_palisade/health" "" ""
row "GET /api/alerts?\$top=10 (demo)" 200 - "/api/alerts?\$top=10" "$TOKEN" ""
row "GET /api/machines?\$filter=computerDnsName eq '…' (1 row)" 200 - \
  "/api/machines?\$filter=computerDnsName%20eq%20'$NAME'" "$TOKEN" ""
row "POST /{tenant}/oauth2/v2.0/token" 200 - "/$TENANT/oauth2/v2.0/token" "" "$WORK/token.lua" \
  -H 'content-type: application/x-www-form-urlencoded' --data "$FORM"
indicators() {
  curl -sSf --max-time 30 -H "Authorization: Bearer $TOKEN" "$PALISADE_BASE/api/indicators/\$count" || fail "cannot count indicators"
}
BEFORE_IMPORT=$(indicators)
row "POST /api/indicators/import, 500 (updates)" 200 - "/api/indicators/import" "$TOKEN" "$WORK/import.lua" \
  -H 'content-type: application/json' --data-binary "@$WORK/import.json"
AFTER_IMPORT=$(indicators)

# Steady under load (issue 17): STEADY_RUNS back-to-back runs of DURATION on the authenticated
# GET; the rate should stay within ±15 % of its mean, p99 within 5x of p50, and threads and
# descriptors should come back to their idle level. CPU per request from /proc/<pid>/stat (all
# threads, user + sys) is printed too: unlike req/s it barely moves with other load on the machine.
STEADY=$WORK/steady.txt
: >"$STEADY"
if [ "$STEADY_RUNS" -gt 0 ]; then
  echo "== steady: $STEADY_RUNS x ${DURATION}s of GET /api/machines/{id}, back to back"
  tick=$(getconf CLK_TCK)
  cpu_s() { awk -v t="$tick" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / t }' "/proc/$1/stat"; }
  for run in $(seq "$STEADY_RUNS"); do
    before=$(cpu_s "$DEMO_PID")
    out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --timeout 10s --latency \
      -H "Authorization: Bearer $TOKEN" "$PALISADE_BASE/api/machines/$MACHINE")
    after=$(cpu_s "$DEMO_PID")
    line=$(awk -v b="$before" -v a="$after" '
      /requests in/ { n = $1 } /^Requests\/sec/ { rps = $2 } $1 == "50%" { p50 = $2 } $1 == "99%" { p99 = $2 }
      END { printf "%s %s %s %.1f", rps, p50, p99, (a - b) / n * 1e6 }' <<<"$out")
    echo "   run $run: $line (req/s p50 p99 CPU-us/request), $(usage "$DEMO_PID")"
    echo "$line" >>"$STEADY"
  done
  sleep 15
  STEADY_IDLE=$(usage "$DEMO_PID")
fi
LOADED_DEMO=$(after_load "$DEMO_PID")
END_DEMO=$(usage "$DEMO_PID")
stop "$DEMO_PID"

# --- the seeded store: $top=100 alerts over ALERTS alerts.
if [ "$ALERTS" -gt 0 ]; then
  if [ ! -f "$DATA/seeded" ]; then
    echo "== seeding $DATA ($MACHINES machines, $ALERTS alerts)"
    rm -rf "$DATA"
    # The seed rate (issue 17: >= 20,000 alert rows/s over the whole run, index builds included),
    # with the CPU time it took, kept beside the store for later runs that reuse it.
    /usr/bin/time -f "seed process: %e s wall, %U s user, %S s sys, %M KiB peak RSS" \
      "$BIN" seed --data "$DATA" --machines "$MACHINES" --alerts "$ALERTS" 2>"$WORK/seed.err" >"$WORK/seed.out" ||
      fail "seed failed: $(tail -3 "$WORK/seed.err")"
    { cat "$WORK/seed.out"; grep -E '^(indexes built|seed process)' "$WORK/seed.err"; } >"$DATA/seeded"
  fi
  SEED_REPORT=$(cat "$DATA/seeded")
  # A first start migrates a store written by an older version: do it before timing starts.
  start_palisade "$DATA"
  stop "$PALISADE_PID"
  TTFA_SEEDED=$(time_to_first_answer "$DATA")
  start_palisade "$DATA"
  SEEDED_PID=$PALISADE_PID
  curl -sf --max-time 30 -o /dev/null "$PALISADE_BASE/_palisade/health" || fail "no 200 from /_palisade/health"
  sleep 1
  IDLE_SEEDED=$(usage "$SEEDED_PID")
  TOKEN=$("$BIN" token --data "$DATA")
  row "GET /api/alerts?\$top=100 ($ALERTS alerts)" 200 0.1 "/api/alerts?\$top=100" "$TOKEN" ""
  LOADED_SEEDED=$(after_load "$SEEDED_PID")
  END_SEEDED=$(usage "$SEEDED_PID")
  stop "$SEEDED_PID"
fi

echo
python3 - "$RESULTS" <<'PY'
import collections, statistics, sys
def ms(text):
    for unit, scale in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * scale
    return float("nan")
rows = collections.OrderedDict()
for line in open(sys.argv[1]):
    n, label, status, target, size, p, c = line.rstrip("\n").split("\t")
    rows.setdefault(n, (label, status, target, size, []))[4].append((p.split(), c.split()))
print("| request | status | body B | Palisade req/s | ceiling req/s | ratio | target | met | Palisade p50 | Palisade p99 |")
print("|---|---|---|---|---|---|---|---|---|---|")
for label, status, target, size, runs in rows.values():
    p_rps = statistics.mean(float(p[0]) for p, _ in runs)
    c_rps = statistics.mean(float(c[0]) for _, c in runs)
    p50 = statistics.median(ms(p[1]) for p, _ in runs)
    p99 = max(ms(p[2]) for p, _ in runs)
    ratio = p_rps / c_rps if c_rps else float("nan")
    met = "-" if target == "-" else ("yes" if ratio >= float(target) else "no")
    shown = "-" if target == "-" else f"≥{target}×"
    print(f"| {label} | {status} | {int(size):,} | {p_rps:,.0f} | {c_rps:,.0f} | {ratio:.3f}× | {shown} | {met} "
          f"| {p50:.2f} ms | {p99:.2f} ms |")
print()
print("req/s: mean over rounds; p50: median over rounds; p99: worst round. Targets from issue 17, not enforced.")
PY
echo
echo "Palisade, demo tenant:    idle: $IDLE_DEMO"
echo "  after the load (highest as a run ended): $LOADED_DEMO"
echo "  at the end (a ceiling run after its last run): $END_DEMO"
echo "  time to first answer on an existing store: $TTFA_DEMO"
echo "  indicators: $BEFORE_IMPORT before the import row, $AFTER_IMPORT after (the first call created 500, every later one updated them)"
if [ "$ALERTS" -gt 0 ]; then
  echo "Seeding ($DATA; the rate of the run that made the store):"
  echo "$SEED_REPORT" | sed 's/^/  /'
  echo "Palisade, $ALERTS alerts: idle: $IDLE_SEEDED"
  echo "  after the load (highest as a run ended): $LOADED_SEEDED"
  echo "  at the end (a ceiling run after its last run): $END_SEEDED"
  echo "  time to first answer on an existing store: $TTFA_SEEDED"
fi
if [ -s "$STEADY" ]; then
  python3 - "$STEADY" <<'PY'
import statistics, sys
def ms(t):
    for unit, scale in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if t.endswith(unit):
            return float(t[: -len(unit)]) * scale
    return float("nan")
runs = [l.split() for l in open(sys.argv[1]) if l.strip()]
rates = [float(r[0]) for r in runs]
mean = statistics.mean(rates)
spread = max(abs(r - mean) / mean for r in rates) * 100
worst = max(ms(r[2]) / ms(r[1]) for r in runs)
cpu = [float(r[3]) for r in runs]
print(f"Steady ({len(runs)} runs): mean {mean:,.0f} req/s, farthest run {spread:.1f} % from it (target ±15 %), "
      f"worst p99/p50 {worst:.1f}x (target ≤ 5x), CPU {min(cpu):.1f}–{max(cpu):.1f} µs/request")
PY
  echo "  15 s after the last run: $STEADY_IDLE (idle before the rows: $IDLE_DEMO)"
fi
echo "Targets (issue 17): idle RSS < 15 MiB, RSS after the load < 64 MiB, first answer < 15 ms."
echo "== load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
