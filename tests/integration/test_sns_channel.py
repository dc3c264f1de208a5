"""SNS topic subscriptions end to end: `stockwatch serve` publishes an alert to an Amazon SNS
topic through its SNS delivery channel.

No AWS account is reachable from CI: moto_server (python3-moto, preinstalled) plays SNS on a
loopback port, found by the server through AWS_ENDPOINT_URL_SNS with the usual AWS
credential variables. What moto says was published (`/moto-api/data.json`) is checked: the
subject, the text and the message attributes a subscription filter policy would use.
"""

import os
import tempfile
import unittest

from harness import SAMPLES, Server, wait_for
from moto_support import REGION, MotoServer

BERLIN = os.path.join(SAMPLES, "inventory-berlin.csv")  # Echo Plus at 0: one NoStock alert
ALERT = "Berlin is out of stock of Echo Plus"
SECRET = "sw-sns-secret-never-logged"
FAST_RETRIES = {"STOCKWATCH_DELIVERY_INITIAL_BACKOFF_MS": "10",
                "STOCKWATCH_DELIVERY_MAX_BACKOFF_MS": "50"}


def deliveries(server, state):
    status, doc = server.get(f"/api/v1/deliveries?state={state}&limit=100")
    assert status == 200, doc
    return doc["deliveries"]


def no_aws_files():
    """Environment entries that keep the server off this machine's ~/.aws files."""
    empty = os.path.join(tempfile.mkdtemp(prefix="sw-noaws-"), "none")
    return {"AWS_SHARED_CREDENTIALS_FILE": empty, "AWS_CONFIG_FILE": empty}


class SnsChannelTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = MotoServer("sw-sns-moto")

    @classmethod
    def tearDownClass(cls):
        cls.moto.stop()

    def start(self, env):
        server = Server(env=dict(FAST_RETRIES, **no_aws_files(), **env)).start()
        self.addCleanup(server.stop)
        return server

    def aws_env(self):
        # moto checks no signature; the secret is distinctive so the log check below means it.
        return {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": SECRET,
                "AWS_REGION": REGION, "AWS_ENDPOINT_URL_SNS": self.moto.url}

    def test_alert_is_published_to_the_topic_with_its_attributes(self):
        arn = self.moto.create_topic("StoreOps")
        s = self.start(self.aws_env())
        status, created = s.request("POST", "/api/v1/subscriptions",
                                    {"topic": "NoStock", "endpoint": arn})
        self.assertEqual(status, 201, created)
        self.assertEqual(created["protocol"], "sns")
        self.assertEqual(created["status"], "confirmed")
        s.cli("upload", BERLIN)
        wait_for(lambda: deliveries(s, "delivered"), what="the SNS delivery recorded")
        sent = self.moto.sent_notifications("StoreOps")
        self.assertEqual(len(sent), 1, sent)
        _, message, subject, attributes, _ = sent[0]
        self.assertEqual(subject, "Inventory Alert!")
        self.assertEqual(message, ALERT)
        self.assertEqual(attributes["store"], {"Type": "String", "Value": "Berlin"})
        self.assertEqual(attributes["item"], {"Type": "String", "Value": "Echo Plus"})
        self.assertEqual(attributes["topic"], {"Type": "String", "Value": "NoStock"})
        self.assertEqual(attributes["new_count"], {"Type": "Number", "Value": "0"})
        self.assertEqual([d["protocol"] for d in deliveries(s, "delivered")], ["sns"])
        self.assertNotIn(SECRET, s.logs())

    def test_a_missing_topic_fails_the_delivery_for_good(self):
        arn = self.moto.create_topic("Exists")
        missing = arn.rsplit(":", 1)[0] + ":Gone"
        s = self.start(self.aws_env())
        status, created = s.request("POST", "/api/v1/subscriptions",
                                    {"topic": "NoStock", "endpoint": missing})
        self.assertEqual(status, 201, created)
        s.cli("upload", BERLIN)
        failed = wait_for(lambda: deliveries(s, "failed"), what="the failed SNS delivery")
        self.assertEqual(failed[0]["protocol"], "sns")
        self.assertIn(f"sns: publish to {missing}", failed[0]["last_error"])
        self.assertIn("NotFound", failed[0]["last_error"])

    def test_without_credentials_the_delivery_waits_with_a_clear_error(self):
        s = self.start({"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None,
                        "AWS_SESSION_TOKEN": None, "AWS_PROFILE": None})
        status, created = s.request("POST", "/api/v1/subscriptions", {
            "topic": "NoStock", "endpoint": "arn:aws:sns:us-east-1:123456789012:NoStock"})
        self.assertEqual(status, 201, created)
        s.cli("upload", BERLIN)
        pending = wait_for(lambda: [d for d in deliveries(s, "pending") if d["last_error"]],
                           what="a failed SNS attempt")
        self.assertIn("sns is not configured", pending[0]["last_error"])


if __name__ == "__main__":
    unittest.main()
