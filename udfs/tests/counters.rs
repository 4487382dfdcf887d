//! `increase`, `rate`, `delta` and `integral` through SQL: counter resets, unordered input,
//! NULLs, too few points, equal times, timestamp and integer times, and partial
//! states merged from several input partitions.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

mod common;

use std::sync::Arc;

use common::{error, floats, floats_in, session};
use datafusion::arrow::array::{Float64Array, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::datasource::MemTable;

/// Seconds and values, out of time order. Series `a` is 10, 15, 3 (a reset), 8
/// at 0, 10, 20, 30 s, plus a NULL value and a NULL time; `b` has one point; `c`
/// two points at the same time.
const DATA: &str = "(VALUES \
    ('a', 20, 3.0), ('a', 0, 10.0), ('a', 40, NULL), ('a', 30, 8.0), ('a', 10, 15.0), ('a', NULL, 1000.0), \
    ('b', 5, 7.0), \
    ('c', 5, 4.0), ('c', 5, 1.0)) d(g, s, v)";

async fn per_series(function: &str) -> Vec<Option<f64>> {
    floats(&format!("SELECT {function}(s * 1000000000, v) FROM {DATA} GROUP BY g ORDER BY g")).await
}

#[tokio::test]
async fn increase_counts_a_reset_from_zero() {
    // (15 - 10) + 3 + (8 - 3); equal times sort by value: 1 then 4.
    assert_eq!(per_series("increase").await, [Some(13.0), None, Some(3.0)]);
}

#[tokio::test]
async fn rate_is_increase_per_second_of_span() {
    assert_eq!(per_series("rate").await, [Some(13.0 / 30.0), None, None], "c spans 0 s");
}

#[tokio::test]
async fn integral_sums_trapezoids_per_unit() {
    // a: (10 + 15) / 2 * 10 + (15 + 3) / 2 * 10 + (3 + 8) / 2 * 10 = 270 value-seconds.
    assert_eq!(per_series("integral").await, [Some(270.0), Some(0.0), Some(0.0)], "one point or no span: 0");
    let per_minute =
        floats(&format!("SELECT integral(s * 1000000000, v, 60000000000) FROM {DATA} WHERE g = 'a'")).await;
    assert_eq!(per_minute, [Some(4.5)]);
    assert!(error(&format!("SELECT integral(s, v, 0) FROM {DATA}")).await.contains("positive integer"));
}

#[tokio::test]
async fn delta_is_last_minus_first_without_resets() {
    assert_eq!(per_series("delta").await, [Some(8.0 - 10.0), None, Some(3.0)]);
}

#[tokio::test]
async fn timestamp_times_of_any_unit_and_zone() {
    let zoned_nanos = "arrow_cast(s * 1000000000, 'Timestamp(ns, \"UTC\")')";
    for time in [zoned_nanos, "arrow_cast(s, 'Timestamp(s)')"] {
        let sql = format!(
            "SELECT rate({time}, v) FROM {DATA} WHERE g = 'a' UNION ALL SELECT increase({time}, v) FROM {DATA} WHERE g = 'a'"
        );
        let mut got = floats(&sql).await;
        got.sort_by(|a, b| a.partial_cmp(b).unwrap());
        assert_eq!(got, [Some(13.0 / 30.0), Some(13.0)], "{time}");
    }
}

#[tokio::test]
async fn integer_values_are_coerced() {
    let sql = "SELECT increase(t, v) FROM (VALUES (1, 5), (2, 2), (3, 4)) d(t, v)";
    assert_eq!(floats(sql).await, [Some(2.0 + 2.0)]);
}

#[tokio::test]
async fn no_points_is_null() {
    let sql = format!("SELECT increase(s, v) FROM {DATA} WHERE g = 'z'");
    assert_eq!(floats(&sql).await, [None]);
}

/// A sawtooth counter, 1..=100 repeated over 1000 s (9 resets to 1), spread round
/// robin over 4 input partitions so that every partition is out of time order and
/// the result needs the partial states merged.
#[tokio::test]
async fn partial_states_merge_across_partitions() {
    let schema = Arc::new(Schema::new(vec![
        Field::new("g", DataType::Int64, false),
        Field::new("t", DataType::Int64, false),
        Field::new("v", DataType::Float64, false),
    ]));
    let partition = |p: i64| {
        let seconds: Vec<i64> = (0..1000).rev().filter(|s| s % 4 == p).collect();
        let g = Int64Array::from(seconds.iter().map(|s| s % 2).collect::<Vec<_>>());
        let v = Float64Array::from(seconds.iter().map(|s| (s % 100 + 1) as f64).collect::<Vec<_>>());
        let t = Int64Array::from(seconds.iter().map(|s| s * 1_000_000_000).collect::<Vec<_>>());
        vec![RecordBatch::try_new(schema.clone(), vec![Arc::new(g), Arc::new(t), Arc::new(v)]).unwrap()]
    };
    let table = MemTable::try_new(schema.clone(), (0..4).map(partition).collect()).unwrap();
    let ctx = session(4);
    ctx.register_table("counter", Arc::new(table)).unwrap();
    let explain = ctx.sql("EXPLAIN SELECT increase(t, v) FROM counter").await.unwrap().collect().await.unwrap();
    let plan = pretty_format_batches(&explain).unwrap().to_string();
    assert!(plan.contains("mode=Partial") && plan.contains("partitions=4"), "{plan}");
    let all = floats_in(&ctx, "SELECT increase(t, v) FROM counter").await;
    assert_eq!(all, [Some(10.0 * 99.0 + 9.0)]);
    let rate = floats_in(&ctx, "SELECT rate(t, v) FROM counter").await;
    assert_eq!(rate, [Some(999.0 / 999.0)]);
    let delta = floats_in(&ctx, "SELECT delta(t, v) FROM counter").await;
    assert_eq!(delta, [Some(100.0 - 1.0)]);
    // Grouped: odd seconds 1, 3, .., 999 carry values 2, 4, .., 100 per cycle (9 resets to 2).
    let odd = floats_in(&ctx, "SELECT increase(t, v) FROM counter GROUP BY g HAVING g = 1").await;
    assert_eq!(odd, [Some(10.0 * 98.0 + 9.0 * 2.0)]);
}

#[tokio::test]
async fn bad_arguments_are_plan_errors() {
    let text = error(&format!("SELECT increase(v, 'x') FROM {DATA}")).await;
    assert!(text.contains("increase: the time argument must be a timestamp or integer"), "{text}");
    let count = error(&format!("SELECT delta(s) FROM {DATA}")).await;
    assert!(count.contains("delta(time, value) takes 2 arguments, got 1"), "{count}");
}
