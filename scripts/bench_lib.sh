# Shared by the scripts/bench*.sh benchmarks (sourced, not run).

# need COMMAND PACKAGE: installs PACKAGE from Debian when COMMAND is missing.
need() {
  if ! command -v "$1" >/dev/null 2>&1; then
    echo "installing $2 from Debian..." >&2
    if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y -qq "$2" >/dev/null
    else sudo apt-get update -qq && sudo apt-get install -y -qq "$2" >/dev/null; fi
  fi
}

# wait_port PORT [PATH]: waits (30 s at most) until http://127.0.0.1:PORT/PATH answers.
wait_port() {
  for _ in $(seq 1 300); do
    if curl -s -o /dev/null "http://127.0.0.1:$1${2:-/}"; then return 0; fi
    sleep 0.1
  done
  echo "nothing answers on port $1" >&2
  return 1
}
