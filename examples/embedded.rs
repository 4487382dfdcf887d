//! The README's embedded database section as a program: open, write points
//! and rows, scan, list, close. `readme()` holds the README's code as written
//! there (tests/readme_examples.rs checks it line by line); it opens a relative
//! path, so the program first moves into a fresh temporary directory.
//!
//! Run: `cargo run --example embedded`.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::temp_dir().join(format!("chronicle-example-embedded-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    std::env::set_current_dir(&dir)?;

    readme()?;

    println!("files: {:?}", files(&dir.join("data"))?);
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}

/// The README's snippet, as written there.
fn readme() -> Result<(), Box<dyn std::error::Error>> {
    use chronicle::{Config, Db, Point, Row, ScanRequest, SyncPolicy, TagMatcher};

    let db = Db::open("data/metrics.chronicle", Config::default().with_sync(SyncPolicy::Always))?;
    let t0 = 1_767_225_600_000_000_000; // 2026-01-01T00:00:00Z, nanoseconds
    db.write(&[Point::new("temperature", 21.5, t0).with_tag("room", "kitchen")])?;
    db.write_rows(&[
        Row::new("cpu", t0).with_tag("host", "a").with_field("usage_user", 12.0).with_field("usage_idle", 80.0),
        Row::new("cpu", t0 + 10_000_000_000).with_tag("host", "b").with_field("usage_idle", 95.0), // no usage_user
    ])?;

    let request = ScanRequest::new("cpu").with_matcher(TagMatcher::regex("host", "a|b")?).with_fields(["usage_user"]);
    for batch in db.scan(&request)? {
        let batch = batch?; // Arrow RecordBatch: time, one dictionary column per tag key, the asked fields (null where a row lacks one)
        println!("{}", datafusion::arrow::util::pretty::pretty_format_batches(&[batch])?); // host b's row: usage_user null
    }
    println!("{:?} {:?}", db.measurements()?, db.tag_values("host", Some("cpu"), None)?); // ["cpu", "temperature"] ["a", "b"]
    db.close()?;
    Ok(())
}

/// The names in `dir`, sorted: what the database keeps on disk.
fn files(dir: &std::path::Path) -> std::io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        names.push(entry?.file_name().to_string_lossy().into_owned());
    }
    names.sort();
    Ok(names)
}
