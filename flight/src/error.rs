//! The crate's one error type and THE one mapping from errors to gRPC
//! status codes: every handler returns [`Error`] and converts it with
//! `Status::from` at the edge, so a code is chosen here and nowhere else.
//!
//! The mapping: bad SQL, unknown tables and columns, bad parameters and bad
//! ingest schemas are `InvalidArgument` (the client must change the
//! request); missing or wrong credentials `Unauthenticated`; a read-only
//! caller writing `PermissionDenied`; a query past its timeout
//! `DeadlineExceeded`; a query the server cannot take now (too many
//! running, shutting down) `Unavailable`; what the server does not do
//! `Unimplemented`; everything else `Internal`. Messages are the ones the client shows, so
//! they say what was wrong and where (the column, the parameter).

use std::time::Duration;

use arrow_flight::error::FlightError;
use arrow_schema::ArrowError;
use datafusion::error::DataFusionError;
use tonic::Status;

/// Why a Flight SQL request failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The request is wrong: SQL, parameters, a schema, a handle.
    #[error("{0}")]
    InvalidArgument(String),
    /// No credentials, or credentials that are not valid.
    #[error("{0}")]
    Unauthenticated(String),
    /// Valid credentials that do not allow the request.
    #[error("{0}")]
    PermissionDenied(String),
    /// The table to append to does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The table to create exists already.
    #[error("{0}")]
    AlreadyExists(String),
    /// The query ran longer than the server allows.
    #[error("the query ran longer than the query timeout of {0:?} and was cancelled")]
    Timeout(Duration),
    /// The server cannot take the request now: too many queries run, or
    /// it is shutting down.
    #[error("{0}")]
    Unavailable(String),
    /// A part of Flight SQL this server does not offer.
    #[error("{0}")]
    Unimplemented(String),
    /// Planning or running a query failed.
    #[error("{0}")]
    DataFusion(#[from] DataFusionError),
    /// Arrow data could not be built or encoded.
    #[error("{0}")]
    Arrow(#[from] ArrowError),
    /// A failure of the server itself.
    #[error("{0}")]
    Internal(String),
}

/// The result of a Flight SQL handler.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::InvalidArgument`].
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::InvalidArgument(message.into())
    }
}

impl From<FlightError> for Error {
    fn from(e: FlightError) -> Self {
        match e {
            FlightError::Arrow(e) => Error::Arrow(e),
            FlightError::Tonic(status) => Error::InvalidArgument(status.message().to_owned()),
            FlightError::ProtocolError(m) | FlightError::DecodeError(m) => Error::InvalidArgument(m),
            other => Error::Internal(other.to_string()),
        }
    }
}

impl From<prost::DecodeError> for Error {
    fn from(e: prost::DecodeError) -> Self {
        Error::InvalidArgument(format!("the request does not decode: {e}"))
    }
}

/// The gRPC code of a DataFusion error: what the query said is the
/// client's fault; what happened while running it is the server's.
fn datafusion_code(e: &DataFusionError) -> tonic::Code {
    match e {
        DataFusionError::Context(_, inner) => datafusion_code(inner),
        DataFusionError::Diagnostic(_, inner) => datafusion_code(inner),
        DataFusionError::Shared(inner) => datafusion_code(inner),
        DataFusionError::SQL(..) | DataFusionError::Plan(_) | DataFusionError::SchemaError(..) => {
            tonic::Code::InvalidArgument
        }
        DataFusionError::NotImplemented(_) => tonic::Code::Unimplemented,
        DataFusionError::ResourcesExhausted(_) => tonic::Code::ResourceExhausted,
        _ => tonic::Code::Internal,
    }
}

impl From<Error> for Status {
    fn from(e: Error) -> Self {
        let code = match &e {
            Error::InvalidArgument(_) => tonic::Code::InvalidArgument,
            Error::Unauthenticated(_) => tonic::Code::Unauthenticated,
            Error::PermissionDenied(_) => tonic::Code::PermissionDenied,
            Error::NotFound(_) => tonic::Code::NotFound,
            Error::AlreadyExists(_) => tonic::Code::AlreadyExists,
            Error::Timeout(_) => tonic::Code::DeadlineExceeded,
            Error::Unavailable(_) => tonic::Code::Unavailable,
            Error::Unimplemented(_) => tonic::Code::Unimplemented,
            Error::DataFusion(e) => datafusion_code(e),
            Error::Arrow(_) | Error::Internal(_) => tonic::Code::Internal,
        };
        if code == tonic::Code::Internal {
            tracing::warn!(error = %e, "flight sql request failed");
        }
        Status::new(code, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_mistakes_and_server_failures_get_their_codes() {
        let plan = Error::from(DataFusionError::Plan("table 'nope' not found".into()));
        let status = Status::from(plan);
        assert_eq!(status.code(), tonic::Code::InvalidArgument);
        assert!(status.message().contains("table 'nope' not found"), "{}", status.message());
        let wrapped = DataFusionError::Context("planning".into(), Box::new(DataFusionError::Plan("x".into())));
        assert_eq!(Status::from(Error::from(wrapped)).code(), tonic::Code::InvalidArgument);
        let io = DataFusionError::Execution("disk on fire".into());
        assert_eq!(Status::from(Error::from(io)).code(), tonic::Code::Internal);
        assert_eq!(Status::from(Error::Timeout(Duration::from_secs(1))).code(), tonic::Code::DeadlineExceeded);
        assert_eq!(Status::from(Error::PermissionDenied("ro".into())).code(), tonic::Code::PermissionDenied);
        assert_eq!(Status::from(Error::Unavailable("busy".into())).code(), tonic::Code::Unavailable);
    }
}
