//! The SELECT list resolved against the measurement: the columns the
//! planner computes ([`Term`]s: a field, a tag or an aggregate, possibly
//! transformed) and the outputs made of them ([`Output`]: a term, or
//! arithmetic over terms and numbers), each named as InfluxDB names it.
//!
//! Invariants the planner relies on: every name is a field or a tag of the
//! measurement; a term appears once however often it is written (so
//! `max(a), max(a) + 1` reads one aggregate, and is still a lone selector);
//! an aggregated list holds no raw field; a raw list selects at least one
//! field; arithmetic takes fields, numbers, aggregates and transformations,
//! never tags, `*` or durations.

use std::collections::{BTreeSet, HashMap};

use super::arithmetic::Calc;
use super::ast::{Expr, Select};
use super::condition::Names;
use super::error::{Result, SyntaxError};
use super::functions::{Aggregate, Transform};
use super::planner::TIME;

/// The measurement's tags and fields.
pub(super) struct Columns {
    /// Tag keys.
    pub tags: BTreeSet<String>,
    /// Field names.
    pub fields: BTreeSet<String>,
}

impl Names for Columns {
    fn is_tag(&self, name: &str) -> bool {
        self.tags.contains(name)
    }

    fn is_field(&self, name: &str) -> bool {
        self.fields.contains(name)
    }
}

/// What a term computes before any transformation.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    /// A field or a tag, as stored.
    Raw(String),
    /// An aggregate of a field.
    Agg(Aggregate, String),
}

impl Value {
    /// The field or tag it reads.
    pub fn column(&self) -> &str {
        match self {
            Value::Raw(n) | Value::Agg(_, n) => n,
        }
    }
}

/// One column the planner computes: a value, possibly transformed.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Term {
    /// The value.
    pub value: Value,
    /// The transformation applied to it, per series in time order.
    pub transform: Option<Transform>,
}

/// One output column.
#[derive(Debug, Clone)]
pub(super) struct Output {
    /// Its name: the alias, or InfluxDB's name (`mean`, `a_b`, `mean_1`).
    pub name: String,
    /// What it computes from the terms.
    pub calc: Calc,
}

/// A resolved SELECT list.
#[derive(Debug)]
pub(super) struct SelectList {
    /// The outputs, in order.
    pub outputs: Vec<Output>,
    /// The distinct terms the outputs read ([`Calc::Term`] indexes them).
    pub terms: Vec<Term>,
}

impl SelectList {
    /// Expands `*`, resolves names, checks the shape of the query and names the outputs.
    pub fn resolve(select: &Select, columns: &Columns) -> Result<Self> {
        let mut resolver = Resolver { columns, terms: Vec::new(), at: Vec::new() };
        let mut outputs = Vec::new();
        for field in &select.fields {
            match &field.expr {
                Expr::Wildcard { at } => {
                    let grouped: BTreeSet<&String> = select.group_by.tags.iter().collect();
                    let all: BTreeSet<&String> = columns
                        .fields
                        .iter()
                        .chain(columns.tags.iter().filter(|t| !grouped.contains(t) && !select.group_by.all_tags))
                        .collect();
                    for n in all {
                        let calc = resolver.term(Term { value: Value::Raw(n.clone()), transform: None }, *at);
                        outputs.push(Output { name: n.clone(), calc });
                    }
                }
                Expr::Ref { name, .. } if name.eq_ignore_ascii_case(TIME) => {}
                Expr::Call { name, args, at } if matches!(args.first(), Some(Expr::Wildcard { .. })) => {
                    let agg = resolver.aggregate(name, args, *at)?;
                    for f in &columns.fields {
                        let calc = resolver.term(Term { value: Value::Agg(agg, f.clone()), transform: None }, *at);
                        outputs.push(Output { name: format!("{}_{f}", agg.name()), calc });
                    }
                }
                expr => {
                    let calc = resolver.calc(expr)?;
                    if !calc.reads_a_term() {
                        let at = expr.at().unwrap_or(0);
                        return Err(SyntaxError::new(at, "select fields, tags or functions, not only literals"));
                    }
                    outputs.push(Output { name: field.alias.clone().unwrap_or_else(|| influx_name(expr)), calc });
                }
            }
        }
        let list = SelectList { outputs, terms: resolver.terms };
        list.check(select, columns, &resolver.at)?;
        Ok(list.with_unique_names())
    }

