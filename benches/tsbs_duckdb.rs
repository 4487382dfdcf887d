//! TSBS queries against DuckDB: the fourteen TSBS devops query types (see
//! `tsbs_sql/`) with `date_trunc` buckets, which both engines have, answered
//! by Chronicle in this process (`Db::session_context` over the flushed
//! file) and by DuckDB (`tsbs_duckdb.py`, a child process, answers fetched
//! as Arrow) over Chronicle's own Parquet export of the same rows
//! (`Db::export_parquet`), in the same run.
//!
//! Run: `benches/tsbs_duckdb.sh` (installs DuckDB and pyarrow if missing).
//! Prints TSV under the header `query chronicle_ms duckdb_ms ratio`: the
//! median wall time of each query type over 10 runs per engine (statements
//! drawn afresh each run, the engine that goes first alternating), after one
//! untimed warm-up, and chronicle / duckdb. Chronicle's time runs from
//! planning to the last batch; DuckDB's from the call to the built Arrow
//! table, measured in its process, so neither includes the exchange of
//! answers. Every answer is compared (row count and every value; rows
//! sorted first where the query leaves the order open) and a mismatch
//! aborts the run. `TSBS_QUERIES` and `TSBS_ITERATIONS` narrow or lengthen
//! the run as in `tsbs_queries`.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a benchmark binary: failing loudly is right")]

mod tsbs_sql;

use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use chronicle::{Config, Db, ExportSource};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::ipc::reader::StreamReader;
use tsbs_sql::{HOSTS, STEPS, check, median_ms, run};

/// Timed runs per query type and engine, unless `TSBS_ITERATIONS` says otherwise.
const ITERATIONS: usize = 10;

/// The bucket function both engines have; for whole minutes and hours it
/// gives `date_bin`'s buckets.
fn date_trunc(unit: &str) -> String {
    format!("date_trunc('{unit}', time)")
}

/// DuckDB in its process, answering one statement at a time.
struct DuckDb {
    child: Child,
    requests: ChildStdin,
    replies: BufReader<ChildStdout>,
    answer: PathBuf,
}

impl DuckDb {
    /// Starts `tsbs_duckdb.py` over `parquet`; checks it sees `rows` rows.
    fn start(parquet: &Path, dir: &Path, rows: usize) -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/tsbs_duckdb.py");
        let mut child = Command::new("python3")
            .arg(script)
            .arg(parquet)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("starts python3 benches/tsbs_duckdb.py");
        let requests = child.stdin.take().expect("piped stdin");
        let mut replies = BufReader::new(child.stdout.take().expect("piped stdout"));
        let mut line = String::new();
        replies.read_line(&mut line).expect("reads DuckDB's greeting");
        assert_eq!(line.trim(), format!("ready {rows}"), "DuckDB reads every row of the export");
        Self { child, requests, replies, answer: dir.join("duckdb-answer.arrow") }
    }

    /// Runs `sql`: DuckDB's time for it and its answer.
    fn run(&mut self, sql: &str) -> (Duration, Vec<RecordBatch>) {
        assert!(!sql.contains(['\n', '\t']), "one statement a line");
        writeln!(self.requests, "{}\t{sql}", self.answer.display()).expect("sends the statement");
        self.requests.flush().expect("sends the statement");
        let mut line = String::new();
        self.replies.read_line(&mut line).expect("reads DuckDB's reply");
        let ms: f64 = line.trim().parse().unwrap_or_else(|_| panic!("DuckDB failed on\n{sql}\nreply: {line:?}"));
        let file = std::fs::File::open(&self.answer).expect("opens DuckDB's answer");
        let batches = StreamReader::try_new(file, None).expect("reads DuckDB's answer");
        let batches = batches.collect::<Result<Vec<_>, _>>().expect("reads DuckDB's answer");
        (Duration::from_secs_f64(ms / 1e3), batches)
    }

    fn stop(mut self) {
        drop(self.requests);
        let status = self.child.wait().expect("waits for DuckDB");
        assert!(status.success(), "tsbs_duckdb.py ended with {status}");
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let dir = std::env::temp_dir().join(format!("chronicle-tsbs-duckdb-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("creates the working directory");
    let db = Db::open(dir.join("tsbs.chronicle"), Config::default()).expect("opens");
    tsbs_sql::load(&db, |_| {});
    let parquet = dir.join("cpu.parquet");
    let exported = db
        .export_parquet(ExportSource::Measurement("cpu"), None, parquet.to_str().expect("a UTF-8 path"))
        .await
        .expect("exports cpu");
    assert_eq!(exported as usize, HOSTS * STEPS, "the export holds every row");
    eprintln!("exported {exported} rows to {} bytes of Parquet", std::fs::metadata(&parquet).expect("exists").len());

    let chronicle = db.session_context();
    let mut duckdb = DuckDb::start(&parquet, &dir, HOSTS * STEPS);
    println!("query\tchronicle_ms\tduckdb_ms\tratio");
    for (name, shape, statements) in tsbs_sql::statements(date_trunc, ITERATIONS) {
        let (mut times_c, mut times_d, mut rows) = (Vec::new(), Vec::new(), 0);
        // The first statement warms up and is checked but not timed.
        for (i, sql) in statements.iter().enumerate() {
            let (c, d) = if i % 2 == 0 {
                let c = run(&chronicle, sql).await;
                (c, duckdb.run(sql))
            } else {
                let d = duckdb.run(sql);
                (run(&chronicle, sql).await, d)
            };
            rows += check(name, sql, shape.ordered(), &c.1, ("DuckDB", &d.1));
            if i > 0 {
                times_c.push(c.0);
                times_d.push(d.0);
            }
        }
        let (c, d) = (median_ms(times_c), median_ms(times_d));
        println!("{name}\t{c:.3}\t{d:.3}\t{:.3}", c / d);
        std::io::stdout().flush().expect("flushes stdout");
        eprintln!("{name}: {} statements, {rows} rows compared; e.g. {}", statements.len(), statements[0]);
    }
    duckdb.stop();
    db.close().expect("closes");
    let _ = std::fs::remove_dir_all(&dir);
}
