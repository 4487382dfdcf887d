//! `chronicle ballista`: a Ballista cluster over the cold tier (cargo
//! feature `ballista`).
//!
//! ```text
//! scheduler  --bind HOST:PORT                 ─▶ chronicle::ballista::run_scheduler (until stopped)
//! executor   --scheduler HOST:PORT [--bind..] ─▶ chronicle::ballista::run_executor (until stopped)
//! query      --scheduler df://H:P --tier URL  ─▶ connect ─▶ register_tier ─▶ SQL ─▶ table, CSV, JSON
//! ```
//! Schedulers and executors carry Chronicle's functions, so SQL run on the
//! cluster may call them (`spread`, `rate`, `derivative`, ...).

use std::net::SocketAddr;

use chronicle::ExportOptions;
use chronicle::ballista::{self, ExecutorOptions, SchedulerOptions};
use futures::StreamExt;

use super::CliError;
use super::query::{Format, Printer};

/// The arguments of `chronicle ballista`.
#[derive(Debug, clap::Args)]
pub struct BallistaArgs {
    #[command(subcommand)]
    command: BallistaCommand,
}

#[derive(Debug, clap::Subcommand)]
enum BallistaCommand {
    /// Run a Ballista scheduler with Chronicle's functions until stopped.
    Scheduler(SchedulerArgs),
    /// Run a Ballista executor with Chronicle's functions until stopped.
    Executor(ExecutorArgs),
    /// Run SQL on a Ballista cluster over a cold tier's measurements.
    Query(QueryArgs),
}

#[derive(Debug, clap::Args)]
struct SchedulerArgs {
    /// Address of the scheduler's gRPC service.
    #[arg(long, default_value = "127.0.0.1:50050", value_name = "HOST:PORT")]
    bind: SocketAddr,
    /// Host name executors and clients reach the scheduler by (default: the bind host).
    #[arg(long, value_name = "HOST")]
    external_host: Option<String>,
}

#[derive(Debug, clap::Args)]
struct ExecutorArgs {
    /// The scheduler to serve.
    #[arg(long, default_value = "127.0.0.1:50050", value_name = "HOST:PORT")]
    scheduler: String,
    /// Host the executor's services bind to.
    #[arg(long, default_value = "127.0.0.1", value_name = "HOST")]
    bind_host: String,
    /// Port of the executor's Flight service (shuffle reads).
    #[arg(long, default_value_t = 50051)]
    port: u16,
    /// Host name the scheduler and other executors reach this one by (default: the bind host).
    #[arg(long, value_name = "HOST")]
    external_host: Option<String>,
    /// Tasks run at once; 0 for one per CPU core.
    #[arg(long, default_value_t = 0)]
    concurrent_tasks: usize,
    /// Directory for shuffle files (default: a temporary directory).
    #[arg(long, value_name = "DIR")]
    work_dir: Option<String>,
}

#[derive(Debug, clap::Args)]
struct QueryArgs {
    /// SQL over the tier's measurements, one table each (SELECT max(usage_user) FROM cpu).
    query: String,
    /// The scheduler.
    #[arg(long, default_value = "df://127.0.0.1:50050", value_name = "URL")]
    scheduler: String,
    /// The cold tier: file:///dir, or s3://bucket/prefix (where every executor reaches it).
    #[arg(long, value_name = "URL")]
    tier: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// Runs the subcommand; servers log at `info` (where they listen), a
/// query at `warn` (stdout is its result), unless `RUST_LOG` says otherwise.
pub fn run(args: BallistaArgs) -> Result<(), CliError> {
    let level = if matches!(args.command, BallistaCommand::Query(_)) { "warn" } else { "info" };
    super::logging::init(&Default::default(), level);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        match args.command {
            BallistaCommand::Scheduler(a) => {
                let mut options = SchedulerOptions::new(a.bind);
                options.external_host = a.external_host;
                ballista::run_scheduler(&options).await.map_err(failed)
            }
            BallistaCommand::Executor(a) => {
                let (host, port) = a.scheduler.rsplit_once(':').unwrap_or((&a.scheduler, "50050"));
                let port = port.parse().map_err(|_| {
                    CliError::Usage(format!("--scheduler {:?}: expected HOST:PORT (127.0.0.1:50050)", a.scheduler))
                })?;
                let mut options = ExecutorOptions::new(host, port);
                options.bind_host = a.bind_host;
                options.port = a.port;
                options.external_host = a.external_host;
                options.concurrent_tasks = a.concurrent_tasks;
                options.work_dir = a.work_dir;
                ballista::run_executor(&options).await.map_err(failed)
            }
            BallistaCommand::Query(a) => query(a).await,
        }
    })
}

async fn query(args: QueryArgs) -> Result<(), CliError> {
    let ctx = ballista::connect(&args.scheduler).await.map_err(failed)?;
    let tables = ballista::register_tier(&ctx, &args.tier, &ExportOptions::new()).await.map_err(failed)?;
    if tables.is_empty() {
        return Err(CliError::Failed(format!("the tier {} holds no tiered measurement", args.tier)));
    }
    let stdout = std::io::stdout().lock();
    let mut out = Printer::new(args.format, std::io::BufWriter::new(stdout));
    let mut stream = ctx.sql(&args.query).await?.execute_stream().await?;
    out.schema(stream.schema());
    while let Some(batch) = stream.next().await {
        out.batch(&batch?)?;
    }
    out.finish()
}

/// A failure of the cluster or the query; a bad argument is a usage error.
fn failed(e: ballista::Error) -> CliError {
    match e {
        ballista::Error::InvalidArgument(message) => CliError::Usage(message),
        ballista::Error::Tier(e) => CliError::Db(e),
        other => CliError::Failed(other.to_string()),
    }
}
