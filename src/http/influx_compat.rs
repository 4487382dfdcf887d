//! InfluxDB 1.x queries on `/query`: what the `influx` CLI and Grafana's
//! InfluxDB (InfluxQL) data source send, answered in InfluxDB's JSON.
//!
//! `GET|POST /query?db=...&q=...` (or `q` in a form body), several
//! statements separated by `;`, `epoch=ns|u|µ|ms|s|m|h` for integer times
//! (RFC 3339 without it). The answer is
//! `{"results":[{"statement_id":0,"series":[{"name","tags","columns","values"}]}]}`;
//! a statement that fails has `"error"` instead of `"series"` and the
//! statements after it are not run (`"error":"not executed"`), as in
//! InfluxDB. A statement that does not parse fails the whole request with
//! 400 and `{"error":"error parsing query: ... at line L, char C"}`.
//!
//! - `SELECT` (and `EXPLAIN`) run through the Chronicle dialect (see
//!   `query::dialect` for how it differs from InfluxQL); a series per
//!   group of `GROUP BY` tags, named after the measurement.
//! - `SHOW DATABASES`, `SHOW MEASUREMENTS [WITH MEASUREMENT = m | =~ /re/]
//!   [LIMIT n] [OFFSET n]`, `SHOW TAG KEYS [FROM m]`, `SHOW TAG VALUES
//!   [FROM m] WITH KEY = k | IN (k, ...)`, `SHOW FIELD KEYS [FROM m]`
//!   (every field is `float`), `SHOW SERIES [FROM m]` are answered from the
//!   index; each takes `ON db`, which, like the `db` parameter, is accepted
//!   and ignored: the server has one database, listed as `chronicle`, and
//!   every database name reaches it. `SHOW RETENTION POLICIES` answers the
//!   one policy, `autogen`, infinite, with the partition duration as its
//!   shard group duration. `CREATE DATABASE` succeeds and does nothing.
//!   Other statements fail with a message saying so.
//! - `chunked=true` is accepted and answered unchunked: one JSON object,
//!   which InfluxDB's chunked readers take as the only chunk.

use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, TimeUnit, TimestampNanosecondType};
use datafusion::arrow::util::display::FormatOptions;
use regex::Regex;

use super::error::{ApiError, Kind};
use super::format::json::{Cell, write_string};
use super::format::{TIMESTAMP_FORMAT, rfc3339_ns};
use super::query::{Lang, Params, Running};
use super::state::AppState;
use crate::Db;
use crate::error::Error;
use crate::query::dialect::{self, Select};

/// The name `SHOW DATABASES` gives the one database.
const DATABASE: &str = "chronicle";

/// Answers an InfluxDB 1.x query request.
pub(crate) async fn answer(state: &AppState, params: &Params) -> Result<Response, ApiError> {
    let Some(q) = params.get("q") else {
        return Err(ApiError::bad_data("missing required parameter \"q\""));
    };
    let epoch = Epoch::parse(params.get("epoch"))?;
    let statements = split(q)
        .into_iter()
        .map(|(at, text)| Statement::parse(text).map_err(|e| e.locate(q, at)))
        .collect::<Result<Vec<_>, _>>()?;
    if statements.is_empty() {
        return Err(ApiError::bad_data("error parsing query: the query has no statement"));
    }
    let mut out = String::from("{\"results\":[");
    let mut failed = false;
    for (id, statement) in statements.iter().enumerate() {
        if id > 0 {
            out.push(',');
        }
        let result = if failed {
            Err("not executed".to_owned())
        } else {
            execute(state, statement, epoch).await.map_err(|e| e.message().to_owned())
        };
        let _ = write!(out, "{{\"statement_id\":{id}");
        match result {
            Ok(series) if series.is_empty() => {}
            Ok(series) => {
                out.push_str(",\"series\":[");
                for (i, s) in series.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    s.write(&mut out);
                }
                out.push(']');
            }
            Err(message) => {
                failed = true;
                out.push_str(",\"error\":");
                write_string(&mut out, &message);
            }
        }
        out.push('}');
    }
    out.push_str("]}");
    Ok(([(header::CONTENT_TYPE, "application/json")], out).into_response())
}

