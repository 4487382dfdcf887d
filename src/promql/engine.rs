//! The engine: a query's text to its answer. The text is checked
//! ([`super::guard`]), parsed, planned ([`super::planner`]) into a
//! DataFusion logical plan of PromQL nodes, turned into a physical plan by
//! the session's planner ([`crate::query::ChronicleQueryPlanner`], which
//! routes every PromQL node to its exec), and run; the root's batches become
//! the answer: a [`QueryResult`] for the Prometheus API, or Arrow rows
//! ([`super::rows`]).
//!
//! The entry points are synchronous (the HTTP API calls them from a
//! blocking thread): the plan runs on the calling thread
//! (`futures::executor::block_on`), without starting a runtime. A PromQL
//! plan holds only PromQL execs, which need no runtime, and the session
//! used here has no optimizer rules that could add any.

use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::{ExecutionPlan, execute_stream};
use datafusion::prelude::SessionConfig;
use futures::TryStreamExt;
use promql_parser::parser;

use super::context::QueryContext;
use super::error::{PromError, Result};
use super::guard;
use super::node::{PromNode, RunsInline};
use super::options::PromOptions;
use super::planner::{Planned, Planner};
use super::renamed_functions::with_new_names;
use super::rows::Rows;
use super::series::{Range, Val, remove_dropped_names};
use super::series_batch::{self, Kind};
use super::value::{Labels, PromValue, QueryResult, Sample, Series};
use crate::db::Db;
use crate::model::histogram::FloatHistogram;
use crate::query::ChronicleQueryPlanner;

/// Checks, parses and plans `text` over `range`.
pub(crate) fn plan(db: &Db, text: &str, range: Range, options: &PromOptions) -> Result<(Arc<QueryContext>, Planned)> {
    guard::check(text, options)?;
    let expr = parser::parse(&with_new_names(text)).map_err(PromError::BadData)?;
    let ctx = Arc::new(QueryContext::new(db, text, range, options));
    let planned = Planner::new(&ctx).plan(&expr, range)?;
    Ok((ctx, planned))
}

/// `planned` under a [`PromRows`](super::rows) root: its answer as Arrow rows.
/// Refuses what has no rows: a string, and a range vector in a range query
/// (as Prometheus refuses it).
pub(crate) fn plan_rows(ctx: &Arc<QueryContext>, planned: Planned) -> Result<LogicalPlan> {
    match planned.kind {
        Kind::String => return Err(PromError::BadData("a string has no rows: the query must give numbers".into())),
        Kind::Matrix(_) if ctx.query.step != 0 => return Err(not_for_range_query(planned.kind.type_name())),
        _ => {}
    }
    let rows = Rows::try_new(planned.labels.clone(), ctx.query)?;
    PromNode::plan(rows, planned.kind, vec![planned.plan], ctx)
}

/// The session PromQL plans are turned into physical plans with: the
/// Chronicle planner, no optimizer rules (a PromQL plan is already what
/// should run), and operators run on the polling thread ([`RunsInline`]).
fn session() -> SessionState {
    SessionStateBuilder::new()
        .with_config(SessionConfig::new().with_extension(Arc::new(RunsInline)))
        .with_query_planner(Arc::new(ChronicleQueryPlanner))
        .with_analyzer_rules(Vec::new())
        .with_optimizer_rules(Vec::new())
        .with_physical_optimizer_rules(Vec::new())
        .build()
}

/// The physical plan of a PromQL logical plan.
pub(crate) async fn physical_plan(plan: &LogicalPlan) -> Result<Arc<dyn ExecutionPlan>> {
    Ok(session().create_physical_plan(plan).await?)
}

/// Runs a PromQL plan on this thread and gathers its batches.
pub(crate) fn run(plan: &LogicalPlan) -> Result<Vec<RecordBatch>> {
    futures::executor::block_on(async {
        let physical = physical_plan(plan).await?;
        let stream = execute_stream(physical, session().task_ctx())?;
        Ok(stream.try_collect().await?)
    })
}

