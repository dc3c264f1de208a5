#!/usr/bin/python3
"""A stand-in for Twilio's Messages API, for tests: no real SMS provider is reachable from
the machines these tests run on (no network access, no account), so this receiver checks a
request the way Twilio documents it and answers as Twilio does.

    /usr/bin/python3 twilio_sink.py --port 0 --dir /tmp/sms --account-sid AC... \
        --auth-token TOKEN [--host 127.0.0.1]

It serves POST /2010-04-01/Accounts/{AccountSid}/Messages.json only. It checks HTTP basic
auth (account SID : auth token), the form encoding, and the fields To (E.164), From and Body
(present, at most 1,600 characters), and answers 201 with a queued message resource, or a
Twilio error document ({"code", "message", "more_info", "status"}) with 401 (code 20003),
404 (20404) or 400 (21211, 21602, 21603, 21604, 21617). Each accepted message is written to
DIR as `<ns since epoch>-<n>.json` (through a temporary file and a rename, before the answer):

    {"path": "...", "headers": {...}, "form": {"To": "...", "From": "...", "Body": "..."}}

When ready it prints `listening <port>` on stdout (flushed). Stops on SIGTERM or SIGINT.
"""

import argparse
import base64
import itertools
import json
import os
import re
import signal
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")


class TwilioServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address, directory, account_sid, auth_token):
        super().__init__(address, TwilioHandler)
        self.directory = directory
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.counter = itertools.count(1)
        self.lock = threading.Lock()

    def save(self, record):
        with self.lock:
            n = next(self.counter)
        name = f"{time.time_ns():020d}-{n:06d}.json"
        fd, temp_path = tempfile.mkstemp(prefix=".incoming-", dir=self.directory)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(record, f, ensure_ascii=False, indent=1)
        os.replace(temp_path, os.path.join(self.directory, name))
        return n


class TwilioHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, status, doc):
        raw = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def error(self, status, code, message):
        self.answer(status, {"code": code, "message": message,
                             "more_info": f"https://www.twilio.com/docs/errors/{code}",
                             "status": status})

    def do_POST(self):  # noqa: N802 - the base class's naming
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        server = self.server
        if self.path != f"/2010-04-01/Accounts/{server.account_sid}/Messages.json":
            return self.error(404, 20404, "The requested resource was not found")
        expected = base64.b64encode(
            f"{server.account_sid}:{server.auth_token}".encode()).decode()
        if self.headers.get("Authorization", "") != f"Basic {expected}":
            return self.error(401, 20003, "Authenticate")
        if self.headers.get("Content-Type", "").split(";")[0].strip() != \
                "application/x-www-form-urlencoded":
            return self.error(400, 20001, "Unsupported content type")
        form = dict(urllib.parse.parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        if "To" not in form:
            return self.error(400, 21604, "A 'To' phone number is required.")
        if "From" not in form:
            return self.error(400, 21603, "A 'From' phone number is required.")
        if not form.get("Body"):
            return self.error(400, 21602, "Message body is required.")
        if len(form["Body"]) > 1600:
            return self.error(400, 21617,
                              "The concatenated message body exceeds the 1600 character limit.")
        if not E164.match(form["To"]):
            return self.error(400, 21211, f"The 'To' number {form['To']} is not a valid phone "
                                          "number.")
        n = server.save({"path": self.path,
                         "headers": {k.lower(): v for k, v in self.headers.items()},
                         "form": form})
        self.answer(201, {"sid": f"SM{n:032x}", "account_sid": server.account_sid,
                          "to": form["To"], "from": form["From"], "body": form["Body"],
                          "status": "queued", "num_segments": "1"})

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--dir", required=True, help="where to write the .json files")
    parser.add_argument("--account-sid", required=True)
    parser.add_argument("--auth-token", required=True)
    args = parser.parse_args()

    os.makedirs(args.dir, exist_ok=True)
    server = TwilioServer((args.host, args.port), args.dir, args.account_sid, args.auth_token)
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
