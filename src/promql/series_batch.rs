//! The batches PromQL plan nodes pass each other: one fixed Arrow schema
//! for every value type, one row per series, and the conversions between
//! those batches and the in-memory values the operators compute on
//! ([`Val`]).
//!
//! | column       | type                  | scalar      | string | vector         | matrix        |
//! |--------------|-----------------------|-------------|--------|----------------|---------------|
//! | `labels`     | Map<Utf8, Utf8>       | empty       | empty  | the series'    | the series'   |
//! | `drop_name`  | Boolean               | false       | false  | name dropped?  | name dropped? |
//! | `timestamps` | List<Int64> (ms)      | null        | null   | null           | point times   |
//! | `values`     | List<Float64>         | one a step  | null   | one a step, null where none | point values |
//! | `string`     | Utf8                  | null        | value  | null           | null          |
//! | `hist_times` | List<Int64> (ms)      | null        | null   | null           | histogram times |
//! | `histograms` | List<Binary>          | null        | null   | one a step, null where none; null without any | histograms |
//!
//! A histogram travels as the bytes of
//! [`FloatHistogram::write_bytes`].
//!
//! A scalar and a string are one row. A batch does not say which of the
//! four it holds nor, for a matrix, the window each step sees: the node
//! that made it declares both when the plan is built ([`Kind`]), and the
//! reader decodes with that.

use std::sync::{Arc, OnceLock};

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryBuilder, BooleanBuilder, Float64Builder, Int64Builder, ListBuilder, MapBuilder,
    RecordBatch, StringBuilder, new_empty_array,
};
use datafusion::arrow::compute::concat;
use datafusion::arrow::datatypes::{DataType, Field, Float64Type, Int64Type, Schema, SchemaRef};

use super::error::{PromError, Result};
use super::series::{Matrix, RawSeries, StepSeries, Val};
use super::value::Labels;
use crate::model::histogram::FloatHistogram;

/// What a node's batches hold, known when the plan is built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd)]
pub(crate) enum Kind {
    Scalar,
    String,
    Vector,
    /// A range vector, with the window each step sees.
    Matrix(Window),
}

/// The window of a range vector: the points in `(t - range, t]` where `t`
/// is the step's time (or the `@` time) minus the offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd)]
pub(crate) struct Window {
    pub range: i64,
    pub offset: i64,
    pub at: Option<i64>,
}

impl Kind {
    /// Prometheus's name of the type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Kind::Scalar => "scalar",
            Kind::String => "string",
            Kind::Vector => "instant vector",
            Kind::Matrix(_) => "range vector",
        }
    }
}

/// The schema of every series batch.
pub(crate) fn schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    Arc::clone(SCHEMA.get_or_init(|| {
        let labels = labels_builder().finish();
        Arc::new(Schema::new(vec![
            Field::new("labels", labels.data_type().clone(), false),
            Field::new("drop_name", DataType::Boolean, false),
            Field::new("timestamps", DataType::List(Arc::new(Field::new("item", DataType::Int64, true))), true),
            Field::new("values", DataType::List(Arc::new(Field::new("item", DataType::Float64, true))), true),
            Field::new("string", DataType::Utf8, true),
            Field::new("hist_times", DataType::List(Arc::new(Field::new("item", DataType::Int64, true))), true),
            Field::new("histograms", DataType::List(Arc::new(Field::new("item", DataType::Binary, true))), true),
        ]))
    }))
}

fn labels_builder() -> MapBuilder<StringBuilder, StringBuilder> {
    MapBuilder::new(None, StringBuilder::new(), StringBuilder::new())
}

/// Builds the rows of one batch.
struct Rows {
    labels: MapBuilder<StringBuilder, StringBuilder>,
    drop_name: BooleanBuilder,
    timestamps: ListBuilder<Int64Builder>,
    values: ListBuilder<Float64Builder>,
    string: StringBuilder,
    hist_times: ListBuilder<Int64Builder>,
    histograms: ListBuilder<BinaryBuilder>,
    /// Scratch for one histogram's bytes.
    bytes: Vec<u8>,
}

impl Rows {
    /// Rows with room for `times` and `values` (points are copied once,
    /// without regrowing).
    fn with_capacity(times: usize, values: usize) -> Self {
        Rows {
            labels: labels_builder(),
            drop_name: BooleanBuilder::new(),
            timestamps: ListBuilder::new(Int64Builder::with_capacity(times)),
            values: ListBuilder::new(Float64Builder::with_capacity(values)),
            string: StringBuilder::new(),
            hist_times: ListBuilder::new(Int64Builder::new()),
            histograms: ListBuilder::new(BinaryBuilder::new()),
            bytes: Vec::new(),
        }
    }

