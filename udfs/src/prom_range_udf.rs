//! `prom_<name>`: each of PromQL's range-vector functions ([`range_function`])
//! as a DataFusion scalar function that evaluates a whole series at every
//! step in one call, one row per series:
//!
//! ```text
//! prom_<name>(timestamps, values, steps, range, offset, at [, parameters]) -> List<Float64>
//! ```
//!
//! | argument     | type                            | meaning                                        |
//! |--------------|---------------------------------|------------------------------------------------|
//! | `timestamps` | List<Int64>                     | the series' point times, ms, ascending         |
//! | `values`     | List<Float64>                   | its point values                               |
//! | `steps`      | List<Int64>                     | the evaluation times, ms                       |
//! | `range`      | Int64                           | the window's width, ms                         |
//! | `offset`     | Int64                           | how far the windows move back, ms              |
//! | `at`         | Int64, nullable                 | the `@` time every window ends at, ms          |
//! | parameters   | Float64, or List<Float64>       | one value for every step, or one a step        |
//!
//! Step `t` sees the points in `(end - range, end]` with
//! `end = (at or t) - offset`, and is the evaluation time (`predict_linear`
//! predicts from it). The answer holds one value a step, null where the
//! function has none (an empty window, too few points, a null step or
//! parameter). The parameters are `predict_linear`'s seconds,
//! `double_exponential_smoothing`'s smoothing and trend factors and
//! `quantile_over_time`'s quantile; checking their ranges is the caller's.
//!
//! Any argument may be a scalar (the same for every row) or an array. A
//! null row of points, steps, range or offset gives a null row; a point
//! with a null time or value is skipped. Times that do not ascend, or a
//! row with more times than values, are an error.
//!
//! Each step's window is found by moving its two edges forward over the
//! ascending times (a binary search only when the steps go back), so a row
//! costs its points plus its steps, besides the functions' own work.

use std::ops::Range;
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, Float64Array, Float64Builder, Int64Array, ListArray, ListBuilder, PrimitiveArray,
};
use datafusion::arrow::datatypes::{ArrowPrimitiveType, DataType, Float64Type, Int64Type};
use datafusion::common::{Result, exec_datafusion_err, exec_err, plan_err};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility};

use crate::prom_range::{RANGE_FUNCTIONS, RangeWindow, range_function};

/// The arguments before the function's own parameters.
const ARGUMENTS: [(&str, Expect); 6] = [
    ("timestamps", Expect::IntList),
    ("values", Expect::FloatList),
    ("steps", Expect::IntList),
    ("range", Expect::Int),
    ("offset", Expect::Int),
    ("at", Expect::Int),
];

/// `prom_<name>`, one PromQL range-vector function over whole series; see
/// the module docs.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct PromRangeUdf {
    /// Its name in PromQL (`rate`).
    function: &'static str,
    /// Its name in SQL (`prom_rate`).
    name: String,
    /// The names of its scalar parameters.
    params: &'static [&'static str],
    signature: Signature,
}

impl PromRangeUdf {
    /// The function PromQL calls `function` (`rate`), if it is a
    /// range-vector function.
    pub fn new(function: &str) -> Option<Self> {
        let spec = RANGE_FUNCTIONS.iter().find(|spec| spec.name == function)?;
        Some(PromRangeUdf {
            function: spec.name,
            name: format!("prom_{function}"),
            params: spec.params,
            signature: Signature::user_defined(Volatility::Immutable),
        })
    }

    /// Every range-vector function.
    pub fn all() -> impl Iterator<Item = Self> {
        RANGE_FUNCTIONS.iter().filter_map(|spec| PromRangeUdf::new(spec.name))
    }

