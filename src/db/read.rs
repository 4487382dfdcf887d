//! The read side of a [`super::Db`]: scan planning and the catalog listings.
//!
//! A scan is planned under the read lock: the matching series, the chunks of
//! every overlapping partition block (cloned directory entries) and the
//! points in memory in range (copied), so the scan then runs without any
//! lock. Points in memory are those of the head and of the partitions a
//! flush has frozen and not yet swapped into the file: a reader sees a
//! partition as frozen or as blocks, never both and never neither, and takes
//! frozen points as newer than blocks and older than the head.
//!
//! Deletes ([`super::delete`]) not yet compacted away: a part with a chunk
//! a delete covers is decoded when it is planned, the deleted points left
//! out, and handed to the scan as in-memory points older than the head's;
//! its chunks then never answer from their stats. Expired partitions are
//! left out by the callers, which start the scan's range where retention
//! says ([`super::retention`]); the series listings take an [`Expiry`].

use std::collections::{BTreeSet, HashSet, VecDeque};

use crate::error::Result;
use crate::storage::head::HeadPartition;
use crate::storage::merge::FieldSeries;
use crate::storage::scan::{self, RowFields, Scan, ScanOptions, ScanPart, ScanRequest, TagDictionary, TopBuckets};
use crate::storage::series_index::{FieldId, SeriesId};

use super::PartitionInfo;
use super::masks::Masks;
use super::retention::Expiry;
use super::state::State;

impl State {
    /// Partition `p` in memory, oldest first: frozen by a flush, then the head.
    fn in_memory(&self, p: i64) -> impl Iterator<Item = &HeadPartition> {
        self.frozen.get(&p).map(|f| &**f).into_iter().chain(self.head.partitions().get(&p))
    }

    /// Numbers of the partitions in memory within `range`, each once.
    fn memory_partitions(&self, range: std::ops::RangeInclusive<i64>) -> BTreeSet<i64> {
        let frozen = self.frozen.range(range.clone()).map(|(&p, _)| p);
        frozen.chain(self.head.partitions().range(range).map(|(&p, _)| p)).collect()
    }

    /// What each partition holds, by number.
    pub fn partition_infos(&self) -> Vec<PartitionInfo> {
        let ns = i128::from(self.partition_ns);
        let clamp = |t: i128| t.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64;
        let mut numbers: BTreeSet<i64> = self.blocks.keys().copied().collect();
        numbers.extend(self.memory_partitions(i64::MIN..=i64::MAX));
        numbers
            .into_iter()
            .map(|p| {
                let blocks = self.blocks.get(&p).map(Vec::as_slice).unwrap_or_default();
                let chunks = blocks.iter().flat_map(|b| &b.entries);
                let memory_points =
                    self.in_memory(p).flat_map(|hp| hp.series.values().flatten()).map(|c| c.times.len() as u64).sum();
                PartitionInfo {
                    start: clamp(i128::from(p) * ns),
                    end: clamp((i128::from(p) + 1) * ns - 1),
                    blocks: blocks.len(),
                    chunks: chunks.clone().count(),
                    file_points: chunks.map(|e| u64::from(e.count) * e.fields.len() as u64).sum(),
                    file_bytes: blocks.iter().map(|b| b.len).sum(),
                    memory_points,
                }
            })
            .collect()
    }

