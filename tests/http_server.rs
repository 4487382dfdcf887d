//! The server's own routes over real HTTP: health checks, InfluxDB's ping,
//! `/metrics` in Prometheus text format, and the error shape of an unknown
//! route.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common;

use common::server::TestServer;

fn get(url: &str) -> (u16, Vec<(String, String)>, String) {
    let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
    let mut response = agent.get(url).call().unwrap();
    let headers = response.headers().iter().map(|(k, v)| (k.to_string(), v.to_str().unwrap().to_owned())).collect();
    (response.status().as_u16(), headers, response.body_mut().read_to_string().unwrap())
}

#[test]
fn health_ping_and_metrics() {
    let server = TestServer::start("http_health");
    let (status, _, body) = get(&server.url("/health"));
    assert_eq!(status, 200);
    let health: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!((health["status"].as_str(), health["series"].as_u64()), (Some("pass"), Some(0)));
    assert_eq!(get(&server.url("/health/live")).0, 200);
    assert_eq!(get(&server.url("/health/ready")).0, 200);

    let (status, headers, _) = get(&server.url("/ping"));
    assert_eq!(status, 204);
    let version = headers.iter().find(|(k, _)| k == "x-influxdb-version").map(|(_, v)| v.as_str());
    assert!(version.is_some_and(|v| v.starts_with("chronicle-")), "{headers:?}");

    let (status, headers, body) = get(&server.url("/metrics"));
    assert_eq!(status, 200);
    assert!(headers.iter().any(|(k, v)| k == "content-type" && v.starts_with("text/plain; version=0.0.4")));
    assert!(body.contains("\nchronicle_series 0\n"), "{body}");
    // The requests above were counted under their route patterns.
    assert!(body.contains("chronicle_http_requests_total{route=\"/ping\",code=\"204\"} 1\n"), "{body}");
    assert!(body.contains("chronicle_http_request_duration_seconds_count{route=\"/health\"} 1\n"), "{body}");
}

#[test]
fn unknown_routes_answer_404_in_the_error_shape() {
    let server = TestServer::start("http_404");
    let (status, _, body) = get(&server.url("/api/v9/nothing"));
    assert_eq!(status, 404);
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["status"], "error");
    assert_eq!(error["errorType"], "not_found");
    assert_eq!(error["error"], "no route for /api/v9/nothing");
}
