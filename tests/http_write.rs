//! Writes over HTTP with `curl`, as a user would send them: `/write` with
//! every InfluxDB 1.x precision, `/api/v2/write` with every 2.x precision,
//! JSON points, gzip bodies, and auth. Each value is read back with
//! `Db::scan` and compared with the value and time the test computed from
//! what it sent.
#![cfg(feature = "server")]
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common;

use std::collections::BTreeMap;
use std::io::Write;

use chronicle::Config;
use chronicle::http::{Scope, ServerConfig, Token};
use common::http_client::{curl, stored};
use common::server::TestServer;

/// 2026-01-01T00:00:00Z in seconds: a whole number of hours, so every
/// precision can express it.
const BASE_S: i64 = 1_767_225_600;

fn post(server: &TestServer, path_and_query: &str, headers: &[&str], body: &[u8]) -> common::http_client::Answer {
    let url = server.url(path_and_query);
    let mut args: Vec<&str> = vec!["-X", "POST", url.as_str()];
    for h in headers {
        args.extend(["-H", h]);
    }
    curl(&args, Some(body))
}

#[test]
fn every_v1_precision_lands_at_the_right_nanosecond() {
    let server = TestServer::start("http_write_v1");
    // (parameter as sent, nanoseconds per unit), from InfluxDB 1.x's docs.
    let precisions: [(&str, i64); 9] = [
        ("ns", 1),
        ("n", 1),
        ("u", 1_000),
        ("us", 1_000),
        ("%C2%B5", 1_000), // µ
        ("ms", 1_000_000),
        ("s", 1_000_000_000),
        ("m", 60_000_000_000),
        ("h", 3_600_000_000_000),
    ];
    let mut expected = BTreeMap::new();
    for (i, (precision, unit_ns)) in precisions.iter().enumerate() {
        // One unit later per precision, so each lands at its own time.
        let units = BASE_S * 1_000_000_000 / unit_ns + 1;
        let line = format!("prec,p=p{i} v={}.25 {units}\n", i + 1);
        let answer = post(&server, &format!("/write?db=mydb&rp=autogen&precision={precision}"), &[], line.as_bytes());
        assert_eq!(answer.status, 204, "precision {precision}: {}", answer.body);
        assert_eq!(answer.body, "", "204 has no body");
        expected.insert((format!("p=p{i}"), BASE_S * 1_000_000_000 + unit_ns), i as f64 + 1.25);
    }
    assert_eq!(stored(&server.db, "prec", "v"), expected);

    // No precision means nanoseconds; no db is accepted (one database).
    let answer = post(&server, "/write", &[], b"nodb v=7 1767225600000000123");
    assert_eq!(answer.status, 204, "{}", answer.body);
    assert_eq!(stored(&server.db, "nodb", "v"), BTreeMap::from([((String::new(), 1_767_225_600_000_000_123), 7.0)]));

    // An unknown precision is refused in InfluxDB's shape, naming it.
    let answer = post(&server, "/write?db=mydb&precision=fortnights", &[], b"x v=1 1");
    assert_eq!(answer.status, 400);
    assert!(answer.json()["error"].as_str().unwrap().contains("\"fortnights\""), "{}", answer.body);
}

#[test]
fn v2_precisions_field_types_and_escapes() {
    let server = TestServer::start("http_write_v2");
    for (precision, unit_ns) in [("ns", 1_i64), ("us", 1_000), ("ms", 1_000_000), ("s", 1_000_000_000)] {
        let t = BASE_S * 1_000_000_000 / unit_ns;
        let body = format!(
            "# a comment, then a blank line\n\n\
             weather,city=New\\ York,kind=a\\,b temp=21.5,count=3i,big=18446744073709551615u,ok=true,bad=F {t}\n\
             weather,city=Oslo,kind=x\\=y temp=-4e1,count=-2i,big=0u,ok=f,bad=TRUE {}\n",
            t + 1
        );
        let answer =
            post(&server, &format!("/api/v2/write?org=o&bucket=b&precision={precision}"), &[], body.as_bytes());
        assert_eq!(answer.status, 204, "precision {precision}: {}", answer.body);
        let t_ns = BASE_S * 1_000_000_000;
        let ny = "city=New York,kind=a,b".to_owned();
        let oslo = "city=Oslo,kind=x=y".to_owned();
        for (field, a, b) in [
            ("temp", 21.5, -40.0),
            ("count", 3.0, -2.0),
            ("big", 18_446_744_073_709_551_615_u64 as f64, 0.0),
            ("ok", 1.0, 0.0),
            ("bad", 0.0, 1.0),
        ] {
            let got = stored(&server.db, "weather", field);
            assert_eq!(got.get(&(ny.clone(), t_ns)), Some(&a), "{precision} {field}: {got:?}");
            assert_eq!(got.get(&(oslo.clone(), t_ns + unit_ns)), Some(&b), "{precision} {field}: {got:?}");
        }
    }
    // InfluxDB 2 has no m or h precision.
    let answer = post(&server, "/api/v2/write?bucket=b&precision=h", &[], b"x v=1 1");
    assert_eq!(answer.status, 400, "{}", answer.body);
    assert!(answer.json()["error"].as_str().unwrap().contains("(ns, us, ms or s)"), "{}", answer.body);
}

