#!/usr/bin/env bash
# Runs every decoder fuzz target for SECONDS each (default 600), JOBS at a time
# (default 2), and prints executions and findings per target. Not part of CI.
# Needs: cargo install cargo-fuzz. Usage: scripts/fuzz.sh [SECONDS] [JOBS]
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-600}
jobs=${2:-2}
RUSTC_BOOTSTRAP=1 cargo fuzz build --release >/dev/null
mkdir -p logs
targets=$(RUSTC_BOOTSTRAP=1 cargo fuzz list)
printf '%s\n' $targets | xargs -P "$jobs" -I{} sh -c \
  "RUSTC_BOOTSTRAP=1 cargo fuzz run --release {} -- -max_total_time=$seconds -rss_limit_mb=2048 -print_final_stats=1 > logs/{}.log 2>&1; echo \"{} exit \$?\""
for t in $targets; do
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "logs/$t.log" | grep -oE '[0-9]+$' || echo '?')
  crashes=$(ls "artifacts/$t" 2>/dev/null | wc -l)
  printf '%s\texecutions=%s\tartifacts=%s\n' "$t" "$runs" "$crashes"
done
