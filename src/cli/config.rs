//! The settings of `chronicle serve`, from a TOML file, `CHRONICLE_*`
//! environment variables and flags, in that order of precedence (low to
//! high), resolved into the library's [`Config`] and [`ServerConfig`].
//!
//! Every setting has one row in [`SETTINGS`]: its TOML key, environment
//! variable and flag. Whatever the source, its value is text read by one
//! parser per setting, so a value means the same in each. Invariants: the
//! source of every value is known until it is parsed, so a bad value is an
//! error naming the setting and where it came from (file and line,
//! variable, flag); an unknown key in the file is an error too, never
//! ignored; token secrets are never part of a message or a log line.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use chronicle::http::{Scope, ServerConfig, Token};
use chronicle::{Config, Retention, RollupRule, SyncPolicy, TierConfig};
use clap::ArgMatches;
use clap::parser::ValueSource;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::logging::{LogFormat, LogSettings};
use super::units::{format_duration, parse_duration, parse_size};

/// One setting: where each source names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// Dotted key in the TOML file (`wal.sync` is key `sync` of table `[wal]`).
    pub key: &'static str,
    /// Environment variable.
    pub env: &'static str,
    /// Long flag, without its dashes.
    pub flag: &'static str,
    /// The clap id of the flag (the field of [`ServeArgs`]).
    id: &'static str,
}

const fn setting(key: &'static str, env: &'static str, flag: &'static str, id: &'static str) -> Setting {
    Setting { key, env, flag, id }
}

/// Directory of the database.
pub const DATA_DIR: Setting = setting("data_dir", "CHRONICLE_DATA_DIR", "data-dir", "data_dir");
/// Address the HTTP server listens on.
pub const HTTP_ADDR: Setting = setting("http_addr", "CHRONICLE_HTTP_ADDR", "http-addr", "http_addr");
/// Address the Flight SQL server listens on.
pub const FLIGHT_ADDR: Setting = setting("flight_addr", "CHRONICLE_FLIGHT_ADDR", "flight-addr", "flight_addr");
/// WAL sync policy.
pub const WAL_SYNC: Setting = setting("wal.sync", "CHRONICLE_WAL_SYNC", "wal-sync", "wal_sync");
/// Interval of the `interval` sync policy.
pub const WAL_SYNC_INTERVAL: Setting =
    setting("wal.sync_interval", "CHRONICLE_WAL_SYNC_INTERVAL", "wal-sync-interval", "wal_sync_interval");
/// Partition duration of a new database.
pub const PARTITION_DURATION: Setting =
    setting("storage.partition_duration", "CHRONICLE_PARTITION_DURATION", "partition-duration", "partition_duration");
/// Head memory budget.
pub const MEMORY_BUDGET: Setting =
    setting("storage.memory_budget", "CHRONICLE_MEMORY_BUDGET", "memory-budget", "memory_budget");
/// Whether the database compacts in the background.
pub const COMPACTION_ENABLED: Setting =
    setting("compaction.enabled", "CHRONICLE_COMPACTION_ENABLED", "compaction-enabled", "compaction_enabled");
/// A background compaction's write rate limit.
pub const COMPACTION_MAX_WRITE_RATE: Setting = setting(
    "compaction.max_write_rate",
    "CHRONICLE_COMPACTION_MAX_WRITE_RATE",
    "compaction-max-write-rate",
    "compaction_max_write_rate",
);
/// The cold tier's object-store URL.
pub const TIER_URL: Setting = setting("tier.url", "CHRONICLE_TIER_URL", "tier-url", "tier_url");
/// Age after which partitions move to the cold tier.
pub const TIER_OLDER_THAN: Setting =
    setting("tier.older_than", "CHRONICLE_TIER_OLDER_THAN", "tier-older-than", "tier_older_than");
/// Age beyond which data expires.
pub const RETENTION_MAX_AGE: Setting =
    setting("retention.max_age", "CHRONICLE_RETENTION_MAX_AGE", "retention-max-age", "retention_max_age");
/// Size beyond which the oldest partitions expire.
pub const RETENTION_MAX_SIZE: Setting =
    setting("retention.max_size", "CHRONICLE_RETENTION_MAX_SIZE", "retention-max-size", "retention_max_size");
/// Ages per measurement.
pub const RETENTION_MEASUREMENTS: Setting = setting(
    "retention.measurements",
    "CHRONICLE_RETENTION_MEASUREMENTS",
    "retention-measurements",
    "retention_measurements",
);
/// Downsampling rules.
pub const ROLLUP_RULES: Setting = setting("rollup.rules", "CHRONICLE_ROLLUP_RULES", "rollup-rules", "rollup_rules");
/// Largest request body.
pub const MAX_BODY_SIZE: Setting =
    setting("limits.max_body_size", "CHRONICLE_MAX_BODY_SIZE", "max-body-size", "max_body_size");
/// Largest decompressed body.
pub const MAX_DECOMPRESSED_SIZE: Setting = setting(
    "limits.max_decompressed_size",
    "CHRONICLE_MAX_DECOMPRESSED_SIZE",
    "max-decompressed-size",
    "max_decompressed_size",
);
/// Request timeout.
pub const REQUEST_TIMEOUT: Setting =
    setting("limits.request_timeout", "CHRONICLE_REQUEST_TIMEOUT", "request-timeout", "request_timeout");
/// Query timeout.
pub const QUERY_TIMEOUT: Setting =
    setting("limits.query_timeout", "CHRONICLE_QUERY_TIMEOUT", "query-timeout", "query_timeout");
/// Queries running at once.
pub const MAX_CONCURRENT_QUERIES: Setting = setting(
    "limits.max_concurrent_queries",
    "CHRONICLE_MAX_CONCURRENT_QUERIES",
    "max-concurrent-queries",
    "max_concurrent_queries",
);
/// Bearer tokens.
pub const AUTH_TOKENS: Setting = setting("auth.tokens", "CHRONICLE_AUTH_TOKENS", "auth-token", "auth_tokens");
/// Log filter.
pub const LOG_LEVEL: Setting = setting("log.level", "CHRONICLE_LOG_LEVEL", "log-level", "log_level");
/// Log format.
pub const LOG_FORMAT: Setting = setting("log.format", "CHRONICLE_LOG_FORMAT", "log-format", "log_format");