/// How times are written: RFC 3339, or integers in a unit.
#[derive(Debug, Clone, Copy)]
enum Epoch {
    Rfc3339,
    /// Nanoseconds per unit.
    Unit(i64),
}

impl Epoch {
    fn parse(name: Option<&str>) -> Result<Epoch, ApiError> {
        Ok(match name {
            None | Some("") => Epoch::Rfc3339,
            Some("ns" | "n") => Epoch::Unit(1),
            Some("u" | "µ" | "us") => Epoch::Unit(1_000),
            Some("ms") => Epoch::Unit(1_000_000),
            Some("s") => Epoch::Unit(1_000_000_000),
            Some("m") => Epoch::Unit(60_000_000_000),
            Some("h") => Epoch::Unit(3_600_000_000_000),
            Some(other) => {
                return Err(ApiError::bad_data(format!("unknown epoch {other:?}: use ns, u, µ, ms, s, m or h")));
            }
        })
    }

    fn write(self, out: &mut String, ns: i64) {
        match self {
            // Integer division truncates toward zero, as InfluxDB's does.
            Epoch::Unit(unit) => {
                let _ = write!(out, "{}", ns / unit);
            }
            Epoch::Rfc3339 => write_string(out, &rfc3339_ns(ns)),
        }
    }
}

/// The statements of `q` with their byte offsets: split at `;` outside
/// quotes, blank ones dropped (a trailing `;` is fine).
fn split(q: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut quote = None;
    let mut escaped = false;
    let mut push = |from: usize, to: usize| {
        let piece = &q[from..to];
        let trimmed = piece.trim_start();
        if !trimmed.trim().is_empty() {
            out.push((from + piece.len() - trimmed.len(), trimmed.trim_end()));
        }
    };
    for (i, c) in q.char_indices() {
        match (quote, c) {
            (Some(_), _) if escaped => escaped = false,
            (Some(_), '\\') => escaped = true,
            (Some(open), c) if c == open => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, ';') => {
                push(start, i);
                start = i + 1;
            }
            (None, _) => {}
        }
    }
    push(start, q.len());
    out
}

/// A statement that does not parse: what was found and expected, at a byte
/// offset of the statement.
#[derive(Debug)]
struct ParseError {
    at: usize,
    message: String,
}

impl ParseError {
    /// The 400 for this error in a statement starting at byte `start` of `q`.
    fn locate(self, q: &str, start: usize) -> ApiError {
        let offset = (start + self.at).min(q.len());
        let before = q.get(..offset).unwrap_or(q);
        let line = before.matches('\n').count() + 1;
        let char = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        ApiError::bad_data(format!("error parsing query: {} at line {line}, char {char}", self.message))
    }
}

/// A parsed statement.
#[derive(Debug)]
enum Statement {
    /// A query of the dialect, with its text.
    Select(String, Box<Select>),
    ShowDatabases,
    ShowMeasurements {
        filter: Option<NameFilter>,
        limit: Option<usize>,
        offset: usize,
    },
    ShowTagKeys {
        from: Option<String>,
    },
    ShowTagValues {
        from: Option<String>,
        keys: Vec<String>,
    },
    ShowFieldKeys {
        from: Option<String>,
    },
    ShowSeries {
        from: Option<String>,
    },
    ShowRetentionPolicies,
    CreateDatabase,
    /// A statement Chronicle does not run, named by its first words.
    Unsupported(String),
}

/// `WITH MEASUREMENT = m` or `=~ /re/`.
#[derive(Debug, Clone)]
enum NameFilter {
    Equal(String),
    Matches(Regex),
}

impl NameFilter {
    fn accepts(&self, name: &str) -> bool {
        match self {
            NameFilter::Equal(n) => n == name,
            NameFilter::Matches(re) => re.is_match(name),
        }
    }
}