    /// Each argument's name and what it must be, in order.
    fn expected(&self) -> impl Iterator<Item = (&'static str, Expect)> + '_ {
        ARGUMENTS.into_iter().chain(self.params.iter().map(|&p| (p, Expect::FloatOrList)))
    }

    /// An error unless there are as many arguments as it takes.
    fn check_count(&self, given: usize) -> Result<()> {
        let names: Vec<&str> = self.expected().map(|(name, _)| name).collect();
        if given != names.len() {
            return plan_err!("{} takes {} arguments ({}), got {given}", self.name, names.len(), names.join(", "));
        }
        Ok(())
    }

    /// The message for argument `index` (`name`) of type `given`.
    fn type_error(&self, index: usize, name: &str, expect: Expect, given: &DataType) -> String {
        format!("{}: argument {} ({name}) must be {}, got {given}", self.name, index + 1, expect.describe())
    }

    /// The function over `rows` rows of arguments (arrays of that length,
    /// or scalars for every row), of the types [`ScalarUDFImpl::return_type`]
    /// accepts: one list of values a step for each row.
    pub fn evaluate(&self, args: &[ColumnarValue], rows: usize) -> Result<ListArray> {
        self.check_count(args.len())?;
        let Some(f) = range_function(self.function) else {
            return exec_err!("{} is not a range-vector function", self.name);
        };
        let columns = args.iter().map(Column::new).collect::<Result<Vec<_>>>()?;
        if let Some(c) = columns.iter().find(|c| !c.scalar && c.array.len() != rows) {
            return exec_err!("{}: an argument has {} rows, not {rows}", self.name, c.array.len());
        }
        let bad = |i: usize| {
            let (name, expect) = self.expected().nth(i).unwrap_or(ARGUMENTS[0]);
            exec_datafusion_err!("{}", self.type_error(i, name, expect, columns[i].array.data_type()))
        };
        let times = Lists::<Int64Type>::new(&columns[0]).ok_or_else(|| bad(0))?;
        let values = Lists::<Float64Type>::new(&columns[1]).ok_or_else(|| bad(1))?;
        let steps = Lists::<Int64Type>::new(&columns[2]).ok_or_else(|| bad(2))?;
        let ranges = Ints::new(&columns[3]).ok_or_else(|| bad(3))?;
        let offsets = Ints::new(&columns[4]).ok_or_else(|| bad(4))?;
        let ats = Ints::new(&columns[5]).ok_or_else(|| bad(5))?;
        let params = (ARGUMENTS.len()..columns.len())
            .map(|i| Param::new(&columns[i]).ok_or_else(|| bad(i)))
            .collect::<Result<Vec<_>>>()?;

        let capacity = if steps.scalar { rows * steps.items.len() } else { steps.items.len() };
        let mut out = ListBuilder::with_capacity(Float64Builder::with_capacity(capacity), rows);
        let (mut ts_kept, mut vs_kept) = (Vec::new(), Vec::new());
        let mut args_at = vec![0.0; params.len()];
        for row in 0..rows {
            let (Some(tr), Some(vr), Some(sr), Some(range), Some(offset)) =
                (times.get(row), values.get(row), steps.get(row), ranges.get(row), offsets.get(row))
            else {
                out.append_null();
                continue;
            };
            if tr.len() != vr.len() {
                return exec_err!("{}: row {row} has {} timestamps and {} values", self.name, tr.len(), vr.len());
            }
            let (ts, vs): (&[i64], &[f64]) = if times.has_nulls(&tr) || values.has_nulls(&vr) {
                ts_kept.clear();
                vs_kept.clear();
                for (i, j) in tr.zip(vr) {
                    if times.items.is_valid(i) && values.items.is_valid(j) {
                        ts_kept.push(times.items.value(i));
                        vs_kept.push(values.items.value(j));
                    }
                }
                (&ts_kept, &vs_kept)
            } else {
                (&times.items.values()[tr], &values.items.values()[vr])
            };
            if !ts.is_sorted() {
                return exec_err!("{}: the timestamps of row {row} do not ascend", self.name);
            }
            let at = ats.get(row);
            let mut window = Cursor::default();
            for (i, k) in sr.enumerate() {
                if steps.items.is_null(k) || !params.iter().zip(&mut args_at).all(|(p, slot)| p.fill(row, i, slot)) {
                    out.values().append_null();
                    continue;
                }
                let t = steps.items.value(k);
                let end = at.unwrap_or(t).saturating_sub(offset);
                let w = window.seek(ts, end.saturating_sub(range), end);
                let value = if w.is_empty() {
                    None
                } else {
                    RangeWindow::new(&ts[w.clone()], &vs[w], end, range, t).and_then(|w| f(&w, &args_at))
                };
                out.values().append_option(value);
            }
            out.append(true);
        }
        Ok(out.finish())
    }
}

impl ScalarUDFImpl for PromRangeUdf {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.check_count(arg_types.len())?;
        self.expected()
            .zip(arg_types)
            .enumerate()
            .map(|(i, ((name, expect), given))| match expect.coerce(given) {
                Some(t) => Ok(t),
                None => plan_err!("{}", self.type_error(i, name, expect, given)),
            })
            .collect()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.check_count(arg_types.len())?;
        for (i, ((name, expect), given)) in self.expected().zip(arg_types).enumerate() {
            if !expect.accepts(given) {
                return plan_err!("{}", self.type_error(i, name, expect, given));
            }
        }
        Ok(DataType::new_list(DataType::Float64, true))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let out = self.evaluate(&args.args, args.number_rows)?;
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// What an argument must be.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// A list of integers, cast to `List<Int64>`.
    IntList,
    /// A list of numbers, cast to `List<Float64>`.
    FloatList,
    /// An integer, cast to `Int64`.
    Int,
    /// A number (`Float64`) or a list of numbers (`List<Float64>`).
    FloatOrList,
}

impl Expect {
    /// How error messages say it.
    fn describe(self) -> &'static str {
        match self {
            Expect::IntList => "a list of integers (milliseconds)",
            Expect::FloatList => "a list of numbers",
            Expect::Int => "an integer (milliseconds)",
            Expect::FloatOrList => "a number or a list of numbers (one a step)",
        }
    }

