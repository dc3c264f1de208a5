"""The `api` Lambda function against moto_server standing in for AWS (DynamoDB and Cognito).

No AWS account is reachable from CI and no real Lambda can run here: moto_server plays the
inventory table and the Cognito user pool, and `stockwatch lambda --invoke api` is given
Lambda Function URL events in AWS's payload format 2.0. Users sign in to the pool with moto
(USER_PASSWORD_AUTH) and send the ID token they get as `Authorization: Bearer`; the function
verifies it against the pool's key set (moto's /<pool>/.well-known/jwks.json) and answers
the dashboard's JSON from the table:

- /healthz is open; everything else needs a token of this pool's app client: none, one for
  another client, and a tampered one are all refused with 401;
- stores and inventory come from the table, with the embedded server's filters and the
  LowStock threshold; the load-state rows and an item another tool wrote with a bad Count
  are left out;
- a manager (the managers group, custom:stores) sees only their stores;
- without the pool's settings the function refuses to start, saying what is missing.
"""

import base64
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import unittest

from harness import BIN
from moto_support import REGION, MotoServer

PASSWORD = "Passw0rd!long-enough"


def item(store, name, count):
    return {"Store": {"S": store}, "Item": {"S": name}, "Count": {"N": str(count)}}


def url_event(method, path, query="", token=None, body=None):
    """A Lambda Function URL event as AWS sends it (payload format 2.0); `body` is sent as
    JSON text."""
    headers = {"host": "abcdefghij.lambda-url.us-east-1.on.aws", "accept": "application/json",
               "user-agent": "test"}
    if token is not None:
        headers["authorization"] = "Bearer " + token
    event = {
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous", "apiId": "abcdefghij",
            "domainName": "abcdefghij.lambda-url.us-east-1.on.aws", "domainPrefix": "abcdefghij",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                     "sourceIp": "203.0.113.7", "userAgent": "test"},
            "requestId": secrets.token_hex(8), "routeKey": "$default", "stage": "$default",
            "time": "26/Nov/2026:20:00:00 +0000", "timeEpoch": 1795723200000},
        "isBase64Encoded": False}
    if body is not None:
        headers["content-type"] = "application/json"
        event["body"] = json.dumps(body)
    return event


class LambdaApiTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sw-lambda-api-")
        cls.moto = m = MotoServer("sw-lambda-api-moto")
        try:
            m.create_inventory_table(stream=False)
            for it in (item("Berlin", "Echo Plus", 0), item("Berlin", "Echo Dot", 3),
                       item("Berlin", "Kindle", 40), item("Paris", "Kindle", 7),
                       # Not inventory: load-inventory's state row, and a bad Count.
                       {"Store": {"S": "#stockwatch-load-state"},
                        "Item": {"S": "inventory-bucket/berlin.csv"}, "ETag": {"S": "x"}},
                       item("Paris", "Broken", -4)):
                m.dynamodb("PutItem", {"TableName": "Inventory", "Item": it})
            cls.pool_id, cls.client_id, cls.other_client_id = m.make_user_pool(PASSWORD)
        except Exception:
            m.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.moto.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def id_token(self, user, client_id=None):
        return self.moto.id_token(client_id or self.client_id, user, PASSWORD)

    def env(self, **overrides):
        env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                   AWS_REGION=REGION, AWS_ENDPOINT_URL=self.moto.url, HOME=self.tmp,
                   AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_CONFIG_FILE=os.devnull,
                   TABLE_NAME="Inventory", COGNITO_USER_POOL_ID=self.pool_id,
                   COGNITO_CLIENT_ID=self.client_id,
                   COGNITO_JWKS_URL=f"{self.moto.url}/{self.pool_id}/.well-known/jwks.json",
                   LOW_STOCK_THRESHOLD="5", ADMIN_GROUPS="stockwatch-admins",
                   MANAGER_GROUPS="stockwatch-managers")
        env.update(overrides)
        return {k: v for k, v in env.items() if v is not None}

    def run_api(self, event, handler="api", **overrides):
        path = os.path.join(self.tmp, f"event-{secrets.token_hex(4)}.json")
        with open(path, "w") as f:
            json.dump(event, f)
        return subprocess.run([BIN, "lambda", "--invoke", handler, "--event", path],
                              env=self.env(**overrides), capture_output=True, text=True,
                              timeout=120)

    def call(self, method, path, query="", token=None, body=None, **overrides):
        """(status, parsed body, headers) of one request through the function."""
        run = self.run_api(url_event(method, path, query, token, body), **overrides)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        response = json.loads(run.stdout)
        self.assertEqual(response["headers"]["content-type"], "application/json")
        return response["statusCode"], json.loads(response["body"]), response["headers"]

    def test_health_is_open_and_only_this_pools_client_gets_in(self):
        self.assertEqual(self.call("GET", "/healthz")[:2], (200, {"status": "ok"}))
        status, body, headers = self.call("GET", "/api/v1/stores")
        self.assertEqual(status, 401, body)
        self.assertEqual(headers["www-authenticate"], "Bearer")
        status, body, _ = self.call("GET", "/api/v1/stores",
                                    token=self.id_token("alice", self.other_client_id))
        self.assertEqual(status, 401, body)
        self.assertIn("aud", body["error"]["message"])
        # The payload changed after signing: the signature no longer matches.
        head, payload, sig = self.id_token("alice").split(".")
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        claims["cognito:groups"] = ["stockwatch-admins", "everything"]
        forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
        status, body, _ = self.call("GET", "/api/v1/stores", token=f"{head}.{forged}.{sig}")
        self.assertEqual(status, 401, body)
        self.assertIn("signature", body["error"]["message"])

    def test_stores_and_inventory_come_from_the_table(self):
        token = self.id_token("alice")
        status, me, _ = self.call("GET", "/api/v1/me", token=token)
        self.assertEqual((status, me["user"]["name"], me["user"]["role"]),
                         (200, "alice", "admin"))

        status, body, _ = self.call("GET", "/api/v1/stores", token=token)
        self.assertEqual(status, 200, body)
        stores = {s["store"]: s for s in body["stores"]}
        self.assertEqual(sorted(stores), ["Berlin", "Paris"])
        self.assertEqual((stores["Berlin"]["items"], stores["Berlin"]["out_of_stock"],
                          stores["Berlin"]["low"]), (3, 1, 1))
        self.assertEqual(stores["Paris"]["items"], 1, "the bad item is left out")

        status, page, _ = self.call("GET", "/api/v1/inventory", "store=Berlin&sort=count",
                                    token=token)
        self.assertEqual(status, 200, page)
        self.assertEqual([(i["item"], i["count"]) for i in page["items"]],
                         [("Echo Plus", 0), ("Echo Dot", 3), ("Kindle", 40)])
        self.assertEqual(page["items"][1]["threshold"], 5)
        status, page, _ = self.call("GET", "/api/v1/inventory", "status=out", token=token)
        self.assertEqual([(i["store"], i["item"]) for i in page["items"]],
                         [("Berlin", "Echo Plus")])
        status, body, _ = self.call("GET", "/api/v1/inventory", "limit=x", token=token)
        self.assertEqual(status, 400, body)

    def test_a_manager_sees_only_their_stores(self):
        token = self.id_token("carol")
        status, page, _ = self.call("GET", "/api/v1/inventory", token=token)
        self.assertEqual(status, 200, page)
        self.assertEqual({i["store"] for i in page["items"]}, {"Berlin"})
        status, body, _ = self.call("GET", "/api/v1/inventory", "store=Paris", token=token)
        self.assertEqual(status, 403, body)
        status, body, _ = self.call("GET", "/api/v1/stores", token=token)
        self.assertEqual([s["store"] for s in body["stores"]], ["Berlin"])

    def test_thresholds_set_in_the_dashboard_decide_check_stocks_low_stock(self):
        m = self.moto
        m.sns({"Action": "CreateTopic", "Name": "NoStock"})
        m.sns({"Action": "CreateTopic", "Name": "LowStock"})
        on = {"TABLE_THRESHOLDS": "true"}
        admin, manager = self.id_token("alice"), self.id_token("carol")
        # Not served unless the table keeps thresholds.
        self.assertEqual(self.call("GET", "/api/v1/thresholds", token=admin)[0], 404)
        # Paris's Kindles are low at 8 (the default LOW_STOCK_THRESHOLD is 5).
        scope = {"store": "Paris", "item": "Kindle"}
        status, body, _ = self.call("PUT", "/api/v1/thresholds", token=manager,
                                    body=dict(scope, value=8), **on)
        self.assertEqual(status, 403, body)  # carol manages Berlin only
        status, body, _ = self.call("PUT", "/api/v1/thresholds", token=admin,
                                    body=dict(scope, value=8), **on)
        self.assertEqual((status, body), (200, dict(scope, value=8)))
        try:
            status, body, _ = self.call("GET", "/api/v1/thresholds", token=admin, **on)
            self.assertEqual(body, {"thresholds": [dict(scope, value=8)]})
            status, page, _ = self.call("GET", "/api/v1/inventory", "store=Paris", token=admin,
                                        **on)
            self.assertEqual([(i["item"], i["count"], i["threshold"]) for i in page["items"]],
                             [("Kindle", 7, 8)])
            _, body, _ = self.call("GET", "/api/v1/stores", token=admin, **on)
            self.assertEqual({s["store"]: s["low"] for s in body["stores"]},
                             {"Berlin": 1, "Paris": 1})
            # What the table holds: an item no reader takes for inventory.
            items = m.dynamodb("Query", {
                "TableName": "Inventory", "KeyConditionExpression": "Store = :s",
                "ExpressionAttributeValues": {":s": {"S": "#stockwatch-thresholds"}}})["Items"]
            self.assertEqual(items, [{"Store": {"S": "#stockwatch-thresholds"},
                                      "Item": {"S": '["Paris","Kindle"]'},
                                      "ForStore": {"S": "Paris"}, "ForItem": {"S": "Kindle"},
                                      "Low": {"N": "8"}}])

            # check-stock reads them: Paris's Kindles falling from 9 to 7 is LowStock at 8,
            # and nothing at the default 5 when it does not read them.
            record = {
                "eventID": "1", "eventName": "MODIFY", "eventVersion": "1.1",
                "eventSource": "aws:dynamodb", "awsRegion": REGION,
                "dynamodb": {"Keys": {"Store": {"S": "Paris"}, "Item": {"S": "Kindle"}},
                             "OldImage": item("Paris", "Kindle", 9),
                             "NewImage": item("Paris", "Kindle", 7),
                             "SequenceNumber": "100", "SizeBytes": 60,
                             "StreamViewType": "NEW_AND_OLD_IMAGES"},
                "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/Inventory/"
                                  "stream/2026-11-26T00:00:00.000"}
            run = self.run_api({"Records": [record]}, handler="check-stock")
            self.assertEqual(run.returncode, 0, run.stderr)
            self.assertEqual(m.sent_notifications("LowStock"), [])
            run = self.run_api({"Records": [record]}, handler="check-stock", **on)
            self.assertEqual(run.returncode, 0, run.stderr)
            self.assertEqual(json.loads(run.stdout), {"batchItemFailures": []})
            sent = m.sent_notifications("LowStock")
            self.assertEqual(len(sent), 1, sent)
            self.assertIn("Paris is low on stock of Kindle: 7 left (threshold 8", json.dumps(sent))
        finally:
            status, body, _ = self.call("PUT", "/api/v1/thresholds", token=admin,
                                        body=dict(scope, value=None), **on)
            self.assertEqual(status, 200, body)
        self.assertEqual(self.call("GET", "/api/v1/thresholds", token=admin, **on)[1],
                         {"thresholds": []})

    def test_without_the_pool_settings_the_function_says_what_is_missing(self):
        run = self.run_api(url_event("GET", "/healthz"), COGNITO_USER_POOL_ID=None)
        self.assertNotEqual(run.returncode, 0)
        self.assertIn("COGNITO_USER_POOL_ID", run.stderr + run.stdout)


if __name__ == "__main__":
    unittest.main()