    /// Refuses the shapes InfluxQL refuses; `at` is each term's offset.
    fn check(&self, select: &Select, columns: &Columns, at: &[usize]) -> Result<()> {
        let aggregated = self.aggregated();
        if aggregated {
            if let Some(i) = self.terms.iter().position(|t| matches!(t.value, Value::Raw(_))) {
                return Err(SyntaxError::new(at[i], "mixing aggregate and non-aggregate columns is not supported"));
            }
            if select.group_by.time.is_none()
                && let Some((i, t)) = self.terms.iter().enumerate().find_map(|(i, t)| Some((i, t.transform?)))
            {
                return Err(SyntaxError::new(at[i], format!("{} of an aggregate needs GROUP BY time(...)", t.name())));
            }
            return Ok(());
        }
        if let Some(t) = &select.group_by.time {
            return Err(SyntaxError::new(t.at, "GROUP BY time(...) needs an aggregate such as mean(field)"));
        }
        if !self.terms.iter().any(|t| matches!(&t.value, Value::Raw(n) if columns.is_field(n))) {
            let at = select.fields.first().and_then(|f| f.expr.at()).unwrap_or(0);
            return Err(SyntaxError::new(at, "select at least one field"));
        }
        Ok(())
    }

    /// Some term aggregates: the query has one row per bucket and series.
    pub fn aggregated(&self) -> bool {
        self.terms.iter().any(|t| matches!(t.value, Value::Agg(..)))
    }

    /// The fields the terms read, each once: the ones whose values make a row.
    pub fn asked_fields<'a>(&'a self, columns: &Columns) -> impl Iterator<Item = &'a str> {
        let fields: BTreeSet<&str> =
            self.terms.iter().map(|t| t.value.column()).filter(|n| columns.is_field(n)).collect();
        fields.into_iter()
    }

    /// The selector whose point's time the row shows: the only term, an
    /// untransformed selector (`max(a)`, `max(a) * 2`, `max(a), max(a) + 1`).
    pub fn lone_selector(&self) -> Option<(Aggregate, &str)> {
        match self.terms.as_slice() {
            [Term { value: Value::Agg(agg, field), transform: None }] if agg.is_selector() => Some((*agg, field)),
            _ => None,
        }
    }

    /// InfluxDB's naming of repeated columns: `mean`, `mean_1`, `mean_2`.
    fn with_unique_names(mut self) -> Self {
        let mut seen: HashMap<String, usize> = HashMap::new();
        for o in &mut self.outputs {
            let n = seen.entry(o.name.clone()).or_insert(0);
            if *n > 0 {
                o.name = format!("{}_{}", o.name, n);
            }
            *n += 1;
        }
        self
    }
}

/// Collects the distinct terms while the outputs are read.
struct Resolver<'a> {
    columns: &'a Columns,
    terms: Vec<Term>,
    /// Where each term was first written.
    at: Vec<usize>,
}

