#!/usr/bin/env bash
# Proxy-path benchmark: one backend on 127.0.0.1, then each contender in front of it,
# measured by wrk in the same run; prints req/s, p50, p99, RSS and the ratio to nginx.
# The gateway rows run the real gateway (main.ts) on an instance with one plain proxy
# route, with admin.json gatewayUnits 1 and 2 (or the UNITS list).
#
#   scripts/bench.sh                 10 s per contender, wrk -t2 -c64
#   DURATION=5 CONNECTIONS=128 scripts/bench.sh
#   UNITS="1 2 4" scripts/bench.sh   gatewayUnits values to measure
#   EXTRA=1 scripts/bench.sh         also: 100 routes, units as processes, Deno.serve + fetch,
#                                    edge + client alone, nginx stock keepalive_requests
#   V8_FLAGS=--max-semi-space-size=8 scripts/bench.sh   V8 flags for the gateway rows
#
# Installs wrk and nginx from Debian when missing. Stops everything it started.
set -euo pipefail

DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
UNITS=${UNITS:-1 2}
EXTRA=${EXTRA:-0}
V8_FLAGS=${V8_FLAGS:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=$(mktemp -d /tmp/ig-bench.XXXXXX)
BASE=$((20000 + RANDOM % 20000))
BACKEND_PORT=$BASE
NGINX_PORT=$((BASE + 1))
NGINX_STOCK_PORT=$((BASE + 2))
FETCH_PORT=$((BASE + 3))
BARE_PORT=$((BASE + 4))
GW_PORT=$((BASE + 10))
PIDS=()

# shellcheck source=scripts/bench_lib.sh
. "$(dirname "$0")/bench_lib.sh"
need wrk wrk
need nginx nginx

# Other load on the machine shows in every row: say so rather than print skewed ratios.
busy_check() {
  local a b tot idle k
  a=($(head -1 /proc/stat)); sleep 1; b=($(head -1 /proc/stat))
  tot=0; for k in 1 2 3 4 5 6 7 8; do tot=$((tot + b[k] - a[k])); done
  idle=$((b[4] - a[4]))
  if [ $((idle * 100)) -lt $((tot * 90)) ]; then
    echo "warning: the machine is only $((idle * 100 / tot))% idle before the run; numbers will be low" >&2
  fi
}
busy_check

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for conf in "$WORK"/nginx-*.conf; do
    [ -f "$conf" ] && nginx -c "$conf" -s stop 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# Stops a process started here and waits until it is gone (its port is free again).
stop_pid() {
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# nginx instances: $1 name, $2 worker_processes, $3 server block
start_nginx() {
  mkdir -p "$WORK/$1"
  cat >"$WORK/nginx-$1.conf" <<EOF
worker_processes $2;
pid $WORK/$1/nginx.pid;
error_log $WORK/$1/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/$1; proxy_temp_path $WORK/$1;
  fastcgi_temp_path $WORK/$1; uwsgi_temp_path $WORK/$1; scgi_temp_path $WORK/$1;
  $3
}
EOF
  nginx -c "$WORK/nginx-$1.conf"
}

# The backend: nginx answering 100 bytes, one worker.
BODY=$(printf 'x%.0s' $(seq 1 100))
start_nginx backend 1 "server { listen 127.0.0.1:$BACKEND_PORT; keepalive_requests 1000000; location / { default_type text/plain; return 200 '$BODY'; } }"
# The reference: nginx as a reverse proxy, one worker per core, upstream keep-alive, and
# client connections kept as long as the gateway keeps them (keepalive_requests).
start_nginx proxy auto "upstream be { server 127.0.0.1:$BACKEND_PORT; keepalive 64; }
  server { listen 127.0.0.1:$NGINX_PORT; keepalive_requests 1000000;
    location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }"
wait_port "$BACKEND_PORT"
wait_port "$NGINX_PORT"

# Gateway instances: $1 dir, $2 port, $3 gatewayUnits; a plain proxy route.
make_instance() {
  mkdir -p "$1/config/routes"
  echo "{\"connectors\": [{\"port\": $2, \"vertx\": {\"host\": \"127.0.0.1\"}}], \"mode\": \"production\", \"gatewayUnits\": $3}" \
    >"$1/config/admin.json"
  echo "{\"baseURI\": \"http://127.0.0.1:$BACKEND_PORT\", \"handler\": \"ReverseProxyHandler\"}" \
    >"$1/config/routes/plain.json"
}
# 100 routes with a condition and a HeaderFilter each.
add_100_routes() {
  rm "$1/config/routes/plain.json"
  for i in $(seq -w 0 99); do
    cat >"$1/config/routes/r0$i.json" <<EOF
{ "condition": "\${find(request.uri.path, '^/r0$i/')}",
  "baseURI": "http://127.0.0.1:$BACKEND_PORT",
  "handler": { "type": "Chain", "config": {
    "filters": [{ "type": "HeaderFilter", "config": { "messageType": "REQUEST", "add": { "X-Route": ["r0$i"] } } }],
    "handler": "ReverseProxyHandler" } } }
EOF
  done
}

DENO_RUN=(deno run -A)
[ -n "$V8_FLAGS" ] && DENO_RUN+=("--v8-flags=$V8_FLAGS")

# Starts the real gateway (main.ts) on an instance and checks that the route answers.
start_gateway() { # dir port path
  local dir=$1 port=$2 path=$3
  (cd "$ROOT" && exec "${DENO_RUN[@]}" main.ts --instance "$dir" >"$dir/out.log" 2>&1) &
  GATEWAY_PID=$!
  PIDS+=("$GATEWAY_PID")
  wait_port "$port" /openig/ping
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port$path")" = 200 ] ||
    { echo "gateway on $dir does not proxy:" >&2; cat "$dir/out.log" >&2; exit 1; }
  sleep 0.5
}

