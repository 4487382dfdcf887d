//! The README's downsampling section as a program: three hours of `cpu`
//! rows for two hosts, a rule rolling them into `cpu_5m`, and one hourly
//! dialect query answered from the rollup (the plan says `TableScan:
//! cpu_5m`) and, with `chronicle.rollup = 'off'`, from the raw rows.
//! `readme()` holds the README's code as written there
//! (tests/readme_examples.rs checks it line by line). The database lives in
//! a fresh temporary directory.
//!
//! Run: `cargo run --example rollup`.

use std::path::Path;
use std::time::Duration;

use chronicle::{Config, Db, RollupRule, Row};

const SECOND_NS: i64 = 1_000_000_000;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("chronicle-example-rollup-{}", std::process::id()));
    let mut rows = Vec::new();
    for i in 0..3 * 360 {
        for (host, base) in [("web-1", 10.0), ("db-1", 70.0)] {
            let usage = base + f64::from(i % 17) / 4.0;
            rows.push(
                Row::new("cpu", i64::from(i) * 10 * SECOND_NS).with_tag("host", host).with_field("usage_user", usage),
            );
        }
    }
    readme(&dir, &rows).await?;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// The README's snippet, as written there (unformatted: rustfmt would re-wrap its lines).
#[rustfmt::skip]
async fn readme(dir: &Path, rows: &[Row]) -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::default()
        .with_rollup(RollupRule::new("cpu", Duration::from_secs(300), "cpu_5m"));  // every aggregate, every tag kept
    let db = Db::open(dir.join("metrics.chronicle"), config)?;
    db.write_rows(rows)?;                           // partitions 0 h and 1 h close: rolled in the background
    db.flush()?;                                    // returns once the rollups are up to date
    let q = "SELECT mean(usage_user), max(usage_user) FROM cpu WHERE time >= 0 AND time < 2h GROUP BY time(1h), host";
    let plan = db.query_dialect(&format!("EXPLAIN {q}")).await?;   // TableScan: cpu_5m
    datafusion::arrow::util::pretty::print_batches(&plan)?;
    let ctx = db.session_context();
    ctx.sql("SET chronicle.rollup = 'off'").await?;    // 'auto' (the default), 'off' (raw) or 'on' (rollup)
    let raw = db.query_dialect_in(&ctx, q).await?;     // the same answer, from the raw rows
    datafusion::arrow::util::pretty::print_batches(&raw)?;
    db.close()?;
    Ok(())
}
