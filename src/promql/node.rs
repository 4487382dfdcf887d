//! [`PromNode`] and [`PromExec`]: the logical node and the exec that carry
//! every PromQL plan operator, routed by the session's one extension
//! planner ([`crate::query::ChronicleQueryPlanner`]).
//!
//! PromQL operators all run the same way: each needs the whole series set
//! of each input (an aggregation groups across series, a binary operator
//! matches across them), computes, and emits the whole result. So the
//! node, the exec and the stream are written once, here, around an
//! [`Operator`]; each operator's own file (`selector.rs`, `instant.rs`,
//! `aggregate.rs`, ...) holds its parameters, its `EXPLAIN` line and its
//! computation, and nothing else needs to know it exists. This is
//! GreptimeDB's one-file-per-operator layout with the execution shell
//! shared instead of repeated in every file.
//!
//! Between nodes values travel as [`super::series_batch`] batches; a node
//! knows what its inputs hold ([`Kind`]) from the plan, checks the query's
//! deadline, decodes its inputs and applies its operator (or gives the
//! operator the batches as they are, [`Operator::apply_batches`]) and
//! encodes the answer. Dropping the stream cancels the query: nothing runs unless
//! polled (an operator already running finishes, its answer dropped).

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::runtime::SpawnedTask;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DFSchema, DFSchemaRef, Result as DfResult, internal_err};
use datafusion::error::DataFusionError;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{
    Expr as DfExpr, Extension, LogicalPlan, UserDefinedLogicalNode, UserDefinedLogicalNodeCore,
};
use datafusion::physical_expr::EquivalenceProperties;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, Distribution, ExecutionPlan, Partitioning, PhysicalExpr, PlanProperties,
};
use futures::TryStreamExt;

use super::context::QueryContext;
use super::error::{PromError, Result};
use super::series::Val;
use super::series_batch::{self, Kind};

/// One PromQL plan operator: its parameters, how `EXPLAIN` shows them, and
/// its computation over its inputs' values.
pub(crate) trait Operator: fmt::Debug + Send + Sync + 'static {
    /// The node's name in `EXPLAIN` (`PromAggregate`, ...).
    fn name(&self) -> &'static str;

    /// Every parameter, for `EXPLAIN`.
    fn fmt_params(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;

    /// The answer from the values of the inputs, in the order of the plan's
    /// inputs.
    fn apply(&self, ctx: &QueryContext, inputs: Vec<Val>) -> Result<Val>;

    /// The answer from the batches of the inputs, each with what it holds,
    /// in the order of the plan's inputs: by default each is decoded and
    /// [`Operator::apply`] computes. An operator that computes on its
    /// inputs' Arrow columns as they are overrides it.
    fn apply_batches(&self, ctx: &QueryContext, inputs: Vec<(Kind, Vec<RecordBatch>)>) -> Result<Val> {
        let vals = inputs.iter().map(|(kind, batches)| series_batch::decode(batches, *kind)).collect::<Result<_>>()?;
        self.apply(ctx, vals)
    }

    /// The schema of the batches it emits: series batches unless it says
    /// otherwise.
    fn schema(&self) -> SchemaRef {
        series_batch::schema()
    }

    /// The batch of its answer.
    fn encode(&self, val: Val) -> Result<RecordBatch> {
        series_batch::encode(val)
    }
}

/// A PromQL operator in a logical plan; see the module docs.
#[derive(Debug, Clone)]
pub struct PromNode {
    op: Arc<dyn Operator>,
    kind: Kind,
    inputs: Vec<LogicalPlan>,
    ctx: Arc<QueryContext>,
    schema: DFSchemaRef,
}

impl PromNode {
    /// `op` over `inputs`, emitting a `kind`.
    pub(crate) fn plan(
        op: impl Operator,
        kind: Kind,
        inputs: Vec<LogicalPlan>,
        ctx: &Arc<QueryContext>,
    ) -> Result<LogicalPlan> {
        let op: Arc<dyn Operator> = Arc::new(op);
        let schema = Arc::new(DFSchema::try_from(op.schema())?);
        Ok(LogicalPlan::Extension(Extension {
            node: Arc::new(PromNode { op, kind, inputs, ctx: Arc::clone(ctx), schema }),
        }))
    }

    /// What its batches hold.
    pub(crate) fn kind(&self) -> Kind {
        self.kind
    }

    /// The exec of this node over the physical plans of its inputs, whose
    /// logical plans are `logical_inputs`.
    pub(crate) fn to_exec(
        &self,
        logical_inputs: &[&LogicalPlan],
        children: &[Arc<dyn ExecutionPlan>],
    ) -> DfResult<PromExec> {
        let kinds = logical_inputs
            .iter()
            .map(|p| match p {
                LogicalPlan::Extension(e) => e.node.as_any().downcast_ref::<PromNode>().map(PromNode::kind),
                _ => None,
            })
            .collect::<Option<Vec<Kind>>>();
        let Some(input_kinds) = kinds else { return internal_err!("{} takes PromQL nodes as inputs", self.op.name()) };
        Ok(PromExec::new(Arc::clone(&self.op), input_kinds, children.to_vec(), Arc::clone(&self.ctx)))
    }

    /// What equality, order and hashing compare: the operator as `EXPLAIN`
    /// prints it (every parameter), the inputs, and the query.
    fn key(&self) -> (String, usize) {
        (format!("{}", Explain(&*self.op)), Arc::as_ptr(&self.ctx) as usize)
    }
}

