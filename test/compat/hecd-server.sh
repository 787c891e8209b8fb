#!/usr/bin/env bash
# hecd-server.sh - start hecd's etcd-v2 store on loopback with exactly the
# interface of the shared spec's etcd-reference.sh, so the golden transcripts
# (etcd-v2-golden/record/run.sh) can be replayed against hecd via SERVER_SCRIPT.
#
# Usage:
#   HECD_BIN=path/to/hecd hecd-server.sh CLIENT_PORT [PEER_PORT]   start; prints the PID on stdout
#   hecd-server.sh stop PID                                        stop an instance started by this script
#
# The instance is a single member named "ref" with a fresh data directory under
# a new temporary directory; its log is written next to the data directory (the
# path is printed on stderr). The script waits (up to about 20 s) until /health
# reports {"health":"true"}.
# Set ETCD_REF_DATA_DIR to use (and keep) a given data directory instead, e.g. to
# restart a stopped instance on its previous state; its log is then DIR.log, and
# "stop" deletes neither.
# Set HECD_LOG_DIR to write the log to HECD_LOG_DIR/hecd-CLIENT_PORT.log instead
# (appended to; kept by "stop"), e.g. so that a test can keep the server logs.
set -euo pipefail

die() { echo "hecd-server: $*" >&2; exit 1; }

if [ "${1:-}" = "stop" ]; then
  pid=${2:?usage: hecd-server.sh stop PID}
  [[ $pid =~ ^[0-9]+$ ]] || die "PID must be a number"
  [ -r "/proc/$pid/cmdline" ] || die "no process $pid"
  args=$(tr '\0' '\n' < "/proc/$pid/cmdline" 2>/dev/null || true)
  grep -qx 'store' <<< "$args" || die "process $pid is not a hecd store"
  dir=$(sed -n '/^--data-dir$/{n;p}' <<< "$args")
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  case "$dir" in */hecd-ref.*/data) rm -rf "${dir%/data}" ;; esac
  exit 0
fi

client_port=${1:?usage: hecd-server.sh CLIENT_PORT [PEER_PORT]}
peer_port=${2:-$((client_port + 10))}
[[ $client_port =~ ^[0-9]+$ && $peer_port =~ ^[0-9]+$ ]] || die "ports must be numbers"
[ -n "${HECD_BIN:-}" ] || die "set HECD_BIN to the hecd binary"
[ -x "$HECD_BIN" ] || die "HECD_BIN=$HECD_BIN is not an executable file"
command -v curl >/dev/null 2>&1 || die "curl is required"

if [ -n "${ETCD_REF_DATA_DIR:-}" ]; then
  data_dir=${ETCD_REF_DATA_DIR%/}
  mkdir -p "$(dirname "$data_dir")"
  log="$data_dir.log"
else
  base=$(mktemp -d -t hecd-ref.XXXXXX)
  data_dir="$base/data"
  log="$base/hecd.log"
fi
if [ -n "${HECD_LOG_DIR:-}" ]; then
  mkdir -p "$HECD_LOG_DIR"
  log="$HECD_LOG_DIR/hecd-$client_port.log"
fi
host=127.0.0.1
curl_url="http://$host:$client_port"
peer_url="http://$host:$peer_port"

# Same precaution as etcd-reference.sh: nothing from the environment may change
# the server's behaviour.
unset ETCD_NAME ETCD_DATA_DIR ETCD_INITIAL_CLUSTER_STATE ETCD_INITIAL_CLUSTER ETCD_LISTEN_CLIENT_URLS \
      ETCD_ADVERTISE_CLIENT_URLS ETCD_ENABLE_V2 ETCDCTL_API 2>/dev/null || true

# Appending (not truncating) keeps the log of the first run when the restart
# area starts a second instance on the same data directory.
nohup "$HECD_BIN" store \
  --name ref \
  --data-dir "$data_dir" \
  --listen-client-urls "$curl_url" \
  --advertise-client-urls "$curl_url" \
  --listen-peer-urls "$peer_url" \
  --initial-advertise-peer-urls "$peer_url" \
  --initial-cluster "ref=$peer_url" \
  --initial-cluster-state new \
  --cors '*' \
  >>"$log" 2>&1 &
pid=$!

for _ in $(seq 1 100); do
  if ! kill -0 "$pid" 2>/dev/null; then
    tail -n 20 "$log" >&2
    die "hecd exited during start-up (log: $log)"
  fi
  if curl -fsS --max-time 2 "$curl_url/health" 2>/dev/null | grep -q '"health":"true"'; then
    echo "hecd-server: hecd store on $curl_url (peer $peer_url), data $data_dir, log $log" >&2
    echo "$pid"
    exit 0
  fi
  sleep 0.2
done
kill "$pid" 2>/dev/null || true
tail -n 20 "$log" >&2
die "hecd did not become healthy in time (log: $log)"
