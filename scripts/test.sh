#!/usr/bin/env bash
# Every check main must pass: formatting, lints with warnings denied, and all
# tests (unit, integration, doc). This is the README's test command; it first
# installs the peers tests talk to (scripts/install-test-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh
cargo fmt --all -- --check
# `--features ballista` here and in the workspace tests below, not in a
# build of its own: Ballista turns on DataFusion's `proto` features (and
# arrow's IPC compression, tokio's `full`), so a separate build with it
# would compile DataFusion a second time. One build has everything; the
# Ballista tests (tests/ballista.rs, tests/ballista_cli.rs) need it.
cargo clippy --workspace --all-targets --features ballista -- -D warnings
# The library as an embedder builds it, without the default features (`cli`:
# clap and the binary; `s3`: the AWS client): it builds and passes its unit
# tests, which check that `s3://` is then refused. One build of it: each
# more costs CI a rebuild of DataFusion.
cargo test --no-default-features --lib
# Benches are compiled by clippy above; running them belongs to `cargo bench`.
cargo test --workspace --features ballista --lib --bins --tests
cargo test --workspace --features ballista --doc
