//! `DateTruncRewrite`: `date_trunc('<unit>', t)` of a UTC timestamp as
//! `date_bin(INTERVAL '1 <unit>', t)`.
//!
//! In UTC, seconds, minutes, hours and days have fixed lengths, and their
//! buckets start at whole multiples of them since the epoch, which is
//! `date_bin`'s default origin: both functions give every timestamp the same
//! bucket, with the same type. But DataFusion truncates a zoned timestamp
//! to the hour or day with calendar arithmetic per value (several times
//! slower than `date_bin`'s integer arithmetic), and Chronicle's bucket rules
//! ([`super::ChronicleStatsRule`], [`super::ChronicleTopBucketsRule`]) know
//! `date_bin`. So the `date_trunc` buckets of portable SQL (TSBS, DuckDB,
//! PostgreSQL) get the plans `date_bin` gets. Weeks (`date_bin`'s origin is
//! a Thursday), months and longer units, and other time zones are left to
//! `date_trunc`. The rewrite keeps the expression's name, so column names
//! do not change.

use datafusion::arrow::datatypes::{DataType, IntervalMonthDayNano};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::Transformed;
use datafusion::common::{DFSchema, Result as DfResult, ScalarValue};
use datafusion::functions::datetime::date_bin;
use datafusion::logical_expr::expr::ScalarFunction;
use datafusion::logical_expr::expr_rewriter::FunctionRewrite;
use datafusion::logical_expr::{Expr, ExprSchemable, lit};

/// Rewrites `date_trunc` to `date_bin` where they agree; see the module docs.
#[derive(Debug, Default, Clone, Copy)]
pub struct DateTruncRewrite;

impl FunctionRewrite for DateTruncRewrite {
    fn name(&self) -> &str {
        "chronicle_date_trunc_as_date_bin"
    }

    fn rewrite(&self, expr: Expr, schema: &DFSchema, _config: &ConfigOptions) -> DfResult<Transformed<Expr>> {
        match as_date_bin(&expr, schema) {
            Some(rewritten) => Ok(Transformed::yes(rewritten)),
            None => Ok(Transformed::no(expr)),
        }
    }
}

/// `expr` as a `date_bin` call, if it is a `date_trunc` of a UTC (or
/// zoneless) timestamp to a unit of fixed length.
fn as_date_bin(expr: &Expr, schema: &DFSchema) -> Option<Expr> {
    let Expr::ScalarFunction(ScalarFunction { func, args }) = expr else { return None };
    let [unit, time] = args.as_slice() else { return None };
    if func.name() != "date_trunc" {
        return None;
    }
    let Expr::Literal(ScalarValue::Utf8(Some(unit)) | ScalarValue::Utf8View(Some(unit)), _) = unit else {
        return None;
    };
    let stride = unit_ns(unit)?;
    let DataType::Timestamp(_, zone) = time.get_type(schema).ok()? else { return None };
    if !zone.as_deref().is_none_or(is_utc) {
        return None;
    }
    let stride = lit(ScalarValue::IntervalMonthDayNano(Some(IntervalMonthDayNano::new(0, 0, stride))));
    Some(date_bin().call(vec![stride, time.clone()]))
}

/// Nanoseconds of a `date_trunc` unit of fixed length in UTC.
fn unit_ns(unit: &str) -> Option<i64> {
    let ns = match unit.to_ascii_lowercase().as_str() {
        "microsecond" => 1_000,
        "millisecond" => 1_000_000,
        "second" => 1_000_000_000,
        "minute" => 60_000_000_000,
        "hour" => 3_600_000_000_000,
        "day" => 86_400_000_000_000,
        _ => return None,
    };
    Some(ns)
}

/// Whether a timestamp's zone is UTC.
fn is_utc(zone: &str) -> bool {
    matches!(zone, "UTC" | "utc" | "Z" | "+00:00" | "+0000" | "Etc/UTC")
}

#[cfg(test)]
mod tests {
    use datafusion::arrow::array::{Array, TimestampNanosecondArray};
    use datafusion::arrow::datatypes::TimeUnit;
    use datafusion::prelude::SessionContext;

    use super::*;

    /// Timestamps around the epoch, hour and day boundaries, and far from them.
    const TIMES: [i64; 7] =
        [-86_400_000_000_001, -1, 0, 1, 3_599_999_999_999, 3_600_000_000_000, 1_767_225_599_999_999_999];

    fn utc(ns: i64) -> String {
        format!("arrow_cast({ns}, 'Timestamp(Nanosecond, Some(\"UTC\"))')")
    }

    async fn bucket(ctx: &SessionContext, unit: &str, ns: i64) -> (DataType, Option<i64>) {
        let sql = format!("SELECT date_trunc('{unit}', t) FROM (VALUES ({})) AS v(t)", utc(ns));
        let batches = ctx.sql(&sql).await.expect("plans").collect().await.expect("runs");
        let column = batches[0].column(0);
        let values = column.as_any().downcast_ref::<TimestampNanosecondArray>().expect("nanoseconds");
        (column.data_type().clone(), values.is_valid(0).then(|| values.value(0)))
    }

    #[tokio::test]
    async fn date_bin_gives_date_truncs_buckets_and_type() {
        let plain = SessionContext::new();
        let mut rewriting = SessionContext::new();
        datafusion::execution::FunctionRegistry::register_function_rewrite(
            &mut rewriting,
            std::sync::Arc::new(DateTruncRewrite),
        )
        .expect("registers");
        for unit in ["microsecond", "millisecond", "second", "minute", "hour", "day"] {
            for ns in TIMES {
                let want = bucket(&plain, unit, ns).await;
                assert_eq!(want.0, DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())));
                assert_eq!(bucket(&rewriting, unit, ns).await, want, "{unit} of {ns}");
            }
        }
        let explain = rewriting
            .sql(&format!("EXPLAIN SELECT date_trunc('hour', t) AS h FROM (VALUES ({})) AS v(t)", utc(0)))
            .await
            .expect("plans")
            .collect()
            .await
            .expect("runs");
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&explain).expect("formats").to_string();
        assert!(text.contains("date_bin") && !text.contains("date_trunc"), "{text}");
    }
}
