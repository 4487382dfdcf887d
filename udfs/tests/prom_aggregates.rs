//! PromQL's float aggregations through SQL, over a table split into
//! partitions (partial states are made, sent and merged), and through
//! their `GroupsAccumulator` directly, against values computed here.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

mod common;

use std::sync::Arc;

use chronicle_udfs::PromAggregation;
use common::{floats_in, session};
use datafusion::arrow::array::{ArrayRef, AsArray, BooleanArray, Float64Array, Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Schema};
use datafusion::datasource::MemTable;
use datafusion::logical_expr::EmitTo;
use datafusion::prelude::{SessionConfig, SessionContext};

const PARTITIONS: usize = 4;

/// The groups of the test table and their values (`None` for NULL).
fn groups() -> Vec<(&'static str, Vec<Option<f64>>)> {
    vec![
        // A naive sum loses the 1; a compensated one keeps it.
        ("kahan", vec![Some(1e100), Some(1.0), Some(-1e100)]),
        ("nan", vec![Some(f64::NAN), Some(2.0), None, Some(1.0)]),
        ("inf", vec![Some(f64::INFINITY), Some(1.0)]),
        // The sum overflows; the mean does not.
        ("big", vec![Some(f64::MAX), Some(f64::MAX), Some(f64::MAX)]),
        ("empty", vec![None, None]),
        ("many", (0..1000).map(|i| Some(f64::from((i * 7919) % 1000))).collect()),
    ]
}

/// A session over table `t(g, i, v)`, its rows dealt round-robin into
/// [`PARTITIONS`] partitions, each group's rows numbered by `i`.
async fn table(config: SessionConfig) -> SessionContext {
    let ctx = SessionContext::new_with_config(config);
    chronicle_udfs::register_all(&ctx);
    let schema = Arc::new(Schema::new(vec![
        Field::new("g", DataType::Utf8, false),
        Field::new("i", DataType::Int64, false),
        Field::new("v", DataType::Float64, true),
    ]));
    let rows: Vec<(&str, i64, Option<f64>)> = groups()
        .into_iter()
        .flat_map(|(g, values)| values.into_iter().enumerate().map(move |(i, v)| (g, i as i64, v)))
        .collect();
    let partitions = (0..PARTITIONS)
        .map(|p| {
            let part: Vec<_> = rows.iter().skip(p).step_by(PARTITIONS).collect();
            let columns: Vec<ArrayRef> = vec![
                Arc::new(part.iter().map(|r| Some(r.0)).collect::<StringArray>()),
                Arc::new(part.iter().map(|r| r.1).collect::<Int64Array>()),
                Arc::new(part.iter().map(|r| r.2).collect::<Float64Array>()),
            ];
            vec![RecordBatch::try_new(schema.clone(), columns).unwrap()]
        })
        .collect();
    ctx.register_table("t", Arc::new(MemTable::try_new(schema, partitions).unwrap())).unwrap();
    ctx
}

/// `f(v)` of every group in `t`, in the order of [`groups`].
async fn per_group(ctx: &SessionContext, f: &str) -> Vec<Option<f64>> {
    let mut out = Vec::new();
    for (g, _) in groups() {
        let sql = format!("SELECT {f} FROM t WHERE g = '{g}'");
        out.extend(floats_in(ctx, &sql).await);
    }
    out
}

/// `f(v)` of every group in `t` by `GROUP BY`, in the order of [`groups`].
async fn grouped(ctx: &SessionContext, f: &str) -> Vec<Option<f64>> {
    let order: Vec<String> = groups().iter().map(|(g, _)| format!("'{g}'")).collect();
    let sql = format!("SELECT {f} FROM t GROUP BY g ORDER BY array_position([{}], g)", order.join(", "));
    floats_in(ctx, &sql).await
}

/// The answers every aggregation should give for each group, computed
/// from the values with plain arithmetic (exactly where that is exact).
fn expected(f: &str) -> Vec<Option<f64>> {
    groups()
        .into_iter()
        .map(|(g, values)| {
            let values: Vec<f64> = values.into_iter().flatten().collect();
            if values.is_empty() {
                return None;
            }
            let n = values.len() as f64;
            let mean = values.iter().sum::<f64>() / n;
            let variance = values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n;
            let finite = values.iter().all(|v| v.is_finite());
            let numbers = values.iter().copied().filter(|v| !v.is_nan());
            Some(match (f, g) {
                ("prom_sum", "kahan") => 1.0,
                ("prom_sum", _) => values.iter().sum(),
                ("prom_avg", "kahan") => 1.0 / 3.0,
                ("prom_avg", "big") => f64::MAX,
                ("prom_avg", _) => mean,
                ("prom_min", _) => numbers.fold(f64::INFINITY, f64::min),
                ("prom_max", _) => numbers.fold(f64::NEG_INFINITY, f64::max),
                ("prom_count", _) => n,
                ("prom_group", _) => 1.0,
                ("prom_stdvar", _) if finite && g != "big" => variance,
                ("prom_stddev", _) if finite && g != "big" => variance.sqrt(),
                // Equal values spread by 0 even where their sum overflows.
                ("prom_stdvar" | "prom_stddev", "big") => 0.0,
                ("prom_stdvar" | "prom_stddev", _) => f64::NAN,
                _ => unreachable!("{f}"),
            })
        })
        .collect()
}

