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
# The write paths of the server against real clients: curl writes to /write
# and /api/v2/write (tests/http_write.rs, tests/http_bad_input.rs);
# Prometheus 2.42 scrapes node_exporter and remote-writes to and reads from
# Chronicle (tests/remote_write_prometheus.rs); the Python OpenTelemetry SDK
# exports to /v1/metrics (tests/otlp_python_sdk.rs); the Python
# influxdb-client writes to /api/v2/write (tests/influxdb_client_python.rs).
missing_debs=()
command -v curl >/dev/null 2>&1 || missing_debs+=(curl)
command -v prometheus >/dev/null 2>&1 || missing_debs+=(prometheus)
command -v prometheus-node-exporter >/dev/null 2>&1 || missing_debs+=(prometheus-node-exporter)
if [ "${#missing_debs[@]}" -gt 0 ]; then
  sudo=""
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then sudo="sudo"; fi
  if ! apt-cache show prometheus >/dev/null 2>&1; then
    $sudo apt-get update -qq >/dev/null
  fi
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing_debs[@]}" >/dev/null
  # The tests start their own Prometheus and node_exporter on free loopback
  # ports; the packaged services, where they started, must not keep running.
  for service in prometheus prometheus-node-exporter; do
    if [ -x "/etc/init.d/$service" ]; then $sudo "/etc/init.d/$service" stop >/dev/null 2>&1 || true; fi
  done
fi
if ! python3 -c "import opentelemetry.sdk, opentelemetry.exporter.otlp.proto.http" 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore \
    opentelemetry-sdk opentelemetry-exporter-otlp-proto-http
fi
if ! python3 -c "import influxdb_client" 2>/dev/null; then
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore influxdb-client
fi
