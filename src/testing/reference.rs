//! A reference table built straight from the rows a test writes, never
//! through Chronicle: the oracle SQL tests and benches compare Chronicle's
//! answers with.
//!
//! It keeps the documented data model by the plainest means: a map from
//! (series, time) to the values of each field, where a later write of a
//! (series, field, time) replaces the earlier one. A row exists where any
//! field has a value. [`Reference::table`] lays a measurement out as SQL
//! sees it: `time` (`Timestamp(ns, "UTC")`), one `Dictionary(Int32, Utf8)`
//! column per tag key (sorted, null where a series lacks it), one nullable
//! `Float64` column per field (sorted).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use arrow_array::builder::{Float64Builder, StringDictionaryBuilder, TimestampNanosecondBuilder};
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::datasource::MemTable;

use crate::Row;

/// Rows per batch of a reference table.
const BATCH_ROWS: usize = 8_192;

/// A series: its measurement and its tags, sorted by key.
type SeriesKey = (String, Vec<(String, String)>);

/// Every row written, last write wins; see the module docs.
#[derive(Debug, Default)]
pub struct Reference {
    series: Vec<SeriesKey>,
    series_ids: HashMap<SeriesKey, usize>,
    fields: Vec<String>,
    field_ids: HashMap<String, usize>,
    /// (series, time) -> value per field id (`None`: no value).
    points: HashMap<(usize, i64), Vec<Option<f64>>>,
}

impl Reference {
    /// An empty reference.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `rows`, in order.
    pub fn write(&mut self, rows: &[Row]) {
        for row in rows {
            let mut tags = row.tags.clone();
            tags.sort();
            let key = (row.measurement.clone(), tags);
            let next = self.series.len();
            let series = *self.series_ids.entry(key.clone()).or_insert(next);
            if series == next {
                self.series.push(key);
            }
            let values = self.points.entry((series, row.timestamp)).or_default();
            for (name, value) in &row.fields {
                let next = self.fields.len();
                let field = *self.field_ids.entry(name.clone()).or_insert(next);
                if field == next {
                    self.fields.push(name.clone());
                }
                if values.len() <= field {
                    values.resize(field + 1, None);
                }
                values[field] = Some(*value);
            }
        }
    }

    /// Number of rows of `measurement`.
    pub fn rows(&self, measurement: &str) -> usize {
        self.points.keys().filter(|(s, _)| self.series[*s].0 == measurement).count()
    }

    /// `measurement` as a SQL table: its schema and its rows in batches.
    pub fn table(&self, measurement: &str) -> (SchemaRef, Vec<RecordBatch>) {
        let mut rows: Vec<(&SeriesKey, i64, &Vec<Option<f64>>)> = self
            .points
            .iter()
            .map(|((s, t), values)| (&self.series[*s], *t, values))
            .filter(|(key, _, _)| key.0 == measurement)
            .collect();
        rows.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        let tag_keys: BTreeSet<&str> =
            rows.iter().flat_map(|(key, _, _)| key.1.iter().map(|(k, _)| k.as_str())).collect();
        let field_ids: BTreeMap<&str, usize> = rows
            .iter()
            .flat_map(|(_, _, values)| values.iter().enumerate().filter(|(_, v)| v.is_some()).map(|(f, _)| f))
            .map(|f| (self.fields[f].as_str(), f))
            .collect();
        let mut columns =
            vec![Field::new("time", DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into())), false)];
        let dictionary = DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8));
        columns.extend(tag_keys.iter().map(|k| Field::new(*k, dictionary.clone(), true)));
        columns.extend(field_ids.keys().map(|f| Field::new(*f, DataType::Float64, true)));
        let schema = Arc::new(Schema::new(columns));
        let batches = rows
            .chunks(BATCH_ROWS)
            .map(|chunk| {
                let mut time = TimestampNanosecondBuilder::new().with_timezone("UTC");
                for (_, t, _) in chunk {
                    time.append_value(*t);
                }
                let mut arrays: Vec<ArrayRef> = vec![Arc::new(time.finish())];
                for key in &tag_keys {
                    let mut tag = StringDictionaryBuilder::<Int32Type>::new();
                    for (series, _, _) in chunk {
                        tag.append_option(series.1.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()));
                    }
                    arrays.push(Arc::new(tag.finish()));
                }
                for &f in field_ids.values() {
                    let mut field = Float64Builder::new();
                    for (_, _, values) in chunk {
                        field.append_option(values.get(f).copied().flatten());
                    }
                    arrays.push(Arc::new(field.finish()));
                }
                RecordBatch::try_new(Arc::clone(&schema), arrays).expect("columns match the schema")
            })
            .collect();
        (schema, batches)
    }

    /// `measurement` as a DataFusion `MemTable`.
    pub fn mem_table(&self, measurement: &str) -> MemTable {
        let (schema, batches) = self.table(measurement);
        MemTable::try_new(schema, vec![batches]).expect("batches match the schema")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::cast::AsArray;
    use arrow_array::types::Float64Type;

    #[test]
    fn later_writes_replace_single_fields_and_rows_need_any_field() {
        let mut r = Reference::new();
        r.write(&[
            Row::new("m", 1).with_tag("b", "x").with_tag("a", "y").with_field("f", 1.0).with_field("g", 2.0),
            Row::new("m", 2).with_tag("a", "y").with_tag("b", "x").with_field("g", 3.0),
            Row::new("m", 1).with_tag("a", "y").with_tag("b", "x").with_field("f", 9.0),
            Row::new("m", 1).with_field("h", 4.0),
            Row::new("other", 1).with_field("z", 0.0),
        ]);
        assert_eq!(r.rows("m"), 3);
        let (schema, batches) = r.table("m");
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, ["time", "a", "b", "f", "g", "h"], "tags, then fields, each sorted; z is not in m");
        let f = batches[0].column(3).as_primitive::<Float64Type>();
        let g = batches[0].column(4).as_primitive::<Float64Type>();
        // Rows sorted by series then time: the untagged series first.
        assert_eq!(f.iter().collect::<Vec<_>>(), [None, Some(9.0), None]);
        assert_eq!(g.iter().collect::<Vec<_>>(), [None, Some(2.0), Some(3.0)]);
    }
}
