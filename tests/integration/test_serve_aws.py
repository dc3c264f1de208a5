"""`stockwatch serve --backend aws` against moto_server standing in for AWS.

No AWS account is reachable from CI: moto_server (python3-moto, preinstalled) plays DynamoDB
(+ Streams) and SNS on a loopback port. The test makes the `Inventory` table with its
NEW_AND_OLD_IMAGES stream and the NoStock topic, puts one item in the table as another writer
would, then starts the server on that table:

- the item already in the table shows in the dashboard's API at once (the first start's
  scan) and raises no alert;
- an upload through the server lands in the DynamoDB table, comes back through the stream
  into the local mirror, and its out-of-stock item is published to the NoStock topic with
  its attributes;
- a change written to the table by someone else (the Lambda loader, the original Python
  function) reaches the dashboard and alerts the same way;
- an identical re-upload writes nothing and publishes nothing;
- a restart resumes from the stream checkpoint: nothing is alerted twice;
- with aws.bucket, each upload is copied to that S3 bucket under its key.

The setup calls and the checks on the table are plain HTTP requests to moto (its auth
checks are off); everything under test goes through the server.
"""

import json
import os
import tempfile
import time
import unittest
import urllib.error

from harness import SAMPLES, Server, wait_for
from moto_support import REGION, MotoServer, fake_authorization

BERLIN = os.path.join(SAMPLES, "inventory-berlin.csv")  # Echo Plus at 0: one NoStock alert


def item(store, name, count):
    return {"Store": {"S": store}, "Item": {"S": name}, "Count": {"N": str(count)}}


class ServeAwsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = MotoServer("sw-serve-aws-moto")
        m = cls.moto
        m.create_inventory_table()
        m.create_topic("NoStock")
        m.request("PUT", "/inventory-uploads")  # aws.bucket: where uploads are copied
        # Already in the table before the server first starts: out of stock, but not news.
        m.dynamodb("PutItem", {"TableName": "Inventory", "Item": item("Oslo", "Kindle", 0)})
        m.dynamodb("PutItem", {"TableName": "Inventory", "Item": item("Oslo", "Echo Dot", 4)})
        cls.data_dir = tempfile.mkdtemp(prefix="sw-serve-aws-")

    @classmethod
    def tearDownClass(cls):
        cls.moto.stop()

    def start(self):
        server = Server(data_dir=self.data_dir, args=["--backend", "aws"], env={
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": REGION, "AWS_ENDPOINT_URL": self.moto.url,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_CONFIG_FILE": os.devnull,
            "STOCKWATCH_AWS_STREAM_POLL_MS": "50",
            "STOCKWATCH_AWS_BUCKET": "inventory-uploads"}).start()
        self.addCleanup(server.stop)
        return server

    def upload(self, server):
        with open(BERLIN, "rb") as f:
            status, doc = server.request("PUT", "/api/v1/uploads/inventory-berlin.csv",
                                         body=f.read())
        self.assertEqual(status, 201, doc)
        return doc["id"]

    def table(self):
        items = self.moto.dynamodb("Scan", {"TableName": "Inventory"})["Items"]
        return {(i["Store"]["S"], i["Item"]["S"]): int(i["Count"]["N"]) for i in items}

    def s3_object(self, key):
        try:
            return self.moto.request("GET", f"/inventory-uploads/{key}",
                                     headers={"Authorization": fake_authorization("s3")})[2]
        except urllib.error.HTTPError:
            return None

    def counts(self, server, store):
        return {i["item"]: i["count"] for i in server.inventory(store)}

    def published(self):
        return [(n[2], n[1]) for n in self.moto.sent_notifications("NoStock")]

    def test_a_row_of_a_reserved_store_is_a_bad_row_and_writes_nothing(self):
        # "#stockwatch-" stores hold the Lambda functions' own items (load state,
        # thresholds): a row naming one must not overwrite them.
        s = self.start()
        data = b'store,item,count\nRome,Kindle,3\n#stockwatch-thresholds,"[""Rome"",null]",3\n'
        status, doc = s.request("PUT", "/api/v1/uploads/rome.csv", body=data)
        self.assertEqual(status, 201, doc)
        report = s.wait_loaded(doc["id"])
        self.assertEqual(report["status"], "loaded", report)
        self.assertEqual(report["report"]["rows_loaded"], 1, report)
        self.assertIn('store \\"#stockwatch-thresholds\\" is reserved', json.dumps(report))
        stores = {i["Store"]["S"] for i in
                  self.moto.dynamodb("Scan", {"TableName": "Inventory"})["Items"]}
        self.assertIn("Rome", stores)
        self.assertNotIn("#stockwatch-thresholds", stores)

    def test_upload_stream_mirror_and_alerts(self):
        s = self.start()
        # The first start scanned the table: its items are served, and nothing was alerted.
        self.assertEqual(self.counts(s, "Oslo"), {"Kindle": 0, "Echo Dot": 4})
        self.assertEqual(s.get("/api/v1/alerts")[1]["alerts"], [])

        # An upload goes to the table, and back through the stream into the mirror.
        report = s.wait_loaded(self.upload(s))
        self.assertEqual(report["status"], "loaded", report)
        self.assertGreater(report["report"]["rows_loaded"], 0, report)
        table = self.table()
        self.assertEqual(table[("Berlin", "Echo Plus")], 0)
        wait_for(lambda: self.counts(s, "Berlin").get("Echo Plus") == 0,
                 what="Berlin's items mirrored from the stream")
        wait_for(lambda: ("Inventory Alert!", "Berlin is out of stock of Echo Plus")
                 in self.published(), what="the NoStock alert published to SNS")
        sent = [n for n in self.moto.sent_notifications("NoStock") if "Berlin" in n[1]]
        self.assertEqual(len(sent), 1, sent)
        self.assertEqual(sent[0][3]["store"], {"Type": "String", "Value": "Berlin"})
        self.assertEqual(sent[0][3]["new_count"], {"Type": "Number", "Value": "0"})
        # The upload is copied to the S3 bucket, byte for byte, under its key.
        with open(BERLIN, "rb") as f:
            original = f.read()
        wait_for(lambda: self.s3_object("inventory-berlin.csv") == original,
                 what="the upload copied to s3://inventory-uploads/")
        stores = {st["store"]: st for st in s.get("/api/v1/stores")[1]["stores"]}
        self.assertIsNotNone(stores["Berlin"]["last_upload"])

        # Someone else writes to the table: the dashboard and the alerts follow.
        self.moto.dynamodb("PutItem", {"TableName": "Inventory",
                                       "Item": item("Oslo", "Echo Dot", 0)})
        wait_for(lambda: self.counts(s, "Oslo").get("Echo Dot") == 0,
                 what="another writer's change mirrored")
        wait_for(lambda: ("Inventory Alert!", "Oslo is out of stock of Echo Dot")
                 in self.published(), what="the other writer's alert published")

        # The same file again: every row unchanged, nothing written or published.
        before = len(self.published())
        report = s.wait_loaded(self.upload(s))
        self.assertEqual(report["report"]["rows_loaded"], 0, report)
        self.assertEqual(report["report"]["rows_unchanged"], report["report"]["rows_read"])

        # A restart resumes after the last applied stream record: no alert twice.
        s.stop()
        s = self.start()
        self.assertEqual(self.counts(s, "Oslo"), {"Kindle": 0, "Echo Dot": 0})
        time.sleep(1.0)  # a few stream polls
        self.assertEqual(len(self.published()), before)
        alerts = s.get("/api/v1/alerts?topic=NoStock")[1]["alerts"]
        self.assertEqual(sorted(a["store"] for a in alerts), ["Berlin", "Oslo"], alerts)

    def test_refuses_a_missing_table(self):
        server = Server(args=["--backend", "aws"], env={
            "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": REGION, "AWS_ENDPOINT_URL": self.moto.url,
            "STOCKWATCH_AWS_TABLE": "NoSuchTable"})
        with self.assertRaises(AssertionError):
            server.start()
        server.stop()
        self.assertIn("NoSuchTable", server.logs())


if __name__ == "__main__":
    unittest.main()
