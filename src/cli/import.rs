//! `chronicle import`: line protocol, CSV and Parquet files into a data
//! directory (embedded) or a server (`--server`, `POST /write`), in
//! batches, with a progress bar on stderr.
//!
//! - **Line protocol** (`.lp`, `.txt`, `.line`): parsed by
//!   [`chronicle::ingest::line_protocol`] a batch of lines at a time; the
//!   parser's line and column are offset to the file's line.
//! - **CSV** (`.csv`): a header row; the time column (`--time-column`,
//!   default `time`) as RFC 3339 or integer nanoseconds, the `--tags`
//!   columns as tags (an empty cell: no tag), every other column a field
//!   (an empty cell: no value there). The measurement is `--measurement`,
//!   else the file's stem.
//! - **Parquet** (`.parquet`, `.pq`): the time column a timestamp (any
//!   unit) or integer nanoseconds, string columns tags, numeric and
//!   boolean columns fields (booleans as 1 and 0), as `chronicle export`
//!   writes them.
//!
//! Every error names the file and the line (Parquet: the row) it is about.
//! Batches are written as they fill, so an error stops the import with the
//! batches before it stored; the message says how many rows that was.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use chronicle::ingest::{self, Precision, arrow_rows};
use chronicle::{Config, Db, Row};
use datafusion::arrow::array::RecordBatch;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use indicatif::{ProgressBar, ProgressStyle};

use super::remote::Remote;
use super::units::parse_time;
use super::{CliError, data_dir};

/// A file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FileFormat {
    /// InfluxDB line protocol.
    Lp,
    /// CSV with a header row.
    Csv,
    /// Apache Parquet.
    Parquet,
}

impl FileFormat {
    /// The format a file's extension says.
    fn of(path: &Path) -> Option<FileFormat> {
        match path.extension()?.to_str()?.to_ascii_lowercase().as_str() {
            "lp" | "txt" | "line" => Some(FileFormat::Lp),
            "csv" => Some(FileFormat::Csv),
            "parquet" | "pq" => Some(FileFormat::Parquet),
            _ => None,
        }
    }
}

/// The arguments of `chronicle import`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// Files to import, in order.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The files' format; by default from each extension (.lp .txt .line,
    /// .csv, .parquet .pq).
    #[arg(long, value_enum)]
    pub format: Option<FileFormat>,
    /// Measurement of CSV and Parquet rows [default: the file's stem].
    #[arg(long)]
    pub measurement: Option<String>,
    /// CSV columns that are tags (comma-separated); the other columns but
    /// the time are fields.
    #[arg(long, value_delimiter = ',', value_name = "COLUMNS")]
    pub tags: Vec<String>,
    /// The time column of CSV and Parquet files.
    #[arg(long, default_value = "time", value_name = "COLUMN")]
    pub time_column: String,
    /// Unit of line-protocol timestamps: ns, us, ms, s, m or h.
    #[arg(long, default_value = "ns", value_parser = parse_precision)]
    pub precision: Precision,
    /// Rows per write.
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..))]
    pub batch_size: u32,
    /// Data directory to import into (created if missing).
    #[arg(long, env = "CHRONICLE_DATA_DIR", default_value = "data", value_name = "DIR")]
    pub data_dir: PathBuf,
    /// Send the rows to this server instead (POST /write, line protocol).
    #[arg(long, env = "CHRONICLE_SERVER", value_name = "URL")]
    pub server: Option<String>,
    /// Bearer token for --server.
    #[arg(long, env = "CHRONICLE_TOKEN", hide_env_values = true, value_name = "TOKEN")]
    pub token: Option<String>,
}

fn parse_precision(text: &str) -> Result<Precision, String> {
    text.parse().map_err(|_| format!("{text:?} is not a precision (ns, us, ms, s, m or h)"))
}

