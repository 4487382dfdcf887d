//! Constant arguments (percentile's `N`, derivative's unit, moving_average's `n`),
//! read from the planned literal so a bad constant fails before any row is read.

use std::sync::Arc;

use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_expr::expressions::Literal;

/// The value of argument `index` if it is a literal, `None` if absent or not constant.
pub(crate) fn literal(exprs: &[Arc<dyn PhysicalExpr>], index: usize) -> Option<&ScalarValue> {
    exprs.get(index).and_then(|e| e.downcast_ref::<Literal>()).map(Literal::value)
}

/// Argument `index` as an integer `>= 1`; `what` names it in the error, e.g.
/// `"moving_average(value, n): n"`.
pub(crate) fn positive_integer(exprs: &[Arc<dyn PhysicalExpr>], index: usize, what: &str) -> Result<i64> {
    match literal(exprs, index).map(|v| v.cast_to(&DataType::Int64)) {
        Some(Ok(ScalarValue::Int64(Some(n)))) if n >= 1 => Ok(n),
        Some(Ok(v)) => plan_err!("{what} must be a positive integer, got {v}"),
        _ => plan_err!("{what} must be a positive integer constant"),
    }
}