    /// Plans a scan.
    pub fn plan_scan(&self, req: &ScanRequest, options: &ScanOptions) -> Result<Scan> {
        let ns = self.partition_ns;
        let measurement = self.index.measurement(&req.measurement);
        let tags: Vec<String> = match &req.tags {
            Some(tags) => tags.clone(),
            None => measurement.map(|m| m.postings.keys().cloned().collect()).unwrap_or_default(),
        };
        let mut all_fields: Vec<&str> = measurement
            .map(|m| m.fields.iter().filter_map(|&f| self.index.field_name(f)).collect())
            .unwrap_or_default();
        all_fields.sort_unstable();
        let out_names: Vec<String> = match &req.fields {
            Some(asked) => asked.clone(),
            None => all_fields.iter().map(|f| f.to_string()).collect(),
        };
        let known = |name: &str| all_fields.contains(&name).then(|| self.index.find_field(name)).flatten();
        let mut fields = RowFields::default();
        let out_fields: Vec<Option<usize>> = out_names.iter().map(|n| known(n).map(|id| fields.slot(id))).collect();
        // A condition or range on a field the measurement lacks holds nowhere.
        let mut never = options.never;
        for clause in &req.present {
            let slots: Vec<usize> = clause.iter().filter_map(|n| known(n)).map(|id| fields.slot(id)).collect();
            never |= slots.is_empty();
            fields.present.push(slots);
        }
        for range in &req.field_ranges {
            match known(&range.field) {
                Some(id) => {
                    let slot = fields.slot(id);
                    fields.ranges.push((slot, range.clone()));
                }
                None => never = true,
            }
        }
        let mut series = self.index.select(&req.measurement, &req.matchers);
        let tags_of = |id: SeriesId| -> Vec<Option<String>> {
            let series = self.index.series(id);
            tags.iter().map(|t| series.and_then(|s| s.tag(t)).map(str::to_string)).collect()
        };
        // Sorted by tag values, a missing tag last (SQL's default `ASC NULLS
        // LAST`), so each partition's rows come sorted by (tags..., time).
        let mut keyed: Vec<(Vec<Option<String>>, SeriesId)> = series.iter().map(|&id| (tags_of(id), id)).collect();
        keyed.sort_by(|a, b| {
            let by_tag = a.0.iter().zip(&b.0).map(|(x, y)| match (x, y) {
                (Some(x), Some(y)) => x.cmp(y),
                (x, y) => x.is_none().cmp(&y.is_none()),
            });
            by_tag.fold(std::cmp::Ordering::Equal, std::cmp::Ordering::then).then(a.1.cmp(&b.1))
        });
        series = keyed.iter().map(|(_, id)| *id).collect();
        let series_tags: Vec<Vec<Option<String>>> = keyed.into_iter().map(|(t, _)| t).collect();
        let mut partitions = BTreeSet::new();
        // An inverted range selects nothing (and `BTreeMap::range` would panic on it).
        let reads = !never && req.start <= req.end;
        if reads {
            let (lo, hi) = (req.start.div_euclid(ns), req.end.div_euclid(ns));
            partitions.extend(self.blocks.range(lo..=hi).map(|(&p, _)| p));
            partitions.extend(self.memory_partitions(lo..=hi));
        }
        let mut parts = VecDeque::new();
        let deletes = Masks::deletes(self, Some(&req.measurement));
        for (slot, &id) in series.iter().enumerate().filter(|_| reads) {
            for &p in &partitions {
                let mut part = self.part(id, p, slot, &fields, (req.start, req.end), &deletes)?;
                prune(&mut part, &fields);
                if !part.chunks.is_empty() || !part.head.is_empty() {
                    parts.push_back(part);
                }
            }
        }
        let (mut start, mut end) = (req.start, req.end);
        if let Some(top) = &options.top_buckets {
            (start, end) = self.cut_to_buckets(top, &parts, &fields, start, end)?;
            parts.retain_mut(|p| p.restrict(start, end));
        }
        let tag_dictionaries = TagDictionary::for_series(&series_tags, tags.len())?;
        Ok(Scan {
            schema: scan::schema(&tags, &out_names),
            reader: self.reader.clone(),
            start,
            end,
            series_tags,
            fields,
            out_fields,
            parts,
            tag_dictionaries,
            remaining: req.limit,
            batch_rows: 1,
            latest: options.latest,
            sorted: options.sorted,
            ready: VecDeque::new(),
        })
    }