/// Every setting, in the order `--help` lists them.
pub const SETTINGS: [Setting; 23] = [
    DATA_DIR,
    HTTP_ADDR,
    FLIGHT_ADDR,
    WAL_SYNC,
    WAL_SYNC_INTERVAL,
    PARTITION_DURATION,
    MEMORY_BUDGET,
    COMPACTION_ENABLED,
    COMPACTION_MAX_WRITE_RATE,
    TIER_URL,
    TIER_OLDER_THAN,
    RETENTION_MAX_AGE,
    RETENTION_MAX_SIZE,
    RETENTION_MEASUREMENTS,
    ROLLUP_RULES,
    MAX_BODY_SIZE,
    MAX_DECOMPRESSED_SIZE,
    REQUEST_TIMEOUT,
    QUERY_TIMEOUT,
    MAX_CONCURRENT_QUERIES,
    AUTH_TOKENS,
    LOG_LEVEL,
    LOG_FORMAT,
];

/// The flags of `chronicle serve`. Each is also a TOML key and an
/// environment variable; a flag wins over the variable, which wins over the file.
#[derive(Debug, clap::Args)]
#[command(after_help = FILE_EXAMPLE)]
pub struct ServeArgs {
    /// TOML file of settings (keys shown as [toml: ...] below); environment
    /// variables and flags override it.
    #[arg(long, env = "CHRONICLE_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Directory of the database, created if missing; it holds chronicle.db
    /// and its WAL [default: ./data] [toml: data_dir]
    #[arg(long = DATA_DIR.flag, env = DATA_DIR.env, value_name = "DIR")]
    data_dir: Option<String>,
    /// Address to listen on, HOST:PORT; port 0 picks a free port
    /// [default: 127.0.0.1:8086] [toml: http_addr]
    #[arg(long = HTTP_ADDR.flag, env = HTTP_ADDR.env, value_name = "HOST:PORT")]
    http_addr: Option<String>,
    /// Address of the Arrow Flight SQL server (ADBC, pandas, polars),
    /// HOST:PORT; port 0 picks a free port [default: 127.0.0.1:8815]
    /// [toml: flight_addr]
    #[arg(long = FLIGHT_ADDR.flag, env = FLIGHT_ADDR.env, value_name = "HOST:PORT")]
    flight_addr: Option<String>,
    /// When the WAL is fsynced: always (before each write is acknowledged),
    /// interval (in the background every --wal-sync-interval) or none
    /// [default: interval] [toml: wal.sync]
    #[arg(long = WAL_SYNC.flag, env = WAL_SYNC.env, value_name = "always|interval|none")]
    wal_sync: Option<String>,
    /// Interval of background WAL syncs under --wal-sync interval: a crash
    /// loses at most this much [default: 1s] [toml: wal.sync_interval]
    #[arg(long = WAL_SYNC_INTERVAL.flag, env = WAL_SYNC_INTERVAL.env, value_name = "DURATION")]
    wal_sync_interval: Option<String>,
    /// Time span of a partition; applies when the database is created
    /// [default: 1h] [toml: storage.partition_duration]
    #[arg(long = PARTITION_DURATION.flag, env = PARTITION_DURATION.env, value_name = "DURATION")]
    partition_duration: Option<String>,
    /// Points held in memory before a flush to the file, in bytes
    /// [default: 64MiB] [toml: storage.memory_budget]
    #[arg(long = MEMORY_BUDGET.flag, env = MEMORY_BUDGET.env, value_name = "SIZE")]
    memory_budget: Option<String>,
    /// Whether the database compacts on its own when closed partitions
    /// gather late blocks or the file fills with superseded bytes
    /// [default: true] [toml: compaction.enabled]
    #[arg(long = COMPACTION_ENABLED.flag, env = COMPACTION_ENABLED.env, value_name = "true|false")]
    compaction_enabled: Option<String>,
    /// Bytes per second a background compaction writes at most; 0 for no
    /// limit [default: 128MiB] [toml: compaction.max_write_rate]
    #[arg(long = COMPACTION_MAX_WRITE_RATE.flag, env = COMPACTION_MAX_WRITE_RATE.env, value_name = "SIZE")]
    compaction_max_write_rate: Option<String>,
    /// Object-store URL of the cold tier (Parquet files of old partitions):
    /// file:///dir, or s3://bucket/prefix with the AWS_* variables
    /// [default: none] [toml: tier.url]
    #[arg(long = TIER_URL.flag, env = TIER_URL.env, value_name = "URL")]
    tier_url: Option<String>,
    /// Partitions that ended this long ago move to the cold tier, checked
    /// every minute; needs --tier-url [default: none, no tiering]
    /// [toml: tier.older_than]
    #[arg(long = TIER_OLDER_THAN.flag, env = TIER_OLDER_THAN.env, value_name = "DURATION")]
    tier_older_than: Option<String>,
    /// Data whose partition ended longer ago than this is never returned
    /// and leaves the file at the next compaction [default: none, kept
    /// forever] [toml: retention.max_age]
    #[arg(long = RETENTION_MAX_AGE.flag, env = RETENTION_MAX_AGE.env, value_name = "DURATION")]
    retention_max_age: Option<String>,
    /// Over this many bytes (file plus cold tier), the oldest partitions
    /// expire [default: none] [toml: retention.max_size]
    #[arg(long = RETENTION_MAX_SIZE.flag, env = RETENTION_MAX_SIZE.env, value_name = "SIZE")]
    retention_max_size: Option<String>,
    /// Ages per measurement, over retention.max_age: cpu=30d,debug=1d
    /// [default: none] [toml: retention.measurements]
    #[arg(long = RETENTION_MEASUREMENTS.flag, env = RETENTION_MEASUREMENTS.env, value_name = "NAME=DURATION,...")]
    retention_measurements: Option<String>,
    /// Downsampling rules, SOURCE:WINDOW:TARGET, e.g. cpu:5m:cpu_5m (every
    /// aggregate, every tag kept) [default: none] [toml: rollup.rules]
    #[arg(long = ROLLUP_RULES.flag, env = ROLLUP_RULES.env, value_name = "SOURCE:WINDOW:TARGET,...")]
    rollup_rules: Option<String>,
    /// Largest request body as sent; larger bodies get 413
    /// [default: 10MiB] [toml: limits.max_body_size]
    #[arg(long = MAX_BODY_SIZE.flag, env = MAX_BODY_SIZE.env, value_name = "SIZE")]
    max_body_size: Option<String>,
    /// Largest body after gzip or snappy decompression; larger gets 413
    /// [default: 64MiB] [toml: limits.max_decompressed_size]
    #[arg(long = MAX_DECOMPRESSED_SIZE.flag, env = MAX_DECOMPRESSED_SIZE.env, value_name = "SIZE")]
    max_decompressed_size: Option<String>,
    /// Longest a request may take, reading its body included; 503 beyond
    /// [default: 30s] [toml: limits.request_timeout]
    #[arg(long = REQUEST_TIMEOUT.flag, env = REQUEST_TIMEOUT.env, value_name = "DURATION")]
    request_timeout: Option<String>,
    /// Longest a query may run before it is cancelled with 503
    /// [default: 30s] [toml: limits.query_timeout]
    #[arg(long = QUERY_TIMEOUT.flag, env = QUERY_TIMEOUT.env, value_name = "DURATION")]
    query_timeout: Option<String>,
    /// Queries running at once; more wait for a slot up to the query timeout
    /// [default: 16] [toml: limits.max_concurrent_queries]
    #[arg(long = MAX_CONCURRENT_QUERIES.flag, env = MAX_CONCURRENT_QUERIES.env, value_name = "N")]
    max_concurrent_queries: Option<String>,
    /// A bearer token, NAME:SCOPE:SECRET with SCOPE read or read-write;
    /// repeat the flag for more, or separate them with commas in the
    /// variable. Any token turns auth on. Prefer the file or the variable:
    /// flags are visible to other users of the machine
    /// [default: none, auth off] [toml: [[auth.tokens]] name, token, scope]
    #[arg(long = AUTH_TOKENS.flag, env = AUTH_TOKENS.env, value_name = "NAME:SCOPE:SECRET", value_delimiter = ',', hide_env_values = true)]
    auth_tokens: Vec<String>,
    /// Log filter: a level (error, warn, info, debug, trace) or
    /// tracing-subscriber directives (chronicle=debug,info). RUST_LOG is
    /// used when this is not set [default: info] [toml: log.level]
    #[arg(long = LOG_LEVEL.flag, env = LOG_LEVEL.env, value_name = "FILTER")]
    log_level: Option<String>,
    /// Log format on stderr: text or json [default: text] [toml: log.format]
    #[arg(long = LOG_FORMAT.flag, env = LOG_FORMAT.env, value_name = "text|json")]
    log_format: Option<String>,
}

