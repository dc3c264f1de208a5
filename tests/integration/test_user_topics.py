"""User topics through the real binary and a real webhook receiver.

An admin creates topic BerlinOutages fed by the NoStock rule and narrowed to Berlin; a
webhook subscribed to it gets the Berlin alert of a file that sends a Berlin and a Paris
item out of stock, and nothing else; deleting the topic removes its subscription.
"""

import json
import os
import tempfile
import unittest

from harness import Server, WebhookSink, wait_for


class UserTopicsTest(unittest.TestCase):
    def setUp(self):
        self.hook = WebhookSink()
        self.server = Server().start()
        self.tmp = tempfile.mkdtemp(prefix="sw-topics-")

    def tearDown(self):
        self.server.stop()
        self.hook.stop()

    def upload(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        self.server.cli("upload", path)

    def alerts(self, topic):
        status, doc = self.server.get(f"/api/v1/alerts?topic={topic}&limit=1000")
        self.assertEqual(status, 200, doc)
        return doc["alerts"]

    def pending(self):
        status, doc = self.server.get("/api/v1/deliveries?state=pending&limit=1000")
        self.assertEqual(status, 200, doc)
        return doc["deliveries"]

    def test_a_user_topic_gets_the_alerts_of_its_rules_that_pass_its_filter(self):
        s = self.server
        out = s.cli("topics", "create", "BerlinOutages", "--rules", "NoStock",
                    "--filter-policy", '{"store":["Berlin"]}')
        self.assertEqual(out.stdout.strip(),
                         'created topic BerlinOutages (rules: NoStock; filter: {"store":["Berlin"]})')
        listed = json.loads(s.cli("topics", "--format", "json").stdout)
        self.assertEqual(listed["topics"], ["BackInStock", "BerlinOutages", "LowStock", "NoStock"])
        detail = [d for d in listed["details"] if d["name"] == "BerlinOutages"][0]
        self.assertEqual(detail["rules"], ["NoStock"])
        self.assertEqual(detail["filter_policy"], {"store": ["Berlin"]})
        self.assertFalse(detail["builtin"])
        self.assertRegex(s.cli("topics").stdout,
                         r'(?m)^BerlinOutages\s+no\s+NoStock\s+\{"store":\["Berlin"\]\}$')
        self.assertRegex(s.cli("topics").stdout, r"(?m)^NoStock\s+no\s+NoStock\s+-$")

        sub = json.loads(s.cli("subscribe", "--topic", "BerlinOutages", "--format", "json",
                               self.hook.url).stdout)
        self.assertEqual(sub["topic"], "BerlinOutages")

        self.upload("stock.csv", "store,item,count\nBerlin,Echo Plus,4\nParis,Echo Dot,6\n")
        self.upload("out.csv", "store,item,count\nBerlin,Echo Plus,0\nParis,Echo Dot,0\n")
        # Both NoStock alerts are published, with one copy on BerlinOutages.
        wait_for(lambda: len(self.alerts("NoStock")) == 2, what="two NoStock alerts")
        copies = wait_for(lambda: self.alerts("BerlinOutages"), what="the BerlinOutages alert")
        wait_for(lambda: self.hook.posts(), what="the webhook")
        wait_for(lambda: not self.pending(), what="no pending deliveries")

        posts = self.hook.posts()
        self.assertEqual(len(posts), 1, [p["body"] for p in posts])
        body, headers = posts[0]["body"], posts[0]["headers"]
        berlin = [a for a in self.alerts("NoStock") if a["store"] == "Berlin"][0]
        self.assertEqual(len(copies), 1)
        self.assertEqual(copies[0]["message_id"],
                         berlin["message_id"].replace("-NoStock", "-BerlinOutages"))
        self.assertEqual(body["topic"], "BerlinOutages")
        self.assertTrue(body["TopicArn"].endswith(":BerlinOutages"), body["TopicArn"])
        self.assertEqual(headers["x-stockwatch-topic"], "BerlinOutages")
        self.assertEqual(body["MessageId"], copies[0]["message_id"])
        # The original wording, store and counts.
        self.assertEqual(body["Subject"], "Inventory Alert!")
        self.assertEqual(body["Message"], "Berlin is out of stock of Echo Plus")
        self.assertEqual((body["store"], body["item"]), ("Berlin", "Echo Plus"))
        self.assertEqual((body["old_count"], body["new_count"]), (4, 0))

        out = s.cli("topics", "delete", "BerlinOutages")
        self.assertEqual(out.stdout.strip(), "deleted topic BerlinOutages")
        status, doc = s.get("/api/v1/subscriptions")
        self.assertEqual(doc["subscriptions"], [])
        status, doc = s.get("/api/v1/topics")
        self.assertEqual(doc["topics"], ["BackInStock", "LowStock", "NoStock"])
        self.assertEqual(len(doc["details"]), 3)
        # Its alerts are kept.
        self.assertEqual(len(self.alerts("BerlinOutages")), 1)

    def test_refusals(self):
        s = self.server
        status, doc = s.request("POST", "/api/v1/topics", {"name": "Bad Name", "rules": ["NoStock"]})
        self.assertEqual(status, 400, doc)
        self.assertIn("topic name", doc["error"]["message"])
        status, doc = s.request("POST", "/api/v1/topics", {"name": "nostock", "rules": ["NoStock"]})
        self.assertEqual(status, 409, doc)
        status, doc = s.request("DELETE", "/api/v1/topics/NoStock")
        self.assertEqual(status, 409, doc)
        status, doc = s.request("DELETE", "/api/v1/topics/Nope")
        self.assertEqual(status, 404, doc)
        bad = s.cli("topics", "create", "T", "--rules", "NoStock,OutOfStock", check=False)
        self.assertEqual(bad.returncode, 2, bad.stderr)
        bad = s.cli("topics", "delete", "LowStock", check=False)
        self.assertEqual(bad.returncode, 1)
        self.assertIn("built-in", bad.stderr)


if __name__ == "__main__":
    unittest.main()
