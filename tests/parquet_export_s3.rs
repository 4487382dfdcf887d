//! Parquet export to `s3://` against a real S3-compatible server: moto,
//! started on loopback per test and killed on drop. The object is fetched
//! back with boto3 (another S3 client than the writer's) and read by DuckDB
//! and the Parquet reader, like the local-file export in `parquet_export.rs`.
//! Without moto the test fails and says how to install it. Built only with
//! the `s3` cargo feature (on by default; `required-features` in Cargo.toml).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use std::path::Path;
use std::process::Command;

use chronicle::{Config, Db, Error, ExportOptions, ExportSource, Row};
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};

use crate::common;

use common::moto::{Moto, options};

const T0: i64 = 1_767_225_600_000_000_000;
const MINUTE: i64 = 60_000_000_000;

fn load(dir: &Path) -> Db {
    let db = Db::open(dir.join("db"), Config::default()).unwrap();
    let rows: Vec<Row> = (0..240i64)
        .flat_map(|m| {
            ["b", "a"].map(|h| {
                Row::new("cpu", T0 + m * MINUTE)
                    .with_tag("host", h)
                    .with_field("usage", (m % 50) as f64 + if h == "a" { 0.5 } else { 0.25 })
            })
        })
        .collect();
    db.write_rows(&rows).unwrap();
    db.flush().unwrap();
    db
}

