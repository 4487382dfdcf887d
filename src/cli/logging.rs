//! Logs of the `chronicle` commands: tracing events to stderr (stdout is
//! for results and the `listening on` line), as text or JSON lines.
//!
//! The filter is the `log.level` setting when one is given, else `RUST_LOG`,
//! else `info` for `serve` and `warn` for the one-shot commands.

use std::fmt;
use std::str::FromStr;

use tracing_subscriber::EnvFilter;

/// How log events are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Text,
    /// One JSON object per line, for log collectors.
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "text" => Ok(Self::Text),
            "json" => Ok(Self::Json),
            other => Err(format!("{other:?} is not a log format; expected text or json")),
        }
    }
}

impl fmt::Display for LogFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Text => "text",
            Self::Json => "json",
        })
    }
}

/// The logging settings.
#[derive(Debug, Clone, Default)]
pub struct LogSettings {
    /// A tracing-subscriber filter (`info`, `chronicle=debug,warn`); `None`
    /// defers to `RUST_LOG`.
    pub filter: Option<String>,
    /// The format.
    pub format: LogFormat,
}

/// Installs the global subscriber; `fallback` is the filter when neither
/// the settings nor `RUST_LOG` give one.
pub fn init(settings: &LogSettings, fallback: &str) {
    let filter = settings
        .filter
        .as_deref()
        .and_then(|f| EnvFilter::try_new(f).ok())
        .or_else(|| EnvFilter::try_from_default_env().ok())
        .unwrap_or_else(|| EnvFilter::new(fallback));
    // Colours only for a person at a terminal, never into a log file.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    // A second installation (never done) would fail; logging is then as before.
    let _ = match settings.format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
