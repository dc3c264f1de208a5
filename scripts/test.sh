#!/usr/bin/env bash
# One command that installs what is missing, builds and passes every test on a fresh
# Debian 12 machine. .ci/run calls it.
#   1. clang-format check
#   2. AddressSanitizer + UndefinedBehaviorSanitizer build + unit and contract tests
#   3. a short libFuzzer run of the CSV reader (Clang)
#   4. warnings-as-errors build + every ctest test (unit, contract, corpus replay, end to end)
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

scripts/setup.sh

echo "== format check"
git ls-files '*.cc' '*.h' | xargs clang-format --dry-run --Werror

echo "== ASan + UBSan: unit and contract tests"
cmake --preset asan -DSTOCKWATCH_BUILD_TESTS=ON >/dev/null
cmake --build build/asan -j "$jobs"
ctest --test-dir build/asan --output-on-failure -j "$jobs" -E '^integration_'

echo "== fuzz the CSV reader for 60 s (libFuzzer, Clang)"
cmake --preset fuzz >/dev/null
cmake --build build/fuzz -j "$jobs" --target csv_reader
mkdir -p build/fuzz/corpus
build/fuzz/fuzz/csv_reader -max_total_time=60 -print_final_stats=1 build/fuzz/corpus fuzz/corpus/csv_reader

echo "== build (warnings are errors) and all tests"
cmake --preset ci >/dev/null
cmake --build build/ci -j "$jobs"
# The integration tests drive the S3 API with the JavaScript SDK too (tests/integration/
# package.json, pinned by its package-lock.json).
if [ ! -d tests/integration/node_modules/@aws-sdk/client-s3 ]; then
  npm ci --prefix tests/integration --no-audit --no-fund
fi
ctest --test-dir build/ci --output-on-failure -j "$jobs"
