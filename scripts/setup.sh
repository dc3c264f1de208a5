#!/usr/bin/env bash
# Installs what stockwatch needs to build, run and test on Debian 12. Idempotent.
# Used by scripts/run.sh and scripts/test.sh; safe to run by hand.
set -euo pipefail

packages=(
  # build
  cmake ninja-build g++ pkg-config clang clang-format
  # libraries (see CMakeLists.txt)
  libboost-dev nlohmann-json3-dev libsqlite3-dev libspdlog-dev libfmt-dev libcli11-dev
  libtomlplusplus-dev libsodium-dev libcurl4-openssl-dev libssl-dev libabsl-dev
  libgtest-dev libgmock-dev libbenchmark-dev zlib1g-dev libpugixml-dev
  # the malloc of the stockwatch binary (STOCKWATCH_MALLOC, cmake/StockwatchMalloc.cmake)
  libgoogle-perftools-dev
  # test peers and tools: a real SMTP server (aiosmtpd), sqlite3 for integrity checks, curl,
  # real S3 clients (awscli and boto3: see below)
  python3 python3-aiosmtpd sqlite3 curl ca-certificates s3cmd rclone
  # time zones of digests and quiet hours (/usr/share/zoneinfo, read by absl::LoadTimeZone)
  tzdata
)

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# node and npm run the JavaScript SDK in the S3 tests (tests/integration/package.json).
# Debian's nodejs is 18; the SDK needs 20 (the test says so and skips on an older node).
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm
fi

# The dashboard (web/) is built by node at build time (esbuild, TypeScript, Preact, uPlot;
# pinned by web/package-lock.json); CMake stops with a message when web/node_modules is
# missing. Node 18 (Debian's) builds it; the browser test (playwright-core) needs node 20.
web_dir="$(cd "$(dirname "$0")/../web" && pwd)"
if [ ! -d "$web_dir/node_modules/esbuild" ]; then
  npm ci --prefix "$web_dir" --no-audit --no-fund
fi
# The browser test (tests/integration/test_browser.py) drives Debian's Chromium.
if ! command -v chromium >/dev/null 2>&1; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium \
    fonts-liberation
fi

# awscli and boto3: the machine's own (recent, pyenv) ones when present, as they send the
# default checksums of current SDKs; otherwise Debian's.
if ! command -v aws >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends awscli
fi
if ! python3 -c 'import boto3' >/dev/null 2>&1 && ! /usr/bin/python3 -c 'import boto3' >/dev/null 2>&1; then
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends python3-boto3
fi
