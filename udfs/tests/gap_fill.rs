//! `locf` and `interpolate` through SQL window functions: leading and trailing
//! NULLs, uneven spacing, equal times and partitions.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

mod common;

use common::{error, floats};

/// Host `a`: NULL, 0, NULL, NULL, NULL, 8, NULL at 0, 1, 2, 3 (twice), 5, 6 s, one
/// of the rows at 3 s with a NULL time; host `b`: 5, NULL, 9 all at 10 s.
const DATA: &str = "(SELECT host, seq, s * 1000000000 AS time, v FROM (VALUES \
    ('a', 1, 0, NULL), ('a', 2, 1, 0.0), ('a', 3, 2, NULL), ('a', 4, 3, NULL), ('a', 5, NULL, NULL), \
    ('a', 6, 5, 8.0), ('a', 7, 6, NULL), \
    ('b', 1, 10, 5.0), ('b', 2, 10, NULL), ('b', 3, 10, 9.0)) d(host, seq, s, v))";

async fn over_hosts(call: &str) -> Vec<Option<f64>> {
    floats(&format!("SELECT {call} OVER (PARTITION BY host ORDER BY seq) FROM {DATA} ORDER BY host, seq")).await
}

#[tokio::test]
async fn locf_carries_the_last_value_forward() {
    let expected =
        [None, Some(0.0), Some(0.0), Some(0.0), Some(0.0), Some(8.0), Some(8.0), Some(5.0), Some(5.0), Some(9.0)];
    assert_eq!(over_hosts("locf(v)").await, expected);
}

#[tokio::test]
async fn interpolate_is_linear_in_time_between_points() {
    // 0 at 1 s to 8 at 5 s: 2 at 2 s, 4 at 3 s; the NULL time stays NULL; b's points
    // share their time, so the gap takes the earlier value.
    let expected = [None, Some(0.0), Some(2.0), Some(4.0), None, Some(8.0), None, Some(5.0), Some(5.0), Some(9.0)];
    assert_eq!(over_hosts("interpolate(time, v)").await, expected);
}

#[tokio::test]
async fn interpolate_takes_timestamps() {
    let got = over_hosts("interpolate(arrow_cast(time, 'Timestamp(ms)'), v)").await;
    assert_eq!(got[..4], [None, Some(0.0), Some(2.0), Some(4.0)]);
}

#[tokio::test]
async fn gap_fill_arguments_are_checked() {
    let text = error(&format!("SELECT interpolate(v) OVER (ORDER BY seq) FROM {DATA}")).await;
    assert!(text.contains("interpolate(time, value) takes 2 arguments, got 1"), "{text}");
    let text = error(&format!("SELECT locf(host) OVER (ORDER BY seq) FROM {DATA}")).await;
    assert!(text.contains("locf: the value argument must be numeric"), "{text}");
}
