//! `PromNegate`: unary minus, of a scalar or of an instant vector (whose
//! series then lose their metric name, as in Prometheus). A native
//! histogram is negated by scaling its counts and sum by -1.

use std::fmt;

use super::context::QueryContext;
use super::error::{PromError, Result};
use super::node::Operator;
use super::series::Val;

/// Unary minus; see the module docs.
#[derive(Debug)]
pub(crate) struct Negate;

impl Operator for Negate {
    fn name(&self) -> &'static str {
        "PromNegate"
    }

    fn fmt_params(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("-")
    }

    fn apply(&self, _ctx: &QueryContext, mut inputs: Vec<Val>) -> Result<Val> {
        match inputs.pop() {
            Some(Val::Scalar(v)) => Ok(Val::Scalar(v.into_iter().map(|x| -x).collect())),
            Some(Val::Vector(series)) => Ok(Val::Vector(
                series
                    .into_iter()
                    .map(|mut s| {
                        s.values.iter_mut().flatten().for_each(|x| *x = -*x);
                        s.hists.iter_mut().flatten().for_each(|h| h.mul(-1.0));
                        s.without_name()
                    })
                    .collect(),
            )),
            other => Err(PromError::BadData(format!(
                "unary expression only allowed on expressions of type scalar or instant vector, got {:?}",
                other.map_or("nothing", |v| v.type_name())
            ))),
        }
    }
}
