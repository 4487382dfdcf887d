//! SQL on Apache Ballista over the cold tier answers as Chronicle does
//! locally: TSBS cpu-only rows go to a database with a `file://` tier,
//! every partition is tiered, a scheduler and an executor start in this
//! process on loopback ports, and TSBS-shaped queries (time buckets, max by
//! host, lastpoint, a filter, Chronicle's aggregates and window functions)
//! run both through the database's own session (`ChronicleTable`) and on
//! the cluster over the tier's listing tables. Answers are compared sorted,
//! floats within 1e-9; the per-host maximum is also checked against the
//! generator's own numbers.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common;

use std::collections::BTreeSet;
use std::net::SocketAddr;

use chronicle::testing::{CPU_FIELDS, TsbsCpu, cpu_row_batches};
use chronicle::{Config, Db, ExportOptions, TierConfig, ballista};
use common::TempDir;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Float64Type};
use datafusion::datasource::listing::ListingTable;
use datafusion::prelude::SessionContext;

const HOSTS: usize = 6;
/// Three hours at 10 s: three tiered partitions of an hour.
const STEPS: usize = 3 * 360;
const HOUR: &str = "INTERVAL '1 hour'";

/// The TSBS-shaped queries, each over `cpu`.
fn queries() -> Vec<(&'static str, String)> {
    let start = "'2026-01-01T00:00:00Z'";
    let end = "'2026-01-01T02:30:00Z'";
    let maxes = CPU_FIELDS[..5].iter().map(|f| format!("max({f}) AS max_{f}")).collect::<Vec<_>>().join(", ");
    vec![
        (
            "single-groupby-1-1-1",
            format!(
                "SELECT date_bin(INTERVAL '1 minute', time) AS minute, max(usage_user) FROM cpu \
                 WHERE hostname = 'host_1' AND time >= {start} AND time < {end} GROUP BY minute"
            ),
        ),
        (
            "cpu-max-all-1",
            format!(
                "SELECT date_bin({HOUR}, time) AS hour, {maxes} FROM cpu \
                 WHERE hostname IN ('host_0', 'host_4') GROUP BY hour"
            ),
        ),
        (
            "double-groupby-1",
            format!(
                "SELECT date_bin({HOUR}, time) AS hour, hostname, avg(usage_user) FROM cpu GROUP BY hour, hostname"
            ),
        ),
        ("max-by-host", "SELECT hostname, max(usage_user), count(*) FROM cpu GROUP BY hostname".to_string()),
        (
            "lastpoint",
            "SELECT DISTINCT ON (hostname) hostname, time, usage_user, usage_idle FROM cpu \
             ORDER BY hostname, time DESC"
                .to_string(),
        ),
        (
            "high-cpu-1",
            format!(
                "SELECT time, hostname, usage_user, usage_system FROM cpu \
                 WHERE usage_user > 90.0 AND hostname = 'host_2' AND time < {end}"
            ),
        ),
        (
            "groupby-orderby-limit",
            format!(
                "SELECT date_bin(INTERVAL '1 minute', time) AS minute, max(usage_user) FROM cpu \
                 WHERE time < {end} GROUP BY minute ORDER BY minute DESC LIMIT 5"
            ),
        ),
        (
            "chronicle-aggregates",
            "SELECT hostname, spread(usage_user), percentile(usage_idle, 95), rate(time, usage_system), \
             integral(time, usage_user) FROM cpu GROUP BY hostname"
                .to_string(),
        ),
        (
            "chronicle-window",
            "SELECT hostname, max(d), min(d), count(d) FROM (SELECT hostname, \
             derivative(usage_user, time, 60000000000) OVER (PARTITION BY hostname ORDER BY time) AS d FROM cpu) \
             GROUP BY hostname"
                .to_string(),
        ),
    ]
}

/// A cell as compared: text, or a float compared within 1e-9.
#[derive(Debug, Clone, PartialEq, PartialOrd)]
enum Cell {
    Text(Option<String>),
    Float(Option<f64>),
}

impl Cell {
    fn close_to(&self, other: &Cell) -> bool {
        match (self, other) {
            (Cell::Float(Some(a)), Cell::Float(Some(b))) => (a - b).abs() <= 1e-9 * a.abs().max(b.abs()).max(1.0),
            (a, b) => a == b,
        }
    }
}

/// The rows of `batches`, sorted, with tags and times as text whatever
/// their Arrow type (dictionary, view or plain strings).
fn rows(batches: &[RecordBatch]) -> Vec<Vec<Cell>> {
    let mut rows = Vec::new();
    for batch in batches {
        let columns: Vec<Vec<Cell>> = batch.columns().iter().map(|c| cells(c.as_ref())).collect();
        rows.extend((0..batch.num_rows()).map(|r| columns.iter().map(|c| c[r].clone()).collect::<Vec<_>>()));
    }
    rows.sort_by(|a, b| a.partial_cmp(b).expect("no NaN in the answers"));
    rows
}