rss_kb() { # pids...
  local total=0
  for p in "$@"; do total=$((total + $(ps -o rss= -p "$p" 2>/dev/null || echo 0))); done
  echo "$total"
}

nginx_pids() { # name
  local master
  master=$(cat "$WORK/$1/nginx.pid")
  echo "$master $(pgrep -P "$master" | tr '\n' ' ')"
}

# Runs wrk against a URL: warm-up, then the measured run; prints "rps p50 p99".
measure() {
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" "$1" >/dev/null 2>&1 || true
  local out
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$1")
  local rps p50 p99 errors
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
  [ -n "$errors" ] && echo "  wrk: $errors" >&2
  echo "$rps $p50 $p99"
}

ROWS=()
row() { # name url pids...
  local name=$1 url=$2
  shift 2
  echo "measuring $name..." >&2
  local idle m
  idle=$(rss_kb "$@")
  m=$(measure "$url")
  ROWS+=("$name|$m|$idle|$(rss_kb "$@")")
}

row "backend direct (nginx, 1 worker)" "http://127.0.0.1:$BACKEND_PORT/" $(nginx_pids backend)
row "nginx proxy (1 worker/core, keep-alive both sides)" "http://127.0.0.1:$NGINX_PORT/" $(nginx_pids proxy)

n=0
for units in $UNITS; do
  port=$((GW_PORT + n))
  n=$((n + 1))
  make_instance "$WORK/gw$units" "$port" "$units"
  start_gateway "$WORK/gw$units" "$port" /
  row "gateway main.ts, plain proxy route, gatewayUnits $units" "http://127.0.0.1:$port/" "$GATEWAY_PID"
  stop_pid "$GATEWAY_PID"
done

