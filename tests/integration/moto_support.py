"""moto_server on a loopback port, for the tests that need AWS (test_oidc, test_lambda_moto).

No AWS account is reachable from CI; moto_server (python3-moto, installed on the machine)
plays the AWS services. It is started on a port below 32768 (the ephemeral range starts
there) so that no client's outgoing port can take it first.
"""

import json
import os
import secrets
import shutil
import socket
import subprocess
import urllib.error
import urllib.parse
import urllib.request

from harness import stop_process, wait_for

REGION = "us-east-1"


def free_low_port():
    """A free loopback port below 32768."""
    for _ in range(200):
        port = 20000 + secrets.randbelow(12000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise AssertionError("no free port below 32768")


def fake_authorization(service):
    """An Authorization header naming `service` (moto routes by it; its auth checks are off)."""
    return (f"AWS4-HMAC-SHA256 Credential=testing/20261126/{REGION}/{service}/aws4_request, "
            "SignedHeaders=host, Signature=0")


class MotoServer:
    """A moto_server process; `url` is its endpoint. Call stop() when done."""

    def __init__(self, log_name="sw-moto"):
        exe = shutil.which("moto_server")
        if exe is None:
            raise AssertionError("moto_server is not on PATH: install python3 moto (RECIPES.md)")
        self.port = free_low_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                     f"{log_name}-{self.port}.log"), "w")
        env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                   AWS_DEFAULT_REGION=REGION)
        self.proc = subprocess.Popen([exe, "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=self.log, stderr=subprocess.STDOUT, env=env)

        def up():
            try:
                with urllib.request.urlopen(self.url + "/moto-api/", timeout=2):
                    return True
            except urllib.error.HTTPError:
                return True
            except OSError:
                if self.proc.poll() is not None:
                    raise AssertionError("moto_server exited")
                return False

        wait_for(up, timeout=60, interval=0.1, what="moto_server")

    def request(self, method, path, body=b"", headers=None):
        """(status, headers, body) of one plain HTTP request to moto."""
        req = urllib.request.Request(self.url + path, data=body if method != "GET" else None,
                                     method=method, headers=headers or {})
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, dict(resp.headers), resp.read()

    def json_call(self, content_type, target, service, body):
        """One call of an AWS JSON protocol API, parsed."""
        _, _, data = self.request("POST", "/", json.dumps(body).encode(), {
            "Content-Type": content_type, "X-Amz-Target": target,
            "Authorization": fake_authorization(service)})
        return json.loads(data or b"{}")

    def cognito(self, action, body):
        """One Cognito user pool call (setup: pools, clients, users, sign-ins)."""
        return self.json_call("application/x-amz-json-1.1",
                              f"AWSCognitoIdentityProviderService.{action}", "cognito-idp", body)

    def make_user_pool(self, password):
        """A Cognito user pool as the SAM template makes it, with two app clients (the
        dashboard's and another app's), the groups stockwatch-admins and stockwatch-managers,
        and the users alice (admin), carol (manager of Berlin, in custom:stores) and bob (no
        group), all with `password`. Returns (pool id, dashboard client id, other client id).
        """
        pool = self.cognito("CreateUserPool", {
            "PoolName": "stockwatch",
            "Schema": [{"Name": "stores", "AttributeDataType": "String", "Mutable": True}]})
        pool_id = pool["UserPool"]["Id"]
        clients = [self.cognito("CreateUserPoolClient", {
            "UserPoolId": pool_id, "ClientName": name,
            "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]})
            ["UserPoolClient"]["ClientId"] for name in ("dashboard", "another-app")]
        for group in ("stockwatch-admins", "stockwatch-managers"):
            self.cognito("CreateGroup", {"UserPoolId": pool_id, "GroupName": group})
        for user, group, attrs in (
                ("alice", "stockwatch-admins", []),
                ("carol", "stockwatch-managers", [{"Name": "custom:stores", "Value": "Berlin"}]),
                ("bob", None, [])):
            self.cognito("AdminCreateUser", {"UserPoolId": pool_id, "Username": user,
                                             "UserAttributes": attrs})
            self.cognito("AdminSetUserPassword", {"UserPoolId": pool_id, "Username": user,
                                                  "Password": password, "Permanent": True})
            if group:
                self.cognito("AdminAddUserToGroup", {"UserPoolId": pool_id, "Username": user,
                                                     "GroupName": group})
        return pool_id, clients[0], clients[1]

    def id_token(self, client_id, user, password):
        """The ID token of `user` signed in to the app client (USER_PASSWORD_AUTH)."""
        doc = self.cognito("InitiateAuth", {
            "ClientId": client_id, "AuthFlow": "USER_PASSWORD_AUTH",
            "AuthParameters": {"USERNAME": user, "PASSWORD": password}})
        return doc["AuthenticationResult"]["IdToken"]

    def create_inventory_table(self, name="Inventory", stream=True):
        """The original stack's table: Store (partition key) and Item (sort key), strings, on
        demand, with a NEW_AND_OLD_IMAGES stream unless `stream` is false."""
        body = {"TableName": name, "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "Store", "AttributeType": "S"},
                                         {"AttributeName": "Item", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "Store", "KeyType": "HASH"},
                              {"AttributeName": "Item", "KeyType": "RANGE"}]}
        if stream:
            body["StreamSpecification"] = {"StreamEnabled": True,
                                           "StreamViewType": "NEW_AND_OLD_IMAGES"}
        return self.dynamodb("CreateTable", body)

    def dynamodb(self, action, body):
        """One DynamoDB call (setup and inspection; what is under test uses our client)."""
        return self.json_call("application/x-amz-json-1.0", f"DynamoDB_20120810.{action}",
                              "dynamodb", body)

    def streams(self, action, body):
        """One DynamoDB Streams call."""
        return self.json_call("application/x-amz-json-1.0",
                              f"DynamoDBStreams_20120810.{action}", "dynamodb", body)

    def sns(self, params):
        """One SNS query-protocol call: (status, headers, XML body)."""
        body = urllib.parse.urlencode(dict(params, Version="2010-03-31")).encode()
        return self.request("POST", "/", body, {
            "Content-Type": "application/x-www-form-urlencoded",
            "Authorization": fake_authorization("sns")})

    def create_topic(self, name):
        """Creates SNS topic `name` and returns its ARN."""
        _, _, xml = self.sns({"Action": "CreateTopic", "Name": name})
        text = xml.decode()
        return text.split("<TopicArn>", 1)[1].split("</TopicArn>", 1)[0]

    def sent_notifications(self, topic_name):
        """What moto says was published to the topic named `topic_name`: a list of
        [message id, message, subject, attributes, group id]."""
        _, _, data = self.request("GET", "/moto-api/data.json")
        topics = json.loads(data)["sns"]["Topic"]
        for topic in topics:
            if topic["arn"].endswith(":" + topic_name):
                return topic["sent_notifications"]
        raise AssertionError(f"no {topic_name} topic in {topics}")

    def stop(self):
        stop_process(self.proc)
        self.log.close()
