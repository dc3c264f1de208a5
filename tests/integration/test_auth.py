"""Logins, sessions, roles and personal tokens through the real binary (docs/API.md,
"Accounts and roles").

The first start prints the admin's password; a browser-like client logs in with it, gets an
HttpOnly SameSite=Strict cookie and a CSRF token, and is refused state changes without the
token; a viewer cannot write; a manager sees only its store once the samples are loaded;
failed logins are throttled with Retry-After; a password change ends the other sessions;
logout ends the session.
"""

import json
import os
import re
import unittest
import urllib.error
import urllib.request

from harness import SAMPLES, TOKEN, Server

PASSWORD = "a sturdy test passphrase"


def call(server, method, path, body=None, cookie=None, csrf=None, token=None, headers=None):
    """Returns (status, headers, parsed JSON or None); no bearer token unless `token`."""
    hdrs = dict(headers or {})
    data = None
    if body is not None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        if not isinstance(body, bytes):
            hdrs["Content-Type"] = "application/json"
    if cookie:
        hdrs["Cookie"] = f"sw_session={cookie}"
    if csrf:
        hdrs["X-CSRF-Token"] = csrf
    if token:
        hdrs["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(server.url + path, data=data, method=method, headers=hdrs)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            status, raw, got = resp.status, resp.read(), resp.headers
    except urllib.error.HTTPError as e:
        status, raw, got = e.code, e.read(), e.headers
    doc = json.loads(raw) if raw and "json" in got.get("Content-Type", "") else None
    return status, got, doc


def login(server, name, password):
    """(session id, csrf token, Set-Cookie value); fails unless the login succeeds."""
    status, headers, doc = call(server, "POST", "/api/v1/login",
                                {"name": name, "password": password})
    assert status == 200, (status, doc)
    cookie = headers["Set-Cookie"]
    session = re.match(r"sw_session=([^;]+);", cookie).group(1)
    return session, doc["csrf_token"], cookie


class AuthTest(unittest.TestCase):
    def setUp(self):
        self.server = Server(env={"STOCKWATCH_ADMIN_PASSWORD": ""}).start()
        self.addCleanup(self.server.stop)
        printed = [line for line in self.server.startup_lines if "admin user" in line]
        self.assertEqual(len(printed), 1, self.server.startup_lines)
        self.assertIn('created the admin user "admin"', printed[0])
        self.admin_password = printed[0].rsplit(": ", 1)[1].strip()

    def test_sessions_roles_and_tokens(self):
        server = self.server
        self.assertGreaterEqual(len(self.admin_password), 12)
        # Anonymous: 401; the admin logs in with the printed password.
        self.assertEqual(call(server, "GET", "/api/v1/me")[0], 401)
        admin, admin_csrf, cookie = login(server, "admin", self.admin_password)
        self.assertIn("; Path=/", cookie)
        self.assertIn("; HttpOnly", cookie)
        self.assertIn("; SameSite=Strict", cookie)
        self.assertNotIn("Secure", cookie)
        status, _, me = call(server, "GET", "/api/v1/me", cookie=admin)
        self.assertEqual(status, 200)
        self.assertEqual(me["user"], {"name": "admin", "role": "admin", "stores": None})
        self.assertEqual(me["csrf_token"], admin_csrf)
        # The first-start token now belongs to the admin.
        status, _, me = call(server, "GET", "/api/v1/me", token=TOKEN)
        self.assertEqual((status, me["user"]["name"]), (200, "admin"))

        # A state change with the cookie needs the CSRF token (and our origin).
        viewer = {"name": "viv", "role": "viewer", "password": PASSWORD}
        status, _, doc = call(server, "POST", "/api/v1/users", viewer, cookie=admin)
        self.assertEqual(status, 403)
        self.assertIn("X-CSRF-Token", doc["error"]["message"])
        self.assertEqual(call(server, "POST", "/api/v1/users", viewer, cookie=admin,
                              csrf="not-the-token")[0], 403)
        self.assertEqual(call(server, "POST", "/api/v1/users", viewer, cookie=admin,
                              csrf=admin_csrf, headers={"Origin": "https://evil.example"})[0], 403)
        self.assertEqual(call(server, "POST", "/api/v1/users", viewer, cookie=admin,
                              csrf=admin_csrf, headers={"Origin": server.url})[0], 201)
        manager = {"name": "kim", "role": "manager", "stores": ["Berlin"], "password": PASSWORD}
        self.assertEqual(call(server, "POST", "/api/v1/users", manager, cookie=admin,
                              csrf=admin_csrf)[0], 201)

        # A viewer reads but cannot write.
        viv, viv_csrf, _ = login(server, "viv", PASSWORD)
        self.assertEqual(call(server, "GET", "/api/v1/stores", cookie=viv)[0], 200)
        status, _, doc = call(server, "PUT", "/api/v1/thresholds",
                              {"store": "Berlin", "item": None, "value": 3}, cookie=viv,
                              csrf=viv_csrf)
        self.assertEqual(status, 403, doc)
        self.assertEqual(call(server, "GET", "/api/v1/users", cookie=viv)[0], 403)

        # The admin loads the six samples; the Berlin manager sees only Berlin.
        for name in sorted(os.listdir(SAMPLES)):
            with open(os.path.join(SAMPLES, name), "rb") as f:
                status, _, doc = call(server, "PUT", f"/api/v1/uploads/{name}", f.read(),
                                      cookie=admin, csrf=admin_csrf,
                                      headers={"Content-Type": "text/csv"})
            self.assertEqual(status, 201, doc)
            server.wait_loaded(doc["id"])
        kim, kim_csrf, _ = login(server, "kim", PASSWORD)
        status, _, doc = call(server, "GET", "/api/v1/inventory?limit=10000", cookie=kim)
        self.assertEqual(status, 200)
        self.assertTrue(doc["items"])
        self.assertEqual({item["store"] for item in doc["items"]}, {"Berlin"})
        status, _, doc = call(server, "GET", "/api/v1/stores", cookie=kim)
        self.assertEqual([s["store"] for s in doc["stores"]], ["Berlin"])
        status, _, doc = call(server, "GET", "/api/v1/stores", cookie=viv)
        self.assertEqual(len(doc["stores"]), 6)
        self.assertEqual(call(server, "GET", "/api/v1/inventory?store=Springfield",
                              cookie=kim)[0], 403)
        # Its own uploads must stay in Berlin.
        status, _, doc = call(server, "PUT", "/api/v1/uploads/mixed.csv",
                              b"store,item,count\nBerlin,Echo Plus,4\nSpringfield,Donut,1\n",
                              cookie=kim, csrf=kim_csrf)
        self.assertEqual(status, 403, doc)
        status, _, doc = call(server, "PUT", "/api/v1/uploads/berlin.csv",
                              b"store,item,count\nBerlin,Echo Plus,4\n", cookie=kim,
                              csrf=kim_csrf)
        self.assertEqual(status, 201, doc)

        # A personal token acts as its user.
        status, _, doc = call(server, "POST", "/api/v1/tokens", {"name": "cron"}, cookie=kim,
                              csrf=kim_csrf)
        self.assertEqual(status, 201, doc)
        status, _, me = call(server, "GET", "/api/v1/me", token=doc["token"])
        self.assertEqual(me["user"], {"name": "kim", "role": "manager", "stores": ["Berlin"]})

        # A password change ends the other sessions, not this one.
        other, _, _ = login(server, "viv", PASSWORD)
        status, _, doc = call(server, "POST", "/api/v1/me/password",
                              {"current_password": PASSWORD,
                               "new_password": "another sturdy passphrase"},
                              cookie=viv, csrf=viv_csrf)
        self.assertEqual(status, 204, doc)
        self.assertEqual(call(server, "GET", "/api/v1/me", cookie=viv)[0], 200)
        self.assertEqual(call(server, "GET", "/api/v1/me", cookie=other)[0], 401)
        login(server, "viv", "another sturdy passphrase")

        # Logout ends the session and clears the cookie.
        status, headers, _ = call(server, "POST", "/api/v1/logout", cookie=admin, csrf=admin_csrf)
        self.assertEqual(status, 204)
        self.assertIn("Max-Age=0", headers["Set-Cookie"])
        self.assertEqual(call(server, "GET", "/api/v1/me", cookie=admin)[0], 401)

    def test_failed_logins_are_throttled(self):
        server = self.server
        bodies = set()
        for name in ("admin", "nobody"):
            status, _, doc = call(server, "POST", "/api/v1/login",
                                  {"name": name, "password": "wrong password!"})
            self.assertEqual(status, 401)
            bodies.add(json.dumps(doc))
        self.assertEqual(len(bodies), 1)  # the same answer for an unknown user
        for _ in range(4):
            self.assertEqual(call(server, "POST", "/api/v1/login",
                                  {"name": "admin", "password": "wrong password!"})[0], 401)
        status, headers, doc = call(server, "POST", "/api/v1/login",
                                    {"name": "admin", "password": self.admin_password})
        self.assertEqual(status, 429, doc)
        self.assertGreater(int(headers["Retry-After"]), 0)


class AdminPasswordFromEnvironmentTest(unittest.TestCase):
    def test_the_environment_sets_the_first_admin_password(self):
        server = Server(env={"STOCKWATCH_ADMIN_PASSWORD": PASSWORD}).start()
        try:
            self.assertIn('created the admin user "admin" with the password from the environment',
                          "".join(server.startup_lines))
            self.assertNotIn(PASSWORD, "".join(server.startup_lines))
            login(server, "admin", PASSWORD)
        finally:
            server.stop()
        # A restart makes no other admin.
        again = Server(data_dir=server.data_dir, env={"STOCKWATCH_ADMIN_PASSWORD": ""}).start()
        try:
            self.assertNotIn("admin user", "".join(again.startup_lines))
            login(again, "admin", PASSWORD)
        finally:
            again.stop()


if __name__ == "__main__":
    unittest.main()
