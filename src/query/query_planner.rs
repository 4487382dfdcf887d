//! [`ChronicleQueryPlanner`]: the physical planner of every Chronicle session,
//! and the one place Chronicle's logical extension nodes are routed to their
//! execs.
//!
//! It is DataFusion's default planner with itself as the only extension
//! planner. Each plan operator keeps its logical node and exec in its own file
//! (see STYLE: one file per operator); a new node gets one arm in
//! [`ChronicleQueryPlanner::plan_extension`] here and is planned nowhere else.
//! A node that is not Chronicle's is left to the other extension planners
//! (`Ok(None)`).

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::{Result as DfResult, internal_err};
use datafusion::execution::context::QueryPlanner;
use datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext;
use datafusion::logical_expr::{LogicalPlan, UserDefinedLogicalNode};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_planner::{DefaultPhysicalPlanner, ExtensionPlanner, PhysicalPlanner};

use super::gap_fill::GapFillNode;
use crate::promql::as_prom_node;

/// Plans Chronicle sessions: DataFusion's planner, with every Chronicle
/// extension node routed to its exec. Register it with
/// `SessionStateBuilder::with_query_planner` (as [`crate::Db::session_context`]
/// does), or add it to another planner's extension planners.
#[derive(Debug, Default)]
pub struct ChronicleQueryPlanner;

#[async_trait]
impl QueryPlanner for ChronicleQueryPlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session: &dyn Session,
    ) -> DfResult<Arc<dyn ExecutionPlan>> {
        DefaultPhysicalPlanner::with_extension_planners(vec![Arc::new(ChronicleQueryPlanner)])
            .create_physical_plan(logical_plan, session)
            .await
    }
}

#[async_trait]
impl ExtensionPlanner for ChronicleQueryPlanner {
    async fn plan_extension(
        &self,
        _planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        _session: &dyn Session,
        _planning_ctx: &PhysicalPlanningContext,
    ) -> DfResult<Option<Arc<dyn ExecutionPlan>>> {
        if let Some(node) = node.as_any().downcast_ref::<GapFillNode>() {
            let [input] = physical_inputs else { return internal_err!("GapFill takes one input") };
            return Ok(Some(Arc::new(node.to_exec(Arc::clone(input))?)));
        }
        if let Some(node) = as_prom_node(node) {
            return Ok(Some(Arc::new(node.to_exec(logical_inputs, physical_inputs)?)));
        }
        Ok(None)
    }
}
