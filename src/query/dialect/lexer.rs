//! Tokens of the Chronicle dialect, each with the byte offset where it starts.
//!
//! InfluxQL's lexical rules: identifiers are bare (`[A-Za-z_][A-Za-z0-9_]*`)
//! or double-quoted; strings are single-quoted with `\'` escapes; a number
//! followed directly by a unit (`ns`, `u`, `µ`, `ms`, `s`, `m`, `h`, `d`, `w`,
//! possibly repeated as in `1h30m`) is a duration; a regex `/.../` may appear
//! only right after `=~` or `!~` (elsewhere `/` is division).

use super::error::SyntaxError;

/// One token.
#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// An identifier or keyword; `quoted` ones are never keywords.
    Ident {
        /// The name, unescaped.
        name: String,
        /// Written in double quotes.
        quoted: bool,
    },
    /// A single-quoted string, unescaped.
    Str(String),
    /// An integer literal; wider than `i64` so a time bound beyond the
    /// timestamps' range still reads as the number written.
    Int(i128),
    /// A literal with a fraction or exponent.
    Float(f64),
    /// A duration literal, in nanoseconds.
    Duration(i64),
    /// A regex literal, without its slashes.
    Regex(String),
    /// An operator or punctuation.
    Sym(&'static str),
    /// The end of the text.
    Eof,
}

/// A token and the byte offset where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Token {
    /// The token.
    pub tok: Tok,
    /// Its byte offset in the query.
    pub at: usize,
}

/// Operators and punctuation, longest first so `<=` wins over `<`.
const SYMBOLS: [&str; 18] =
    ["=~", "!~", "!=", "<>", "<=", ">=", "=", "<", ">", "+", "-", "*", "/", "%", ",", "(", ")", ";"];

/// Duration units and their length in nanoseconds, longest spelling first.
const UNITS: [(&str, i64); 9] = [
    ("ns", 1),
    ("ms", 1_000_000),
    ("µ", 1_000),
    ("u", 1_000),
    ("s", 1_000_000_000),
    ("m", 60_000_000_000),
    ("h", 3_600_000_000_000),
    ("d", 86_400_000_000_000),
    ("w", 604_800_000_000_000),
];

/// Splits `text` into tokens, ending with [`Tok::Eof`].
pub fn tokenize(text: &str) -> Result<Vec<Token>, SyntaxError> {
    let mut lexer = Lexer { text, pos: 0, tokens: Vec::new() };
    lexer.run()?;
    Ok(lexer.tokens)
}

struct Lexer<'a> {
    text: &'a str,
    pos: usize,
    tokens: Vec<Token>,
}

