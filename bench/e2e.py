#!/usr/bin/python3
"""End-to-end benchmarks of the real `stockwatch serve` on loopback.

  latency   upload a 6-row file whose Echo Plus goes 5 -> 0 -> 5 ...; time from sending the
            PUT to the NoStock webhook arriving at an in-process receiver; p50/p99.
  load      upload a generated 1,000,000-row file, then its 1%-changed refresh; time from
            the upload acknowledged (201) to the load committed (the report available),
            and the loader's own duration from the report.
  memory    upload a large generated file (--memory-bytes, default 1 GB); the server's
            peak RSS (VmHWM) against its RSS when idle before the upload.

Usage: bench/e2e.py --bin build/release/src/stockwatch --gen build/release/bench/stockwatch_gen_inventory
       [--only latency,fanout-latency,load,memory] [--latency-runs 300] [--memory-bytes 1000000000]
Prints a Markdown table for bench/RESULTS.md.
"""

import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = "sw_bench_token_0123456789abcdef01234567"


class Receiver(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default listen backlog is 5: 16 concurrent connects would overflow it
    # and wait out a 1 s SYN retransmit.
    request_queue_size = 128

    def __init__(self):
        super().__init__(("127.0.0.1", 0), ReceiverHandler)
        self.arrivals = {}
        self.counts = {}  # message id -> requests received for it (one per subscription)
        self.cv = threading.Condition()


class ReceiverHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        now = time.perf_counter()
        doc = json.loads(body)
        with self.server.cv:
            key = doc["upload_id"] if "upload_id" in doc else doc["message_id"]
            self.server.counts[key] = self.server.counts.get(key, 0) + 1
            if self.server.counts[key] == 1:
                self.server.arrivals[key] = now
                self.server.last = (now, doc)
            self.server.all_at = (now, key, self.server.counts[key])
            self.server.cv.notify_all()
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


class Server:
    def __init__(self, binary, data_dir):
        # The receivers are on loopback, which deliveries refuse unless allowed.
        env = dict(os.environ, STOCKWATCH_ADMIN_TOKEN=TOKEN, STOCKWATCH_LOG_LEVEL="warn",
                   STOCKWATCH_NOTIFY_ALLOW_PRIVATE_TARGETS="true")
        self.proc = subprocess.Popen([binary, "serve", "--data", data_dir, "--listen",
                                      "127.0.0.1:0", "--s3-listen", "off"],
                                     stdout=subprocess.PIPE, text=True, env=env)
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise SystemExit("server exited")
            if "listening on" in line:
                self.port = int(line.strip().rsplit(":", 1)[1])
                break
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port)
        self.conn.connect()
        self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def request(self, method, path, body=None, headers=None):
        h = {"Authorization": f"Bearer {TOKEN}"}
        h.update(headers or {})
        self.conn.request(method, path, body=body, headers=h)
        resp = self.conn.getresponse()
        data = resp.read()
        return resp.status, (json.loads(data) if data else None)

    def upload_file(self, name, path):
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            return self.request("PUT", f"/api/v1/uploads/{name}", body=f,
                                headers={"Content-Length": str(size)})

    def wait_report(self, upload_id):
        while True:
            status, doc = self.request("GET", f"/api/v1/uploads/{upload_id}?wait=30")
            if doc["status"] != "pending":
                return doc

    def rss_kb(self, field):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def bench_latency(args, rows, subscriptions=1):
    """Upload-to-webhook latency: a 6-row file PUT through the API, Echo Plus alternating
    between 5 and 0; every 0 is one NoStock alert, sent to `subscriptions` webhook
    subscriptions on the same receiver. Measures the first and the last of its requests."""
    receiver = Receiver()
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    data = tempfile.mkdtemp(prefix="sw-bench-")
    server = Server(args.bin, data)
    try:
        for j in range(subscriptions):
            status, _ = server.request("POST", "/api/v1/subscriptions", json.dumps(
                {"topic": "NoStock", "confirmed": True,
                 "endpoint": f"http://127.0.0.1:{receiver.server_address[1]}/h{j}"}),
                {"Content-Type": "application/json"})
            assert status == 201, status
        base = ["store,item,count", "Latency,Echo Dot,12", "Latency,Echo (2nd Gen),19",
                "Latency,Echo Show,18", "Latency,Echo Look,10", "Latency,Amazon Tap,15"]
        samples = []
        runs = args.latency_runs if subscriptions == 1 else max(20, args.latency_runs // 5)
        for i in range(runs * 2 + 2):
            count = 0 if i % 2 == 1 else 5
            body = "\n".join(base + [f"Latency,Echo Plus,{count}"]) + "\n"
            with receiver.cv:
                receiver.last = None
                receiver.all_at = None
            start = time.perf_counter()
            status, doc = server.request("PUT", f"/api/v1/uploads/latency-{i}.csv", body.encode(),
                                         {"Content-Type": "text/csv"})
            acked = time.perf_counter()
            assert status == 201, doc
            if count != 0:
                continue
            with receiver.cv:
                receiver.cv.wait_for(lambda: receiver.last is not None, timeout=10)
                arrived, first_doc = receiver.last
                key = first_doc["message_id"]
                receiver.cv.wait_for(lambda: receiver.counts.get(key, 0) >= subscriptions,
                                     timeout=30)
                last_arrived = receiver.all_at[0]
            if i >= 3:  # the first alert warms connections and caches
                samples.append(((arrived - start) * 1e3, (arrived - acked) * 1e3,
                                (last_arrived - start) * 1e3))
    finally:
        server.stop()
        shutil.rmtree(data, ignore_errors=True)
    total = [s[0] for s in samples]
    after_ack = [s[1] for s in samples]
    last = [s[2] for s in samples]
    if subscriptions == 1:
        rows.append(("upload-to-webhook latency, 6-row file (PUT sent -> webhook received)",
                     f"p50 {pct(total, 50):.2f} ms, p99 {pct(total, 99):.2f} ms (n={len(total)})",
                     "p50 <= 2 ms, p99 <= 10 ms"))
        rows.append(("  of which after the 201",
                     f"p50 {pct(after_ack, 50):.2f} ms, p99 {pct(after_ack, 99):.2f} ms", ""))
    else:
        rows.append((f"upload-to-webhook latency with {subscriptions} subscriptions "
                     "(PUT sent -> first webhook received)",
                     f"p50 {pct(total, 50):.2f} ms, p99 {pct(total, 99):.2f} ms (n={len(total)})",
                     "as with one subscription"))
        rows.append((f"  PUT sent -> all {subscriptions} webhooks received",
                     f"p50 {pct(last, 50):.2f} ms, p99 {pct(last, 99):.2f} ms", ""))


def generate(args, path, rows, changed=0.0, stores=300, items=3400):
    subprocess.run([args.gen, "--rows", str(rows), "--stores", str(stores), "--items",
                    str(items), "--changed-fraction", str(changed), "-o", path], check=True)


def bench_load(args, rows_out):
    tmp = tempfile.mkdtemp(prefix="sw-bench-")
    first = os.path.join(tmp, "first.csv")
    refresh = os.path.join(tmp, "refresh.csv")
    generate(args, first, 1_000_000)
    generate(args, refresh, 1_000_000, changed=0.01)
    server = Server(args.bin, os.path.join(tmp, "data"))
    try:
        for label, path, goal in (("first load, 1,000,000 rows into an empty table", first,
                                   ">= 1,000,000 rows/s"),
                                  ("daily refresh, same file with 1% of counts changed", refresh,
                                   ">= 3,000,000 rows/s")):
            status, doc = server.upload_file(os.path.basename(path), path)
            acked = time.perf_counter()
            assert status == 201, doc
            report = server.wait_report(doc["id"])
            done = time.perf_counter()
            r = report["report"]
            loader_s = r["duration_us"] / 1e6
            rows_out.append((label + " (upload acknowledged -> committed)",
                             f"{1_000_000 / (done - acked):,.0f} rows/s ({(done - acked) * 1e3:.0f} ms; "
                             f"loader alone {1_000_000 / loader_s:,.0f} rows/s, "
                             f"{r['rows_loaded']:,} rows written)", goal))
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def bench_memory(args, rows_out):
    tmp = tempfile.mkdtemp(prefix="sw-bench-")
    path = os.path.join(tmp, "big.csv")
    # About 43 bytes a row: rows for the requested size, over 1,000 stores x 3,400 items
    # repeated (rows beyond the catalogue repeat pairs under made-up store names).
    rows = args.memory_bytes // 43
    generate(args, path, rows, stores=1000, items=3400)
    size = os.path.getsize(path)
    server = Server(args.bin, os.path.join(tmp, "data"))
    try:
        time.sleep(0.5)
        idle = server.rss_kb("VmRSS")
        status, doc = server.upload_file("big.csv", path)
        assert status == 201, doc
        report = server.wait_report(doc["id"])
        peak = server.rss_kb("VmHWM")
        items = report["report"]["rows_loaded"]
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    rows_out.append((f"peak RSS loading a {size / 1e9:.2f} GB file ({items:,} distinct items)",
                     f"idle {idle / 1024:.0f} MiB, peak {peak / 1024:.0f} MiB, "
                     f"+{(peak - idle) / 1024:.0f} MiB = {(peak - idle) / 1024 / (items / 1e6):.0f} MiB "
                     f"per million items", "<= 64 MB + working set"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--gen", required=True)
    ap.add_argument("--only", default="latency,fanout-latency,load,memory")
    ap.add_argument("--latency-runs", type=int, default=300)
    ap.add_argument("--memory-bytes", type=int, default=1_000_000_000)
    args = ap.parse_args()
    rows = []
    only = args.only.split(",")
    if "latency" in only:
        bench_latency(args, rows)
    if "fanout-latency" in only:
        bench_latency(args, rows, subscriptions=100)
    if "load" in only:
        bench_load(args, rows)
    if "memory" in only:
        bench_memory(args, rows)
    print("| end to end | result | goal |\n|---|---|---|")
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]} |")


if __name__ == "__main__":
    main()
