//! Arithmetic in SELECT (`usage_user + usage_system`, `mean(a) * 2`,
//! `(max(a) - min(a)) / 2`) as DataFusion expressions, with InfluxDB 1.x's
//! rules: operands are floats (a `count` too), a null operand makes the
//! result null, `x / 0` is 0 (for a non-null `x`) and `x % 0` is null. An aggregate is computed
//! first, filled by `fill()`, then used: `count(a) + 1` of an empty bucket is
//! 1 under the default fill, as in InfluxDB.

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result as DfResult, ScalarValue};
use datafusion::logical_expr::{cast, lit, when};
use datafusion::prelude::Expr as DfExpr;

use super::ast::ArithOp;

/// What an output computes from the planner's term columns.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Calc {
    /// A term, as computed (a count stays an integer, a tag a string).
    Term(usize),
    /// A number.
    Number(f64),
    /// `lhs op rhs`, in floats.
    Binary(ArithOp, Box<Calc>, Box<Calc>),
}

impl Calc {
    /// It reads at least one term (not only numbers).
    pub fn reads_a_term(&self) -> bool {
        match self {
            Calc::Term(_) => true,
            Calc::Number(_) => false,
            Calc::Binary(_, l, r) => l.reads_a_term() || r.reads_a_term(),
        }
    }

    /// Calls `f` with every term it reads, left to right.
    pub fn each_term(&self, f: &mut impl FnMut(usize)) {
        match self {
            Calc::Term(i) => f(*i),
            Calc::Number(_) => {}
            Calc::Binary(_, l, r) => {
                l.each_term(f);
                r.each_term(f);
            }
        }
    }

    /// The expression, given the column of each term.
    pub fn expr(&self, term: &impl Fn(usize) -> DfExpr) -> DfResult<DfExpr> {
        let (op, l, r) = match self {
            Calc::Term(i) => return Ok(term(*i)),
            Calc::Number(n) => return Ok(lit(*n)),
            Calc::Binary(op, l, r) => (op, l, r),
        };
        let (l, r) = (l.operand(term)?, r.operand(term)?);
        let divisor_is_zero = r.clone().eq(lit(0.0));
        Ok(match op {
            ArithOp::Add => l + r,
            ArithOp::Sub => l - r,
            ArithOp::Mul => l * r,
            ArithOp::Div => when(divisor_is_zero.and(l.clone().is_not_null()), lit(0.0)).otherwise(l / r)?,
            ArithOp::Mod => when(divisor_is_zero, lit(ScalarValue::Float64(None))).otherwise(l % r)?,
        })
    }

    /// The expression as an operand of arithmetic: a float.
    fn operand(&self, term: &impl Fn(usize) -> DfExpr) -> DfResult<DfExpr> {
        match self {
            Calc::Term(i) => Ok(cast(term(*i), DataType::Float64)),
            Calc::Number(n) => Ok(lit(*n)),
            Calc::Binary(..) => self.expr(term),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly")]

    use datafusion::arrow::array::{AsArray, Float64Array, Int64Array, RecordBatch};
    use datafusion::arrow::datatypes::Float64Type;
    use datafusion::prelude::{SessionContext, col};

    use super::*;

    /// `calc` over terms `a` (Float64) and `n` (Int64), one row per pair.
    async fn eval(calc: Calc, a: &[Option<f64>], n: &[Option<i64>]) -> Vec<Option<f64>> {
        let batch = RecordBatch::try_from_iter([
            ("a", std::sync::Arc::new(Float64Array::from(a.to_vec())) as _),
            ("n", std::sync::Arc::new(Int64Array::from(n.to_vec())) as _),
        ])
        .unwrap();
        let ctx = SessionContext::new();
        let names = ["a", "n"];
        let expr = calc.expr(&|i| col(names[i])).unwrap();
        let out = ctx.read_batch(batch).unwrap().select(vec![expr.alias("x")]).unwrap().collect().await.unwrap();
        out[0].column(0).as_primitive::<Float64Type>().iter().collect()
    }

    fn bin(op: ArithOp, l: Calc, r: Calc) -> Calc {
        Calc::Binary(op, Box::new(l), Box::new(r))
    }

    #[tokio::test]
    async fn influxdb_rules_for_zero_null_and_integers() {
        let a = [Some(6.0), Some(-2.0), None, Some(0.0)];
        let n = [Some(0), Some(4), Some(3), Some(0)];
        let (ta, tn) = (Calc::Term(0), Calc::Term(1));
        assert_eq!(
            eval(bin(ArithOp::Div, ta.clone(), tn.clone()), &a, &n).await,
            [Some(0.0), Some(-0.5), None, Some(0.0)]
        );
        assert_eq!(eval(bin(ArithOp::Mod, ta.clone(), tn.clone()), &a, &n).await, [None, Some(-2.0), None, None]);
        let by_zero = bin(ArithOp::Div, ta.clone(), Calc::Number(0.0));
        assert_eq!(eval(by_zero, &a, &n).await, [Some(0.0), Some(0.0), None, Some(0.0)], "null / 0 stays null");
        let divisor = bin(ArithOp::Sub, ta.clone(), ta.clone());
        assert_eq!(eval(bin(ArithOp::Div, tn.clone(), divisor), &a, &n).await, [Some(0.0), Some(0.0), None, Some(0.0)]);
        // An integer count divides as a float: 3 / 4 is 0.75, not 0.
        assert_eq!(
            eval(bin(ArithOp::Div, tn.clone(), Calc::Number(4.0)), &a, &n).await,
            [Some(0.0), Some(1.0), Some(0.75), Some(0.0)]
        );
        let neg = bin(ArithOp::Mul, Calc::Number(-1.0), bin(ArithOp::Add, ta, Calc::Number(1.0)));
        assert_eq!(eval(neg, &a, &n).await, [Some(-7.0), Some(1.0), None, Some(-1.0)]);
    }

    #[test]
    fn terms_are_read_left_to_right() {
        let calc = bin(ArithOp::Add, Calc::Term(2), bin(ArithOp::Mul, Calc::Number(2.0), Calc::Term(0)));
        let mut seen = Vec::new();
        calc.each_term(&mut |i| seen.push(i));
        assert_eq!(seen, [2, 0]);
        assert!(calc.reads_a_term());
        assert!(!bin(ArithOp::Add, Calc::Number(1.0), Calc::Number(2.0)).reads_a_term());
    }
}
