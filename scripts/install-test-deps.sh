#!/usr/bin/env bash
# Installs what the tests talk to, if missing. Idempotent and quick when all
# is there. The tests start every server they need themselves, on free
# loopback ports with directories of their own, so a packaged service that
# started on install is stopped: nothing should keep listening (InfluxDB's
# package would hold :8086).
#
# Debian packages:
# - influxdb (influxd 1.6): the reference the dialect and /query are compared
#   against (tests/influx_reference.rs, tests/influx_compat.rs);
# - influxdb-client (the `influx` 1.x CLI), run against Chronicle and influxd
#   (tests/influx_compat.rs);
# - curl: writes to /write and /api/v2/write (tests/http_write.rs,
#   tests/http_bad_input.rs);
# - prometheus (2.42) and prometheus-node-exporter: Prometheus scrapes
#   node_exporter and remote-writes to and reads from Chronicle
#   (tests/remote_write_prometheus.rs).
# Python packages:
# - duckdb reads the Parquet files Chronicle exports (tests/parquet_export.rs);
# - moto, an S3-compatible server the s3:// export is tested against
#   (tests/parquet_export_s3.rs; it brings boto3);
# - the OpenTelemetry SDK exports to /v1/metrics (tests/otlp_python_sdk.rs);
# - influxdb-client writes to /api/v2/write (tests/influxdb_client_python.rs);
# - ADBC's Flight SQL driver with pyarrow, pandas, polars and pytest query
#   and ingest over Flight SQL (tests/flight_python.rs running
#   tests/python/test_flight_*.py);
# - nbclient, nbformat, ipykernel and matplotlib execute the notebooks under
#   notebooks/ headless (tests/notebooks.rs running
#   tests/python/execute_notebook.py).
set -euo pipefail

# shellcheck source=scripts/python_packages.sh
. "$(dirname "$0")/python_packages.sh"
need_python duckdb duckdb
need_python "moto.server, boto3" 'moto[server]'
need_python "opentelemetry.sdk, opentelemetry.exporter.otlp.proto.http" \
  opentelemetry-sdk opentelemetry-exporter-otlp-proto-http
need_python influxdb_client influxdb-client
need_python "adbc_driver_flightsql, adbc_driver_manager, pyarrow, pandas, polars, pytest" \
  adbc-driver-flightsql adbc-driver-manager pyarrow pandas polars pytest
need_python "nbclient, nbformat, ipykernel, matplotlib" nbclient nbformat ipykernel matplotlib

# Each Debian package, by the program that says it is installed.
missing=()
command -v influxd >/dev/null 2>&1 || missing+=(influxdb)
command -v influx >/dev/null 2>&1 || missing+=(influxdb-client)
command -v curl >/dev/null 2>&1 || missing+=(curl)
command -v prometheus >/dev/null 2>&1 || missing+=(prometheus)
command -v prometheus-node-exporter >/dev/null 2>&1 || missing+=(prometheus-node-exporter)
if [ "${#missing[@]}" -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo"; fi
  if ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then
    $sudo apt-get update -qq >/dev/null
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  for service in influxdb prometheus prometheus-node-exporter; do
    if [ -x "/etc/init.d/$service" ]; then $sudo "/etc/init.d/$service" stop >/dev/null 2>&1 || true; fi
  done
fi
