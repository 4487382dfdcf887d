//! [`FloatGroups`]: a float aggregation's [`Slot`] per group, as both of
//! DataFusion's accumulator interfaces: [`GroupsAccumulator`] over every
//! group, and [`Accumulator`] over group 0 alone (no `GROUP BY`, windows).
//!
//! A group that took no value has no slot (`None`) and answers NULL. The
//! slots live in one `Vec`, so a batch of any number of groups costs no
//! allocation per group.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray, BooleanArray, Float64Array};
use datafusion::arrow::datatypes::{DataType, FieldRef, Float64Type};
use datafusion::common::{Result, ScalarValue, internal_err};
use datafusion::logical_expr::{Accumulator, EmitTo, GroupsAccumulator};

use super::slot::Slot;
use super::{PromAccumulator, accepted, state_field};

/// The slots of every group of one float aggregation.
#[derive(Debug)]
pub(super) struct FloatGroups<S> {
    slots: Vec<Option<S>>,
}

impl<S: Slot> FloatGroups<S> {
    /// No group yet.
    pub(super) fn new() -> Self {
        FloatGroups { slots: Vec::new() }
    }

    /// Adds the accepted values of `values` to the groups of their rows.
    fn update(&mut self, values: &[ArrayRef], groups: impl Iterator<Item = usize>, filter: Option<&BooleanArray>) {
        let Some(values) = values.first() else { return };
        for (g, value) in groups.zip(accepted(values.as_primitive::<Float64Type>(), filter)) {
            if let Some(f) = value {
                match &mut self.slots[g] {
                    Some(slot) => slot.add(f),
                    empty => *empty = Some(S::new(f)),
                }
            }
        }
    }

    /// Merges the partial states in `states` (a row per state, NULL for
    /// an empty one) into the groups of their rows.
    fn merge(&mut self, states: &[ArrayRef], groups: impl Iterator<Item = usize>) -> Result<()> {
        if states.len() != S::FIELDS.len() {
            return internal_err!("expected {} state columns, got {}", S::FIELDS.len(), states.len());
        }
        let columns: Vec<&Float64Array> = states.iter().map(|s| s.as_primitive::<Float64Type>()).collect();
        for (row, g) in groups.enumerate() {
            if columns[0].is_null(row) {
                continue;
            }
            let other = S::from_fields(|k| columns[k].value(row));
            match &mut self.slots[g] {
                Some(slot) => slot.merge(&other),
                empty => *empty = Some(other),
            }
        }
        Ok(())
    }
}

/// The state columns of `slots`, NULL for an empty one.
fn state_of<S: Slot>(slots: &[Option<S>]) -> Vec<ArrayRef> {
    (0..S::FIELDS.len())
        .map(|k| Arc::new(slots.iter().map(|s| s.map(|s| s.field(k))).collect::<Float64Array>()) as ArrayRef)
        .collect()
}

impl<S: Slot> PromAccumulator for FloatGroups<S> {
    fn state_fields(&self, name: &str) -> Vec<FieldRef> {
        S::FIELDS.iter().map(|part| state_field(name, part, DataType::Float64)).collect()
    }
}

impl<S: Slot> GroupsAccumulator for FloatGroups<S> {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.slots.resize(total_num_groups, None);
        self.update(values, group_indices.iter().copied(), opt_filter);
        Ok(())
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let slots = emit_to.take_needed(&mut self.slots);
        Ok(Arc::new(slots.iter().map(|s| s.map(|s| s.result())).collect::<Float64Array>()))
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(state_of(&emit_to.take_needed(&mut self.slots)))
    }

    fn merge_batch(&mut self, values: &[ArrayRef], group_indices: &[usize], total_num_groups: usize) -> Result<()> {
        self.slots.resize(total_num_groups, None);
        self.merge(values, group_indices.iter().copied())
    }

    fn convert_to_state(&self, values: &[ArrayRef], opt_filter: Option<&BooleanArray>) -> Result<Vec<ArrayRef>> {
        let Some(values) = values.first() else { return internal_err!("no values") };
        let slots: Vec<Option<S>> =
            accepted(values.as_primitive::<Float64Type>(), opt_filter).map(|v| v.map(S::new)).collect();
        Ok(state_of(&slots))
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.slots.capacity() * size_of::<Option<S>>()
    }
}

impl<S: Slot> Accumulator for FloatGroups<S> {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.slots.resize(1, None);
        self.update(values, std::iter::repeat(0), None);
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.slots.resize(1, None);
        self.merge(states, std::iter::repeat_n(0, states.first().map_or(0, |s| s.len())))
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let slot = self.slots.first().copied().flatten();
        Ok((0..S::FIELDS.len()).map(|k| ScalarValue::Float64(slot.map(|s| s.field(k)))).collect())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        Ok(ScalarValue::Float64(self.slots.first().copied().flatten().map(|s| s.result())))
    }

    fn size(&self) -> usize {
        GroupsAccumulator::size(self)
    }
}
