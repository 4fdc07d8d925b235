#!/usr/bin/env bash
# Indicator import throughput through HTTP: a release server on a fresh data directory, then
# `POST /api/indicators/import` with 500 distinct SHA-256 indicators per call, sequentially, until
# INDICATORS have been imported (default 14,500: under the tenant's cap of 15,000). Prints calls/s
# and indicators/s. Loopback only.
#
#   bench/import.sh
#   INDICATORS=5000 bench/import.sh
#
# The import API is rate limited to 30 calls/minute, as in the real service: the server runs with
# --no-rate-limits so the throughput measured is the emulator's (override with SERVE_ARGS).
set -euo pipefail
cd "$(dirname "$0")/.."

INDICATORS=${INDICATORS:-14500}
BATCH=500
SERVE_ARGS=${SERVE_ARGS:---no-rate-limits}
CALLS=$(((INDICATORS + BATCH - 1) / BATCH))

cargo build --release -q -p palisade
BIN=target/release/palisade
DATA=$(mktemp -d)
BODIES=$(mktemp -d)
LOG=$(mktemp)

# shellcheck disable=SC2086 # SERVE_ARGS is a list of arguments
"$BIN" serve --data "$DATA" --http 127.0.0.1:0 --https off $SERVE_ARGS >"$LOG" 2>/dev/null &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$DATA" "$BODIES" "$LOG"' EXIT
for _ in $(seq 200); do grep -q 'HTTP ' "$LOG" && break; sleep 0.05; done
BASE=$(grep -o 'http://[0-9.:]*' "$LOG" | head -1)
TOKEN=$("$BIN" token --data "$DATA")

# Bodies are written before the clock starts, so only the server's work is timed.
python3 - "$BODIES" "$CALLS" "$BATCH" <<'PY'
import json, sys
out, calls, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for c in range(calls):
    items = [{
        "indicatorValue": format(c * batch + n + 1, "064x"),
        "indicatorType": "FileSha256",
        "action": "Block",
        "title": f"bench {c}/{n}",
        "description": "import benchmark",
        "severity": "Medium",
    } for n in range(batch)]
    with open(f"{out}/{c}.json", "w") as f:
        json.dump({"Indicators": items}, f)
PY

START=$(date +%s.%N)
for c in $(seq 0 $((CALLS - 1))); do
  status=$(curl -s -o "$BODIES/answer.json" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
    -H 'content-type: application/json' --data-binary "@$BODIES/$c.json" "$BASE/api/indicators/import")
  if [ "$status" != 200 ] || grep -q '"isFailed":true' "$BODIES/answer.json"; then
    echo "call $c: HTTP $status: $(head -c 300 "$BODIES/answer.json")" >&2
    exit 1
  fi
done
END=$(date +%s.%N)

COUNT=$(curl -s -H "Authorization: Bearer $TOKEN" "$BASE/api/indicators/\$count")
python3 -c "
s = $END - $START
print(f'== {$CALLS} import calls of $BATCH in {s:.2f} s: {$CALLS / s:.1f} calls/s, {$CALLS * $BATCH / s:,.0f} indicators/s')
print(f'== active indicators now: $COUNT')
"
echo "== server RSS: $(($(awk '/VmRSS/{print $2}' /proc/$SERVER/status) / 1024)) MiB"