    /// Appends one list of histograms (`None` items as nulls).
    fn histograms<'a>(&mut self, hists: impl IntoIterator<Item = Option<&'a FloatHistogram>>) {
        for h in hists {
            match h {
                Some(h) => {
                    self.bytes.clear();
                    h.write_bytes(&mut self.bytes);
                    self.histograms.values().append_value(&self.bytes);
                }
                None => self.histograms.values().append_null(),
            }
        }
        self.histograms.append(true);
    }

    /// Appends null to the columns a row of `kind` leaves unused.
    fn no_histograms(&mut self) {
        self.hist_times.append_null();
        self.histograms.append_null();
    }

    fn labels(&mut self, labels: &Labels, drop_name: bool) -> Result<()> {
        for (n, v) in labels.iter() {
            self.labels.keys().append_value(n);
            self.labels.values().append_value(v);
        }
        self.labels.append(true).map_err(datafusion::error::DataFusionError::from)?;
        self.drop_name.append_value(drop_name);
        Ok(())
    }

    fn finish(mut self) -> Result<RecordBatch> {
        let columns = vec![
            Arc::new(self.labels.finish()) as _,
            Arc::new(self.drop_name.finish()) as _,
            Arc::new(self.timestamps.finish()) as _,
            Arc::new(self.values.finish()) as _,
            Arc::new(self.string.finish()) as _,
            Arc::new(self.hist_times.finish()) as _,
            Arc::new(self.histograms.finish()) as _,
        ];
        Ok(RecordBatch::try_new(schema(), columns).map_err(datafusion::error::DataFusionError::from)?)
    }
}

/// The batch of a value.
pub(crate) fn encode(val: Val) -> Result<RecordBatch> {
    let (times, values) = match &val {
        Val::Vector(series) => (0, series.iter().map(|s| s.values.len()).sum()),
        Val::Matrix(m) => {
            let points = m.series.iter().map(|s| s.ts.len()).sum();
            (points, points)
        }
        Val::Scalar(values) => (0, values.len()),
        Val::String(_) => (0, 0),
    };
    let mut rows = Rows::with_capacity(times, values);
    match val {
        Val::Scalar(values) => {
            rows.labels(&Labels::default(), false)?;
            rows.timestamps.append_null();
            rows.values.append_value(values.into_iter().map(Some));
            rows.string.append_null();
            rows.no_histograms();
        }
        Val::String(s) => {
            rows.labels(&Labels::default(), false)?;
            rows.timestamps.append_null();
            rows.values.append_null();
            rows.string.append_value(s);
            rows.no_histograms();
        }
        Val::Vector(series) => {
            for s in series {
                rows.labels(&s.labels, s.drop_name)?;
                rows.timestamps.append_null();
                rows.values.append_value(s.values);
                rows.string.append_null();
                rows.hist_times.append_null();
                if s.hists.is_empty() {
                    rows.histograms.append_null();
                } else {
                    rows.histograms(s.hists.iter().map(Option::as_ref));
                }
            }
        }
        Val::Matrix(m) => {
            for s in m.series {
                rows.labels(&s.labels, s.drop_name)?;
                rows.timestamps.values().append_slice(&s.ts);
                rows.timestamps.append(true);
                rows.values.values().append_slice(&s.vs);
                rows.values.append(true);
                rows.string.append_null();
                rows.hist_times.values().append_slice(&s.hts);
                rows.hist_times.append(true);
                rows.histograms(s.hs.iter().map(Some));
            }
        }
    }
    rows.finish()
}

