//! `chronicle query`: runs SQL or a dialect query against a data directory
//! (embedded) or a server, and prints the result as a table, CSV or JSON.
//!
//! The language is `--lang`, or detected: text the dialect parser accepts
//! is dialect, anything else SQL (a server detects the same way when no
//! language is sent). CSV and JSON are written batch by batch as results
//! arrive; the table needs every row to size its columns. Times print as
//! RFC 3339 in every format.

use std::io::Write;
use std::path::PathBuf;

use chronicle::Db;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::util::pretty;
use futures::StreamExt;

use super::remote::Remote;
use super::{CliError, data_dir};

/// A query language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Lang {
    /// DataFusion SQL.
    Sql,
    /// The Chronicle dialect (InfluxQL-like).
    Chronicle,
}

impl Lang {
    /// The language of `text` when none is given.
    pub fn detect(text: &str) -> Lang {
        if chronicle::query::dialect::parse(text).is_ok() { Lang::Chronicle } else { Lang::Sql }
    }

    fn name(self) -> &'static str {
        match self {
            Lang::Sql => "sql",
            Lang::Chronicle => "chronicle",
        }
    }
}

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A boxed table.
    Table,
    /// CSV with a header row.
    Csv,
    /// A JSON array of objects, one per row (nulls left out).
    Json,
}

/// The arguments of `chronicle query`.
#[derive(Debug, clap::Args)]
pub struct QueryArgs {
    /// The query: SQL (SELECT max(usage_user) FROM cpu) or the dialect
    /// (SELECT mean(value) FROM cpu GROUP BY time(5m)); `-` reads it from stdin.
    pub query: String,
    /// The language; detected when absent (dialect if the dialect parser
    /// accepts the text, else SQL).
    #[arg(long, value_enum)]
    pub lang: Option<Lang>,
    /// Data directory to open (embedded; not while a server has it open).
    #[arg(long, env = "CHRONICLE_DATA_DIR", default_value = "data", value_name = "DIR")]
    pub data_dir: PathBuf,
    /// Query this server instead of a data directory (POST /query?format=arrow).
    #[arg(long, env = "CHRONICLE_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// Bearer token for --server.
    #[arg(long, env = "CHRONICLE_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// Runs the query and prints its result on stdout.
pub fn run(args: QueryArgs) -> Result<(), CliError> {
    let text = if args.query == "-" {
        std::io::read_to_string(std::io::stdin()).map_err(CliError::io("stdin"))?
    } else {
        args.query.clone()
    };
    let stdout = std::io::stdout().lock();
    let mut out = Printer::new(args.format, std::io::BufWriter::new(stdout));
    match &args.server {
        Some(url) => remote(&Remote::new(url, args.token.clone())?, &text, args.lang, &mut out)?,
        None => {
            let lang = args.lang.unwrap_or_else(|| Lang::detect(&text));
            let db = data_dir::open_existing(&args.data_dir)?;
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .map_err(|e| CliError::Failed(format!("cannot start the async runtime: {e}")))?;
            let result = runtime.block_on(embedded(&db, &text, lang, &mut out));
            db.close()?;
            result?;
        }
    }
    out.finish()
}

async fn embedded<W: Write>(db: &Db, text: &str, lang: Lang, out: &mut Printer<W>) -> Result<(), CliError> {
    match lang {
        Lang::Sql => {
            let mut stream = db.query_sql(text).await?;
            out.schema(stream.schema());
            while let Some(batch) = stream.next().await {
                out.batch(&batch?)?;
            }
        }
        Lang::Chronicle => {
            for batch in db.query_dialect(text).await? {
                out.schema(batch.schema());
                out.batch(&batch)?;
            }
        }
    }
    Ok(())
}

fn remote<W: Write>(server: &Remote, text: &str, lang: Option<Lang>, out: &mut Printer<W>) -> Result<(), CliError> {
    let mut body = serde_json::json!({ "query": text });
    if let Some(lang) = lang {
        body["lang"] = lang.name().into();
    }
    let response = server.post("/query?format=arrow", "application/json", body.to_string().as_bytes())?;
    let reader = StreamReader::try_new(response.into_body().into_reader(), None)
        .map_err(|e| CliError::Failed(format!("the server's answer is not an Arrow IPC stream: {e}")))?;
    out.schema(reader.schema());
    for batch in reader {
        out.batch(&batch.map_err(|e| CliError::Failed(format!("reading the server's Arrow stream: {e}")))?)?;
    }
    Ok(())
}

/// Writes batches in one format.
pub(super) enum Printer<W: Write> {
    Table { out: W, schema: Option<SchemaRef>, batches: Vec<RecordBatch> },
    Csv(Box<datafusion::arrow::csv::Writer<W>>),
    Json(datafusion::arrow::json::ArrayWriter<W>),
}

impl<W: Write> Printer<W> {
    pub(super) fn new(format: Format, out: W) -> Self {
        match format {
            Format::Table => Printer::Table { out, schema: None, batches: Vec::new() },
            Format::Csv => Printer::Csv(Box::new(datafusion::arrow::csv::Writer::new(out))),
            Format::Json => Printer::Json(datafusion::arrow::json::ArrayWriter::new(out)),
        }
    }

    /// The result's schema, so an empty result still prints its header.
    pub(super) fn schema(&mut self, result: SchemaRef) {
        if let Printer::Table { schema, .. } = self {
            schema.get_or_insert(result);
        }
    }

    pub(super) fn batch(&mut self, batch: &RecordBatch) -> Result<(), CliError> {
        match self {
            Printer::Table { batches, .. } => batches.push(batch.clone()),
            Printer::Csv(w) => w.write(batch)?,
            Printer::Json(w) => w.write(batch)?,
        }
        Ok(())
    }

    pub(super) fn finish(self) -> Result<(), CliError> {
        let mut out = match self {
            Printer::Table { mut out, schema, batches } => {
                let table = match schema {
                    Some(schema) => pretty::pretty_format_batches_with_schema(schema, &batches)?.to_string(),
                    // A dialect query with no rows has no columns either.
                    None => "(no rows)".to_owned(),
                };
                writeln!(out, "{table}").map_err(CliError::io("stdout"))?;
                out
            }
            Printer::Csv(w) => w.into_inner(),
            Printer::Json(mut w) => {
                w.finish()?;
                let mut out = w.into_inner();
                writeln!(out).map_err(CliError::io("stdout"))?;
                out
            }
        };
        out.flush().map_err(CliError::io("stdout"))
    }
}
