//! The rollup progress file, `PATH.rollup`: how far each rule has rolled,
//! which windows late data made dirty, and up to where partitions are
//! closed. Saved before the WAL checkpoint that would drop the raw points it
//! speaks of, so a crash never loses a window that still needs computing.
//!
//! ```text
//! file    := frame (crate::framed_file) with magic "CHRNROLL", version 1
//! payload := varint zz(closed_to) | varint n | n x rule
//! rule    := str source | str target | varint window_ns | varint zz(rolled_to)
//!            | varint d | d x varint zz(dirty window start)        (ascending)
//! str     := varint length | UTF-8
//! ```
//!
//! Replaced whole (temp + fsync + rename, [`crate::fs::replace_durably`]).
//! A missing file is a fresh start (every rule rolls from the first data);
//! a damaged one is an error naming the file and offset. A rule whose
//! (source, target, window) is not in the file starts fresh too, and an
//! entry for a rule no longer configured is dropped at the next save.

use std::collections::BTreeSet;
use std::path::Path;

use super::rule::RollupRule;
use crate::encoding::varint::{ByteReader, put_str, put_varint, zigzag};
use crate::error::Result;
use crate::framed_file::{FramedFile, PAYLOAD_AT};
use crate::fs::Fs;

const FILE: FramedFile = FramedFile { magic: b"CHRNROLL", version: 1, name: "rollup progress file" };

/// How far one rule has rolled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RuleProgress {
    /// Every window that ends at or before this time was computed from the
    /// raw data (`i64::MIN`: nothing yet).
    pub rolled_to: i64,
    /// Windows before `rolled_to` that late points changed since they were
    /// computed, by start.
    pub dirty: BTreeSet<i64>,
}

impl Default for RuleProgress {
    fn default() -> Self {
        Self { rolled_to: i64::MIN, dirty: BTreeSet::new() }
    }
}

/// The progress of every configured rule, in the order of the rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Progress {
    /// Partitions that end at or before this time are closed: the next
    /// rollup rolls every rule up to here (`i64::MIN`: none yet).
    pub closed_to: i64,
    pub rules: Vec<RuleProgress>,
}

/// One rule as the file names it.
type RuleId = (String, String, i64);
/// The rules a file lists, with their progress.
type StoredRules = Vec<(RuleId, RuleProgress)>;

fn id(rule: &RollupRule) -> RuleId {
    (rule.source().to_string(), rule.target().to_string(), rule.window_ns())
}

impl Progress {
    /// Nothing rolled, for `rules`.
    pub fn fresh(rules: &[RollupRule]) -> Self {
        Self { closed_to: i64::MIN, rules: vec![RuleProgress::default(); rules.len()] }
    }

    /// The progress at `path` for `rules`: fresh if there is no file.
    pub fn load(fs: &dyn Fs, path: &Path, rules: &[RollupRule]) -> Result<Self> {
        let Some((closed_to, stored)) = FILE.load(fs, path, decode)? else { return Ok(Self::fresh(rules)) };
        let rules = rules
            .iter()
            .map(|r| stored.iter().find(|(i, _)| *i == id(r)).map(|(_, p)| p.clone()).unwrap_or_default())
            .collect();
        Ok(Self { closed_to, rules })
    }

    /// Replaces the file at `path` with this progress of `rules`.
    pub fn save(&self, fs: &dyn Fs, path: &Path, rules: &[RollupRule]) -> Result<()> {
        FILE.save(fs, path, &self.payload(rules))
    }

    fn payload(&self, rules: &[RollupRule]) -> Vec<u8> {
        let mut payload = Vec::new();
        put_varint(&mut payload, zigzag(self.closed_to));
        put_varint(&mut payload, rules.len() as u64);
        for (rule, p) in rules.iter().zip(&self.rules) {
            put_str(&mut payload, rule.source());
            put_str(&mut payload, rule.target());
            put_varint(&mut payload, rule.window_ns() as u64);
            put_varint(&mut payload, zigzag(p.rolled_to));
            put_varint(&mut payload, p.dirty.len() as u64);
            for &w in &p.dirty {
                put_varint(&mut payload, zigzag(w));
            }
        }
        payload
    }
}

