#!/usr/bin/env bash
# HTTPS connector benchmark: the real gateway (main.ts, an HTTPS connector in admin.json,
# StaticResponseHandler routes) against nginx serving files with the same certificate and
# key, in one run.
#
#   scripts/bench_tls.sh                  3 rounds, 5 s per measurement, gatewayUnits 1 and 2
#   UNITS="2" scripts/bench_tls.sh        gatewayUnits values to measure
#   ROUNDS=5 DURATION=10 scripts/bench_tls.sh
#   NGINX_WORKERS=1 scripts/bench_tls.sh  nginx on one core, like our one isolate
#
# Measures, for each contender, alternating rounds, medians reported:
#   ka100    HTTP/1.1 keep-alive, 100-byte answers      (wrk -t2 -c64)
#   ka10k    HTTP/1.1 keep-alive, 10 KB answers         (wrk -t2 -c64)
#   h2       HTTP/2 via ALPN, 100-byte answers          (h2load -c64 -m10)
#   hs       full TLS handshakes per second, no resumption (8 parallel openssl s_time -new)
# Both sides offer TLS 1.2 and 1.3 and negotiate TLS 1.3 with an RSA-2048 certificate.
# Installs wrk, nginx and h2load (nghttp2-client) from Debian when missing. Stops
# everything it started.
set -euo pipefail

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5}
CONNECTIONS=${CONNECTIONS:-64}
NGINX_WORKERS=${NGINX_WORKERS:-auto}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CERT=$ROOT/tests/fixtures/secrets/pem/localhost.cert.pem
KEY=$ROOT/tests/fixtures/secrets/pem/localhost.key.pem
WORK=$(mktemp -d /tmp/ig-bench-tls.XXXXXX)
BASE=$((20000 + RANDOM % 20000))
NGINX_PORT=$BASE
IG_PORT=$((BASE + 1))
UNITS=${UNITS:-1 2}
PIDS=()

# shellcheck source=scripts/bench_lib.sh
. "$(dirname "$0")/bench_lib.sh"
need wrk wrk
need nginx nginx
need h2load nghttp2-client

cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  if [ -f "$WORK/nginx.pid" ]; then kill "$(cat "$WORK/nginx.pid")" 2>/dev/null || true; fi
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

# ------------------------------------------------------------------ contenders
chmod 755 "$WORK" # nginx workers run as another user
head -c 100 /dev/zero | tr '\0' x >"$WORK/s"
head -c 10240 /dev/zero | tr '\0' x >"$WORK/l"
cat >"$WORK/nginx.conf" <<EOF
worker_processes $NGINX_WORKERS;
pid $WORK/nginx.pid;
error_log $WORK/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_cache off;
  ssl_session_tickets off;
  server {
    listen 127.0.0.1:$NGINX_PORT ssl http2;
    ssl_certificate $CERT;
    ssl_certificate_key $KEY;
    root $WORK;
    location = /s { default_type text/plain; }
    location = /l { default_type text/plain; }
  }
}
EOF
chmod 644 "$WORK/s" "$WORK/l"
nginx -c "$WORK/nginx.conf" -e "$WORK/nginx-error.log"

# The gateway: main.ts on an instance whose admin.json has one HTTPS connector (the seed's PEM
# form: FileSystemSecretStore + PemPropertyFormat) and two StaticResponseHandler routes, one per
# gatewayUnits value of UNITS.
BODY_S=$(cat "$WORK/s")
BODY_L=$(cat "$WORK/l")
IG_PORTS=()
n=0
for units in $UNITS; do
  dir=$WORK/ig$units
  port=$((IG_PORT + n))
  n=$((n + 1))
  mkdir -p "$dir/config/routes" "$dir/secrets"
  cat "$KEY" "$CERT" >"$dir/secrets/key.manager.secret.id.pem"
  cat >"$dir/config/admin.json" <<EOF
{ "mode": "production", "gatewayUnits": $units,
  "connectors": [{ "port": $port, "vertx": { "host": "127.0.0.1" }, "tls": "ServerTlsOptions-1" }],
  "heap": [{ "name": "ServerTlsOptions-1", "type": "ServerTlsOptions", "config": {
    "keyManager": { "type": "SecretsKeyManager", "config": {
      "signingSecretId": "key.manager.secret.id", "secretsProvider": "ServerIdentityStore" } } } },
    { "name": "ServerIdentityStore", "type": "FileSystemSecretStore", "config": {
      "format": "PLAIN", "directory": "$dir/secrets", "suffix": ".pem",
      "mappings": [{ "secretId": "key.manager.secret.id", "format": { "type": "PemPropertyFormat" } }] } }] }
