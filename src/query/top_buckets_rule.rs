//! `ChronicleTopBucketsRule`: `GROUP BY date_bin(..) ORDER BY .. DESC
//! LIMIT k` reads only the newest k buckets' rows (oldest for ASC).
//!
//! The rule matches a `SortExec` with a fetch of k (a TopK) whose first
//! key is the `date_bin` group column of the aggregate right under it, and
//! that aggregate's (Partial) input a Chronicle scan applying every filter
//! itself (no field ranges, no limit; the same conditions as
//! [`super::ChronicleStatsRule`]). Then the scan's time range is cut with
//! [`TopBuckets`]: chunk bounds, head points and the timestamps of the
//! partitions at the cut's side show buckets that hold rows; rows beyond the
//! k-th of those are not read. Every group of the first k
//! buckets is still complete, so the TopK picks the same rows. The cut uses
//! the data present when the query is planned.
//!
//! A scan in a union with tiered partitions (see [`crate::tier`]) is cut
//! from its local rows alone; when the cut leaves out every tiered
//! partition (the first k buckets are all local), the union is replaced by
//! the cut scan and no Parquet file is read. Otherwise the rule does not
//! apply.

use std::sync::Arc;

use datafusion::common::Result as DfResult;
use datafusion::common::config::ConfigOptions;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::aggregates::AggregateExec;
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::sorts::sort::SortExec;

use super::scan_input::{Source, Tiers, exact_scan_under, rewrite_up};
use super::to_df_error;
use crate::storage::scan::TopBuckets;

/// Cuts the scan under a TopK of time buckets; see the module docs.
#[derive(Debug, Default, Clone, Copy)]
pub struct ChronicleTopBucketsRule;

impl PhysicalOptimizerRule for ChronicleTopBucketsRule {
    fn optimize(&self, plan: Arc<dyn ExecutionPlan>, _config: &ConfigOptions) -> DfResult<Arc<dyn ExecutionPlan>> {
        rewrite_up(plan, cut_for)
    }

    fn name(&self) -> &str {
        "chronicle_top_buckets"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// `node` with the scan under it cut, if it is a TopK of time buckets.
fn cut_for(node: &Arc<dyn ExecutionPlan>) -> DfResult<Option<Arc<dyn ExecutionPlan>>> {
    let Some(sort) = node.downcast_ref::<SortExec>() else { return Ok(None) };
    let (Some(count), first) = (sort.fetch(), sort.expr().first()) else { return Ok(None) };
    let Some(column) = first.expr.downcast_ref::<Column>() else { return Ok(None) };
    let Some(top) = sort.input().downcast_ref::<AggregateExec>() else { return Ok(None) };
    let Some((reading, input)) = exact_scan_under(top, Tiers::Through) else { return Ok(None) };
    let scan = input.scan();
    let group = reading.group_expr().expr().get(column.index());
    let Some(Source::Bucket(bucket)) = group.and_then(|(expr, _)| input.resolve(expr)) else { return Ok(None) };
    let cut = scan.with_top_buckets(TopBuckets { bucket, count, newest: first.options.descending });
    let cut = cut.map_err(to_df_error)?;
    if !cut.reads_none_of(&input.tiered_partitions()) {
        return Ok(None);
    }
    let below = input.replace(sort.input(), Arc::new(cut))?;
    let recompute = ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute);
    Ok(Some(Arc::clone(node).replace_children(vec![below], recompute)?))
}