/// An operator as `EXPLAIN` prints it.
struct Explain<'a>(&'a dyn Operator);

impl fmt::Display for Explain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.0.name())?;
        self.0.fmt_params(f)
    }
}

impl PartialEq for PromNode {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key() && self.kind == other.kind && self.inputs == other.inputs
    }
}

impl Eq for PromNode {}

impl PartialOrd for PromNode {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        match self.key().cmp(&other.key()) {
            Ordering::Equal => self.inputs.partial_cmp(&other.inputs),
            unequal => Some(unequal),
        }
    }
}

impl Hash for PromNode {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key().hash(state);
        self.kind.hash(state);
        self.inputs.hash(state);
    }
}

impl UserDefinedLogicalNodeCore for PromNode {
    fn name(&self) -> &str {
        self.op.name()
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        self.inputs.iter().collect()
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    fn expressions(&self) -> Vec<DfExpr> {
        Vec::new()
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}", Explain(&*self.op))
    }

    fn with_exprs_and_inputs(&self, _exprs: Vec<DfExpr>, inputs: Vec<LogicalPlan>) -> DfResult<Self> {
        if inputs.len() != self.inputs.len() {
            return internal_err!("{} takes {} inputs, got {}", self.op.name(), self.inputs.len(), inputs.len());
        }
        Ok(PromNode { inputs, ..self.clone() })
    }
}

/// Runs one [`PromNode`]; see the module docs. One partition.
#[derive(Debug)]
pub struct PromExec {
    op: Arc<dyn Operator>,
    input_kinds: Vec<Kind>,
    children: Vec<Arc<dyn ExecutionPlan>>,
    ctx: Arc<QueryContext>,
    properties: Arc<PlanProperties>,
}

impl PromExec {
    fn new(
        op: Arc<dyn Operator>,
        input_kinds: Vec<Kind>,
        children: Vec<Arc<dyn ExecutionPlan>>,
        ctx: Arc<QueryContext>,
    ) -> Self {
        let properties = PlanProperties::new(
            EquivalenceProperties::new(op.schema()),
            Partitioning::UnknownPartitioning(1),
            EmissionType::Final,
            Boundedness::Bounded,
        );
        PromExec { op, input_kinds, children, ctx, properties: Arc::new(properties) }
    }
}

impl DisplayAs for PromExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}Exec: ", self.op.name())?;
        self.op.fmt_params(f)
    }
}

impl ExecutionPlan for PromExec {
    fn name(&self) -> &str {
        "PromExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.children.iter().collect()
    }

    fn required_input_distribution(&self) -> Vec<Distribution> {
        vec![Distribution::SinglePartition; self.children.len()]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false; self.children.len()]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> DfResult<TreeNodeRecursion>,
    ) -> DfResult<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(self: Arc<Self>, children: Vec<Arc<dyn ExecutionPlan>>) -> DfResult<Arc<dyn ExecutionPlan>> {
        if children.len() != self.children.len() {
            return internal_err!("{}Exec takes {} inputs", self.op.name(), self.children.len());
        }
        Ok(Arc::new(PromExec::new(Arc::clone(&self.op), self.input_kinds.clone(), children, Arc::clone(&self.ctx))))
    }

    fn execute(&self, partition: usize, task: Arc<TaskContext>) -> DfResult<SendableRecordBatchStream> {
        if partition != 0 {
            return internal_err!("{}Exec has one partition, asked for {partition}", self.op.name());
        }
        let inputs = self.children.iter().map(|c| c.execute(0, Arc::clone(&task))).collect::<DfResult<Vec<_>>>()?;
        let (op, kinds, ctx) = (Arc::clone(&self.op), self.input_kinds.clone(), Arc::clone(&self.ctx));
        let inline = task.session_config().get_extension::<RunsInline>().is_some();
        let output = futures::stream::once(async move {
            // Inputs are read one after the other, in the plan's order, so
            // annotations come in the order of the query.
            let mut batches = Vec::with_capacity(inputs.len());
            for (input, kind) in inputs.into_iter().zip(kinds) {
                batches.push((kind, input.try_collect::<Vec<RecordBatch>>().await?));
            }
            let compute = move || {
                ctx.check_deadline()?;
                op.apply_batches(&ctx, batches).and_then(|val| op.encode(val))
            };
            if inline {
                compute().map_err(into_df)
            } else {
                SpawnedTask::spawn_blocking(compute)
                    .join_unwind()
                    .await
                    .map_err(|e| DataFusionError::External(Box::new(e)))?
                    .map_err(into_df)
            }
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(self.op.schema(), output)))
    }
}

/// Marks the session of the synchronous entry points, which poll a plan
/// on a thread of their own: its operators run there. Elsewhere (a SQL
/// query's `promql(...)`, polled by the runtime's workers) they read
/// storage and compute whole series sets on the runtime's blocking pool.
#[derive(Debug)]
pub(crate) struct RunsInline;

/// A PromQL error crossing DataFusion; [`PromError::from`] takes it back.
pub(crate) fn into_df(e: PromError) -> DataFusionError {
    match e {
        PromError::Engine(e) => e,
        other => DataFusionError::External(Box::new(other)),
    }
}

/// Whether `node` is a [`PromNode`], for the extension planner.
pub(crate) fn as_prom_node(node: &dyn UserDefinedLogicalNode) -> Option<&PromNode> {
    node.as_any().downcast_ref::<PromNode>()
}
