#!/usr/bin/env bash
# Builds in Release and runs every benchmark: the kernels (Google Benchmark) and the end to
# end script against the real server. Copy the figures into bench/RESULTS.md.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
cmake --preset release >/dev/null
cmake --build build/release
echo "## machine"
grep -m1 'model name' /proc/cpuinfo; nproc; free -g | sed -n 2p
echo "## kernels"
build/release/bench/csv_bench --benchmark_min_time=1
build/release/bench/load_bench --benchmark_min_time=1
echo "## notifier fan-out (10,000 alerts to one webhook on loopback)"
build/release/bench/fanout_bench
echo "## end to end"
/usr/bin/python3 bench/e2e.py --bin build/release/src/stockwatch \
  --gen build/release/bench/stockwatch_gen_inventory "$@"
echo "## S3 API"
/usr/bin/python3 bench/s3.py --bin build/release/src/stockwatch \
  --gen build/release/bench/stockwatch_gen_inventory
echo "## AWS mode: load-inventory vs one put_item per row, into moto_server"
/usr/bin/python3 bench/aws_load.py --bin build/release/src/stockwatch --rows 100000 \
  --python-rows 10000
