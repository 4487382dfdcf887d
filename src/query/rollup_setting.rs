//! The session setting `chronicle.rollup`: whether the dialect answers
//! `GROUP BY time` queries from downsampling rollups.
//!
//! For aggregating queries: `SET chronicle.rollup = 'auto'` (the default)
//! reads a rollup when it answers the query exactly and covers its time
//! range, else the raw data; `'off'` always reads the raw data; `'on'`
//! reads the rollup whenever the query's shape allows it, whether or not the
//! rollup covers the range yet (windows not rolled are missing), and refuses
//! a query it cannot answer from a rollup. Queries of raw values always read
//! raw data. See `query::dialect::rollup_source` for the conditions.

use std::any::Any;
use std::fmt;
use std::str::FromStr;

use datafusion::common::config::{ConfigEntry, ConfigExtension, ExtensionOptions};
use datafusion::common::{DataFusionError, Result as DfResult};
use datafusion::prelude::SessionContext;

/// Where the dialect reads `GROUP BY time` aggregates from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RollupMode {
    /// The rollup when it answers exactly and covers the range, else raw data.
    #[default]
    Auto,
    /// Always the raw data.
    Off,
    /// The rollup whenever it can answer the query's shape; otherwise an error.
    On,
}

impl FromStr for RollupMode {
    type Err = DataFusionError;

    fn from_str(s: &str) -> DfResult<Self> {
        match s.to_ascii_lowercase().as_str() {
            "auto" => Ok(RollupMode::Auto),
            "off" => Ok(RollupMode::Off),
            "on" => Ok(RollupMode::On),
            other => {
                Err(DataFusionError::Configuration(format!("chronicle.rollup is 'auto', 'off' or 'on', not '{other}'")))
            }
        }
    }
}

impl fmt::Display for RollupMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RollupMode::Auto => "auto",
            RollupMode::Off => "off",
            RollupMode::On => "on",
        })
    }
}

/// Chronicle's session settings, under the prefix `chronicle.`.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ChronicleSettings {
    /// `chronicle.rollup`.
    pub rollup: RollupMode,
}

impl ChronicleSettings {
    /// The settings of `ctx` (the defaults if it has none registered).
    pub fn of(ctx: &SessionContext) -> Self {
        ctx.state().config().options().extensions.get::<ChronicleSettings>().cloned().unwrap_or_default()
    }
}

impl ConfigExtension for ChronicleSettings {
    const PREFIX: &'static str = "chronicle";
}

impl ExtensionOptions for ChronicleSettings {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn cloned(&self) -> Box<dyn ExtensionOptions> {
        Box::new(self.clone())
    }

    fn set(&mut self, key: &str, value: &str) -> DfResult<()> {
        match key {
            "rollup" => {
                self.rollup = value.parse()?;
                Ok(())
            }
            other => {
                Err(DataFusionError::Configuration(format!("no setting chronicle.{other}; there is chronicle.rollup")))
            }
        }
    }

    fn entries(&self) -> Vec<ConfigEntry> {
        vec![ConfigEntry {
            key: "chronicle.rollup".into(),
            value: Some(self.rollup.to_string()),
            description: "Where dialect GROUP BY time queries read: 'auto' (a covering rollup, else raw), 'off' (raw), 'on' (the rollup)",
        }]
    }
}
