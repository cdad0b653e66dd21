#!/usr/bin/env bash
# Long fuzzing pass over every parser and loader (tests/fuzz.rs; stable Rust, no
# libFuzzer). Each target prints "fuzz <target>: N inputs (S seeds), 0 panics, 0 hangs,
# slowest …, largest allocation … B"; any panic, hang or oversized allocation fails the run
# and names the target, case number and input (the mutation stream is seeded, so the same
# command reproduces it).
#
#   scripts/fuzz.sh                  # 10^6 inputs per text parser, 10^5 per model-file parser
#   scripts/fuzz.sh 10000 1000       # a shorter pass
#   scripts/fuzz.sh 1000000 100000 korean_analyzer   # one target (a test-name filter)
#
# Debug assertions stay on (the test profile), so integer overflow is caught as a panic.
# CI runs the same tests with the small default budgets inside `cargo test --workspace`.
set -euo pipefail
cd "$(dirname "$0")/.."
text=${1:-1000000}
model=${2:-100000}
filter=${3:-}
MALMOI_FUZZ_TEXT_CASES=$text MALMOI_FUZZ_MODEL_CASES=$model \
    nice cargo test --test fuzz -- --nocapture --test-threads=2 $filter 2>&1 |
    grep -oE 'fuzz [a-z0-9_]+: .*|panicked.*|test result.*|FAILED.*' | cut -c1-400
