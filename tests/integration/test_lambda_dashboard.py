"""The dashboard in AWS mode: the `api` Lambda function serving the web app and a browser
sign-in with the Cognito user pool's hosted UI, through a Function URL.

No real Lambda, Function URL or Cognito hosted UI can run here, so three stand-ins carry
the real binary's traffic, each written for the tests from AWS's published formats:
- function_url_front.py plays the Function URL (HTTP to payload format 2.0 events and back,
  cookies in the `cookies` arrays) and the Lambda Runtime API; `stockwatch lambda` runs
  with _HANDLER=api as its bootstrap, as on Lambda;
- oidc_standin.py plays the pool's hosted UI (/oauth2/authorize, /oauth2/token, checking
  PKCE) and hands out ID tokens that moto's Cognito minted for the user (real RS256 tokens,
  verified by stockwatch against moto's JWKS);
- moto_server plays DynamoDB (the six sample files in the table), Cognito (the pool, its
  groups and users), Secrets Manager (the session secret, read by SESSION_SECRET_ARN) and
  SNS (the alert topics, whose subscriptions the dashboard manages).
moto's tokens carry no nonce, so the function runs with OIDC_REQUIRE_NONCE=false (the
unit tests cover the nonce, dashboard_api_test.cc).

With Chromium and node present, tests/browser/lambda_dashboard.mjs then clicks through it.
"""

import csv
import glob
import html
import json
import os
import shutil
import subprocess
import tempfile
import unittest
import urllib.error
import urllib.parse
import urllib.request

from function_url_front import FunctionUrlFront
from harness import (BIN, SAMPLES, browser_artifacts, browser_test_missing,
                     run_browser_script)
from lambda_runtime_fake import FakeRuntimeApi
from moto_support import REGION, MotoServer
from oidc_standin import StandInProvider, fetch, set_cookies

PASSWORD = "Passw0rd!long-enough"


def sample_rows():
    rows = []
    for path in sorted(glob.glob(os.path.join(SAMPLES, "*.csv"))):
        with open(path, newline="") as f:
            rows += [(r["store"], r["item"], int(r["count"])) for r in csv.DictReader(f)]
    return rows


class LambdaDashboardTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sw-lambda-dashboard-")
        cls.moto = m = MotoServer("sw-lambda-dashboard-moto")
        cls.cleanups = [m.stop, lambda: shutil.rmtree(cls.tmp, ignore_errors=True)]
        try:
            m.create_inventory_table(stream=False)
            cls.rows = sample_rows()
            for store, item, count in cls.rows:
                m.dynamodb("PutItem", {"TableName": "Inventory", "Item": {
                    "Store": {"S": store}, "Item": {"S": item}, "Count": {"N": str(count)}}})
            cls.pool_id, cls.client_id, _ = m.make_user_pool(PASSWORD)
            secret = m.json_call("application/x-amz-json-1.1", "secretsmanager.CreateSecret",
                                 "secretsmanager", {"Name": "stockwatch-session",
                                                    "SecretString": "k" * 48})
            cls.secret_arn = secret["ARN"]
            cls.topics = {name: m.create_topic(name)
                          for name in ("NoStock", "LowStock", "BackInStock")}
            cls.provider = StandInProvider(
                cls.client_id, lambda user: m.id_token(cls.client_id, user, PASSWORD))
            cls.cleanups.append(cls.provider.stop)
            cls.front = FunctionUrlFront()
            cls.cleanups.append(cls.front.close)
            cls.log = open(os.path.join(cls.tmp, "lambda.log"), "w")
            cls.proc = subprocess.Popen([BIN, "lambda"], env=cls.env(cls.front.runtime),
                                        stdout=cls.log, stderr=subprocess.STDOUT)
            cls.cleanups.append(cls.stop_lambda)
        except Exception:
            cls.tearDownClass()
            raise

    @classmethod
    def stop_lambda(cls):
        cls.proc.terminate()
        try:
            cls.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            cls.proc.kill()
            cls.proc.wait()
        cls.log.close()

    @classmethod
    def tearDownClass(cls):
        for cleanup in reversed(cls.cleanups):
            cleanup()

    @classmethod
    def env(cls, runtime, **overrides):
        env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                   AWS_REGION=REGION, AWS_ENDPOINT_URL=cls.moto.url, HOME=cls.tmp,
                   AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_CONFIG_FILE=os.devnull,
                   AWS_LAMBDA_RUNTIME_API=runtime.address, _HANDLER="api",
                   TABLE_NAME="Inventory", COGNITO_USER_POOL_ID=cls.pool_id,
                   COGNITO_CLIENT_ID=cls.client_id,
                   COGNITO_JWKS_URL=f"{cls.moto.url}/{cls.pool_id}/.well-known/jwks.json",
                   COGNITO_DOMAIN=cls.provider.url, SESSION_SECRET_ARN=cls.secret_arn,
                   OIDC_REQUIRE_NONCE="false", LOW_STOCK_THRESHOLD="5",
                   ADMIN_GROUPS="stockwatch-admins", MANAGER_GROUPS="stockwatch-managers",
                   NO_STOCK_TOPIC_ARN=cls.topics["NoStock"],
                   LOW_STOCK_TOPIC_ARN=cls.topics["LowStock"],
                   BACK_IN_STOCK_TOPIC_ARN=cls.topics["BackInStock"], TABLE_THRESHOLDS="true")
        env.pop("SESSION_SECRET", None)
        env.update(overrides)
        return {k: v for k, v in env.items() if v is not None}

    def logs(self):
        with open(os.path.join(self.tmp, "lambda.log")) as f:
            return f.read()[-4000:]

    def sign_in(self, user):
        """Drives the flow by hand as a browser would: the session cookie's value."""
        self.provider.user = user
        url = self.front.url
        status, headers, body = fetch(url + "/api/v1/oidc/login")
        self.assertEqual(status, 302, body)
        location = headers["Location"]
        self.assertTrue(location.startswith(self.provider.url + "/oauth2/authorize?"), location)
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
        self.assertEqual(q["client_id"], self.client_id)
        self.assertEqual(q["redirect_uri"], url + "/api/v1/oidc/callback")
        attempt = set_cookies(headers)["sw_oidc"]
        self.assertIn("HttpOnly", attempt[1])
        status, headers, body = fetch(location)
        self.assertEqual(status, 302, body)
        status, headers, body = fetch(headers["Location"], cookies={"sw_oidc": attempt[0]})
        self.assertEqual(status, 302, body.decode() + self.logs())
        self.assertEqual(headers["Location"], "/")
        cookies = set_cookies(headers)
        self.assertIn("SameSite=Strict", cookies["sw_session"][1])
        self.assertIn("HttpOnly", cookies["sw_session"][1])
        return cookies["sw_session"][0]

    def get_json(self, path, session):
        status, headers, body = fetch(self.front.url + path, cookies={"sw_session": session})
        return status, json.loads(body or b"null")

    def test_web_app_and_health_are_open_and_nothing_else(self):
        status, headers, body = fetch(self.front.url + "/")
        self.assertEqual(status, 200, self.logs())
        self.assertIn("text/html", headers["Content-Type"])
        self.assertIn("default-src 'self'", headers["Content-Security-Policy"])
        self.assertIn(b'<div id="app">', body)
        status, _, _ = fetch(self.front.url + "/healthz")
        self.assertEqual(status, 200)
        for path in ("/api/v1/me", "/api/v1/stores", "/api/v1/inventory"):
            status, _, _ = fetch(self.front.url + path)
            self.assertEqual(status, 401, path)

    def test_sign_in_with_the_hosted_ui_then_the_inventory_from_the_table(self):
        session = self.sign_in("alice")
        # The token request proved the PKCE verifier (the stand-in refuses it otherwise).
        self.assertEqual(len(self.provider.token_requests[-1]["code_verifier"]), 43)
        status, me = self.get_json("/api/v1/me", session)
        self.assertEqual(status, 200, me)
        self.assertEqual((me["user"]["name"], me["user"]["role"]), ("alice", "admin"))
        self.assertEqual(me["features"], ["inventory", "subscriptions", "thresholds"])
        self.assertTrue(me["csrf_token"])

        status, body = self.get_json("/api/v1/stores", session)
        self.assertEqual(status, 200, body)
        self.assertEqual(sorted(s["store"] for s in body["stores"]),
                         sorted({store for store, _, _ in self.rows}))
        status, page = self.get_json("/api/v1/inventory?store=Berlin&status=out", session)
        self.assertEqual(status, 200, page)
        expected = sorted(item for store, item, count in self.rows
                          if store == "Berlin" and count == 0)
        self.assertEqual(sorted(i["item"] for i in page["items"]), expected)
        self.assertIn("Echo Plus", expected)

    def test_a_manager_sees_only_their_store(self):
        session = self.sign_in("carol")
        status, body = self.get_json("/api/v1/stores", session)
        self.assertEqual(status, 200, body)
        self.assertEqual([s["store"] for s in body["stores"]], ["Berlin"])
        status, body = self.get_json("/api/v1/inventory?store=Pusan", session)
        self.assertEqual(status, 403, body)

    def send(self, method, path, session, csrf, body=None):
        """(status, parsed body) of a write with the session and its CSRF token."""
        data = json.dumps(body).encode() if body is not None else b""
        req = urllib.request.Request(self.front.url + path, data=data, method=method, headers={
            "Cookie": "sw_session=" + session, "X-CSRF-Token": csrf,
            "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def sns_subscriptions(self, topic):
        """(protocol, endpoint, filter policy) of every subscription SNS (moto) lists for
        `topic`, read with SNS's own API."""
        def field(xml, name):
            return xml.split(f"<{name}>", 1)[1].split(f"</{name}>", 1)[0]
        _, _, xml = self.moto.sns({"Action": "ListSubscriptionsByTopic",
                                   "TopicArn": self.topics[topic]})
        out = []
        for member in xml.decode().split("<member>")[1:]:
            _, _, attrs = self.moto.sns({"Action": "GetSubscriptionAttributes",
                                         "SubscriptionArn": field(member, "SubscriptionArn")})
            attrs = attrs.decode()
            policy = None
            if "<key>FilterPolicy</key>" in attrs:
                value = attrs.split("<key>FilterPolicy</key>", 1)[1]
                policy = json.loads(html.unescape(field(value, "value")))
            out.append((field(member, "Protocol"), field(member, "Endpoint"), policy))
        return sorted(out)

    def test_subscriptions_are_sns_subscriptions_scoped_by_store(self):
        session = self.sign_in("carol")  # the manager of Berlin
        status, me = self.get_json("/api/v1/me", session)
        self.assertEqual(me["features"], ["inventory", "subscriptions", "thresholds"])
        self.assertEqual(self.get_json("/api/v1/topics", session)[1]["topics"],
                         ["NoStock", "LowStock", "BackInStock"])
        # A manager's subscription must be limited to their stores.
        status, body = self.send("POST", "/api/v1/subscriptions", session, me["csrf_token"],
                                 {"topic": "NoStock", "endpoint": "+15555550123"})
        self.assertEqual(status, 403, body)
        status, body = self.send("POST", "/api/v1/subscriptions", session, me["csrf_token"],
                                 {"topic": "NoStock", "endpoint": "+15555550123",
                                  "filter_policy": {"store": ["Berlin"]}})
        self.assertEqual(status, 201, body)
        self.assertEqual((body["protocol"], body["status"]), ("sms", "confirmed"))
        arn = body["id"]
        self.assertTrue(arn.startswith(self.topics["NoStock"] + ":"), arn)
        # It is SNS's: the number on the topic, with the store filter check-stock's `store`
        # message attribute is matched against.
        self.assertEqual(self.sns_subscriptions("NoStock"),
                         [("sms", "+15555550123", {"store": ["Berlin"]})])
        status, listed = self.get_json("/api/v1/subscriptions", session)
        self.assertEqual(status, 200, listed)
        self.assertEqual([(s["id"], s["filter_policy"]) for s in listed["subscriptions"]],
                         [(arn, {"store": ["Berlin"]})])
        # Without the CSRF token a session cannot write; with it, the subscription goes.
        status, _ = self.send("DELETE", "/api/v1/subscriptions/" + urllib.parse.quote(arn, ""),
                              session, "wrong")
        self.assertEqual(status, 403)
        status, _ = self.send("DELETE", "/api/v1/subscriptions/" + urllib.parse.quote(arn, ""),
                              session, me["csrf_token"])
        self.assertEqual(status, 204)
        self.assertEqual(self.sns_subscriptions("NoStock"), [])

    def test_a_filter_policy_written_elsewhere_is_shown_raw_and_kept_from_managers(self):
        # Berlin or a prefix, made with SNS's own API: it covers Berlin, but it is no list of
        # stores, so the dashboard shows it as it is and no manager can see or remove it.
        policy = {"store": ["Berlin", {"prefix": "Ber"}]}
        _, _, xml = self.moto.sns({
            "Action": "Subscribe", "TopicArn": self.topics["LowStock"], "Protocol": "sms",
            "Endpoint": "+15555550199", "ReturnSubscriptionArn": "true",
            "Attributes.entry.1.key": "FilterPolicy",
            "Attributes.entry.1.value": json.dumps(policy)})
        arn = xml.decode().split("<SubscriptionArn>", 1)[1].split("</SubscriptionArn>", 1)[0]
        self.assertEqual(self.sns_subscriptions("LowStock"), [("sms", "+15555550199", policy)])
        admin = self.sign_in("alice")
        status, listed = self.get_json("/api/v1/subscriptions", admin)
        self.assertEqual(status, 200, listed)
        self.assertIn((arn, policy), [(s["id"], s["filter_policy"])
                                      for s in listed["subscriptions"]])
        manager = self.sign_in("carol")  # the manager of Berlin
        status, me = self.get_json("/api/v1/me", manager)
        status, listed = self.get_json("/api/v1/subscriptions", manager)
        self.assertEqual(status, 200, listed)
        self.assertNotIn(arn, [s["id"] for s in listed["subscriptions"]])
        status, _ = self.send("DELETE", "/api/v1/subscriptions/" + urllib.parse.quote(arn, ""),
                              manager, me["csrf_token"])
        self.assertEqual(status, 404)
        self.assertEqual(len(self.sns_subscriptions("LowStock")), 1)

    def test_a_changed_session_is_refused_and_logout_clears_it(self):
        session = self.sign_in("bob")
        # One character in the middle (the last may carry only padding bits).
        middle = len(session) // 2
        changed = session[:middle] + ("A" if session[middle] != "A" else "B") + session[middle + 1:]
        self.assertEqual(self.get_json("/api/v1/me", changed)[0], 401)
        status, me = self.get_json("/api/v1/me", session)
        self.assertEqual((status, me["user"]["role"]), (200, "viewer"))
        # Logout is a POST with the CSRF token; the answer clears the cookie.
        req = urllib.request.Request(self.front.url + "/api/v1/logout", data=b"", method="POST",
                                     headers={"Cookie": "sw_session=" + session,
                                              "X-CSRF-Token": me["csrf_token"]})
        with urllib.request.urlopen(req, timeout=60) as resp:
            self.assertEqual(resp.status, 204)
            cleared = set_cookies(resp.headers)["sw_session"]
        self.assertEqual(cleared[0], "")
        self.assertIn("Max-Age=0", cleared[1])

    def test_a_session_secret_that_cannot_be_read_stops_the_start(self):
        runtime = FakeRuntimeApi()
        self.addCleanup(runtime.close)
        missing = self.secret_arn.rsplit(":", 1)[0] + ":no-such-secret-AbCdEf"
        run = subprocess.run([BIN, "lambda"], env=self.env(runtime, SESSION_SECRET_ARN=missing),
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(run.returncode, 1, run.stdout + run.stderr)
        posts = runtime.wait_posts(1)
        self.assertEqual(posts[0]["kind"], "init_error")
        self.assertIn("SESSION_SECRET_ARN", posts[0]["body"])
        self.assertIn("ResourceNotFoundException", posts[0]["body"])
        # A secret too short to seal with is refused too.
        runtime2 = FakeRuntimeApi()
        self.addCleanup(runtime2.close)
        run = subprocess.run([BIN, "lambda"],
                             env=self.env(runtime2, SESSION_SECRET="short",
                                          SESSION_SECRET_ARN=None),
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(run.returncode, 1)
        self.assertIn("at least 32", runtime2.wait_posts(1)[0]["body"])

    def test_the_dashboard_in_chromium(self):
        missing = browser_test_missing()
        if missing:
            self.skipTest("needs " + ", ".join(missing) + " (scripts/setup.sh installs them)")
        self.provider.user = "carol"
        artifacts = browser_artifacts()
        env = dict(os.environ, SW_URL=self.front.url, SW_ARTIFACTS=artifacts,
                   SW_PROVIDER_URL=self.provider.url)
        stdout = run_browser_script(self, "lambda_dashboard.mjs", env, self.logs())
        self.assertIn("browser: lambda dashboard passed", stdout)
        self.assertTrue(os.path.getsize(os.path.join(artifacts, "lambda-inventory.png")) > 0)


if __name__ == "__main__":
    unittest.main()