    /// `start..=end` cut to the buckets `top` reads ([`TopBuckets`]). Chunk
    /// bounds and head points show some buckets for free; then the
    /// timestamps of the partitions on the cut's side are read, one
    /// partition at a time, until the cut excludes every partition left.
    fn cut_to_buckets(
        &self,
        top: &TopBuckets,
        parts: &VecDeque<ScanPart>,
        fields: &RowFields,
        start: i64,
        end: i64,
    ) -> Result<(i64, i64)> {
        let mut known: Vec<i64> = parts.iter().flat_map(|p| p.known_times(fields, start, end)).collect();
        let (mut lo, mut hi) = top.cut(known.iter().copied(), start, end);
        let mut partitions: Vec<i64> = parts.iter().map(|p| p.partition).collect();
        partitions.sort_unstable();
        partitions.dedup();
        if top.newest {
            partitions.reverse();
        }
        let reader = self.reader.clone();
        let ns = i128::from(self.partition_ns);
        for p in partitions {
            let (p_start, p_end) = (i128::from(p) * ns, (i128::from(p) + 1) * ns - 1);
            let excluded = if top.newest { p_end < i128::from(lo) } else { p_start > i128::from(hi) };
            if excluded {
                break;
            }
            let chunks = parts.iter().filter(|x| x.partition == p).flat_map(|x| &x.chunks);
            for chunk in chunks.filter(|c| fields.all_rows(&c.fields)) {
                let times = scan::chunk_times(&reader, chunk)?;
                known.extend(times.into_iter().filter(|t| (lo..=hi).contains(t)));
            }
            (lo, hi) = top.cut(known.iter().copied(), start, end);
        }
        Ok((lo, hi))
    }

    /// The sources of series `id` in partition `p` that can add rows or
    /// values within `start..=end`: every overlapping chunk and head column
    /// (their times are rows), or with conditions, those holding a decoded
    /// field. Chunks a delete covers are decoded now (module docs).
    fn part(
        &self,
        id: SeriesId,
        p: i64,
        slot: usize,
        fields: &RowFields,
        (start, end): (i64, i64),
        deletes: &Masks,
    ) -> Result<ScanPart> {
        let overlaps = |min: i64, max: i64| min <= end && max >= start;
        let chunks: Vec<_> = self
            .blocks
            .get(&p)
            .into_iter()
            .flatten()
            .flat_map(|b| b.series_entries(id).iter().map(|e| (b.offset, e)))
            .filter(|(_, e)| overlaps(e.min_time, e.max_time) && fields.reads(&e.fields))
            .collect();
        let deleted: Vec<Vec<(i64, i64)>> =
            chunks.iter().map(|(block, e)| deletes.ranges(id, *block, e.min_time, e.max_time)).collect();
        // Frozen columns before head columns: sources go oldest first.
        let columns = self.in_memory(p).filter_map(|hp| hp.series.get(&id));
        let head = columns
            .flatten()
            .filter(|c| fields.reads(&[c.field]))
            .filter_map(|c| {
                let mut points = c.resolved();
                points.restrict(start, end);
                (!points.is_empty()).then_some((c.field, points))
            })
            .collect();
        if deleted.iter().all(Vec::is_empty) {
            let chunks = chunks.into_iter().map(|(_, e)| e.clone()).collect();
            return Ok(ScanPart { series: slot, partition: p, chunks, head });
        }
        let mut ids: Vec<FieldId> = chunks.iter().flat_map(|(_, e)| e.fields.iter().copied()).collect();
        ids.sort_unstable();
        ids.dedup();
        let masked = chunks.iter().zip(&deleted).map(|((_, e), d)| (*e, d.as_slice()));
        let sources = scan::read_masked_chunks(&self.reader, masked, &ids, start, end)?;
        let mut file: Vec<(FieldId, FieldSeries)> = ids
            .into_iter()
            .zip(sources.into_iter().map(FieldSeries::merge))
            .filter(|(f, points)| !points.is_empty() && fields.reads(&[*f]))
            .collect();
        file.extend(head);
        Ok(ScanPart { series: slot, partition: p, chunks: Vec::new(), head: file })
    }