/// Parses, plans and runs `text` over `range`.
pub(crate) fn evaluate(db: &Db, text: &str, range: Range, instant: bool, options: &PromOptions) -> Result<QueryResult> {
    let (ctx, planned) = plan(db, text, range, options)?;
    if !instant && matches!(planned.kind, Kind::String | Kind::Matrix(_)) {
        return Err(not_for_range_query(planned.kind.type_name()));
    }
    let batches = run(&planned.plan)?;
    let val = match series_batch::decode(&batches, planned.kind)? {
        Val::Vector(series) => Val::Vector(remove_dropped_names(series)?),
        other => other,
    };
    let value = if instant { instant_value(val, range.start) } else { range_value(val, range)? };
    let (warnings, infos) = ctx.annotations();
    Ok(QueryResult { value, warnings, infos })
}

/// The answer of an instant query.
fn instant_value(val: Val, t: i64) -> PromValue {
    match val {
        Val::Scalar(v) => PromValue::Scalar { t, v: v.first().copied().unwrap_or(f64::NAN) },
        Val::String(s) => PromValue::String { t, s },
        Val::Vector(series) => PromValue::Vector(
            series
                .into_iter()
                .filter_map(|s| match (s.values.first().copied().flatten(), s.hist(0)) {
                    (_, Some(h)) => Some(Sample { h: Some(h.clone()), labels: s.labels, t, v: 0.0 }),
                    (Some(v), None) => Some(Sample { labels: s.labels, t, v, h: None }),
                    (None, None) => None,
                })
                .collect(),
        ),
        Val::Matrix(m) => {
            let end = m.window_end(t);
            PromValue::Matrix(
                m.series
                    .into_iter()
                    .filter_map(|s| {
                        let w = s.window(end - m.range, end);
                        let points: Vec<(i64, f64)> = w.map(|i| (s.ts[i], s.vs[i])).collect();
                        let hw = s.hist_window(end - m.range, end);
                        let histograms: Vec<(i64, FloatHistogram)> =
                            s.hts[hw.clone()].iter().copied().zip(s.hs[hw].iter().cloned()).collect();
                        let labels = if s.drop_name { s.labels.without_name() } else { s.labels };
                        (!points.is_empty() || !histograms.is_empty()).then_some(Series { labels, points, histograms })
                    })
                    .collect(),
            )
        }
    }
}

/// The answer of a range query: a matrix, series sorted by labels.
fn range_value(val: Val, range: Range) -> Result<PromValue> {
    let mut out: Vec<Series> = match val {
        Val::Scalar(v) => {
            vec![Series { labels: Labels::default(), points: range.times().zip(v).collect(), histograms: Vec::new() }]
        }
        Val::Vector(series) => series
            .into_iter()
            .filter_map(|s| {
                let points: Vec<(i64, f64)> =
                    s.values.iter().enumerate().filter_map(|(i, v)| v.map(|v| (range.at(i), v))).collect();
                let histograms: Vec<(i64, FloatHistogram)> = s
                    .hists
                    .iter()
                    .enumerate()
                    .filter_map(|(i, h)| h.as_ref().map(|h| (range.at(i), h.clone())))
                    .collect();
                (!points.is_empty() || !histograms.is_empty()).then_some(Series {
                    labels: s.labels,
                    points,
                    histograms,
                })
            })
            .collect(),
        other => return Err(not_for_range_query(other.type_name())),
    };
    out.sort_by(|a, b| a.labels.cmp(&b.labels));
    Ok(PromValue::Matrix(out))
}

/// The error of a range query whose expression is not a scalar or an
/// instant vector.
fn not_for_range_query(type_name: &str) -> PromError {
    PromError::BadData(format!(
        "invalid expression type {type_name:?} for range query, must be Scalar or instant Vector"
    ))
}
