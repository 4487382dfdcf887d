//! A Ballista cluster that knows Chronicle's functions: the scheduler, the
//! executors and the client session, each with the same function registry.
//!
//! `run_*` serve until the process is stopped (the `chronicle ballista`
//! commands); `spawn_*` start the same servers as tasks of the current
//! runtime on loopback ports the system picks (tests, a single machine).
//!
//! Scheduling is pull-based: executors ask the scheduler for tasks, so the
//! scheduler never connects to an executor and an executor needs one port
//! (its Flight service, which other executors and the client read results
//! from).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use ballista::prelude::SessionContextExt;
use ballista_core::config::TaskSchedulingPolicy;
use ballista_core::extension::SessionConfigExt;
use ballista_core::registry::BallistaFunctionRegistry;
use ballista_core::serde::BallistaCodec;
use ballista_core::serde::protobuf::scheduler_grpc_client::SchedulerGrpcClient;
use ballista_core::utils::{default_config_producer, default_session_builder};
use ballista_executor::executor_process::{ExecutorProcessConfig, start_executor_process};
use ballista_scheduler::cluster::BallistaCluster;
use ballista_scheduler::config::SchedulerConfig;
use ballista_scheduler::scheduler_process::{create_scheduler, start_grpc_service_with_listener};
use datafusion::execution::SessionState;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion_proto::protobuf::{LogicalPlanNode, PhysicalPlanNode};
use tokio::net::TcpListener;

use super::{Error, Result};

/// How long [`connect`] waits for the scheduler to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Where a scheduler listens.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SchedulerOptions {
    /// The address of its gRPC service (port 0: any free port).
    pub bind: SocketAddr,
    /// The host name executors and clients reach it by; the bind address's
    /// host by default.
    pub external_host: Option<String>,
}

impl SchedulerOptions {
    /// A scheduler listening on `bind`.
    pub fn new(bind: SocketAddr) -> Self {
        Self { bind, external_host: None }
    }
}

/// Where an executor listens and which scheduler it serves.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ExecutorOptions {
    /// The scheduler's `host:port`.
    pub scheduler: (String, u16),
    /// The host its Flight service (shuffle reads) binds to.
    pub bind_host: String,
    /// The port of its Flight service.
    pub port: u16,
    /// The host name the scheduler and other executors reach it by; the
    /// bind host by default.
    pub external_host: Option<String>,
    /// Tasks it runs at once; 0 for one per CPU core.
    pub concurrent_tasks: usize,
    /// Where it writes shuffle files; a temporary directory by default.
    pub work_dir: Option<String>,
}

impl ExecutorOptions {
    /// An executor of the scheduler at `host:port` on Ballista's default
    /// port (50051) of 127.0.0.1.
    pub fn new(scheduler_host: impl Into<String>, scheduler_port: u16) -> Self {
        Self {
            scheduler: (scheduler_host.into(), scheduler_port),
            bind_host: "127.0.0.1".into(),
            port: 50051,
            external_host: None,
            concurrent_tasks: 0,
            work_dir: None,
        }
    }
}

/// `state` with the functions of `chronicle-udfs` registered beside the
/// ones it has.
pub fn with_chronicle_functions(state: SessionState) -> SessionState {
    let ctx = SessionContext::new_with_state(state);
    chronicle_udfs::register_all(&ctx);
    ctx.state()
}

/// The functions an executor resolves plan functions by: Ballista's
/// defaults and Chronicle's.
pub fn function_registry() -> Result<BallistaFunctionRegistry> {
    let state = default_session_builder(default_config_producer())?;
    Ok(BallistaFunctionRegistry::from(&with_chronicle_functions(state)))
}

/// The scheduler's session for each client session: Ballista's defaults
/// with Chronicle's functions, so plans that call them decode.
fn scheduler_session(config: SessionConfig) -> datafusion::error::Result<SessionState> {
    Ok(with_chronicle_functions(default_session_builder(config)?))
}

/// Runs a scheduler until the process is stopped.
pub async fn run_scheduler(options: &SchedulerOptions) -> Result<()> {
    let listener = TcpListener::bind(options.bind)
        .await
        .map_err(|e| Error::InvalidArgument(format!("cannot listen on {}: {e}", options.bind)))?;
    serve_scheduler(listener, options.external_host.clone()).await
}

/// Starts a scheduler on `bind` as a task of the current runtime and
/// returns the address it listens on.
pub async fn spawn_scheduler(bind: SocketAddr) -> Result<SocketAddr> {
    let listener =
        TcpListener::bind(bind).await.map_err(|e| Error::InvalidArgument(format!("cannot listen on {bind}: {e}")))?;
    let address = listener.local_addr().map_err(|e| Error::InvalidArgument(e.to_string()))?;
    tokio::spawn(async move {
        if let Err(e) = serve_scheduler(listener, None).await {
            tracing::error!(error = %e, "the Ballista scheduler stopped");
        }
    });
    Ok(address)
}

