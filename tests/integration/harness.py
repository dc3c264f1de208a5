"""Test harness: runs the real stockwatch binary and real peers on loopback.

- Server: `stockwatch serve --listen 127.0.0.1:0` in a temp data dir; the port is read
  from its "listening on" line.
- SMTP: smtp_sink.py (Debian's aiosmtpd, a real SMTP server) saving .eml files.
- Webhooks: webhook_sink.py (http.server) saving one JSON file per POST.
Nothing here is mocked; every wait is bounded.
"""

import email
import email.policy
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.environ.get("STOCKWATCH_BIN", os.path.join(HERE, "../../build/ci/src/stockwatch"))
SAMPLES = os.environ.get("SW_SAMPLES", os.path.join(HERE, "../../samples"))
TOKEN = "sw_test_admin_token_0123456789abcdef"
SYS_PYTHON = "/usr/bin/python3"  # Debian's python, which has python3-aiosmtpd
ROOT = os.path.abspath(os.path.join(HERE, "../.."))
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def node_major():
    try:
        out = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=30)
        return int(out.stdout.strip().lstrip("v").split(".")[0])
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return 0


def browser_test_missing():
    """What the browser tests (tests/browser/*.mjs) need and this machine lacks: empty when
    Chromium, node 20+ and web/node_modules/playwright-core are all there."""
    return [what for what, ok in [
        (CHROMIUM, os.access(CHROMIUM, os.X_OK)),
        ("node 20 or later", node_major() >= 20),
        ("web/node_modules/playwright-core",
         os.path.isdir(os.path.join(ROOT, "web/node_modules/playwright-core")))] if not ok]


def run_browser_script(test, script, env, server_log):
    """Runs tests/browser/<script> with node and `env` (CHROMIUM added); fails `test` with the
    script's output and the tail of `server_log` (a string) when it exits non-zero. Returns
    its stdout."""
    proc = subprocess.run(["node", os.path.join(ROOT, "tests/browser", script)],
                          env=dict(env, CHROMIUM=CHROMIUM), capture_output=True, text=True,
                          timeout=300)
    if proc.returncode != 0:
        test.fail(f"{script} exited {proc.returncode}\n--- stdout\n{proc.stdout}\n"
                  f"--- stderr\n{proc.stderr}\n--- server log (tail)\n{server_log[-4000:]}")
    return proc.stdout


def browser_artifacts():
    """Where the browser tests put their screenshots: $SW_ARTIFACTS, else
    <build dir>/browser-artifacts."""
    return os.environ.get("SW_ARTIFACTS") or os.path.join(
        os.path.dirname(os.path.dirname(os.path.abspath(BIN))), "browser-artifacts")


def stop_process(proc):
    """Terminates `proc` if it still runs, killing it after 10 s, and reaps it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def wait_for(predicate, timeout=30.0, interval=0.02, what="condition"):
    """Polls `predicate` until it returns a truthy value; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def _read_listening_line(proc, marker, timeout=30.0, seen=None):
    """Reads stdout lines until one contains `marker`; returns that line. Every line read
    is appended to `seen` when given."""
    deadline = time.monotonic() + timeout
    lines = [] if seen is None else seen
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            if proc.poll() is not None:
                break
            continue
        lines.append(line)
        if marker in line:
            return line
    raise AssertionError(f"process did not print {marker!r}; output so far: {''.join(lines)}")


class Sink:
    """A peer process (SMTP or webhook sink) saving what it receives into a directory."""

    def __init__(self, script, extra_args=()):
        self.dir = tempfile.mkdtemp(prefix="sw-sink-")
        self.proc = subprocess.Popen(
            [SYS_PYTHON, os.path.join(HERE, script), "--port", "0", "--dir", self.dir, *extra_args],
            stdout=subprocess.PIPE, stderr=sys.stderr, text=True)
        line = _read_listening_line(self.proc, "listening")
        self.port = int(line.split()[-1])

    def files(self, suffix):
        return sorted(f for f in os.listdir(self.dir) if f.endswith(suffix))

    def stop(self):
        stop_process(self.proc)
        if self.proc.stdout:
            self.proc.stdout.close()


class SmtpSink(Sink):
    def __init__(self):
        super().__init__("smtp_sink.py")
        self.url = f"smtp://127.0.0.1:{self.port}"

    def messages(self):
        out = []
        for name in self.files(".eml"):
            with open(os.path.join(self.dir, name), "rb") as f:
                out.append(email.message_from_binary_file(f, policy=email.policy.default))
        return out


class WebhookSink(Sink):
    def __init__(self, *args):
        super().__init__("webhook_sink.py", args)
        self.url = f"http://127.0.0.1:{self.port}/hook"

    def posts(self):
        out = []
        for name in self.files(".json"):
            with open(os.path.join(self.dir, name)) as f:
                out.append(json.load(f))
        return out