impl Statement {
    fn parse(text: &str) -> Result<Statement, ParseError> {
        let mut p = Parser::new(text);
        let first = p.peek_word().unwrap_or_default();
        match first.as_str() {
            "select" | "explain" => match dialect::parse(text) {
                Ok(select) => Ok(Statement::Select(text.to_owned(), Box::new(select))),
                Err(Error::Dialect { line, column, message }) => {
                    let at = text.split_inclusive('\n').take(line.saturating_sub(1)).map(str::len).sum::<usize>()
                        + text
                            .split('\n')
                            .nth(line.saturating_sub(1))
                            .map_or(0, |l| l.char_indices().nth(column.saturating_sub(1)).map_or(l.len(), |(i, _)| i));
                    Err(ParseError { at, message })
                }
                Err(other) => Err(ParseError { at: 0, message: other.to_string() }),
            },
            "show" => p.show(),
            "create" => {
                p.next();
                if p.peek_word().as_deref() == Some("database") {
                    Ok(Statement::CreateDatabase)
                } else {
                    Ok(Statement::Unsupported(text.split_whitespace().take(2).collect::<Vec<_>>().join(" ")))
                }
            }
            "" => Err(p.expected("SELECT or SHOW")),
            _ => Ok(Statement::Unsupported(text.split_whitespace().take(2).collect::<Vec<_>>().join(" "))),
        }
    }
}

/// A token of a `SHOW` statement.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// An unquoted word, as written.
    Word(String),
    /// A `"double-quoted"` identifier.
    Quoted(String),
    /// A `'single-quoted'` string.
    Str(String),
    /// A `/regex/`.
    Regex(String),
    /// `=`, `=~`, `(`, `)`, `,` and any other symbol.
    Symbol(String),
    End,
}

impl std::fmt::Display for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Token::Word(w) | Token::Symbol(w) => write!(f, "{w}"),
            Token::Quoted(w) => write!(f, "\"{w}\""),
            Token::Str(s) => write!(f, "'{s}'"),
            Token::Regex(r) => write!(f, "/{r}/"),
            Token::End => write!(f, "EOF"),
        }
    }
}

