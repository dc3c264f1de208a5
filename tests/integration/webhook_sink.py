#!/usr/bin/python3
"""A webhook receiver for tests: saves every POST as one JSON file and answers a status.

    /usr/bin/python3 webhook_sink.py --port 0 --dir /tmp/hooks [--status 200]
        [--retry-after SECONDS] [--host 127.0.0.1]

When ready it prints `listening <port>` on stdout (flushed), so `--port 0` can be used. Each
request is written to DIR as `<ns since epoch>-<n>.json` through a temporary file and a rename,
before the response is sent, so a client that got its response can read the file at once:

    {"method": "POST", "path": "/hook?x=1",
     "headers": {"content-type": "application/json", ...},   # names lower-cased
     "body": {...},            # the body parsed as JSON, or null if it is not JSON
     "body_text": "..."}       # the body as text (UTF-8, invalid bytes replaced)

Threaded (ThreadingHTTPServer), HTTP/1.1 with keep-alive, TCP_NODELAY on every connection.
Accepts Content-Length and chunked bodies. Stops on SIGTERM or SIGINT.
"""

import argparse
import itertools
import json
import os
import signal
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class SinkServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, directory, status, retry_after):
        super().__init__(address, SinkHandler)
        self.directory = directory
        self.status = status
        self.retry_after = retry_after
        self.counter = itertools.count(1)
        self.lock = threading.Lock()

    def save(self, record):
        with self.lock:
            n = next(self.counter)
        name = f"{time.time_ns():020d}-{n:06d}.json"
        fd, temp_path = tempfile.mkstemp(prefix=".incoming-", dir=self.directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(record, f, ensure_ascii=False, indent=1)
            os.replace(temp_path, os.path.join(self.directory, name))
        except BaseException:
            os.unlink(temp_path)
            raise


class SinkHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive
    disable_nagle_algorithm = True  # TCP_NODELAY on the accepted socket

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    # Trailers, up to the empty line.
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def handle_request(self):
        body = self.read_body()
        if getattr(self.server, "delay", 0):
            time.sleep(self.server.delay)  # a slow receiver, for crash tests
        text = body.decode("utf-8", "replace")
        try:
            parsed = json.loads(text) if text else None
        except ValueError:
            parsed = None
        headers = {}
        for name, value in self.headers.items():
            key = name.lower()
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        self.server.save(
            {
                "method": self.command,
                "path": self.path,
                "headers": headers,
                "body": parsed,
                "body_text": text,
            }
        )
        self.send_response(self.server.status)
        if self.server.retry_after is not None:
            self.send_header("Retry-After", str(self.server.retry_after))
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = handle_request
    do_PUT = handle_request

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--dir", required=True, help="where to write the .json files")
    parser.add_argument("--status", type=int, default=200, help="status of every response")
    parser.add_argument("--retry-after", type=int, help="send Retry-After: SECONDS")
    parser.add_argument("--delay-ms", type=int, default=0,
                        help="wait this long before saving and answering each request")
    args = parser.parse_args()

    os.makedirs(args.dir, exist_ok=True)
    server = SinkServer((args.host, args.port), args.dir, args.status, args.retry_after)
    server.delay = args.delay_ms / 1000.0
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    signal.signal(signal.SIGINT, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"listening {server.server_address[1]}", flush=True)
    try:
        server.serve_forever(poll_interval=0.5)
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
