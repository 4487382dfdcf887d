//! Wire formats -> [`Row`](crate::Row)s: parsing only, no I/O.
//!
//! Each protocol is parsed here once, and every transport (the HTTP API,
//! `chronicle import`, Flight) hands the rows to
//! [`Db::write_rows`](crate::Db::write_rows):
//!
//! | format | module | rows |
//! |--------|--------|------|
//! | InfluxDB line protocol | [`line_protocol`] | one per line: its measurement, tags and fields (integers and booleans as floats) |
//! | JSON points `{"points":[...]}` | [`json`] | one per point: `metric{tags}`, field `value` |
//! | Prometheus remote write 1.0 | [`remote_write`] | one per sample: `__name__{labels}`, field `value`, ms -> ns |
//! | OTLP metrics (protobuf, JSON) | [`otlp`] | one per Prometheus sample, named as Prometheus's OTLP translation names them, field `value` |
//! | Arrow record batches (Flight SQL bulk ingest) | [`arrow_rows`] | one per row with a field value: `time`, string columns as tags, numeric and boolean columns as fields |
//!
//! [`remote_read`] decodes Prometheus remote read requests and encodes
//! their answers; [`prompb`] holds the Prometheus messages and [`snappy`]
//! their block compression.
//!
//! Shared rules:
//! - **All or nothing.** A body parses completely or fails with one
//!   [`Error`]; no caller ever sees the rows of half a body.
//! - **Errors say where.** Line protocol names the line and byte column;
//!   structured formats name the item by its path in the body
//!   (`points[3].value`, `timeseries[2].labels[0]`); undecodable bodies say
//!   which decoder refused them and why.
//! - **Names are checked here** with Chronicle's rules ([`crate::model`]),
//!   so an error points into the body; the database checks them again. The
//!   reserved tag `__tenant__` is refused from every format: only the server
//!   sets it.
//! - **Floats only.** Chronicle stores float64: integers convert (exactly
//!   up to 2^53), booleans become 1.0 / 0.0, string values are refused.
//! - **No allocation on a size a body only claims.** Compressed bodies are
//!   checked against the caller's limit before decompressing.
//! - **Time.** Timestamps are nanoseconds since the Unix epoch; a format's
//!   own unit is scaled with overflow checked, and the caller passes the
//!   time ("now") for points that carry none.

pub mod arrow_rows;
mod error;
pub mod json;
pub mod line_protocol;
pub mod otlp;
pub mod prompb;
mod protobuf;
pub mod remote_read;
pub mod remote_write;
mod remote_write_histogram;
pub mod snappy;

pub use error::{Error, Result};
pub use line_protocol::Precision;
