#!/usr/bin/env bash
# Ingest benchmark against peers: the same TSBS cpu-only data (scale 100,
# 1 day at 10 s: 8,640,000 samples) sent by benches/ingest_load.rs over 4
# connections to, one at a time, each on loopback with a fresh data
# directory and its default durability settings:
#
#   chronicle         remote write   (POST /api/v1/write, 5,000 samples a request)
#   prometheus 2.42   remote write   (--web.enable-remote-write-receiver, out-of-order window 1d)
#   victoriametrics   remote write   (Debian `victoria-metrics`, 1.79)
#   chronicle         line protocol  (POST /write, 5,000 lines a request)
#   influxdb 1.6      line protocol  (influxd with a config of its own)
#
# Prints TSV under the header
#   server protocol samples seconds samples_per_sec disk_bytes bytes_per_sample peak_rss_mb
#
# - seconds: from the generator's first request to its last answer; every
#   body is encoded before the clock starts (see benches/ingest_load.rs).
# - disk_bytes: `du -sb` of the server's data directory once it has flushed:
#   * chronicle: stopped with SIGTERM (flushes the head, checkpoints the WAL,
#     closes); counts the database file, what is left of its WAL directory
#     and the lock file.
#   * prometheus: stopped with SIGTERM. Prometheus does not compact its head
#     on shutdown: the samples not yet in a persisted block are in the WAL
#     (wal/, compressed, the default) and the memory-mapped head chunks
#     (chunks_head/), which is where it keeps them across restarts. Counted:
#     blocks cut during the run, wal/, chunks_head/, lock and queries.active.
#   * victoriametrics: GET /internal/force_flush (in-memory parts to disk),
#     then counted while it runs: data/ (parts), indexdb/, metadata; then
#     stopped with SIGTERM.
#   * influxdb: stopped with SIGTERM; counts meta/, data/ (TSM files and the
#     inmem index's series file) and wal/ (what the cache held at shutdown
#     stays there until the next start).
# - peak_rss_mb: the server process's maximum resident set size over its
#   whole life, start to exit, from `/usr/bin/time -v` (the kernel's
#   high-water mark at exit, so shutdown and flush count too).
#
# Chronicle is built with the `bench` profile: the release profile plus line
# tables for profilers (same optimisations). One `cargo bench --no-run`
# builds the server binary and the load generator together (cargo builds a
# package's binaries for its benches), so both share one feature resolution
# and DataFusion is compiled once.
#
# Not part of CI. Needs prometheus, victoria-metrics and influxdb (installed
# with apt-get when missing), curl, python3 and GNU time. Arguments are
# passed to the load generator, e.g. `--hosts 10 --steps 360` for a quick
# trial. KEEP=1 keeps the working directory (logs, data) for a look;
# PROFILE=dev builds without optimisation (a quick check of the script,
# figures meaningless).
set -euo pipefail

cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
LOAD_ARGS=("$@")
PROFILE=${PROFILE:-bench}
case "$PROFILE" in dev) OUT=debug ;; bench | release) OUT=release ;; *) OUT=$PROFILE ;; esac
WORK=$(mktemp -d "${TMPDIR:-/tmp}/chronicle-peers.XXXXXX")
NAME=ingest_peers
# shellcheck source=benches/server_processes.sh
. benches/server_processes.sh
trap cleanup EXIT

# Settings from the environment would change what is measured.
for var in $(compgen -e); do
  case "$var" in CHRONICLE_* | INFLUXDB_*) unset "$var" ;; esac
done

# --- what it needs ---------------------------------------------------------
install_missing prometheus:prometheus victoria-metrics:victoria-metrics influxd:influxdb curl:curl
log "building chronicle and the load generator (profile $PROFILE)"
cargo bench --quiet --profile "$PROFILE" --bench ingest_load --no-run
CHRONICLE="$CARGO_TARGET_DIR/$OUT/chronicle"

