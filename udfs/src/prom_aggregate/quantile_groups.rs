//! [`QuantileGroups`]: `prom_quantile(q, value)` per group, as both of
//! DataFusion's accumulator interfaces, like [`super::float_groups`].
//!
//! A quantile needs every value of its group. They are kept as one list of
//! (group, value) pairs in arrival order, and sorted into one buffer by
//! group (a counting sort) when answered, so no group owns an allocation.
//! Each group keeps the last non-null `q` it was given (its rows are
//! meant to agree); NaN until then, which answers NaN.
//! Partial state: `q`, and the list of the group's values.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Float64Array, ListArray};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Float64Type};
use datafusion::common::{Result, ScalarValue, internal_err};
use datafusion::logical_expr::{Accumulator, EmitTo, GroupsAccumulator};

use super::{PromAccumulator, accepted, state_field};
use crate::prom_float::quantile;

/// The `q` and the values of every group of one quantile aggregation.
#[derive(Debug, Default)]
pub(super) struct QuantileGroups {
    qs: Vec<f64>,
    values: Vec<(usize, f64)>,
}

impl QuantileGroups {
    /// Takes the accepted `(q, value)` rows into the groups of their rows.
    fn update(&mut self, args: &[ArrayRef], groups: impl Iterator<Item = usize>, filter: Option<&BooleanArray>) {
        let [qs, values] = args else { return };
        let (qs, values) = (qs.as_primitive::<Float64Type>(), values.as_primitive::<Float64Type>());
        for ((g, q), value) in groups.zip(accepted(qs, filter)).zip(accepted(values, filter)) {
            if let Some(q) = q {
                self.qs[g] = q;
            }
            if let Some(v) = value {
                self.values.push((g, v));
            }
        }
    }

    /// Merges partial states (`q` and a list of values per row).
    fn merge(&mut self, states: &[ArrayRef], groups: impl Iterator<Item = usize>) -> Result<()> {
        let [qs, lists] = states else { return internal_err!("expected 2 state columns, got {}", states.len()) };
        let (qs, lists) = (qs.as_primitive::<Float64Type>(), lists.as_list::<i32>());
        for (row, g) in groups.enumerate() {
            if qs.is_valid(row) && !qs.value(row).is_nan() {
                self.qs[g] = qs.value(row);
            }
            if lists.is_valid(row) {
                let list = lists.value(row);
                self.values.extend(list.as_primitive::<Float64Type>().iter().flatten().map(|v| (g, v)));
            }
        }
        Ok(())
    }

    /// Takes out the first groups `emit_to` names; those left are
    /// renumbered from 0.
    fn take(&mut self, emit_to: EmitTo) -> (Vec<f64>, Vec<(usize, f64)>) {
        let qs = emit_to.take_needed(&mut self.qs);
        let values = match emit_to {
            EmitTo::All => std::mem::take(&mut self.values),
            EmitTo::First(n) => {
                let (taken, kept) = self.values.iter().partition(|(g, _)| *g < n);
                self.values = kept;
                self.values.iter_mut().for_each(|(g, _)| *g -= n);
                taken
            }
        };
        (qs, values)
    }
}

/// The values of groups `0..groups` in one buffer, group by group, in
/// arrival order within a group, and the offset where each group's values
/// start (`groups + 1` offsets).
fn by_group(values: &[(usize, f64)], groups: usize) -> (Vec<usize>, Vec<f64>) {
    let mut offsets = vec![0; groups + 1];
    for &(g, _) in values {
        offsets[g + 1] += 1;
    }
    for g in 0..groups {
        offsets[g + 1] += offsets[g];
    }
    let mut next = offsets.clone();
    let mut sorted = vec![0.0; values.len()];
    for &(g, v) in values {
        sorted[next[g]] = v;
        next[g] += 1;
    }
    (offsets, sorted)
}

/// The partial state of groups with `qs` and their values `by_group`.
fn state_of(qs: Vec<f64>, (offsets, values): (Vec<usize>, Vec<f64>)) -> Result<Vec<ArrayRef>> {
    let Ok(offsets) = offsets.into_iter().map(i32::try_from).collect::<Result<Vec<i32>, _>>() else {
        return internal_err!("too many quantile values for one state batch: {}", values.len());
    };
    let item = Arc::new(Field::new_list_field(DataType::Float64, true));
    let lists =
        ListArray::try_new(item, OffsetBuffer::new(offsets.into()), Arc::new(Float64Array::from(values)), None)?;
    Ok(vec![Arc::new(Float64Array::from(qs)), Arc::new(lists)])
}

impl PromAccumulator for QuantileGroups {
    fn state_fields(&self, name: &str) -> Vec<FieldRef> {
        let list = DataType::List(Field::new_list_field(DataType::Float64, true).into());
        vec![state_field(name, "q", DataType::Float64), state_field(name, "values", list)]
    }
}

impl GroupsAccumulator for QuantileGroups {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.qs.resize(total_num_groups, f64::NAN);
        self.update(values, group_indices.iter().copied(), opt_filter);
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let (qs, values) = self.take(emit_to);
        let (offsets, mut sorted) = by_group(&values, qs.len());
        let answers = qs.iter().enumerate().map(|(g, &q)| {
            let group = &mut sorted[offsets[g]..offsets[g + 1]];
            (!group.is_empty()).then(|| quantile(q, group))
        });
        Ok(Arc::new(answers.collect::<Float64Array>()))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        let (qs, values) = self.take(emit_to);
        let groups = by_group(&values, qs.len());
        state_of(qs, groups)
    }

    fn merge_batch(&mut self, values: &[ArrayRef], group_indices: &[usize], total_num_groups: usize) -> Result<()> {
        self.qs.resize(total_num_groups, f64::NAN);
        self.merge(values, group_indices.iter().copied())
    }

    fn convert_to_state(&self, values: &[ArrayRef], opt_filter: Option<&BooleanArray>) -> Result<Vec<ArrayRef>> {
        let [qs, values] = values else { return internal_err!("expected (q, value), got {} arguments", values.len()) };
        let rows = values.len();
        let qs = accepted(qs.as_primitive::<Float64Type>(), opt_filter).map(|q| q.unwrap_or(f64::NAN)).collect();
        let values: Vec<(usize, f64)> = accepted(values.as_primitive::<Float64Type>(), opt_filter)
            .enumerate()
            .filter_map(|(row, v)| v.map(|v| (row, v)))
            .collect();
        state_of(qs, by_group(&values, rows))
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.qs.capacity() * size_of::<f64>() + self.values.capacity() * size_of::<(usize, f64)>()
    }
}

impl Accumulator for QuantileGroups {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.qs.resize(1, f64::NAN);
        self.update(values, std::iter::repeat(0), None);
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.qs.resize(1, f64::NAN);
        self.merge(states, std::iter::repeat_n(0, states.first().map_or(0, |s| s.len())))
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let q = self.qs.first().copied().unwrap_or(f64::NAN);
        let values: Vec<f64> = self.values.iter().map(|&(_, v)| v).collect();
        let state = state_of(vec![q], (vec![0, values.len()], values))?;
        state.iter().map(|column| ScalarValue::try_from_array(column, 0)).collect()
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let mut values: Vec<f64> = self.values.iter().map(|&(_, v)| v).collect();
        let q = self.qs.first().copied().unwrap_or(f64::NAN);
        Ok(ScalarValue::Float64((!values.is_empty()).then(|| quantile(q, &mut values))))
    }

    fn size(&self) -> usize {
        GroupsAccumulator::size(self)
    }
}
