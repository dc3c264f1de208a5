#!/usr/bin/env bash
# One command that installs what is missing, builds and passes every test on a fresh
# Debian 12 machine. .ci/run calls it.
#   1. clang-format check
#   2. AddressSanitizer + UndefinedBehaviorSanitizer build + unit and contract tests
#   3. short libFuzzer runs: CSV reader, SigV4 parser, aws-chunked decoder (Clang)
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

echo "== fuzz the CSV reader (60 s), the SigV4 parser, the aws-chunked decoder and the S3 request decoding (30 s each)"
cmake --preset fuzz >/dev/null
cmake --build build/fuzz -j "$jobs" --target csv_reader sigv4_parse aws_chunked s3_request
for target in csv_reader:60 sigv4_parse:30 aws_chunked:30 s3_request:30; do
  name=${target%%:*}
  mkdir -p "build/fuzz/corpus/$name"
  "build/fuzz/fuzz/$name" -max_total_time="${target##*:}" -print_final_stats=1 \
    "build/fuzz/corpus/$name" "fuzz/corpus/$name"
done

echo "== build (warnings are errors) and all tests"
cmake --preset ci >/dev/null
cmake --build build/ci -j "$jobs"
# The integration tests drive the S3 API with the JavaScript SDK too (tests/integration/
# package.json, pinned by its package-lock.json).
if [ ! -d tests/integration/node_modules/@aws-sdk/client-s3 ]; then
  npm ci --prefix tests/integration --no-audit --no-fund
fi
ctest --test-dir build/ci --output-on-failure -j "$jobs"
