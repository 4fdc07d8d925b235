#!/usr/bin/env bash
# Schema-driven API fuzzing: schemathesis (installed from PyPI into a venv if missing) generates
# requests from the server's own `/openapi.json` and checks the answers. The server runs on
# 127.0.0.1 on a temporary data directory with rate limits off; the token is the dev app's.
#
#   bench/schemathesis.sh                          # the full run: every check below, 50 examples
#   CHECKS=not_a_server_error MAX_EXAMPLES=5 MAX_TIME=60 bench/schemathesis.sh   # the CI stage
#   BIN=target/debug/palisade bench/schemathesis.sh
#
# Prints the number of generated requests and the failures per check (schemathesis's summary),
# and exits non-zero when any request got a 5xx, or when a selected check failed.
set -euo pipefail
cd "$(dirname "$0")/.."

# Full: no 5xx, and every response conforming to the document (status, content type, body).
CHECKS=${CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance}
MAX_EXAMPLES=${MAX_EXAMPLES:-50}
MAX_TIME=${MAX_TIME:-600}
PHASES=${PHASES:-examples,coverage,fuzzing}
TARGET=${CARGO_TARGET_DIR:-target}
VENV=${VENV:-$TARGET/schemathesis-venv}
# Pinned: its check names and command line are part of this script.
VERSION=4.32.5

if [ ! -x "$VENV/bin/schemathesis" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q "schemathesis==$VERSION"
fi
if [ -z "${BIN:-}" ]; then
  cargo build -q --locked -p palisade
  BIN=$TARGET/debug/palisade
fi

DATA=$(mktemp -d)
OUT=$DATA/schemathesis.out
"$BIN" serve --data "$DATA/store" --http 127.0.0.1:0 --https off --no-rate-limits >"$DATA/serve.log" 2>/dev/null &
SERVER=$!
cleanup() {
  kill "$SERVER" 2>/dev/null || true
  wait "$SERVER" 2>/dev/null || true
  rm -rf "$DATA"
}
trap cleanup EXIT
for _ in $(seq 600); do grep -q 'HTTP ' "$DATA/serve.log" && break; sleep 0.1; done
BASE=$(grep -o 'http://[0-9.:]*' "$DATA/serve.log" | head -1)
[ -n "$BASE" ] || { echo "the server did not start within 60 s" >&2; exit 1; }
TOKEN=$("$BIN" token --data "$DATA/store")

echo "== schemathesis $VERSION against $BASE/openapi.json: checks $CHECKS, $MAX_EXAMPLES examples, phases $PHASES, at most ${MAX_TIME}s"
# Resetting the store or deleting tenants would revoke the token halfway through the run; those
# operations are exercised by the test suite instead; /_palisade/debug/panic answers 500 by design.
set +e
timeout --signal=INT --kill-after=30 "$((MAX_TIME + 60))" \
  "$VENV/bin/schemathesis" --no-color run "$BASE/openapi.json" \
  --checks "$CHECKS" \
  --max-examples "$MAX_EXAMPLES" \
  --max-time "$MAX_TIME" \
  --phases "$PHASES" \
  --workers 1 \
  --request-timeout 30 \
  --seed "${SEED:-1}" \
  --exclude-path-regex '^/_palisade/(reset|tenants|debug/panic)' \
  -H "Authorization: Bearer $TOKEN" >"$OUT" 2>&1
STATUS=$?
set -e
# The summary holds the request count and the failures per check; failures' details come first.
if [ "${VERBOSE:-0}" = 1 ]; then cat "$OUT"; else sed -n '/SUMMARY/,$p' "$OUT"; fi
if grep -qE 'Server error' "$OUT"; then
  echo "FAILED: at least one 5xx (details: VERBOSE=1)"
  grep -E '^_+ (GET|POST|PUT|PATCH|DELETE|OPTIONS|HEAD) ' "$OUT" | sort -u | head -20
  exit 1
fi
exit "$STATUS"
