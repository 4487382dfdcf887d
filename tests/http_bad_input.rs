//! Bad input on every write route: each is a 4xx whose message says what
//! was wrong and where, the server keeps answering, nothing of a refused
//! body is stored, and the data written before is untouched.
#![cfg(feature = "server")]
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common;

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use chronicle::Config;
use chronicle::http::ServerConfig;
use chronicle::ingest::prompb::{Label, Sample, TimeSeries, WriteRequest};
use common::http_client::stored;
use common::server::TestServer;

/// Status and body of a POST of `body` with `headers`.
fn post(server: &TestServer, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
    let mut request = agent.post(server.url(path));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let mut response = request.send(body).unwrap();
    let status = response.status().as_u16();
    let bytes = response.body_mut().read_to_vec().unwrap();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

/// The `error` text of a JSON error body (either shape).
fn error_of(body: &str) -> String {
    let json: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"));
    json["error"].as_str().or(json["message"].as_str()).unwrap_or_else(|| panic!("no message: {body}")).to_owned()
}

/// Asserts a refusal: `status`, and a message holding every one of `says`.
fn refused(server: &TestServer, what: &str, answer: (u16, String), status: u16, says: &[&str]) {
    let (got, body) = answer;
    assert_eq!(got, status, "{what}: {body}");
    let message = error_of(&body);
    for s in says {
        assert!(message.contains(s), "{what}: {message:?} should say {s:?}");
    }
    let (health, _) = get(server, "/health");
    assert_eq!(health, 200, "{what}: the server still answers");
}

fn get(server: &TestServer, path: &str) -> (u16, String) {
    let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
    let mut response = agent.get(server.url(path)).call().unwrap();
    (response.status().as_u16(), response.body_mut().read_to_string().unwrap())
}

fn remote_write_body(labels: &[(&str, &str)]) -> Vec<u8> {
    let request = WriteRequest {
        timeseries: vec![TimeSeries {
            labels: labels.iter().map(|(n, v)| Label { name: (*n).into(), value: (*v).into() }).collect(),
            samples: vec![Sample { value: 1.0, timestamp: 1_000 }],
            ..Default::default()
        }],
        ..Default::default()
    };
    snap::raw::Encoder::new().compress_vec(&prost::Message::encode_to_vec(&request)).unwrap()
}

const SNAPPY: [(&str, &str); 2] = [("Content-Encoding", "snappy"), ("Content-Type", "application/x-protobuf")];

/// Values by (tags, time).
type Values = BTreeMap<(String, i64), f64>;

/// What the earlier writes stored; checked again after every refusal.
fn baseline(server: &TestServer) -> (Values, Values) {
    (stored(&server.db, "base", "v"), stored(&server.db, "up", "value"))
}

fn write_baseline(server: &TestServer) {
    assert_eq!(post(server, "/write?db=x", &[], b"base,host=a v=1 1\nbase,host=b v=2 2\n").0, 204);
    assert_eq!(post(server, "/api/v1/write", &SNAPPY, &remote_write_body(&[("__name__", "up"), ("job", "j")])).0, 204);
    let (base, up) = baseline(server);
    assert_eq!(base.len(), 2);
    assert_eq!(up, BTreeMap::from([(("job=j".to_owned(), 1_000_000_000), 1.0)]));
}

#[test]
fn malformed_bodies_are_refused_saying_where() {
    let server = TestServer::start("http_bad_input");
    write_baseline(&server);
    let before = baseline(&server);

    // Line protocol: the first line is fine, the second is not: nothing is stored.
    let answer = post(&server, "/write?db=x", &[], b"half v=1 1\nhalf,host=a\n");
    refused(&server, "malformed line protocol", answer, 400, &["line 2, column"]);
    let answer = post(&server, "/api/v2/write?bucket=x", &[], b"half v=1 1\nhalf,host=\xff\xfe v=2 2\n");
    refused(&server, "invalid UTF-8", answer, 400, &["line 2, column 11", "invalid UTF-8"]);
    let answer = post(&server, "/write", &[], b"half v=1 1\nhalf s=\"text\" 2\n");
    refused(&server, "a string field", answer, 400, &["line 2"]);
    let answer = post(
        &server,
        "/write",
        &[("Content-Type", "application/json")],
        br#"{"points":[{"metric":"half","value":"x"}]}"#,
    );
    refused(&server, "a JSON point with a string value", answer, 400, &["points[0].value"]);
    assert!(!server.db.has_measurement("half").unwrap(), "no refused body stored anything");

    // Prometheus remote write.
    let duplicate = remote_write_body(&[("__name__", "dup"), ("job", "a"), ("job", "b")]);
    refused(
        &server,
        "duplicate labels",
        post(&server, "/api/v1/write", &SNAPPY, &duplicate),
        400,
        &["timeseries[0].labels[2]", "duplicate label name \"job\""],
    );
    let nameless = remote_write_body(&[("__name__", ""), ("job", "a")]);
    refused(
        &server,
        "an empty metric name",
        post(&server, "/prometheus/write", &SNAPPY, &nameless),
        400,
        &["timeseries[0].labels[0]", "empty"],
    );
    let tenant = remote_write_body(&[("__name__", "t"), ("__tenant__", "someone-else")]);
    refused(
        &server,
        "a client's __tenant__",
        post(&server, "/api/v1/write", &SNAPPY, &tenant),
        400,
        &["__tenant__", "reserved"],
    );
    refused(
        &server,
        "corrupt snappy",
        post(&server, "/api/v1/write", &SNAPPY, &[0x0a, 0xff, 0xfe, 0xfd, 0xfc]),
        400,
        &["snappy"],
    );
    // 50 bytes declaring a 4 GiB block: refused on the declared length.
    let mut bomb = vec![0xff, 0xff, 0xff, 0xff, 0x0f];
    bomb.resize(50, 0);
    refused(
        &server,
        "a snappy bomb",
        post(&server, "/api/v1/write", &SNAPPY, &bomb),
        413,
        &["4294967295 bytes", "limit"],
    );
    let garbage = snap::raw::Encoder::new().compress_vec(b"\xff\xff\xff\xff not protobuf").unwrap();
    refused(&server, "invalid protobuf", post(&server, "/api/v1/write", &SNAPPY, &garbage), 400, &["protobuf"]);
    refused(
        &server,
        "remote read of invalid protobuf",
        post(&server, "/api/v1/read", &SNAPPY, &garbage),
        400,
        &["protobuf"],
    );

    // OTLP: the failure is a google.rpc.Status in the request's encoding.
    let json = [("Content-Type", "application/json")];
    refused(
        &server,
        "OTLP JSON that is not OTLP",
        post(&server, "/v1/metrics", &json, b"{\"resourceMetrics\": 7}"),
        400,
        &["OTLP JSON"],
    );
    let (status, body) = post(&server, "/v1/metrics", &[("Content-Type", "application/x-protobuf")], b"\xff\xff\xff");
    assert_eq!(status, 400);
    assert!(body.contains("body is not valid OTLP protobuf"), "the Status message names the decoder: {body:?}");
    let (status, _) = post(&server, "/v1/metrics", &[("Content-Type", "text/plain")], b"x");
    assert_eq!(status, 415);

    // An encoding nobody decodes.
    refused(
        &server,
        "Content-Encoding br",
        post(&server, "/write", &[("Content-Encoding", "br")], b"x v=1 1"),
        415,
        &["\"br\""],
    );

    assert_eq!(baseline(&server), before, "earlier data is intact");
    assert!(!server.db.has_measurement("dup").unwrap() && !server.db.has_measurement("t").unwrap());
}

#[test]
fn oversized_slow_and_exploding_bodies() {
    let mut config = ServerConfig::default();
    config.limits.max_body_bytes = 10_000;
    config.limits.max_decompressed_bytes = 100_000;
    config.limits.request_timeout = Duration::from_secs(1);
    let server = TestServer::start_with("http_bad_limits", Config::default(), config);
    write_baseline(&server);
    let before = baseline(&server);

    let big: String = (0..1_000).map(|i| format!("big v={i} {i}\n")).collect();
    assert!(big.len() > 10_000);
    refused(
        &server,
        "an oversized body",
        post(&server, "/write?db=x", &[], big.as_bytes()),
        413,
        &["10000 bytes", "max_body_bytes"],
    );

    // 5 MB of line protocol compressed to far under the body limit.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    let line = b"bomb v=1 1\n";
    for _ in 0..5_000_000 / line.len() {
        encoder.write_all(line).unwrap();
    }
    let bomb = encoder.finish().unwrap();
    assert!(bomb.len() < 10_000, "{} bytes", bomb.len());
    refused(
        &server,
        "a gzip bomb",
        post(&server, "/write?db=x", &[("Content-Encoding", "gzip")], &bomb),
        413,
        &["100000 bytes", "max_decompressed_bytes"],
    );

    // A body that promises 100 bytes, sends 10 and stalls.
    let mut stream = TcpStream::connect(server.addr).unwrap();
    write!(stream, "POST /write?db=x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nslow v=1 1").unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0; 4096];
    // Read until the whole (small) answer is in: headers and JSON body.
    while !String::from_utf8_lossy(&answer).contains('}') {
        let n = stream.read(&mut buf).expect("the server answers a stalled body");
        assert!(n > 0, "closed without an answer: {}", String::from_utf8_lossy(&answer));
        answer.extend_from_slice(&buf[..n]);
    }
    let answer = String::from_utf8_lossy(&answer).into_owned();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("request_timeout") && answer.contains("10 bytes came"), "{answer}");
    drop(stream);
    assert_eq!(get(&server, "/health").0, 200);

    assert_eq!(baseline(&server), before, "earlier data is intact");
    for m in ["big", "bomb", "slow"] {
        assert!(!server.db.has_measurement(m).unwrap(), "{m} stored nothing");
    }
}
