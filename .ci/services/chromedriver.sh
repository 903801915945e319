#!/usr/bin/env bash
# Headless Chromium for the browser tests (crates/foldstore-cli/tests/browser.rs), driven over
# WebDriver by Debian's chromedriver.
#
#   bash .ci/services/chromedriver.sh start DIR   starts chromedriver on a free port of
#                                                 127.0.0.1 (its pid and log in DIR), and prints
#                                                 on stdout only shell lines to eval:
#                                                 export FOLDSTORE_TEST_WEBDRIVER=http://...
#                                                 export FOLDSTORE_TEST_CHROMIUM=/usr/bin/chromium
#   bash .ci/services/chromedriver.sh stop DIR    stops it.
#
# If chromium or chromedriver is missing, they are installed with apt-get (the Debian packages
# `chromium` and `chromium-driver`). Everything else goes to stderr.
set -euo pipefail

log() { echo "chromedriver.sh: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}

[ $# -eq 2 ] || { echo "usage: bash .ci/services/chromedriver.sh start|stop DIR" >&2; exit 2; }
action="$1"
dir="$2"

free_port() {
  python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

start() {
  if ! command -v chromedriver >/dev/null 2>&1 || ! command -v chromium >/dev/null 2>&1; then
    log "no chromium or chromedriver found: installing them with apt-get"
    [ "$(id -u)" -eq 0 ] || die "chromium is not installed and this is not root: install the 'chromium' and 'chromium-driver' packages"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq chromium chromium-driver >&2
  fi
  local driver browser port
  driver="$(command -v chromedriver)" || die "chromedriver was installed but is not on PATH"
  browser="$(command -v chromium)" || die "chromium was installed but is not on PATH"
  mkdir -p "$dir"
  port="$(free_port)" || die "no free TCP port found on 127.0.0.1"
  log "starting $driver on 127.0.0.1:$port"
  "$driver" --port="$port" --allowed-ips=127.0.0.1 >"$dir/chromedriver.log" 2>&1 &
  echo $! >"$dir/pid"
  for _ in $(seq 1 100); do
    if (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      log "ready on 127.0.0.1:$port"
      echo "export FOLDSTORE_TEST_WEBDRIVER=http://127.0.0.1:$port"
      echo "export FOLDSTORE_TEST_CHROMIUM=$browser"
      return 0
    fi
    sleep 0.1
  done
  cat "$dir/chromedriver.log" >&2 || true
  die "chromedriver does not accept connections on 127.0.0.1:$port after 10 s (its log is above)"
}

stop() {
  if [ ! -f "$dir/pid" ]; then
    log "no chromedriver started in $dir: nothing to stop"
    return 0
  fi
  local pid
  pid="$(cat "$dir/pid")"
  kill "$pid" 2>/dev/null || true
  rm -f "$dir/pid"
}

case "$action" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: bash .ci/services/chromedriver.sh start|stop DIR" >&2; exit 2 ;;
esac
