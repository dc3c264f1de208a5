#!/usr/bin/env bash
# One command to see stockwatch work on a fresh Debian 12 machine: installs what is
# missing, builds, starts the server on the embedded default (data in ./data), loads the
# sample store files and keeps serving until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTOCKWATCH_BUILD_TESTS=OFF >/dev/null
cmake --build build/release --target stockwatch

export STOCKWATCH_SERVER="http://127.0.0.1:${PORT:-8080}"
# A fixed token for this demo unless you bring your own; `serve` stores only its hash.
export STOCKWATCH_ADMIN_TOKEN="${STOCKWATCH_ADMIN_TOKEN:-sw_demo_$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')}"
mkdir -p data
if [ -f data/stockwatch.db ] && [ -z "${STOCKWATCH_TOKEN:-}" ] && [ -f data/.demo-token ]; then
  STOCKWATCH_ADMIN_TOKEN="$(cat data/.demo-token)"
fi
export STOCKWATCH_TOKEN="${STOCKWATCH_TOKEN:-$STOCKWATCH_ADMIN_TOKEN}"
# The dashboard's first user, `admin`: its password is made here (and kept, owner-only, in
# data/.demo-password) so it can be shown below; `serve` uses it only on the first start.
if [ -f data/.demo-password ]; then
  STOCKWATCH_ADMIN_PASSWORD="$(cat data/.demo-password)"
elif [ ! -f data/stockwatch.db ]; then
  STOCKWATCH_ADMIN_PASSWORD="${STOCKWATCH_ADMIN_PASSWORD:-demo-$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')}"
  (umask 077 && echo "$STOCKWATCH_ADMIN_PASSWORD" > data/.demo-password)
fi
export STOCKWATCH_ADMIN_PASSWORD="${STOCKWATCH_ADMIN_PASSWORD:-}"

build/release/src/stockwatch serve --data data --listen "127.0.0.1:${PORT:-8080}" "$@" &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null' EXIT INT TERM
for _ in $(seq 100); do
  curl -fsS "$STOCKWATCH_SERVER/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
[ -f data/.demo-token ] || (umask 077 && echo "$STOCKWATCH_TOKEN" > data/.demo-token)

build/release/src/stockwatch upload samples/inventory-*.csv
echo
build/release/src/stockwatch stores
echo
build/release/src/stockwatch alerts
cat <<MSG

stockwatch is running at $STOCKWATCH_SERVER (data in ./data).
Dashboard: open $STOCKWATCH_SERVER/ and log in as admin${STOCKWATCH_ADMIN_PASSWORD:+ with the password $STOCKWATCH_ADMIN_PASSWORD}
(kept in data/.demo-password; change it on the dashboard or with POST /api/v1/me/password).
Try:
  export STOCKWATCH_SERVER=$STOCKWATCH_SERVER STOCKWATCH_TOKEN=$STOCKWATCH_TOKEN
  build/release/src/stockwatch inventory --store Berlin
  build/release/src/stockwatch subscribe --topic NoStock https://hooks.example/x
  curl -H "Authorization: Bearer \$STOCKWATCH_TOKEN" $STOCKWATCH_SERVER/api/v1/stores
Press Ctrl-C to stop.
MSG
wait $server
