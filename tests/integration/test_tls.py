"""HTTPS with --tls-cert/--tls-key, and the trusted reverse proxy (server.trust_proxy), through
the real binary (README, "Dashboard": "HTTPS").

A self-signed certificate is made with the `openssl` command; python's http.client trusts
exactly that certificate. Over HTTPS the session cookie is `__Host-sw_session` with `Secure`
and every response carries Strict-Transport-Security; a plain HTTP request to the HTTPS port
is refused. Over plain HTTP, X-Forwarded-Proto and X-Forwarded-For count only with
server.trust_proxy.
"""

import http.client
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import unittest

from harness import BIN, Server

PASSWORD = "a sturdy test passphrase"


def make_certificate(directory):
    """(cert path, key path): a self-signed certificate for 127.0.0.1 and localhost."""
    cert = os.path.join(directory, "cert.pem")
    key = os.path.join(directory, "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-keyout", key, "-out", cert,
         "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
        check=True, capture_output=True)
    os.chmod(key, 0o600)
    return cert, key


def call(connection, method, path, body=None, headers=None):
    """(status, response headers as a list of (name, value), parsed JSON or None)."""
    hdrs = dict(headers or {})
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        hdrs["Content-Type"] = "application/json"
    connection.request(method, path, body=data, headers=hdrs)
    resp = connection.getresponse()
    raw = resp.read()
    doc = json.loads(raw) if raw and "json" in (resp.getheader("Content-Type") or "") else None
    return resp.status, resp.getheaders(), doc


def header(headers, name):
    values = [v for k, v in headers if k.lower() == name.lower()]
    return values[-1] if values else None


def session_from_cookie(test, cookie, secure):
    """The session id of a login's Set-Cookie, after checking its name and attributes:
    `__Host-sw_session=<id>; Path=/; Secure; HttpOnly; SameSite=Strict` when `secure`, else
    `sw_session=<id>; Path=/; HttpOnly; SameSite=Strict` (in any order)."""
    test.assertIsNotNone(cookie)
    parts = [part.strip() for part in cookie.split(";")]
    name, _, value = parts[0].partition("=")
    test.assertEqual(name, "__Host-sw_session" if secure else "sw_session", cookie)
    test.assertTrue(value, cookie)
    expected = {"Path=/", "HttpOnly", "SameSite=Strict"} | ({"Secure"} if secure else set())
    test.assertEqual(sorted(parts[1:]), sorted(expected), cookie)
    return value


class TlsTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="sw-tls-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        self.cert, self.key = make_certificate(self.dir)
        self.context = ssl.create_default_context(cafile=self.cert)

    def start(self, *args):
        server = Server(env={"STOCKWATCH_ADMIN_PASSWORD": PASSWORD},
                        args=["--tls-cert", self.cert, "--tls-key", self.key, *args],
                        ssl_context=self.context)
        server.start()
        self.addCleanup(server.stop)
        return server

    def https(self, port):
        connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=60,
                                                 context=self.context)
        self.addCleanup(connection.close)
        return connection

    def test_login_over_https_sets_a_host_prefixed_secure_cookie(self):
        server = self.start()
        self.assertTrue(server.url.startswith("https://"), server.url)
        self.assertTrue(server.s3_url.startswith("https://"), server.s3_url)
        connection = self.https(server.port)

        status, headers, doc = call(connection, "GET", "/healthz")
        self.assertEqual(status, 200)
        self.assertEqual(doc, {"status": "ok"})
        self.assertEqual(header(headers, "Strict-Transport-Security"), "max-age=31536000")

        status, headers, doc = call(connection, "POST", "/api/v1/login",
                                    {"name": "admin", "password": PASSWORD})
        self.assertEqual(status, 200, doc)
        session = session_from_cookie(self, header(headers, "Set-Cookie"), secure=True)
        self.assertIsNotNone(header(headers, "Strict-Transport-Security"))

        # The cookie authenticates the next request, on the same connection and a new one.
        status, headers, me = call(connection, "GET", "/api/v1/me",
                                   headers={"Cookie": f"__Host-sw_session={session}"})
        self.assertEqual(status, 200, me)
        self.assertEqual(me["user"]["name"], "admin")
        self.assertEqual(me["csrf_token"], doc["csrf_token"])
        self.assertIsNotNone(header(headers, "Strict-Transport-Security"))
        status, _, stores = call(self.https(server.port), "GET", "/api/v1/stores",
                                 headers={"Cookie": f"__Host-sw_session={session}"})
        self.assertEqual(status, 200, stores)
        # The name without the prefix is not the session cookie here.
        status, _, _ = call(connection, "GET", "/api/v1/me",
                            headers={"Cookie": f"sw_session={session}"})
        self.assertEqual(status, 401)

        # The harness's own client (bearer token) and the CLI's work over HTTPS too.
        self.assertEqual(server.get("/api/v1/stores")[0], 200)

        # The S3 listener speaks HTTPS with the same certificate.
        s3 = self.https(server.s3_port)
        status, _, _ = call(s3, "GET", "/")
        self.assertIn(status, (200, 403))

    def test_plain_http_to_the_https_port_is_refused_and_the_server_goes_on(self):
        server = self.start()
        plain = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        self.addCleanup(plain.close)
        status, _, doc = call(plain, "GET", "/healthz")
        self.assertEqual(status, 400)
        self.assertIn("https://", doc["error"]["message"])
        status, _, doc = call(self.https(server.port), "GET", "/healthz")
        self.assertEqual(status, 200)

    def test_bad_certificate_or_key_stops_the_start_naming_the_file(self):
        def serve(*args):
            data = tempfile.mkdtemp(prefix="sw-data-", dir=self.dir)
            return subprocess.run([BIN, "serve", "--data", data, "--listen", "127.0.0.1:0",
                                   "--s3-listen", "off", *args],
                                  capture_output=True, text=True, timeout=60)

        missing = os.path.join(self.dir, "missing.pem")
        proc = serve("--tls-cert", missing, "--tls-key", self.key)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn(missing, proc.stderr)

        proc = serve("--tls-cert", self.cert)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("--tls-key", proc.stderr)

        # Not a certificate at all.
        proc = serve("--tls-cert", self.key, "--tls-key", self.key)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn(self.key, proc.stderr)

        os.chmod(self.key, 0o644)
        proc = serve("--tls-cert", self.cert, "--tls-key", self.key)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn(self.key, proc.stderr)
        self.assertIn("readable by every user", proc.stderr)