    /// The type an argument of type `given` is cast to, if it can be.
    fn coerce(self, given: &DataType) -> Option<DataType> {
        let int_list = DataType::new_list(DataType::Int64, true);
        let float_list = DataType::new_list(DataType::Float64, true);
        match self {
            Expect::IntList => list_of(given, DataType::is_integer).then_some(int_list),
            Expect::FloatList => list_of(given, DataType::is_numeric).then_some(float_list),
            Expect::Int => (given.is_null() || given.is_integer()).then_some(DataType::Int64),
            Expect::FloatOrList if given.is_null() || given.is_numeric() => Some(DataType::Float64),
            Expect::FloatOrList => list_of(given, DataType::is_numeric).then_some(float_list),
        }
    }

    /// Whether `given` is a type it evaluates on as is.
    fn accepts(self, given: &DataType) -> bool {
        let item = match given {
            DataType::List(field) => Some(field.data_type()),
            _ => None,
        };
        match self {
            Expect::IntList => item == Some(&DataType::Int64),
            Expect::FloatList => item == Some(&DataType::Float64),
            Expect::Int => given == &DataType::Int64,
            Expect::FloatOrList => given == &DataType::Float64 || item == Some(&DataType::Float64),
        }
    }
}

/// Whether `given` is null or a list of items that are null or `item`.
fn list_of(given: &DataType, item: fn(&DataType) -> bool) -> bool {
    match given {
        DataType::Null => true,
        DataType::List(f) | DataType::LargeList(f) | DataType::FixedSizeList(f, _) => {
            f.data_type().is_null() || item(f.data_type())
        }
        _ => false,
    }
}

/// One argument as an array, and whether it is one value for every row.
struct Column {
    array: ArrayRef,
    scalar: bool,
}