/// Shown after the flags by `chronicle serve --help`.
const FILE_EXAMPLE: &str = "\
A settings file (--config) holds the same settings as TOML; sizes are
written like 10MiB, 512KiB or 1GB, durations like 30s, 5m or 1h:

  data_dir = \"./data\"
  http_addr = \"127.0.0.1:8086\"
  flight_addr = \"127.0.0.1:8815\"
  [wal]
  sync = \"interval\"
  sync_interval = \"1s\"
  [storage]
  partition_duration = \"1h\"
  memory_budget = \"64MiB\"
  [compaction]
  enabled = true
  max_write_rate = \"128MiB\"
  [tier]
  url = \"file:///srv/chronicle-cold\"
  older_than = \"7d\"
  [retention]
  max_age = \"90d\"
  max_size = \"50GiB\"
  measurements = \"debug=1d,cpu=30d\"
  [rollup]
  rules = \"cpu:5m:cpu_5m\"
  [limits]
  max_body_size = \"10MiB\"
  max_decompressed_size = \"64MiB\"
  request_timeout = \"30s\"
  query_timeout = \"30s\"
  max_concurrent_queries = 16
  [log]
  level = \"info\"
  format = \"text\"
  [[auth.tokens]]
  name = \"grafana\"
  token = \"a-long-random-secret\"
  scope = \"read\"

Precedence, low to high: defaults, the file, CHRONICLE_* variables, flags.";

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Line `line` of the settings file.
    File {
        /// The file.
        path: PathBuf,
        /// The line, from 1.
        line: usize,
    },
    /// An environment variable.
    Env(&'static str),
    /// A flag.
    Flag(&'static str),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::File { path, line } => write!(f, "{}, line {line}", path.display()),
            Source::Env(name) => write!(f, "environment variable {name}"),
            Source::Flag(name) => write!(f, "flag --{name}"),
        }
    }
}

/// A setting that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SettingError {
    /// A value does not parse, or is out of range.
    #[error("bad value for setting {key} ({origin}): {message}")]
    Value {
        /// The setting's TOML key.
        key: &'static str,
        /// Where the value came from.
        origin: Source,
        /// What is wrong, quoting the value unless it is secret.
        message: String,
    },
    /// The settings file cannot be read or parsed, or holds a key no
    /// setting has.
    #[error("settings file {}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the line.
        message: String,
    },
}

/// Everything `chronicle serve` runs with.
#[derive(Debug)]
pub struct ServeSettings {
    /// Directory of the database.
    pub data_dir: PathBuf,
    /// The database's settings.
    pub db: Config,
    /// The HTTP server's settings (the Flight SQL server shares its tokens
    /// and query timeout).
    pub server: ServerConfig,
    /// Where the Flight SQL server listens.
    pub flight_addr: SocketAddr,
    /// Logging.
    pub log: LogSettings,
}