if [ "$EXTRA" = 1 ]; then
  for units in $UNITS; do
    port=$((GW_PORT + n))
    n=$((n + 1))
    make_instance "$WORK/gw100-$units" "$port" "$units"
    add_100_routes "$WORK/gw100-$units"
    start_gateway "$WORK/gw100-$units" "$port" /r099/x
    row "gateway, 100 routes (condition + HeaderFilter), gatewayUnits $units" "http://127.0.0.1:$port/r099/x" "$GATEWAY_PID"
    stop_pid "$GATEWAY_PID"
  done

  # Units as processes instead of Workers: each process runs the gateway as one unit
  # (scripts/bench/process_unit.ts), sharing the port with SO_REUSEPORT; no shared state.
  port=$((GW_PORT + n))
  n=$((n + 1))
  make_instance "$WORK/gwp" "$port" 2
  P=()
  for i in 0 1; do
    (cd "$ROOT" && exec "${DENO_RUN[@]}" scripts/bench/process_unit.ts "$WORK/gwp" "$port" "$i" 2 >"$WORK/gwp/out$i.log" 2>&1) &
    P+=($!)
    PIDS+=($!)
  done
  wait_port "$port" /openig/ping
  sleep 1
  row "gateway, 2 units as processes (for comparison)" "http://127.0.0.1:$port/" "${P[@]}"
  for p in "${P[@]}"; do stop_pid "$p"; done

  start_nginx stock auto "upstream be { server 127.0.0.1:$BACKEND_PORT; keepalive 64; }
    server { listen 127.0.0.1:$NGINX_STOCK_PORT;
      location / { proxy_pass http://be; proxy_http_version 1.1; proxy_set_header Connection \"\"; } }"
  wait_port "$NGINX_STOCK_PORT"
  row "nginx proxy, stock keepalive_requests (1000)" "http://127.0.0.1:$NGINX_STOCK_PORT/" $(nginx_pids stock)

  (cd "$ROOT" && exec deno run -A scripts/bench/fetch_proxy.ts "$FETCH_PORT" "http://127.0.0.1:$BACKEND_PORT" >/dev/null 2>&1) &
  FETCH_PID=$!
  PIDS+=("$FETCH_PID")
  wait_port "$FETCH_PORT"
  row "reference: Deno.serve + fetch, 1 isolate" "http://127.0.0.1:$FETCH_PORT/" "$FETCH_PID"
  stop_pid "$FETCH_PID"

  (cd "$ROOT" && exec deno run -A scripts/bench/bare_proxy.ts "$BARE_PORT" "http://127.0.0.1:$BACKEND_PORT" >/dev/null 2>&1) &
  BARE_PID=$!
  PIDS+=("$BARE_PID")
  wait_port "$BARE_PORT"
  row "edge + client only (no router), 1 isolate" "http://127.0.0.1:$BARE_PORT/" "$BARE_PID"
  stop_pid "$BARE_PID"
fi

NGINX_RPS=$(cut -d'|' -f2 <<<"${ROWS[1]}" | cut -d' ' -f1)
echo
echo "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s, 100-byte responses, $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)${V8_FLAGS:+, V8 flags $V8_FLAGS}"
printf '%-70s %9s %9s %9s %9s %9s %8s\n' "contender" "req/s" "p50" "p99" "RSS idle" "RSS load" "÷ nginx"
for r in "${ROWS[@]}"; do
  IFS='|' read -r name m idle rss <<<"$r"
  read -r rps p50 p99 <<<"$m"
  ratio=$(awk -v a="$rps" -v b="$NGINX_RPS" 'BEGIN { printf "%.2f", a / b }')
  printf '%-70s %9.0f %9s %9s %8.1fM %8.1fM %8s\n' "$name" "$rps" "$p50" "$p99" \
    "$(awk -v k="$idle" 'BEGIN { print k / 1024 }')" "$(awk -v k="$rss" 'BEGIN { print k / 1024 }')" "$ratio"
done
echo "÷ nginx: against the nginx proxy row. RSS in MiB before and after the measured run (all"
echo "processes of the contender). gatewayUnits N: one process, the main isolate plus N-1 Worker"
echo "isolates sharing the port (SO_REUSEPORT)."
