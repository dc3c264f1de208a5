#!/usr/bin/env python3
"""Cold start of the Lambda bootstrap: process start to its first Runtime API `next` request.

Runs `stockwatch lambda` (or the zip's `bootstrap`) RUNS times against the fake Runtime API
of tests/integration/lambda_runtime_fake.py, each time a fresh process as Lambda starts one,
and prints min / median / p90 / max of the time from just before the spawn to the arrival
of the first GET /runtime/invocation/next. Python's spawn (fork+exec) is included, so the
figure is an upper bound of the binary's own start-up.

usage: bench/lambda_cold_start.py BINARY [RUNS] [HANDLER]
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from lambda_runtime_fake import FakeRuntimeApi  # noqa: E402


def main():
    binary = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    handler = sys.argv[3] if len(sys.argv) > 3 else "check-stock"
    args = [binary] if os.path.basename(binary) == "bootstrap" else [binary, "lambda"]
    fake = FakeRuntimeApi()
    env = dict(os.environ)
    env.update({"AWS_LAMBDA_RUNTIME_API": fake.address, "_HANDLER": handler,
                "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret",
                "AWS_SESSION_TOKEN": "token", "AWS_REGION": "us-east-1",
                "HOME": tempfile.gettempdir()})
    times = []
    try:
        for i in range(runs):
            seen = len(fake.next_requests)
            start = time.monotonic()
            proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)
            arrived = fake.wait_next_requests(seen + 1)[seen]
            times.append((arrived - start) * 1000)
            proc.kill()
            proc.wait()
    finally:
        fake.close()
    times.sort()
    p90 = times[min(len(times) - 1, int(len(times) * 0.9))]
    print(f"{binary} ({handler}), {runs} cold starts, spawn to first next request: "
          f"min {times[0]:.1f} ms, median {statistics.median(times):.1f} ms, "
          f"p90 {p90:.1f} ms, max {times[-1]:.1f} ms")


if __name__ == "__main__":
    main()