impl Lexer<'_> {
    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn push(&mut self, tok: Tok, at: usize) {
        self.tokens.push(Token { tok, at });
    }

    fn run(&mut self) -> Result<(), SyntaxError> {
        while let Some(c) = self.peek() {
            let at = self.pos;
            if c.is_whitespace() {
                self.pos += c.len_utf8();
            } else if c == '-' && self.rest().starts_with("--") {
                // A comment to the end of the line.
                self.pos = self.rest().find('\n').map_or(self.text.len(), |n| self.pos + n);
            } else if c.is_ascii_alphabetic() || c == '_' {
                let len =
                    self.rest().find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(self.rest().len());
                let name = self.rest()[..len].to_string();
                self.pos += len;
                self.push(Tok::Ident { name, quoted: false }, at);
            } else if c == '"' {
                let name = self.quoted('"')?;
                self.push(Tok::Ident { name, quoted: true }, at);
            } else if c == '\'' {
                let s = self.quoted('\'')?;
                self.push(Tok::Str(s), at);
            } else if c.is_ascii_digit() || (c == '.' && self.rest()[1..].starts_with(|c: char| c.is_ascii_digit())) {
                let tok = self.number()?;
                self.push(tok, at);
            } else if c == '/' && self.after_regex_operator() {
                let re = self.regex()?;
                self.push(Tok::Regex(re), at);
            } else if let Some(sym) = SYMBOLS.iter().find(|s| self.rest().starts_with(**s)) {
                self.pos += sym.len();
                self.push(Tok::Sym(sym), at);
            } else {
                return Err(SyntaxError::new(at, format!("unexpected character {c:?}")));
            }
        }
        self.push(Tok::Eof, self.text.len());
        Ok(())
    }

    fn after_regex_operator(&self) -> bool {
        matches!(self.tokens.last(), Some(Token { tok: Tok::Sym("=~" | "!~"), .. }))
    }

    /// A `quote`-delimited text with backslash escapes of the quote and of `\`.
    fn quoted(&mut self, quote: char) -> Result<String, SyntaxError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, e)) if e == quote || e == '\\' => out.push(e),
                    Some((_, e)) => {
                        out.push('\\');
                        out.push(e);
                    }
                    None => break,
                },
                c if c == quote => {
                    self.pos += i + 1;
                    return Ok(out);
                }
                c => out.push(c),
            }
        }
        Err(SyntaxError::new(start, format!("unterminated {quote}...{quote}")))
    }

    /// A `/.../` regex with `\/` for a slash; other escapes pass through to the regex.
    fn regex(&mut self) -> Result<String, SyntaxError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => match chars.next() {
                    Some((_, '/')) => out.push('/'),
                    Some((_, e)) => {
                        out.push('\\');
                        out.push(e);
                    }
                    None => break,
                },
                '/' => {
                    self.pos += i + 1;
                    return Ok(out);
                }
                c => out.push(c),
            }
        }
        Err(SyntaxError::new(start, "unterminated regex /.../"))
    }

    /// An integer, a float, or a duration (`10s`, `1h30m`).
    fn number(&mut self) -> Result<Tok, SyntaxError> {
        let start = self.pos;
        let digits = |s: &str| s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let mut len = digits(self.rest());
        let mut float = false;
        if self.rest()[len..].starts_with('.') {
            float = true;
            len += 1 + digits(&self.rest()[len + 1..]);
        }
        let after = &self.rest()[len..];
        if (after.starts_with('e') || after.starts_with('E'))
            && !after[1..].starts_with(|c: char| c.is_ascii_alphabetic())
        {
            let sign = usize::from(after[1..].starts_with(['+', '-']));
            let exp = digits(&after[1 + sign..]);
            if exp > 0 {
                float = true;
                len += 1 + sign + exp;
            }
        }
        let literal = self.rest()[..len].to_string();
        if !float && let Some(ns) = self.duration_units(len)? {
            return Ok(Tok::Duration(ns));
        }
        self.pos += len;
        if float {
            literal.parse().map(Tok::Float).map_err(|_| SyntaxError::new(start, format!("bad number {literal}")))
        } else {
            literal
                .parse()
                .map(Tok::Int)
                .map_err(|_| SyntaxError::new(start, format!("integer {literal} is out of range")))
        }
    }

    /// If the integer of `len` bytes at the cursor is followed by units, consumes
    /// the whole duration (`1h30m`) and returns it in nanoseconds.
    fn duration_units(&mut self, len: usize) -> Result<Option<i64>, SyntaxError> {
        let start = self.pos;
        let overflow = || SyntaxError::new(start, "duration is out of range");
        let mut total: i64 = 0;
        let mut cursor = start;
        let mut digits_len = len;
        loop {
            let rest = &self.text[cursor + digits_len..];
            let Some((unit, ns)) = UNITS.iter().find(|(u, _)| {
                rest.starts_with(u) && !rest[u.len()..].starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            }) else {
                break;
            };
            let n: i64 = self.text[cursor..cursor + digits_len].parse().map_err(|_| overflow())?;
            total = n.checked_mul(*ns).and_then(|v| total.checked_add(v)).ok_or_else(overflow)?;
            cursor += digits_len + unit.len();
            digits_len = self.text[cursor..].find(|c: char| !c.is_ascii_digit()).unwrap_or(self.text.len() - cursor);
            if digits_len == 0 {
                break;
            }
        }
        if cursor == start {
            return Ok(None);
        }
        self.pos = cursor;
        Ok(Some(total))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn toks(text: &str) -> Vec<Tok> {
        tokenize(text).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn durations_numbers_and_regexes() {
        assert_eq!(
            toks("time(1h30m) 5m 10 1.5 2e3 1ms /x/ =~ /a\\/b/"),
            vec![
                Tok::Ident { name: "time".into(), quoted: false },
                Tok::Sym("("),
                Tok::Duration(5_400_000_000_000),
                Tok::Sym(")"),
                Tok::Duration(300_000_000_000),
                Tok::Int(10),
                Tok::Float(1.5),
                Tok::Float(2000.0),
                Tok::Duration(1_000_000),
                Tok::Sym("/"),
                Tok::Ident { name: "x".into(), quoted: false },
                Tok::Sym("/"),
                Tok::Sym("=~"),
                Tok::Regex("a/b".into()),
                Tok::Eof,
            ]
        );
    }

    #[test]
    fn strings_identifiers_and_operators_without_spaces() {
        assert_eq!(
            toks("host='a\\'b'AND\"my tag\"<>'x'"),
            vec![
                Tok::Ident { name: "host".into(), quoted: false },
                Tok::Sym("="),
                Tok::Str("a'b".into()),
                Tok::Ident { name: "AND".into(), quoted: false },
                Tok::Ident { name: "my tag".into(), quoted: true },
                Tok::Sym("<>"),
                Tok::Str("x".into()),
                Tok::Eof,
            ]
        );
    }

    #[test]
    fn errors_carry_the_offset() {
        let e = tokenize("SELECT a FROM b WHERE c = 'open").unwrap_err();
        assert_eq!(e.at, 26);
        let e = tokenize("SELECT # FROM b").unwrap_err();
        assert_eq!(e.at, 7);
        assert!(tokenize("SELECT 99999999999999999999h").is_err());
    }
}
