//! The embedded database in a few lines: open, write points and rows, scan,
//! list, close. Run: `cargo run --example embedded`.

use chronicle::{Config, Db, Point, Row, ScanRequest, SyncPolicy, TagMatcher};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::temp_dir().join("chronicle-example").join("metrics.chronicle");
    let db = Db::open(&path, Config::default().with_sync(SyncPolicy::Always))?;
    let t0 = 1_767_225_600_000_000_000; // 2026-01-01T00:00:00Z, nanoseconds
    db.write(&[Point::new("temperature", 21.5, t0).with_tag("room", "kitchen")])?;
    db.write_rows(&[Row::new("cpu", t0)
        .with_tag("host", "a")
        .with_field("usage_user", 12.0)
        .with_field("usage_idle", 80.0)])?;

    let request = ScanRequest::new("cpu").with_matcher(TagMatcher::regex("host", "a|b")?).with_fields(["usage_user"]);
    for batch in db.scan(&request)? {
        // An Arrow RecordBatch: time, one dictionary column per tag key, the asked fields.
        let batch = batch?;
        println!(
            "{} rows of {:?}",
            batch.num_rows(),
            batch.schema().fields().iter().map(|f| f.name()).collect::<Vec<_>>()
        );
    }
    println!("measurements: {:?}", db.measurements()?);
    println!("hosts: {:?}", db.tag_values("host", Some("cpu"), None)?);
    db.close()?;
    Ok(())
}
