//! ADBC Flight SQL from Python, as data scientists use it
//! (tests/python/test_flight_*.py, pytest): `chronicle serve` runs as a
//! real process on free ports and each script talks to it with
//! `adbc-driver-flightsql`, pyarrow, pandas and polars. The scripts
//! compare every answer with values they generated themselves.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common;

use common::serving::Serving;

#[test]
fn adbc_queries_prepared_statements_and_metadata() {
    let server = Serving::start("flight_python_query");
    server.pytest("test_flight_query.py");
    server.stop();
}

#[test]
fn adbc_ingest_from_pandas_and_polars() {
    let server = Serving::start("flight_python_ingest");
    server.pytest("test_flight_ingest.py");
    server.stop();
}

#[test]
fn errors_reach_python_with_their_message() {
    let server = Serving::start("flight_python_errors");
    server.pytest("test_flight_errors.py");
    server.stop();
}

#[test]
fn a_large_result_streams_with_bounded_server_memory() {
    let server = Serving::start("flight_python_large");
    server.pytest("test_flight_large.py");
    server.stop();
}

#[test]
fn flight_queries_take_the_servers_query_slots() {
    // The script's timings assume these two settings.
    let settings = [("--max-concurrent-queries", "1"), ("--query-timeout", "3s")];
    let server = Serving::start_with("flight_python_limits", &settings);
    server.pytest("test_flight_limits.py");
    server.stop();
}