EOF
  echo "{ \"condition\": \"\${request.uri.path == '/s'}\", \"handler\": { \"type\": \"StaticResponseHandler\",
    \"config\": { \"status\": 200, \"headers\": { \"Content-Type\": [\"text/plain\"] }, \"entity\": \"$BODY_S\" } } }" \
    >"$dir/config/routes/s.json"
  echo "{ \"condition\": \"\${request.uri.path == '/l'}\", \"handler\": { \"type\": \"StaticResponseHandler\",
    \"config\": { \"status\": 200, \"headers\": { \"Content-Type\": [\"text/plain\"] }, \"entity\": \"$BODY_L\" } } }" \
    >"$dir/config/routes/l.json"
  (cd "$ROOT" && exec deno run -A main.ts --instance "$dir" >"$dir/out.log" 2>&1) &
  PIDS+=($!)
  IG_PORTS+=("$port")
done
for port in $NGINX_PORT "${IG_PORTS[@]}"; do
  for _ in $(seq 100); do curl -sk --fail "https://127.0.0.1:$port/s" -o /dev/null 2>&1 && break; sleep 0.1; done
  for path in s l; do
    curl -sk --fail "https://127.0.0.1:$port/$path" -o /dev/null ||
      { echo "contender on $port does not answer /$path" >&2; cat "$WORK"/ig*/out.log >&2; exit 1; }
  done
done

# --------------------------------------------------------------------- measures
wrk_rps() { # url
  wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" "$1" | awk '/Requests\/sec/ {print int($2)}'
}
h2_rps() { # url
  h2load -c"$CONNECTIONS" -m10 -D "$DURATION" "$1" 2>/dev/null | awk '/^finished in/ {print int($4)}'
}
handshakes() { # port: full handshakes/s, 8 clients in parallel, each closing its connections
  local port=$1 i tot=0 clients=()
  for i in $(seq 8); do
    (openssl s_time -connect "127.0.0.1:$port" -new -time "$DURATION" 2>/dev/null |
      awk '/connections in/ {print $1; exit}' >"$WORK/st.$i") &
    clients+=($!)
  done
  wait "${clients[@]}"
  for i in $(seq 8); do tot=$((tot + $(cat "$WORK/st.$i" 2>/dev/null || echo 0))); done
  echo $((tot / DURATION))
}
measure() { # name port metric
  case $3 in
    ka100) wrk_rps "https://127.0.0.1:$2/s" ;;
    ka10k) wrk_rps "https://127.0.0.1:$2/l" ;;
    h2) h2_rps "https://127.0.0.1:$2/s" ;;
    hs) handshakes "$2" ;;
  esac
}
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : int((a[NR / 2] + a[NR / 2 + 1]) / 2)}'; }

METRICS="ka100 ka10k h2 hs"
for round in $(seq "$ROUNDS"); do
  for m in $METRICS; do
    measure nginx $NGINX_PORT "$m" >>"$WORK/nginx.$m"
    i=0
    for units in $UNITS; do
      measure ig "${IG_PORTS[$i]}" "$m" >>"$WORK/ig$units.$m"
      i=$((i + 1))
    done
  done
  echo "round $round/$ROUNDS done" >&2
done

echo
echo "HTTPS, same certificate (RSA-2048), TLS 1.3; nginx worker_processes=$NGINX_WORKERS; gateway main.ts with"
echo "gatewayUnits $UNITS; medians of $ROUNDS x ${DURATION}s; ratio = gateway / nginx in the same run"
for m in $METRICS; do
  case $m in
    ka100) what="HTTP/1.1 keep-alive req/s, 100 B" ;;
    ka10k) what="HTTP/1.1 keep-alive req/s, 10 KB" ;;
    h2) what="HTTP/2 req/s, 100 B, 10 streams/conn" ;;
    hs) what="full handshakes/s (new TLS connection each)" ;;
  esac
  n=$(median <"$WORK/nginx.$m")
  line=$(printf '%-6s nginx %7s' "$m" "$n")
  for units in $UNITS; do
    g=$(median <"$WORK/ig$units.$m")
    ratio=$(awk -v a="$g" -v b="$n" 'BEGIN { printf (b > 0 ? "%.2f" : "-"), a / b }')
    line+=$(printf ' | units %s %7s %5sx' "$units" "$g" "$ratio")
  done
  echo "$line   $what"
done