/// Whether `got` is `want`: the same bits for NaN and infinities, within
/// `1e-12` relative elsewhere (merged partial states add in another order).
fn close(got: &[Option<f64>], want: &[Option<f64>]) -> bool {
    got.len() == want.len()
        && got.iter().zip(want).all(|(g, w)| match (g, w) {
            (Some(g), Some(w)) if w.is_finite() => (g - w).abs() <= 1e-12 * w.abs().max(1.0),
            (Some(g), Some(w)) => g.is_nan() && w.is_nan() || g == w,
            (g, w) => g == w,
        })
}

const FLOAT_AGGREGATIONS: [&str; 8] =
    ["prom_sum", "prom_avg", "prom_min", "prom_max", "prom_count", "prom_group", "prom_stddev", "prom_stdvar"];

#[tokio::test]
async fn grouped_and_single_group_answers_across_partitions() {
    let ctx = table(SessionConfig::new().with_target_partitions(PARTITIONS)).await;
    for f in FLOAT_AGGREGATIONS {
        let want = expected(f);
        let got = grouped(&ctx, &format!("{f}(v)")).await;
        assert!(close(&got, &want), "{f} by group: {got:?}, expected {want:?}");
        let got = per_group(&ctx, &format!("{f}(v)")).await;
        assert!(close(&got, &want), "{f} of one group: {got:?}, expected {want:?}");
    }
    // Where a naive sum loses the small term.
    assert_eq!(floats_in(&ctx, "SELECT sum(v) FROM t WHERE g = 'kahan'").await, [Some(0.0)]);
}

#[tokio::test]
async fn partial_states_made_row_by_row_merge_the_same() {
    // Aggregating every row into its own partial state from the first row
    // on makes DataFusion call `convert_to_state`.
    let mut config = SessionConfig::new().with_target_partitions(PARTITIONS);
    let options = &mut config.options_mut().execution;
    options.skip_partial_aggregation_probe_rows_threshold = 1;
    options.skip_partial_aggregation_probe_ratio_threshold = 0.0;
    let ctx = table(config).await;
    for f in FLOAT_AGGREGATIONS {
        let got = grouped(&ctx, &format!("{f}(v)")).await;
        assert!(close(&got, &expected(f)), "{f}: {got:?}");
    }
    let got = grouped(&ctx, "prom_quantile(0.5, v)").await;
    assert!(close(&got, &quantiles(0.5)), "{got:?}");
}

/// The φ-quantile of every group, sorting (NaN first) and interpolating
/// here between the rank below and the next one, as Prometheus does: at an
/// exact rank the next value still counts with weight 0, so an infinite
/// one makes NaN.
fn quantiles(q: f64) -> Vec<Option<f64>> {
    groups()
        .into_iter()
        .map(|(_, values)| {
            let mut values: Vec<f64> = values.into_iter().flatten().collect();
            values.sort_by(|a, b| a.is_nan().cmp(&b.is_nan()).reverse().then(a.total_cmp(b)));
            let rank = q * (values.len() as f64 - 1.0);
            let lo = rank.floor() as usize;
            let weight = rank - rank.floor();
            (!values.is_empty()).then(|| values[lo] * (1.0 - weight) + values[(lo + 1).min(values.len() - 1)] * weight)
        })
        .collect()
}

#[tokio::test]
async fn quantiles_take_q_per_row() {
    let ctx = table(SessionConfig::new().with_target_partitions(PARTITIONS)).await;
    for q in [0.0, 0.25, 0.5, 0.9, 1.0] {
        let got = grouped(&ctx, &format!("prom_quantile({q}, v)")).await;
        assert!(close(&got, &quantiles(q)), "q={q}: {got:?}, expected {:?}", quantiles(q));
        let got = per_group(&ctx, &format!("prom_quantile({q}, v)")).await;
        assert!(close(&got, &quantiles(q)), "q={q}, one group: {got:?}");
    }
    let out = grouped(&ctx, "prom_quantile(2, v)").await;
    assert_eq!(out[0], Some(f64::INFINITY), "q > 1 is +Inf");
    // q as a column: the group's rows agree on it.
    let got = grouped(&ctx, "prom_quantile(CASE WHEN g = 'many' THEN 0.9 ELSE 0.5 END, v)").await;
    assert_eq!(got.last(), quantiles(0.9).last());
}

#[tokio::test]
async fn a_growing_window_evaluates_without_losing_state() {
    let ctx = table(SessionConfig::new().with_target_partitions(PARTITIONS)).await;
    let sql = "SELECT prom_sum(v) OVER (ORDER BY i) FROM t WHERE g = 'kahan' ORDER BY i";
    assert_eq!(floats_in(&ctx, sql).await, [Some(1e100), Some(1e100 + 1.0), Some(1.0)]);
    let sql = "SELECT prom_quantile(1, v) OVER (ORDER BY i) FROM t WHERE g = 'nan' ORDER BY i";
    let got = floats_in(&ctx, sql).await;
    assert!(close(&got, &[Some(f64::NAN), Some(2.0), Some(2.0), Some(2.0)]), "{got:?}");
}

