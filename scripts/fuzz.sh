#!/usr/bin/env bash
# Runs decoder fuzz targets for SECONDS each (default 600), JOBS at a time
# (default 1: the machine is shared), and prints per target the executions,
# the executions per second, the corpus growth and the artifacts (crashes).
# TARGETS default to every target (`cargo fuzz list`). Not part of CI: CI
# replays the committed corpora (tests/fuzz_corpus.rs).
# Needs: cargo install cargo-fuzz.
# Usage: scripts/fuzz.sh [SECONDS] [JOBS] [TARGET...]
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
seconds=${1:-600}
jobs=${2:-1}
shift $(( $# < 2 ? $# : 2 ))
RUSTC_BOOTSTRAP=1 cargo fuzz build --release >/dev/null
mkdir -p logs
if [ $# -gt 0 ]; then targets="$*"; else targets=$(RUSTC_BOOTSTRAP=1 cargo fuzz list); fi
printf '%s\n' $targets | xargs -P "$jobs" -I{} sh -c \
  "RUSTC_BOOTSTRAP=1 cargo fuzz run --release {} -- -max_total_time=$seconds -rss_limit_mb=2048 -print_final_stats=1 > logs/{}.log 2>&1; echo \"{} exit \$?\""
stat() { grep -oE "stat::$1: *[0-9]+" "logs/$2.log" | grep -oE '[0-9]+$' || echo '?'; }
for t in $targets; do
  crashes=$(ls "artifacts/$t" 2>/dev/null | wc -l)
  printf '%s\tseconds=%s\texecutions=%s\texec_per_sec=%s\tnew_units=%s\tartifacts=%s\n' "$t" "$seconds" \
    "$(stat number_of_executed_units "$t")" "$(stat average_exec_per_sec "$t")" "$(stat new_units_added "$t")" "$crashes"
done
