//! `chronicle inspect`: what a data directory holds (measurements, series,
//! points, partitions, bytes per point, the codecs in use) and what opening
//! it recovered, as readable tables or (`--json`) one JSON document.
//!
//! Bytes per point are the file's: block bytes over the points in them
//! (the head, not yet encoded, has no size on disk).

use std::path::{Path, PathBuf};
use std::time::Duration;

use chronicle::{Db, EncodingCount, RecoveryReport};
use datafusion::arrow::array::TimestampNanosecondArray;
use serde_json::{Value, json};

use super::units::format_duration;
use super::{CliError, data_dir};

/// The arguments of `chronicle inspect`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// Data directory to inspect.
    #[arg(long, env = "CHRONICLE_DATA_DIR", default_value = "data", value_name = "DIR")]
    pub data_dir: PathBuf,
    /// Print one JSON document instead of tables.
    #[arg(long)]
    pub json: bool,
}

/// Prints the inspection on stdout.
pub fn run(args: InspectArgs) -> Result<(), CliError> {
    let db = data_dir::open_existing(&args.data_dir)?;
    let report = inspect(&db);
    db.close()?;
    let report = report?;
    if args.json {
        let text = serde_json::to_string_pretty(&report).map_err(|e| CliError::Failed(e.to_string()))?;
        println!("{text}");
    } else {
        print!("{}", render(&report));
    }
    Ok(())
}

/// Everything inspect shows, as JSON (the text form renders it).
fn inspect(db: &Db) -> Result<Value, CliError> {
    let partitions = db.partitions()?;
    let series = db.series()?;
    let file_points: u64 = partitions.iter().map(|p| p.file_points).sum();
    let memory_points: u64 = partitions.iter().map(|p| p.memory_points).sum();
    let file_bytes: u64 = partitions.iter().map(|p| p.file_bytes).sum();
    let measurements: Vec<Value> = db
        .measurements()?
        .into_iter()
        .map(|m| {
            let count = series.iter().filter(|(_, key)| key.measurement == m).count();
            Ok(json!({ "name": m, "series": count, "fields": db.fields(&m)?, "tags": db.tag_keys(Some(&m))? }))
        })
        .collect::<Result<_, CliError>>()?;
    let usage = db.encoding_usage()?;
    let encodings = |list: &[(chronicle::encoding::EncodingId, EncodingCount)]| -> Vec<Value> {
        list.iter()
            .map(|(id, c)| json!({ "encoding": format!("{id:?}"), "columns": c.columns, "values": c.values }))
            .collect()
    };
    Ok(json!({
        "database": db.path().display().to_string(),
        "file_size": file_size(db.path()),
        "wal_size": dir_size(&wal_dir(db.path())),
        "partition_duration_ns": db.partition_duration_ns()?,
        "measurements": measurements,
        "series": series.len(),
        "points": file_points + memory_points,
        "file_points": file_points,
        "memory_points": memory_points,
        "block_bytes": file_bytes,
        "bytes_per_point": bytes_per_point(file_bytes, file_points),
        "partitions": partitions.iter().map(|p| json!({
            "start": rfc3339(p.start),
            "end": rfc3339(p.end),
            "blocks": p.blocks,
            "chunks": p.chunks,
            "file_points": p.file_points,
            "file_bytes": p.file_bytes,
            "bytes_per_point": bytes_per_point(p.file_bytes, p.file_points),
            "memory_points": p.memory_points,
        })).collect::<Vec<_>>(),
        "encodings": { "time": encodings(&usage.time), "values": encodings(&usage.values) },
        "recovery": recovery(db.recovery_report()),
    }))
}

fn recovery(r: &RecoveryReport) -> Value {
    json!({
        "clean": r.is_clean(),
        "wal_segments": r.wal.segments,
        "wal_records": r.wal.records,
        "wal_records_replayed": r.replayed,
        "wal_damage": r.wal.damage.iter().map(|d| json!({
            "path": d.path.display().to_string(), "offset": d.offset, "bytes": d.bytes, "reason": d.reason,
        })).collect::<Vec<_>>(),
        "unreadable_records": r.unreadable_records.iter().map(|(lsn, why)| json!({ "lsn": lsn, "why": why })).collect::<Vec<_>>(),
        "file_damage": r.file_damage.iter().map(|d| json!({
            "path": d.path.display().to_string(), "offset": d.offset, "detail": d.detail,
        })).collect::<Vec<_>>(),
    })
}

