//! A recursive-descent parser from tokens to [`Select`]. Keywords are
//! case-insensitive; an error names what was expected and points at the
//! token found instead.

use super::ast::{ArithOp, CmpOp, Cond, Explain, Expr, Field, Fill, GroupBy, Operand, Select, TimeBuckets};
use super::error::{Result, SyntaxError};
use super::lexer::{Tok, Token, tokenize};

/// Parses one `SELECT` statement (an optional trailing `;` is allowed).
pub fn parse(text: &str) -> Result<Select> {
    let mut parser = Parser { tokens: tokenize(text)?, pos: 0 };
    let select = parser.select()?;
    parser.eat_sym(";");
    parser.expect_end()?;
    Ok(select)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

/// How a token reads in an error message.
fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Ident { name, .. } => format!("{name:?}"),
        Tok::Str(s) => format!("'{s}'"),
        Tok::Int(i) => i.to_string(),
        Tok::Float(f) => f.to_string(),
        Tok::Duration(ns) => format!("a duration ({ns}ns)"),
        Tok::Regex(r) => format!("/{r}/"),
        Tok::Sym(s) => format!("{s:?}"),
        Tok::Eof => "the end of the query".into(),
    }
}

impl Parser {
    fn peek(&self) -> &Token {
        // The token list always ends with Eof, and `pos` never passes it.
        &self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn at(&self) -> usize {
        self.peek().at
    }

    fn advance(&mut self) -> Token {
        let t = self.peek().clone();
        if t.tok != Tok::Eof {
            self.pos += 1;
        }
        t
    }

    fn error<T>(&self, expected: &str) -> Result<T> {
        Err(SyntaxError::new(self.at(), format!("expected {expected}, found {}", describe(&self.peek().tok))))
    }

    fn is_keyword(&self, kw: &str) -> bool {
        matches!(&self.peek().tok, Tok::Ident { name, quoted: false } if name.eq_ignore_ascii_case(kw))
    }

    fn eat_keyword(&mut self, kw: &str) -> bool {
        let hit = self.is_keyword(kw);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn expect_keyword(&mut self, kw: &str) -> Result<()> {
        if self.eat_keyword(kw) { Ok(()) } else { self.error(kw) }
    }

    fn eat_sym(&mut self, sym: &'static str) -> bool {
        let hit = self.peek().tok == Tok::Sym(sym);
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn expect_sym(&mut self, sym: &'static str) -> Result<()> {
        if self.eat_sym(sym) { Ok(()) } else { self.error(&format!("{sym:?}")) }
    }

    fn expect_end(&self) -> Result<()> {
        if self.peek().tok == Tok::Eof { Ok(()) } else { self.error("the end of the query") }
    }

    /// An identifier that is not a reserved word of the clause structure.
    fn ident(&mut self, what: &str) -> Result<(String, usize)> {
        const RESERVED: [&str; 10] =
            ["select", "from", "where", "group", "by", "order", "limit", "offset", "and", "or"];
        let at = self.at();
        match &self.peek().tok {
            Tok::Ident { name, quoted } if *quoted || !RESERVED.iter().any(|r| name.eq_ignore_ascii_case(r)) => {
                let name = name.clone();
                self.pos += 1;
                Ok((name, at))
            }
            _ => self.error(what),
        }
    }

    fn unsigned(&mut self, what: &str) -> Result<usize> {
        match self.peek().tok {
            Tok::Int(n) if n >= 0 => {
                let at = self.at();
                self.pos += 1;
                usize::try_from(n).map_err(|_| SyntaxError::new(at, format!("{what} is too large")))
            }
            _ => self.error(what),
        }
    }

    fn select(&mut self) -> Result<Select> {
        let explain = match (self.eat_keyword("EXPLAIN"), self.eat_keyword("ANALYZE")) {
            (false, _) => None,
            (true, false) => Some(Explain::Plan),
            (true, true) => Some(Explain::Analyze),
        };
        self.expect_keyword("SELECT")?;
        let mut fields = vec![self.field()?];
        while self.eat_sym(",") {
            fields.push(self.field()?);
        }
        self.expect_keyword("FROM")?;
        let (from, _) = self.ident("a measurement name")?;
        let condition = if self.eat_keyword("WHERE") { Some(self.or_cond()?) } else { None };
        let group_by = if self.eat_keyword("GROUP") {
            self.expect_keyword("BY")?;
            self.group_by()?
        } else {
            GroupBy::default()
        };
        let fill = if self.is_keyword("fill") { self.fill()? } else { Fill::default() };
        let mut descending = false;
        if self.eat_keyword("ORDER") {
            self.expect_keyword("BY")?;
            if !self.eat_keyword("time") {
                return self.error("time (results are ordered by time only)");
            }
            descending = self.eat_keyword("DESC");
            if !descending {
                self.eat_keyword("ASC");
            }
        }
        let limit = if self.eat_keyword("LIMIT") { Some(self.unsigned("a row count after LIMIT")?) } else { None };
        let offset = if self.eat_keyword("OFFSET") { self.unsigned("a row count after OFFSET")? } else { 0 };
        Ok(Select { explain, fields, from, condition, group_by, fill, descending, limit, offset })
    }

    fn field(&mut self) -> Result<Field> {
        let expr = self.expr()?;
        let alias = if self.eat_keyword("AS") { Some(self.ident("an alias after AS")?.0) } else { None };
        Ok(Field { expr, alias })
    }

    /// `product (('+' | '-') product)*`: InfluxQL's precedence, left to right.
    fn expr(&mut self) -> Result<Expr> {
        let mut lhs = self.product()?;
        loop {
            let at = self.at();
            let op = match self.peek().tok {
                Tok::Sym("+") => ArithOp::Add,
                Tok::Sym("-") => ArithOp::Sub,
                _ => return Ok(lhs),
            };
            self.pos += 1;
            let rhs = self.product()?;
            lhs = Expr::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs), at };
        }
    }

    /// `unary (('*' | '/' | '%') unary)*`.
    fn product(&mut self) -> Result<Expr> {
        let mut lhs = self.unary()?;
        loop {
            let at = self.at();
            let op = match self.peek().tok {
                Tok::Sym("*") => ArithOp::Mul,
                Tok::Sym("/") => ArithOp::Div,
                Tok::Sym("%") => ArithOp::Mod,
                _ => return Ok(lhs),
            };
            self.pos += 1;
            let rhs = self.unary()?;
            lhs = Expr::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs), at };
        }
    }

    /// `-unary | primary`: a negative literal, or `-1 * x`.
    fn unary(&mut self) -> Result<Expr> {
        let at = self.at();
        if !self.eat_sym("-") {
            return self.primary();
        }
        Ok(match self.unary()? {
            Expr::Number(n) => Expr::Number(-n),
            Expr::Duration(d) => Expr::Duration(-d),
            e => Expr::Binary { op: ArithOp::Mul, lhs: Box::new(Expr::Number(-1.0)), rhs: Box::new(e), at },
        })
    }

    /// `( expr )`, `*`, a number, a duration, a name or a call.
    fn primary(&mut self) -> Result<Expr> {
        let at = self.at();
        if self.eat_sym("*") {
            return Ok(Expr::Wildcard { at });
        }
        if self.eat_sym("(") {
            let inner = self.expr()?;
            self.expect_sym(")")?;
            return Ok(inner);
        }
        match self.peek().tok.clone() {
            Tok::Int(n) => {
                self.pos += 1;
                Ok(Expr::Number(n as f64))
            }
            Tok::Float(f) => {
                self.pos += 1;
                Ok(Expr::Number(f))
            }
            Tok::Duration(ns) => {
                self.pos += 1;
                Ok(Expr::Duration(ns))
            }
            Tok::Ident { .. } => {
                let (name, at) = self.ident("a field, a tag or a function")?;
                if !self.eat_sym("(") {
                    return Ok(Expr::Ref { name, at });
                }
                let mut args = Vec::new();
                if !self.eat_sym(")") {
                    args.push(self.expr()?);
                    while self.eat_sym(",") {
                        args.push(self.expr()?);
                    }
                    self.expect_sym(")")?;
                }
                Ok(Expr::Call { name: name.to_ascii_lowercase(), args, at })
            }
            _ => self.error("a field, a tag, a function, a number, ( or *"),
        }
    }

    fn group_by(&mut self) -> Result<GroupBy> {
        let mut group = GroupBy::default();
        loop {
            let at = self.at();
            if self.eat_sym("*") {
                group.all_tags = true;
            } else if self.is_keyword("time") && self.tokens.get(self.pos + 1).is_some_and(|t| t.tok == Tok::Sym("(")) {
                if group.time.is_some() {
                    return Err(SyntaxError::new(at, "GROUP BY time(...) is given twice"));
                }
                self.pos += 2;
                let every = self.duration("a bucket width such as 5m")?;
                if every <= 0 {
                    return Err(SyntaxError::new(at, "the bucket width must be positive"));
                }
                let offset = if self.eat_sym(",") { self.signed_duration()? } else { 0 };
                self.expect_sym(")")?;
                group.time = Some(TimeBuckets { every, offset, at });
            } else {
                group.tags.push(self.ident("a tag, time(...) or * after GROUP BY")?.0);
            }
            if !self.eat_sym(",") {
                return Ok(group);
            }
        }
    }

    fn duration(&mut self, what: &str) -> Result<i64> {
        match self.peek().tok {
            Tok::Duration(ns) => {
                self.pos += 1;
                Ok(ns)
            }
            _ => self.error(what),
        }
    }

    fn signed_duration(&mut self) -> Result<i64> {
        let negative = self.peek().tok == Tok::Sym("-");
        if negative {
            self.pos += 1;
        }
        let d = self.duration("an offset such as 15m")?;
        Ok(if negative { -d } else { d })
    }

    fn fill(&mut self) -> Result<Fill> {
        self.pos += 1;
        self.expect_sym("(")?;
        let at = self.at();
        let fill = match self.advance().tok {
            Tok::Ident { name, quoted: false } => match name.to_ascii_lowercase().as_str() {
                "null" => Fill::Null,
                "none" => Fill::None,
                "previous" => Fill::Previous,
                "linear" => Fill::Linear,
                _ => {
                    return Err(SyntaxError::new(
                        at,
                        format!("unknown fill {name:?}: use null, none, previous, linear or a number"),
                    ));
                }
            },
            Tok::Int(n) => Fill::Value(n as f64),
            Tok::Float(f) => Fill::Value(f),
            Tok::Sym("-") => match self.advance().tok {
                Tok::Int(n) => Fill::Value(-(n as f64)),
                Tok::Float(f) => Fill::Value(-f),
                _ => return Err(SyntaxError::new(at, "expected a number after fill(-")),
            },
            other => {
                return Err(SyntaxError::new(
                    at,
                    format!("expected null, none, previous, linear or a number, found {}", describe(&other)),
                ));
            }
        };
        self.expect_sym(")")?;
        Ok(fill)
    }

    fn or_cond(&mut self) -> Result<Cond> {
        let mut cond = self.and_cond()?;
        while self.eat_keyword("OR") {
            cond = Cond::Or(Box::new(cond), Box::new(self.and_cond()?));
        }
        Ok(cond)
    }

    fn and_cond(&mut self) -> Result<Cond> {
        let mut cond = self.atom_cond()?;
        while self.eat_keyword("AND") {
            cond = Cond::And(Box::new(cond), Box::new(self.atom_cond()?));
        }
        Ok(cond)
    }

    fn atom_cond(&mut self) -> Result<Cond> {
        if self.eat_sym("(") {
            let cond = self.or_cond()?;
            self.expect_sym(")")?;
            return Ok(cond);
        }
        let lhs = self.operand()?;
        let at = self.at();
        let op = match self.peek().tok {
            Tok::Sym("=") => CmpOp::Eq,
            Tok::Sym("!=" | "<>") => CmpOp::NotEq,
            Tok::Sym("<") => CmpOp::Lt,
            Tok::Sym("<=") => CmpOp::LtEq,
            Tok::Sym(">") => CmpOp::Gt,
            Tok::Sym(">=") => CmpOp::GtEq,
            Tok::Sym("=~") => CmpOp::Match,
            Tok::Sym("!~") => CmpOp::NotMatch,
            _ => return self.error("a comparison (=, !=, <>, <, <=, >, >=, =~, !~)"),
        };
        self.pos += 1;
        let rhs = self.operand()?;
        Ok(Cond::Cmp { lhs, op, rhs, at })
    }

    /// A value, possibly with `+`/`-` arithmetic (`now() - 1h`).
    fn operand(&mut self) -> Result<Operand> {
        let mut lhs = self.operand_atom()?;
        loop {
            let plus = match self.peek().tok {
                Tok::Sym("+") => true,
                Tok::Sym("-") => false,
                _ => return Ok(lhs),
            };
            self.pos += 1;
            let rhs = self.operand_atom()?;
            lhs = Operand::Arith { lhs: Box::new(lhs), plus, rhs: Box::new(rhs) };
        }
    }

    fn operand_atom(&mut self) -> Result<Operand> {
        let token = self.peek().clone();
        let operand = match token.tok {
            Tok::Str(s) => Operand::Str(s),
            Tok::Int(n) => Operand::Int(n),
            Tok::Float(f) => Operand::Number(f),
            Tok::Duration(ns) => Operand::Duration(ns),
            Tok::Regex(r) => Operand::Regex(r),
            Tok::Sym("-") => {
                self.pos += 1;
                return match self.operand_atom()? {
                    Operand::Int(n) => Ok(Operand::Int(-n)),
                    Operand::Number(f) => Ok(Operand::Number(-f)),
                    Operand::Duration(d) => Ok(Operand::Duration(-d)),
                    _ => Err(SyntaxError::new(token.at, "expected a number after -")),
                };
            }
            Tok::Ident { ref name, quoted: false } if name.eq_ignore_ascii_case("now") => {
                self.pos += 1;
                self.expect_sym("(")?;
                self.expect_sym(")")?;
                return Ok(Operand::Now);
            }
            Tok::Ident { .. } => return Ok(Operand::Ident(self.ident("a field, a tag or time")?.0)),
            _ => return self.error("a field, a tag, time or a value"),
        };
        self.pos += 1;
        Ok(operand)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]
    use super::*;

    fn col(text: &str) -> usize {
        match parse(text).unwrap_err().locate(text) {
            crate::Error::Dialect { column, .. } => column,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn the_whole_grammar() {
        let q = parse(
            "select mean(\"usage user\") AS m, percentile(x, 95) FROM cpu WHERE host='a' AND (region =~ /us-.*/ OR x > -1.5) \
             AND time >= now() - 1h GROUP BY time(5m, -1m), host fill(linear) ORDER BY time DESC LIMIT 10 OFFSET 2;",
        )
        .unwrap();
        assert_eq!(q.from, "cpu");
        assert_eq!(q.fields.len(), 2);
        assert_eq!(q.fields[0].alias.as_deref(), Some("m"));
        assert!(
            matches!(&q.fields[1].expr, Expr::Call { name, args, .. } if name == "percentile" && args[1] == Expr::Number(95.0))
        );
        let time = q.group_by.time.unwrap();
        assert_eq!((time.every, time.offset), (300_000_000_000, -60_000_000_000));
        assert_eq!(q.group_by.tags, vec!["host"]);
        assert_eq!(q.fill, Fill::Linear);
        assert!(q.descending);
        assert_eq!((q.limit, q.offset), (Some(10), 2));
        let Some(Cond::And(_, rhs)) = q.condition else { panic!() };
        let Cond::Cmp { lhs: Operand::Ident(t), op: CmpOp::GtEq, rhs, .. } = *rhs else { panic!() };
        assert_eq!(t, "time");
        assert_eq!(
            rhs,
            Operand::Arith {
                lhs: Box::new(Operand::Now),
                plus: false,
                rhs: Box::new(Operand::Duration(3_600_000_000_000))
            }
        );
    }

    #[test]
    fn select_value_and_group_by_star() {
        let q = parse("SELECT value FROM m GROUP BY * fill(-2)").unwrap();
        assert_eq!(q.fields[0].expr, Expr::Ref { name: "value".into(), at: 7 });
        assert!(q.group_by.all_tags);
        assert_eq!(q.fill, Fill::Value(-2.0));
    }

    #[test]
    fn arithmetic_binds_as_in_influxql() {
        let q = parse("SELECT a + b * 2 - -c % (d - 1) AS x, -5 FROM m").unwrap();
        let bin = |op, lhs, rhs, at| Expr::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs), at };
        let r = |name: &str, at| Expr::Ref { name: name.into(), at };
        let product = bin(ArithOp::Mul, r("b", 11), Expr::Number(2.0), 13);
        let neg_c = bin(ArithOp::Mul, Expr::Number(-1.0), r("c", 20), 19);
        let rem = bin(ArithOp::Mod, neg_c, bin(ArithOp::Sub, r("d", 25), Expr::Number(1.0), 27), 22);
        let expected = bin(ArithOp::Sub, bin(ArithOp::Add, r("a", 7), product, 9), rem, 17);
        assert_eq!(q.fields[0].expr, expected);
        assert_eq!(q.fields[0].alias.as_deref(), Some("x"));
        assert_eq!(q.fields[1].expr, Expr::Number(-5.0));
    }

    #[test]
    fn errors_point_at_the_offending_token() {
        assert_eq!(col("SELECT a + FROM cpu"), 12);
        assert_eq!(col("SELECT (a + b FROM cpu"), 15);
        assert_eq!(col("SELECT mean(x) FORM cpu"), 16);
        assert_eq!(col("SELECT x FROM cpu WHERE host = "), 32);
        assert_eq!(col("SELECT x FROM cpu GROUP BY time(5)"), 33);
        assert_eq!(col("SELECT x FROM cpu fill(sometimes)"), 24);
        assert_eq!(col("SELECT x FROM cpu ORDER BY host"), 28);
        assert_eq!(col("SELECT x FROM cpu LIMIT 5 extra"), 27);
        assert_eq!(col("SELECT FROM cpu"), 8);
    }
}
