#!/usr/bin/env bash
# The S3 emulator the tests run against: moto in server mode, installed from PyPI into a virtual
# environment.
#
#   bash .ci/services/s3.sh start DIR   installs moto into DIR/venv (once), starts it on a free
#                                       port of 127.0.0.1, creates the bucket, and prints the
#                                       shell lines to eval (the environment of the tests);
#                                       everything else goes to stderr.
#   bash .ci/services/s3.sh stop DIR    stops it.
#
# The server's pid is DIR/moto.pid and its log DIR/moto.log.
set -euo pipefail

BUCKET=foldstore-test
# moto accepts any credentials; these only make the client sign its requests.
ACCESS_KEY=foldstore-test
SECRET_KEY=foldstore-test-secret
REGION=us-east-1

log() { echo "s3.sh: $*" >&2; }

usage() {
  echo "usage: bash .ci/services/s3.sh start|stop DIR" >&2
  exit 2
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

start() {
  local dir="$1"
  mkdir -p "$dir"
  dir="$(cd "$dir" && pwd)"
  if [ ! -x "$dir/venv/bin/moto_server" ]; then
    log "installing moto[server] into $dir/venv"
    python3 -m venv "$dir/venv" >&2
    "$dir/venv/bin/pip" install -q --disable-pip-version-check 'moto[server]' >&2
  fi
  local port
  port="$(free_port)"
  log "starting moto_server on 127.0.0.1:$port (log: $dir/moto.log)"
  # moto's app behind a lock, so that racing conditional creates have one winner, as on S3.
  nohup "$dir/venv/bin/python" "$(cd "$(dirname "$0")" && pwd)/moto_serial.py" 127.0.0.1 "$port" \
    >"$dir/moto.log" 2>&1 </dev/null &
  echo $! >"$dir/moto.pid"
  local endpoint="http://127.0.0.1:$port"
  local tries=0
  until curl -fsS -o /dev/null "$endpoint/" 2>/dev/null; do
    tries=$((tries + 1))
    if ! kill -0 "$(cat "$dir/moto.pid")" 2>/dev/null || [ "$tries" -ge 300 ]; then
      log "moto_server did not start; its log:"
      cat "$dir/moto.log" >&2
      stop "$dir"
      exit 1
    fi
    sleep 0.1
  done
  # moto does not check signatures: an unsigned request creates the bucket.
  if ! curl -fsS -o /dev/null -X PUT "$endpoint/$BUCKET"; then
    log "cannot create the bucket $BUCKET; moto's log:"
    cat "$dir/moto.log" >&2
    stop "$dir"
    exit 1
  fi
  log "moto is up at $endpoint with the bucket $BUCKET"
  echo "export FOLDSTORE_TEST_S3=s3://$BUCKET"
  echo "export AWS_ENDPOINT_URL=$endpoint"
  echo "export AWS_ALLOW_HTTP=true"
  echo "export AWS_ACCESS_KEY_ID=$ACCESS_KEY"
  echo "export AWS_SECRET_ACCESS_KEY=$SECRET_KEY"
  echo "export AWS_REGION=$REGION"
}

stop() {
  local dir="$1"
  local pidfile="$dir/moto.pid"
  [ -f "$pidfile" ] || return 0
  local pid
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$pidfile"
}

[ $# -eq 2 ] || usage
case "$1" in
  start) start "$2" ;;
  stop) stop "$2" ;;
  *) usage ;;
esac
