//! What a `chronicle` command can fail with, and the exit code each gets:
//! 2 for a usage or settings mistake (as clap does for bad flags), 1 for a
//! failure while doing the work.

use std::path::PathBuf;

use super::config::SettingError;

/// A command's failure, printed as `error: ...` on stderr.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A setting of `serve` is bad.
    #[error(transparent)]
    Setting(#[from] SettingError),
    /// Flags that do not fit together, or an argument that does not parse.
    #[error("{0}")]
    Usage(String),
    /// The database refused or failed.
    #[error(transparent)]
    Db(#[from] chronicle::Error),
    /// A file could not be read or written.
    #[error("{path}: {source}", path = path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Anything else that stopped the work, said in full.
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    /// The process exit code for this failure.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Setting(_) | CliError::Usage(_) => 2,
            CliError::Db(_) | CliError::Io { .. } | CliError::Failed(_) => 1,
        }
    }

    /// An [`CliError::Io`] on `path`.
    pub fn io(path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> CliError {
        let path = path.into();
        move |source| CliError::Io { path, source }
    }
}

impl From<datafusion::error::DataFusionError> for CliError {
    fn from(e: datafusion::error::DataFusionError) -> Self {
        CliError::Db(e.into())
    }
}

impl From<datafusion::arrow::error::ArrowError> for CliError {
    fn from(e: datafusion::arrow::error::ArrowError) -> Self {
        CliError::Failed(e.to_string())
    }
}
