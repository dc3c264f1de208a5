"""An in-process HTTP receiver for webhook tests, scripted and inspected from the test.

    receiver = ScriptedReceiver(statuses=[500], status=200)   # 500 once, then 200
    receiver.url            -> "http://127.0.0.1:<port>/hook"
    receiver.secret = "..."  # then every request must carry a valid X-Stockwatch-Signature
    receiver.status = 200    # what later requests get once the script is used up
    receiver.requests()     -> [Request...] in arrival order
    receiver.stop()

When `secret` is set the receiver verifies each request as the README tells receivers to:
HMAC-SHA256 with the secret over "<X-Stockwatch-Timestamp>.<raw body>", compared in constant
time with the v1= value of X-Stockwatch-Signature, and the timestamp no more than 5 minutes
old. A request that fails gets 401 (which stockwatch treats as permanent), whatever the script
says. Threaded, HTTP/1.1 keep-alive, 127.0.0.1 only.
"""

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_AGE_SECONDS = 5 * 60


def signature_problem(secret, headers, body):
    """None if the request is signed with `secret`, else what is wrong with it."""
    timestamp = headers.get("x-stockwatch-timestamp", "")
    signature = headers.get("x-stockwatch-signature", "")
    if not timestamp.isdigit():
        return f"bad timestamp {timestamp!r}"
    if time.time() - int(timestamp) > MAX_AGE_SECONDS:
        return f"timestamp {timestamp} older than 5 minutes"
    if not signature.startswith("v1="):
        return f"no v1 signature in {signature!r}"
    expected = hmac.new(secret.encode("ascii"), timestamp.encode("ascii") + b"." + body,
                        hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature[len("v1="):]):
        return "signature does not match"
    return None


class Request:
    def __init__(self, path, headers, body, status, problem):
        self.path = path
        self.headers = headers  # names lower-cased
        self.body = body        # raw bytes
        self.status = status    # what the receiver answered
        self.signature_problem = problem  # None when verified (or no secret was set)

    def json(self):
        return json.loads(self.body)


class ScriptedReceiver:
    def __init__(self, statuses=(), status=200, secret=None, path="/hook"):
        self.script = list(statuses)
        self.status = status
        self.secret = secret
        self._requests = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):  # noqa: N802 - the base class's naming
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, problem = receiver._answer(headers, body)
                with receiver._lock:
                    receiver._requests.append(Request(self.path, headers, body, status, problem))
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format, *args):  # noqa: A002 - the base class's name
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}{path}"
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()

    def _answer(self, headers, body):
        with self._lock:
            scripted = self.script.pop(0) if self.script else self.status
            secret = self.secret
        if secret is not None:
            problem = signature_problem(secret, headers, body)
            if problem:
                return 401, problem
        return scripted, None

    def requests(self):
        with self._lock:
            return list(self._requests)

    def stop(self):
        self._server.shutdown()
        self._server.server_close()
