//! The errors of PromQL parsing, planning and evaluation, each with the
//! `errorType` Prometheus's HTTP API gives it.

use datafusion::error::DataFusionError;

/// A PromQL query failed.
#[derive(Debug, thiserror::Error)]
pub enum PromError {
    /// The query text or a parameter is wrong (`bad_data`).
    #[error("{0}")]
    BadData(String),
    /// The query is valid but cannot be evaluated on this data (`execution`),
    /// e.g. a many-to-many match.
    #[error("{0}")]
    Execution(String),
    /// A limit of the query was reached (`execution`).
    #[error("{0}")]
    Limit(String),
    /// The query ran longer than its timeout (`timeout`).
    #[error("query timed out in {0}")]
    Timeout(&'static str),
    /// The storage underneath failed (`internal`).
    #[error(transparent)]
    Storage(#[from] crate::Error),
    /// The query engine failed (`internal`).
    #[error("query engine: {0}")]
    Engine(datafusion::error::DataFusionError),
}

impl From<DataFusionError> for PromError {
    /// The PromQL error a plan node raised, taken back from DataFusion's
    /// wrapping; any other error of the engine as [`PromError::Engine`].
    fn from(e: DataFusionError) -> Self {
        match e {
            DataFusionError::External(inner) => match inner.downcast::<PromError>() {
                Ok(prom) => *prom,
                Err(inner) => PromError::Engine(DataFusionError::External(inner)),
            },
            DataFusionError::Context(_, inner) => PromError::from(*inner),
            other => PromError::Engine(other),
        }
    }
}

impl PromError {
    /// The `errorType` of Prometheus's API for this error.
    pub fn error_type(&self) -> &'static str {
        match self {
            PromError::BadData(_) => "bad_data",
            PromError::Execution(_) | PromError::Limit(_) => "execution",
            PromError::Timeout(_) => "timeout",
            PromError::Storage(_) | PromError::Engine(_) => "internal",
        }
    }
}

/// Results of this module.
pub type Result<T, E = PromError> = std::result::Result<T, E>;