#[tokio::test]
async fn no_rows_give_null() {
    let ctx = session(PARTITIONS);
    let sql = "SELECT prom_count(v) FROM (VALUES (1.0)) t(v) WHERE v > 2";
    assert_eq!(floats_in(&ctx, sql).await, [None]);
}

fn floats(values: &[Option<f64>]) -> ArrayRef {
    Arc::new(values.iter().copied().collect::<Float64Array>())
}

fn answers(array: &ArrayRef) -> Vec<Option<f64>> {
    array.as_primitive::<Float64Type>().iter().collect()
}

#[test]
fn groups_accumulator_aggregates_every_slot_in_one_call() {
    // Three groups; group 2 takes nothing, a filtered row is skipped.
    let values = floats(&[Some(1e100), Some(5.0), Some(1.0), None, Some(-1e100), Some(7.0), Some(100.0)]);
    let slots = [0, 1, 0, 1, 0, 1, 1];
    let filter = BooleanArray::from(vec![true, true, true, true, true, true, false]);
    let cases = [
        (PromAggregation::Sum, [Some(1.0), Some(12.0), None]),
        (PromAggregation::Avg, [Some(1.0 / 3.0), Some(6.0), None]),
        (PromAggregation::Min, [Some(-1e100), Some(5.0), None]),
        (PromAggregation::Max, [Some(1e100), Some(7.0), None]),
        (PromAggregation::Count, [Some(3.0), Some(2.0), None]),
        (PromAggregation::Group, [Some(1.0), Some(1.0), None]),
        (PromAggregation::Stdvar, [Some(2.0 / 3.0 * 1e200), Some(1.0), None]),
        (PromAggregation::Stddev, [Some((2.0f64 / 3.0).sqrt() * 1e100), Some(1.0), None]),
    ];
    for (op, want) in cases {
        let mut acc = op.groups_accumulator();
        acc.update_batch(std::slice::from_ref(&values), &slots, Some(&filter), 3).unwrap();
        let got = answers(&acc.evaluate(EmitTo::All).unwrap());
        assert!(close(&got, &want), "{op}: {got:?}, expected {want:?}");
    }
}

#[test]
fn groups_accumulator_keeps_prometheus_order_exactly() {
    let max = Some(f64::MAX);
    let mut avg = PromAggregation::Avg.groups_accumulator();
    avg.update_batch(&[floats(&[max, max, max, Some(f64::NAN)])], &[0, 0, 0, 1], None, 2).unwrap();
    let got = answers(&avg.evaluate(EmitTo::All).unwrap());
    assert_eq!(got[0], max, "the mean turned incremental instead of overflowing");
    assert!(got[1].unwrap().is_nan());
    let mut spread = PromAggregation::Stddev.groups_accumulator();
    let values = floats(&[Some(f64::INFINITY), Some(1.0), Some(1.0), Some(f64::INFINITY)]);
    spread.update_batch(&[values], &[0, 0, 1, 1], None, 2).unwrap();
    let got = answers(&spread.evaluate(EmitTo::All).unwrap());
    assert!(got.iter().all(|v| v.unwrap().is_nan()), "{got:?}");
}

#[test]
fn groups_accumulator_states_merge_and_emit_in_parts() {
    let values = floats(&[Some(3.0), Some(1.0), Some(4.0), Some(1.0), Some(5.0), Some(9.0)]);
    let slots = [0, 1, 2, 0, 1, 2];
    for op in PromAggregation::ALL {
        let args: Vec<ArrayRef> = if op == PromAggregation::Quantile {
            vec![floats(&[Some(0.5); 6]), values.clone()]
        } else {
            vec![values.clone()]
        };
        let mut whole = op.groups_accumulator();
        whole.update_batch(&args, &slots, None, 3).unwrap();
        let want = answers(&whole.evaluate(EmitTo::All).unwrap());
        // The first half and the second half, each to a state, merged.
        let mut merged = op.groups_accumulator();
        for half in [0..3, 3..6] {
            let mut part = op.groups_accumulator();
            let args: Vec<ArrayRef> = args.iter().map(|a| a.slice(half.start, 3)).collect();
            part.update_batch(&args, &slots[half], None, 3).unwrap();
            merged.merge_batch(&part.state(EmitTo::All).unwrap(), &[0, 1, 2], 3).unwrap();
        }
        // Every row its own state, merged into its group.
        let mut rows = op.groups_accumulator();
        rows.merge_batch(&rows.convert_to_state(&args, None).unwrap(), &slots, 3).unwrap();
        let first = answers(&merged.evaluate(EmitTo::First(1)).unwrap());
        let rest = answers(&merged.evaluate(EmitTo::All).unwrap());
        assert_eq!([first, rest].concat(), want, "{op}");
        assert_eq!(answers(&rows.evaluate(EmitTo::All).unwrap()), want, "{op} from rows");
    }
}
