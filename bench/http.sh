#!/usr/bin/env bash
# End-to-end HTTP benchmark: seeds a tenant, starts a release server, and measures latency of list
# queries with wrk (installed from Debian's packages if missing). Loopback only; bounded in time.
#
#   bench/http.sh                 # 100,000 machines, 1,000,000 alerts, 10 s per scenario, 4 connections
#   MACHINES=20000 ALERTS=0 DURATION=5 bench/http.sh
set -euo pipefail
cd "$(dirname "$0")/.."

MACHINES=${MACHINES:-100000}
ALERTS=${ALERTS:-1000000}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-4}
DATA=${DATA:-target/bench-data-$MACHINES-$ALERTS}

if ! command -v wrk >/dev/null; then
  (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null
fi
cargo build --release -q -p palisade
BIN=target/release/palisade

if [ ! -f "$DATA/seeded" ]; then
  rm -rf "$DATA"
  if [ "$ALERTS" -gt 0 ]; then
    "$BIN" seed --data "$DATA" --machines "$MACHINES" --alerts "$ALERTS"
  else
    "$BIN" seed --data "$DATA" --machines "$MACHINES"
  fi
  touch "$DATA/seeded"
fi

LOG=$(mktemp)
"$BIN" serve --data "$DATA" --http 127.0.0.1:0 --https off --no-rate-limits >"$LOG" 2>/dev/null &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; rm -f "$LOG"' EXIT
# The first start on a store written by an older version migrates it (minutes at 1M alerts).
for _ in $(seq 6000); do grep -q 'HTTP ' "$LOG" && break; sleep 0.1; done
BASE=$(grep -o 'http://[0-9.:]*' "$LOG" | head -1)
[ -n "$BASE" ] || { echo "the server did not start within 10 minutes" >&2; exit 1; }
TOKEN=$("$BIN" token --data "$DATA")

# A recent lastSeen bound that a few percent of machines pass, and one machine's name.
CUTOFF=$(date -u -d '-2 hours' +%Y-%m-%dT%H:%M:%SZ)
NAME=$(curl -s -H "Authorization: Bearer $TOKEN" "$BASE/api/machines?\$top=1&\$skip=$((MACHINES / 2))&\$select=computerDnsName" \
  | python3 -c 'import json,sys; print(json.load(sys.stdin)["value"][0]["computerDnsName"])')

run() {
  local label=$1 path=$2
  local status
  status=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE$path")
  [ "$status" = 200 ] || { echo "$label: HTTP $status for $path" >&2; exit 1; }
  echo "== $label: GET $path"
  wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -H "Authorization: Bearer $TOKEN" "$BASE$path" \
    | grep -E 'Requests/sec|^ +50%|^ +99%|Latency  '
}

run "indexed equality, one row" "/api/machines?\$filter=computerDnsName+eq+'$NAME'"
run "indexed range, \$top=100" "/api/machines?\$filter=lastSeen+ge+$CUTOFF&\$top=100"
run "enum filter, \$top=100" "/api/machines?\$filter=healthStatus+eq+'Inactive'&\$top=100"
run "deep page, \$skip=90% \$top=100" "/api/machines?\$skip=$((MACHINES * 9 / 10))&\$top=100"
run "\$count with filter" "/api/machines/\$count?\$filter=riskScore+eq+'High'"
run "get machine by id-or-name" "/api/machines/$NAME"

if [ "$ALERTS" -gt 0 ]; then
  ALERT=$(curl -s -H "Authorization: Bearer $TOKEN" "$BASE/api/alerts?\$top=1&\$skip=$((ALERTS / 2))&\$select=id" \
    | python3 -c 'import json,sys; print(json.load(sys.stdin)["value"][0]["id"])')
  run "alerts: indexed range, \$top=100" "/api/alerts?\$filter=lastUpdateTime+ge+$CUTOFF&\$top=100"
  run "alerts: SIEM poll with evidence" "/api/alerts?\$filter=lastUpdateTime+ge+$CUTOFF&\$expand=evidence&\$top=100"
  run "alerts: two enum equalities, \$top=100" "/api/alerts?\$filter=status+eq+'New'+and+severity+eq+'High'&\$top=100"
  run "alerts: deep page, \$skip=90% \$top=100" "/api/alerts?\$skip=$((ALERTS * 9 / 10))&\$top=100"
  run "alerts: \$count with filter" "/api/alerts/\$count?\$filter=status+eq+'New'"
  run "alerts: get by id" "/api/alerts/$ALERT"
fi

echo "== store on disk: $(du -sh "$DATA" | cut -f1) ($DATA)"
echo "== server RSS: $(($(awk '/VmRSS/{print $2}' /proc/$SERVER/status) / 1024)) MiB"
