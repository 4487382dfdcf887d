//! [`Query`]: the seed's structured query (a metric, tag matchers, a time
//! range, an aggregation over time windows, GROUP BY tags and a limit).
//!
//! It is translated to the dialect's syntax tree and planned by the
//! dialect's planner, so a `Query` answers exactly as the equivalent dialect
//! query does, with the same result shape: `time`, the GROUP BY tags, then
//! the value column (named after the aggregate, or the field for raw points).

use std::time::Duration;

use datafusion::arrow::array::RecordBatch;

use super::dialect::ast::{CmpOp, Cond, Expr, Field, Fill, GroupBy, Operand, Select, TimeBuckets};
use super::dialect::{Aggregate, DialectPlanner};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::model::VALUE_FIELD;
use crate::storage::matcher::{MatchOp, TagMatcher};

/// A structured query; build it with [`Query::new`] and the `with_*` methods.
#[derive(Debug, Clone)]
pub struct Query {
    /// The measurement.
    pub metric: String,
    /// The field (`value` by default).
    pub field: String,
    /// Conditions on tags (a series lacking a tag holds `""` for it).
    pub matchers: Vec<TagMatcher>,
    /// First nanosecond, inclusive.
    pub start: Option<i64>,
    /// Last nanosecond, exclusive.
    pub end: Option<i64>,
    /// The aggregation; raw points without one.
    pub aggregation: Option<Aggregation>,
    /// Tags whose values split the result into series.
    pub group_by: Vec<String>,
    /// At most this many rows per series.
    pub limit: Option<usize>,
}

/// An aggregate, per time window or over the whole range.
#[derive(Debug, Clone, Copy)]
pub struct Aggregation {
    /// The aggregate.
    pub function: Aggregate,
    /// The window width; `None` aggregates the whole range.
    pub window: Option<Duration>,
    /// What an empty window shows.
    pub fill: Fill,
}

impl Aggregation {
    /// `function` per `window` (`None`: over the whole range), empty windows null.
    pub fn new(function: Aggregate, window: Option<Duration>) -> Self {
        Self { function, window, fill: Fill::Null }
    }

    /// Empty windows shown as `fill` says.
    pub fn with_fill(mut self, fill: Fill) -> Self {
        self.fill = fill;
        self
    }
}

impl Query {
    /// All raw points of `metric`'s `value` field.
    pub fn new(metric: impl Into<String>) -> Self {
        Self {
            metric: metric.into(),
            field: VALUE_FIELD.to_string(),
            matchers: Vec::new(),
            start: None,
            end: None,
            aggregation: None,
            group_by: Vec::new(),
            limit: None,
        }
    }

