#!/usr/bin/env bash
# SQLite against PostgreSQL, through HTTP with a release build: requests/s of one process on
# SQLite, one on PostgreSQL and two on one PostgreSQL database, for an authenticated GET, an OData
# page of 100 alerts and an indicator import; then the OData list queries of bench/http.sh over a
# seeded store (ALERTS alerts, default 1,000,000, moved from SQLite into PostgreSQL with
# `palisade migrate`) on both stores. PostgreSQL is a throwaway cluster of the script's own
# (initdb from /usr/lib/postgresql/*/bin, a Unix socket in a temporary directory), deleted at exit.
#
#   bench/postgres.sh                                   # 1,000,000 alerts: long (seeding, migrating)
#   ALERTS=20000 MACHINES=2000 DURATION=3 bench/postgres.sh   # short
set -euo pipefail
cd "$(dirname "$0")/.."

MACHINES=${MACHINES:-100000}
ALERTS=${ALERTS:-1000000}
DURATION=${DURATION:-10}
CONNECTIONS=${CONNECTIONS:-4}
IMPORT_CALLS=${IMPORT_CALLS:-20}
SEEDED=${SEEDED:-target/bench-data-$MACHINES-$ALERTS}

command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk) >/dev/null
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
[ -x "$PGBIN/initdb" ] || { echo "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin" >&2; exit 1; }
cargo build --release -q -p palisade
BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/palisade

