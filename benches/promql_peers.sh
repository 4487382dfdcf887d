#!/usr/bin/env bash
# PromQL cross-check against Prometheus: the same day of dashboard data in
# `chronicle serve` and in Prometheus 2.42, then the same range queries to
# both, compared and timed (benches/promql_peers.rs).
#
# The data, sent by benches/ingest_load.rs (`--data dashboard`) to each
# server's remote-write endpoint, each with a fresh data directory:
#   - TSBS cpu-only, scale 100, 1 day at 10 s from 2026-01-01T00:00:05Z
#     (cpu_usage_user{hostname,region,datacenter,...} and nine more);
#   - per host, node_exporter-like counters (node_cpu_seconds_total{cpu,mode},
#     node_network_{receive,transmit}_bytes_total{device}, with rare resets)
#     and a classic histogram (http_request_duration_seconds_bucket{handler,le},
#     _sum, _count), labelled hostname and region, at the same times:
#   4,200 series, 36,288,000 samples.
# Every sample is 5 s past a multiple of 10 s and the queries run 30 s past
# whole minutes, so no sample and no subquery step lies on the edge of a
# range, lookback or subquery window, where Prometheus 2 (closed windows)
# and Prometheus 3 (left-open, which Chronicle follows) differ.
#
# Once both have the data, Prometheus is left to cut its blocks (until its
# compaction counters stay still for 90 s); then the queries run, one at a
# time, alternating between the servers.
#
# Prints TSV under the header
#   query match chronicle_ms prometheus_ms ratio
# (ratio = chronicle / prometheus, each the median of --runs timed requests
# after one compared warm-up request), then `matching N of M` and
# `median ratio R`; mismatches are described on stderr (their answers are
# kept with KEEP=1 under $WORK/mismatches). The load rates and the servers'
# peak RSS go to stderr too.
#
# Both servers are built and started as benches/ingest_peers.sh does
# (profile `bench`: release plus line tables, for perf). The binaries are
# copied into the working directory as soon as they are built, so a later
# build in the same target directory cannot change what runs. Not part of
# CI. Needs prometheus, curl, python3 and GNU time. Arguments go to the
# query runner (e.g. `--runs 3`, `--only histogram_quantile`). KEEP=1 keeps
# the working directory; PROFILE=dev builds without optimisation (a check
# of the script, figures meaningless); STEPS=360 loads an hour instead of a
# day (a quick trial: most queries then find no data at their times);
# PEERS_BIN=DIR runs the chronicle, ingest_load and promql_peers binaries
# in DIR instead of building them.
set -euo pipefail

cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
QUERY_ARGS=("$@")
PROFILE=${PROFILE:-bench}
STEPS=${STEPS:-8640}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/chronicle-promql-peers.XXXXXX")
NAME=promql_peers
# shellcheck source=benches/server_processes.sh
. benches/server_processes.sh
trap cleanup EXIT

for var in $(compgen -e); do
  case "$var" in CHRONICLE_*) unset "$var" ;; esac
done

install_missing prometheus:prometheus curl:curl

# --- build, then copy what runs ---------------------------------------------
mkdir -p "$WORK/bin"
if [ -n "${PEERS_BIN:-}" ]; then
  log "using the binaries in $PEERS_BIN"
  cp "$PEERS_BIN/chronicle" "$PEERS_BIN/ingest_load" "$PEERS_BIN/promql_peers" "$WORK/bin/"
else
  log "building chronicle, the load generator and the query runner (profile $PROFILE)"
  # Checkouts sharing a target directory (git worktrees) get the same output
  # names for this crate, and cargo takes an output newer than every source
  # file for fresh, even one another checkout built: the touch makes this
  # checkout's sources the newest.
  touch src/lib.rs
  cargo bench --quiet --profile "$PROFILE" --bench ingest_load --bench promql_peers --no-run \
    --message-format=json-render-diagnostics >"$WORK/build.json"
  python3 - "$WORK/build.json" "$WORK/bin" <<'EOF'
import json, shutil, sys
wanted = {"chronicle", "ingest_load", "promql_peers"}
found = set()
for line in open(sys.argv[1]):
    message = json.loads(line)
    name = message.get("target", {}).get("name")
    if message.get("reason") == "compiler-artifact" and name in wanted and message.get("executable"):
        shutil.copy2(message["executable"], f"{sys.argv[2]}/{name}")
        found.add(name)
if found != wanted:
    sys.exit(f"promql_peers: the build made no {sorted(wanted - found)}")
EOF
fi
BIN="$WORK/bin"

# --- the servers, loaded ------------------------------------------------------
start chronicle "$BIN/chronicle" serve --data-dir "$WORK/chronicle/data" --http-addr 127.0.0.1:0 \
  --flight-addr 127.0.0.1:0 --query-timeout 2m
CHRONICLE_PIDS=("$SERVER_PID" "$TIME_PID")
CHRONICLE_URL="http://$(chronicle_addr chronicle)"
start_prometheus prometheus "$WORK/prometheus"
PROMETHEUS_PIDS=("$SERVER_PID" "$TIME_PID")

load() { # NAME URL
  local out
  out=$("$BIN/ingest_load" --protocol remote-write --url "$2/api/v1/write" --data dashboard --shift-ms 5000 \
    --steps "$STEPS") || { log "loading $1 failed"; exit 1; }
  log "$1 loaded: $(echo "$out" | awk -F'\t' 'END { printf "%d samples in %.1f s (%.0f samples/s)", $2, $5, $6 }')"
}
load chronicle "$CHRONICLE_URL"
load prometheus "$PROMETHEUS_URL"

# Prometheus compacts its head into blocks in the background (a check a
# minute, counted by compactions_triggered_total whether or not it finds
# work, so that counter is not watched); queries should not race that.
compactions() {
  curl -fsS "$PROMETHEUS_URL/metrics" |
    awk '/^prometheus_tsdb_(compactions_total|blocks_loaded|head_truncations_total) / { s = s $2 " " } END { print s }'
}
last=$(compactions)
still=0
for _ in $(seq 120); do
  sleep 10
  now=$(compactions)
  if [ "$now" = "$last" ]; then still=$((still + 10)); else still=0; last=$now; fi
  [ "$still" -ge 90 ] && break
done
log "prometheus settled (compactions, blocks, head truncations: $last)"

# --- the queries ----------------------------------------------------------------
mkdir -p "$WORK/mismatches"
"$BIN/promql_peers" --chronicle "$CHRONICLE_URL" --prometheus "$PROMETHEUS_URL" --dump "$WORK/mismatches" \
  "${QUERY_ARGS[@]}"

stop chronicle "${CHRONICLE_PIDS[@]}"
log "chronicle peak RSS $((RSS_KB / 1024)) MB"
stop prometheus "${PROMETHEUS_PIDS[@]}"
log "prometheus peak RSS $((RSS_KB / 1024)) MB"
