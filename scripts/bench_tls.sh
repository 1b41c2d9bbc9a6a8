#!/usr/bin/env bash
# HTTPS connector benchmark: the gateway's TLS connector (node:tls + the HTTP edge, a
# fixed answer) against nginx with the same certificate and key, in one run.
#
#   scripts/bench_tls.sh                  3 rounds, 5 s per measurement
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
PIDS=()

need() {
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "installing $2 from Debian..." >&2
    if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq "$2" >/dev/null
    else sudo apt-get update -qq && sudo apt-get install -y -qq "$2" >/dev/null; fi
  fi
}
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

cat >"$WORK/ig_tls.ts" <<EOF
import { ConfigNode } from "$ROOT/src/heap/config_node.ts";
import { Heap } from "$ROOT/src/heap/heap.ts";
import { buildRegistry } from "$ROOT/src/heap/heap_type.ts";
import { HttpResponse } from "$ROOT/src/http/message.ts";
import { fileSystemSecretStoreType } from "$ROOT/src/secrets/file_system_secret_store.ts";
import { pemPropertyFormatType } from "$ROOT/src/secrets/pem_property_format.ts";
import { serveHttps } from "$ROOT/src/tls/https_server.ts";
import { secretsKeyManagerType } from "$ROOT/src/tls/secrets_key_manager.ts";
import { type ServerTlsOptions, serverTlsOptionsType } from "$ROOT/src/tls/server_tls_options.ts";

await Deno.writeTextFile("$WORK/key.manager.secret.id.pem", Deno.readTextFileSync("$KEY") + Deno.readTextFileSync("$CERT"));
const registry = buildRegistry([fileSystemSecretStoreType, pemPropertyFormatType, secretsKeyManagerType, serverTlsOptionsType]);
const scope = { file: "config/admin.json", bindings: {}, warn: (m: string) => console.error(m) };
const heap = new Heap(registry, null, scope, null);
const tls = await heap.resolve<ServerTlsOptions>(new ConfigNode(scope, "/connectors/0/tls", {
  type: "ServerTlsOptions",
  config: { keyManager: { type: "SecretsKeyManager", config: {
    signingSecretId: "key.manager.secret.id",
    secretsProvider: { type: "FileSystemSecretStore", config: { directory: "$WORK", format: "PLAIN", suffix: ".pem",
      mappings: [{ secretId: "key.manager.secret.id", format: { type: "PemPropertyFormat" } }] } },
  } } },
}), "ServerTlsOptions");
const small = new TextEncoder().encode("x".repeat(100));
const large = new TextEncoder().encode("x".repeat(10240));
await serveHttps({ port: $IG_PORT, hostname: "127.0.0.1" }, tls, (req) => {
  const resp = new HttpResponse(200);
  resp.headers.add("content-type", "text/plain");
  resp.entity.setBytes(req.uri.rawPath === "/l" ? large : small);
  return Promise.resolve(resp);
});
console.log("listening");
EOF
deno run -A "$WORK/ig_tls.ts" >"$WORK/ig.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do grep -q listening "$WORK/ig.log" 2>/dev/null && break; sleep 0.1; done
grep -q listening "$WORK/ig.log" || { cat "$WORK/ig.log" >&2; exit 1; }
for port in $NGINX_PORT $IG_PORT; do
  curl -sk --fail "https://127.0.0.1:$port/s" -o /dev/null || { echo "contender on $port is not answering" >&2; exit 1; }
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
    measure ig $IG_PORT "$m" >>"$WORK/ig.$m"
  done
  echo "round $round/$ROUNDS done" >&2
done

echo
echo "HTTPS, same certificate (RSA-2048), TLS 1.3; nginx worker_processes=$NGINX_WORKERS; medians of $ROUNDS x ${DURATION}s"
printf '%-8s %12s %12s %8s   %s\n' metric nginx ig "ig/nginx" "what"
for m in $METRICS; do
  n=$(median <"$WORK/nginx.$m")
  g=$(median <"$WORK/ig.$m")
  case $m in
    ka100) what="HTTP/1.1 keep-alive req/s, 100 B" ;;
    ka10k) what="HTTP/1.1 keep-alive req/s, 10 KB" ;;
    h2) what="HTTP/2 req/s, 100 B, 10 streams/conn" ;;
    hs) what="full handshakes/s (new TLS connection each)" ;;
  esac
  ratio=$(awk -v a="$g" -v b="$n" 'BEGIN { printf (b > 0 ? "%.2f" : "-"), a / b }')
  printf '%-8s %12s %12s %8s   %s\n' "$m" "$n" "$g" "$ratio" "$what"
done
echo "runs: nginx $(tr '\n' ' ' <"$WORK/nginx.hs" | sed 's/ $//') | ig $(tr '\n' ' ' <"$WORK/ig.hs" | sed 's/ $//') (handshakes, per round)"
