//! The README's dialect section as a program: an hour of `cpu` rows for hosts
//! `web-1`, `web-2` and `db-1` (web-2 silent for ten minutes), queried
//! in the InfluxQL-like dialect with 5-minute buckets per web host, the gap
//! filled with the previous value. `readme()` holds the README's code as
//! written there (tests/readme_examples.rs checks it line by line). The
//! database lives in a fresh temporary directory.
//!
//! Run: `cargo run --example dialect`.

use std::time::{SystemTime, UNIX_EPOCH};

use chronicle::{Config, Db, Row};

const MINUTE_NS: i64 = 60_000_000_000;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("chronicle-example-dialect-{}", std::process::id()));
    let db = Db::open(dir.join("metrics.chronicle"), Config::default())?;
    let now = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos())?;
    let mut rows = Vec::new();
    for i in 0..60 {
        let t = now - i * MINUTE_NS;
        let load = (i % 4) as f64;
        for (host, base) in [("web-1", 10.0), ("web-2", 40.0), ("db-1", 70.0)] {
            if host == "web-2" && (20..30).contains(&i) {
                continue;
            }
            rows.push(Row::new("cpu", t).with_tag("host", host).with_field("usage_user", base + load));
        }
    }
    db.write_rows(&rows)?;

    readme(&db).await?;

    db.close()?;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// The README's snippet, as written there (unformatted: rustfmt would re-wrap its lines).
#[rustfmt::skip]
async fn readme(db: &Db) -> Result<(), Box<dyn std::error::Error>> {
    let rows = db.query_dialect(
        "SELECT mean(usage_user), max(usage_user) FROM cpu WHERE host =~ /^web/ AND time >= now() - 1h \
         GROUP BY time(5m), host fill(previous)").await?;   // Vec<RecordBatch>: time, host, mean, max
    datafusion::arrow::util::pretty::print_batches(&rows)?;
    Ok(())
}
