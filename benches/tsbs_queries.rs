//! TSBS query report: the fourteen TSBS devops query types in SQL over
//! TSBS cpu-only (100 hosts, 1 day at 10 s: 864,000 rows of 10 fields),
//! answered by Chronicle (`Db::session_context`, reading the flushed file)
//! and by a DataFusion `MemTable` holding the same rows already decoded.
//! The queries, the data and the answer check are in `tsbs_sql/`.
//!
//! Run: `cargo bench --bench tsbs_queries`. Prints TSV under the header
//! `query chronicle_ms memtable_ms ratio`: the median wall time of each
//! query type (planning and execution to the last batch) over 20
//! runs per engine, after one untimed warm-up, and chronicle / memtable.
//! Every answer is checked against the MemTable's (row count and every
//! value; rows sorted first where the query leaves the order open): a
//! mismatch aborts the run.
//!
//! The MemTable holds the generator's rows as `chronicle::testing::Reference`
//! lays them out (the same schema, built from the rows written, never read
//! back through Chronicle), in ingest order (time, hostname), cut into
//! batches of the session's batch size over as many partitions as the
//! session's target partitions.
//!
//! For profiling, environment variables narrow or explain a run:
//! `TSBS_QUERIES=lastpoint,high-cpu-all` runs only those query types,
//! `TSBS_ENGINES=chronicle` (or `memtable`) times only that engine (answers
//! are then not checked), `TSBS_EXPLAIN=1` prints `EXPLAIN ANALYZE` of the
//! first statement of each query type on each engine to stderr,
//! `TSBS_ITERATIONS=200` runs each query type longer (under `perf record`).
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark binary: failing loudly is right")]

mod tsbs_sql;

use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chronicle::testing::Reference;
use chronicle::{Config, Db};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::compute::{SortColumn, concat_batches, lexsort_to_indices, take_record_batch};
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use tsbs_sql::{HOSTS, STEPS, check, median_ms, run};

/// Timed runs per query type and engine, unless `TSBS_ITERATIONS` says otherwise.
const ITERATIONS: usize = 20;

/// DataFusion's bucket function, as TSBS's `time_bucket` is written there.
fn date_bin(unit: &str) -> String {
    format!("date_bin(INTERVAL '1 {unit}', time)")
}

async fn explain(engine: &str, ctx: &SessionContext, sql: &str) {
    let batches = ctx.sql(&format!("EXPLAIN ANALYZE {sql}")).await.expect("plans").collect().await.expect("runs");
    eprintln!("-- {engine}: EXPLAIN ANALYZE {sql}\n{}", pretty_format_batches(&batches).expect("formats"));
}

/// A plain DataFusion session holding `reference`'s `cpu` rows in a `MemTable`.
fn memtable_session(reference: &Reference) -> SessionContext {
    let (schema, batches) = reference.table("cpu");
    let all = concat_batches(&schema, &batches).expect("one schema");
    assert_eq!(all.num_rows(), HOSTS * STEPS, "every row is in the MemTable");
    let by = |name: &str| SortColumn { values: Arc::clone(all.column_by_name(name).expect("exists")), options: None };
    let order = lexsort_to_indices(&[by("time"), by("hostname")], None).expect("sorts");
    let all = take_record_batch(&all, &order).expect("takes");

    let ctx = SessionContext::new();
    chronicle_udfs::register_all(&ctx);
    let config = ctx.copied_config();
    let (batch_size, partitions) = (config.batch_size(), config.target_partitions().max(1));
    let per_partition = all.num_rows().div_ceil(partitions);
    let cut = |from: usize, to: usize| -> Vec<RecordBatch> {
        (from..to).step_by(batch_size).map(|o| all.slice(o, batch_size.min(to - o))).collect()
    };
    let data: Vec<Vec<RecordBatch>> = (0..partitions)
        .map(|p| cut((p * per_partition).min(all.num_rows()), ((p + 1) * per_partition).min(all.num_rows())))
        .collect();
    let table = MemTable::try_new(schema, data).expect("builds the MemTable");
    ctx.register_table("cpu", Arc::new(table)).expect("registers cpu");
    ctx
}

/// Which engines to time: (chronicle, memtable).
fn engines() -> (bool, bool) {
    match std::env::var("TSBS_ENGINES").ok().as_deref() {
        Some("chronicle") => (true, false),
        Some("memtable") => (false, true),
        _ => (true, true),
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let explaining = std::env::var("TSBS_EXPLAIN").is_ok_and(|v| v == "1");
    let (time_chronicle, time_memtable) = engines();

    let dir = std::env::temp_dir().join(format!("chronicle-tsbs-queries-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = Db::open(dir.join("tsbs.chronicle"), Config::default()).expect("opens");
    let started = Instant::now();
    let mut reference = Reference::new();
    tsbs_sql::load(&db, |batch| reference.write(batch));
    let partitions = db.partitions().expect("lists partitions");
    eprintln!(
        "loaded {} rows in {:.1} s: {} partitions, {} blocks, {} points in memory",
        HOSTS * STEPS,
        started.elapsed().as_secs_f64(),
        partitions.len(),
        partitions.iter().map(|p| p.blocks).sum::<usize>(),
        partitions.iter().map(|p| p.memory_points).sum::<u64>()
    );

    let chronicle = db.session_context();
    let started = Instant::now();
    let memtable = memtable_session(&reference);
    drop(reference);
    eprintln!("built the MemTable in {:.1} s", started.elapsed().as_secs_f64());

    println!("query\tchronicle_ms\tmemtable_ms\tratio");
    for (name, shape, statements) in tsbs_sql::statements(date_bin, ITERATIONS) {
        if explaining {
            explain("chronicle", &chronicle, &statements[0]).await;
            explain("memtable", &memtable, &statements[0]).await;
        }
        let (mut times_c, mut times_m, mut rows) = (Vec::new(), Vec::new(), 0);
        // The first statement warms up and is checked but not timed; the
        // engine that goes first alternates.
        for (i, sql) in statements.iter().enumerate() {
            let (mut c, mut m) = ((Duration::ZERO, Vec::new()), (Duration::ZERO, Vec::new()));
            if i % 2 == 0 {
                if time_chronicle {
                    c = run(&chronicle, sql).await;
                }
                if time_memtable {
                    m = run(&memtable, sql).await;
                }
            } else {
                if time_memtable {
                    m = run(&memtable, sql).await;
                }
                if time_chronicle {
                    c = run(&chronicle, sql).await;
                }
            }
            if time_chronicle && time_memtable {
                rows += check(name, sql, shape.ordered(), &c.1, ("the MemTable", &m.1));
            }
            if i > 0 {
                times_c.push(c.0);
                times_m.push(m.0);
            }
        }
        let (c, m) = (median_ms(times_c), median_ms(times_m));
        let mut line = String::new();
        write!(line, "{name}\t{c:.3}\t{m:.3}\t{:.3}", c / m).expect("formats");
        println!("{line}");
        std::io::stdout().flush().expect("flushes stdout");
        eprintln!("{name}: {} statements, {rows} rows checked; e.g. {}", statements.len(), statements[0]);
    }

    db.close().expect("closes");
    drop(db);
    let _ = std::fs::remove_dir_all(&dir);
}
