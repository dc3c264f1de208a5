#!/usr/bin/env bash
# The inventory API under load (issue 5, "Performance"): a page of 100 rows from a table of
# 1,000,000 items, with wrk (2 threads, 64 connections) on loopback, beside nginx serving a
# static file of the same size in the same run.
#
#   bench/inventory_api.sh [--bin build/release/src/stockwatch]
#                          [--gen build/release/bench/stockwatch_gen_inventory]
#                          [--rows 1000000] [--duration 10s]
#
# Installs wrk and nginx with apt-get when missing. nginx runs as the current user with a
# temporary configuration on a loopback port; everything lives in a temporary directory that
# is removed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=build/release/src/stockwatch
gen=build/release/bench/stockwatch_gen_inventory
rows=1000000
duration=10s
while [ $# -gt 0 ]; do
  case "$1" in
    --bin) bin=$2; shift 2 ;;
    --gen) gen=$2; shift 2 ;;
    --rows) rows=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done

missing=()
command -v wrk >/dev/null || missing+=(wrk)
[ -x /usr/sbin/nginx ] || missing+=(nginx)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null
fi

work=$(mktemp -d /tmp/sw-inventory-bench.XXXXXX)
server_pid=""
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

token=sw_bench_admin_token_0123456789abcdef
api_port=18431
nginx_port=18432

echo "## machine"
grep -m1 'model name' /proc/cpuinfo; nproc; uptime

echo "## table: $rows items"
"$gen" --rows "$rows" --seed 42 -o "$work/inventory.csv"
STOCKWATCH_ADMIN_TOKEN=$token "$bin" serve --data "$work/data" \
  --listen 127.0.0.1:$api_port --s3-listen off >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$api_port/healthz" >/dev/null 2>&1 && break
  sleep 0.1
done
STOCKWATCH_SERVER=http://127.0.0.1:$api_port STOCKWATCH_TOKEN=$token \
  "$bin" upload "$work/inventory.csv" | tail -n 2

page="http://127.0.0.1:$api_port/api/v1/inventory?limit=100"
curl -fsS -H "Authorization: Bearer $token" "$page" >"$work/page.json"
size=$(stat -c %s "$work/page.json")
echo "page of 100 rows: $size bytes, total $(python3 -c \
  'import json,sys; print(json.load(open(sys.argv[1]))["total"])' "$work/page.json")"
# A deep page: the cursor after 90% of the table (keyset paging: as cheap as the first).
deep_cursor=$(python3 - "http://127.0.0.1:$api_port" "$token" "$rows" <<'PY'
import json, sys, urllib.request
base, token, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
cursor, seen = "", 0
while seen < rows * 9 // 10:
    url = base + "/api/v1/inventory?limit=10000" + ("&cursor=" + cursor if cursor else "")
    req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
    doc = json.load(urllib.request.urlopen(req))
    seen += len(doc["items"])
    if not doc["next_cursor"]:
        break
    cursor = doc["next_cursor"]
print(cursor)
PY
)

# nginx serves a static file of the same size.
mkdir -p "$work/www" "$work/nginx-tmp"
# Started as root, nginx's workers run as nobody: they must be able to read the file.
chmod a+rx "$work" "$work/www"
head -c "$size" /dev/zero | tr '\0' 'x' >"$work/www/page.json"
cat >"$work/nginx.conf" <<EOF
worker_processes 2;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
daemon on;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx-tmp;
  proxy_temp_path $work/nginx-tmp;
  fastcgi_temp_path $work/nginx-tmp;
  uwsgi_temp_path $work/nginx-tmp;
  scgi_temp_path $work/nginx-tmp;
  server {
    listen 127.0.0.1:$nginx_port;
    location / { root $work/www; default_type application/json; }
  }
}
EOF
/usr/sbin/nginx -c "$work/nginx.conf" -p "$work" 2>/dev/null

cat >"$work/auth.lua" <<EOF
wrk.headers["Authorization"] = "Bearer $token"
EOF

run() {
  run_with 64 "$@"
}
# run_with CONNECTIONS TITLE WRK-ARGS...; each figure with the machine's load at its end (wrk,
# nginx and the server share the machine's cores with whatever else runs).
run_with() {
  local connections=$1 title=$2
  shift 2
  echo "### $title (wrk -t2 -c$connections)"
  wrk -t2 -c"$connections" -d"$duration" --latency "$@" | grep -E 'Requests/sec|Transfer/sec|50%|90%|99%|Latency|Socket errors|Non-2xx'
  echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
}
# Warm up, then measure.
wrk -t2 -c64 -d2s -s "$work/auth.lua" "$page" >/dev/null
run "stockwatch: GET /api/v1/inventory?limit=100 (first page)" -s "$work/auth.lua" "$page"
run "stockwatch: a page 90% into the table (cursor)" -s "$work/auth.lua" "$page&cursor=$deep_cursor"
run "stockwatch: sort=count&order=desc (per-store sorted orders, merged)" -s "$work/auth.lua" \
  "$page&sort=count&order=desc"
run "stockwatch: sort=updated_at&order=desc&store=Chicago" -s "$work/auth.lua" \
  "$page&sort=updated_at&order=desc&store=Chicago"
run "nginx: static file of $size bytes" "http://127.0.0.1:$nginx_port/page.json"
# The service-time floor: with 8 connections there is little queueing, so by Little's law
# (connections = rate x mean latency) the latency is mostly the cost of one request.
run_with 8 "stockwatch: first page, 8 connections" -s "$work/auth.lua" "$page"
run_with 8 "nginx: static file of $size bytes, 8 connections" \
  "http://127.0.0.1:$nginx_port/page.json"
