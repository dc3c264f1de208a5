"""A Lambda Function URL in front of `stockwatch lambda` (_HANDLER=api), for tests.

No real Lambda can run here. This plays the two AWS parts between a browser and the `api`
function: the Function URL, which turns each HTTP request into an event in payload format
2.0 (headers with lower-case names, cookies in a `cookies` array, the path as sent, still
percent-encoded, and a body as text when its content type is text, else base64) and the
function's answer back into HTTP (Set-Cookie from the answer's `cookies`, a base64 body
decoded); and the Lambda Runtime API (lambda_runtime_fake.py), which hands the events to the
real bootstrap one at a time. Both are written from AWS's published formats. The front
speaks plain HTTP and says so with X-Forwarded-Proto: http, so the function's cookies come
without Secure and `__Host-` (a real Function URL is HTTPS only).
"""

import base64
import http.server
import itertools
import json
import threading
import time

from lambda_runtime_fake import FakeRuntimeApi

# Content types whose bodies a Function URL passes as text; any other body comes base64.
TEXT_TYPES = ("text/", "application/json", "application/javascript", "application/xml",
              "application/x-www-form-urlencoded")


def is_text(content_type):
    kind = content_type.split(";")[0].strip().lower()
    return kind.startswith(TEXT_TYPES) or kind.endswith(("+json", "+xml"))


# Headers the Function URL does not pass on as they are (it sets some itself).
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "content-length",
              "cookie"}


class FunctionUrlFront:
    def __init__(self):
        self.runtime = FakeRuntimeApi()
        self.ids = itertools.count(1)
        self.lock = threading.Lock()
        front = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def handle_any(self):
                length = int(self.headers.get("Content-Length", "0") or 0)
                body = self.rfile.read(length) if length else b""
                answer = front.invoke(self.command, self.path, self.headers, body)
                self.send_response(answer.get("statusCode", 500))
                for name, value in (answer.get("headers") or {}).items():
                    self.send_header(name, value)
                for cookie in answer.get("cookies") or []:
                    self.send_header("Set-Cookie", cookie)
                data = answer.get("body") or ""
                data = base64.b64decode(data) if answer.get("isBase64Encoded") else data.encode()
                if self.command == "HEAD":
                    data = b""
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = handle_any

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                # A browser closing a kept-alive connection mid-answer is not a failure.
                pass

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def event(self, method, target, headers, body):
        path, _, query = target.partition("?")
        lower = {}
        cookies = []
        for name, value in headers.items():
            name = name.lower()
            if name == "cookie":
                cookies += [c.strip() for c in value.split(";") if c.strip()]
            elif name not in HOP_BY_HOP:
                lower[name] = value if name not in lower else lower[name] + "," + value
        lower["x-forwarded-proto"] = "http"
        event = {
            "version": "2.0", "routeKey": "$default", "rawPath": path,
            "rawQueryString": query, "headers": lower,
            "requestContext": {
                "accountId": "anonymous", "apiId": "front", "domainName": lower.get("host", ""),
                "domainPrefix": "front",
                "http": {"method": method, "path": path,
                         "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1",
                         "userAgent": lower.get("user-agent", "")},
                "requestId": "", "routeKey": "$default", "stage": "$default",
                "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime()),
                "timeEpoch": int(time.time() * 1000)},
            "isBase64Encoded": False}
        if cookies:
            event["cookies"] = cookies
        if body and is_text(lower.get("content-type", "")):
            event["body"] = body.decode("utf-8", "replace")
        elif body:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
        return event

    def invoke(self, method, target, headers, body):
        with self.lock:
            request_id = f"front-{next(self.ids)}"
        event = self.event(method, target, headers, body)
        event["requestContext"]["requestId"] = request_id
        self.runtime.push(request_id, event)
        post = self.runtime.wait_post_for(request_id)
        if post["kind"] != "response":
            # A function error is a 502 at a Function URL.
            return {"statusCode": 502, "headers": {"content-type": "application/json"},
                    "body": json.dumps({"message": "Internal Server Error"})}
        return json.loads(post["body"])

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.runtime.close()