impl ServeSettings {
    /// One line per setting, as `key = value`, for the startup log: token
    /// names and scopes, never their secrets.
    pub fn summary(&self) -> String {
        let sync = match self.db.sync {
            SyncPolicy::Always => "always".to_owned(),
            SyncPolicy::Interval(d) => format!("interval ({})", format_duration(d)),
            SyncPolicy::None => "none".to_owned(),
        };
        let limits = &self.server.limits;
        let tokens: Vec<String> = self
            .server
            .auth
            .tokens
            .iter()
            .map(|t| format!("{} ({})", t.name, if t.scope == Scope::Read { "read" } else { "read-write" }))
            .collect();
        format!(
            "data_dir={} http_addr={} flight_addr={} wal.sync={sync} storage.partition_duration={} storage.memory_budget={} \
             compaction.enabled={} compaction.max_write_rate={} tier.url={} tier.older_than={} retention=[{}] rollup.rules=[{}] \
             limits.max_body_size={} limits.max_decompressed_size={} limits.request_timeout={} \
             limits.query_timeout={} limits.max_concurrent_queries={} auth.tokens=[{}] log.level={} log.format={}",
            self.data_dir.display(),
            self.server.http_addr,
            self.flight_addr,
            format_duration(self.db.partition_duration),
            self.db.memory_budget,
            self.db.compaction.enabled,
            self.db.compaction.max_write_bytes_per_sec.map_or("unlimited".into(), |r| r.to_string()),
            self.db.tier.as_ref().map_or("none", |t| t.url.as_str()),
            self.db.tier.as_ref().and_then(|t| t.older_than).map_or("none".into(), format_duration),
            retention_text(&self.db.retention),
            self.db
                .rollups
                .iter()
                .map(|r| format!("{}:{}:{}", r.source(), format_duration(r.window()), r.target()))
                .collect::<Vec<_>>()
                .join(","),
            limits.max_body_bytes,
            limits.max_decompressed_bytes,
            format_duration(limits.request_timeout),
            format_duration(limits.query_timeout),
            limits.max_concurrent_queries,
            tokens.join(", "),
            self.log.filter.as_deref().unwrap_or("(RUST_LOG or info)"),
            self.log.format,
        )
    }
}

/// The retention as the startup log shows it: `max_age=90d max_size=... cpu=30d`.
fn retention_text(r: &Retention) -> String {
    let mut parts: Vec<String> = Vec::new();
    parts.extend(r.max_age.map(|d| format!("max_age={}", format_duration(d))));
    parts.extend(r.max_bytes.map(|b| format!("max_size={b}")));
    parts.extend(r.measurements.iter().map(|(m, d)| format!("{m}={}", format_duration(*d))));
    parts.join(" ")
}

/// Resolves the settings of `chronicle serve` from its parsed flags and
/// their `matches` (which say whether a value came from a flag or from the
/// environment), over the file `args.config` names, over the defaults.
pub fn resolve(args: &ServeArgs, matches: &ArgMatches) -> Result<ServeSettings, SettingError> {
    let file = match &args.config {
        Some(path) => Some(SettingsFile::read(path)?),
        None => None,
    };
    let r = Resolver { matches, file: file.as_ref() };

    let data_dir = r.value(DATA_DIR, args.data_dir.as_deref(), |s| Ok(PathBuf::from(s)))?.unwrap_or("data".into());
    let http_addr = r.value(HTTP_ADDR, args.http_addr.as_deref(), parse_addr)?;
    let flight_addr = r
        .value(FLIGHT_ADDR, args.flight_addr.as_deref(), parse_addr)?
        .unwrap_or(chronicle::flight::DEFAULT_FLIGHT_ADDR);
    let sync = r.value(WAL_SYNC, args.wal_sync.as_deref(), |s| Ok(s.to_owned()))?;
    let interval = r.value(WAL_SYNC_INTERVAL, args.wal_sync_interval.as_deref(), positive_duration)?;
    let mut db = Config::default();
    db.sync = match (sync.as_deref(), interval) {
        (None | Some("interval"), Some(every)) => SyncPolicy::Interval(every),
        (None | Some("interval"), None) => db.sync,
        (Some("always"), _) => SyncPolicy::Always,
        (Some("none"), _) => SyncPolicy::None,
        (Some(other), _) => {
            return Err(r.error(
                WAL_SYNC,
                args.wal_sync.as_deref(),
                format!("{other:?} is not one of always, interval, none"),
            ));
        }
    };
    if let Some(d) = r.value(PARTITION_DURATION, args.partition_duration.as_deref(), positive_duration)? {
        db = db.with_partition_duration(d);
    }
    if let Some(bytes) = r.value(MEMORY_BUDGET, args.memory_budget.as_deref(), size_usize)? {
        db = db.with_memory_budget(bytes);
    }
    if let Some(enabled) = r.value(COMPACTION_ENABLED, args.compaction_enabled.as_deref(), parse_bool)? {
        db.compaction.enabled = enabled;
    }
    if let Some(rate) = r.value(COMPACTION_MAX_WRITE_RATE, args.compaction_max_write_rate.as_deref(), parse_size)? {
        db.compaction.max_write_bytes_per_sec = (rate > 0).then_some(rate);
    }
    let tier_url = r.value(TIER_URL, args.tier_url.as_deref(), |s| Ok(s.to_owned()))?;
    let older_than = r.value(TIER_OLDER_THAN, args.tier_older_than.as_deref(), positive_duration)?;
    match (tier_url, older_than) {
        (Some(url), older_than) => {
            let tier = TierConfig::new(url);
            db = db.with_tier(match older_than {
                Some(age) => tier.with_older_than(age),
                None => tier,
            });
        }
        (None, Some(_)) => {
            return Err(r.error(TIER_OLDER_THAN, args.tier_older_than.as_deref(), "needs tier.url".into()));
        }
        (None, None) => {}
    }
    let mut retention = Retention::new();
    if let Some(age) = r.value(RETENTION_MAX_AGE, args.retention_max_age.as_deref(), positive_duration)? {
        retention = retention.max_age(age);
    }
    if let Some(bytes) = r.value(RETENTION_MAX_SIZE, args.retention_max_size.as_deref(), parse_size)? {
        retention = retention.max_bytes(bytes);
    }
    let ages = r.value(RETENTION_MEASUREMENTS, args.retention_measurements.as_deref(), measurement_ages)?;
    for (measurement, age) in ages.unwrap_or_default() {
        retention = retention.measurement(measurement, age);
    }
    db = db.with_retention(retention);
    for rule in r.value(ROLLUP_RULES, args.rollup_rules.as_deref(), rollup_rules)?.unwrap_or_default() {
        db = db.with_rollup(rule);
    }

    let mut server = ServerConfig::default();
    if let Some(addr) = http_addr {
        server.http_addr = addr;
    }
    let limits = &mut server.limits;
    if let Some(v) = r.value(MAX_BODY_SIZE, args.max_body_size.as_deref(), size_usize)? {
        limits.max_body_bytes = v;
    }
    if let Some(v) = r.value(MAX_DECOMPRESSED_SIZE, args.max_decompressed_size.as_deref(), size_usize)? {
        limits.max_decompressed_bytes = v;
    }
    if let Some(v) = r.value(REQUEST_TIMEOUT, args.request_timeout.as_deref(), positive_duration)? {
        limits.request_timeout = v;
    }
    if let Some(v) = r.value(QUERY_TIMEOUT, args.query_timeout.as_deref(), positive_duration)? {
        limits.query_timeout = v;
    }
    if let Some(v) = r.value(MAX_CONCURRENT_QUERIES, args.max_concurrent_queries.as_deref(), positive_count)? {
        limits.max_concurrent_queries = v;
    }
    server.auth.tokens = r.tokens(&args.auth_tokens)?;

    let filter = r.value(LOG_LEVEL, args.log_level.as_deref(), parse_filter)?;
    let format = r.value(LOG_FORMAT, args.log_format.as_deref(), |s| s.parse::<LogFormat>())?.unwrap_or_default();
    Ok(ServeSettings { data_dir, db, server, flight_addr, log: LogSettings { filter, format } })
}

