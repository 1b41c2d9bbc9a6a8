#!/usr/bin/env bash
# Backend-protocol benchmark: the real gateway (main.ts, one unit) proxying to one nginx
# backend (1 worker, 100-byte answers) over HTTP/1.1 and over HTTP/2, in clear and over
# TLS, measured by wrk (HTTP/1.1 keep-alive clients) in the same run. Prints req/s, p50,
# p99 and the ratio of each HTTP/2 row to the HTTP/1.1 row of the same transport.
#
#   scripts/bench_h2_backend.sh                  3 rounds, 5 s per measurement
#   ROUNDS=5 DURATION=10 scripts/bench_h2_backend.sh
#   CONNECTIONS=128 scripts/bench_h2_backend.sh
#
# Rows (routes of one gateway instance, alternating in each round, medians reported):
#   h1     ReverseProxyHandler, defaults: HTTP/1.1 keep-alive pool to nginx
#   h2c    protocolVersion HTTP/2 + http2PriorKnowledge: one multiplexed h2c connection
#   h1s    https backend, ClientTlsOptions trusting the test CA: HTTP/1.1 over TLS
#   h2s    the same with protocolVersion HTTP/2: h2 chosen by ALPN
# Installs wrk and nginx from Debian when missing. Stops everything it started.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
WARMUP=${WARMUP:-2}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEM=$ROOT/tests/fixtures/secrets/pem
WORK=$(mktemp -d /tmp/ig-bench-h2b.XXXXXX)
BASE=$((20000 + RANDOM % 20000))
H1_PORT=$BASE
H2C_PORT=$((BASE + 1))
TLS_PORT=$((BASE + 2))
GW_PORT=$((BASE + 10))
PIDS=()

# shellcheck source=scripts/bench_lib.sh
. "$(dirname "$0")/bench_lib.sh"
need wrk wrk
need nginx nginx

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ -f "$WORK/nginx.pid" ]; then kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

# ------------------------------------------------------------------ backend
BODY=$(printf 'x%.0s' $(seq 1 100))
cat >"$WORK/nginx.conf" <<EOF
worker_processes 1;
pid $WORK/nginx.pid;
error_log $WORK/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK; proxy_temp_path $WORK;
  fastcgi_temp_path $WORK; uwsgi_temp_path $WORK; scgi_temp_path $WORK;
  keepalive_requests 1000000;
  http2_max_concurrent_streams 128;
  server { listen 127.0.0.1:$H1_PORT; location / { default_type text/plain; return 200 '$BODY'; } }
  server { listen 127.0.0.1:$H2C_PORT http2; location / { default_type text/plain; return 200 '$BODY'; } }
  server {
    listen 127.0.0.1:$TLS_PORT ssl http2;
    ssl_certificate $PEM/localhost.cert.pem;
    ssl_certificate_key $PEM/localhost.key.pem;
    location / { default_type text/plain; return 200 '$BODY'; }
  }
}
EOF
nginx -c "$WORK/nginx.conf"
wait_port "$H1_PORT"

# ------------------------------------------------------------------ gateway
mkdir -p "$WORK/gw/config/routes"
echo "{\"connectors\": [{\"port\": $GW_PORT, \"vertx\": {\"host\": \"127.0.0.1\"}}], \"mode\": \"production\"}" \
  >"$WORK/gw/config/admin.json"
TLS_OPTIONS="{\"type\": \"ClientTlsOptions\", \"config\": {\"trustManager\": {\"type\": \"SecretsTrustManager\", \"config\": {
  \"certificateVerificationSecretId\": \"ca.cert\", \"secretsProvider\": {\"type\": \"FileSystemSecretStore\", \"config\": {
  \"directory\": \"$PEM\", \"format\": \"PLAIN\", \"suffix\": \".pem\",
  \"mappings\": [{\"secretId\": \"ca.cert\", \"format\": {\"type\": \"PemPropertyFormat\"}}]}}}}}}"
