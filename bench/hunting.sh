#!/usr/bin/env bash
# Advanced hunting latency (issue 13): seeds EVENTS DeviceProcessEvents rows (with the other event
# tables in proportion: half as many network events, a fifth file events, ...) over MACHINES
# machines, starts the release server, runs each query RUNS times over one keep-alive connection
# and prints p50/p95 wall-clock latency and the server's CPU time per query (from
# /proc/<pid>/stat: a figure other processes on the machine do not inflate), beside the targets
# (reported, never enforced).
#
#   bench/hunting.sh                  # EVENTS=1000000 MACHINES=1000 RUNS=50
#   EVENTS=100000 RUNS=20 bench/hunting.sh
#   PROFILE=debug EVENTS=20000 RUNS=5 bench/hunting.sh   # smoke run on the debug build
#
# The seeded store is kept in target/bench-data-hunting-$MACHINES-$EVENTS and reused (seeding
# 1,000,000 process events writes about 2 million rows). Its events span the 30 days before the
# seeding, on the emulator's clock: a store older than a few days gets fresh times by being
# seeded again (delete the directory).
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS=${EVENTS:-1000000}
MACHINES=${MACHINES:-1000}
RUNS=${RUNS:-50}
PROFILE=${PROFILE:-release}
TARGET_DIR=${CARGO_TARGET_DIR:-target}
DATA=${DATA:-target/bench-data-hunting-$MACHINES-$EVENTS}

if [ "$PROFILE" = release ]; then
  cargo build --release -q -p palisade
else
  cargo build -q -p palisade
fi
BIN=$TARGET_DIR/$PROFILE/palisade

if [ ! -f "$DATA/seeded" ]; then
  rm -rf "$DATA"
  "$BIN" seed --data "$DATA" --machines "$MACHINES" --events "$EVENTS" --seed 1
  touch "$DATA/seeded"
fi

LOG=$(mktemp)
"$BIN" serve --data "$DATA" --http 127.0.0.1:0 --https off --no-rate-limits >"$LOG" 2>/dev/null &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -f "$LOG"' EXIT
for _ in $(seq 600); do grep -q 'HTTP ' "$LOG" && break; sleep 0.1; done
BASE=$(grep -o 'http://[0-9.:]*' "$LOG" | head -1)
[ -n "$BASE" ] || { echo "the server did not start within a minute" >&2; exit 1; }
TOKEN=$("$BIN" token --data "$DATA")

python3 - "$BASE" "$TOKEN" "$SERVER" "$RUNS" <<'PY'
import http.client, json, os, statistics, sys, time, urllib.parse

base, token, pid, runs = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
url = urllib.parse.urlparse(base)
conn = http.client.HTTPConnection(url.hostname, url.port)
ticks = os.sysconf("SC_CLK_TCK")

def cpu_seconds():
    # utime + stime of the whole server process (all threads), in clock ticks.
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / ticks

def hunt(query):
    body = json.dumps({"Query": query})
    conn.request("POST", "/api/advancedhunting/run", body,
                 {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    response = conn.getresponse()
    data = response.read()
    if response.status != 200:
        sys.exit(f"HTTP {response.status} for {query}: {data[:300]!r}")
    return json.loads(data)

total = hunt("DeviceProcessEvents | count")["Results"][0]["Count"]
device = hunt("DeviceProcessEvents | summarize n = count() by DeviceName | top 1 by n")["Results"][0]["DeviceName"]
print(f"DeviceProcessEvents rows visible: {total:,}; selective query's device: {device}")

queries = [
    ("summarize count() by DeviceName", 100,
     "DeviceProcessEvents | summarize count() by DeviceName"),
    ("selective where ... | take 100 (one device's events)", 5,
     f"DeviceProcessEvents | where DeviceName == '{device}' | take 100"),
    ("selective where ... | take 100 (one device, a tenth of its events match)", 5,
     f"DeviceProcessEvents | where DeviceName == '{device}' and FileName =~ 'cmd.exe' | take 100"),
    ("join process and network events on DeviceId, last hour", 500,
     "DeviceProcessEvents | where Timestamp > ago(1h) | project DeviceId, DeviceName, FileName, ProcessCommandLine"
     " | join kind=inner (DeviceNetworkEvents | where Timestamp > ago(1h)"
     " | project DeviceId, RemoteIP, RemoteUrl, NetTime = Timestamp) on DeviceId"
     " | summarize Connections = count(), Urls = dcount(RemoteUrl) by DeviceName, FileName"),
]
for label, target, query in queries:
    rows = len(hunt(query)["Results"])  # warm-up, and the answer's size
    latencies = []
    cpu_before = cpu_seconds()
    for _ in range(runs):
        started = time.perf_counter()
        hunt(query)
        latencies.append((time.perf_counter() - started) * 1000)
    cpu_ms = (cpu_seconds() - cpu_before) * 1000 / runs
    latencies.sort()
    p50 = statistics.median(latencies)
    p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
    verdict = "meets" if p50 < target else "MISSES"
    print(f"{label}: {rows} result rows; p50 {p50:.1f} ms, p95 {p95:.1f} ms, "
          f"server CPU {cpu_ms:.1f} ms/query over {runs} runs; target p50 < {target} ms: {verdict}")
PY
echo "load while measuring: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15-minute load averages, $(nproc) cores)"