/// Looks each setting up in the flags, the environment and the file.
struct Resolver<'a> {
    matches: &'a ArgMatches,
    file: Option<&'a SettingsFile>,
}

impl Resolver<'_> {
    /// The source of the value clap holds for `s`, if any.
    fn arg_source(&self, s: Setting) -> Option<Source> {
        match self.matches.value_source(s.id)? {
            ValueSource::CommandLine => Some(Source::Flag(s.flag)),
            ValueSource::EnvVariable => Some(Source::Env(s.env)),
            _ => None,
        }
    }

    /// The text of `s` from the highest source that has it, parsed.
    fn value<T>(
        &self,
        s: Setting,
        arg: Option<&str>,
        parse: impl Fn(&str) -> Result<T, String>,
    ) -> Result<Option<T>, SettingError> {
        let (text, source) = match (arg, self.arg_source(s)) {
            (Some(text), Some(source)) => (text.to_owned(), source),
            _ => match self.file.and_then(|f| f.scalar(s)).transpose()? {
                Some(found) => found,
                None => return Ok(None),
            },
        };
        parse(&text).map(Some).map_err(|message| SettingError::Value { key: s.key, origin: source, message })
    }

    /// An error about the value `s` got from its highest source.
    fn error(&self, s: Setting, arg: Option<&str>, message: String) -> SettingError {
        let source = match (arg, self.arg_source(s)) {
            (Some(_), Some(source)) => source,
            _ => self.file.and_then(|f| f.source_of(s)).unwrap_or(Source::Flag(s.flag)),
        };
        SettingError::Value { key: s.key, origin: source, message }
    }

    /// The tokens of the highest source that has any (they are not merged).
    fn tokens(&self, args: &[String]) -> Result<Vec<Token>, SettingError> {
        if let Some(source) = self.arg_source(AUTH_TOKENS) {
            return args
                .iter()
                .map(|text| {
                    parse_token(text).map_err(|message| SettingError::Value {
                        key: AUTH_TOKENS.key,
                        origin: source.clone(),
                        message,
                    })
                })
                .collect();
        }
        match self.file {
            Some(file) => file.tokens(),
            None => Ok(Vec::new()),
        }
    }
}

/// `NAME:SCOPE:SECRET`; the secret may hold colons, and is never quoted back.
fn parse_token(text: &str) -> Result<Token, String> {
    let mut parts = text.splitn(3, ':');
    let (Some(name), Some(scope), Some(secret)) = (parts.next(), parts.next(), parts.next()) else {
        return Err("a token is NAME:SCOPE:SECRET (SCOPE read or read-write)".into());
    };
    token(name, scope, secret)
}

fn token(name: &str, scope: &str, secret: &str) -> Result<Token, String> {
    if name.is_empty() {
        return Err("a token needs a name".into());
    }
    if secret.is_empty() {
        return Err(format!("token {name:?} has an empty secret"));
    }
    let scope = match scope {
        "read" => Scope::Read,
        "read-write" => Scope::ReadWrite,
        other => return Err(format!("token {name:?} has scope {other:?}; expected read or read-write")),
    };
    Ok(Token::new(name, secret, scope))
}

fn parse_addr(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse() {
        return Ok(addr);
    }
    // A host name (`localhost:8086`): its first address.
    let mut addrs = text
        .to_socket_addrs()
        .map_err(|e| format!("{text:?} is not HOST:PORT (e.g. 127.0.0.1:8086 or 0.0.0.0:0): {e}"))?;
    addrs.next().ok_or_else(|| format!("{text:?} resolves to no address"))
}

fn positive_duration(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        Duration::ZERO => Err(format!("{text:?} is zero; it must be positive")),
        d => Ok(d),
    }
}

/// `NAME=DURATION,...`.
fn measurement_ages(text: &str) -> Result<Vec<(String, Duration)>, String> {
    list(text)
        .map(|item| {
            let (name, age) =
                item.split_once('=').ok_or_else(|| format!("{item:?} is not NAME=DURATION (e.g. cpu=30d)"))?;
            Ok((name.trim().to_owned(), positive_duration(age)?))
        })
        .collect()
}

/// `SOURCE:WINDOW:TARGET,...` (rules are checked further when the database opens).
fn rollup_rules(text: &str) -> Result<Vec<RollupRule>, String> {
    list(text)
        .map(|item| match item.split(':').map(str::trim).collect::<Vec<_>>()[..] {
            [source, window, target] => Ok(RollupRule::new(source, positive_duration(window)?, target)),
            _ => Err(format!("{item:?} is not SOURCE:WINDOW:TARGET (e.g. cpu:5m:cpu_5m)")),
        })
        .collect()
}

