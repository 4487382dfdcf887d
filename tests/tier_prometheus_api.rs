//! The Prometheus HTTP API reads the cold tier: a server over a database
//! whose first two partitions were tiered and then compacted out of the
//! local file answers `query_range`, `series`, `labels` and label values
//! exactly as a server over the same writes kept local does.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common;

use chronicle::http::ServerConfig;
use chronicle::{Config, TierConfig};
use common::http_client::curl;
use common::server::TestServer;
use common::tiered_cpu::{HOUR, MINUTE, T0, initial, late, rows};

#[tokio::test]
async fn prometheus_api_answers_over_compacted_tiered_partitions_as_over_local_ones() {
    let tier = Config::default().with_tier(TierConfig::new("memory://prometheus-api"));
    let tiered = TestServer::start_with("tier-prometheus-api", tier, ServerConfig::default());
    let local = TestServer::start("tier-prometheus-api-local");
    for server in [&local, &tiered] {
        server.db.write_rows(&rows(&initial())).unwrap();
        server.db.flush().unwrap();
    }
    for start in [T0, T0 + HOUR] {
        tiered.db.tier_partition(start).await.unwrap();
    }
    for server in [&local, &tiered] {
        // A late write into a tiered partition, then a compaction that
        // drops the tiered partitions' local chunks.
        server.db.write_rows(&rows(&late())).unwrap();
        server.db.flush().unwrap();
        server.db.compact().unwrap();
    }
    let file_points =
        |start: i64| tiered.db.partitions().unwrap().iter().find(|p| p.start == start).map_or(0, |p| p.file_points);
    // Only the late points are left locally (5 in T0, 3 in T0 + 1h).
    assert_eq!((file_points(T0), file_points(T0 + HOUR)), (5, 3), "the rest lives in the tier only");

    let s = |ns: i64| format!("{}", ns / 1_000_000_000);
    let (start, end) = (s(T0 - 10 * MINUTE), s(T0 + 3 * HOUR));
    let early = (s(T0), s(T0 + 90 * MINUTE));
    let paths = [
        format!("/api/v1/query_range?query=cpu_usage_user&start={start}&end={end}&step=300"),
        format!("/api/v1/query_range?query=sum%20by%20(region)%20(cpu_usage_system)&start={start}&end={end}&step=600"),
        format!(
            "/api/v1/query_range?query=rate(cpu_usage_user%7Bhost%3D~%22a%7Cd%22%7D%5B30m%5D)&start={start}&end={end}&step=300"
        ),
        format!("/api/v1/query?query=count_over_time(cpu_usage_user%5B1h%5D)&time={}", s(T0 + HOUR)),
        format!("/api/v1/series?match[]=cpu_usage_system&start={}&end={}", early.0, early.1),
        format!("/api/v1/labels?start={}&end={}", early.0, early.1),
        format!("/api/v1/label/host/values?start={}&end={}", early.0, early.1),
        format!("/api/v1/label/host/values?start={}&end={}", s(T0), s(T0 + 30 * MINUTE)),
    ];
    for path in &paths {
        let (want, got) = (curl(&[&local.url(path)], None), curl(&[&tiered.url(path)], None));
        assert_eq!((got.status, &got.json()), (want.status, &want.json()), "{path}");
        assert_eq!(want.status, 200, "{path}: {}", want.body);
    }
    // Not vacuous: the first hour's values are there, and host d (written
    // late, into the tier's first partition) is listed.
    let first = curl(&[&tiered.url(&paths[0])], None).json();
    let series = first["data"]["result"].as_array().unwrap();
    assert_eq!(series.len(), 4, "hosts a, b, c, d: {first}");
    let hosts = curl(&[&tiered.url(&paths[7])], None).json();
    assert_eq!(hosts["data"], serde_json::json!(["a", "b", "c", "d"]), "{hosts}");
}
