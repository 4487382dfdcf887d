//! The columns a measurement's SQL table gets from its names, and the rule
//! that keeps them distinct: `time`, one column per tag key, one per field.
//! So no tag key or field may be named [`TIME_COLUMN`], and no name may be
//! both a tag key and a field of one measurement.
//!
//! [`BatchNames`] collects what one batch names, once per distinct
//! (measurement, tag key) and (measurement, field), with the first row naming
//! each, and refuses a clash inside the batch. [`ColumnNames`] holds every
//! name a database has claimed, stored or in a batch written but not yet
//! applied, and refuses a batch that clashes with them. A batch claims its
//! names once written to the WAL, under the same lock as the check, so
//! concurrent batches see each other's names; a refused batch claims nothing.

use std::collections::{HashMap, HashSet};

use super::InvalidInput;
use crate::error::Error;

/// The name of the time column of every measurement's table.
pub const TIME_COLUMN: &str = "time";

const IS_TIME: &str = "is the name of the time column";
const ALSO_FIELD: &str =
    "is also a field of it: one name cannot be both a tag key and a field (SQL would show two columns of that name)";
const ALSO_TAG_KEY: &str =
    "is also a tag key of it: one name cannot be both a tag key and a field (SQL would show two columns of that name)";

fn clash(measurement: &str, kind: &'static str, name: &str, row: usize, why: &'static str) -> Error {
    let source = InvalidInput::ColumnClash { measurement: measurement.into(), kind, name: name.into(), why };
    Error::InvalidRow { row, source }
}

/// What one batch names in one measurement.
#[derive(Debug)]
struct Named<'a> {
    measurement: &'a str,
    /// Distinct tag keys, each with the first row naming it.
    tag_keys: Vec<(&'a str, usize)>,
    /// Distinct fields, each with the first row naming it.
    fields: Vec<(&'a str, usize)>,
    /// By index in the batch's field table: whether `fields` has it.
    seen: Vec<bool>,
}

/// The names one batch gives each measurement; see the module docs.
#[derive(Debug, Default)]
pub struct BatchNames<'a> {
    measurements: Vec<Named<'a>>,
    ids: HashMap<&'a str, usize>,
}

impl<'a> BatchNames<'a> {
    /// The batch-local id of `measurement`, registering it if new. Called
    /// once per distinct series of the batch.
    pub fn measurement(&mut self, measurement: &'a str) -> usize {
        // Consecutive series mostly share a measurement.
        if let Some(last) = self.measurements.last()
            && last.measurement == measurement
        {
            return self.measurements.len() - 1;
        }
        let next = self.measurements.len();
        let id = *self.ids.entry(measurement).or_insert(next);
        if id == next {
            let named = Named { measurement, tag_keys: Vec::new(), fields: Vec::new(), seen: Vec::new() };
            self.measurements.push(named);
        }
        id
    }

    /// Notes tag key `key` of measurement `m` (an id from
    /// [`BatchNames::measurement`]) in row `row`.
    pub fn tag_key(&mut self, m: usize, key: &'a str, row: usize) -> Result<(), Error> {
        let Some(named) = self.measurements.get_mut(m) else { return Ok(()) };
        if key == TIME_COLUMN {
            return Err(clash(named.measurement, "tag key", key, row, IS_TIME));
        }
        if !named.tag_keys.iter().any(|(k, _)| *k == key) {
            named.tag_keys.push((key, row));
        }
        Ok(())
    }

    /// Notes field `name`, entry `index` of the batch's field table, of
    /// measurement `m` in row `row`. Called for every point: the common case
    /// is one lookup.
    #[inline]
    pub fn field(&mut self, m: usize, index: usize, name: &'a str, row: usize) -> Result<(), Error> {
        let Some(named) = self.measurements.get_mut(m) else { return Ok(()) };
        if named.seen.get(index).copied().unwrap_or(false) {
            return Ok(());
        }
        if name == TIME_COLUMN {
            return Err(clash(named.measurement, "field", name, row, IS_TIME));
        }
        if named.seen.len() <= index {
            named.seen.resize(index + 1, false);
        }
        named.seen[index] = true;
        named.fields.push((name, row));
        Ok(())
    }

    /// Refuses the batch if it makes one name both a tag key and a field of
    /// one measurement, naming the row where the second role appears.
    pub fn check(&self) -> Result<(), Error> {
        for named in &self.measurements {
            for &(key, key_row) in &named.tag_keys {
                if let Some(&(_, field_row)) = named.fields.iter().find(|(f, _)| *f == key) {
                    return Err(if key_row >= field_row {
                        clash(named.measurement, "tag key", key, key_row, ALSO_FIELD)
                    } else {
                        clash(named.measurement, "field", key, field_row, ALSO_TAG_KEY)
                    });
                }
            }
        }
        Ok(())
    }
}

