#!/usr/bin/env bash
# Every check main must pass: formatting, lints with warnings denied, and all
# tests (unit, integration, doc). This is the README's test command; it first
# installs the peers tests talk to (scripts/install-test-deps.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-test-deps.sh
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
# The library as an embedder builds it, without the default features (`cli`:
# clap and the binary; `s3`: the AWS client): it builds and passes its unit
# tests, which check that `s3://` is then refused. One build of it: each
# more costs CI a rebuild of DataFusion.
cargo test --no-default-features --lib
# Benches are compiled by clippy above; running them belongs to `cargo bench`.
cargo test --workspace --lib --bins --tests
cargo test --workspace --doc
