#!/usr/bin/python3
"""End-to-end benchmarks of the S3-compatible API of the real `stockwatch serve` on loopback.

  put-1g   one ~1 GB PutObject from awscli (multipart threshold raised above the file, so a
           single request; awscli over http signs the payload's SHA-256, which the server
           verifies, plus a CRC32 checksum). Reports the server's own time for the request
           (first header byte to 200, from /metrics) as payload MB/s, the client's wall
           time, and the server's peak RSS above idle (flat memory = streaming).
  small    1,000 small PutObjects from 16 concurrent clients (processes with a kept-alive
           connection each, signing with a hand-written SigV4 as any SDK does); the
           acknowledge latency (request sent -> 200 read) p50/p99/max.

Usage: bench/s3.py --bin build/release/src/stockwatch --gen build/release/bench/stockwatch_gen_inventory
       [--only put-1g,small] [--put-bytes 1000000000] [--small-puts 1000] [--clients 16]
Prints a Markdown table for bench/RESULTS.md.
"""

import argparse
import hashlib
import http.client
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

# The SigV4 signer of the S3 tests, written from the AWS documentation.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "integration"))
from s3_support import Sigv4  # noqa: E402

TOKEN = "sw_bench_token_0123456789abcdef01234567"


class Server:
    def __init__(self, binary, data_dir):
        env = dict(os.environ, STOCKWATCH_ADMIN_TOKEN=TOKEN, STOCKWATCH_LOG_LEVEL="warn",
                   STOCKWATCH_S3_MAX_OBJECT_BYTES=str(4 << 30))
        self.proc = subprocess.Popen([binary, "serve", "--data", data_dir, "--listen",
                                      "127.0.0.1:0", "--s3-listen", "127.0.0.1:0"],
                                     stdout=subprocess.PIPE, text=True, env=env)
        self.port = self.s3_port = None
        while self.s3_port is None:
            line = self.proc.stdout.readline()
            if not line:
                raise SystemExit("server exited")
            if "listening on" not in line:
                continue
            port = int(line.strip().rsplit(":", 1)[1])
            if "S3 API listening on" in line:
                self.s3_port = port
            elif "listening on" in line:
                self.port = port

    def api(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}{path}", data=data,
                                     method=method,
                                     headers={"Authorization": f"Bearer {TOKEN}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req) as resp:
            return json.loads(resp.read() or b"{}")

    def metric(self, name):
        req = urllib.request.Request(f"http://127.0.0.1:{self.port}/metrics",
                                     headers={"Authorization": f"Bearer {TOKEN}"})
        text = urllib.request.urlopen(req).read().decode()
        m = re.search(rf"^{re.escape(name)} ([0-9.e+-]+)$", text, re.M)
        return float(m.group(1)) if m else 0.0

    def rss_kib(self, field="VmRSS"):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        # The loader may still be busy with the big file: a benchmark need not wait for it.
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def small_client(args):
    port, key_id, secret, index, count = args
    conn = http.client.HTTPConnection("127.0.0.1", port)
    signer = Sigv4(key_id, secret)
    latencies = []
    for i in range(count):
        body = (f"store,item,count\nStore{index},Item {i},{i % 5}\n").encode()
        path = f"/inventory/client{index}/file{i}.csv"
        headers, _ = signer.sign("PUT", path, {"Host": f"127.0.0.1:{port}",
                                               "Content-Length": str(len(body))},
                                 hashlib.sha256(body).hexdigest())
        start = time.perf_counter()
        conn.request("PUT", path, body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        latencies.append(time.perf_counter() - start)
        if resp.status != 200:
            raise SystemExit(f"PUT {path}: HTTP {resp.status}")
    return latencies


def accept_buckets(server):
    """Cumulative counts of the server's accept-latency histogram: {upper bound: count}."""
    req = urllib.request.Request(f"http://127.0.0.1:{server.port}/metrics",
                                 headers={"Authorization": f"Bearer {TOKEN}"})
    text = urllib.request.urlopen(req).read().decode()
    out = {}
    for m in re.finditer(r'^stockwatch_stage_accept_seconds_bucket\{le="([^"]+)"\} (\d+)$', text,
                         re.M):
        out[m.group(1)] = int(m.group(2))
    return out


def bench_small(server, key, puts, clients):
    before = accept_buckets(server)
    with multiprocessing.Pool(clients) as pool:
        results = pool.map(small_client, [(server.s3_port, key["access_key_id"],
                                           key["secret_access_key"], c,
                                           puts // clients + (1 if c < puts % clients else 0))
                                          for c in range(clients)])
    after = accept_buckets(server)
    delta = {le: after[le] - before.get(le, 0) for le in after}
    total = delta.get("+Inf", 0) or 1
    lat = sorted(x for r in results for x in r)
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000
    return [("small PutObject ack latency, "
             f"{len(lat)} puts, {clients} clients", f"p50 {p(0.50):.2f} ms, p99 {p(0.99):.2f} ms, "
             f"max {lat[-1] * 1000:.2f} ms"),
            ("  same, server side (header received -> 200 written), from /metrics",
             f"{100 * delta.get('0.01', 0) / total:.1f}% within 10 ms, "
             f"{100 * delta.get('0.025', 0) / total:.1f}% within 25 ms")]


def bench_put_1g(server, key, gen, nbytes, workdir):
    path = os.path.join(workdir, "big.csv")
    rows = nbytes // 42  # the generator writes ~42 bytes a row
    subprocess.run([gen, "--rows", str(rows), "--stores", "50", "--items", "2000000",
                    "-o", path], check=True, stdout=subprocess.DEVNULL)
    size = os.path.getsize(path)
    config = os.path.join(workdir, "aws.cfg")
    with open(config, "w") as f:
        f.write("[default]\nregion = us-east-1\ns3 =\n  addressing_style = path\n"
                "  multipart_threshold = 8GB\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=key["access_key_id"],
               AWS_SECRET_ACCESS_KEY=key["secret_access_key"], AWS_CONFIG_FILE=config,
               AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    idle = server.rss_kib()
    peak = [idle]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], server.rss_kib())
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    before = server.metric("stockwatch_stage_accept_seconds_sum")
    start = time.perf_counter()
    subprocess.run(["aws", "--endpoint-url", f"http://127.0.0.1:{server.s3_port}", "s3", "cp",
                    path, "s3://inventory/big.csv", "--only-show-errors"], check=True, env=env)
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    server_seconds = server.metric("stockwatch_stage_accept_seconds_sum") - before
    os.unlink(path)
    mb = size / 1e6
    return [(f"PutObject {mb:.0f} MB (awscli, one request): server receive+verify+store+sync",
             f"{mb / server_seconds:.0f} MB/s ({server_seconds:.2f} s)"),
            ("  same, client wall time (awscli hashes the file first)",
             f"{wall:.2f} s"),
            ("  server RSS during the upload, above idle",
             f"+{(peak[0] - idle) / 1024:.0f} MiB (idle {idle / 1024:.0f} MiB)")]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--gen", required=True)
    ap.add_argument("--only", default="put-1g,small")
    ap.add_argument("--put-bytes", type=int, default=1_000_000_000)
    ap.add_argument("--small-puts", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=16)
    args = ap.parse_args()
    if shutil.which("aws") is None:
        raise SystemExit("aws (awscli) is not on PATH")
    only = set(args.only.split(","))
    rows = []
    workdir = tempfile.mkdtemp(prefix="sw-s3bench-", dir=os.environ.get("TMPDIR", "/var/tmp"))
    try:
        server = Server(args.bin, os.path.join(workdir, "data"))
        try:
            key = server.api("POST", "/api/v1/keys", {"all_stores": True})
            if "small" in only:
                rows += bench_small(server, key, args.small_puts, args.clients)
            if "put-1g" in only:
                rows += bench_put_1g(server, key, args.gen, args.put_bytes, workdir)
            for name, value in rows:
                print(f"{name}: {value}", file=sys.stderr, flush=True)
        finally:
            server.stop()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("| S3 benchmark | result |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
