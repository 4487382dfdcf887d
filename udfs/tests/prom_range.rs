//! The `prom_*` range-vector functions through SQL, against values computed
//! by hand: windows per step, `@` and offset, several series as rows, null
//! rows and points, per-step parameters, and argument errors.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

mod common;

use common::{error, session};
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::Float64Type;

/// Each row of the first column of `sql`'s result, a list of floats.
async fn lists(sql: &str) -> Vec<Option<Vec<Option<f64>>>> {
    let batches = session(1).sql(sql).await.expect(sql).collect().await.expect(sql);
    let mut out = Vec::new();
    for batch in &batches {
        let list = batch.column(0).as_list::<i32>();
        for row in 0..list.len() {
            out.push(list.is_valid(row).then(|| list.value(row).as_primitive::<Float64Type>().iter().collect()));
        }
    }
    out
}

/// The one row of `sql`'s result.
async fn one(sql: &str) -> Vec<Option<f64>> {
    lists(sql).await.swap_remove(0).expect(sql)
}

/// A point every 10 s from 0 to 200 s, its value the time in seconds.
fn ramp() -> (String, String) {
    let ts: Vec<String> = (0..=20).map(|i| (i * 10_000).to_string()).collect();
    let vs: Vec<String> = (0..=20).map(|i| format!("{}.0", i * 10)).collect();
    (format!("[{}]", ts.join(", ")), format!("[{}]", vs.join(", ")))
}

#[tokio::test]
async fn rate_and_increase_extrapolate_inside_the_window() {
    // (0, 30 s] holds 1 at 15 s and 2 at 30 s: an increase of 1 over 15 s
    // sampled, 15 s to the window's start (under 1.1 spacings, and the
    // counter would reach zero only 15 s back): twice the increase.
    let args = "[0, 15000, 30000], [0.0, 1.0, 2.0], [30000], 30000, 0, NULL";
    assert_eq!(one(&format!("SELECT prom_increase({args})")).await, [Some(2.0)]);
    assert_eq!(one(&format!("SELECT prom_rate({args})")).await, [Some(2.0 / 30.0)]);
    // One point in the window is no rate; no point is nothing at all.
    let sparse = "[0, 15000, 30000], [0.0, 1.0, 2.0], [15000, 100000], 10000, 0, NULL";
    assert_eq!(one(&format!("SELECT prom_rate({sparse})")).await, [None, None]);
    assert_eq!(one(&format!("SELECT prom_count_over_time({sparse})")).await, [Some(1.0), None]);
}

#[tokio::test]
async fn offset_and_at_move_the_windows() {
    let (ts, vs) = ramp();
    let sum = |range: i64, offset: i64, at: &str| {
        format!("SELECT prom_sum_over_time({ts}, {vs}, [100000, 200000], {range}, {offset}, {at})")
    };
    // Steps at 100 s and 200 s, 30 s windows: (70, 100] holds 80 + 90 + 100
    // and (170, 200] 180 + 190 + 200.
    assert_eq!(one(&sum(30_000, 0, "NULL")).await, [Some(270.0), Some(570.0)]);
    // 10 s back: (60, 90] and (160, 190].
    assert_eq!(one(&sum(30_000, 10_000, "NULL")).await, [Some(240.0), Some(540.0)]);
    // @ 50 s, 10 s back: (10, 40] at every step.
    assert_eq!(one(&sum(30_000, 10_000, "50000")).await, [Some(90.0), Some(90.0)]);
    // predict_linear predicts from the step, not from the @ time: the line
    // v = t through the points, 20 s after the steps at 100 s and 200 s.
    let predict = format!("SELECT prom_predict_linear({ts}, {vs}, [100000, 200000], 30000, 0, 50000, 20)");
    assert_eq!(one(&predict).await, [Some(120.0), Some(220.0)]);
}

