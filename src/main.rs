//! The `chronicle` command line: built with the `cli` cargo feature (on by
//! default), so the library alone never compiles clap.

use clap::Parser;

/// Chronicle: an embedded time-series database on Apache Arrow and DataFusion.
#[derive(Debug, Parser)]
#[command(name = "chronicle", version, about)]
struct Cli {}

fn main() {
    let _cli = Cli::parse();
    println!(
        "chronicle {}: the storage engine and server arrive in later releases; see --help",
        env!("CARGO_PKG_VERSION")
    );
}