impl Column {
    fn new(value: &ColumnarValue) -> Result<Self> {
        Ok(match value {
            ColumnarValue::Array(array) => Column { array: Arc::clone(array), scalar: false },
            ColumnarValue::Scalar(value) => Column { array: value.to_array()?, scalar: true },
        })
    }
}

/// The row of an array that row `row` of the arguments reads.
fn source_row(scalar: bool, row: usize) -> usize {
    if scalar { 0 } else { row }
}

/// A list argument: each row's range of items.
struct Lists<'a, T: ArrowPrimitiveType> {
    list: &'a ListArray,
    items: &'a PrimitiveArray<T>,
    scalar: bool,
}

impl<'a, T: ArrowPrimitiveType> Lists<'a, T> {
    /// `column` as lists of `T`, if it is.
    fn new(column: &'a Column) -> Option<Self> {
        let list = column.array.as_list_opt::<i32>()?;
        let items = list.values().as_primitive_opt::<T>()?;
        Some(Lists { list, items, scalar: column.scalar })
    }

    /// The items of row `row`, unless the row is null.
    fn get(&self, row: usize) -> Option<Range<usize>> {
        let row = source_row(self.scalar, row);
        let offsets = self.list.value_offsets();
        let start = usize::try_from(offsets[row]).ok()?;
        let end = usize::try_from(offsets[row + 1]).ok()?;
        self.list.is_valid(row).then_some(start..end)
    }

    /// Whether one of the items `range` is null.
    fn has_nulls(&self, range: &Range<usize>) -> bool {
        self.items.null_count() > 0 && range.clone().any(|i| self.items.is_null(i))
    }
}

/// An integer argument.
struct Ints<'a> {
    array: &'a Int64Array,
    scalar: bool,
}

impl<'a> Ints<'a> {
    fn new(column: &'a Column) -> Option<Self> {
        Some(Ints { array: column.array.as_primitive_opt::<Int64Type>()?, scalar: column.scalar })
    }

    /// The value for row `row`, unless it is null.
    fn get(&self, row: usize) -> Option<i64> {
        let row = source_row(self.scalar, row);
        self.array.is_valid(row).then(|| self.array.value(row))
    }
}