/// Imports every file; prints what was imported on stderr.
pub fn run(args: ImportArgs) -> Result<(), CliError> {
    let formats = args
        .files
        .iter()
        .map(|f| {
            args.format.or_else(|| FileFormat::of(f)).ok_or_else(|| {
                CliError::Usage(format!("{}: unknown extension; give --format lp, csv or parquet", f.display()))
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let mut sink = match &args.server {
        Some(url) => Sink::Server(Remote::new(url, args.token.clone())?),
        None => Sink::Db(data_dir::open_or_create(&args.data_dir, Config::default())?),
    };
    let mut total = Totals::default();
    let mut result = Ok(());
    for (file, format) in args.files.iter().zip(formats) {
        let mut import = Import { args: &args, file, sink: &mut sink, totals: &mut total, lines: Vec::new() };
        result = match format {
            FileFormat::Lp => import.line_protocol(),
            FileFormat::Csv => import.csv(),
            FileFormat::Parquet => import.parquet(),
        };
        if result.is_err() {
            break;
        }
    }
    let closed = sink.close();
    let summary = format!("{} rows ({} points)", total.rows, total.points);
    match result.and(closed) {
        Ok(()) => {
            eprintln!("imported {summary} from {} file(s)", total.files);
            if total.skipped > 0 {
                eprintln!("skipped {} CSV rows without any field value", total.skipped);
            }
            Ok(())
        }
        Err(CliError::Failed(message)) => Err(CliError::Failed(format!("{message} (imported before: {summary})"))),
        Err(e) => Err(e),
    }
}

/// What was imported.
#[derive(Debug, Default)]
struct Totals {
    rows: u64,
    points: u64,
    files: u64,
    skipped: u64,
}

/// Where rows go.
enum Sink {
    Db(Db),
    Server(Remote),
}

impl Sink {
    /// Writes `rows`; a row refused by the database is reported by its index.
    fn write(&mut self, rows: &[Row]) -> Result<(), WriteError> {
        match self {
            Sink::Db(db) => db.write_rows(rows).map_err(|e| match e {
                chronicle::Error::InvalidRow { row, source } => WriteError::Row(row, source.to_string()),
                e => WriteError::Other(CliError::Db(e)),
            }),
            Sink::Server(server) => {
                let body = to_line_protocol(rows).map_err(|(row, why)| WriteError::Row(row, why))?;
                server
                    .post("/write?precision=ns", "text/plain; charset=utf-8", &body)
                    .map(drop)
                    .map_err(WriteError::Other)
            }
        }
    }

    fn close(self) -> Result<(), CliError> {
        match self {
            Sink::Db(db) => {
                let flushed = db.flush();
                db.close()?;
                Ok(flushed?)
            }
            Sink::Server(_) => Ok(()),
        }
    }
}

enum WriteError {
    /// Row `.0` of the batch was refused, because of `.1`.
    Row(usize, String),
    Other(CliError),
}

/// One file being imported.
struct Import<'a> {
    args: &'a ImportArgs,
    file: &'a Path,
    sink: &'a mut Sink,
    totals: &'a mut Totals,
    /// Where each row of the batch being written comes from: a line (or a
    /// Parquet row) number.
    lines: Vec<u64>,
}

impl Import<'_> {
    fn open(&self) -> Result<File, CliError> {
        File::open(self.file).map_err(CliError::io(self.file))
    }

    /// A failure at `line` of the file (`what` is "line" or "row").
    fn at(&self, what: &str, line: u64, message: impl std::fmt::Display) -> CliError {
        CliError::Failed(format!("{}: {what} {line}: {message}", self.file.display()))
    }

    /// A bar on stderr (hidden when stderr is not a terminal) counting
    /// `len` bytes, or rows when `rows` is set.
    fn progress(&self, len: u64, rows: bool) -> ProgressBar {
        let bar = ProgressBar::new(len);
        let template = if rows {
            "{msg} [{bar:30}] {human_pos}/{human_len} rows ({eta})"
        } else {
            "{msg} [{bar:30}] {bytes}/{total_bytes} ({eta})"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar.set_message(self.file.display().to_string());
        bar
    }

    /// Writes `rows`, whose sources are `self.lines`.
    fn write(&mut self, rows: &[Row], what: &str) -> Result<(), CliError> {
        if rows.is_empty() {
            return Ok(());
        }
        match self.sink.write(rows) {
            Ok(()) => {
                self.totals.rows += rows.len() as u64;
                self.totals.points += rows.iter().map(|r| r.fields.len() as u64).sum::<u64>();
                Ok(())
            }
            Err(WriteError::Row(i, why)) => Err(self.at(what, self.lines.get(i).copied().unwrap_or(0), why)),
            Err(WriteError::Other(e)) => Err(e),
        }
    }

    fn line_protocol(&mut self) -> Result<(), CliError> {
        let file = self.open()?;
        let bar = self.progress(file.metadata().map_or(0, |m| m.len()), false);
        let mut reader = BufReader::new(file);
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64);
        let batch = self.args.batch_size as usize;
        let mut chunk = Vec::new();
        let mut first_line: u64 = 1;
        let mut lines_in_chunk: u64 = 0;
        loop {
            let read = reader.read_until(b'\n', &mut chunk).map_err(CliError::io(self.file))?;
            if read > 0 {
                lines_in_chunk += 1;
                bar.inc(read as u64);
            }
            if (read == 0 && !chunk.is_empty()) || lines_in_chunk as usize >= batch {
                let rows = ingest::line_protocol::parse(&chunk, self.args.precision, now).map_err(|e| match e {
                    ingest::Error::Line { line, column, message } => {
                        self.at("line", first_line + line as u64 - 1, format_args!("column {column}: {message}"))
                    }
                    e => self.at("line", first_line, e),
                })?;
                self.lines = line_numbers(&chunk, first_line);
                self.write(&rows, "line")?;
                first_line += lines_in_chunk;
                lines_in_chunk = 0;
                chunk.clear();
            }
            if read == 0 {
                break;
            }
        }
        bar.finish_and_clear();
        self.totals.files += 1;
        Ok(())
    }

    fn measurement(&self) -> Result<String, CliError> {
        match &self.args.measurement {
            Some(m) => Ok(m.clone()),
            None => self.file.file_stem().and_then(|s| s.to_str()).map(str::to_owned).ok_or_else(|| {
                CliError::Usage(format!(
                    "{}: no file stem to name the measurement; give --measurement",
                    self.file.display()
                ))
            }),
        }
    }

    fn csv(&mut self) -> Result<(), CliError> {
        let measurement = self.measurement()?;
        let file = self.open()?;
        let bar = self.progress(file.metadata().map_or(0, |m| m.len()), false);
        let mut reader = csv::ReaderBuilder::new().has_headers(true).from_reader(file);
        let header = reader.headers().map_err(|e| self.at("line", 1, e))?.clone();
        let column = |name: &str| header.iter().position(|h| h == name);
        let time = column(&self.args.time_column).ok_or_else(|| {
            self.at("line", 1, format_args!("no column {:?} in the header (see --time-column)", self.args.time_column))
        })?;
        let tags = self
            .args
            .tags
            .iter()
            .map(|t| column(t).ok_or_else(|| self.at("line", 1, format_args!("no tag column {t:?} in the header"))))
            .collect::<Result<Vec<usize>, _>>()?;
        let fields: Vec<usize> = (0..header.len()).filter(|i| *i != time && !tags.contains(i)).collect();
        let mut rows = Vec::new();
        self.lines.clear();
        let mut record = csv::StringRecord::new();
        loop {
            let more = reader.read_record(&mut record).map_err(|e| {
                let line = e.position().map_or(0, |p| p.line());
                self.at("line", line, e)
            })?;
            if !more {
                break;
            }
            let line = record.position().map_or(0, |p| p.line());
            let cell = |i: usize| record.get(i).unwrap_or("");
            let timestamp = parse_time(cell(time))
                .map_err(|e| self.at("line", line, format_args!("column {:?}: {e}", header[time].to_owned())))?;
            let mut row = Row::new(measurement.as_str(), timestamp);
            for &t in &tags {
                if !cell(t).is_empty() {
                    row = row.with_tag(&header[t], cell(t));
                }
            }
            for &f in &fields {
                let text = cell(f).trim();
                if text.is_empty() {
                    continue;
                }
                let value: f64 = text.parse().map_err(|_| {
                    self.at("line", line, format_args!("column {:?}: {text:?} is not a number", &header[f]))
                })?;
                row = row.with_field(&header[f], value);
            }
            if row.fields.is_empty() {
                self.totals.skipped += 1;
                continue;
            }
            rows.push(row);
            self.lines.push(line);
            if rows.len() >= self.args.batch_size as usize {
                self.write(&rows, "line")?;
                rows.clear();
                self.lines.clear();
                bar.set_position(record.position().map_or(0, |p| p.byte()));
            }
        }
        self.write(&rows, "line")?;
        bar.finish_and_clear();
        self.totals.files += 1;
        Ok(())
    }

    fn parquet(&mut self) -> Result<(), CliError> {
        let measurement = self.measurement()?;
        let not_parquet = |e: datafusion::parquet::errors::ParquetError| {
            CliError::Failed(format!("{}: not a readable Parquet file: {e}", self.file.display()))
        };
        let builder = ParquetRecordBatchReaderBuilder::try_new(self.open()?).map_err(not_parquet)?;
        let total = u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap_or(0);
        let reader = builder.with_batch_size(self.args.batch_size as usize).build().map_err(not_parquet)?;
        let bar = self.progress(total, true);
        let mut first_row: u64 = 1;
        for batch in reader {
            let batch = batch.map_err(|e| self.at("row", first_row, e))?;
            let rows = self.parquet_rows(&batch, &measurement, first_row)?;
            self.lines = (first_row..first_row + batch.num_rows() as u64).collect();
            self.write(&rows, "row")?;
            first_row += batch.num_rows() as u64;
            bar.inc(batch.num_rows() as u64);
        }
        bar.finish_and_clear();
        self.totals.files += 1;
        Ok(())
    }

    /// The rows of one Parquet batch whose first row is row `first` of the
    /// file (the library's Arrow-to-rows mapping, as Flight SQL ingest uses).
    fn parquet_rows(&self, batch: &RecordBatch, measurement: &str, first: u64) -> Result<Vec<Row>, CliError> {
        arrow_rows::rows_at(measurement, &self.args.time_column, first as usize, batch)
            .map_err(|e| CliError::Failed(format!("{}: {e}", self.file.display())))
    }
}

/// The file line of each row `line_protocol::parse` returns for `chunk`
/// (whose first line is `first`): lines that are not blank or comments.
fn line_numbers(chunk: &[u8], first: u64) -> Vec<u64> {
    chunk
        .split(|&b| b == b'\n')
        .enumerate()
        .filter(|(_, line)| {
            let content = line.trim_ascii_start();
            !content.is_empty() && content.first() != Some(&b'#')
        })
        .map(|(i, _)| first + i as u64)
        .collect()
}

/// Rows as line protocol with nanosecond timestamps; a field that line
/// protocol cannot carry (NaN, infinity) is refused with its row index.
fn to_line_protocol(rows: &[Row]) -> Result<Vec<u8>, (usize, String)> {
    use std::fmt::Write;
    let mut out = String::new();
    for (i, row) in rows.iter().enumerate() {
        escape(&mut out, &row.measurement, &[',', ' ']);
        for (k, v) in &row.tags {
            out.push(',');
            escape(&mut out, k, &[',', '=', ' ']);
            out.push('=');
            escape(&mut out, v, &[',', '=', ' ']);
        }
        for (j, (name, value)) in row.fields.iter().enumerate() {
            if !value.is_finite() {
                return Err((i, format!("field {name:?} is {value}, which line protocol cannot carry")));
            }
            out.push(if j == 0 { ' ' } else { ',' });
            escape(&mut out, name, &[',', '=', ' ']);
            // `{}` of an f64 is the shortest text that reads back to it.
            let _ = write!(out, "={value}");
        }
        let _ = writeln!(out, " {}", row.timestamp);
    }
    Ok(out.into_bytes())
}

/// Appends `text` with a backslash before each of `special` (and before
/// a backslash that would otherwise escape one).
fn escape(out: &mut String, text: &str, special: &[char]) {
    for c in text.chars() {
        if special.contains(&c) || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "a test fails loudly on an unexpected error")]

    use super::*;

    #[test]
    fn rows_to_line_protocol_parse_back_to_the_same_rows() {
        let rows = vec![
            Row::new("cpu", 1_767_225_600_000_000_001)
                .with_tag("host", "a=b,c d\\e")
                .with_tag("dc", "eu west")
                .with_field("user", 0.1)
                .with_field("idle", -2.5e-300),
            Row::new("m", -5).with_field("v", 1e21),
        ];
        let text = to_line_protocol(&rows).unwrap();
        let parsed = ingest::line_protocol::parse(&text, Precision::Nanoseconds, 0).unwrap();
        assert_eq!(parsed, rows, "{}", String::from_utf8_lossy(&text));
        let bad = [Row::new("m", 0).with_field("v", 1.0), Row::new("m", 0).with_field("v", f64::NAN)];
        assert_eq!(to_line_protocol(&bad).unwrap_err().0, 1);
    }

    #[test]
    fn line_numbers_skip_blanks_and_comments() {
        let chunk = b"# header\ncpu v=1 1\n\n  \ncpu v=2 2\n\t# note\ncpu v=3 3\n";
        assert_eq!(line_numbers(chunk, 10), [11, 14, 16]);
        assert_eq!(ingest::line_protocol::parse(chunk, Precision::Nanoseconds, 0).unwrap().len(), 3);
    }
}
