//! The Chronicle dialect: the seed's SQL-like language, which follows
//! InfluxQL (InfluxDB 1.x is its reference).
//!
//! ```text
//! text ─▶ lexer ─▶ parser ─▶ ast::Select ─▶ planner (LogicalPlanBuilder over ChronicleTable,
//!                                            functions, condition, query::GapFillNode) ─▶ DataFusion
//! ```
//! `SELECT <expr> [AS <alias>][, ...] | * FROM <measurement>
//! [WHERE <conds>] [GROUP BY time(<d>[, <offset>])[, <tag>...] | *]
//! [fill(null|none|previous|linear|<number>)] [ORDER BY time [DESC]]
//! [LIMIT n] [OFFSET m]`, where an `<expr>` is a field, a tag, a function of
//! a field, or arithmetic (`+ - * / %`, parentheses, unary minus) between
//! fields, numbers and functions. See [`Aggregate`] and [`Transform`] for
//! the functions, [`DialectPlanner`] for the shape of results and the
//! deliberate differences from InfluxDB (the source files `select_list.rs`
//! and `arithmetic.rs` own the SELECT list, `condition.rs` the WHERE clause). Errors name the line and column they point at.

mod arithmetic;
pub mod ast;
mod condition;
mod error;
mod functions;
mod lexer;
mod parser;
mod planner;
mod rollup_source;
mod select_list;

use std::time::{SystemTime, UNIX_EPOCH};

use datafusion::arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;

pub use ast::{Fill, Select};
pub use functions::{Aggregate, Transform};
pub use planner::DialectPlanner;

use crate::db::Db;
use crate::error::Result;

/// Parses a dialect query.
pub fn parse(text: &str) -> Result<Select> {
    parser::parse(text).map_err(|e| e.locate(text))
}

impl Db {
    /// Runs a query of the Chronicle dialect and returns its rows: `time`,
    /// the GROUP BY tags, then the selected columns (see [`DialectPlanner`]).
    /// An unknown measurement gives no rows.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// use chronicle::{Config, Db, Point};
    ///
    /// let dir = std::env::temp_dir().join(format!("chronicle-doc-dialect-{}", std::process::id()));
    /// let db = Db::open(dir.join("db"), Config::default())?;
    /// let minute = 60_000_000_000;
    /// db.write(&[
    ///     Point::new("cpu", 1.0, 0).with_tag("host", "a"),
    ///     Point::new("cpu", 3.0, 30_000_000_000).with_tag("host", "a"),
    ///     Point::new("cpu", 5.0, 2 * minute).with_tag("host", "a"),
    /// ])?;
    /// let batches = db.query_dialect("SELECT mean(value) FROM cpu WHERE host='a' AND time >= 0 AND time < 3m GROUP BY time(1m)").await?;
    /// let text = datafusion::arrow::util::pretty::pretty_format_batches(&batches)?.to_string();
    /// assert!(text.contains("| 1970-01-01T00:00:00Z | 2.0  |"), "{text}");
    /// assert!(text.contains("| 1970-01-01T00:01:00Z |      |"), "an empty bucket is null: {text}");
    /// # db.close()?;
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # Ok(())
    /// # }
    /// ```
    pub async fn query_dialect(&self, text: &str) -> Result<Vec<RecordBatch>> {
        self.query_dialect_in(&self.session_context(), text).await
    }

    /// Runs a query of the Chronicle dialect in `ctx`, a session of
    /// [`Db::session_context`] whose settings apply (such as
    /// `SET chronicle.rollup = 'off'`, see [`crate::query::RollupMode`]).
    pub async fn query_dialect_in(&self, ctx: &SessionContext, text: &str) -> Result<Vec<RecordBatch>> {
        let select = parse(text)?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64);
        match DialectPlanner::new(self, ctx, text, now).plan(&select).await? {
            Some(plan) => Ok(ctx.execute_logical_plan(plan).await?.collect().await?),
            None => Ok(Vec::new()),
        }
    }
}