#[test]
fn json_points_and_gzip_bodies() {
    let server = TestServer::start("http_write_json_gzip");
    let json = br#"{"points":[
        {"metric":"temperature","tags":{"room":"kitchen"},"value":21.5,"timestamp":1767225600000000000},
        {"metric":"temperature","tags":{"room":"hall"},"value":-0.5,"timestamp":1767225660000000000}]}"#;
    for path in ["/write?db=x", "/api/v2/write?bucket=x"] {
        let answer = post(&server, path, &["Content-Type: application/json"], json);
        assert_eq!(answer.status, 204, "{path}: {}", answer.body);
    }
    assert_eq!(
        stored(&server.db, "temperature", "value"),
        BTreeMap::from([
            (("room=hall".to_owned(), 1_767_225_660_000_000_000), -0.5),
            (("room=kitchen".to_owned(), 1_767_225_600_000_000_000), 21.5),
        ])
    );

    // 5,000 lines gzip-compressed by the `gzip` program, as clients send them.
    let lines: String = (0..5_000).map(|i| format!("zipped,host=h{} v={i} {}\n", i % 10, i + 1)).collect();
    let mut gzip = std::process::Command::new("gzip")
        .arg("-c")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("gzip runs");
    gzip.stdin.take().unwrap().write_all(lines.as_bytes()).unwrap();
    let zipped = gzip.wait_with_output().unwrap().stdout;
    assert!(zipped.len() < lines.len() / 3, "the body is really compressed");
    let answer = post(&server, "/write?db=x&precision=ns", &["Content-Encoding: gzip"], &zipped);
    assert_eq!(answer.status, 204, "{}", answer.body);
    let got = stored(&server.db, "zipped", "v");
    let expected: BTreeMap<(String, i64), f64> =
        (0..5_000).map(|i| ((format!("host=h{}", i % 10), i as i64 + 1), i as f64)).collect();
    assert_eq!(got, expected);

    // JSON inside gzip too.
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(br#"{"points":[{"metric":"zj","value":1.5,"timestamp":5}]}"#).unwrap();
    let answer = post(
        &server,
        "/write",
        &["Content-Type: application/json", "Content-Encoding: gzip"],
        &encoder.finish().unwrap(),
    );
    assert_eq!(answer.status, 204, "{}", answer.body);
    assert_eq!(stored(&server.db, "zj", "value"), BTreeMap::from([((String::new(), 5), 1.5)]));

    // The ingest counters moved: 2 + 2 + 5,000 + 1 rows.
    let metrics = curl(&[&server.url("/metrics")], None).body;
    assert!(metrics.contains("\nchronicle_rows_ingested_total 5005\n"), "{metrics}");
    let gauge = |metrics: &str, name: &str| -> u64 {
        let line = metrics.lines().find(|l| l.starts_with(&format!("{name} "))).unwrap_or_else(|| panic!("{metrics}"));
        line[name.len() + 1..].parse().unwrap()
    };
    // 5,000 rows are in the WAL; no flush happened yet, one after flush().
    assert!(gauge(&metrics, "chronicle_wal_bytes") > 5_000, "{metrics}");
    assert_eq!(gauge(&metrics, "chronicle_series"), 13, "{metrics}");
    let before = gauge(&metrics, "chronicle_flushes_total");
    server.db.flush().unwrap();
    let metrics = curl(&[&server.url("/metrics")], None).body;
    assert_eq!(gauge(&metrics, "chronicle_flushes_total"), before + 1, "{metrics}");
}

#[test]
fn auth_scopes_and_every_way_to_send_a_token() {
    let mut config = ServerConfig::default();
    config.auth.tokens =
        vec![Token::new("reader", "r-secret", Scope::Read), Token::new("writer", "w-secret", Scope::ReadWrite)];
    let server = TestServer::start_with("http_write_auth", Config::default(), config);
    let line = |v: i32| format!("authed v={v} {v}");

    // No token: 401 with WWW-Authenticate, in InfluxDB's shape.
    let url = server.url("/write?db=x");
    let out = std::process::Command::new("curl")
        .args(["-sS", "-i", "-X", "POST", &url, "--data-binary", &line(1)])
        .output()
        .expect("curl runs: run scripts/install-test-deps.sh");
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("HTTP/1.1 401"), "{text}");
    assert!(text.to_ascii_lowercase().contains("www-authenticate: bearer"), "{text}");
    assert!(text.contains("{\"error\":"), "{text}");

    // A wrong token: 401. A read token writing: 403 naming the token.
    assert_eq!(post(&server, "/write", &["Authorization: Token nope"], line(2).as_bytes()).status, 401);
    let forbidden = post(&server, "/api/v1/write", &["Authorization: Bearer r-secret"], b"");
    assert_eq!(forbidden.status, 403, "{}", forbidden.body);
    let forbidden = post(&server, "/write", &["Authorization: Bearer r-secret"], line(3).as_bytes());
    assert_eq!(forbidden.status, 403, "{}", forbidden.body);
    assert!(forbidden.json()["error"].as_str().unwrap().contains("reader"), "{}", forbidden.body);

    // The write token in each form InfluxDB and Prometheus clients use.
    assert_eq!(post(&server, "/write", &["Authorization: Bearer w-secret"], line(4).as_bytes()).status, 204);
    assert_eq!(
        post(&server, "/api/v2/write?bucket=b", &["Authorization: Token w-secret"], line(5).as_bytes()).status,
        204
    );
    assert_eq!(post(&server, "/write?db=x&u=me&p=w-secret", &[], line(6).as_bytes()).status, 204);
    let basic = curl(&["-X", "POST", "-u", "me:w-secret", &server.url("/write")], Some(line(7).as_bytes()));
    assert_eq!(basic.status, 204, "{}", basic.body);

    let expected: BTreeMap<(String, i64), f64> = [4, 5, 6, 7].map(|v| ((String::new(), v), v as f64)).into();
    assert_eq!(stored(&server.db, "authed", "v"), expected, "refused writes stored nothing");
}