/// Downloads `s3://bucket/key` from moto with boto3 to `file`, then runs
/// DuckDB's `sql` on it (`{file}` stands for the path); returns the result.
fn fetch_and_query(moto: &Moto, bucket: &str, key: &str, file: &Path, sql: &str) -> String {
    let sql = sql.replace("{file}", file.to_str().unwrap());
    let script = format!(
        "import boto3, duckdb\n\
         s3 = boto3.client('s3', endpoint_url={endpoint:?}, region_name='us-east-1',\n\
         \x20   aws_access_key_id='testing', aws_secret_access_key='testing')\n\
         s3.download_file({bucket:?}, {key:?}, {file:?})\n\
         print(duckdb.sql({sql:?}).fetchall())",
        endpoint = moto.endpoint(),
        file = file.to_str().unwrap(),
    );
    let out = Command::new("python3").args(["-c", &script]).output().expect("python3 runs");
    assert!(out.status.success(), "boto3/duckdb failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test]
async fn a_measurement_exports_to_s3_as_sorted_zstd_dictionary_parquet_that_duckdb_reads() {
    let dir = std::env::temp_dir().join(format!("chronicle-parquet-s3-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let moto = Moto::start(&dir);
    moto.create_bucket("exports");
    let db = load(&dir);

    let range = Some((T0, T0 + 120 * MINUTE - 1));
    let rows = db
        .export_parquet_with(ExportSource::Measurement("cpu"), range, "s3://exports/cpu.parquet", &options(&moto))
        .await;
    assert_eq!(rows.unwrap(), 240, "two hosts x 120 minutes");

    let file = dir.join("cpu.parquet");
    let expected: f64 = (0..120).map(|m| 2.0 * (m % 50) as f64 + 0.75).sum();
    let summary = "SELECT count(*), sum(usage), min(host), epoch_ns(min(time)) FROM '{file}'";
    assert_eq!(
        fetch_and_query(&moto, "exports", "cpu.parquet", &file, summary),
        format!("[(240, {expected:?}, 'a', {T0})]")
    );
    // Sorted by (host, time): each row's place in the file is its place in
    // that order, and host a comes first.
    let order = "SELECT count(*) FILTER (WHERE file_row_number + 1 <> sorted), \
                 max(usage) FILTER (WHERE file_row_number = 0) \
                 FROM (SELECT usage, file_row_number, row_number() OVER (ORDER BY host, time) AS sorted \
                 FROM read_parquet('{file}', file_row_number = true))";
    assert_eq!(duckdb_on(&file, order), "[(0, 0.5)]");

    let reader = SerializedFileReader::new(std::fs::File::open(&file).unwrap()).unwrap();
    let row_group = reader.metadata().row_group(0);
    for c in row_group.columns() {
        assert!(matches!(c.compression(), Compression::ZSTD(_)), "{:?}", c.compression());
    }
    let host = row_group.columns().iter().find(|c| c.column_path().string() == "host").unwrap();
    assert!(host.dictionary_page_offset().is_some(), "tags are dictionary-encoded");

    // A query's result goes the same way; a missing bucket is an error, not a silent drop.
    let query = ExportSource::Query("SELECT host, max(usage) AS peak FROM cpu GROUP BY host ORDER BY host");
    assert_eq!(db.export_parquet_with(query, None, "s3://exports/peak.parquet", &options(&moto)).await.unwrap(), 2);
    let peaks = fetch_and_query(&moto, "exports", "peak.parquet", &dir.join("peak.parquet"), "SELECT * FROM '{file}'");
    assert_eq!(peaks, "[('a', 49.5), ('b', 49.25)]");
    let missing = db.export_parquet_with(query, None, "s3://no-such-bucket/peak.parquet", &options(&moto)).await;
    let message = missing.unwrap_err().to_string();
    assert!(message.contains("NoSuchBucket") || message.contains("no-such-bucket"), "{message}");

    db.close().unwrap();
    drop(moto);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The environment is process-wide, so the export configured by it runs in
/// a child process of this test binary (`export_configured_by_the_environment`)
/// with `AWS_*` set for that child only.
#[tokio::test]
async fn the_aws_environment_configures_an_s3_export() {
    let dir = std::env::temp_dir().join(format!("chronicle-parquet-s3-env-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let moto = Moto::start(&dir);
    moto.create_bucket("from-env");
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "parquet_export_s3::export_configured_by_the_environment",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env_remove("AWS_ENDPOINT_URL_S3")
        .env_remove("AWS_SESSION_TOKEN")
        .env("AWS_ENDPOINT_URL", moto.endpoint())
        .env("AWS_ALLOW_HTTP", "true")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env(CHILD_DIR, &dir)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&child.stdout);
    assert!(
        child.status.success() && stdout.contains("1 passed"),
        "{stdout}{}",
        String::from_utf8_lossy(&child.stderr)
    );
    let file = dir.join("cpu.parquet");
    let count = fetch_and_query(&moto, "from-env", "cpu.parquet", &file, "SELECT count(*) FROM '{file}'");
    assert_eq!(count, "[(480,)]");
    drop(moto);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Where the child's database lives; set by the parent test only.
const CHILD_DIR: &str = "CHRONICLE_S3_ENV_TEST_DIR";

#[tokio::test]
#[ignore = "the child of the_aws_environment_configures_an_s3_export, which sets AWS_* for it"]
async fn export_configured_by_the_environment() {
    let dir = std::env::var_os(CHILD_DIR).expect("run by the_aws_environment_configures_an_s3_export");
    let db = load(Path::new(&dir));
    let rows = db.export_parquet(ExportSource::Measurement("cpu"), None, "s3://from-env/cpu.parquet").await;
    assert_eq!(rows.unwrap(), 480);
    db.close().unwrap();
}

#[tokio::test]
async fn unsupported_schemes_and_unknown_options_are_refused_before_any_write() {
    let dir = std::env::temp_dir().join(format!("chronicle-parquet-s3-refused-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = load(&dir);
    let cpu = ExportSource::Measurement("cpu");
    for destination in ["gs://bucket/cpu.parquet", "https://example.com/cpu.parquet", "ftp://host/cpu.parquet"] {
        match db.export_parquet(cpu, None, destination).await {
            Err(Error::InvalidArgument(message)) => {
                let scheme = destination.split("://").next().unwrap();
                assert!(message.contains(&format!("`{scheme}://`")), "{message}");
                assert!(
                    message.contains("file://") && message.contains("s3://"),
                    "names the supported ones: {message}"
                );
            }
            other => panic!("{destination}: expected InvalidArgument, got {other:?}"),
        }
    }
    let typo = ExportOptions::new().with_storage_option("aws_endpiont", "http://127.0.0.1:9");
    let refused = db.export_parquet_with(cpu, None, "s3://exports/cpu.parquet", &typo).await;
    assert!(matches!(&refused, Err(Error::InvalidArgument(m)) if m.contains("aws_endpiont")), "{refused:?}");
    assert!(!format!("{typo:?}").contains("127.0.0.1"), "Debug hides option values (they hold secrets)");
    db.close().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs DuckDB's `sql` on a local `file` (`{file}` stands for its path).
fn duckdb_on(file: &Path, sql: &str) -> String {
    let sql = sql.replace("{file}", file.to_str().unwrap());
    let script = format!("import duckdb; print(duckdb.sql({sql:?}).fetchall())");
    let out = Command::new("python3").args(["-c", &script]).output().expect("python3 runs");
    assert!(out.status.success(), "duckdb failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}
