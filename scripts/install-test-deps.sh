#!/usr/bin/env bash
# Installs what the tests talk to, if missing: DuckDB for Python (reads the
# Parquet files Chronicle exports). Idempotent and quick when all is there.
set -euo pipefail
if ! python3 -c "import duckdb" 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore duckdb
fi