    /// Reads `field` instead of `value`.
    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = field.into();
        self
    }

    /// Adds a tag condition.
    pub fn with_matcher(mut self, matcher: TagMatcher) -> Self {
        self.matchers.push(matcher);
        self
    }

    /// Restricts to `start <= time < end` (nanoseconds).
    pub fn with_range(mut self, start: i64, end: i64) -> Self {
        self.start = Some(start);
        self.end = Some(end);
        self
    }

    /// Aggregates.
    pub fn with_aggregation(mut self, aggregation: Aggregation) -> Self {
        self.aggregation = Some(aggregation);
        self
    }

    /// Splits the result by `tags`.
    pub fn with_group_by<S: Into<String>>(mut self, tags: impl IntoIterator<Item = S>) -> Self {
        self.group_by = tags.into_iter().map(Into::into).collect();
        self
    }

    /// Keeps at most `n` rows per series.
    pub fn with_limit(mut self, n: usize) -> Self {
        self.limit = Some(n);
        self
    }

    /// The equivalent dialect query.
    fn to_select(&self) -> Result<Select> {
        let field = Expr::Ref { name: self.field.clone(), at: 0 };
        let expr = match self.aggregation {
            None => field,
            Some(a) => {
                let mut args = vec![field];
                match a.function {
                    Aggregate::Percentile(n) => args.push(Expr::Number(n)),
                    Aggregate::Integral(unit) => args.push(Expr::Duration(unit)),
                    _ => {}
                }
                Expr::Call { name: a.function.name().to_string(), args, at: 0 }
            }
        };
        let window = match self.aggregation.and_then(|a| a.window) {
            Some(w) => {
                let every = i64::try_from(w.as_nanos()).ok().filter(|&n| n > 0);
                let every = every.ok_or_else(|| {
                    Error::InvalidArgument(format!("window {w:?} is not a positive i64 of nanoseconds"))
                })?;
                Some(TimeBuckets { every, offset: 0, at: 0 })
            }
            None => None,
        };
        let mut conds: Vec<Cond> = self.matchers.iter().map(matcher_condition).collect();
        let time =
            |op, t: i64| Cond::Cmp { lhs: Operand::Ident("time".into()), op, rhs: Operand::Int(t.into()), at: 0 };
        conds.extend(self.start.map(|s| time(CmpOp::GtEq, s)));
        conds.extend(self.end.map(|e| time(CmpOp::Lt, e)));
        let condition = conds.into_iter().reduce(|a, b| Cond::And(Box::new(a), Box::new(b)));
        Ok(Select {
            explain: None,
            fields: vec![Field { expr, alias: None }],
            from: self.metric.clone(),
            condition,
            group_by: GroupBy { time: window, tags: self.group_by.clone(), all_tags: false },
            fill: self.aggregation.map_or(Fill::Null, |a| a.fill),
            descending: false,
            limit: self.limit,
            offset: 0,
        })
    }
}

/// A matcher as a dialect condition; its regexes are anchored, the dialect's are not.
fn matcher_condition(m: &TagMatcher) -> Cond {
    let (op, rhs) = match m.op {
        MatchOp::Eq => (CmpOp::Eq, Operand::Str(m.value.clone())),
        MatchOp::NotEq => (CmpOp::NotEq, Operand::Str(m.value.clone())),
        MatchOp::Regex => (CmpOp::Match, Operand::Regex(format!("^(?:{})$", m.value))),
        MatchOp::NotRegex => (CmpOp::NotMatch, Operand::Regex(format!("^(?:{})$", m.value))),
    };
    Cond::Cmp { lhs: Operand::Ident(m.key.clone()), op, rhs, at: 0 }
}

impl Db {
    /// Runs a structured [`Query`].
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::Duration;
    /// use chronicle::query::dialect::Aggregate;
    /// use chronicle::query::{Aggregation, Query};
    /// use chronicle::{Config, Db, Point, TagMatcher};
    ///
    /// let dir = std::env::temp_dir().join(format!("chronicle-doc-query-{}", std::process::id()));
    /// let db = Db::open(dir.join("db"), Config::default())?;
    /// let s = 1_000_000_000;
    /// db.write(&[
    ///     Point::new("cpu", 1.0, 0).with_tag("host", "a"),
    ///     Point::new("cpu", 3.0, 10 * s).with_tag("host", "a"),
    ///     Point::new("cpu", 9.0, 70 * s).with_tag("host", "a"),
    /// ])?;
    /// let query = Query::new("cpu")
    ///     .with_matcher(TagMatcher::eq("host", "a"))
    ///     .with_range(0, 120 * s)
    ///     .with_aggregation(Aggregation::new(Aggregate::Mean, Some(Duration::from_secs(60))));
    /// let batches = db.query(&query).await?;
    /// let means = batches[0].column(1).as_any().downcast_ref::<datafusion::arrow::array::Float64Array>().unwrap();
    /// assert_eq!(means.values(), &[2.0, 9.0]);
    /// # db.close()?;
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok(())
    /// # }
    /// ```
    pub async fn query(&self, query: &Query) -> Result<Vec<RecordBatch>> {
        let select = query.to_select()?;
        let ctx = self.session_context();
        match DialectPlanner::new(self, &ctx, "", 0).plan(&select).await? {
            Some(plan) => Ok(ctx.execute_logical_plan(plan).await?.collect().await?),
            None => Ok(Vec::new()),
        }
    }
}
