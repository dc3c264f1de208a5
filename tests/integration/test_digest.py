"""Digests, quiet hours and urgent topics through the real binary and a real webhook receiver.

One uploaded file sending 500 items out of stock gives ONE webhook request to a per-upload
digest subscription, listing the 500 items.
"""

import datetime
import json
import os
import tempfile
import unittest

from harness import SAMPLES, Server, WebhookSink, wait_for


def digest_csv(store, n):
    rows = "".join(f"{store},Item {i:03d},0\n" for i in range(n))
    return "store,item,count\n" + rows


class DigestTest(unittest.TestCase):
    def setUp(self):
        self.hook = WebhookSink()
        self.server = Server().start()
        self.tmp = tempfile.mkdtemp(prefix="sw-digest-")

    def tearDown(self):
        self.server.stop()
        self.hook.stop()

    def deliveries(self, state):
        status, doc = self.server.get(f"/api/v1/deliveries?state={state}&limit=10000")
        self.assertEqual(status, 200, doc)
        return doc["deliveries"]

    def test_one_file_of_500_out_of_stock_items_gives_one_webhook_listing_them(self):
        s = self.server
        out = s.cli("subscribe", "--topic", "NoStock", "--digest", "per-upload",
                    "--format", "json", self.hook.url)
        sub = json.loads(out.stdout)
        self.assertEqual(sub["digest"], "per-upload")
        self.assertIsNone(sub["quiet_hours"])
        self.assertEqual(sub["timezone"], "UTC")

        path = os.path.join(self.tmp, "inventory-berlin.csv")
        with open(path, "w") as f:
            f.write(digest_csv("Berlin", 500))
        s.cli("upload", path)

        # Every one of the 500 deliveries is recorded as delivered after the one send.
        wait_for(lambda: len(self.deliveries("delivered")) >= 500, timeout=60,
                 what="500 delivered deliveries")
        self.assertEqual(self.deliveries("pending"), [])
        posts = self.hook.posts()
        self.assertEqual(len(posts), 1, [p["body"].get("subject") for p in posts])
        body = posts[0]["body"]
        subject = body.get("Subject", body.get("subject"))
        text = body.get("Message", body.get("message"))
        self.assertEqual(subject, "Stockwatch: 500 alerts (Berlin)")
        lines = text.split("\n")
        self.assertEqual(len(lines), 500)
        self.assertEqual(set(lines), {f"Berlin is out of stock of Item {i:03d}" for i in range(500)})
        # The idempotency key is the smallest delivery id of the digest.
        ids = [d["id"] for d in self.deliveries("delivered")]
        self.assertEqual(posts[0]["headers"]["x-stockwatch-delivery"], str(min(ids)))

    def test_schedule_fields_are_validated_and_shown(self):
        s = self.server
        for field, value in (("digest", "7x"), ("digest", "daily 08:00 Mars/Base"),
                             ("quiet_hours", "22:00"), ("timezone", "Nowhere/Land")):
            status, doc = s.request("POST", "/api/v1/subscriptions", {
                "topic": "NoStock", "endpoint": self.hook.url, "confirmed": True, field: value})
            self.assertEqual(status, 400, doc)
            self.assertTrue(doc["error"]["message"].startswith(f'{field} "'), doc)

        status, doc = s.request("POST", "/api/v1/subscriptions", {
            "topic": "NoStock", "endpoint": "mailto:night@example.test", "confirmed": True,
            "digest": "daily 08:00 Europe/Berlin", "quiet_hours": "22:00-07:00",
            "timezone": "Europe/Berlin"})
        self.assertEqual(status, 201, doc)
        self.assertEqual(doc["digest"], "daily 08:00 Europe/Berlin")
        self.assertEqual(doc["quiet_hours"], "22:00-07:00")
        self.assertEqual(doc["timezone"], "Europe/Berlin")
        status, listed = s.get("/api/v1/subscriptions")
        self.assertEqual(listed["subscriptions"][0]["quiet_hours"], "22:00-07:00")

        bad = s.cli("subscribe", "--topic", "NoStock", "--digest", "weekly", self.hook.url,
                    check=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("--digest", bad.stderr)
        self.assertIn('digest "weekly"', bad.stderr)
        bad = s.cli("subscribe", "--topic", "NoStock", "--timezone", "Mars/Base", self.hook.url,
                    check=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn("timezone", bad.stderr)

    def test_updating_a_subscription_releases_what_its_quiet_hours_held(self):
        s = self.server
        # Quiet hours from an hour ago to two hours ahead (UTC): the alert is held.
        now = datetime.datetime.now(datetime.timezone.utc)
        start = (now - datetime.timedelta(hours=1)).strftime("%H:%M")
        end = (now + datetime.timedelta(hours=2)).strftime("%H:%M")
        sub = json.loads(s.cli("subscribe", "--topic", "NoStock", "--quiet-hours",
                               f"{start}-{end}", "--format", "json", self.hook.url).stdout)
        self.assertEqual(sub["quiet_hours"], f"{start}-{end}")
        s.cli("upload", os.path.join(SAMPLES, "inventory-berlin.csv"))

        def held():
            pending = self.deliveries("pending")
            return pending and all(d["next_attempt_at"] > now.strftime("%Y-%m-%dT%H:%M:%S")
                                   and d["attempts"] == 0 for d in pending)
        wait_for(held, what="the alert held by quiet hours")
        self.assertEqual(self.hook.posts(), [])

        # Bad values are usage errors; nothing changes.
        bad = s.cli("subscriptions", "update", str(sub["id"]), "--digest", "weekly", check=False)
        self.assertNotEqual(bad.returncode, 0)
        self.assertIn('digest "weekly"', bad.stderr)
        status, doc = s.request("PATCH", f"/api/v1/subscriptions/{sub['id']}",
                                {"quiet_hours": "25:00-26:00"})
        self.assertEqual(status, 400, doc)
        self.assertTrue(doc["error"]["message"].startswith('quiet_hours "'), doc)

        out = s.cli("subscriptions", "update", str(sub["id"]), "--no-quiet-hours",
                    "--filter-policy", '{"store":["Berlin"]}')
        self.assertEqual(out.stdout.strip(),
                         f'updated subscription {sub["id"]}: digest immediate, quiet hours - '
                         '(UTC), filter {"store":["Berlin"]}')
        post = wait_for(lambda: self.hook.posts(), what="the released alert")[0]
        self.assertEqual(post["body"]["store"], "Berlin")
        listed = s.get("/api/v1/subscriptions")[1]["subscriptions"][0]
        self.assertIsNone(listed["quiet_hours"])
        self.assertEqual(listed["filter_policy"], {"store": ["Berlin"]})

        # JSON output, and a digest set the same way.
        doc = json.loads(s.cli("subscriptions", "update", str(sub["id"]), "--digest", "60m",
                               "--no-filter-policy", "--format", "json").stdout)
        self.assertEqual(doc["digest"], "1h")
        self.assertIsNone(doc["filter_policy"])

    def test_topics_can_be_marked_urgent(self):
        s = self.server
        status, doc = s.get("/api/v1/topics")
        self.assertEqual(doc["urgent"], [])
        out = s.cli("topics", "set-urgent", "NoStock", "true")
        self.assertIn("topic NoStock is urgent", out.stdout)
        status, doc = s.get("/api/v1/topics")
        self.assertEqual(doc["urgent"], ["NoStock"])
        self.assertRegex(s.cli("topics").stdout, r"(?m)^NoStock\s+yes\s")
        self.assertRegex(s.cli("topics").stdout, r"(?m)^LowStock\s+no\s")
        status, doc = s.request("PUT", "/api/v1/topics/Nope", {"urgent": True})
        self.assertEqual(status, 400, doc)
        status, doc = s.request("PUT", "/api/v1/topics/NoStock", {"urgent": "yes"})
        self.assertEqual(status, 400, doc)


if __name__ == "__main__":
    unittest.main()