/// The tag keys and fields claimed in one measurement.
#[derive(Debug, Default, Clone)]
struct Claimed {
    tag_keys: HashSet<String>,
    fields: HashSet<String>,
}

/// Adds `names` to `set`, allocating only for new ones.
fn insert_all<'n>(set: &mut HashSet<String>, names: impl IntoIterator<Item = &'n str>) {
    for name in names {
        if !set.contains(name) {
            set.insert(name.to_string());
        }
    }
}

/// Every name a database has claimed, per measurement; see the module docs.
#[derive(Debug, Default, Clone)]
pub struct ColumnNames {
    measurements: HashMap<String, Claimed>,
}

impl ColumnNames {
    /// Claims tag keys and fields of `measurement` without checking them
    /// (names already stored stay valid).
    pub fn add<'n>(
        &mut self,
        measurement: &str,
        tag_keys: impl IntoIterator<Item = &'n str>,
        fields: impl IntoIterator<Item = &'n str>,
    ) {
        if !self.measurements.contains_key(measurement) {
            self.measurements.insert(measurement.to_string(), Claimed::default());
        }
        let Some(claimed) = self.measurements.get_mut(measurement) else { return };
        insert_all(&mut claimed.tag_keys, tag_keys);
        insert_all(&mut claimed.fields, fields);
    }

    /// Refuses `batch` if it clashes with a claimed name: a tag key that is a
    /// field, or a field that is a tag key, of the same measurement.
    pub fn check(&self, batch: &BatchNames<'_>) -> Result<(), Error> {
        for named in &batch.measurements {
            let Some(claimed) = self.measurements.get(named.measurement) else { continue };
            if let Some(&(key, row)) = named.tag_keys.iter().find(|(k, _)| claimed.fields.contains(*k)) {
                return Err(clash(named.measurement, "tag key", key, row, ALSO_FIELD));
            }
            if let Some(&(field, row)) = named.fields.iter().find(|(f, _)| claimed.tag_keys.contains(*f)) {
                return Err(clash(named.measurement, "field", field, row, ALSO_TAG_KEY));
            }
        }
        Ok(())
    }

    /// Claims every name of `batch`, which [`ColumnNames::check`] passed and
    /// which was then written (so a batch the WAL refused claims nothing).
    pub fn claim(&mut self, batch: &BatchNames<'_>) {
        for named in &batch.measurements {
            self.add(named.measurement, named.tag_keys.iter().map(|n| n.0), named.fields.iter().map(|n| n.0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The row and name a clash names, or `None` for another outcome.
    fn clash_of(result: Result<(), Error>) -> Option<(usize, String)> {
        match result {
            Err(Error::InvalidRow { row, source: InvalidInput::ColumnClash { name, .. } }) => Some((row, name)),
            _ => None,
        }
    }

    #[test]
    fn a_batch_refuses_time_and_its_own_clashes() {
        let mut batch = BatchNames::default();
        let cpu = batch.measurement("cpu");
        assert_eq!(clash_of(batch.tag_key(cpu, "time", 3)), Some((3, "time".into())));
        assert_eq!(clash_of(batch.field(cpu, 0, "time", 4)), Some((4, "time".into())));
        batch.tag_key(cpu, "host", 0).expect("fine");
        batch.field(cpu, 1, "usage", 0).expect("fine");
        let mem = batch.measurement("mem");
        assert_ne!(cpu, mem);
        batch.field(mem, 2, "host", 1).expect("fine");
        assert_eq!(batch.measurement("cpu"), cpu);
        batch.check().expect("another measurement may use a name either way");
        batch.field(cpu, 2, "host", 7).expect("noted");
        assert_eq!(clash_of(batch.check()), Some((7, "host".into())), "the row of the second role is named");
    }

    #[test]
    fn claimed_names_refuse_the_other_role_and_a_refused_batch_claims_nothing() {
        let mut names = ColumnNames::default();
        names.add("cpu", ["host"], ["usage"]);
        let mut batch = BatchNames::default();
        let cpu = batch.measurement("cpu");
        batch.tag_key(cpu, "dc", 0).expect("fine");
        batch.tag_key(cpu, "usage", 1).expect("fine within the batch");
        assert_eq!(clash_of(names.check(&batch)), Some((1, "usage".into())));
        let mut batch = BatchNames::default();
        let cpu = batch.measurement("cpu");
        batch.field(cpu, 0, "idle", 0).expect("fine");
        names.check(&batch).expect("no clash");
        names.claim(&batch);
        let mut late = BatchNames::default();
        let cpu = late.measurement("cpu");
        late.tag_key(cpu, "idle", 2).expect("fine within the batch");
        assert_eq!(clash_of(names.check(&late)), Some((2, "idle".into())), "a claimed field is known at once");
        let mut dc = BatchNames::default();
        let cpu = dc.measurement("cpu");
        dc.field(cpu, 0, "dc", 0).expect("fine");
        names.check(&dc).expect("the refused batch's tag key dc was never claimed");
    }
}