/// A scalar parameter of the function: one value for every step of a row,
/// or one a step.
enum Param<'a> {
    Each(&'a Float64Array, bool),
    PerStep(Lists<'a, Float64Type>),
}

impl<'a> Param<'a> {
    fn new(column: &'a Column) -> Option<Self> {
        match column.array.as_primitive_opt::<Float64Type>() {
            Some(array) => Some(Param::Each(array, column.scalar)),
            None => Lists::new(column).map(Param::PerStep),
        }
    }

    /// Writes its value at step `step` of row `row` to `slot`; false if
    /// there is none.
    fn fill(&self, row: usize, step: usize, slot: &mut f64) -> bool {
        let (items, i) = match self {
            Param::Each(array, scalar) => (*array, source_row(*scalar, row)),
            Param::PerStep(lists) => match lists.get(row).and_then(|mut r| r.nth(step)) {
                Some(i) => (lists.items, i),
                None => return false,
            },
        };
        if items.is_null(i) {
            return false;
        }
        *slot = items.value(i);
        true
    }
}

/// The points of a window `(from, to]` that moves over ascending times:
/// each edge steps forward from where it was, and is searched for again
/// only when it moves back.
#[derive(Default)]
struct Cursor {
    lo: usize,
    hi: usize,
}

impl Cursor {
    /// The indexes of the points of `ts` in `(from, to]`.
    fn seek(&mut self, ts: &[i64], from: i64, to: i64) -> Range<usize> {
        self.lo = advance(ts, self.lo, from);
        self.hi = advance(ts, self.hi, to);
        self.lo..self.hi.max(self.lo)
    }
}

/// The number of `ts` at or before `bound`, from `at`, that of an earlier
/// bound.
fn advance(ts: &[i64], mut at: usize, bound: i64) -> usize {
    if at > 0 && ts[at - 1] > bound {
        return ts.partition_point(|&t| t <= bound);
    }
    while at < ts.len() && ts[at] <= bound {
        at += 1;
    }
    at
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly on an unexpected error")]

    use datafusion::common::ScalarValue;

    use super::*;

    fn int_list(rows: &[Option<Vec<Option<i64>>>]) -> ColumnarValue {
        ColumnarValue::Array(Arc::new(ListArray::from_iter_primitive::<Int64Type, _, _>(rows.to_vec())))
    }

    fn float_list(rows: &[Option<Vec<Option<f64>>>]) -> ColumnarValue {
        ColumnarValue::Array(Arc::new(ListArray::from_iter_primitive::<Float64Type, _, _>(rows.to_vec())))
    }

    fn steps(times: &[i64]) -> ColumnarValue {
        let list = ListArray::from_iter_primitive::<Int64Type, _, _>([Some(times.iter().map(|&t| Some(t)))]);
        ColumnarValue::Scalar(ScalarValue::List(Arc::new(list)))
    }

    fn int(v: Option<i64>) -> ColumnarValue {
        ColumnarValue::Scalar(ScalarValue::Int64(v))
    }

    fn rows(out: &ListArray) -> Vec<Option<Vec<Option<f64>>>> {
        (0..out.len())
            .map(|r| out.is_valid(r).then(|| out.value(r).as_primitive::<Float64Type>().iter().collect()))
            .collect()
    }

    /// Times in seconds, values, of one series.
    fn series(points: &[(i64, f64)]) -> (ColumnarValue, ColumnarValue) {
        (
            int_list(&[Some(points.iter().map(|p| Some(p.0 * 1000)).collect())]),
            float_list(&[Some(points.iter().map(|p| Some(p.1)).collect())]),
        )
    }

    #[test]
    fn each_step_sees_its_own_window() {
        // A point every 10 s, value = seconds. Steps at 20, 40, 60 s, 25 s
        // windows: (-5, 20] holds 0, 10, 20; (15, 40] 20, 30, 40; (35, 60]
        // 40, 50, 60.
        let (ts, vs) = series(&(0..=6).map(|i| (i * 10, (i * 10) as f64)).collect::<Vec<_>>());
        let udf = PromRangeUdf::new("sum_over_time").unwrap();
        let args = [ts, vs, steps(&[20_000, 40_000, 60_000]), int(Some(25_000)), int(Some(0)), int(None)];
        let out = udf.evaluate(&args, 1).unwrap();
        assert_eq!(rows(&out), [Some(vec![Some(30.0), Some(90.0), Some(150.0)])]);
    }

    #[test]
    fn steps_going_back_search_again() {
        let (ts, vs) = series(&[(10, 1.0), (20, 2.0), (30, 3.0)]);
        let udf = PromRangeUdf::new("last_over_time").unwrap();
        let args = [ts, vs, steps(&[30_000, 10_000, 20_000, 5_000]), int(Some(10_000)), int(Some(0)), int(None)];
        let out = udf.evaluate(&args, 1).unwrap();
        assert_eq!(rows(&out), [Some(vec![Some(3.0), Some(1.0), Some(2.0), None])]);
    }

    #[test]
    fn rows_are_series_and_scalars_broadcast() {
        // Two series, one null, one empty; the steps are one scalar list.
        let ts = int_list(&[Some(vec![Some(1_000), Some(2_000)]), None, Some(vec![])]);
        let vs = float_list(&[Some(vec![Some(4.0), Some(6.0)]), Some(vec![]), Some(vec![])]);
        let udf = PromRangeUdf::new("avg_over_time").unwrap();
        let args = [ts, vs, steps(&[2_000]), int(Some(5_000)), int(Some(0)), int(None)];
        let out = udf.evaluate(&args, 3).unwrap();
        assert_eq!(rows(&out), [Some(vec![Some(5.0)]), None, Some(vec![None])]);
    }

    #[test]
    fn per_step_parameters_and_null_points() {
        // quantile 0, 0.5, 1 at three steps over 1, 2, 3 (a null point skipped).
        let ts = int_list(&[Some(vec![Some(1_000), Some(2_000), Some(2_500), Some(3_000)])]);
        let vs = float_list(&[Some(vec![Some(1.0), Some(2.0), None, Some(3.0)])]);
        let q = float_list(&[Some(vec![Some(0.0), Some(0.5), None, Some(1.0)])]);
        let udf = PromRangeUdf::new("quantile_over_time").unwrap();
        let args = [ts, vs, steps(&[3_000, 3_000, 3_000, 3_000]), int(Some(10_000)), int(Some(0)), int(None), q];
        let out = udf.evaluate(&args, 1).unwrap();
        assert_eq!(rows(&out), [Some(vec![Some(1.0), Some(2.0), None, Some(3.0)])]);
    }

    #[test]
    fn bad_rows_are_errors() {
        let udf = PromRangeUdf::new("rate").unwrap();
        let (ts, _) = series(&[(2, 1.0), (1, 2.0)]);
        let vs = float_list(&[Some(vec![Some(1.0), Some(2.0)])]);
        let args = [ts, vs.clone(), steps(&[2_000]), int(Some(5_000)), int(Some(0)), int(None)];
        let err = udf.evaluate(&args, 1).unwrap_err().to_string();
        assert!(err.contains("prom_rate: the timestamps of row 0 do not ascend"), "{err}");
        let short = int_list(&[Some(vec![Some(1)])]);
        let args = [short, vs.clone(), steps(&[2_000]), int(Some(5_000)), int(Some(0)), int(None)];
        let err = udf.evaluate(&args, 1).unwrap_err().to_string();
        assert!(err.contains("prom_rate: row 0 has 1 timestamps and 2 values"), "{err}");
        let args = [vs.clone(), vs, steps(&[2_000]), int(Some(5_000)), int(Some(0)), int(None)];
        let err = udf.evaluate(&args, 1).unwrap_err().to_string();
        assert!(err.contains("prom_rate: argument 1 (timestamps) must be a list of integers"), "{err}");
    }

    #[test]
    fn types_are_checked_by_name() {
        let udf = PromRangeUdf::new("predict_linear").unwrap();
        let list = |t: DataType| DataType::new_list(t, true);
        let good = [list(DataType::Int64), list(DataType::Float64), list(DataType::Int64)]
            .into_iter()
            .chain([DataType::Int64, DataType::Int64, DataType::Int64, DataType::Float64])
            .collect::<Vec<_>>();
        assert_eq!(udf.return_type(&good).unwrap(), list(DataType::Float64));
        let mut bad = good.clone();
        bad[6] = DataType::Utf8;
        let err = udf.return_type(&bad).unwrap_err().to_string();
        assert!(err.contains("prom_predict_linear: argument 7 (seconds) must be a number or a list"), "{err}");
        let err = udf.return_type(&good[..6]).unwrap_err().to_string();
        assert!(err.contains("prom_predict_linear takes 7 arguments"), "{err}");
        let coerced = udf
            .coerce_types(&[
                list(DataType::Int32),
                list(DataType::Int64),
                DataType::Null,
                DataType::Int32,
                DataType::UInt8,
                DataType::Null,
                DataType::Int64,
            ])
            .unwrap();
        assert_eq!(coerced, good);
    }

    #[test]
    fn every_function_has_a_udf() {
        let names: Vec<String> = PromRangeUdf::all().map(|u| u.name).collect();
        assert_eq!(names.len(), RANGE_FUNCTIONS.len());
        assert!(names.contains(&"prom_rate".to_owned()) && names.contains(&"prom_mad_over_time".to_owned()));
    }
}