async fn serve_scheduler(listener: TcpListener, external_host: Option<String>) -> Result<()> {
    let failed = |source| Error::Ballista { role: "scheduler", source };
    let address = listener.local_addr().map_err(|e| Error::InvalidArgument(e.to_string()))?;
    let config = SchedulerConfig {
        bind_host: address.ip().to_string(),
        bind_port: address.port(),
        external_host: external_host.unwrap_or_else(|| address.ip().to_string()),
        scheduling_policy: TaskSchedulingPolicy::PullStaged,
        override_session_builder: Some(Arc::new(scheduler_session)),
        ..Default::default()
    };
    let cluster = BallistaCluster::new_from_config(&config).await.map_err(failed)?;
    let scheduler =
        create_scheduler::<LogicalPlanNode, PhysicalPlanNode>(cluster, Arc::new(config)).await.map_err(failed)?;
    tracing::info!(%address, "Ballista scheduler listening");
    start_grpc_service_with_listener(listener, scheduler).await.map_err(failed)
}

/// Runs an executor until the process is stopped (or its scheduler stops it).
pub async fn run_executor(options: &ExecutorOptions) -> Result<()> {
    let (scheduler_host, scheduler_port) = options.scheduler.clone();
    let config = ExecutorProcessConfig {
        bind_host: options.bind_host.clone(),
        external_host: options.external_host.clone(),
        port: options.port,
        task_scheduling_policy: TaskSchedulingPolicy::PullStaged,
        scheduler_host,
        scheduler_port,
        vcores: match options.concurrent_tasks {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        },
        work_dir: options.work_dir.clone(),
        override_function_registry: Some(Arc::new(function_registry()?)),
        ..Default::default()
    };
    start_executor_process(Arc::new(config)).await.map_err(|source| Error::Ballista { role: "executor", source })
}

/// Starts an executor of the scheduler at `scheduler` as tasks of the
/// current runtime, on loopback ports the system picks, running
/// `concurrent_tasks` tasks at once.
pub async fn spawn_executor(scheduler: SocketAddr, concurrent_tasks: usize) -> Result<()> {
    let client = scheduler_client(&format!("http://{scheduler}")).await?;
    let runtime: ballista_core::RuntimeProducer = Arc::new(|_| Ok(Arc::new(RuntimeEnvBuilder::new().build()?)));
    ballista_executor::new_standalone_executor_from_builder(
        client,
        concurrent_tasks.max(1),
        Arc::new(default_config_producer),
        runtime,
        BallistaCodec::default(),
        function_registry()?,
    )
    .await
    .map_err(|source| Error::Ballista { role: "executor", source })
}

/// A client session of the scheduler at `df://host:port`, with Chronicle's
/// functions; its queries run on the cluster. Fails when the scheduler
/// does not accept a connection within 10 seconds.
pub async fn connect(scheduler: &str) -> Result<SessionContext> {
    let address = scheduler.strip_prefix("df://").map(|a| a.trim_end_matches('/')).filter(|a| !a.is_empty());
    let Some(address) = address else {
        return Err(Error::InvalidArgument(format!(
            "the scheduler `{scheduler}` is not a df://host:port URL (e.g. df://127.0.0.1:50050)"
        )));
    };
    scheduler_client(&format!("http://{address}")).await.map_err(|e| match e {
        Error::Unreachable { detail, .. } => Error::Unreachable { url: scheduler.to_string(), detail },
        other => other,
    })?;
    let config = SessionConfig::new_with_ballista();
    let state = SessionStateBuilder::new().with_default_features().with_config(config).build();
    let ctx = SessionContext::remote_with_state(scheduler, state).await?;
    // Ballista's upgrade of the state replaces its functions with Ballista's
    // defaults: Chronicle's are registered on the result.
    chronicle_udfs::register_all(&ctx);
    Ok(ctx)
}

/// A gRPC client of the scheduler at `endpoint` (`http://host:port`).
async fn scheduler_client(endpoint: &str) -> Result<SchedulerGrpcClient<tonic::transport::Channel>> {
    let unreachable = |detail: String| Error::Unreachable { url: endpoint.to_string(), detail };
    match tokio::time::timeout(CONNECT_TIMEOUT, SchedulerGrpcClient::connect(endpoint.to_string())).await {
        Ok(Ok(client)) => Ok(client),
        Ok(Err(e)) => Err(unreachable(error_chain(&e))),
        Err(_) => Err(unreachable(format!("no connection within {} s", CONNECT_TIMEOUT.as_secs()))),
    }
}

/// `e` and its causes, `: `-separated (tonic's own message is only "transport error").
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    std::iter::successors(Some(e), |e| e.source()).map(ToString::to_string).collect::<Vec<_>>().join(": ")
}