/// The value of a node's batches, which hold a `kind`.
pub(crate) fn decode(batches: &[RecordBatch], kind: Kind) -> Result<Val> {
    let mut series: Vec<StepSeries> = Vec::new();
    let mut raw: Vec<RawSeries> = Vec::new();
    for batch in batches {
        let bad = |what: &str| PromError::Execution(format!("a PromQL plan node passed a batch without {what}"));
        let labels = batch.column(0).as_map_opt().ok_or_else(|| bad("labels"))?;
        let drop_name = batch.column(1).as_boolean_opt().ok_or_else(|| bad("drop_name"))?;
        let timestamps = batch.column(2).as_list_opt::<i32>().ok_or_else(|| bad("timestamps"))?;
        let values = batch.column(3).as_list_opt::<i32>().ok_or_else(|| bad("values"))?;
        let strings = batch.column(4).as_string_opt::<i32>().ok_or_else(|| bad("string"))?;
        let hist_times = batch.column(5).as_list_opt::<i32>().ok_or_else(|| bad("hist_times"))?;
        let histograms = batch.column(6).as_list_opt::<i32>().ok_or_else(|| bad("histograms"))?;
        let hists = |row: usize| -> Result<Vec<Option<FloatHistogram>>> {
            if histograms.is_null(row) {
                return Ok(Vec::new());
            }
            let list = histograms.value(row);
            let list = list.as_binary_opt::<i32>().ok_or_else(|| bad("histogram bytes"))?;
            list.iter()
                .map(|b| {
                    b.map(FloatHistogram::from_bytes)
                        .transpose()
                        .map_err(|e| PromError::Execution(format!("a PromQL plan node passed a bad histogram: {e}")))
                })
                .collect()
        };
        let floats = |row: usize| -> Result<Vec<Option<f64>>> {
            let list = values.value(row);
            let list = list.as_primitive_opt::<Float64Type>().ok_or_else(|| bad("float values"))?;
            Ok(list.iter().collect())
        };
        for row in 0..batch.num_rows() {
            match kind {
                Kind::String => {
                    let s = if strings.is_valid(row) { strings.value(row).to_owned() } else { String::new() };
                    return Ok(Val::String(s));
                }
                Kind::Scalar => {
                    return Ok(Val::Scalar(floats(row)?.into_iter().map(|v| v.unwrap_or(f64::NAN)).collect()));
                }
                Kind::Vector => {
                    let labels = row_labels(labels, row, &bad)?;
                    let hists = hists(row)?;
                    series.push(StepSeries { labels, values: floats(row)?, hists, drop_name: drop_name.value(row) });
                }
                Kind::Matrix(_) => {
                    let labels = row_labels(labels, row, &bad)?;
                    let ts = timestamps.value(row);
                    let ts = ts.as_primitive_opt::<Int64Type>().ok_or_else(|| bad("times"))?;
                    let vs = values.value(row);
                    let vs = vs.as_primitive_opt::<Float64Type>().ok_or_else(|| bad("float values"))?;
                    // A matrix's points are never null: whole slices copy.
                    if ts.null_count() > 0 || vs.null_count() > 0 || ts.len() != vs.len() {
                        return Err(bad("a point for each time"));
                    }
                    let hts = hist_times.value(row);
                    let hts = hts.as_primitive_opt::<Int64Type>().ok_or_else(|| bad("histogram times"))?;
                    let hs: Option<Vec<FloatHistogram>> = hists(row)?.into_iter().collect();
                    let hs = hs.ok_or_else(|| bad("a histogram for each histogram time"))?;
                    if hts.null_count() > 0 || hts.len() != hs.len() {
                        return Err(bad("a histogram for each histogram time"));
                    }
                    raw.push(RawSeries {
                        labels,
                        ts: ts.values().to_vec(),
                        vs: vs.values().to_vec(),
                        hts: hts.values().to_vec(),
                        hs,
                        drop_name: drop_name.value(row),
                    });
                }
            }
        }
    }
    Ok(match kind {
        Kind::Scalar => Val::Scalar(Vec::new()),
        Kind::String => Val::String(String::new()),
        Kind::Vector => Val::Vector(series),
        Kind::Matrix(w) => Val::Matrix(Matrix { series: raw, range: w.range, offset: w.offset, at: w.at }),
    })
}

/// The `timestamps` and `values` columns of a matrix's batches, a row per
/// series in the order [`decode`] reads them (one array over several
/// batches).
pub(crate) fn point_columns(batches: &[RecordBatch]) -> Result<[ArrayRef; 2]> {
    let column = |i: usize| -> Result<ArrayRef> {
        if let [batch] = batches {
            return Ok(Arc::clone(batch.column(i)));
        }
        let parts: Vec<&dyn Array> = batches.iter().map(|b| b.column(i).as_ref()).collect();
        if parts.is_empty() {
            return Ok(new_empty_array(schema().field(i).data_type()));
        }
        Ok(concat(&parts).map_err(datafusion::error::DataFusionError::from)?)
    };
    Ok([column(2)?, column(3)?])
}

