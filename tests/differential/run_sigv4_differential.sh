#!/bin/sh
# Runs the SigV4 differential test: botocore signs random requests (sigv4_botocore.py),
# sigv4_differential checks them against our verifier and signer. Fails, saying so, when
# botocore cannot be imported by the python3 on PATH (or $PYTHON): it comes with moto, which
# the AWS tests need anyway, so a missing one is a broken set-up, not a reason to skip.
#
# Usage: run_sigv4_differential.sh <sigv4_differential binary> <sigv4_botocore.py> <work dir>
set -eu
checker=$1
generator=$2
workdir=$3
python=${PYTHON:-python3}
if ! "$python" -c 'import botocore' >/dev/null 2>&1; then
  echo "FAIL: botocore is not importable by $python (it comes with moto: scripts/setup.sh)" >&2
  exit 1
fi
mkdir -p "$workdir"
requests="$workdir/sigv4_botocore.jsonl"
"$python" "$generator" --count "${SIGV4_DIFFERENTIAL_COUNT:-3000}" --seed 20240601 >"$requests"
exec "$checker" "$requests"
