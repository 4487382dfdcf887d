//! The aggregates through SQL, against values computed by hand, including
//! grouped (merged partial states) and empty inputs.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

mod common;

use common::{floats, session};
use datafusion::arrow::array::AsArray;
use datafusion::arrow::datatypes::Float64Type;

async fn run(sql: String) -> Vec<Option<f64>> {
    floats(&sql).await
}

const DATA: &str = "(VALUES ('a', 1.0), ('a', 5.0), ('a', 3.0), ('b', 10.0), ('b', 'NaN'), ('a', NULL)) t(g, x)";

#[tokio::test]
async fn spread_is_max_minus_min_ignoring_nan_and_null() {
    assert_eq!(run(format!("SELECT spread(x) FROM {DATA} GROUP BY g ORDER BY g")).await, [Some(4.0), Some(0.0)]);
    assert_eq!(run(format!("SELECT spread(x) FROM {DATA} WHERE g = 'z'")).await, [None]);
}

#[tokio::test]
async fn percentile_is_influxql_nearest_rank() {
    // Sorted 1, 3, 5: rank floor(3 * N / 100 + 0.5) - 1.
    let p = |n: &str| run(format!("SELECT percentile(x, {n}) FROM {DATA} WHERE g = 'a'"));
    assert_eq!(p("50").await, [Some(3.0)]);
    assert_eq!(p("90").await, [Some(5.0)]);
    assert_eq!(p("100").await, [Some(5.0)]);
    assert_eq!(p("10").await, [None], "rank -1: no value");
    assert_eq!(p("34").await, [Some(1.0)]);
    let ctx = session(1);
    let bad = ctx.sql(&format!("SELECT percentile(x, 0) FROM {DATA}")).await.unwrap().collect().await;
    assert!(bad.is_err(), "N must be in (0, 100]");
}

#[tokio::test]
async fn partial_states_merge() {
    // Many small partitions force partial aggregation and a merge.
    let values: Vec<String> = (1..=1000).map(|i| format!("({}.0)", i)).collect();
    let sql = format!(
        "SELECT spread(x) FROM (VALUES {}) t(x) UNION ALL SELECT percentile(x, 95) FROM (VALUES {}) t(x)",
        values.join(","),
        values.join(",")
    );
    assert_eq!(run(sql).await.len(), 2);
    let ctx = session(4);
    ctx.sql(&format!("CREATE TABLE t AS VALUES {}", values.join(","))).await.unwrap().collect().await.unwrap();
    let out = ctx.sql("SELECT spread(column1), percentile(column1, 95) FROM t").await.unwrap().collect().await.unwrap();
    let col = |c: usize| out[0].column(c).as_primitive::<Float64Type>().value(0);
    assert_eq!((col(0), col(1)), (999.0, 950.0));
}

#[tokio::test]
async fn mode_is_the_most_frequent_value_the_smallest_on_a_tie() {
    let data = "(VALUES ('a', 2.0), ('a', 7.0), ('a', 7.0), ('a', 2.0), ('a', 1.0), ('b', 3.0), ('b', NULL), ('b', 4.0), ('b', 4.0)) t(g, x)";
    assert_eq!(run(format!("SELECT mode(x) FROM {data} GROUP BY g ORDER BY g")).await, [Some(2.0), Some(4.0)]);
    assert_eq!(run(format!("SELECT mode(x) FROM {data} WHERE g = 'z'")).await, [None]);
}