fn cells(array: &dyn Array) -> Vec<Cell> {
    if matches!(array.data_type(), DataType::Float16 | DataType::Float32 | DataType::Float64) {
        let floats = cast(array, &DataType::Float64).unwrap();
        let floats = floats.as_primitive::<Float64Type>();
        return (0..floats.len()).map(|i| Cell::Float(floats.is_valid(i).then(|| floats.value(i)))).collect();
    }
    let text = cast(array, &DataType::Utf8).unwrap();
    let text = text.as_string::<i32>();
    (0..text.len()).map(|i| Cell::Text(text.is_valid(i).then(|| text.value(i).to_string()))).collect()
}

fn assert_same(name: &str, local: &[RecordBatch], cluster: &[RecordBatch]) {
    let (local, cluster) = (rows(local), rows(cluster));
    assert!(!local.is_empty(), "{name}: the query selects rows");
    assert_eq!(local.len(), cluster.len(), "{name}: row counts");
    for (l, c) in local.iter().zip(&cluster) {
        assert!(
            l.len() == c.len() && l.iter().zip(c).all(|(a, b)| a.close_to(b)),
            "{name}: local {l:?}, Ballista {c:?}"
        );
    }
}

/// A database with the TSBS rows, every partition tiered to `file://`.
async fn tiered_tsbs(dir: &TempDir) -> (Db, String) {
    let url = format!("file://{}", dir.path("cold").display());
    let db = Db::open(dir.path("tsbs.chronicle"), Config::default().with_tier(TierConfig::new(&url))).unwrap();
    let hosts = TsbsCpu::new(HOSTS, 7).generate(STEPS);
    for batch in cpu_row_batches(&hosts, 1000) {
        db.write_rows(&batch).unwrap();
    }
    db.flush().unwrap();
    for partition in db.partitions().unwrap() {
        db.tier_partition(partition.start).await.unwrap();
    }
    assert_eq!(db.tiered_files().unwrap().len(), 3, "three hours, three files");
    (db, url)
}

