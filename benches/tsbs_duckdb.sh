#!/usr/bin/env bash
# TSBS queries on Chronicle and on DuckDB in the same run: builds and runs
# the bench binary benches/tsbs_duckdb.rs, which loads the TSBS cpu-only day
# into Chronicle, exports it to Parquet with Chronicle's own export, starts
# DuckDB over that file (benches/tsbs_duckdb.py, answers fetched as Arrow)
# and times the fourteen TSBS query types on both, comparing every answer.
#
# Prints TSV under the header `query chronicle_ms duckdb_ms ratio` (medians
# of 10 runs per engine; ratio = chronicle / duckdb). Installs the Python
# packages duckdb and pyarrow if missing. Not run by CI.
#
# usage: benches/tsbs_duckdb.sh
# Environment: TSBS_QUERIES=lastpoint,high-cpu-all runs only those query
# types; TSBS_ITERATIONS=N times N runs instead of 10.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/python_packages.sh
. scripts/python_packages.sh
need_python duckdb duckdb
need_python pyarrow pyarrow

cargo bench --bench tsbs_duckdb
