//! [`WindowAggregates`]: the aggregates of a rule computed from scanned raw
//! rows, per series, window and field, and turned into the target's rows.
//!
//! Input batches have the scan schema (`time`, the tag columns, then the
//! float fields, null where a field has no value). A series is told apart by
//! its tag values (null: the series lacks the tag), so a series missing a
//! tag yields rows without it. Values are folded in the order the scan
//! returns them (time order within a series), so `last` is the value at the
//! latest time; `sum` is a plain f64 sum in that order.

use std::collections::BTreeMap;

use arrow_array::{Array, Float64Array, RecordBatch, StringArray, TimestampNanosecondArray};
use arrow_schema::DataType;

use super::rule::{RollupAggregate, RollupRule};
use crate::error::{Error, Result};
use crate::model::Row;

/// One series: its (tag, value) pairs, sorted by tag.
type SeriesTags = Vec<(String, String)>;

/// The running aggregates of one (series, window, field).
#[derive(Debug, Clone, Copy)]
struct Accumulator {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    last_time: i64,
    last: f64,
}

impl Accumulator {
    fn new(time: i64, value: f64) -> Self {
        Self { count: 1, sum: value, min: value, max: value, last_time: time, last: value }
    }

    fn add(&mut self, time: i64, value: f64) {
        self.count += 1;
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        if time >= self.last_time {
            (self.last_time, self.last) = (time, value);
        }
    }

    fn value(&self, aggregate: RollupAggregate) -> f64 {
        match aggregate {
            RollupAggregate::Mean => self.sum / self.count as f64,
            RollupAggregate::Min => self.min,
            RollupAggregate::Max => self.max,
            RollupAggregate::Sum => self.sum,
            RollupAggregate::Count => self.count as f64,
            RollupAggregate::Last => self.last,
        }
    }
}

/// The aggregates of one rule over the rows added so far.
#[derive(Debug)]
pub(crate) struct WindowAggregates<'a> {
    rule: &'a RollupRule,
    /// series -> window start -> field -> aggregates.
    windows: BTreeMap<SeriesTags, BTreeMap<i64, BTreeMap<String, Accumulator>>>,
}

fn bug(what: &str) -> Error {
    Error::Internal(format!("a rollup read a scan batch without {what}"))
}

impl<'a> WindowAggregates<'a> {
    pub fn new(rule: &'a RollupRule) -> Self {
        Self { rule, windows: BTreeMap::new() }
    }

    /// Folds in the rows of one scan batch.
    pub fn add(&mut self, batch: &RecordBatch) -> Result<()> {
        let schema = batch.schema();
        let times = batch
            .column_by_name("time")
            .and_then(|c| c.as_any().downcast_ref::<TimestampNanosecondArray>())
            .ok_or_else(|| bug("a time column"))?;
        let mut tags: Vec<(&str, StringArray)> = Vec::new();
        let mut fields: Vec<(&str, &Float64Array)> = Vec::new();
        for (i, f) in schema.fields().iter().enumerate().skip(1) {
            let column = batch.column(i);
            match f.data_type() {
                DataType::Float64 => fields.push((
                    f.name(),
                    column.as_any().downcast_ref::<Float64Array>().ok_or_else(|| bug("float fields"))?,
                )),
                _ => {
                    let utf8 = datafusion::arrow::compute::cast(column, &DataType::Utf8)
                        .map_err(|e| Error::Internal(format!("a tag column does not cast to strings: {e}")))?;
                    let strings =
                        utf8.as_any().downcast_ref::<StringArray>().ok_or_else(|| bug("string tags"))?.clone();
                    tags.push((f.name(), strings));
                }
            }
        }
        tags.sort_by(|a, b| a.0.cmp(b.0));
        let mut series: SeriesTags = Vec::new();
        for row in 0..batch.num_rows() {
            let time = times.value(row);
            // Rows of one series come together: rebuild the key only when it changes.
            let present = tags.iter().filter(|(_, values)| values.is_valid(row));
            let same = present.clone().count() == series.len()
                && present.zip(&series).all(|((name, values), (k, v))| name == k && values.value(row) == v);
            if !same {
                series = tags
                    .iter()
                    .filter(|(_, values)| values.is_valid(row))
                    .map(|(name, values)| (name.to_string(), values.value(row).to_string()))
                    .collect();
            }
            if !fields.iter().any(|(_, values)| values.is_valid(row)) {
                continue;
            }
            let window = self.rule.window_of(time);
            if !self.windows.contains_key(&series) {
                self.windows.insert(series.clone(), BTreeMap::new());
            }
            let accumulators = self.windows.get_mut(&series).map(|w| w.entry(window).or_default());
            let accumulators =
                accumulators.ok_or_else(|| Error::Internal("a rollup lost the series it just added".into()))?;
            for (name, values) in fields.iter().filter(|(_, values)| values.is_valid(row)) {
                let value = values.value(row);
                match accumulators.get_mut(*name) {
                    Some(acc) => acc.add(time, value),
                    None => {
                        accumulators.insert(name.to_string(), Accumulator::new(time, value));
                    }
                }
            }
        }
        Ok(())
    }

    /// The target's rows: one per series and window, at the window's start,
    /// with the series' tags and `<field>_<aggregate>` per field with a value.
    pub fn into_rows(self) -> Vec<Row> {
        let target = self.rule.target();
        let aggregates: Vec<RollupAggregate> = self.rule.aggregates().collect();
        self.windows
            .into_iter()
            .flat_map(|(tags, windows)| windows.into_iter().map(move |(window, fields)| (tags.clone(), window, fields)))
            .map(|(tags, window, fields)| {
                let mut row = Row::new(target, window);
                row.tags = tags;
                for (field, acc) in &fields {
                    for &agg in &aggregates {
                        row.fields.push((agg.field_name(field), acc.value(agg)));
                    }
                }
                row
            })
            .collect()
    }
}
