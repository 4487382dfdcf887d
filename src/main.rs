//! The `chronicle` command line: built with the `cli` cargo feature (on by
//! default), so the library alone never compiles clap. Each subcommand
//! lives in `cli/`; this file parses the command line, runs one, and turns
//! its outcome into the exit code (0 done, 1 failed, 2 usage or settings).

mod cli;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use cli::CliError;

/// Chronicle: a time-series database on Apache Arrow and DataFusion.
#[derive(Debug, Parser)]
#[command(name = "chronicle", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
#[allow(clippy::large_enum_variant, reason = "parsed once per run; boxing buys nothing")]
enum Command {
    /// Serve a data directory over HTTP (InfluxDB and Prometheus APIs) and Arrow Flight SQL until SIGINT or SIGTERM.
    Serve(cli::config::ServeArgs),
    /// Run a SQL or dialect query against a data directory or a server.
    Query(cli::query::QueryArgs),
    /// Import line protocol, CSV or Parquet files.
    Import(cli::import::ImportArgs),
    /// Export a measurement or a query's result as Parquet, to a path or s3://.
    Export(cli::export::ExportArgs),
    /// Show what a data directory holds: partitions, series, points, bytes/point, encodings, recovery.
    Inspect(cli::inspect::InspectArgs),
    /// Run a Ballista scheduler or executor with Chronicle's functions, or SQL on one over a cold tier.
    #[cfg(feature = "ballista")]
    Ballista(cli::ballista::BallistaArgs),
}

fn main() -> ExitCode {
    let matches = Cli::command().get_matches();
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => e.exit(),
    };
    let outcome = match cli.command {
        Command::Serve(args) => match matches.subcommand_matches("serve") {
            Some(serve) => cli::serve::run(&args, serve),
            None => Err(CliError::Usage("serve: no arguments parsed".into())),
        },
        Command::Query(args) => {
            cli::logging::init(&Default::default(), "warn");
            cli::query::run(args)
        }
        Command::Import(args) => {
            cli::logging::init(&Default::default(), "warn");
            cli::import::run(args)
        }
        Command::Export(args) => {
            cli::logging::init(&Default::default(), "warn");
            cli::export::run(args)
        }
        Command::Inspect(args) => {
            cli::logging::init(&Default::default(), "warn");
            cli::inspect::run(args)
        }
        #[cfg(feature = "ballista")]
        Command::Ballista(args) => cli::ballista::run(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
