#!/usr/bin/env bash
# Long SIGKILL soak, outside CI: the crash test with many more rounds.
# Usage: scripts/crash_soak.sh [ROUNDS] [SEED]   (defaults: 2000 rounds, seed 1)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds="${1:-2000}"
seed="${2:-1}"
start=$(date +%s)
CHRONICLE_CRASH_ROUNDS="$rounds" CHRONICLE_CRASH_SEED="$seed" \
  cargo test --release --test integration -- --nocapture --exact crash_kill::sigkill_never_loses_an_acknowledged_batch
echo "soak: $rounds rounds (seed $seed) in $(( $(date +%s) - start )) s"
