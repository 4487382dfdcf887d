//! `PromLiteral`: a number or string literal of the query, a leaf of the
//! plan (a number is a scalar with the same value at every step).

use std::fmt;

use super::context::QueryContext;
use super::error::Result;
use super::node::Operator;
use super::series::{Range, Val};

/// A literal; see the module docs.
#[derive(Debug)]
pub(crate) enum Literal {
    Number { value: f64, steps: Range },
    String(String),
}

impl Operator for Literal {
    fn name(&self) -> &'static str {
        "PromLiteral"
    }

    fn fmt_params(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Number { value, steps } => write!(f, "number={value}, steps={steps}"),
            Literal::String(s) => write!(f, "string={s:?}"),
        }
    }

    fn apply(&self, _ctx: &QueryContext, _inputs: Vec<Val>) -> Result<Val> {
        Ok(match self {
            Literal::Number { value, steps } => Val::Scalar(vec![*value; steps.len()]),
            Literal::String(s) => Val::String(s.clone()),
        })
    }
}
