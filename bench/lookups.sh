#!/usr/bin/env bash
# Lookup latency over HTTP on the store bench/http.sh seeded (run that first): the most observed
# file, IP address and domain of the tenant (the worst fan-out) and a typical one, with wrk.
#
#   bench/lookups.sh              # MACHINES=100000 ALERTS=1000000, 5 s per query
set -euo pipefail
cd "$(dirname "$0")/.."

MACHINES=${MACHINES:-100000}
ALERTS=${ALERTS:-1000000}
DURATION=${DURATION:-5}
DATA=${DATA:-target/bench-data-$MACHINES-$ALERTS}
[ -f "$DATA/seeded" ] || { echo "no seeded store in $DATA: run bench/http.sh first" >&2; exit 1; }
cargo build --release -q -p palisade
BIN=target/release/palisade

# The keys, read straight from the store: the commonest of each kind, and the median one.
read -r TOP_FILE MID_FILE TOP_IP TOP_DOMAIN < <(python3 - "$DATA/palisade.db" <<'PY'
import sqlite3, sys
db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
def ranked(kind):
    return [k for (k,) in db.execute(
        "SELECT key FROM observations WHERE kind = ? GROUP BY key ORDER BY count(*) DESC", (kind,))]
files = ranked("sha1")
print(files[0], files[len(files) // 2], ranked("ip")[0], ranked("domain")[0])
PY
)

LOG=$(mktemp)
"$BIN" serve --data "$DATA" --http 127.0.0.1:0 --https off --no-rate-limits >"$LOG" 2>/dev/null &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -f "$LOG"' EXIT
for _ in $(seq 6000); do grep -q 'HTTP ' "$LOG" && break; sleep 0.1; done
BASE=$(grep -o 'http://[0-9.:]*' "$LOG" | head -1)
[ -n "$BASE" ] || { echo "the server did not start within 10 minutes" >&2; exit 1; }
TOKEN=$("$BIN" token --data "$DATA")

run() {
  local label=$1 path=$2 status related
  status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE$path")
  [ "$status" = 200 ] || { echo "$label: HTTP $status for $path" >&2; exit 1; }
  echo "== $label: GET $path"
  wrk -t2 -c4 -d"${DURATION}s" --latency -H "Authorization: Bearer $TOKEN" "$BASE$path" \
    | grep -E 'Requests/sec|^ +50%|^ +99%'
}

echo "== commonest file has $(curl -s -H "Authorization: Bearer $TOKEN" "$BASE/api/files/$TOP_FILE/stats" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["organizationPrevalence"])') machines"
run "commonest file" "/api/files/$TOP_FILE"
run "commonest file stats" "/api/files/$TOP_FILE/stats"
run "commonest file alerts, first page" "/api/files/$TOP_FILE/alerts?\$top=100"
run "commonest file alerts, filtered" "/api/files/$TOP_FILE/alerts?\$filter=severity+eq+'High'&\$top=100"
run "commonest file machines" "/api/files/$TOP_FILE/machines?\$top=100"
run "median file alerts" "/api/files/$MID_FILE/alerts"
run "commonest IP stats" "/api/ips/$TOP_IP/stats"
run "commonest IP alerts" "/api/ips/$TOP_IP/alerts?\$top=100"
run "commonest domain stats" "/api/domains/$TOP_DOMAIN/stats"
run "commonest domain machines" "/api/domains/$TOP_DOMAIN/machines"
