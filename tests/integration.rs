//! Every integration test, as one test binary.
//!
//! Each file under `tests/` is a module here rather than a binary of its own:
//! a test binary links the whole engine (DataFusion included), so one binary
//! instead of one per file saves minutes of linking and gigabytes of disk.
//! `cargo test --test integration <module>::` runs one file's tests, e.g.
//! `cargo test --test integration promql_conformance:: -- --nocapture`.

mod common;

mod background_flush;
#[cfg(feature = "ballista")]
mod ballista;
#[cfg(all(feature = "ballista", feature = "cli"))]
mod ballista_cli;
#[cfg(feature = "cli")]
mod cli_data_dir;
#[cfg(feature = "cli")]
mod cli_serve;
mod codec_corruption;
mod codec_roundtrip;
mod compaction_policy;
mod corruption;
mod corruption_wal_spare;
mod crash_kill;
mod db_write_scan;
mod delete;
mod fault_injection;
#[cfg(feature = "cli")]
mod flight_python;
mod fuzz_corpus;
mod grafana_requests;
mod http_bad_input;
mod http_query;
mod http_server;
mod http_write;
mod influx_compat;
mod influx_reference;
mod influxdb_client_python;
mod ingest_fuzz_corpus;
mod ingest_json;
mod ingest_line_protocol;
mod ingest_otlp;
mod ingest_remote_write;
mod name_clashes;
mod native_histograms_prometheus;
#[cfg(feature = "cli")]
mod notebooks;
mod otlp_python_sdk;
mod parquet_export;
#[cfg(feature = "s3")]
mod parquet_export_s3;
mod prometheus_api;
mod promql_arrow;
mod promql_conformance;
mod promql_series_listing;
mod readme_examples;
mod remote_write_prometheus;
mod retention;
mod rollup;
mod rollup_delete;
mod rollup_dialect;
mod server_crash;
mod slt;
mod sql_corruption;
mod sql_differential;
mod sql_plan_rules;
mod sql_query;
mod sql_row_semantics;
mod sql_stats_path;
mod tier_differential;
mod tier_parquet_readers;
mod tier_prometheus_api;
#[cfg(feature = "s3")]
mod tier_s3;