/// A recursive-descent parser of the `SHOW` statements.
struct Parser<'a> {
    text: &'a str,
    pos: usize,
    /// Where the last token taken started.
    last: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Self { text, pos: 0, last: 0 }
    }

    /// The next token and where it starts.
    fn lex(&self) -> (usize, usize, Token) {
        let rest = &self.text[self.pos..];
        let start = self.pos + (rest.len() - rest.trim_start().len());
        let rest = &self.text[start..];
        let Some(c) = rest.chars().next() else { return (start, start, Token::End) };
        let delimited = |close: char| {
            let mut value = String::new();
            let mut chars = rest.char_indices().skip(1);
            while let Some((i, c)) = chars.next() {
                if c == '\\' {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(escaped);
                    }
                } else if c == close {
                    return Some((value, start + i + c.len_utf8()));
                } else {
                    value.push(c);
                }
            }
            None
        };
        let word_end = |pred: fn(char) -> bool| start + rest.find(|c: char| !pred(c)).unwrap_or(rest.len());
        match c {
            '"' | '\'' | '/' => match delimited(c) {
                Some((value, end)) => (
                    start,
                    end,
                    match c {
                        '"' => Token::Quoted(value),
                        '\'' => Token::Str(value),
                        _ => Token::Regex(value),
                    },
                ),
                None => (start, self.text.len(), Token::Symbol(c.to_string())),
            },
            c if c.is_alphanumeric() || c == '_' => {
                let end = word_end(|c| c.is_alphanumeric() || c == '_' || c == '.' || c == '-');
                (start, end, Token::Word(self.text[start..end].to_owned()))
            }
            '=' if rest.starts_with("=~") => (start, start + 2, Token::Symbol("=~".into())),
            '!' if rest.starts_with("!~") || rest.starts_with("!=") => {
                (start, start + 2, Token::Symbol(rest[..2].to_owned()))
            }
            c => (start, start + c.len_utf8(), Token::Symbol(c.to_string())),
        }
    }

    fn next(&mut self) -> Token {
        let (start, end, token) = self.lex();
        self.last = start;
        self.pos = end;
        token
    }

    /// The next token if it is a word, lowercased, without taking it.
    fn peek_word(&self) -> Option<String> {
        match self.lex().2 {
            Token::Word(w) => Some(w.to_ascii_lowercase()),
            _ => None,
        }
    }

    /// "found X, expected `what`" at the next token.
    fn expected(&self, what: &str) -> ParseError {
        let (at, _, found) = self.lex();
        ParseError { at, message: format!("found {found}, expected {what}") }
    }

    /// Takes keyword `kw` (lowercase) or fails.
    fn keyword(&mut self, kw: &str) -> Result<(), ParseError> {
        if self.peek_word().as_deref() == Some(kw) {
            self.next();
            Ok(())
        } else {
            Err(self.expected(&kw.to_ascii_uppercase()))
        }
    }

    /// Takes keyword `kw` if it comes next.
    fn optional(&mut self, kw: &str) -> bool {
        let found = self.peek_word().as_deref() == Some(kw);
        if found {
            self.next();
        }
        found
    }

    /// An identifier: a word or a quoted name.
    fn identifier(&mut self) -> Result<String, ParseError> {
        match self.lex().2 {
            Token::Word(w) | Token::Quoted(w) => {
                self.next();
                Ok(w)
            }
            _ => Err(self.expected("identifier")),
        }
    }

    fn symbol(&mut self, symbol: &str) -> Result<(), ParseError> {
        if self.lex().2 == Token::Symbol(symbol.into()) {
            self.next();
            Ok(())
        } else {
            Err(self.expected(symbol))
        }
    }

    fn number(&mut self) -> Result<usize, ParseError> {
        if let Token::Word(w) = self.lex().2
            && let Ok(n) = w.parse()
        {
            self.next();
            return Ok(n);
        }
        Err(self.expected("integer"))
    }

    /// `[ON db]`, ignored: there is one database.
    fn on(&mut self) -> Result<(), ParseError> {
        if self.optional("on") {
            self.identifier()?;
        }
        Ok(())
    }

    /// `[FROM m]`.
    fn from(&mut self) -> Result<Option<String>, ParseError> {
        if !self.optional("from") {
            return Ok(None);
        }
        if let Token::Regex(_) = self.lex().2 {
            return Err(self.unsupported("a regular expression in FROM"));
        }
        self.identifier().map(Some)
    }

    fn unsupported(&self, what: &str) -> ParseError {
        let (at, _, _) = self.lex();
        ParseError { at, message: format!("{what} is not supported by Chronicle") }
    }

    /// The end of the statement.
    fn end(&self) -> Result<(), ParseError> {
        match self.lex().2 {
            Token::End => Ok(()),
            Token::Word(w) if w.eq_ignore_ascii_case("where") => Err(self.unsupported("WHERE in SHOW statements")),
            _ => Err(self.expected("EOF")),
        }
    }

    fn show(&mut self) -> Result<Statement, ParseError> {
        self.keyword("show")?;
        let Some(what) = self.peek_word() else {
            return Err(self.expected("DATABASES, MEASUREMENTS, TAG, FIELD, SERIES or RETENTION"));
        };
        self.next();
        let statement = match what.as_str() {
            "databases" => Statement::ShowDatabases,
            "measurements" => {
                self.on()?;
                let mut filter = None;
                if self.optional("with") {
                    self.keyword("measurement")?;
                    filter = Some(match self.next() {
                        Token::Symbol(s) if s == "=" => NameFilter::Equal(self.identifier()?),
                        Token::Symbol(s) if s == "=~" => match self.next() {
                            Token::Regex(re) => NameFilter::Matches(Regex::new(&re).map_err(|e| ParseError {
                                at: self.last,
                                message: format!("invalid regular expression: {e}"),
                            })?),
                            _ => return Err(ParseError { at: self.last, message: "expected a /regex/".into() }),
                        },
                        _ => return Err(ParseError { at: self.last, message: "expected = or =~".into() }),
                    });
                }
                let limit = if self.optional("limit") { Some(self.number()?) } else { None };
                let offset = if self.optional("offset") { self.number()? } else { 0 };
                Statement::ShowMeasurements { filter, limit, offset }
            }
            "tag" => {
                if self.optional("keys") {
                    self.on()?;
                    Statement::ShowTagKeys { from: self.from()? }
                } else {
                    self.keyword("values")?;
                    self.on()?;
                    let from = self.from()?;
                    self.keyword("with")?;
                    self.keyword("key")?;
                    let keys = match self.next() {
                        Token::Symbol(s) if s == "=" => vec![self.identifier()?],
                        Token::Word(w) if w.eq_ignore_ascii_case("in") => {
                            self.symbol("(")?;
                            let mut keys = vec![self.identifier()?];
                            while self.lex().2 == Token::Symbol(",".into()) {
                                self.next();
                                keys.push(self.identifier()?);
                            }
                            self.symbol(")")?;
                            keys
                        }
                        Token::Symbol(s) if s == "=~" || s == "!=" || s == "!~" => {
                            return Err(ParseError {
                                at: self.last,
                                message: format!("WITH KEY {s} is not supported by Chronicle; use = or IN"),
                            });
                        }
                        _ => return Err(ParseError { at: self.last, message: "expected = or IN".into() }),
                    };
                    Statement::ShowTagValues { from, keys }
                }
            }
            "field" => {
                self.keyword("keys")?;
                self.on()?;
                Statement::ShowFieldKeys { from: self.from()? }
            }
            "series" => {
                self.on()?;
                Statement::ShowSeries { from: self.from()? }
            }
            "retention" => {
                self.keyword("policies")?;
                self.on()?;
                Statement::ShowRetentionPolicies
            }
            _ => {
                return Err(ParseError {
                    at: self.last,
                    message: format!("found {what}, expected DATABASES, MEASUREMENTS, TAG, FIELD, SERIES or RETENTION"),
                });
            }
        };
        self.end()?;
        Ok(statement)
    }
}

