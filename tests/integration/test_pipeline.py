"""End to end: six store files in, six out-of-stock alerts out by webhook and real email."""

import glob
import os
import tempfile
import unittest

from harness import (SAMPLES, Server, SmtpSink, WebhookSink, read_csv_rows, wait_for)

# The items at 0 in samples/: one per store file.
EXPECTED_OUT_OF_STOCK = {
    ("Berlin", "Echo Plus"),
    ("Calcutta", "Echo Show"),
    ("Karachi", "Echo Dot"),
    ("Pusan", "Echo Dot"),
    ("Shanghai", "Echo Dot"),
    ("Springfield", "Echo (2nd Gen)"),
}


class PipelineTest(unittest.TestCase):
    def setUp(self):
        self.smtp = SmtpSink()
        self.hook = WebhookSink()
        self.server = Server(args=["--smtp-url", self.smtp.url,
                                   "--smtp-from", "stockwatch@example.test"]).start()

    def tearDown(self):
        self.server.stop()
        self.smtp.stop()
        self.hook.stop()

    def webhook_alerts(self):
        return [p["body"] for p in self.hook.posts()]

    def test_six_files_give_six_alerts_by_webhook_and_email(self):
        s = self.server
        s.cli("subscribe", "--topic", "NoStock", self.hook.url)
        s.cli("subscribe", "--topic", "NoStock", "mailto:ops@example.test")
        files = sorted(glob.glob(os.path.join(SAMPLES, "inventory-*.csv")))
        self.assertEqual(len(files), 6)
        out = s.cli("upload", *files)
        self.assertIn("inventory-berlin.csv: loaded: 6 rows read, 6 loaded", out.stdout)

        # The inventory API equals the files.
        expected = {}
        for f in files:
            expected.update(read_csv_rows(f))
        got = {(i["store"], i["item"]): i["count"] for i in s.inventory()}
        self.assertEqual(got, expected)

        # Exactly six NoStock alerts, by webhook and by email.
        wait_for(lambda: len(self.webhook_alerts()) >= 6, what="six webhooks")
        wait_for(lambda: len(self.smtp.messages()) >= 6, what="six emails")
        hooks = self.webhook_alerts()
        self.assertEqual({(h["store"], h["item"]) for h in hooks}, EXPECTED_OUT_OF_STOCK)
        for h in hooks:
            self.assertEqual(h["topic"], "NoStock")
            self.assertEqual(h["subject"], "Inventory Alert!")
            self.assertEqual(h["message"], f"{h['store']} is out of stock of {h['item']}")
            self.assertEqual(h["new_count"], 0)
            self.assertIsNone(h["old_count"])  # new items at 0
            self.assertTrue(h["message_id"])
            self.assertTrue(h["timestamp"].endswith("Z"))
        mails = self.smtp.messages()
        self.assertEqual(len(mails), 6)
        bodies = set()
        for m in mails:
            self.assertEqual(m["Subject"], "Inventory Alert!")
            self.assertEqual(m["From"], "stockwatch@example.test")
            self.assertEqual(m["To"], "ops@example.test")
            self.assertTrue(m["Message-ID"])
            self.assertTrue(m["Date"])
            # Text and HTML parts (with the unsubscribe link): the text part's first line.
            bodies.add(m.get_body(preferencelist=("plain",)).get_content().splitlines()[0])
        self.assertEqual(bodies, {f"{st} is out of stock of {it}"
                                  for st, it in EXPECTED_OUT_OF_STOCK})

        # Berlin again: every row unchanged, no alert.
        berlin = os.path.join(SAMPLES, "inventory-berlin.csv")
        out = s.cli("upload", berlin)
        self.assertIn("6 rows read, 0 loaded, 6 unchanged, 0 rejected", out.stdout)

        # Berlin with Echo Plus at 5, then at 0: one more NoStock (and the pipeline is in
        # order, so its arrival proves the re-upload sent nothing).
        tmp = tempfile.mkdtemp()
        with open(berlin) as f:
            text = f.read()
        at5 = os.path.join(tmp, "inventory-berlin.csv")
        with open(at5, "w") as f:
            f.write(text.replace("Berlin,Echo Plus,0", "Berlin,Echo Plus,5"))
        s.cli("upload", at5)
        with open(at5, "w") as f:
            f.write(text)
        s.cli("upload", at5)
        wait_for(lambda: len(self.webhook_alerts()) >= 7, what="the seventh webhook")
        wait_for(lambda: len(self.smtp.messages()) >= 7, what="the seventh email")
        wait_for(lambda: s.get("/api/v1/deliveries?state=pending")[1]["deliveries"] == [],
                 what="no pending deliveries")
        hooks = self.webhook_alerts()
        self.assertEqual(len(hooks), 7)
        self.assertEqual(len(self.smtp.messages()), 7)
        last = [h for h in hooks if h["old_count"] == 5]
        self.assertEqual(len(last), 1)
        self.assertEqual((last[0]["store"], last[0]["item"], last[0]["new_count"]),
                         ("Berlin", "Echo Plus", 0))
        status, alerts = s.get("/api/v1/alerts?topic=NoStock&limit=100")
        self.assertEqual(status, 200)
        self.assertEqual(len(alerts["alerts"]), 7)
        status, delivered = s.get("/api/v1/deliveries?state=delivered&limit=100")
        self.assertEqual(len(delivered["deliveries"]), 14)

    def test_everything_but_health_needs_a_token(self):
        s = self.server
        self.assertEqual(s.get("/healthz", token=None)[0], 200)
        for path in ["/api/v1/inventory", "/api/v1/stores", "/api/v1/uploads", "/api/v1/alerts",
                     "/api/v1/subscriptions", "/api/v1/thresholds", "/metrics"]:
            self.assertEqual(s.get(path, token=None)[0], 401, path)
            self.assertEqual(s.get(path, token="wrong")[0], 401, path)
            self.assertEqual(s.get(path)[0], 200, path)
        status, _ = s.request("PUT", "/api/v1/uploads/x.csv", body="store,item,count\na,b,1\n",
                              token=None)
        self.assertEqual(status, 401)

    def test_bad_file_is_refused_by_the_upload_with_its_first_error(self):
        s = self.server
        status, doc = s.request("PUT", "/api/v1/uploads/inventory-berlin.csv",
                                body="store,item,amount\nBerlin,Echo Dot,1\n")
        self.assertEqual(status, 400)
        self.assertEqual(doc["error"]["message"],
                         'inventory-berlin.csv:1:1: missing column "count"')
        status, doc = s.get("/api/v1/uploads")
        self.assertEqual(doc["uploads"], [])

    def test_bad_rows_are_reported_with_position_and_the_rest_loaded(self):
        s = self.server
        body = ("store,item,count\n"
                "Berlin,Echo Dot,12\n"
                "Berlin,Echo Show,1O\n"
                "Berlin,Echo Dot,3\n")
        status, doc = s.request("PUT", "/api/v1/uploads/inventory-berlin.csv", body=body)
        self.assertEqual(status, 201, doc)
        report = s.wait_loaded(doc["id"])
        self.assertEqual(report["status"], "loaded")
        self.assertEqual(report["report"]["rows_read"], 3)
        self.assertEqual(report["report"]["rows_loaded"], 1)
        self.assertEqual(report["report"]["rows_rejected"], 1)
        self.assertEqual(report["report"]["errors"],
                         ['inventory-berlin.csv:3:18: count "1O" is not a whole number'])
        self.assertEqual(len(report["report"]["warnings"]), 1)
        self.assertTrue(report["report"]["warnings"][0].startswith("inventory-berlin.csv:2:1:"))
        got = {(i["store"], i["item"]): i["count"] for i in s.inventory()}
        self.assertEqual(got, {("Berlin", "Echo Dot"): 3})

    def test_check_validates_locally_and_loads_nothing(self):
        tmp = tempfile.mkdtemp()
        bad = os.path.join(tmp, "bad.csv")
        with open(bad, "w") as f:
            f.write("store,item,count\nBerlin,,4\n")
        proc = self.server.cli("check", bad, check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("bad.csv:2:8: item is empty", proc.stdout)
        self.assertEqual(self.server.inventory(), [])


if __name__ == "__main__":
    unittest.main()
