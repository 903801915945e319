#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the tests.
#
#   bash .ci/services/postgres.sh start DIR   starts a cluster whose files live in DIR, and prints
#                                             on stdout only shell lines to eval:
#                                             export FOLDSTORE_TEST_POSTGRES=postgres://...
#   bash .ci/services/postgres.sh stop DIR    stops it (and leaves DIR for the caller to remove).
#
# Everything else (progress, the server's log on failure) goes to stderr. The server listens on
# 127.0.0.1 only, on a free port, with trust authentication, and puts its unix socket in DIR.
# PostgreSQL refuses to run as root: as root, the cluster is made and run as the `postgres`
# user (created by the Debian package), which must be able to reach DIR's parent folder.
# If no PostgreSQL is installed, it is installed with apt-get.
set -euo pipefail

log() { echo "postgres.sh: $*" >&2; }
die() {
  log "error: $*"
  exit 1
}

usage() {
  echo "usage: bash .ci/services/postgres.sh start|stop DIR" >&2
  exit 2
}

[ $# -eq 2 ] || usage
action="$1"
dir="$2"
case "$dir" in
  /*) ;;
  *) dir="$PWD/$dir" ;;
esac

# The folder holding initdb, pg_ctl and pg_isready: PATH first, then the Debian layout (the
# newest version installed).
find_bindir() {
  local initdb
  if initdb="$(command -v initdb 2>/dev/null)" && [ -n "$initdb" ]; then
    dirname "$(readlink -f "$initdb")"
    return 0
  fi
  local candidate
  for candidate in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    if [ -x "$candidate/initdb" ] && [ -x "$candidate/pg_ctl" ]; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

# Runs a command as the user that owns the cluster.
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
    return 0
  fi
  # No python: try ports until one is not taken.
  local port
  for port in $(seq 15432 15999); do
    if ! (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  return 1
}

start() {
  local bindir
  if ! bindir="$(find_bindir)"; then
    log "no PostgreSQL found: installing it with apt-get"
    [ "$(id -u)" -eq 0 ] || die "PostgreSQL is not installed and this is not root: install the 'postgresql' package"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq postgresql >&2
    bindir="$(find_bindir)" || die "PostgreSQL was installed but initdb was not found under /usr/lib/postgresql/*/bin"
  fi
  log "using $bindir"

  if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root needs the 'postgres' user (the server refuses to run as root); install the 'postgresql' package or run as another user"
  fi

  [ -e "$dir/data" ] && die "$dir/data exists already: stop that cluster first, or use another folder"
  mkdir -p "$dir"
  if [ "$(id -u)" -eq 0 ]; then
    chown postgres: "$dir"
  fi
  chmod 700 "$dir"
  as_owner test -w "$dir" || die "the postgres user cannot write $dir: make its parent folders reachable (chmod 755)"

  local port
  port="$(free_port)" || die "no free TCP port found on 127.0.0.1"

  log "initdb in $dir/data"
  if ! as_owner "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1; then
    # Older versions know no C.UTF-8 locale: try plain C.
    if ! as_owner "$bindir/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C >"$dir/initdb.log" 2>&1; then
      cat "$dir/initdb.log" >&2
      die "initdb failed (its output is above)"
    fi
  fi

  # Settings for a throwaway test server: local TCP only, the socket in DIR, enough
  # connections for parallel tests, and no fsync (its data is thrown away after the tests).
  cat >>"$dir/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 300
fsync = off
synchronous_commit = on
full_page_writes = off
EOF

  log "starting the server on 127.0.0.1:$port"
  if ! as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start >&2; then
    cat "$dir/server.log" >&2 || true
    die "the server did not start (its log is above)"
  fi

  local ready=""
  for _ in $(seq 1 120); do
    if [ -x "$bindir/pg_isready" ]; then
      if "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres; then
        ready=1
        break
      fi
    elif (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      ready=1
      break
    fi
    sleep 0.5
  done
  if [ -z "$ready" ]; then
    cat "$dir/server.log" >&2 || true
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >&2 || true
    die "the server does not accept connections on 127.0.0.1:$port after 60 s (its log is above)"
  fi
  echo "$bindir" >"$dir/bindir"
  log "ready on 127.0.0.1:$port"
  echo "export FOLDSTORE_TEST_POSTGRES=postgres://postgres@127.0.0.1:$port/postgres"
}

stop() {
  if [ ! -d "$dir/data" ]; then
    log "no cluster in $dir: nothing to stop"
    return 0
  fi
  local bindir
  bindir="$(cat "$dir/bindir" 2>/dev/null || find_bindir)" || die "pg_ctl not found"
  if ! as_owner "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    log "the server in $dir is not running: nothing to stop"
    return 0
  fi
  log "stopping the server in $dir"
  as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 60 stop >&2 \
    || as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >&2 \
    || die "the server in $dir did not stop"
}

case "$action" in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
