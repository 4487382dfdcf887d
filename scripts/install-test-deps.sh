#!/usr/bin/env bash
# Installs what the tests talk to, if missing: DuckDB for Python (reads the
# Parquet files Chronicle exports), moto (an S3-compatible server the s3://
# export is tested against, tests/parquet_export_s3.rs; it brings boto3) and
# InfluxDB 1.x's `influxd` (the reference the InfluxQL-like dialect is
# compared against, tests/influx_reference.rs).
# Idempotent and quick when all is there.
set -euo pipefail
if ! python3 -c "import duckdb" 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore duckdb
fi
if ! python3 -c "import moto.server, boto3" 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore 'moto[server]'
fi
if ! command -v influxd >/dev/null 2>&1; then
  # Debian's `influxdb` package (1.6.x). The tests start their own influxd on
  # loopback with a config of their own; the packaged service is not needed.
  sudo=""
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo"; fi
  if ! apt-cache show influxdb >/dev/null 2>&1; then
    $sudo apt-get update -qq >/dev/null
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends influxdb >/dev/null
  # Where the package's service did start (no policy-rc.d), stop it: nothing
  # should listen on :8086 because a test needed the binary.
  if [ -x /etc/init.d/influxdb ]; then $sudo /etc/init.d/influxdb stop >/dev/null 2>&1 || true; fi
fi
if ! command -v influx >/dev/null 2>&1; then
  # The `influx` 1.x CLI (Debian's `influxdb-client`), run against Chronicle's
  # /query and against influxd by tests/influx_cli.rs.
  sudo=""
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo"; fi
  if ! apt-cache show influxdb-client >/dev/null 2>&1; then
    $sudo apt-get update -qq >/dev/null
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends influxdb-client >/dev/null
fi