#[tokio::test]
async fn every_row_is_a_series() {
    let data = "(VALUES \
        (1, [10000, 20000, 30000], [5.0, 1.0, 4.0]), \
        (2, [10000, 20000], [7.0, 7.0]), \
        (3, NULL, NULL), \
        (4, [], [])) t(id, ts, vs)";
    // At 30 s over (0, 30]: irate from the last two points (a reset at 20 s
    // makes 1 -> 4 an increase of 3 over 10 s); at 20 s over (-10, 20].
    let sql = |f: &str| format!("SELECT prom_{f}(ts, vs, [20000, 30000], 30000, 0, NULL) FROM {data} ORDER BY id");
    assert_eq!(
        lists(&sql("irate")).await,
        [Some(vec![Some(0.1), Some(0.3)]), Some(vec![Some(0.0), Some(0.0)]), None, Some(vec![None, None])]
    );
    assert_eq!(
        lists(&sql("resets")).await,
        [Some(vec![Some(1.0), Some(1.0)]), Some(vec![Some(0.0), Some(0.0)]), None, Some(vec![None, None])]
    );
    assert_eq!(
        lists(&sql("max_over_time")).await,
        [Some(vec![Some(5.0), Some(5.0)]), Some(vec![Some(7.0), Some(7.0)]), None, Some(vec![None, None])]
    );
}

#[tokio::test]
async fn null_points_steps_and_parameters_give_nothing_there() {
    // The null value at 20 s is no point: the window (0, 30] holds 1 and 3.
    let points = "[10000, 20000, 30000], [1.0, NULL, 3.0]";
    assert_eq!(
        one(&format!("SELECT prom_avg_over_time({points}, [30000, NULL], 30000, 0, NULL)")).await,
        [Some(2.0), None]
    );
    // A parameter per step: quantiles 0, 1 and a null one.
    let q =
        format!("SELECT prom_quantile_over_time({points}, [30000, 30000, 30000], 30000, 0, NULL, [0.0, 1.0, NULL])");
    assert_eq!(one(&q).await, [Some(1.0), Some(3.0), None]);
    // One number for every step, cast from an integer.
    let q = format!("SELECT prom_quantile_over_time({points}, [30000, 30000], 30000, 0, NULL, 1)");
    assert_eq!(one(&q).await, [Some(3.0), Some(3.0)]);
    // Holt's smoothing of 1, 3 at factors 0.5: level 1, trend 2, then
    // 0.5 * 3 + 0.5 * (1 + 2) = 3.
    let s = format!("SELECT prom_double_exponential_smoothing({points}, [30000], 30000, 0, NULL, 0.5, [0.5])");
    assert_eq!(one(&s).await, [Some(3.0)]);
    // A null range is a null row.
    assert_eq!(lists(&format!("SELECT prom_changes({points}, [30000], NULL, 0, NULL)")).await, [None]);
}

#[tokio::test]
async fn bad_arguments_are_named() {
    let err = error("SELECT prom_rate('a', [1.0], [1], 1, 0, NULL)").await;
    assert!(
        err.contains("prom_rate: argument 1 (timestamps) must be a list of integers (milliseconds), got Utf8"),
        "{err}"
    );
    let err = error("SELECT prom_deriv([1], ['x'], [1], 1, 0, NULL)").await;
    assert!(err.contains("prom_deriv: argument 2 (values) must be a list of numbers"), "{err}");
    let err = error("SELECT prom_rate([1], [1.0], [1], 1.5, 0, NULL)").await;
    assert!(err.contains("prom_rate: argument 4 (range) must be an integer (milliseconds), got Float64"), "{err}");
    let err = error("SELECT prom_predict_linear([1], [1.0], [1], 1, 0, NULL, 'x')").await;
    assert!(err.contains("prom_predict_linear: argument 7 (seconds) must be a number or a list"), "{err}");
    let err = error("SELECT prom_rate([1], [1.0], [1], 1, 0)").await;
    assert!(err.contains("prom_rate takes 6 arguments (timestamps, values, steps, range, offset, at), got 5"), "{err}");
    let err = error("SELECT prom_rate([2000, 1000], [1.0, 2.0], [2000], 5000, 0, NULL)").await;
    assert!(err.contains("prom_rate: the timestamps of row 0 do not ascend"), "{err}");
}
