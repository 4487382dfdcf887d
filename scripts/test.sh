#!/usr/bin/env bash
# Every check main must pass: formatting, lints with warnings denied, and all
# tests (unit, integration, doc). This is the README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fmt --all -- --check
cargo clippy --all-targets -- -D warnings
# Benches are compiled by clippy above; running them belongs to `cargo bench`.
cargo test --lib --bins --tests
cargo test --doc