/// A scheduler and an executor of this process on loopback, and a client.
async fn cluster() -> (SocketAddr, SessionContext) {
    let scheduler = ballista::spawn_scheduler("127.0.0.1:0".parse().unwrap()).await.unwrap();
    ballista::spawn_executor(scheduler, 2).await.unwrap();
    let ctx = ballista::connect(&format!("df://{scheduler}")).await.unwrap();
    (scheduler, ctx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tsbs_queries_on_ballista_answer_as_chronicle_does_locally() {
    let dir = TempDir::new("ballista-tsbs");
    let (db, url) = tiered_tsbs(&dir).await;
    let (_, ctx) = cluster().await;
    let tables = ballista::register_tier(&ctx, &url, &ExportOptions::new()).await.unwrap();
    assert_eq!(tables, ["cpu"]);

    // The table reads exactly the files the manifest lists.
    let provider = ctx.table_provider("cpu").await.unwrap();
    let provider: &dyn std::any::Any = provider.as_ref();
    let listing = provider.downcast_ref::<ListingTable>().expect("a listing table");
    let listed: BTreeSet<String> = listing.table_paths().iter().map(|p| p.to_string()).collect();
    let manifest: BTreeSet<String> = db.tiered_files().unwrap().into_iter().map(|f| f.url).collect();
    assert_eq!(listed, manifest);

    let local = db.session_context();
    for (name, sql) in queries() {
        let expected = local.sql(&sql).await.unwrap().collect().await.unwrap();
        let answer = ctx.sql(&sql).await.unwrap_or_else(|e| panic!("{name}: {e}")).collect().await;
        let answer = answer.unwrap_or_else(|e| panic!("{name} on Ballista: {e}"));
        assert_same(name, &expected, &answer);
    }

    // The per-host maximum and count from the generator itself.
    let hosts = TsbsCpu::new(HOSTS, 7).generate(STEPS);
    let mut oracle: Vec<Vec<Cell>> = hosts
        .iter()
        .map(|h| {
            let max = h.fields[0].iter().copied().fold(f64::NEG_INFINITY, f64::max);
            vec![Cell::Text(Some(h.tags[0].1.clone())), Cell::Float(Some(max)), Cell::Text(Some(STEPS.to_string()))]
        })
        .collect();
    oracle.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let sql = "SELECT hostname, max(usage_user), count(*) FROM cpu GROUP BY hostname";
    assert_eq!(rows(&ctx.sql(sql).await.unwrap().collect().await.unwrap()), oracle);
    db.close().unwrap();
}

#[tokio::test]
async fn an_unreachable_scheduler_is_a_clear_error() {
    // A port that was free a moment ago: nothing listens there now.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("df://127.0.0.1:{port}");
    let Err(error) = ballista::connect(&url).await else { panic!("connected to {url}") };
    assert!(matches!(error, ballista::Error::Unreachable { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("unreachable") && message.contains(&url), "{message}");

    let Err(error) = ballista::connect("http://127.0.0.1:50050").await else { panic!("took an http:// URL") };
    assert!(error.to_string().contains("df://host:port"), "{error}");
}

#[tokio::test]
async fn tiers_that_cannot_be_shared_are_refused_and_an_empty_one_has_no_tables() {
    let ctx = SessionContext::new();
    let error = ballista::register_tier(&ctx, "memory://cold", &ExportOptions::new()).await.unwrap_err();
    assert!(error.to_string().contains("memory://cold"), "{error}");
    let error = ballista::register_tier(&ctx, "gs://bucket/cold", &ExportOptions::new()).await.unwrap_err();
    assert!(error.to_string().contains("gs://"), "{error}");

    let dir = TempDir::new("ballista-empty-tier");
    std::fs::create_dir_all(dir.path("cold")).unwrap();
    let url = format!("file://{}", dir.path("cold").display());
    let error = ballista::register_tier(&ctx, &url, &ExportOptions::new()).await.unwrap_err().to_string();
    assert!(error.contains("chronicle-tier.json") && error.contains("not found"), "{error}");
    // A database that tiered nothing yet writes an empty mirror on its first `tier_due`.
    let tier = TierConfig::new(&url).with_older_than(std::time::Duration::from_secs(3600));
    let db = Db::open(dir.path("db"), Config::default().with_tier(tier)).unwrap();
    assert!(db.tier_due().await.unwrap().is_empty());
    assert!(ballista::register_tier(&ctx, &url, &ExportOptions::new()).await.unwrap().is_empty());
    db.close().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ballista_reads_only_the_files_the_manifest_lists_and_not_deleted_rows() {
    let dir = TempDir::new("ballista-mirror");
    let (db, url) = tiered_tsbs(&dir).await;
    let files = db.tiered_files().unwrap();
    // Files no manifest lists: a newer copy under the first partition's
    // name (a failed upload's leftover) and a partition never tiered.
    let file_path = |u: &str| std::path::PathBuf::from(u.strip_prefix("file://").unwrap());
    let cpu = dir.path("cold").join("cpu");
    let hour = 3_600_000_000_000i64;
    std::fs::copy(file_path(&files[2].url), cpu.join(format!("{}-deadbeef.parquet", files[0].partition_start)))
        .unwrap();
    std::fs::copy(
        file_path(&files[1].url),
        cpu.join(format!("{}-0badf00d.parquet", files[2].partition_start + 10 * hour)),
    )
    .unwrap();
    // A delete over tiered rows: two hosts, from the first hour's middle into the second.
    let (from, to) = (files[0].partition_start + hour / 2, files[1].partition_start + hour / 4);
    let hosts = chronicle::TagMatcher::regex("hostname", "host_[12]").unwrap();
    db.delete("cpu", std::slice::from_ref(&hosts), from..=to).unwrap();

    let (_, ctx) = cluster().await;
    assert_eq!(ballista::register_tier(&ctx, &url, &ExportOptions::new()).await.unwrap(), ["cpu"]);
    let local = db.session_context();
    let checks = [
        "SELECT hostname, count(*), min(time), max(time), sum(usage_user) FROM cpu GROUP BY hostname",
        "SELECT date_bin(INTERVAL '15 minutes', time) AS q, count(*), max(usage_idle) FROM cpu GROUP BY q",
    ];
    for sql in checks {
        let expected = local.sql(sql).await.unwrap().collect().await.unwrap();
        let answer = ctx.sql(sql).await.unwrap().collect().await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        assert_same(sql, &expected, &answer);
    }
    // Not vacuous: host_1 lost rows, host_0 did not.
    let count = "SELECT hostname, count(*) FROM cpu WHERE hostname IN ('host_0', 'host_1') GROUP BY hostname";
    let counts = rows(&ctx.sql(count).await.unwrap().collect().await.unwrap());
    let expected_1 = STEPS - usize::try_from((to - from) / 10_000_000_000 + 1).unwrap();
    assert_eq!(
        counts,
        [
            vec![Cell::Text(Some("host_0".into())), Cell::Text(Some(STEPS.to_string()))],
            vec![Cell::Text(Some("host_1".into())), Cell::Text(Some(expected_1.to_string()))],
        ]
    );
    // The mirror names the manifest's files and the delete, in plain JSON.
    let mirror: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path("cold").join("chronicle-tier.json")).unwrap()).unwrap();
    let named: BTreeSet<&str> =
        mirror["files"].as_array().unwrap().iter().map(|f| f["url"].as_str().unwrap()).collect();
    assert_eq!(named, files.iter().map(|f| f.url.as_str()).collect::<BTreeSet<_>>());
    assert_eq!(mirror["deletes"].as_array().unwrap().len(), 1, "{mirror}");
    db.close().unwrap();
}