/// One series of a result, its cells already JSON.
#[derive(Debug, Default)]
struct Series {
    name: Option<String>,
    /// Written only when the query groups by tags.
    tags: Option<Vec<(String, String)>>,
    columns: Vec<String>,
    values: Vec<Vec<String>>,
}

impl Series {
    fn new(name: Option<&str>, columns: &[&str]) -> Self {
        Self {
            name: name.map(str::to_owned),
            tags: None,
            columns: columns.iter().map(|c| (*c).to_owned()).collect(),
            values: Vec::new(),
        }
    }

    /// Adds a row of strings.
    fn push_strings<'s>(&mut self, row: impl IntoIterator<Item = &'s str>) {
        self.values.push(
            row.into_iter()
                .map(|s| {
                    let mut cell = String::new();
                    write_string(&mut cell, s);
                    cell
                })
                .collect(),
        );
    }

    fn write(&self, out: &mut String) {
        out.push('{');
        if let Some(name) = &self.name {
            out.push_str("\"name\":");
            write_string(out, name);
            out.push(',');
        }
        if let Some(tags) = &self.tags {
            out.push_str("\"tags\":{");
            for (i, (k, v)) in tags.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(out, k);
                out.push(':');
                write_string(out, v);
            }
            out.push_str("},");
        }
        out.push_str("\"columns\":[");
        for (i, c) in self.columns.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_string(out, c);
        }
        out.push_str("],\"values\":[");
        for (i, row) in self.values.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('[');
            out.push_str(&row.join(","));
            out.push(']');
        }
        out.push_str("]}");
    }
}

/// Runs one statement.
async fn execute(state: &AppState, statement: &Statement, epoch: Epoch) -> Result<Vec<Series>, ApiError> {
    match statement {
        Statement::Select(text, select) => {
            let batches = Running::start(state, Lang::Chronicle, text.clone()).await?.collect().await?;
            let db = Arc::clone(&state.db);
            let all_tags = select.group_by.all_tags;
            let from = select.from.clone();
            let mut groups: Vec<String> =
                if all_tags { blocking(move || db.tag_keys(Some(&from))).await? } else { select.group_by.tags.clone() };
            groups.sort_unstable();
            groups.dedup();
            series_of(&select.from, &groups, &batches, epoch)
        }
        Statement::Unsupported(what) => Err(ApiError::bad_data(format!(
            "{what} is not supported by Chronicle: it runs SELECT, SHOW and CREATE DATABASE"
        ))),
        _ => {
            let db = Arc::clone(&state.db);
            // The statement is small and owned data is simpler than lifetimes.
            let show = Show::from(statement);
            blocking(move || show.answer(&db)).await
        }
    }
}