/// Decodes a progress file; an error is (offset, what is wrong).
fn decode(bytes: &[u8]) -> Result<(i64, StoredRules), (usize, String)> {
    let payload = FILE.payload(bytes)?;
    let corrupt = |e: crate::encoding::Error| (PAYLOAD_AT, e.to_string());
    let mut r = ByteReader::new(payload, PAYLOAD_AT);
    let closed_to = r.varint_i64("closed partitions").map_err(corrupt)?;
    let n = r.varint_len(payload.len(), "rule count").map_err(corrupt)?;
    let mut rules = Vec::with_capacity(n);
    for _ in 0..n {
        let source = r.string("source").map_err(corrupt)?;
        let target = r.string("target").map_err(corrupt)?;
        let window = r.varint("window").map_err(corrupt)?;
        let window = i64::try_from(window).map_err(|_| (r.offset(), format!("a window of {window} ns")))?;
        let rolled_to = r.varint_i64("rolled up to").map_err(corrupt)?;
        let d = r.varint_len(payload.len(), "dirty window count").map_err(corrupt)?;
        let dirty = (0..d).map(|_| r.varint_i64("dirty window")).collect::<Result<_, _>>().map_err(corrupt)?;
        rules.push(((source, target, window), RuleProgress { rolled_to, dirty }));
    }
    if !r.remaining().is_empty() {
        return Err((r.offset(), "trailing bytes after the last rule".into()));
    }
    Ok((closed_to, rules))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly on an unexpected error")]

    use std::time::Duration;

    use super::*;
    use crate::error::Error;
    use crate::fs::OsFs;

    fn temp_file(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("chronicle-rollup-progress-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("db.rollup")
    }

    #[test]
    fn progress_round_trips_and_follows_the_rules() {
        let fs = OsFs;
        let path = &temp_file("round-trip");
        let five = RollupRule::new("cpu", Duration::from_secs(300), "cpu_5m");
        let hour = RollupRule::new("cpu", Duration::from_secs(3600), "cpu_1h");
        assert_eq!(
            Progress::load(&fs, path, std::slice::from_ref(&five)).unwrap(),
            Progress::fresh(std::slice::from_ref(&five))
        );
        let saved = Progress {
            closed_to: 7_200,
            rules: vec![
                RuleProgress { rolled_to: 3_600, dirty: [-300, 0, 600].into() },
                RuleProgress { rolled_to: i64::MIN, dirty: BTreeSet::new() },
            ],
        };
        saved.save(&fs, path, &[five.clone(), hour.clone()]).unwrap();
        assert_eq!(Progress::load(&fs, path, &[five.clone(), hour.clone()]).unwrap(), saved);
        // Another order, a rule gone, a changed window: matched by identity.
        let ten = RollupRule::new("cpu", Duration::from_secs(600), "cpu_5m");
        let loaded = Progress::load(&fs, path, &[hour, ten, five]).unwrap();
        assert_eq!(loaded.rules, vec![saved.rules[1].clone(), RuleProgress::default(), saved.rules[0].clone()]);
    }

    #[test]
    fn a_damaged_file_is_an_error_naming_where() {
        let fs = OsFs;
        let path = &temp_file("damaged");
        let rule = RollupRule::new("cpu", Duration::from_secs(300), "cpu_5m");
        Progress::fresh(std::slice::from_ref(&rule)).save(&fs, path, std::slice::from_ref(&rule)).unwrap();
        let mut bytes = fs.read(path).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        crate::fs::replace_durably(&fs, path, &bytes).unwrap();
        match Progress::load(&fs, path, &[rule]) {
            Err(Error::Corrupt { offset: 14, detail, .. }) => assert!(detail.contains("checksum"), "{detail}"),
            other => panic!("{other:?}"),
        }
    }
}
