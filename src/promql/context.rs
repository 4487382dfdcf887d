//! [`QueryContext`]: what every plan node of one PromQL query shares: the
//! database, the settings, the query's text and range (which `start()`,
//! `end()` and `@ start()` refer to), the deadline, the count of samples
//! held, and the warnings and infos gathered so far.
//!
//! Nodes run on whatever thread polls them, so the counters are atomic and
//! the annotations sit behind a mutex; each annotation is recorded once, in
//! the order it was first raised.

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use promql_parser::parser::AtModifier;

use super::error::{PromError, Result};
use super::options::PromOptions;
use super::series::{Range, system_time_ms};
use crate::db::Db;

/// The shared state of one query; see the module docs.
pub(crate) struct QueryContext {
    pub db: Db,
    /// The query text, for positions in annotations.
    pub text: String,
    pub options: PromOptions,
    /// The query's own steps.
    pub query: Range,
    deadline: Instant,
    samples: AtomicUsize,
    notes: Mutex<Notes>,
}

/// Warnings and infos, each once.
#[derive(Default)]
struct Notes {
    warnings: Vec<String>,
    infos: Vec<String>,
}

impl fmt::Debug for QueryContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueryContext").field("text", &self.text).field("query", &self.query).finish_non_exhaustive()
    }
}

impl QueryContext {
    /// The context of `text` over `query`; the timeout starts now.
    pub fn new(db: &Db, text: &str, query: Range, options: &PromOptions) -> Self {
        QueryContext {
            db: db.clone(),
            text: text.to_owned(),
            options: options.clone(),
            query,
            deadline: Instant::now() + options.timeout,
            samples: AtomicUsize::new(0),
            notes: Mutex::new(Notes::default()),
        }
    }

    /// The fixed evaluation time an `@` modifier sets, if any.
    pub fn at_time(&self, at: Option<&AtModifier>) -> Option<i64> {
        at.map(|at| match at {
            AtModifier::Start => self.query.start,
            AtModifier::End => self.query.end,
            AtModifier::At(t) => system_time_ms(*t),
        })
    }

    /// Counts `n` more samples held; refuses past the limit.
    pub fn hold(&self, n: usize) -> Result<()> {
        let held = self.samples.fetch_add(n, Ordering::Relaxed).saturating_add(n);
        if held > self.options.max_samples {
            return Err(PromError::Limit(
                "query processing would load too many samples into memory in query execution".into(),
            ));
        }
        Ok(())
    }

    /// Refuses to go on past the deadline.
    pub fn check_deadline(&self) -> Result<()> {
        if Instant::now() > self.deadline { Err(PromError::Timeout("expression evaluation")) } else { Ok(()) }
    }

    /// Where `needle` first appears in the query, as Prometheus suffixes
    /// annotations: ` (line:column)`, both from 1; empty if it does not.
    pub fn position(&self, needle: &str) -> String {
        let Some(at) = self.text.find(needle) else { return String::new() };
        let before = &self.text[..at];
        let line = before.matches('\n').count() + 1;
        let column = at - before.rfind('\n').map_or(0, |i| i + 1) + 1;
        format!(" ({line}:{column})")
    }

    /// Records a warning once.
    pub fn warn(&self, message: String) {
        let mut notes = self.notes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !notes.warnings.contains(&message) {
            notes.warnings.push(message);
        }
    }

    /// Records an info once.
    pub fn info(&self, message: String) {
        let mut notes = self.notes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if !notes.infos.contains(&message) {
            notes.infos.push(message);
        }
    }

    /// The warnings and infos gathered so far.
    pub fn annotations(&self) -> (Vec<String>, Vec<String>) {
        let notes = self.notes.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        (notes.warnings.clone(), notes.infos.clone())
    }
}