/// Runs `f` on the blocking pool: the index sits behind the storage lock.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T, Error> + Send + 'static) -> Result<T, ApiError> {
    match tokio::task::spawn_blocking(f).await {
        Ok(result) => result.map_err(ApiError::from),
        Err(e) => Err(ApiError::new(Kind::Internal, format!("a metadata query failed: {e}"))),
    }
}

/// Rows of text cells.
type Rows = Vec<Vec<String>>;

/// The `SHOW` statements, owned, to answer on the blocking pool.
enum Show {
    Databases,
    Measurements { filter: Option<NameFilter>, limit: Option<usize>, offset: usize },
    TagKeys(Option<String>),
    TagValues(Option<String>, Vec<String>),
    FieldKeys(Option<String>),
    Series(Option<String>),
    RetentionPolicies,
    Nothing,
}

impl From<&Statement> for Show {
    fn from(statement: &Statement) -> Self {
        match statement {
            Statement::ShowDatabases => Show::Databases,
            Statement::ShowMeasurements { filter, limit, offset } => {
                Show::Measurements { filter: filter.clone(), limit: *limit, offset: *offset }
            }
            Statement::ShowTagKeys { from } => Show::TagKeys(from.clone()),
            Statement::ShowTagValues { from, keys } => Show::TagValues(from.clone(), keys.clone()),
            Statement::ShowFieldKeys { from } => Show::FieldKeys(from.clone()),
            Statement::ShowSeries { from } => Show::Series(from.clone()),
            Statement::ShowRetentionPolicies => Show::RetentionPolicies,
            Statement::CreateDatabase | Statement::Select(..) | Statement::Unsupported(_) => Show::Nothing,
        }
    }
}

impl Show {
    fn answer(self, db: &Db) -> Result<Vec<Series>, Error> {
        // The measurements a `FROM` names (one, if it exists), or all.
        let measurements = |from: &Option<String>| -> Result<Vec<String>, Error> {
            Ok(db.measurements()?.into_iter().filter(|m| from.as_ref().is_none_or(|f| f == m)).collect())
        };
        let per_measurement = |from: &Option<String>,
                               columns: &[&str],
                               rows: &dyn Fn(&str) -> Result<Rows, Error>|
         -> Result<Vec<Series>, Error> {
            let mut out = Vec::new();
            for m in measurements(from)? {
                let mut series = Series::new(Some(&m), columns);
                for row in rows(&m)? {
                    series.push_strings(row.iter().map(String::as_str));
                }
                if !series.values.is_empty() {
                    out.push(series);
                }
            }
            Ok(out)
        };
        let non_empty = |series: Series| if series.values.is_empty() { Vec::new() } else { vec![series] };
        Ok(match self {
            Show::Nothing => Vec::new(),
            Show::Databases => {
                let mut series = Series::new(Some("databases"), &["name"]);
                series.push_strings([DATABASE]);
                vec![series]
            }
            Show::Measurements { filter, limit, offset } => {
                let mut series = Series::new(Some("measurements"), &["name"]);
                let names = db.measurements()?.into_iter().filter(|m| filter.as_ref().is_none_or(|f| f.accepts(m)));
                for name in names.skip(offset).take(limit.unwrap_or(usize::MAX)) {
                    series.push_strings([name.as_str()]);
                }
                non_empty(series)
            }
            Show::TagKeys(from) => per_measurement(&from, &["tagKey"], &|m| {
                Ok(db.tag_keys(Some(m))?.into_iter().map(|k| vec![k]).collect())
            })?,
            Show::TagValues(from, mut keys) => {
                keys.sort_unstable();
                keys.dedup();
                per_measurement(&from, &["key", "value"], &|m| {
                    let present = db.tag_keys(Some(m))?;
                    let mut rows = Vec::new();
                    for key in keys.iter().filter(|k| present.contains(k)) {
                        for value in db.tag_values(key, Some(m), None)? {
                            rows.push(vec![key.clone(), value]);
                        }
                    }
                    Ok(rows)
                })?
            }
            Show::FieldKeys(from) => per_measurement(&from, &["fieldKey", "fieldType"], &|m| {
                Ok(db.fields(m)?.into_iter().map(|f| vec![f, "float".to_owned()]).collect())
            })?,
            Show::Series(from) => {
                let mut keys: Vec<String> = db
                    .series()?
                    .into_iter()
                    .filter(|(_, key)| from.as_ref().is_none_or(|f| f == &key.measurement))
                    .map(|(_, key)| series_key(&key.measurement, &key.tags))
                    .collect();
                keys.sort_unstable();
                let mut series = Series::new(None, &["key"]);
                for key in &keys {
                    series.push_strings([key.as_str()]);
                }
                non_empty(series)
            }
            Show::RetentionPolicies => {
                let shard = go_duration(Duration::from_nanos(db.partition_duration_ns()?.max(0) as u64));
                let mut series = Series::new(None, &["name", "duration", "shardGroupDuration", "replicaN", "default"]);
                series.push_strings(["autogen", "0s", shard.as_str()]);
                if let Some(row) = series.values.last_mut() {
                    row.extend(["1".to_owned(), "true".to_owned()]);
                }
                vec![series]
            }
        })
    }
}