WORK=$(mktemp -d)
# Server pids go to a file: `serve` runs inside $(...), a subshell whose variables are lost.
PIDFILE=$WORK/pids
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
stop_servers() {
  [ -f "$PIDFILE" ] && while read -r pid; do kill "$pid" 2>/dev/null || true; done <"$PIDFILE"
  rm -f "$PIDFILE"
}
cleanup() {
  stop_servers
  as_pg "$PGBIN/pg_ctl" -D "$WORK/pg/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/pg"
[ "$(id -u)" = 0 ] && chown postgres: "$WORK" "$WORK/pg" && chmod 755 "$WORK"
as_pg "$PGBIN/initdb" -D "$WORK/pg/data" -A trust -U postgres -E UTF8 --locale=C >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/log" -w start \
  -o "-c listen_addresses= -k $WORK/pg -p 5432 -c max_connections=200 -c shared_buffers=256MB" >/dev/null
SOCKET=$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$WORK/pg")
pg_url() { echo "postgres://postgres@$SOCKET:5432/$1"; }
createdb() { "$PGBIN/psql" -h "$WORK/pg" -U postgres -qc "CREATE DATABASE $1"; }

# Starts `palisade serve` on a free port; prints its base URL. Arguments: data dir, extra flags.
serve() {
  local data=$1 log
  shift
  log=$(mktemp -p "$WORK")
  "$BIN" serve --data "$data" --http 127.0.0.1:0 --https off --no-rate-limits "$@" >"$log" 2>/dev/null &
  echo $! >>"$PIDFILE"
  for _ in $(seq 6000); do grep -q 'HTTP ' "$log" && break; sleep 0.1; done
  grep -o 'http://[0-9.:]*' "$log" | head -1
}

# wrk on one or more base URLs at once (CONNECTIONS each); prints the summed requests/s.
rate() {
  local path=$1 token=$2
  shift 2
  local outs=() base
  for base in "$@"; do
    local out
    out=$(mktemp -p "$WORK")
    outs+=("$out")
    wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -H "Authorization: Bearer $token" "$base$path" >"$out" &
  done
  wait
  python3 - "${outs[@]}" <<'PY'
import re, sys
total, p50s = 0.0, []
for name in sys.argv[1:]:
    text = open(name).read()
    total += float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    m = re.search(r"^\s+50%\s+(\S+)", text, re.M)
    p50s.append(m.group(1) if m else "?")
bad = sum(int(m.group(1)) for n in sys.argv[1:] for m in [re.search(r"Non-2xx or 3xx responses: (\d+)", open(n).read())] if m)
print(f"{total:,.0f} req/s (p50 {' / '.join(p50s)}){'  NON-2xx: ' + str(bad) if bad else ''}")
PY
}

# Sequential indicator imports of 500, spread over the given base URLs in turn; prints calls/s.
imports() {
  local token=$1
  shift
  local bases=("$@") start end c
  python3 - "$WORK/bodies" "$IMPORT_CALLS" <<'PY'
import json, os, sys, uuid
out, calls = sys.argv[1], int(sys.argv[2])
os.makedirs(out, exist_ok=True)
salt = uuid.uuid4().hex
for c in range(calls):
    items = [{"indicatorValue": format(hash((salt, c, n)) & (2**256 - 1), "064x"), "indicatorType": "FileSha256",
              "action": "Block", "title": f"bench {c}/{n}", "severity": "Medium"} for n in range(500)]
    json.dump({"Indicators": items}, open(f"{out}/{c}.json", "w"))
PY
  start=$(date +%s.%N)
  for c in $(seq 0 $((IMPORT_CALLS - 1))); do
    local base=${bases[$((c % ${#bases[@]}))]}
    curl -sf -o /dev/null -H "Authorization: Bearer $token" -H 'content-type: application/json' \
      --data-binary "@$WORK/bodies/$c.json" "$base/api/indicators/import" || { echo "import call $c failed" >&2; exit 1; }
  done
  end=$(date +%s.%N)
  python3 -c "s = $end - $start; print(f'{$IMPORT_CALLS / s:.1f} calls/s ({$IMPORT_CALLS * 500 / s:,.0f} indicators/s)')"
}

echo "== requests/s on the demo tenant (${DURATION}s per figure, $CONNECTIONS connections per process)"
createdb small
SQLITE=$(serve "$WORK/sqlite")
PG1=$(serve "$WORK/pg-a" --store "$(pg_url small)")
PG2=$(serve "$WORK/pg-b" --store "$(pg_url small)")
TOKEN_SQLITE=$("$BIN" token --data "$WORK/sqlite")
TOKEN_PG=$("$BIN" token --data "$WORK/pg-a" --store "$(pg_url small)")
MACHINE=$(curl -s -H "Authorization: Bearer $TOKEN_SQLITE" "$SQLITE/api/machines?\$top=1" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["value"][0]["id"])')
MACHINE_PG=$(curl -s -H "Authorization: Bearer $TOKEN_PG" "$PG1/api/machines?\$top=1" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["value"][0]["id"])')
printf '%-34s %-40s %-40s %s\n' "" "SQLite, 1 process" "PostgreSQL, 1 process" "PostgreSQL, 2 processes"
printf '%-34s %-40s %-40s %s\n' "GET /api/machines/{id}" \
  "$(rate "/api/machines/$MACHINE" "$TOKEN_SQLITE" "$SQLITE")" \
  "$(rate "/api/machines/$MACHINE_PG" "$TOKEN_PG" "$PG1")" \
  "$(rate "/api/machines/$MACHINE_PG" "$TOKEN_PG" "$PG1" "$PG2")"
printf '%-34s %-40s %-40s %s\n' "GET /api/alerts?\$top=100" \
  "$(rate "/api/alerts?\$top=100" "$TOKEN_SQLITE" "$SQLITE")" \
  "$(rate "/api/alerts?\$top=100" "$TOKEN_PG" "$PG1")" \
  "$(rate "/api/alerts?\$top=100" "$TOKEN_PG" "$PG1" "$PG2")"
printf '%-34s %-40s %-40s %s\n' "indicator import (500 per call)" \
  "$(imports "$TOKEN_SQLITE" "$SQLITE")" "$(imports "$TOKEN_PG" "$PG1")" "$(imports "$TOKEN_PG" "$PG1" "$PG2")"
stop_servers

echo "== OData list queries over $MACHINES machines and $ALERTS alerts"
if [ ! -f "$SEEDED/seeded" ]; then
  rm -rf "$SEEDED"
  "$BIN" seed --data "$SEEDED" --machines "$MACHINES" --alerts "$ALERTS"
  touch "$SEEDED/seeded"
fi
createdb seeded
START=$(date +%s)
"$BIN" migrate --from "sqlite:$SEEDED" --to "$(pg_url seeded)"
echo "migrate: $(($(date +%s) - START)) s"
SQLITE=$(serve "$SEEDED")
PG=$(serve "$WORK/pg-seeded" --store "$(pg_url seeded)")
TOKEN=$("$BIN" token --data "$SEEDED")
CUTOFF=$(date -u -d '-2 hours' +%Y-%m-%dT%H:%M:%SZ)
NAME=$(curl -s -H "Authorization: Bearer $TOKEN" "$SQLITE/api/machines?\$top=1&\$skip=$((MACHINES / 2))&\$select=computerDnsName" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["value"][0]["computerDnsName"])')
printf '%-48s %-36s %s\n' "" "SQLite" "PostgreSQL"
query() {
  local label=$1 path=$2 a b
  a=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$SQLITE$path")
  b=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$PG$path")
  [ "$a$b" = 200200 ] || { echo "$label: HTTP $a / $b for $path" >&2; exit 1; }
  printf '%-48s %-36s %s\n' "$label" "$(rate "$path" "$TOKEN" "$SQLITE")" "$(rate "$path" "$TOKEN" "$PG")"
}
query "machines computerDnsName eq (one row)" "/api/machines?\$filter=computerDnsName+eq+'$NAME'"
query "machines lastSeen ge, \$top=100" "/api/machines?\$filter=lastSeen+ge+$CUTOFF&\$top=100"
query "alerts lastUpdateTime ge, \$top=100" "/api/alerts?\$filter=lastUpdateTime+ge+$CUTOFF&\$top=100"
query "alerts status and severity eq, \$top=100" "/api/alerts?\$filter=status+eq+'New'+and+severity+eq+'High'&\$top=100"
query "alerts \$skip=90%, \$top=100" "/api/alerts?\$skip=$((ALERTS * 9 / 10))&\$top=100"
query "alerts \$count status eq 'New'" "/api/alerts/\$count?\$filter=status+eq+'New'"
echo "== PostgreSQL database size: $("$PGBIN/psql" -h "$WORK/pg" -U postgres -Atc "SELECT pg_size_pretty(pg_database_size('seeded'))")"
