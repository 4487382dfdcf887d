//! The data directory: the database file `chronicle.db` in it, its WAL
//! `chronicle.db.wal/` and lock `chronicle.db.lock` beside it.
//!
//! `serve` and `import` create the directory and database if missing; the
//! commands that only read (`query`, `export`, `inspect`) refuse a
//! directory without a database rather than create an empty one.

use std::path::{Path, PathBuf};

use chronicle::{Config, Db};

use super::CliError;

/// The name of the database file in a data directory.
pub const DATABASE_FILE: &str = "chronicle.db";

/// The database file of `dir`.
pub fn database_path(dir: &Path) -> PathBuf {
    dir.join(DATABASE_FILE)
}

/// Opens the database of `dir`, creating both if missing.
pub fn open_or_create(dir: &Path, config: Config) -> Result<Db, CliError> {
    std::fs::create_dir_all(dir).map_err(CliError::io(dir))?;
    Ok(Db::open(database_path(dir), config)?)
}

/// Opens the database of `dir`, which must exist.
pub fn open_existing(dir: &Path) -> Result<Db, CliError> {
    let path = database_path(dir);
    if !path.is_file() {
        return Err(CliError::Failed(format!(
            "no database in {}: {} does not exist (see --data-dir)",
            dir.display(),
            path.display()
        )));
    }
    Db::open(&path, Config::default()).map_err(|e| match e {
        chronicle::Error::Locked(_) => CliError::Failed(format!(
            "{} is open in another process (a running `chronicle serve`?); stop it, or query it with --server",
            path.display()
        )),
        e => CliError::Db(e),
    })
}
