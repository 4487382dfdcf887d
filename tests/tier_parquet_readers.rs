//! Other tools read the cold tier's files directly: DuckDB and pyarrow
//! (in Python) open the Parquet files a `file://` tier holds, and their
//! answers are compared with figures computed here from the written rows,
//! without Chronicle. pyarrow also checks the layout: sorted by tags then
//! time, zstd, dictionary tags, byte-stream-split fields, delta-packed
//! time, row-group statistics, the Chronicle schema and the key-value
//! metadata naming the partition.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

use crate::common;

use std::process::Command;

use chronicle::{Config, Db, TierConfig};
use common::TempDir;
use common::tiered_cpu::{HOUR, T0, initial, rows};

fn python(script: &str) -> String {
    let out = Command::new("python3").args(["-c", script]).output().expect("python3 runs");
    assert!(
        out.status.success(),
        "python failed (run scripts/install-test-deps.sh for duckdb and pyarrow): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

#[tokio::test]
async fn duckdb_and_pyarrow_read_the_tier_files() {
    let dir = TempDir::new("tier-readers");
    let cold = dir.path("cold");
    let config = Config::default().with_tier(TierConfig::new(format!("file://{}", cold.display())));
    let db = Db::open(dir.path("db"), config).unwrap();
    db.write_rows(&rows(&initial())).unwrap();
    db.flush().unwrap();
    db.tier_partition(T0).await.unwrap();
    db.tier_partition(T0 + HOUR).await.unwrap();
    db.close().unwrap();

    // The first two hours, by hand.
    let tiered: Vec<_> = initial().into_iter().filter(|r| r.1 < T0 + 2 * HOUR).collect();
    let count = tiered.len();
    let user: f64 = tiered.iter().filter_map(|r| r.2).sum();
    let with_system = tiered.iter().filter(|r| r.3.is_some()).count();
    let no_region = tiered.iter().filter(|r| r.0 == "c").count();
    let glob = format!("{}/cpu/*.parquet", cold.display());

    let duck = python(&format!(
        "import duckdb\n\
         print(duckdb.sql(\"SELECT count(*), sum(usage_user), count(usage_system), count(*) FILTER (WHERE region IS NULL), \
         epoch_ns(min(time)) FROM read_parquet('{glob}')\").fetchall())"
    ));
    assert_eq!(duck, format!("[({count}, {user:?}, {with_system}, {no_region}, {T0})]"));

    let arrow = python(&format!(
        r#"import glob, pyarrow.parquet as pq
for path in sorted(glob.glob('{glob}'), key=lambda p: int(p.split('/')[-1].split('-')[0])):
    f = pq.ParquetFile(path)
    meta = {{k.decode(): v.decode() for k, v in f.metadata.metadata.items() if k.startswith(b'chronicle.')}}
    table = f.read()
    keys = list(zip(table['host'].to_pylist(), table['time'].cast('int64').to_pylist()))
    rg = f.metadata.row_group(0)
    cols = [rg.column(i) for i in range(rg.num_columns)]
    enc = {{c.path_in_schema: set(c.encodings) for c in cols}}
    dictionary = lambda name: bool(enc[name] & {{'RLE_DICTIONARY', 'PLAIN_DICTIONARY'}})
    floats = [n for n in table.schema.names if str(table.schema.field(n).type) == 'double']
    encodings = (all('BYTE_STREAM_SPLIT' in enc[n] and not dictionary(n) for n in floats),
                 'DELTA_BINARY_PACKED' in enc['time'] and not dictionary('time'),
                 dictionary('host') and dictionary('region'))
    print(meta['chronicle.measurement'], meta['chronicle.partition_start'], meta['chronicle.partition_end'],
          meta['chronicle.schema_version'], table.num_rows, keys == sorted(keys),
          all(c.compression == 'ZSTD' for c in cols), all(c.statistics.has_min_max for c in cols), *encodings,
          str(table.schema.field('host').type), str(table.schema.field('time').type), table.schema.names)"#
    ));
    let columns = "['time', 'host', 'region', 'usage_system', 'usage_user']";
    let line = |start: i64, rows: usize| {
        format!(
            "cpu {start} {} 1 {rows} True True True True True True dictionary<values=string, indices=int32, ordered=0> \
             timestamp[ns, tz=UTC] {columns}",
            start + HOUR - 1
        )
    };
    let first = tiered.iter().filter(|r| r.1 < T0 + HOUR).count();
    assert_eq!(arrow, format!("{}\n{}", line(T0, first), line(T0 + HOUR, count - first)));
}