fn bytes_per_point(bytes: u64, points: u64) -> Option<f64> {
    (points > 0).then(|| ((bytes as f64 / points as f64) * 1000.0).round() / 1000.0)
}

fn rfc3339(ns: i64) -> String {
    let array = TimestampNanosecondArray::from(vec![ns]).with_timezone("UTC");
    datafusion::arrow::util::display::array_value_to_string(&array, 0).unwrap_or_else(|_| ns.to_string())
}

fn wal_dir(db: &Path) -> PathBuf {
    let mut name = db.file_name().unwrap_or_default().to_os_string();
    name.push(".wal");
    db.with_file_name(name)
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| entries.flatten().filter_map(|e| e.metadata().ok()).map(|m| m.len()).sum())
        .unwrap_or(0)
}

/// The text form of the [`inspect`] document.
fn render(r: &Value) -> String {
    let s = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".to_owned(),
        Value::Array(items) => items.iter().map(|i| i.as_str().unwrap_or_default()).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    };
    let rows = |v: &Value, keys: &[&str]| -> Vec<Vec<String>> {
        v.as_array().into_iter().flatten().map(|item| keys.iter().map(|k| s(&item[*k])).collect()).collect()
    };
    let mut out = String::new();
    let summary = [
        ("database", s(&r["database"])),
        ("file size", format!("{} bytes", s(&r["file_size"]))),
        ("WAL size", format!("{} bytes", s(&r["wal_size"]))),
        ("partition duration", format_duration(Duration::from_nanos(r["partition_duration_ns"].as_u64().unwrap_or(0)))),
        ("series", s(&r["series"])),
        ("points", format!("{} ({} in the file, {} in memory)", r["points"], r["file_points"], r["memory_points"])),
        ("bytes/point", s(&r["bytes_per_point"])),
        ("recovery", recovery_line(&r["recovery"])),
    ];
    for (k, v) in summary {
        out.push_str(&format!("{k:<19} {v}\n"));
    }
    let sections: [(&str, &Value, &[&str]); 4] = [
        ("measurements", &r["measurements"], &["name", "series", "fields", "tags"]),
        (
            "partitions",
            &r["partitions"],
            &["start", "end", "blocks", "chunks", "file_points", "file_bytes", "bytes_per_point", "memory_points"],
        ),
        ("time encodings", &r["encodings"]["time"], &["encoding", "columns", "values"]),
        ("value encodings", &r["encodings"]["values"], &["encoding", "columns", "values"]),
    ];
    for (title, items, keys) in sections {
        out.push_str(&format!("\n{title}\n{}", table(keys, &rows(items, keys))));
    }
    let damage = &r["recovery"];
    for (title, keys) in [
        ("wal_damage", &["path", "offset", "bytes", "reason"][..]),
        ("unreadable_records", &["lsn", "why"][..]),
        ("file_damage", &["path", "offset", "detail"][..]),
    ] {
        if damage[title].as_array().is_some_and(|a| !a.is_empty()) {
            out.push_str(&format!("\n{}\n{}", title.replace('_', " "), table(keys, &rows(&damage[title], keys))));
        }
    }
    out
}

fn recovery_line(r: &Value) -> String {
    format!(
        "{}; {} WAL segments, {} records, {} replayed",
        if r["clean"] == Value::Bool(true) { "clean" } else { "DAMAGE FOUND (see below)" },
        r["wal_segments"],
        r["wal_records"],
        r["wal_records_replayed"]
    )
}

/// Columns padded to their widest cell, under a header and a rule.
fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| rows.iter().map(|r| r[i].chars().count()).chain([h.len()]).max().unwrap_or(0))
        .collect();
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        format!("  {}\n", padded.join("  ").trim_end())
    };
    let mut out = line(headers.to_vec());
    out.push_str(&line(widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>().iter().map(String::as_str).collect()));
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    if rows.is_empty() {
        out.push_str("  (none)\n");
    }
    out
}
