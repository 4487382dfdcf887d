//! The README's cold tier section as a program: a day of `cpu` rows, the
//! partitions older than an hour tiered to a `file://` directory as
//! Parquet, then one SQL query over both tiers. `readme()` holds the
//! README's code as written there (tests/readme_examples.rs checks it line
//! by line). Everything is written in a fresh temporary directory, removed
//! at the end, or in the directory given as the argument, kept (its
//! `cold/` is then a tier other engines can read, e.g. Ballista).
//!
//! Run: `cargo run --example cold_tier` or `cargo run --example cold_tier -- /tmp/chronicle-demo`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chronicle::{Config, Db, Row, TierConfig};
use futures::TryStreamExt;

const MINUTE_NS: i64 = 60_000_000_000;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let kept = std::env::args_os().nth(1).map(std::path::PathBuf::from);
    let dir = kept
        .clone()
        .unwrap_or_else(|| std::env::temp_dir().join(format!("chronicle-example-cold-tier-{}", std::process::id())));
    std::fs::create_dir_all(&dir)?;
    let dir = dir.canonicalize()?; // an absolute path: the tier's file:// URL is built from it
    let now = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos())?;
    let rows: Vec<Row> = (0..24 * 60)
        .map(|i| Row::new("cpu", now - i * MINUTE_NS).with_tag("host", "a").with_field("usage_user", (i % 100) as f64))
        .collect();

    readme(&dir, &rows).await?;

    match kept {
        Some(dir) => println!("kept {}: the tier is file://{}", dir.display(), dir.join("cold").display()),
        None => std::fs::remove_dir_all(&dir)?,
    }
    Ok(())
}

/// The README's snippet, as written there (unformatted: rustfmt would re-wrap its lines).
#[rustfmt::skip]
async fn readme(dir: &std::path::Path, rows: &[Row]) -> Result<(), Box<dyn std::error::Error>> {
    let tier = TierConfig::new(format!("file://{}/cold", dir.display()))   // or memory://name, s3://bucket/prefix
        .with_older_than(Duration::from_secs(3600));                         // what tier_due() moves
    let db = Db::open(dir.join("metrics.chronicle"), Config::default().with_tier(tier))?;
    db.write_rows(rows)?;
    db.flush()?;
    let files = db.tier_due().await?;               // or db.tier_partition(partition_start).await?
    println!("{} partitions tiered, {} bytes", files.len(), files.iter().map(|f| f.size).sum::<u64>());
    let batches: Vec<_> = db.query_sql("SELECT count(*), max(usage_user) FROM cpu").await?.try_collect().await?;
    datafusion::arrow::util::pretty::print_batches(&batches)?;  // 1440 rows: both tiers, each point once
    db.close()?;
    Ok(())
}