/// The non-empty items of a comma-separated list.
fn list(text: &str) -> impl Iterator<Item = &str> {
    text.split(',').map(str::trim).filter(|item| !item.is_empty())
}

fn parse_bool(text: &str) -> Result<bool, String> {
    match text.trim() {
        "true" => Ok(true),
        "false" => Ok(false),
        other => Err(format!("{other:?} is not true or false")),
    }
}

fn size_usize(text: &str) -> Result<usize, String> {
    let bytes = parse_size(text)?;
    usize::try_from(bytes).map_err(|_| format!("{text:?} is too large for this machine"))
}

fn positive_count(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("0 is not allowed; at least 1".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!("{text:?} is not a whole number")),
    }
}

fn parse_filter(text: &str) -> Result<String, String> {
    tracing_subscriber::EnvFilter::builder()
        .parse(text)
        .map(|_| text.to_owned())
        .map_err(|e| format!("{text:?} is not a log filter (e.g. info, or chronicle=debug,warn): {e}"))
}

/// The settings file: its text, parsed with the spans of its values.
struct SettingsFile {
    path: PathBuf,
    text: String,
}

/// What a value in the file may be: settings are read as text.
fn scalar_text(value: &DeValue<'_>) -> Option<String> {
    match value {
        DeValue::String(s) => Some(s.to_string()),
        DeValue::Integer(i) if i.radix() == 10 => Some(i.as_str().replace('_', "")),
        DeValue::Boolean(b) => Some(b.to_string()),
        _ => None,
    }
}

impl SettingsFile {
    /// Reads and checks `path`: valid TOML, and only known keys.
    fn read(path: &Path) -> Result<Self, SettingError> {
        let error = |message: String| SettingError::File { path: path.to_owned(), message };
        let text = std::fs::read_to_string(path).map_err(|e| error(format!("cannot read it: {e}")))?;
        // toml's own parse gives the best syntax errors (line, column, a
        // caret under the spot).
        toml::from_str::<toml::Table>(&text).map_err(|e| error(e.to_string().trim_end().to_owned()))?;
        let file = SettingsFile { path: path.to_owned(), text };
        file.check_keys()?;
        Ok(file)
    }

    /// The parsed document. Parsed again per lookup: a dozen lookups of a
    /// small file cost nothing, and a stored table would borrow `text` from
    /// the struct that owns it.
    fn root(&self) -> Result<Spanned<DeTable<'_>>, SettingError> {
        DeTable::parse(&self.text)
            .map_err(|e| SettingError::File { path: self.path.clone(), message: e.to_string().trim_end().to_owned() })
    }

    fn line_of(&self, offset: usize) -> usize {
        self.text.as_bytes()[..offset.min(self.text.len())].iter().filter(|&&b| b == b'\n').count() + 1
    }

    fn source_at(&self, offset: usize) -> Source {
        Source::File { path: self.path.clone(), line: self.line_of(offset) }
    }

    /// Refuses keys that name no setting (a typo would otherwise be a
    /// setting silently left at its default).
    fn check_keys(&self) -> Result<(), SettingError> {
        let root = self.root()?;
        let mut unknown = None;
        walk(root.get_ref(), "", &mut |key, span| {
            let known = SETTINGS.iter().any(|s| s.key == key) || key.starts_with("auth.tokens");
            if !known && unknown.is_none() {
                unknown = Some((key.to_owned(), span));
            }
        });
        match unknown {
            Some((key, offset)) => Err(SettingError::File {
                path: self.path.clone(),
                message: format!(
                    "line {}: unknown setting {key:?}; known: {}",
                    self.line_of(offset),
                    SETTINGS.iter().map(|s| s.key).collect::<Vec<_>>().join(", ")
                ),
            }),
            None => Ok(()),
        }
    }

    /// The value of `s` as text with its line, if the file sets it.
    fn scalar(&self, s: Setting) -> Option<Result<(String, Source), SettingError>> {
        let root = match self.root() {
            Ok(root) => root,
            Err(e) => return Some(Err(e)),
        };
        let value = lookup(root.get_ref(), s.key)?;
        let source = self.source_at(value.span().start);
        Some(match scalar_text(value.get_ref()) {
            Some(text) => Ok((text, source)),
            None => Err(SettingError::Value {
                key: s.key,
                origin: source,
                message: format!("expected a string, an integer or a boolean, found {}", value.get_ref().type_str()),
            }),
        })
    }

    /// Where the file sets `s`.
    fn source_of(&self, s: Setting) -> Option<Source> {
        let root = self.root().ok()?;
        lookup(root.get_ref(), s.key).map(|v| self.source_at(v.span().start))
    }

    /// The `[[auth.tokens]]` entries.
    fn tokens(&self) -> Result<Vec<Token>, SettingError> {
        let root = self.root()?;
        let Some(entries) = lookup(root.get_ref(), AUTH_TOKENS.key) else {
            return Ok(Vec::new());
        };
        let bad = |offset: usize, message: String| SettingError::Value {
            key: AUTH_TOKENS.key,
            origin: self.source_at(offset),
            message,
        };
        let Some(entries) = entries.get_ref().as_array() else {
            return Err(bad(entries.span().start, "expected [[auth.tokens]] tables with name, token, scope".into()));
        };
        entries
            .iter()
            .map(|entry| {
                let at = entry.span().start;
                let table = entry.get_ref().as_table().ok_or_else(|| bad(at, "expected a table".into()))?;
                let field = |name: &str| -> Result<String, SettingError> {
                    let value = table.get(name).ok_or_else(|| bad(at, format!("a token needs {name:?}")))?;
                    value
                        .get_ref()
                        .as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| bad(value.span().start, format!("{name:?} must be a string")))
                };
                if let Some((key, _)) =
                    table.iter().find(|(k, _)| !["name", "token", "scope"].contains(&k.get_ref().as_ref()))
                {
                    return Err(bad(key.span().start, format!("unknown key {:?} in a token", key.get_ref())));
                }
                token(&field("name")?, &field("scope")?, &field("token")?).map_err(|m| bad(at, m))
            })
            .collect()
    }
}

