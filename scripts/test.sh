#!/usr/bin/env bash
# The whole test suite in one command: formatting, lints, every crate's tests and the playground
# page in a headless browser. README.md gives it and CI (.ci/run) runs it.
set -euo pipefail
cd "$(dirname "$0")/.."
# One full build: incremental caches would double the target folder and are never reused.
export CARGO_INCREMENTAL=0
scripts/fetch_minilm.sh >/dev/null || echo "all-MiniLM-L6-v2 not fetched: its test skips"
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
crates/playground/tests/browser/run.sh