    /// Series with at least one point in `start..=end`, expired partitions
    /// and deleted points left out. Exact: a chunk that reaches past the
    /// range, or lost points to a delete, is decoded.
    pub fn series_in_range(&self, start: i64, end: i64, expiry: &Expiry) -> Result<HashSet<SeriesId>> {
        let mut found = HashSet::new();
        if start > end {
            return Ok(found);
        }
        let ns = self.partition_ns;
        let (lo, hi) = (start.div_euclid(ns), end.div_euclid(ns));
        let expired =
            |id: SeriesId, p: i64| self.index.series(id).is_some_and(|s| expiry.expired(s.measurement(), p, ns));
        let memory = self.memory_partitions(lo..=hi).into_iter().flat_map(|p| self.in_memory(p).map(move |m| (p, m)));
        for (p, part) in memory {
            for (&id, columns) in &part.series {
                if !expired(id, p) && columns.iter().any(|c| c.times.iter().any(|&t| start <= t && t <= end)) {
                    found.insert(id);
                }
            }
        }
        let mut partial = Vec::new();
        let deletes = Masks::deletes(self, None);
        let overlapping = self
            .blocks
            .range(lo..=hi)
            .flat_map(|(&p, blocks)| blocks.iter().flat_map(move |b| b.entries.iter().map(move |e| (p, b.offset, e))))
            .filter(|(p, _, e)| e.min_time <= end && e.max_time >= start && !expired(e.series, *p));
        for (_, block, e) in overlapping {
            let deleted = deletes.ranges(e.series, block, e.min_time, e.max_time);
            if start <= e.min_time && e.max_time <= end && deleted.is_empty() {
                found.insert(e.series);
            } else {
                partial.push((e, deleted));
            }
        }
        let reader = self.reader.clone();
        for (e, deleted) in &partial {
            if found.contains(&e.series) {
                continue;
            }
            let first_field = &e.fields[..e.fields.len().min(1)];
            let points = scan::read_masked_chunks(&reader, [(*e, deleted.as_slice())], first_field, start, end)?;
            if points.iter().flatten().any(|p| !p.is_empty()) {
                found.insert(e.series);
            }
        }
        Ok(found)
    }

    /// Tag values of `key`, optionally within a measurement and of the
    /// series in `live` only.
    pub fn tag_values(
        &self,
        key: &str,
        measurement: Option<&str>,
        live: Option<&HashSet<SeriesId>>,
    ) -> Result<Vec<String>> {
        let mut values = BTreeSet::new();
        for (name, m) in self.index.measurements() {
            if measurement.is_some_and(|x| x != name) {
                continue;
            }
            for (value, ids) in m.postings.get(key).into_iter().flatten() {
                if live.is_none_or(|live| ids.iter().any(|id| live.contains(id))) {
                    values.insert(value.clone());
                }
            }
        }
        Ok(values.into_iter().collect())
    }
}

/// Drops the chunks of `part` whose rows all fail a field range, when no
/// other source of the part overlapping them in time holds a ranged field:
/// then each row at their times fails the range (its value there is out of
/// range by the stats, or absent), so the filter above would drop it anyway.
/// A chunk overlapped by a source of a ranged field stays: dropping it could
/// let an older value it overwrote show through, or leave a row that passes
/// without the chunk's other values.
fn prune(part: &mut ScanPart, fields: &RowFields) {
    let ranges = &fields.ranges;
    if ranges.is_empty() {
        return;
    }
    let ruled_out = |c: &crate::storage::file::partition_block::ChunkEntry| {
        ranges.iter().any(|(slot, r)| {
            let column = fields.values.get(*slot).and_then(|f| c.fields.iter().position(|x| x == f));
            column.is_none_or(|k| c.stats.get(k).is_some_and(|s| !r.admits(s.min, s.max, s.sum.is_nan())))
        })
    };
    let ranged: Vec<_> = ranges.iter().filter_map(|(slot, _)| fields.values.get(*slot)).collect();
    let mut apart = part.chunks_apart(|_, other| other.iter().any(|f| ranged.contains(&f))).into_iter();
    part.chunks.retain(|c| !(apart.next().unwrap_or(false) && ruled_out(c)));
}
