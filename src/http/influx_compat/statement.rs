//! The statements of an InfluxDB 1.x query: `q` split at `;`, each parsed
//! as a `SELECT` of the Chronicle dialect or one of the `SHOW` statements
//! (a small recursive-descent parser of its own), with InfluxDB's error
//! text: `found X, expected Y at line L, char C`.

use regex::Regex;

use crate::error::Error;
use crate::http::error::ApiError;
use crate::query::dialect::{self, Select};

/// The statements of `q` with their byte offsets: split at `;` outside
/// quotes, blank ones dropped (a trailing `;` is fine).
pub(super) fn split(q: &str) -> Vec<(usize, &str)> {
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
pub(super) struct ParseError {
    at: usize,
    message: String,
}

impl ParseError {
    /// The 400 for this error in a statement starting at byte `start` of `q`.
    pub(super) fn locate(self, q: &str, start: usize) -> ApiError {
        let offset = (start + self.at).min(q.len());
        let before = q.get(..offset).unwrap_or(q);
        let line = before.matches('\n').count() + 1;
        let char = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        ApiError::bad_data(format!("error parsing query: {} at line {line}, char {char}", self.message))
    }
}

/// A parsed statement.
#[derive(Debug)]
pub(super) enum Statement {
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
pub(super) enum NameFilter {
    Equal(String),
    Matches(Regex),
}

impl NameFilter {
    pub(super) fn accepts(&self, name: &str) -> bool {
        match self {
            NameFilter::Equal(n) => n == name,
            NameFilter::Matches(re) => re.is_match(name),
        }
    }
}

impl Statement {
    /// Parses one statement (without its `;`).
    pub(super) fn parse(text: &str) -> Result<Statement, ParseError> {
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
}