/// The point times and values of a matrix's series, as
/// [`point_columns`] reads them from its batch.
pub(crate) fn matrix_point_columns(matrix: &Matrix) -> [ArrayRef; 2] {
    let points = matrix.series.iter().map(|s| s.ts.len()).sum();
    let mut ts = ListBuilder::new(Int64Builder::with_capacity(points));
    let mut vs = ListBuilder::new(Float64Builder::with_capacity(points));
    for s in &matrix.series {
        ts.values().append_slice(&s.ts);
        ts.append(true);
        vs.values().append_slice(&s.vs);
        vs.append(true);
    }
    [Arc::new(ts.finish()), Arc::new(vs.finish())]
}

/// The label set of one row.
fn row_labels(
    labels: &datafusion::arrow::array::MapArray,
    row: usize,
    bad: &dyn Fn(&str) -> PromError,
) -> Result<Labels> {
    let entries = labels.value(row);
    let names = entries.column(0).as_string_opt::<i32>().ok_or_else(|| bad("label names"))?;
    let values = entries.column(1).as_string_opt::<i32>().ok_or_else(|| bad("label values"))?;
    Ok(Labels::new((0..entries.len()).map(|i| (names.value(i).to_owned(), values.value(i).to_owned()))))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests fail loudly")]

    use super::*;
    use crate::model::histogram::Span;

    fn histogram(count: f64) -> FloatHistogram {
        FloatHistogram {
            count,
            sum: count * 2.0,
            positive_spans: vec![Span { offset: -1, length: 1 }],
            positive_buckets: vec![count],
            ..FloatHistogram::default()
        }
    }

    fn labels(name: &str) -> Labels {
        Labels::new([("__name__".to_owned(), name.to_owned())])
    }

    #[test]
    fn vectors_keep_histograms_beside_floats_and_float_series_stay_without() {
        let mixed = StepSeries::mixed(labels("m"), vec![Some(1.0), None, None], vec![None, Some(histogram(3.0)), None]);
        let floats = StepSeries::new(labels("f"), vec![None, Some(2.0), None]);
        let batch = encode(Val::Vector(vec![mixed, floats])).unwrap();
        let Val::Vector(back) = decode(&[batch], Kind::Vector).unwrap() else { panic!("a vector") };
        assert_eq!(back[0].values, vec![Some(1.0), None, None]);
        assert_eq!(back[0].hist(1), Some(&histogram(3.0)));
        assert_eq!((back[0].hist(0), back[0].hist(2)), (None, None));
        assert!(back[1].hists.is_empty(), "a float series carries no histogram list");
    }

    #[test]
    fn matrices_keep_histogram_points_with_their_times() {
        let raw = RawSeries {
            labels: labels("m"),
            ts: vec![1, 5],
            vs: vec![1.0, 2.0],
            hts: vec![2, 3],
            hs: vec![histogram(1.0), histogram(4.0)],
            drop_name: true,
        };
        let window = Window { range: 10, offset: 0, at: None };
        let m = Matrix { series: vec![raw], range: 10, offset: 0, at: None };
        let batch = encode(Val::Matrix(m)).unwrap();
        let Val::Matrix(back) = decode(&[batch], Kind::Matrix(window)).unwrap() else { panic!("a matrix") };
        let s = &back.series[0];
        assert_eq!((s.ts.clone(), s.hts.clone(), s.drop_name), (vec![1, 5], vec![2, 3], true));
        assert_eq!(s.hs, vec![histogram(1.0), histogram(4.0)]);
    }

    #[test]
    fn point_columns_are_the_matrix_points_in_series_order() {
        let series = |ts: Vec<i64>, vs: Vec<f64>| RawSeries { labels: labels("m"), ts, vs, ..RawSeries::default() };
        let matrix = |series| Matrix { series, range: 10, offset: 0, at: None };
        let (a, b) = (series(vec![1, 2], vec![1.0, 2.0]), series(vec![3], vec![4.0]));
        let both = matrix(vec![a.clone(), b.clone()]);
        let batches = [encode(Val::Matrix(matrix(vec![a]))).unwrap(), encode(Val::Matrix(matrix(vec![b]))).unwrap()];
        let [ts, vs] = point_columns(&batches).unwrap();
        let [built_ts, built_vs] = matrix_point_columns(&both);
        assert_eq!((&ts, &vs), (&built_ts, &built_vs));
        assert_eq!(ts.len(), 2);
        let [none, _] = point_columns(&[]).unwrap();
        assert_eq!(none.len(), 0);
    }
}
