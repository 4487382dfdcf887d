#!/usr/bin/env bash
# Flight SQL throughput (benches/flight_throughput.py): builds the release
# binary once, starts `chronicle serve` on free loopback ports over a fresh
# data directory, runs the Python script against it (ADBC ingest of TSBS
# cpu-only points, then the same rows read through Flight SQL, from a
# Parquet export and as HTTP JSON), and stops the server.
#
# Needs what scripts/install-test-deps.sh installs for tests/flight_python.rs
# (adbc-driver-flightsql, pyarrow) and numpy. Not run by CI.
#
# usage: benches/flight_throughput.sh [flight_throughput.py options, e.g. --points 1000000]
# The built binary is copied into the run's own directory before it starts,
# so another build in the same target directory cannot replace it mid-run.
set -euo pipefail
cd "$(dirname "$0")/.."

target="${CARGO_TARGET_DIR:-target}"
cargo build --release --bin chronicle
work="$(mktemp -d -t chronicle-flight-bench.XXXXXX)"
server_pid=""
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid"
    wait "$server_pid" || true
  fi
  rm -rf "$work"
}
trap cleanup EXIT
cp "$target/release/chronicle" "$work/chronicle"

# Generous limits: the whole table goes out in one response (JSON and
# Parquet are far larger than the 30 s default allows).
"$work/chronicle" serve --data-dir "$work/data" --http-addr 127.0.0.1:0 --flight-addr 127.0.0.1:0 \
  --query-timeout 30m --log-level warn >"$work/stdout" 2>"$work/stderr" &
server_pid=$!
for _ in $(seq 1 600); do
  [ "$(wc -l <"$work/stdout")" -ge 2 ] && break
  kill -0 "$server_pid" 2>/dev/null || { cat "$work/stderr" >&2; exit 1; }
  sleep 0.1
done
http="$(sed -n 's/^listening on //p' "$work/stdout")"
flight="$(sed -n 's/^flight on //p' "$work/stdout")"
[ -n "$http" ] && [ -n "$flight" ] || { echo "the server did not say where it listens" >&2; exit 1; }

python3 benches/flight_throughput.py --flight "$flight" --http "$http" --dir "$work" "$@"
