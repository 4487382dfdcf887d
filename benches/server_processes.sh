# Sourced by the peer benchmarks (ingest_peers.sh, promql_peers.sh): one
# server at a time as a child of GNU time, its output and log in $WORK.
# The sourcing script sets WORK and NAME (its log prefix) first and calls
# `trap cleanup EXIT`.
#
# Globals: TIME_PID (the last started `time` process), SERVER_PID (the
# server, its child), RSS_KB (the last stopped server's peak RSS), RUNNING
# (the servers not yet stopped, "SERVER_PID:TIME_PID" each, killed by
# cleanup).
TIME_PID=""
SERVER_PID=""
RSS_KB=""
RUNNING=()

log() { echo "$NAME: $*" >&2; }

cleanup() {
  local pids
  for pids in "${RUNNING[@]}"; do
    kill -KILL "${pids%:*}" 2>/dev/null || true
    wait "${pids#*:}" 2>/dev/null || true
  done
  if [ "${KEEP:-0}" = 1 ]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start NAME COMMAND...: runs COMMAND under GNU time; sets TIME_PID and
# SERVER_PID (the server itself, a child of time).
start() {
  local name=$1
  shift
  /usr/bin/time -v -o "$WORK/$name.time" "$@" >"$WORK/$name.out" 2>"$WORK/$name.log" &
  TIME_PID=$!
  SERVER_PID=""
  for _ in $(seq 100); do
    SERVER_PID=$(pgrep -P "$TIME_PID" || true)
    if [ -n "$SERVER_PID" ]; then
      RUNNING+=("$SERVER_PID:$TIME_PID")
      return
    fi
    sleep 0.05
  done
  log "$name did not start"; cat "$WORK/$name.log" >&2; exit 1
}

# install_missing COMMAND:PACKAGE...: installs from Debian the package of
# each COMMAND not on PATH (the packages' own services are not wanted:
# each server here runs on its own port with its own directory).
install_missing() {
  local missing=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
  done
  [ -x /usr/bin/time ] || missing+=(time)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

# wait_ready NAME URL: until URL answers 2xx (60 s at most).
wait_ready() {
  for _ in $(seq 600); do
    if curl -fsS -o /dev/null "$2" 2>/dev/null; then return; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then break; fi
    sleep 0.1
  done
  log "$1 is not ready at $2"; cat "$WORK/$1.log" >&2; exit 1
}

# chronicle_addr NAME: the address `chronicle serve` started as NAME
# printed (`listening on http://ADDR`), waited for up to 60 s.
chronicle_addr() {
  local addr=""
  for _ in $(seq 600); do
    addr=$(sed -n 's|^listening on http://||p' "$WORK/$1.out")
    [ -n "$addr" ] && { echo "$addr"; return; }
    sleep 0.1
  done
  log "$1 printed no address"; cat "$WORK/$1.log" >&2; exit 1
}

# stop NAME [SERVER_PID TIME_PID]: SIGTERM to the server (by default the
# last started), wait for the exit (not in a subshell: only this shell can
# wait for its child); sets RSS_KB to the peak RSS in kB.
stop() {
  local server=${2:-$SERVER_PID} time=${3:-$TIME_PID} pids kept=()
  kill -TERM "$server"
  wait "$time" || true
  for pids in "${RUNNING[@]}"; do
    [ "$pids" = "$server:$time" ] || kept+=("$pids")
  done
  RUNNING=("${kept[@]}")
  RSS_KB=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$WORK/$1.time")
  [ -n "$RSS_KB" ] || { log "no peak RSS for $1"; exit 1; }
}

# prometheus_config DIR: a Prometheus configuration that scrapes nothing
# and admits remote-written samples up to a day older than its newest: the
# loads shard series over connections that drift apart in time while a day
# of data is replayed, and Prometheus refuses samples more than an hour
# behind its newest ("out of bounds") unless an out-of-order window admits
# them.
prometheus_config() {
  printf 'global:\n  scrape_interval: 1h\nscrape_configs: []\nstorage:\n  tsdb:\n    out_of_order_time_window: 1d\n' >"$1/prometheus.yml"
}

# start_prometheus NAME DIR [FLAGS...]: Prometheus 2 with
# prometheus_config, its TSDB in DIR/tsdb, the remote-write receiver on,
# on a free port; sets PROMETHEUS_URL once it is ready.
start_prometheus() {
  local name=$1 dir=$2 port
  shift 2
  port=$(free_port)
  mkdir -p "$dir"
  prometheus_config "$dir"
  start "$name" prometheus --config.file="$dir/prometheus.yml" --storage.tsdb.path="$dir/tsdb" \
    --web.listen-address="127.0.0.1:$port" --web.enable-remote-write-receiver --log.level=warn "$@"
  PROMETHEUS_URL="http://127.0.0.1:$port"
  wait_ready "$name" "$PROMETHEUS_URL/-/ready"
}