# --- helpers ---------------------------------------------------------------
# load PROTOCOL URL: runs the generator; prints "samples seconds".
load() {
  local out
  if ! out=$(cargo bench --quiet --profile "$PROFILE" --bench ingest_load -- --protocol "$1" --url "$2" "${LOAD_ARGS[@]}"); then
    log "the load generator failed against $2"; exit 1
  fi
  echo "$out" | awk -F'\t' 'END { print $2, $5 }'
}

ROWS=()
# row SERVER PROTOCOL SAMPLES SECONDS DISK_BYTES RSS_KB
row() {
  ROWS+=("$(awk -v s="$1" -v p="$2" -v n="$3" -v t="$4" -v d="$5" -v r="$6" 'BEGIN {
    printf "%s\t%s\t%d\t%.3f\t%.0f\t%d\t%.4f\t%.1f", s, p, n, t, n / t, d, d / n, r / 1024 }')")
  log "${ROWS[-1]}"
}

disk() { du -sb "$1" | cut -f1; }

# --- the runs --------------------------------------------------------------
run_chronicle() { # PROTOCOL PATH
  local dir="$WORK/chronicle-$1"
  start "chronicle-$1" "$CHRONICLE" serve --data-dir "$dir/data" --http-addr 127.0.0.1:0
  local addr result
  addr=$(chronicle_addr "chronicle-$1")
  result=$(load "$1" "http://$addr$2")
  stop "chronicle-$1"
  row chronicle "$1" $result "$(disk "$dir/data")" "$RSS_KB"
}

run_prometheus() {
  local dir="$WORK/prometheus" result
  start_prometheus prometheus "$dir"
  result=$(load remote-write "$PROMETHEUS_URL/api/v1/write")
  stop prometheus
  row prometheus remote-write $result "$(disk "$dir/tsdb")" "$RSS_KB"
}

run_victoriametrics() {
  local dir="$WORK/victoriametrics" port
  port=$(free_port)
  # The data is from 2026-01-01: a retention longer than its age keeps it.
  start victoriametrics victoria-metrics -storageDataPath="$dir/data" -httpListenAddr="127.0.0.1:$port" \
    -retentionPeriod=100y -loggerLevel=WARN
  wait_ready victoriametrics "http://127.0.0.1:$port/health"
  local result bytes
  result=$(load remote-write "http://127.0.0.1:$port/api/v1/write")
  curl -fsS -o /dev/null "http://127.0.0.1:$port/internal/force_flush"
  bytes=$(disk "$dir/data")
  stop victoriametrics
  row victoriametrics remote-write $result "$bytes" "$RSS_KB"
}

run_influxdb() {
  local dir="$WORK/influxdb" http rpc
  http=$(free_port)
  rpc=$(free_port)
  mkdir -p "$dir/files"
  cat >"$dir/influxdb.conf" <<EOF
reporting-enabled = false
bind-address = "127.0.0.1:$rpc"
[meta]
  dir = "$dir/files/meta"
[data]
  dir = "$dir/files/data"
  wal-dir = "$dir/files/wal"
  query-log-enabled = false
[monitor]
  store-enabled = false
[retention]
  enabled = false
[continuous_queries]
  enabled = false
[http]
  bind-address = "127.0.0.1:$http"
  log-enabled = false
[logging]
  level = "warn"
EOF
  start influxdb influxd run -config "$dir/influxdb.conf"
  wait_ready influxdb "http://127.0.0.1:$http/ping"
  curl -fsS -o /dev/null -XPOST "http://127.0.0.1:$http/query" --data-urlencode 'q=CREATE DATABASE bench'
  local result
  result=$(load line-protocol "http://127.0.0.1:$http/write?db=bench&precision=ns")
  stop influxdb
  row influxdb line-protocol $result "$(disk "$dir/files")" "$RSS_KB"
}

run_chronicle remote-write /api/v1/write
run_prometheus
run_victoriametrics
run_chronicle line-protocol '/write?db=bench&precision=ns'
run_influxdb

printf 'server\tprotocol\tsamples\tseconds\tsamples_per_sec\tdisk_bytes\tbytes_per_sample\tpeak_rss_mb\n'
printf '%s\n' "${ROWS[@]}"