impl Resolver<'_> {
    /// `term`'s place among the terms, added if new.
    fn term(&mut self, term: Term, at: usize) -> Calc {
        let i = self.terms.iter().position(|t| *t == term).unwrap_or_else(|| {
            self.terms.push(term);
            self.at.push(at);
            self.terms.len() - 1
        });
        Calc::Term(i)
    }

    /// One selected expression, alone or inside arithmetic.
    fn calc(&mut self, expr: &Expr) -> Result<Calc> {
        match expr {
            Expr::Number(n) => Ok(Calc::Number(*n)),
            Expr::Ref { name, at } => {
                self.known(name, *at, true)?;
                Ok(self.term(Term { value: Value::Raw(name.clone()), transform: None }, *at))
            }
            Expr::Call { name, args, at } => {
                let term = self.call(name, args, *at)?;
                Ok(self.term(term, *at))
            }
            Expr::Binary { op, lhs, rhs, at } => {
                let (l, r) = (self.operand(lhs, *at)?, self.operand(rhs, *at)?);
                let calc = Calc::Binary(*op, Box::new(l), Box::new(r));
                self.unmixed(&calc)?;
                Ok(calc)
            }
            Expr::Wildcard { at } => Err(SyntaxError::new(*at, "* cannot be used in arithmetic")),
            Expr::Duration(_) => Err(SyntaxError::new(0, "select fields, tags or functions, not durations")),
        }
    }

    /// One side of arithmetic at operator offset `op_at`: no tag, duration or
    /// `time`; no raw field beside a function.
    fn operand(&mut self, expr: &Expr, op_at: usize) -> Result<Calc> {
        match expr {
            Expr::Ref { name, at } if self.columns.is_tag(name) => {
                return Err(SyntaxError::new(
                    *at,
                    format!("{name} is a tag: arithmetic takes fields, numbers and functions"),
                ));
            }
            Expr::Ref { name, at } if name.eq_ignore_ascii_case(TIME) => {
                return Err(SyntaxError::new(*at, "time cannot be used in arithmetic"));
            }
            Expr::Duration(_) => {
                return Err(SyntaxError::new(op_at, "a duration cannot be used in arithmetic: write a number"));
            }
            Expr::Call { name, args, at } if matches!(args.first(), Some(Expr::Wildcard { .. })) => {
                return Err(SyntaxError::new(*at, format!("{name}(*) cannot be used in arithmetic")));
            }
            _ => {}
        }
        self.calc(expr)
    }

    /// Refuses arithmetic between a raw field and a function (`derivative(a) + a`).
    fn unmixed(&self, calc: &Calc) -> Result<()> {
        let mut raw = None;
        let mut call = false;
        calc.each_term(&mut |i| match &self.terms[i] {
            Term { value: Value::Raw(_), transform: None } => raw = raw.or(Some(self.at[i])),
            _ => call = true,
        });
        match raw {
            Some(at) if call => {
                Err(SyntaxError::new(at, "mixing aggregate and non-aggregate columns is not supported"))
            }
            _ => Ok(()),
        }
    }

    fn known(&self, name: &str, at: usize, tags_too: bool) -> Result<()> {
        if self.columns.is_field(name) || (tags_too && self.columns.is_tag(name)) {
            return Ok(());
        }
        let what = if self.columns.is_tag(name) { "is a tag; aggregate a field" } else { "is not a field" };
        Err(SyntaxError::new(at, format!("{name} {what} of this measurement")))
    }

    /// The aggregate called `name` (a field or `*` first in `args`).
    fn aggregate(&self, name: &str, args: &[Expr], at: usize) -> Result<Aggregate> {
        let extra = args.get(1..).unwrap_or_default();
        Aggregate::parse(name, extra, at)?.ok_or_else(|| SyntaxError::new(at, format!("unknown function {name}")))
    }

    /// One call of a field: an aggregate, or a transformation of a field or of one aggregate.
    fn call(&self, name: &str, args: &[Expr], at: usize) -> Result<Term> {
        let Some((first, extra)) = args.split_first() else {
            return Err(SyntaxError::new(at, format!("{name}() needs an argument")));
        };
        if let Some(transform) = Transform::parse(name, extra, at)? {
            let value = match first {
                Expr::Ref { name: f, at } => {
                    self.known(f, *at, false)?;
                    Value::Raw(f.clone())
                }
                Expr::Call { name: inner, args, at } => match self.call(inner, args, *at)? {
                    Term { value: value @ Value::Agg(..), transform: None } => value,
                    _ => {
                        return Err(SyntaxError::new(*at, format!("{name} takes a field or one aggregate of a field")));
                    }
                },
                _ => return Err(SyntaxError::new(at, format!("{name} takes a field or an aggregate"))),
            };
            return Ok(Term { value, transform: Some(transform) });
        }
        let agg = self.aggregate(name, args, at)?;
        match first {
            Expr::Ref { name: f, at } => {
                self.known(f, *at, false)?;
                Ok(Term { value: Value::Agg(agg, f.clone()), transform: None })
            }
            other => Err(SyntaxError::new(other.at().unwrap_or(at), format!("{name} takes a field"))),
        }
    }
}