/// A series key as InfluxDB writes it: `cpu,host=a,region=us` with line
/// protocol's escapes.
fn series_key(measurement: &str, tags: &[(String, String)]) -> String {
    let escape = |s: &str, also_equals: bool| {
        let mut out = String::with_capacity(s.len());
        for c in s.chars() {
            if c == ',' || c == ' ' || (also_equals && c == '=') {
                out.push('\\');
            }
            out.push(c);
        }
        out
    };
    let mut key = escape(measurement, false);
    for (k, v) in tags {
        let _ = write!(key, ",{}={}", escape(k, true), escape(v, true));
    }
    key
}

/// A duration as Go prints it: `1h0m0s`, `1m30s`, `1.5s`, `500ms`.
fn go_duration(d: Duration) -> String {
    let seconds = d.as_secs();
    if seconds < 60 {
        // Rust's Debug of a short Duration is Go's notation.
        return format!("{d:?}");
    }
    let fraction = format!("{:?}", Duration::new(0, d.subsec_nanos()));
    let fraction = if d.subsec_nanos() == 0 { String::new() } else { fraction.trim_end_matches('s').to_owned() };
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    if h > 0 { format!("{h}h{m}m{s}{fraction}s") } else { format!("{m}m{s}{fraction}s") }
}

/// The dialect's batches (`time`, the `groups` tags, then the values) as
/// InfluxDB's series: one per distinct tag combination, in the order the
/// rows come (grouped by tags).
fn series_of(name: &str, groups: &[String], batches: &[RecordBatch], epoch: Epoch) -> Result<Vec<Series>, ApiError> {
    let internal = |e: datafusion::arrow::error::ArrowError| ApiError::new(Kind::Internal, e.to_string());
    let mut out: Vec<Series> = Vec::new();
    let options = FormatOptions::new()
        .with_timestamp_format(Some(TIMESTAMP_FORMAT))
        .with_timestamp_tz_format(Some(TIMESTAMP_FORMAT));
    for batch in batches {
        let schema = batch.schema();
        let timed = schema.fields().first().is_some_and(|f| {
            f.name() == "time" && matches!(f.data_type(), DataType::Timestamp(TimeUnit::Nanosecond, _))
        });
        // `EXPLAIN` and the like: one series of every column as text.
        let (tags_at, values_at) = if timed { (1..1 + groups.len(), 1 + groups.len()) } else { (0..0, 0) };
        let times = timed.then(|| batch.column(0).as_primitive::<TimestampNanosecondType>());
        let tags = batch.columns()[tags_at]
            .iter()
            .map(|c| cast(c, &DataType::Utf8))
            .collect::<Result<Vec<_>, _>>()
            .map_err(internal)?;
        let tags: Vec<_> = tags.iter().map(|c| c.as_string::<i32>()).collect();
        let cells = batch.columns()[values_at..]
            .iter()
            .map(|c| Cell::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()
            .map_err(internal)?;
        let columns: Vec<String> = times
            .iter()
            .map(|_| "time".to_owned())
            .chain(schema.fields()[values_at..].iter().map(|f| f.name().clone()))
            .collect();
        for row in 0..batch.num_rows() {
            let row_tags: Vec<(String, String)> = groups
                .iter()
                .zip(&tags)
                .map(|(k, c)| (k.clone(), if c.is_null(row) { String::new() } else { c.value(row).to_owned() }))
                .collect();
            let row_tags = (!groups.is_empty()).then_some(row_tags);
            if out.last().is_none_or(|s| s.tags != row_tags || s.columns != columns) {
                out.push(Series {
                    name: Some(name.to_owned()),
                    tags: row_tags,
                    columns: columns.clone(),
                    values: Vec::new(),
                });
            }
            let mut values = Vec::with_capacity(columns.len());
            if let Some(times) = times {
                let mut cell = String::new();
                epoch.write(&mut cell, times.value(row));
                values.push(cell);
            }
            for c in &cells {
                let mut cell = String::new();
                c.write(&mut cell, row).map_err(internal)?;
                values.push(cell);
            }
            if let Some(series) = out.last_mut() {
                series.values.push(values);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_outside_quotes() {
        let q = "SHOW MEASUREMENTS; SELECT mean(v) FROM \"a;b\" WHERE t = 'x;y' ;\n";
        let parts = split(q);
        assert_eq!(parts.len(), 2, "{parts:?}");
        assert_eq!(parts[1].1, "SELECT mean(v) FROM \"a;b\" WHERE t = 'x;y'");
        assert_eq!(&q[parts[1].0..parts[1].0 + 6], "SELECT");
    }

    #[test]
    fn show_statements_parse_and_bad_ones_say_where() {
        let keys = |q: &str| match Statement::parse(q).unwrap() {
            Statement::ShowTagValues { from, keys } => (from, keys),
            other => panic!("{other:?}"),
        };
        assert_eq!(keys("show tag values from \"cpu\" with key = host"), (Some("cpu".into()), vec!["host".into()]));
        assert_eq!(keys("SHOW TAG VALUES WITH KEY IN (\"a\", b)"), (None, vec!["a".into(), "b".into()]));
        assert!(matches!(
            Statement::parse("SHOW MEASUREMENTS WITH MEASUREMENT =~ /^c/ LIMIT 2"),
            Ok(Statement::ShowMeasurements { filter: Some(NameFilter::Matches(_)), limit: Some(2), offset: 0 })
        ));
        let e = Statement::parse("SHOW TAG VALUES FROM cpu WITH KEY host")
            .unwrap_err()
            .locate("x; SHOW TAG VALUES FROM cpu WITH KEY host", 3);
        assert_eq!(e.message(), "error parsing query: expected = or IN at line 1, char 38");
        let e = Statement::parse("SHOW FIELDS").unwrap_err().locate("SHOW FIELDS", 0);
        assert!(e.message().contains("found fields, expected DATABASES"), "{}", e.message());
        let e = Statement::parse("SELECT mean(x) FRM cpu")
            .unwrap_err()
            .locate("SHOW DATABASES;\nSELECT mean(x) FRM cpu", 16);
        assert!(e.message().contains("at line 2, char 16"), "{}", e.message());
    }

    #[test]
    fn keys_and_durations_as_influxdb_writes_them() {
        let tags = vec![("host".to_owned(), "a b".to_owned()), ("k=1".to_owned(), "x,y".to_owned())];
        assert_eq!(series_key("cpu load", &tags), "cpu\\ load,host=a\\ b,k\\=1=x\\,y");
        assert_eq!(go_duration(Duration::from_secs(3600)), "1h0m0s");
        assert_eq!(go_duration(Duration::from_secs(7 * 24 * 3600)), "168h0m0s");
        assert_eq!(go_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(go_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(go_duration(Duration::from_micros(1)), "1µs");
    }
}