route() { # name baseURI extra-config
  cat >"$WORK/gw/config/routes/$1.json" <<EOF
{ "name": "$1", "condition": "\${find(request.uri.path, '^/$1/')}", "baseURI": "$2",
  "handler": { "type": "ReverseProxyHandler", "config": { $3 } } }
EOF
}
route h1 "http://127.0.0.1:$H1_PORT" ""
route h2c "http://127.0.0.1:$H2C_PORT" '"protocolVersion": "HTTP/2", "http2PriorKnowledge": true'
route h1s "https://localhost:$TLS_PORT" "\"tls\": $TLS_OPTIONS"
route h2s "https://localhost:$TLS_PORT" "\"tls\": $TLS_OPTIONS, \"protocolVersion\": \"HTTP/2\""
(cd "$ROOT" && exec deno run -A main.ts --instance "$WORK/gw" >"$WORK/gw/out.log" 2>&1) &
GATEWAY_PID=$!
PIDS+=("$GATEWAY_PID")
wait_port "$GW_PORT" /openig/ping
for r in h1 h2c h1s h2s; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$GW_PORT/$r/x")
  [ "$code" = 200 ] || { echo "route $r answers $code:" >&2; cat "$WORK/gw/out.log" >&2; exit 1; }
done

# Runs wrk against a URL: warm-up, then the measured run; prints "rps p50 p99".
measure() {
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"${WARMUP}s" "$1" >/dev/null 2>&1 || true
  local out rps p50 p99 errors
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency "$1")
  rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
  p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errors=$(awk '/Non-2xx|Socket errors/ {print}' <<<"$out" | tr '\n' ' ')
  [ -n "$errors" ] && echo "  wrk: $errors" >&2
  echo "$rps $p50 $p99"
}

declare -A RESULTS
for round in $(seq 1 "$ROUNDS"); do
  for r in h1 h2c h1s h2s; do
    echo "round $round: $r..." >&2
    RESULTS[$r]+="$(measure "http://127.0.0.1:$GW_PORT/$r/x")"$'\n'
  done
done
RSS=$(ps -o rss= -p "$GATEWAY_PID")
CONNS=$(ss -tn state established "( dport = :$H2C_PORT )" | tail -n +2 | wc -l)

median() { # column (1 rps, 2 p50, 3 p99) of the rows of one route
  awk -v c="$2" 'NF { print $c }' <<<"${RESULTS[$1]}" | sed 's/ms$//; s/us$/e-3/' |
    sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

echo
echo "wrk -t$THREADS -c$CONNECTIONS -d${DURATION}s x $ROUNDS rounds (medians), 100-byte answers, nginx backend (1 worker), gateway 1 unit, $(nproc) cores"
printf '%-48s %9s %9s %9s %8s\n' "backend protocol" "req/s" "p50 ms" "p99 ms" "÷ h1"
for r in h1 h2c h1s h2s; do
  base=h1
  [ "${r%s}" != "$r" ] && base=h1s
  rps=$(median "$r" 1)
  ratio=$(awk -v a="$rps" -v b="$(median "$base" 1)" 'BEGIN { printf "%.2f", a / b }')
  case $r in
    h1) name="HTTP/1.1 in clear (keep-alive pool)" ;;
    h2c) name="HTTP/2 in clear (prior knowledge)" ;;
    h1s) name="HTTP/1.1 over TLS" ;;
    h2s) name="HTTP/2 over TLS (ALPN h2)" ;;
  esac
  printf '%-48s %9.0f %9s %9s %8s\n' "$name" "$rps" "$(median "$r" 2)" "$(median "$r" 3)" "$ratio"
done
echo "÷ h1: against the HTTP/1.1 row of the same transport. Gateway RSS after the run: $((RSS / 1024)) MiB;"
echo "connections from the gateway to the h2c port at the end: $CONNS."