class TrustProxyTest(unittest.TestCase):
    """Plain HTTP, as between a TLS-terminating proxy and the server."""

    def start(self, trust_proxy):
        env = {"STOCKWATCH_ADMIN_PASSWORD": PASSWORD,
               "STOCKWATCH_SERVER_TRUST_PROXY": "true" if trust_proxy else "false"}
        server = Server(env=env).start()
        self.addCleanup(server.stop)
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        self.addCleanup(connection.close)
        return server, connection

    def login(self, connection, password=PASSWORD, forwarded_for=None):
        headers = {"X-Forwarded-Proto": "https"}
        if forwarded_for:
            headers["X-Forwarded-For"] = forwarded_for
        return call(connection, "POST", "/api/v1/login", {"name": "admin", "password": password},
                    headers=headers)

    def throttled_after_failures(self, connection, failing_address, other_address):
        """Fails logins from `failing_address` until throttled (429); then returns the status
        of a wrong-password login of another account from `other_address`."""
        for i in range(100):
            status, _, _ = call(connection, "POST", "/api/v1/login",
                                {"name": f"nobody{i}", "password": "wrong password here"},
                                headers={"X-Forwarded-For": f"198.51.100.7, {failing_address}"})
            if status == 429:
                break
        self.assertEqual(status, 429, "per-address throttling never started")
        status, _, _ = call(connection, "POST", "/api/v1/login",
                            {"name": "someone", "password": "wrong password here"},
                            headers={"X-Forwarded-For": other_address})
        return status

    def test_trusted_proxy_makes_the_cookie_secure_and_names_the_client(self):
        _, connection = self.start(trust_proxy=True)
        status, headers, doc = self.login(connection)
        self.assertEqual(status, 200, doc)
        session = session_from_cookie(self, header(headers, "Set-Cookie"), secure=True)
        self.assertEqual(header(headers, "Strict-Transport-Security"), "max-age=31536000")
        status, _, me = call(connection, "GET", "/api/v1/me",
                             headers={"X-Forwarded-Proto": "https",
                                      "Cookie": f"__Host-sw_session={session}"})
        self.assertEqual(status, 200, me)
        # Without the header (a plain-HTTP client of the proxy): no HSTS, the plain cookie.
        status, headers, _ = call(connection, "GET", "/healthz")
        self.assertIsNone(header(headers, "Strict-Transport-Security"))
        # The last X-Forwarded-For hop is the throttled address: another one is not throttled.
        self.assertEqual(self.throttled_after_failures(connection, "203.0.113.5", "203.0.113.6"),
                         401)

    def test_without_trust_proxy_forwarded_headers_are_ignored(self):
        _, connection = self.start(trust_proxy=False)
        status, headers, doc = self.login(connection)
        self.assertEqual(status, 200, doc)
        session_from_cookie(self, header(headers, "Set-Cookie"), secure=False)
        self.assertIsNone(header(headers, "Strict-Transport-Security"))
        # Every login comes from 127.0.0.1 whatever X-Forwarded-For says: throttled alike.
        self.assertEqual(self.throttled_after_failures(connection, "203.0.113.5", "203.0.113.6"),
                         429)


if __name__ == "__main__":
    unittest.main()
