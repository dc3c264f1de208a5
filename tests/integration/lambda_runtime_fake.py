"""A small fake of the AWS Lambda Runtime API (2018-06-01), for tests and bench/.

No real Lambda can run here, so this stands in for the service side of the custom-runtime
interface: GET /runtime/invocation/next hands out queued events (blocking while there are
none, as Lambda does), and every POST to .../{id}/response, .../{id}/error and
/runtime/init/error is recorded with its headers and body. It is written from AWS's
published description of the interface, not from Lambda's code.
"""

import http.server
import json
import queue
import threading
import time


class FakeRuntimeApi:
    def __init__(self):
        self.events = queue.Queue()
        self.posts = []  # dicts: path, kind (response|error|init_error), request_id, headers, body
        self.next_requests = []  # monotonic times of each GET next
        self.cond = threading.Condition()
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path != "/2018-06-01/runtime/invocation/next":
                    self.send_error(404)
                    return
                with fake.cond:
                    fake.next_requests.append(time.monotonic())
                    fake.cond.notify_all()
                while True:
                    try:
                        request_id, body, headers = fake.events.get(timeout=0.5)
                        break
                    except queue.Empty:
                        if fake.closed:
                            return
                data = body.encode() if isinstance(body, str) else body
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", request_id)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 30000))
                self.send_header(
                    "Lambda-Runtime-Invoked-Function-Arn",
                    "arn:aws:lambda:us-east-1:123456789012:function:test")
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length).decode()
                parts = self.path.split("/")
                if self.path == "/2018-06-01/runtime/init/error":
                    kind, request_id = "init_error", None
                elif len(parts) == 6 and parts[3] == "invocation" and parts[5] in ("response", "error"):
                    kind, request_id = parts[5], parts[4]
                else:
                    self.send_error(404)
                    return
                with fake.cond:
                    fake.posts.append({"path": self.path, "kind": kind, "request_id": request_id,
                                       "headers": dict(self.headers), "body": body})
                    fake.cond.notify_all()
                answer = b'{"status":"OK"}'
                self.send_response(202)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                # A runtime killed by the test mid-request is expected, not a failure.
                pass

        self.closed = False
        self.server = Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def address(self):
        host, port = self.server.server_address[:2]
        return f"{host}:{port}"

    def push(self, request_id, body, headers=None):
        if not isinstance(body, str):
            body = json.dumps(body)
        self.events.put((request_id, body, headers or {}))

    def wait_posts(self, count, timeout=30.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.posts) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} posts, got {self.posts}")
                self.cond.wait(left)
            return list(self.posts)

    def wait_post_for(self, request_id, timeout=30.0):
        """The response or error posted for invocation `request_id` (waits for it)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for post in self.posts:
                    if post["request_id"] == request_id:
                        return post
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no answer to invocation {request_id}")
                self.cond.wait(left)

    def wait_next_requests(self, count, timeout=30.0):
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.next_requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"expected {count} next requests")
                self.cond.wait(left)
            return list(self.next_requests)

    def close(self):
        self.closed = True
        self.server.shutdown()
        self.server.server_close()