class Server:
    """`stockwatch serve` on a free loopback port with its own data directory.

    Every receiver of these tests listens on 127.0.0.1, which the server refuses to deliver
    to by default, so notify.allow_private_targets is set unless `allow_private_targets` is
    False (`env` may still override it).
    """

    def __init__(self, data_dir=None, env=None, args=(), allow_private_targets=True,
                 ssl_context=None):
        """`ssl_context`: how request() verifies the server's certificate when it serves
        HTTPS (--tls-cert); the URLs take their scheme from the "listening on" lines."""
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="sw-data-")
        self.ssl_context = ssl_context
        self.allow_private_targets = allow_private_targets
        self.extra_env = env or {}
        self.args = list(args)
        self.proc = None
        self.port = None
        self.log_path = os.path.join(self.data_dir, "..", os.path.basename(self.data_dir) + ".log")

    def start(self):
        env = dict(os.environ)
        env.update({"STOCKWATCH_ADMIN_TOKEN": TOKEN, "STOCKWATCH_LOG_LEVEL": "info",
                    "STOCKWATCH_NOTIFY_ALLOW_PRIVATE_TARGETS":
                        "true" if self.allow_private_targets else "false"})
        env.update(self.extra_env)
        env = {k: v for k, v in env.items() if v is not None}  # None: leave the variable unset
        self.log = open(self.log_path, "a")
        self.proc = subprocess.Popen(
            [BIN, "serve", "--data", self.data_dir, "--listen", "127.0.0.1:0",
             "--s3-listen", "127.0.0.1:0", *self.args],
            stdout=subprocess.PIPE, stderr=self.log, text=True, env=env)
        # What the server printed before it listened (the first start's admin credentials).
        self.startup_lines = []
        line = _read_listening_line(self.proc, "stockwatch listening on", seen=self.startup_lines)
        self.port = int(line.strip().rsplit(":", 1)[-1].rstrip("/"))
        scheme = "https" if "https://" in line else "http"
        self.url = f"{scheme}://127.0.0.1:{self.port}"
        line = _read_listening_line(self.proc, "S3 API listening on")
        self.s3_port = int(line.strip().rsplit(":", 1)[-1].rstrip("/"))
        scheme = "https" if "https://" in line else "http"
        self.s3_url = f"{scheme}://127.0.0.1:{self.s3_port}"
        # The server logs to stdout too: keep draining it into the log, so that a chatty
        # server never blocks on a full pipe and a failing test can show what it said.
        proc, log = self.proc, self.log

        def drain():
            try:
                for out_line in proc.stdout:
                    log.write(out_line)
                    log.flush()
            except (ValueError, OSError):  # closed by stop() or kill()
                return

        self._drain = threading.Thread(target=drain, daemon=True)
        self._drain.start()
        return self

    def kill(self):
        """SIGKILL: no chance to clean up, like a crash or a power cut of the process."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        if getattr(self, "_drain", None):
            self._drain.join(5)
        self.proc.stdout.close()
        self.log.close()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            if getattr(self, "_drain", None):
                self._drain.join(5)
            self.proc.stdout.close()
            self.log.close()

    def logs(self):
        with open(self.log_path) as f:
            return f.read()

    # --- HTTP API -------------------------------------------------------------------------

    def request(self, method, path, body=None, token=TOKEN, headers=None):
        """Returns (status, parsed JSON or text)."""
        data = None
        hdrs = dict(headers or {})
        if token:
            hdrs["Authorization"] = f"Bearer {token}"
        if body is not None:
            if isinstance(body, (dict, list)):
                data = json.dumps(body).encode()
                hdrs["Content-Type"] = "application/json"
            else:
                data = body if isinstance(body, bytes) else body.encode()
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=120, context=self.ssl_context) as resp:
                status, raw, ctype = resp.status, resp.read(), resp.headers.get("Content-Type", "")
        except urllib.error.HTTPError as e:
            status, raw, ctype = e.code, e.read(), e.headers.get("Content-Type", "")
        if "json" in ctype and raw:
            return status, json.loads(raw)
        return status, raw.decode(errors="replace")

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def inventory(self, store=None):
        items, cursor = [], None
        while True:
            q = {"limit": "10000"}
            if store:
                q["store"] = store
            if cursor:
                q["cursor"] = cursor
            status, doc = self.get("/api/v1/inventory?" + urllib.parse.urlencode(q))
            assert status == 200, doc
            items.extend(doc["items"])
            cursor = doc.get("next_cursor")
            if not cursor:
                return items

    def wait_loaded(self, upload_id, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status, doc = self.get(f"/api/v1/uploads/{upload_id}?wait=10")
            assert status == 200, doc
            if doc["status"] != "pending":
                return doc
        raise AssertionError(f"upload {upload_id} still pending after {timeout}s")

    def cli(self, *args, check=True, input=None, confirmed=True):
        """Runs a client subcommand against this server; returns CompletedProcess.

        `subscribe` gets --confirmed (an admin vouching for the endpoint) unless `confirmed`
        is False: the tests' receivers get alerts without answering a confirmation first.
        """
        if args and args[0] == "subscribe" and confirmed and "--confirmed" not in args:
            args = ("subscribe", "--confirmed", *args[1:])
        env = dict(os.environ, STOCKWATCH_SERVER=self.url, STOCKWATCH_TOKEN=TOKEN)
        proc = subprocess.run([BIN, *args], capture_output=True, text=True, env=env, timeout=600,
                              input=input)
        if check and proc.returncode != 0:
            raise AssertionError(f"stockwatch {' '.join(args)} exited {proc.returncode}:\n"
                                 f"{proc.stdout}\n{proc.stderr}")
        return proc


def read_csv_rows(path):
    """The (store, item) -> count a file should leave in an empty table (last row wins)."""
    import csv
    out = {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f)
        header = [h.strip().lower() for h in next(reader)]
        si, ii, ci = header.index("store"), header.index("item"), header.index("count")
        for row in reader:
            if not row:
                continue
            out[(row[si].strip(), row[ii].strip())] = int(row[ci].strip())
    return out