/// The value at dotted `key`.
fn lookup<'a, 'i>(table: &'a DeTable<'i>, key: &str) -> Option<&'a Spanned<DeValue<'i>>> {
    let (first, rest) = match key.split_once('.') {
        Some((first, rest)) => (first, Some(rest)),
        None => (key, None),
    };
    let value = table.get(first)?;
    match rest {
        None => Some(value),
        Some(rest) => lookup(value.get_ref().as_table()?, rest),
    }
}

/// Calls `visit` with the dotted key and offset of every value that is not
/// a table, and of every array of tables.
fn walk(table: &DeTable<'_>, prefix: &str, visit: &mut impl FnMut(&str, usize)) {
    for (key, value) in table.iter() {
        let dotted = if prefix.is_empty() { key.get_ref().to_string() } else { format!("{prefix}.{}", key.get_ref()) };
        match value.get_ref().as_table() {
            Some(inner) => walk(inner, &dotted, visit),
            None => visit(&dotted, key.span().start),
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on an unexpected error")]

    use super::*;
    use clap::{CommandFactory, FromArgMatches, Parser};

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn resolve_args(args: &[&str]) -> Result<ServeSettings, SettingError> {
        let matches =
            Cli::command().try_get_matches_from(std::iter::once("serve").chain(args.iter().copied())).unwrap();
        let cli = Cli::from_arg_matches(&matches).unwrap();
        resolve(&cli.serve, &matches)
    }

    fn file(name: &str, text: &str) -> PathBuf {
        let path = std::env::temp_dir().join(format!("chronicle-config-{}-{name}.toml", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn defaults_without_any_source() {
        let s = resolve_args(&[]).unwrap();
        assert_eq!(s.data_dir, PathBuf::from("data"));
        assert_eq!(s.server.http_addr, "127.0.0.1:8086".parse().unwrap());
        assert_eq!(s.flight_addr, "127.0.0.1:8815".parse().unwrap());
        assert_eq!(s.db.sync, SyncPolicy::default());
        assert!(s.server.auth.tokens.is_empty());
        assert_eq!(s.log.format, LogFormat::Text);
    }

    #[test]
    fn the_file_sets_every_kind_of_value() {
        let path = file(
            "every",
            "data_dir = \"/tmp/x\"\nhttp_addr = \"127.0.0.1:0\"\nflight_addr = \"127.0.0.1:9815\"\n[wal]\nsync = \"interval\"\nsync_interval = \"250ms\"\n\
             [storage]\npartition_duration = \"2h\"\nmemory_budget = \"1MiB\"\n[limits]\nmax_body_size = 2048\n\
             max_decompressed_size = \"1KB\"\nrequest_timeout = \"5s\"\nquery_timeout = \"1m\"\nmax_concurrent_queries = 3\n\
             [log]\nlevel = \"debug\"\nformat = \"json\"\n\
             [[auth.tokens]]\nname = \"grafana\"\ntoken = \"s3cret\"\nscope = \"read\"\n",
        );
        let s = resolve_args(&["--config", path.to_str().unwrap()]).unwrap();
        assert_eq!(s.data_dir, PathBuf::from("/tmp/x"));
        assert_eq!(s.server.http_addr.port(), 0);
        assert_eq!(s.flight_addr.port(), 9815);
        assert_eq!(s.db.sync, SyncPolicy::Interval(Duration::from_millis(250)));
        assert_eq!(s.db.partition_duration, Duration::from_secs(7200));
        assert_eq!(s.db.memory_budget, 1 << 20);
        assert_eq!(s.server.limits.max_body_bytes, 2048);
        assert_eq!(s.server.limits.max_decompressed_bytes, 1000);
        assert_eq!(s.server.limits.request_timeout, Duration::from_secs(5));
        assert_eq!(s.server.limits.query_timeout, Duration::from_secs(60));
        assert_eq!(s.server.limits.max_concurrent_queries, 3);
        assert_eq!(s.log.filter.as_deref(), Some("debug"));
        assert_eq!(s.log.format, LogFormat::Json);
        assert_eq!(s.server.auth.tokens, [Token::new("grafana", "s3cret", Scope::Read)]);
        assert!(!s.summary().contains("s3cret"), "{}", s.summary());
        assert!(s.summary().contains("grafana (read)"), "{}", s.summary());
        std::fs::remove_file(path).ok();
    }

    #[test]
    fn compaction_and_tier_settings_reach_the_database_config() {
        let s = resolve_args(&[]).unwrap();
        assert!(s.db.compaction.enabled);
        assert!(s.db.tier.is_none());
        let path = file(
            "lifecycle",
            "[compaction]\nenabled = false\nmax_write_rate = \"0\"\n[tier]\nurl = \"file:///srv/cold\"\nolder_than = \"7d\"\n",
        );
        let s = resolve_args(&["--config", path.to_str().unwrap()]).unwrap();
        assert!(!s.db.compaction.enabled);
        assert_eq!(s.db.compaction.max_write_bytes_per_sec, None, "0 lifts the limit");
        let tier = s.db.tier.as_ref().unwrap();
        assert_eq!(tier.url, "file:///srv/cold");
        assert_eq!(tier.older_than, Some(Duration::from_secs(7 * 86_400)));
        assert!(s.summary().contains("tier.older_than=7d"), "{}", s.summary());
        let s = resolve_args(&["--compaction-max-write-rate", "16MiB", "--tier-url", "file:///x"]).unwrap();
        assert_eq!(s.db.compaction.max_write_bytes_per_sec, Some(16 << 20));
        assert_eq!(s.db.tier.as_ref().unwrap().older_than, None, "a tier without an age tiers on request only");
        let e = resolve_args(&["--tier-older-than", "1d"]).unwrap_err().to_string();
        assert!(e.contains("tier.older_than") && e.contains("needs tier.url"), "{e}");
        let e = resolve_args(&["--compaction-enabled", "yes"]).unwrap_err().to_string();
        assert!(e.contains("compaction.enabled") && e.contains("\"yes\""), "{e}");
        std::fs::remove_file(path).ok();
    }

    #[test]
    fn retention_and_rollup_settings_reach_the_database_config() {
        let path = file(
            "retention",
            "[retention]\nmax_age = \"90d\"\nmax_size = \"1GiB\"\nmeasurements = \"debug=1d, cpu=30d\"\n\
             [rollup]\nrules = \"cpu:5m:cpu_5m,mem:1h:mem_1h\"\n",
        );
        let s = resolve_args(&["--config", path.to_str().unwrap()]).unwrap();
        let r = &s.db.retention;
        assert_eq!(r.max_age, Some(Duration::from_secs(90 * 86_400)));
        assert_eq!(r.max_bytes, Some(1 << 30));
        assert_eq!(r.measurements.get("debug"), Some(&Duration::from_secs(86_400)));
        assert_eq!(r.measurements.get("cpu"), Some(&Duration::from_secs(30 * 86_400)));
        let rules: Vec<(&str, Duration, &str)> =
            s.db.rollups.iter().map(|r| (r.source(), r.window(), r.target())).collect();
        assert_eq!(rules, [("cpu", Duration::from_secs(300), "cpu_5m"), ("mem", Duration::from_secs(3600), "mem_1h")]);
        assert!(s.summary().contains("rollup.rules=[cpu:5m:cpu_5m,mem:1h:mem_1h]"), "{}", s.summary());
        assert!(
            s.summary().contains("retention=[max_age=90d max_size=1073741824 cpu=30d debug=1d]"),
            "{}",
            s.summary()
        );
        let e = resolve_args(&["--retention-measurements", "cpu:30d"]).unwrap_err().to_string();
        assert!(e.contains("retention.measurements") && e.contains("NAME=DURATION"), "{e}");
        let e = resolve_args(&["--rollup-rules", "cpu:5m"]).unwrap_err().to_string();
        assert!(e.contains("rollup.rules") && e.contains("SOURCE:WINDOW:TARGET"), "{e}");
        let e = resolve_args(&["--retention-max-age", "0s"]).unwrap_err().to_string();
        assert!(e.contains("retention.max_age") && e.contains("positive"), "{e}");
        std::fs::remove_file(path).ok();
    }

    #[test]
    fn a_flag_beats_the_file() {
        let path = file("flag", "[wal]\nsync = \"none\"\n");
        let s = resolve_args(&["--config", path.to_str().unwrap(), "--wal-sync", "always"]).unwrap();
        assert_eq!(s.db.sync, SyncPolicy::Always);
        std::fs::remove_file(path).ok();
    }

    #[test]
    fn bad_values_name_the_setting_and_the_line() {
        let path = file("bad", "# settings\n\n[limits]\nquery_timeout = \"soon\"\n");
        let e = resolve_args(&["--config", path.to_str().unwrap()]).unwrap_err().to_string();
        assert!(e.contains("limits.query_timeout"), "{e}");
        assert!(e.contains("line 4"), "{e}");
        assert!(e.contains("\"soon\""), "{e}");
        let e = resolve_args(&["--max-body-size", "lots"]).unwrap_err().to_string();
        assert!(e.contains("limits.max_body_size") && e.contains("flag --max-body-size"), "{e}");
        let e = resolve_args(&["--wal-sync", "sometimes"]).unwrap_err().to_string();
        assert!(e.contains("wal.sync") && e.contains("\"sometimes\""), "{e}");
        let e = resolve_args(&["--max-concurrent-queries", "0"]).unwrap_err().to_string();
        assert!(e.contains("at least 1"), "{e}");
        let e = resolve_args(&["--http-addr", "nowhere"]).unwrap_err().to_string();
        assert!(e.contains("http_addr") && e.contains("HOST:PORT"), "{e}");
        let e = resolve_args(&["--flight-addr", "nowhere"]).unwrap_err().to_string();
        assert!(e.contains("flight_addr") && e.contains("flag --flight-addr"), "{e}");
        let e = resolve_args(&["--log-format", "xml"]).unwrap_err().to_string();
        assert!(e.contains("log.format") && e.contains("\"xml\""), "{e}");
        std::fs::remove_file(path).ok();
    }

    #[test]
    fn the_file_refuses_unknown_keys_syntax_errors_and_wrong_types() {
        let path = file("unknown", "[wal]\nsynk = \"always\"\n");
        let e = resolve_args(&["--config", path.to_str().unwrap()]).unwrap_err().to_string();
        assert!(e.contains("line 2") && e.contains("\"wal.synk\""), "{e}");
        let path = file("syntax", "data_dir = \n");
        let e = resolve_args(&["--config", path.to_str().unwrap()]).unwrap_err().to_string();
        assert!(e.contains("line 1"), "{e}");
        let path = file("type", "\nhttp_addr = [1, 2]\n");
        let e = resolve_args(&["--config", path.to_str().unwrap()]).unwrap_err().to_string();
        assert!(e.contains("http_addr") && e.contains("line 2") && e.contains("array"), "{e}");
        let e = resolve_args(&["--config", "/nonexistent/chronicle.toml"]).unwrap_err().to_string();
        assert!(e.contains("/nonexistent/chronicle.toml") && e.contains("cannot read"), "{e}");
    }

    #[test]
    fn tokens_from_flags_never_echo_their_secret() {
        let s = resolve_args(&["--auth-token", "ci:read-write:a:b:c", "--auth-token", "dash:read:xyz"]).unwrap();
        assert_eq!(
            s.server.auth.tokens,
            [Token::new("ci", "a:b:c", Scope::ReadWrite), Token::new("dash", "xyz", Scope::Read)]
        );
        let e = resolve_args(&["--auth-token", "ci:admin:topsecret"]).unwrap_err().to_string();
        assert!(e.contains("scope \"admin\"") && !e.contains("topsecret"), "{e}");
        let e = resolve_args(&["--auth-token", "topsecret"]).unwrap_err().to_string();
        assert!(e.contains("NAME:SCOPE:SECRET") && !e.contains("topsecret"), "{e}");
        let path = file("token", "[[auth.tokens]]\nname = \"x\"\ntoken = \"hidden\"\nscope = \"write\"\n");
        let e = resolve_args(&["--config", path.to_str().unwrap()]).unwrap_err().to_string();
        assert!(e.contains("line 1") && e.contains("\"write\"") && !e.contains("hidden"), "{e}");
        std::fs::remove_file(path).ok();
    }
}
