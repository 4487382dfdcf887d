//! [`TagDictionary`]: one tag column's dictionary, shared by every batch of
//! a scan, and the dictionary columns built from it.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, PoisonError};

use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, DictionaryArray, Int32Array, StringArray};
use arrow_buffer::NullBuffer;

use super::part_rows::arrow_error;
use crate::error::{Error, Result};

/// One tag column's dictionary, shared by every batch of a scan: the
/// distinct values among the scan's series, sorted, and each series' key.
/// Sharing it lets batches of several series concatenate without merging
/// dictionaries.
#[derive(Debug)]
pub(crate) struct TagDictionary {
    values: ArrayRef,
    /// Per series: the key of its value, `None` where it lacks the tag.
    keys: Vec<Option<i32>>,
    /// Per series: the longest column of its value built so far, sliced
    /// for the batches of that series alone.
    built: Mutex<Vec<Option<ArrayRef>>>,
}

impl TagDictionary {
    /// One per tag column, from the tag values of each series (one per column).
    pub(crate) fn for_series(series_tags: &[Vec<Option<String>>], columns: usize) -> Result<Vec<TagDictionary>> {
        (0..columns)
            .map(|c| {
                fn value(tags: &[Option<String>], c: usize) -> Option<&str> {
                    tags.get(c).and_then(Option::as_deref)
                }
                let distinct: BTreeSet<&str> = series_tags.iter().filter_map(|t| value(t, c)).collect();
                let keys_by_value: BTreeMap<&str, i32> = distinct
                    .iter()
                    .enumerate()
                    .map(|(k, &v)| i32::try_from(k).map(|k| (v, k)))
                    .collect::<std::result::Result<_, _>>()
                    .map_err(|_| Error::InvalidArgument("more than 2^31 values of one tag in a scan".into()))?;
                let keys =
                    series_tags.iter().map(|t| value(t, c).and_then(|v| keys_by_value.get(v).copied())).collect();
                let values: ArrayRef = Arc::new(StringArray::from_iter_values(distinct));
                let built = Mutex::new(vec![None; series_tags.len()]);
                Ok(TagDictionary { values, keys, built })
            })
            .collect()
    }

    /// The column of runs of (series, rows): each series' value, `rows` times.
    pub(crate) fn column(&self, runs: impl Iterator<Item = (usize, usize)>) -> Result<ArrayRef> {
        let runs: Vec<(usize, usize)> = runs.collect();
        let [(series, n)] = runs[..] else { return self.build(runs.into_iter()) };
        // The cache holds finished arrays only, so a poisoned lock still holds valid ones.
        let mut built = self.built.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(column) = built.get(series).and_then(Option::as_ref).filter(|c| c.len() >= n) {
            return Ok(column.slice(0, n));
        }
        let column = self.build(runs.into_iter())?;
        if let Some(slot) = built.get_mut(series) {
            *slot = Some(Arc::clone(&column));
        }
        Ok(column)
    }

    fn build(&self, runs: impl Iterator<Item = (usize, usize)>) -> Result<ArrayRef> {
        let mut keys: Vec<i32> = Vec::new();
        let mut valid: Vec<bool> = Vec::new();
        for (series, n) in runs {
            let key = self.keys.get(series).copied().flatten();
            if key.is_none() && valid.is_empty() {
                valid.resize(keys.len(), true);
            }
            if !valid.is_empty() || key.is_none() {
                valid.extend(std::iter::repeat_n(key.is_some(), n));
            }
            keys.extend(std::iter::repeat_n(key.unwrap_or(0), n));
        }
        let nulls = (!valid.is_empty()).then(|| NullBuffer::from(valid));
        let keys = Int32Array::new(keys.into(), nulls);
        let dictionary = DictionaryArray::<Int32Type>::try_new(keys, Arc::clone(&self.values)).map_err(arrow_error)?;
        Ok(Arc::new(dictionary))
    }
}
