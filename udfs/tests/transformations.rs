//! The InfluxQL transformations through SQL window functions: NULL rows skipped,
//! first rows, equal timestamps, partitions, moving_average's warm-up and bad
//! constant arguments.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

mod common;

use common::{error, floats, floats_in, session};

/// Host `a`: 10, 20, NULL, 15, 99, 25 at 0, 10, 20, 30, 30 (a second point at the
/// same time), 40 s; host `b`: 100, 50 at 0, 5 s. `seq` orders equal times.
const DATA: &str = "(SELECT host, seq, s * 1000000000 AS time, v FROM (VALUES \
    ('b', 1, 0, 100.0), ('a', 1, 0, 10.0), ('a', 2, 10, 20.0), ('a', 3, 20, NULL), \
    ('b', 2, 5, 50.0), ('a', 4, 30, 15.0), ('a', 5, 30, 99.0), ('a', 6, 40, 25.0)) d(host, seq, s, v))";

/// `call` over each host's rows in time order, the rows of `a` then of `b`.
async fn over_hosts(call: &str) -> Vec<Option<f64>> {
    let sql = format!("SELECT {call} OVER (PARTITION BY host ORDER BY time, seq) FROM {DATA} ORDER BY host, seq");
    floats(&sql).await
}

#[tokio::test]
async fn derivative_per_unit_skips_nulls_and_repeated_times() {
    // a: (20 - 10) / 10 s, NULL input, (15 - 20) / 20 s, same time as 15, (25 - 15) / 10 s; b: -50 / 5 s.
    let per_second = [None, Some(1.0), None, Some(-0.25), None, Some(1.0), None, Some(-10.0)];
    assert_eq!(over_hosts("derivative(v, time, 1000000000)").await, per_second);
    assert_eq!(over_hosts("derivative(v, time)").await, per_second, "the unit defaults to 1 s");
    let per_minute = per_second.map(|d| d.map(|d| d * 60.0));
    assert_eq!(over_hosts("derivative(v, time, 60000000000)").await, per_minute);
}

#[tokio::test]
async fn non_negative_derivative_drops_negative_rates() {
    let expected = [None, Some(1.0), None, None, None, Some(1.0), None, None];
    assert_eq!(over_hosts("non_negative_derivative(v, time, 1000000000)").await, expected);
}

#[tokio::test]
async fn derivative_takes_timestamps() {
    let time = "arrow_cast(time, 'Timestamp(ns, \"UTC\")')";
    let got = over_hosts(&format!("derivative(v, {time}, 1000000000)")).await;
    assert_eq!(got, [None, Some(1.0), None, Some(-0.25), None, Some(1.0), None, Some(-10.0)]);
}

#[tokio::test]
async fn difference_is_from_the_previous_non_null_value() {
    // Time is not an argument: the second point at 30 s counts.
    let expected = [None, Some(10.0), None, Some(-5.0), Some(84.0), Some(-74.0), None, Some(-50.0)];
    assert_eq!(over_hosts("difference(v)").await, expected);
    let non_negative = [None, Some(10.0), None, None, Some(84.0), None, None, None];
    assert_eq!(over_hosts("non_negative_difference(v)").await, non_negative);
}

#[tokio::test]
async fn moving_average_warms_up_over_n_non_null_values() {
    // a's values: 10, 20, NULL, 15, 99, 25; b's: 100, 50.
    let n2 = [None, Some(15.0), None, Some(17.5), Some(57.0), Some(62.0), None, Some(75.0)];
    assert_eq!(over_hosts("moving_average(v, 2)").await, n2);
    let n3 = [None, None, None, Some(15.0), Some(134.0 / 3.0), Some(139.0 / 3.0), None, None];
    assert_eq!(over_hosts("moving_average(v, 3)").await, n3);
    let n1 = [Some(10.0), Some(20.0), None, Some(15.0), Some(99.0), Some(25.0), Some(100.0), Some(50.0)];
    assert_eq!(over_hosts("moving_average(v, 1)").await, n1);
}

#[tokio::test]
async fn moving_average_forgets_what_left_the_window() {
    // A running sum would keep 1e20's rounding error, or NaN forever.
    let sql = "SELECT moving_average(v, 2) OVER (ORDER BY t) FROM \
        (VALUES (1, 1e20), (2, 1.0), (3, 1.0), (4, 'NaN'), (5, 3.0), (6, 5.0)) d(t, v)";
    let got = floats(sql).await;
    assert_eq!(got[..3], [None, Some(5e19), Some(1.0)]);
    assert!(got[3].unwrap().is_nan() && got[4].unwrap().is_nan());
    assert_eq!(got[5], Some(4.0));
}

#[tokio::test]
async fn cumulative_sum_runs_over_non_null_values() {
    let expected = [Some(10.0), Some(30.0), None, Some(45.0), Some(144.0), Some(169.0), Some(100.0), Some(150.0)];
    assert_eq!(over_hosts("cumulative_sum(v)").await, expected);
}

#[tokio::test]
async fn partitions_are_planned_in_parallel() {
    let sql =
        format!("SELECT cumulative_sum(v) OVER (PARTITION BY host ORDER BY time, seq) FROM {DATA} ORDER BY host, seq");
    let got = floats_in(&session(4), &sql).await;
    assert_eq!(got, [Some(10.0), Some(30.0), None, Some(45.0), Some(144.0), Some(169.0), Some(100.0), Some(150.0)]);
}

#[tokio::test]
async fn bad_constants_are_errors() {
    for (call, message) in [
        ("moving_average(v, 0)", "moving_average(value, n): n must be a positive integer, got 0"),
        ("moving_average(v, -3)", "moving_average(value, n): n must be a positive integer, got -3"),
        ("moving_average(v, seq)", "moving_average(value, n): n must be a positive integer constant"),
        ("moving_average(v, 1.5)", "moving_average: n must be an integer constant, got Float64"),
        ("derivative(v, time, 0)", "derivative(value, time, unit): unit must be a positive integer, got 0"),
        ("non_negative_derivative(v, 'x')", "non_negative_derivative: the time argument must be a timestamp"),
        ("difference(v, time)", "difference(value) takes 1 argument, got 2"),
        ("cumulative_sum('x')", "cumulative_sum: the value argument must be numeric"),
    ] {
        let sql = format!("SELECT {call} OVER (PARTITION BY host ORDER BY time) FROM {DATA}");
        let text = error(&sql).await;
        assert!(text.contains(message), "{call}: {text}");
    }
}
