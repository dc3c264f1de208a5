"""The Lambda handlers end to end against moto_server standing in for AWS.

No AWS account is reachable from CI: moto_server (python3-moto, preinstalled) plays S3,
DynamoDB (+ Streams) and SNS on a loopback port. The test makes the bucket, the table with
its NEW_AND_OLD_IMAGES stream, the state table and the three topics, puts the six sample
files (one under a key with spaces), then feeds `stockwatch lambda --invoke load-inventory`
S3 events in AWS's format (two records in one event), reads the table's stream, feeds the
records to `--invoke check-stock`, and checks what moto says was published to NoStock
(`/moto-api/data.json`). An identical re-upload publishes nothing, and a late event older
than the last one applied changes nothing. The setup calls are plain HTTP requests to moto
(its auth checks are off; the header only names the service); everything under test goes
through stockwatch's own clients.
"""

import csv
import io
import json
import os
import secrets
import shutil
import subprocess
import tempfile
import unittest
import urllib.error
import urllib.parse
import urllib.request

from harness import BIN, SAMPLES
from moto_support import REGION, MotoServer, fake_authorization

BUCKET = "inventory-uploads"


def auth(service):
    return fake_authorization(service)


class Moto(MotoServer):
    """moto_server (moto_support.py) with the calls this test makes to set things up."""

    def __init__(self):
        super().__init__("sw-lambda-moto")

    def put_object(self, key, data):
        _, headers, _ = self.request("PUT", f"/{BUCKET}/{urllib.parse.quote(key)}", data,
                                     {"Authorization": auth("s3"), "Content-Type": "text/csv"})
        return headers["ETag"].strip('"')

    def get_object(self, key):
        return self.request("GET", f"/{BUCKET}/{urllib.parse.quote(key)}",
                            headers={"Authorization": auth("s3")})[2]


def s3_record(key, size, etag, sequencer):
    """One record of an S3 event notification, as S3 sends it to Lambda."""
    return {
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION,
        "eventTime": "2026-11-26T12:00:00.000Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AIDAEXAMPLE"},
        "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {"x-amz-request-id": "EXAMPLE", "x-amz-id-2": "EXAMPLE"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "load-inventory",
               "bucket": {"name": BUCKET, "ownerIdentity": {"principalId": "EXAMPLE"},
                          "arn": f"arn:aws:s3:::{BUCKET}"},
               "object": {"key": urllib.parse.quote_plus(key, safe="/"), "size": size,
                          "eTag": etag, "sequencer": sequencer}}}


class LambdaMotoTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = Moto()
        cls.tmp = tempfile.mkdtemp()

    @classmethod
    def tearDownClass(cls):
        cls.moto.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def invoke(self, handler, event, **overrides):
        path = os.path.join(self.tmp, f"event-{secrets.token_hex(4)}.json")
        with open(path, "w") as f:
            json.dump(event, f)
        env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
                   AWS_REGION=REGION, AWS_ENDPOINT_URL=self.moto.url, HOME=self.tmp,
                   TABLE_NAME="Inventory", STATE_TABLE="InventoryLoads")
        env.update(overrides)
        env = {k: v for k, v in env.items() if v is not None}
        run = subprocess.run([BIN, "lambda", "--invoke", handler, "--event", path], env=env,
                             capture_output=True, text=True, timeout=120)
        self.assertEqual(run.returncode, 0, run.stdout + run.stderr)
        return json.loads(run.stdout)

    def stream_records(self, table="Inventory"):
        arn = self.moto.dynamodb("DescribeTable", {"TableName": table})["Table"]["LatestStreamArn"]
        shards = self.moto.streams("DescribeStream", {"StreamArn": arn})["StreamDescription"]["Shards"]
        records = []
        for shard in shards:
            it = self.moto.streams("GetShardIterator", {
                "StreamArn": arn, "ShardId": shard["ShardId"],
                "ShardIteratorType": "TRIM_HORIZON"})["ShardIterator"]
            got = self.moto.streams("GetRecords", {"ShardIterator": it, "Limit": 1000})
            for r in got["Records"]:
                r["eventSourceARN"] = arn  # Lambda adds it to each record of the event
                records.append(r)
        return records

    def no_stock_notifications(self):
        return self.moto.sent_notifications("NoStock")

    def test_upload_load_check_publish(self):
        m = self.moto
        m.request("PUT", f"/{BUCKET}", headers={"Authorization": auth("s3")})
        m.create_inventory_table()
        m.dynamodb("CreateTable", {
            "TableName": "InventoryLoads", "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "Key", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "Key", "KeyType": "HASH"}]})
        for name in ("nostock", "LowStock", "BackInStock"):  # found ignoring case
            m.sns({"Action": "CreateTopic", "Name": name if name != "nostock" else "NoStock"})

        files = sorted(f for f in os.listdir(SAMPLES) if f.endswith(".csv"))
        self.assertEqual(len(files), 6)
        records, expected = [], {}
        for i, name in enumerate(files):
            with open(os.path.join(SAMPLES, name), "rb") as f:
                data = f.read()
            key = name.replace("-", " ", 1) if "berlin" in name else name  # "inventory berlin.csv"
            etag = m.put_object(key, data)
            records.append(s3_record(key, len(data), etag, f"0055AED6DCD9028{i:03X}"))
            rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
            header = [h.strip().lower() for h in rows[0]]
            for row in rows[1:]:
                if row:
                    store, item, count = (row[header.index(c)].strip() for c in ("store", "item", "count"))
                    expected[(store, item)] = int(count)
        zeros = sorted(k for k, v in expected.items() if v == 0)

        first = self.invoke("load-inventory", {"Records": records[:2]})  # two records in one event
        rest = self.invoke("load-inventory", {"Records": records[2:]})
        outcomes = [r["outcome"] for r in first["records"] + rest["records"]]
        self.assertEqual(outcomes, ["loaded"] * 6, json.dumps(first, indent=1))
        self.assertEqual(first["records"][0]["key"], "inventory berlin.csv")

        items = m.dynamodb("Scan", {"TableName": "Inventory"})["Items"]
        table = {(i["Store"]["S"], i["Item"]["S"]): int(i["Count"]["N"]) for i in items}
        self.assertEqual(table, expected)
        report = json.loads(m.get_object("reports/inventory berlin.csv.json"))
        self.assertEqual(report["status"], "loaded")

        stream = self.stream_records()
        self.assertEqual(len(stream), len(expected))
        checked = self.invoke("check-stock", {"Records": stream})
        self.assertEqual(checked, {"batchItemFailures": []})
        sent = self.no_stock_notifications()
        self.assertEqual(len(sent), len(zeros))
        # [message id, message, subject, attributes, group id], as moto keeps them.
        berlin = [n for n in sent if n[1] == "Berlin is out of stock of Echo Plus"]
        self.assertEqual(len(berlin), 1, sent)
        self.assertEqual(berlin[0][2], "Inventory Alert!")
        attributes = berlin[0][3]
        self.assertEqual(attributes["store"], {"Type": "String", "Value": "Berlin"})
        self.assertEqual(attributes["item"], {"Type": "String", "Value": "Echo Plus"})
        self.assertEqual(attributes["topic"], {"Type": "String", "Value": "NoStock"})
        self.assertEqual(attributes["new_count"], {"Type": "Number", "Value": "0"})
        self.assertNotIn("old_count", attributes)  # a new item: it had no count before

        # An identical re-upload (a new event, same ETag) writes nothing, so publishes nothing.
        with open(os.path.join(SAMPLES, "inventory-berlin.csv"), "rb") as f:
            data = f.read()
        etag = m.put_object("inventory berlin.csv", data)
        again = self.invoke("load-inventory", {"Records": [
            s3_record("inventory berlin.csv", len(data), etag, "0055AED6DCD902900F")]})
        self.assertEqual(again["records"][0]["outcome"], "unchanged")
        # A late event older than the last one applied changes nothing either.
        late = self.invoke("load-inventory", {"Records": [
            s3_record("inventory berlin.csv", len(data), "0" * 32, "55AED6DCD9028000")]})
        self.assertEqual(late["records"][0]["outcome"], "stale")
        self.assertEqual(len(self.stream_records()), len(expected))
        self.assertEqual(len(self.no_stock_notifications()), len(zeros))

    def test_state_in_the_inventory_table_without_state_table(self):
        m = self.moto
        bucket_ok = m.request("PUT", f"/{BUCKET}", headers={"Authorization": auth("s3")})
        self.assertEqual(bucket_ok[0], 200)
        m.create_inventory_table("Plain")
        m.sns({"Action": "CreateTopic", "Name": "PlainOut"})
        data = b"store,item,count\nOslo,Kindle,0\nOslo,Echo,2\n"
        etag = m.put_object("plain/oslo.csv", data)
        loaded = self.invoke("load-inventory", {"Records": [
            s3_record("plain/oslo.csv", len(data), etag, "0A")]}, TABLE_NAME="Plain",
            STATE_TABLE=None)
        self.assertEqual(loaded["records"][0]["outcome"], "loaded")
        items = m.dynamodb("Scan", {"TableName": "Plain"})["Items"]
        state = [i for i in items if i["Store"]["S"] == "#stockwatch-load-state"]
        self.assertEqual(len(state), 1)
        self.assertEqual(state[0]["Item"]["S"], f"{BUCKET}/plain/oslo.csv")
        self.assertNotIn("Count", state[0])
        self.assertEqual(state[0]["ETag"]["S"], etag)
        # The state item's stream records publish nothing: only Oslo's Kindle alerts.
        checked = self.invoke("check-stock", {"Records": self.stream_records("Plain")},
                              NO_STOCK_TOPIC_NAME="plainout")
        self.assertEqual(checked, {"batchItemFailures": []})
        _, _, raw = m.request("GET", "/moto-api/data.json")
        sent = [t for t in json.loads(raw)["sns"]["Topic"] if t["arn"].endswith(":PlainOut")]
        self.assertEqual(len(sent[0]["sent_notifications"]), 1)
        self.assertIn("Oslo is out of stock of Kindle", json.dumps(sent[0]["sent_notifications"]))


if __name__ == "__main__":
    unittest.main()
