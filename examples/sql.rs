//! The README's SQL section as a program: a database with an hour of `cpu`
//! rows for two hosts, queried through a DataFusion session, a record batch
//! stream and a table registered in a plain DataFusion session, then
//! exported to Parquet. `readme()` holds the README's code as written there
//! (tests/readme_examples.rs checks it line by line), the S3 exports
//! included: those run only when `AWS_ENDPOINT_URL` is set (the README's moto
//! setup), else the program says it skips them. Everything is written in a
//! fresh temporary directory.
//!
//! Run: `cargo run --example sql`.

use std::time::{SystemTime, UNIX_EPOCH};

use chronicle::{Config, Db, Row};
use futures::StreamExt;

const MINUTE_NS: i64 = 60_000_000_000;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("chronicle-example-sql-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    // The README exports to a relative path.
    std::env::set_current_dir(&dir)?;
    let db = Db::open(dir.join("metrics.chronicle"), Config::default())?;
    let now = i64::try_from(SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos())?;
    let rows: Vec<Row> = (0..60)
        .flat_map(|i| {
            let t = now - i * MINUTE_NS;
            let busy = (i % 10) as f64;
            [
                Row::new("cpu", t).with_tag("host", "a").with_field("usage_user", 10.0 + busy),
                Row::new("cpu", t).with_tag("host", "b").with_field("usage_user", 50.0 + busy),
            ]
        })
        .collect();
    db.write_rows(&rows)?;

    readme(&db).await?;

    println!("{} bytes of Parquet in cpu.parquet", std::fs::metadata(dir.join("cpu.parquet"))?.len());
    db.close()?;
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// The README's snippets, as written there (unformatted: rustfmt would re-wrap their lines).
#[rustfmt::skip]
async fn readme(db: &Db) -> Result<(), Box<dyn std::error::Error>> {
    let ctx = db.session_context();   // every measurement, chronicle.* system tables, information_schema
    let batches = ctx.sql("SELECT host, avg(usage_user) FROM cpu WHERE time >= now() - interval '1 hour' GROUP BY host")
        .await?.collect().await?;
    datafusion::arrow::util::pretty::print_batches(&batches)?;
    let mut stream = db.query_sql("SELECT * FROM chronicle.partitions").await?;  // a RecordBatch stream
    while let Some(batch) = stream.next().await {                                // futures::StreamExt
        println!("{} partitions", batch?.num_rows());
    }
    let plain = datafusion::prelude::SessionContext::new();                      // any DataFusion session can register a table
    plain.register_table("cpu", std::sync::Arc::new(db.table("cpu")?))?;
    println!("{} rows", plain.sql("SELECT * FROM cpu").await?.count().await?);
    let written = db.export_parquet(chronicle::ExportSource::Measurement("cpu"), None, "cpu.parquet").await?; // or COPY (...) TO 'x.parquet'
    println!("{written} rows exported");

    if std::env::var_os("AWS_ENDPOINT_URL").is_none() {
        println!("AWS_ENDPOINT_URL is not set: the s3:// exports are skipped");
        return Ok(());
    }
    db.export_parquet(chronicle::ExportSource::Measurement("cpu"), None, "s3://exports/cpu.parquet").await?;
    // Or per export, over the environment (keys as object_store's, e.g. aws_endpoint):
    let options = chronicle::ExportOptions::new()
        .with_storage_option("aws_endpoint", "http://127.0.0.1:5000")
        .with_storage_option("aws_allow_http", "true");
    db.export_parquet_with(chronicle::ExportSource::Query("SELECT * FROM cpu"), None, "s3://exports/all.parquet", &options).await?;
    println!("exported to s3://exports/cpu.parquet and s3://exports/all.parquet");
    Ok(())
}