/// InfluxDB's name of an unaliased expression: the fields and functions it
/// uses, in order, joined by `_` (`a_b` for `a + b`, `max_min` for
/// `max(a) - min(a)`, `mean` for `mean(a) * 2`); a call's arguments do not count.
fn influx_name(expr: &Expr) -> String {
    fn walk<'e>(e: &'e Expr, out: &mut Vec<&'e str>) {
        match e {
            Expr::Ref { name, .. } | Expr::Call { name, .. } => out.push(name),
            Expr::Binary { lhs, rhs, .. } => {
                walk(lhs, out);
                walk(rhs, out);
            }
            Expr::Wildcard { .. } | Expr::Number(_) | Expr::Duration(_) => {}
        }
    }
    let mut names = Vec::new();
    walk(expr, &mut names);
    names.join("_")
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly")]

    use super::*;
    use crate::query::dialect::parser::parse;

    fn columns() -> Columns {
        Columns {
            tags: ["host".to_string()].into_iter().collect(),
            fields: ["a", "b"].iter().map(|f| f.to_string()).collect(),
        }
    }

    fn resolve(select: &str) -> Result<SelectList> {
        SelectList::resolve(&parse(&format!("SELECT {select} FROM m")).unwrap(), &columns())
    }

    fn names(select: &str) -> Vec<String> {
        resolve(select).unwrap().outputs.into_iter().map(|o| o.name).collect()
    }

    #[test]
    fn arithmetic_is_named_after_its_fields_and_functions() {
        assert_eq!(names("a + b"), ["a_b"]);
        assert_eq!(names("max(a) - min(a)"), ["max_min"]);
        assert_eq!(names("(mean(a) + mean(b)) / 2"), ["mean_mean"]);
        assert_eq!(names("a * 2, -a, a, 100 - b / 4"), ["a", "a_1", "a_2", "b"]);
        assert_eq!(names("a + b AS busy, b - a"), ["busy", "b_a"]);
        assert_eq!(names("percentile(a, 90) * 2"), ["percentile"]);
    }

    #[test]
    fn a_term_written_twice_is_computed_once() {
        let list = resolve("max(a), max(a) + 1, max(a) * max(a)").unwrap();
        assert_eq!(list.terms.len(), 1);
        assert_eq!(list.lone_selector(), Some((Aggregate::Max, "a")), "still a lone selector");
        let list = resolve("max(a) - min(a)").unwrap();
        assert_eq!(list.terms.len(), 2);
        assert_eq!(list.lone_selector(), None);
        let list = resolve("a + b, a").unwrap();
        assert_eq!(list.asked_fields(&columns()).collect::<Vec<_>>(), ["a", "b"]);
    }

    #[test]
    fn bad_arithmetic_is_refused_where_it_is() {
        for (select, at, needle) in [
            ("mean(a) + b", 17, "mixing aggregate and non-aggregate"),
            ("derivative(a) + a", 23, "mixing aggregate and non-aggregate"),
            ("a, mean(b) * 2", 7, "mixing aggregate and non-aggregate"),
            ("* + 1", 7, "* cannot be used in arithmetic"),
            ("mean(*) + 1", 7, "mean(*) cannot be used in arithmetic"),
            ("host + 1", 7, "host is a tag"),
            ("a - time", 11, "time cannot be used in arithmetic"),
            ("1 + 2", 9, "not only literals"),
            ("a + 1m", 9, "a duration cannot be used in arithmetic"),
            ("mean(a * 2)", 12, "mean takes a field"),
            ("nope * 2", 7, "nope is not a field"),
        ] {
            let e = resolve(select).unwrap_err();
            assert!(e.message.contains(needle), "{select}: {}", e.message);
            assert_eq!(e.at, at, "{select}: {}", e.message);
        }
    }
}
