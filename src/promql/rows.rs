//! `PromRows`: the root of a PromQL plan whose answer is wanted as Arrow
//! rows (the embedded [`crate::Db::query_promql`] and the SQL table
//! function `promql(...)`): one row per (series, time) with a value,
//! columns `time` (`Timestamp(Nanosecond, "UTC")`, as the measurement
//! tables have it, so the two join), one nullable `Utf8` column per label
//! name the planner found the series can carry (sorted; null where a series
//! lacks the label), and `value` (`Float64`). Rows come series by series
//! (series sorted by their labels), each in time order.
//!
//! Metric names marked dropped are removed first, as in any PromQL answer.
//! Native histogram samples have no float value and are left out (the
//! Prometheus HTTP API and [`crate::Db::promql_instant`] return them).
//! A scalar is one series without labels; a range vector (an instant query
//! of a range selector) gives its raw points.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Float64Builder, RecordBatch, StringBuilder, TimestampNanosecondBuilder};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::error::DataFusionError;

use super::context::QueryContext;
use super::error::{PromError, Result};
use super::node::Operator;
use super::series::{Range, Val, remove_dropped_names};
use super::value::{Labels, Series};

/// The time column's name.
pub const TIME_COLUMN: &str = "time";
/// The value column's name.
pub const VALUE_COLUMN: &str = "value";

/// The rows node; see the module docs.
#[derive(Debug)]
pub(crate) struct Rows {
    /// The label columns, sorted.
    labels: Vec<String>,
    steps: Range,
    schema: SchemaRef,
}

impl Rows {
    /// Rows of a value evaluated at `steps` whose series carry at most
    /// `labels`; refuses label names that clash with `time` or `value`.
    pub fn try_new(labels: impl IntoIterator<Item = String>, steps: Range) -> Result<Rows> {
        let labels: Vec<String> = labels.into_iter().collect();
        if let Some(clash) = labels.iter().find(|l| *l == TIME_COLUMN || *l == VALUE_COLUMN) {
            return Err(PromError::BadData(format!(
                "the label {clash:?} clashes with the {clash:?} column of the rows; rename it with label_replace"
            )));
        }
        let mut fields =
            vec![Field::new(TIME_COLUMN, DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())), false)];
        fields.extend(labels.iter().map(|l| Field::new(l, DataType::Utf8, true)));
        fields.push(Field::new(VALUE_COLUMN, DataType::Float64, false));
        Ok(Rows { labels, steps, schema: Arc::new(Schema::new(fields)) })
    }

    /// The series of the answer, sorted by labels.
    fn series(&self, val: Val) -> Result<Vec<Series>> {
        let steps = self.steps;
        let mut out: Vec<Series> = match val {
            Val::Scalar(v) => vec![Series {
                labels: Labels::default(),
                points: steps.times().zip(v).collect(),
                histograms: Vec::new(),
            }],
            Val::Vector(series) => series
                .into_iter()
                .map(|s| Series {
                    points: s.values.iter().enumerate().filter_map(|(i, v)| v.map(|v| (steps.at(i), v))).collect(),
                    labels: s.labels,
                    histograms: Vec::new(),
                })
                .collect(),
            Val::Matrix(m) => m
                .series
                .into_iter()
                .map(|s| Series {
                    labels: if s.drop_name { s.labels.without_name() } else { s.labels },
                    points: s.ts.into_iter().zip(s.vs).collect(),
                    histograms: Vec::new(),
                })
                .collect(),
            Val::String(_) => {
                return Err(PromError::BadData("a string has no rows: PromRows needs a number or series".into()));
            }
        };
        out.sort_by(|a, b| a.labels.cmp(&b.labels));
        Ok(out)
    }
}

impl Operator for Rows {
    fn name(&self) -> &'static str {
        "PromRows"
    }

    fn fmt_params(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "labels=[{}], steps={}", self.labels.join(", "), self.steps)
    }

    fn apply(&self, _ctx: &QueryContext, mut inputs: Vec<Val>) -> Result<Val> {
        match inputs.pop() {
            Some(Val::Vector(series)) => Ok(Val::Vector(remove_dropped_names(series)?)),
            Some(other) => Ok(other),
            None => Err(PromError::Execution("PromRows takes one input".into())),
        }
    }

    fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    fn encode(&self, val: Val) -> Result<RecordBatch> {
        let series = self.series(val)?;
        let rows: usize = series.iter().map(|s| s.points.len()).sum();
        let mut time = TimestampNanosecondBuilder::with_capacity(rows).with_timezone("UTC");
        let mut value = Float64Builder::with_capacity(rows);
        let mut labels: Vec<StringBuilder> = self.labels.iter().map(|_| StringBuilder::new()).collect();
        for s in &series {
            if let Some((name, _)) =
                s.labels.iter().find(|(n, _)| self.labels.binary_search_by(|l| l.as_str().cmp(n)).is_err())
            {
                return Err(PromError::Execution(format!(
                    "the series {} has the label {name:?}, which the plan did not foresee",
                    s.labels
                )));
            }
            for &(t, v) in &s.points {
                time.append_value(t.saturating_mul(1_000_000));
                value.append_value(v);
                for (name, column) in self.labels.iter().zip(labels.iter_mut()) {
                    column.append_option(s.labels.get(name));
                }
            }
        }
        let mut columns: Vec<ArrayRef> = vec![Arc::new(time.finish())];
        columns.extend(labels.iter_mut().map(|c| Arc::new(c.finish()) as ArrayRef));
        columns.push(Arc::new(value.finish()));
        RecordBatch::try_new(Arc::clone(&self.schema), columns).map_err(|e| PromError::Engine(DataFusionError::from(e)))
    }
}
