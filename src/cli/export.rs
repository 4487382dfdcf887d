//! `chronicle export`: a measurement (or a SQL query's result) in a time
//! range, as one Parquet file at a path or an `s3://bucket/key` URL,
//! through the library's [`Db::export_parquet_with`](chronicle::Db::export_parquet_with).
//!
//! Times on the command line are RFC 3339 (`2026-01-01T00:00:00Z`) or
//! integer nanoseconds since the epoch; the range includes both ends, as
//! the library's does.

use std::path::PathBuf;

use chronicle::{ExportOptions, ExportSource};

use super::units::parse_time;
use super::{CliError, data_dir};

/// The arguments of `chronicle export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Where to write: a file path, file:// or s3://bucket/key (credentials
    /// and endpoint from the AWS_* environment, or --storage-option).
    pub destination: String,
    /// The measurement to export, every column, sorted by tags then time.
    #[arg(long, required_unless_present = "sql", conflicts_with = "sql")]
    pub measurement: Option<String>,
    /// Export the result of this SQL query instead of a measurement.
    #[arg(long)]
    pub sql: Option<String>,
    /// First time included: RFC 3339 or nanoseconds since the epoch.
    #[arg(long, value_parser = parse_time)]
    pub start: Option<i64>,
    /// Last time included: RFC 3339 or nanoseconds since the epoch.
    #[arg(long, value_parser = parse_time)]
    pub end: Option<i64>,
    /// An object-store option over the environment's, KEY=VALUE (e.g.
    /// aws_endpoint=http://127.0.0.1:9000); repeatable.
    #[arg(long = "storage-option", value_name = "KEY=VALUE", value_parser = parse_option)]
    pub storage_options: Vec<(String, String)>,
    /// Data directory to export from.
    #[arg(long, env = "CHRONICLE_DATA_DIR", default_value = "data", value_name = "DIR")]
    pub data_dir: PathBuf,
}

fn parse_option(text: &str) -> Result<(String, String), String> {
    text.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())).ok_or_else(|| format!("{text:?} is not KEY=VALUE"))
}

/// Runs the export; prints the rows written.
pub fn run(args: ExportArgs) -> Result<(), CliError> {
    if let (Some(start), Some(end)) = (args.start, args.end)
        && start > end
    {
        return Err(CliError::Usage(format!("--start ({start}) is after --end ({end})")));
    }
    let range = (args.start.is_some() || args.end.is_some())
        .then(|| (args.start.unwrap_or(i64::MIN), args.end.unwrap_or(i64::MAX)));
    let source = match (&args.measurement, &args.sql) {
        (Some(m), _) => ExportSource::Measurement(m),
        (None, Some(sql)) => ExportSource::Query(sql),
        (None, None) => return Err(CliError::Usage("give --measurement or --sql".into())),
    };
    let options = args
        .storage_options
        .iter()
        .fold(ExportOptions::new(), |o, (k, v)| o.with_storage_option(k.as_str(), v.as_str()));
    let db = data_dir::open_existing(&args.data_dir)?;
    if let ExportSource::Measurement(m) = source
        && !db.has_measurement(m)?
    {
        db.close()?;
        return Err(CliError::Failed(format!("no measurement {m:?} in {}", args.data_dir.display())));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Failed(format!("cannot start the async runtime: {e}")))?;
    let written = runtime.block_on(db.export_parquet_with(source, range, &args.destination, &options));
    db.close()?;
    let rows = written?;
    eprintln!("exported {rows} rows to {}", args.destination);
    Ok(())
}
