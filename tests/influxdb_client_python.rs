//! InfluxDB 2's official Python client (`influxdb-client`) writes to
//! `/api/v2/write` (tests/python/influxdb_client_write.py): Point objects
//! in seconds, line protocol in milliseconds and a gzip batch; every point
//! arrives at the time and with the value the script sent.
#![cfg(feature = "server")]
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common;

use std::collections::BTreeMap;
use std::process::Command;

use common::http_client::stored;
use common::server::TestServer;

#[test]
fn influxdb_client_writes_arrive() {
    let server = TestServer::start("influxdb_client_python");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/influxdb_client_write.py");
    let out = Command::new("python3").arg(script).arg(server.url("")).output().expect("python3 runs");
    assert!(
        out.status.success(),
        "the client's write failed (missing packages? run scripts/install-test-deps.sh): {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    const S: i64 = 1_000_000_000;
    let t0 = 1_767_225_600 * S;
    assert_eq!(
        stored(&server.db, "h2o", "level"),
        BTreeMap::from([
            (("location=coyote creek".to_owned(), t0), 8.5),
            (("location=santa monica".to_owned(), t0 + S), 2.25),
            (("location=santa monica".to_owned(), t0 + 2 * S), 3.0),
        ])
    );
    assert_eq!(stored(&server.db, "h2o", "ok"), BTreeMap::from([(("location=santa monica".to_owned(), t0 + S), 1.0)]));
    let expected: BTreeMap<(String, i64), f64> = (0..1000).map(|i| ((format!("n=n{i}"), t0 + i), i as f64)).collect();
    assert_eq!(stored(&server.db, "gz", "v"), expected);
}
