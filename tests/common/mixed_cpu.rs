//! The mixed `cpu` data of the SQL plan tests, and a plain DataFusion
//! session over the same rows kept by `chronicle::testing::Reference` (built
//! from the rows written, never through Chronicle) to compare against.

use std::sync::Arc;

use arrow_array::RecordBatch;
use chronicle::testing::Reference;
use chronicle::{Db, Row};
use datafusion::prelude::SessionContext;

/// A minute in nanoseconds.
pub const MINUTE: i64 = 60_000_000_000;
/// An hour in nanoseconds.
pub const HOUR: i64 = 60 * MINUTE;
/// 2026-01-01T00:00:00Z, an hour boundary.
pub const T0: i64 = 1_767_225_600_000_000_000;

/// `t` (ns) as a SQL timestamp.
pub fn ts(t: i64) -> String {
    format!("to_timestamp_nanos({t})")
}

/// Three hours of `cpu`, a point a minute, flushed hour by hour so every
/// (series, hour) starts as one chunk. Hosts `a` and `b` (dc `x`) and `c`
/// (no dc). What each (host, hour) holds:
///
/// | | hour 0 | hour 1 | hour 2 |
/// |---|---|---|---|
/// | a | clean | overwritten by a later flush | -Inf, no usage_system |
/// | b | clean | usage_system every other minute | same |
/// | c | a NaN | +Inf and zeros | overwritten in the head |
///
/// Returns the same rows kept by a [`Reference`].
pub fn load_mixed(db: &Db) -> Reference {
    let mut reference = Reference::new();
    let mut write = |rows: &[Row]| {
        db.write_rows(rows).unwrap();
        reference.write(rows);
    };
    let usage = |host: &str, m: i64| {
        let base = match host {
            "a" => 10.0,
            "b" => 20.0,
            _ => 30.0,
        };
        base + (m % 17) as f64 * 0.25
    };
    for hour in 0..3i64 {
        let mut rows = Vec::new();
        for m in hour * 60..(hour + 1) * 60 {
            for host in ["a", "b", "c"] {
                let mut row = Row::new("cpu", T0 + m * MINUTE).with_tag("host", host);
                if host != "c" {
                    row = row.with_tag("dc", "x");
                }
                let value = match (host, hour, m % 60) {
                    // Last, so DataFusion's grouped min and max end on it.
                    ("c", 0, 59) => f64::NAN,
                    ("c", 1, 3) => f64::INFINITY,
                    ("c", 1, 4) => 0.0,
                    ("c", 1, 5) => -0.0,
                    ("a", 2, 5) => f64::NEG_INFINITY,
                    _ => usage(host, m),
                };
                row = row.with_field("usage_user", value);
                let system = match host {
                    "a" => hour != 2,
                    "b" => hour == 0 || m % 2 == 0,
                    _ => hour == 2,
                };
                if system {
                    row = row.with_field("usage_system", 5.0 + (m % 4) as f64 * 0.5);
                }
                rows.push(row);
            }
        }
        write(&rows);
        db.flush().unwrap();
    }
    // Host a, hour 1: a later block rewrites every tenth minute.
    let late: Vec<Row> = (60..120)
        .step_by(10)
        .map(|m| {
            Row::new("cpu", T0 + m * MINUTE)
                .with_tag("host", "a")
                .with_tag("dc", "x")
                .with_field("usage_user", 99.5 + m as f64)
                .with_field("usage_system", -1.0)
        })
        .collect();
    write(&late);
    db.flush().unwrap();
    // Host c, hour 2: the head rewrites two points and adds one.
    let head: Vec<Row> = [(125, -7.25), (130, 1000.0), (179, 0.5)]
        .iter()
        .map(|&(m, v)| Row::new("cpu", T0 + m * MINUTE).with_tag("host", "c").with_field("usage_user", v))
        .collect();
    write(&head);
    reference
}

/// `batches` as a text table.
pub fn pretty(batches: &[RecordBatch]) -> String {
    datafusion::arrow::util::pretty::pretty_format_batches(batches).unwrap().to_string()
}

pub async fn run(ctx: &SessionContext, sql: &str) -> String {
    pretty(&ctx.sql(sql).await.expect(sql).collect().await.expect(sql))
}

/// A plain DataFusion session over `reference`'s `cpu`, with Chronicle's
/// functions registered.
pub fn reference_session(reference: &Reference) -> SessionContext {
    let ctx = SessionContext::new();
    chronicle_udfs::register_all(&ctx);
    ctx.register_table("cpu", Arc::new(reference.mem_table("cpu"))).unwrap();
    ctx
}
