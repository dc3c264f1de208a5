#!/usr/bin/env python3
"""Loading an inventory file into DynamoDB: stockwatch's load-inventory against a loader
written the way the original stack's Python Load-Inventory function is (one put_item per
row), both into moto_server standing in for AWS (issue 6, "Performance").

    bench/aws_load.py [--bin build/release/src/stockwatch] [--rows 100000]
                      [--python-rows N]
    bench/aws_load.py --bin ... --memory 10000,100000,300000

Starts moto_server on a loopback port, makes the bucket and the table (Store/Item keys, a
NEW_AND_OLD_IMAGES stream, as the SAM template does), puts one generated file of --rows
rows, and times:
  - ours: `stockwatch lambda --invoke load-inventory` on an S3 event for that object
    (BatchWriteItem, 25 items a call);
  - the original's way: boto3, get_object, csv, table.put_item per row, for --python-rows
    rows (default: all of them; a smaller number gives a per-row rate).
It prints the times, the calls made and the requests per 1,000 rows. moto is far slower
than DynamoDB, so the figures compare the two loaders, not what AWS would take.

With --memory, it runs only ours, once per file size (row counts, comma-separated, each its
own object), and prints the peak resident memory of each invocation (its VmHWM, read from
/proc while it runs): memory per invocation should be flat in the file size.
"""

import argparse
import csv
import io
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import boto3
from botocore.config import Config

REGION = "us-east-1"
BUCKET = "inventory-bench"
KEY = "uploads/bench inventory.csv"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_csv(rows):
    out = io.StringIO()
    out.write("store,item,count\n")
    stores = 100
    for i in range(rows):
        out.write(f"Store {i % stores:03d},Item {i // stores:07d},{(i * 7919) % 50}\n")
    return out.getvalue().encode()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default="build/release/src/stockwatch")
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--python-rows", type=int, default=None)
    ap.add_argument("--memory", default=None,
                    help="row counts (comma-separated): peak memory of ours for each")
    args = ap.parse_args()
    python_rows = args.rows if args.python_rows is None else min(args.python_rows, args.rows)

    moto = shutil.which("moto_server")
    if moto is None:
        sys.exit("moto_server is not on PATH (python3-moto)")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",
               AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION, AWS_ENDPOINT_URL=url)
    work = tempfile.mkdtemp(prefix="sw-aws-bench.")
    log = open(os.path.join(work, "moto.log"), "w")
    server = subprocess.Popen([moto, "-H", "127.0.0.1", "-p", str(port)], stdout=log,
                              stderr=subprocess.STDOUT, env=env)
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(url + "/moto-api/", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        session = boto3.session.Session(aws_access_key_id="testing",
                                        aws_secret_access_key="testing", region_name=REGION)
        cfg = Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3})
        s3 = session.client("s3", endpoint_url=url, config=cfg)
        ddb = session.resource("dynamodb", endpoint_url=url, config=cfg)
        s3.create_bucket(Bucket=BUCKET)
        tables = {}
        for name in ("Inventory", "InventoryPython", "LoadState"):
            keys = ("Store", "Item") if name != "LoadState" else ("Key", None)
            schema = [{"AttributeName": keys[0], "KeyType": "HASH"}]
            attrs = [{"AttributeName": keys[0], "AttributeType": "S"}]
            if keys[1]:
                schema.append({"AttributeName": keys[1], "KeyType": "RANGE"})
                attrs.append({"AttributeName": keys[1], "AttributeType": "S"})
            tables[name] = ddb.create_table(
                TableName=name, KeySchema=schema, AttributeDefinitions=attrs,
                BillingMode="PAY_PER_REQUEST",
                StreamSpecification={"StreamEnabled": True,
                                     "StreamViewType": "NEW_AND_OLD_IMAGES"})
        ours_env = dict(env, TABLE_NAME="Inventory", STATE_TABLE="LoadState")

        def ours(key, body):
            """One S3 event record, as S3 sends it, through the load-inventory handler:
            (seconds, peak RSS in KiB, the handler's result)."""
            etag = s3.put_object(Bucket=BUCKET, Key=key, Body=body)["ETag"].strip('"')
            event = {"Records": [{
                "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": REGION,
                "eventTime": "2026-11-26T12:00:00.000Z", "eventName": "ObjectCreated:Put",
                "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": BUCKET,
                                                            "arn": f"arn:aws:s3:::{BUCKET}"},
                       "object": {"key": key.replace(" ", "+"), "size": len(body),
                                  "eTag": etag, "sequencer": "0055AED6DCD90281E5"}}}]}
            event_file = os.path.join(work, "event.json")
            with open(event_file, "w") as f:
                json.dump(event, f)
            out_file = os.path.join(work, "out.json")
            t0 = time.monotonic()
            with open(out_file, "w") as out, open(os.path.join(work, "err.log"), "w") as err:
                proc = subprocess.Popen([args.bin, "lambda", "--invoke", "load-inventory",
                                         "--event", event_file], env=ours_env, stdout=out,
                                        stderr=err)
                # The high-water mark of the process's own address space (VmHWM): ru_maxrss
                # would also count the Python parent it was forked from, whose memory grows
                # with the generated file.
                hwm_kib = 0
                while proc.poll() is None:
                    try:
                        with open(f"/proc/{proc.pid}/status") as status:
                            for line in status:
                                if line.startswith("VmHWM:"):
                                    hwm_kib = max(hwm_kib, int(line.split()[1]))
                    except (OSError, ValueError):
                        pass
                    time.sleep(0.01)
            seconds = time.monotonic() - t0
            with open(out_file) as f:
                text = f.read()
            if proc.returncode != 0:
                with open(os.path.join(work, "err.log")) as f:
                    sys.exit(f"load-inventory failed ({proc.returncode}):\n{text}\n{f.read()}")
            return seconds, hwm_kib, json.loads(text)

        if args.memory:
            print("rows       file bytes   seconds   peak RSS")
            for rows in [int(r) for r in args.memory.split(",")]:
                body = make_csv(rows)
                seconds, rss_kib, _ = ours(f"uploads/memory {rows}.csv", body)
                print(f"{rows:>9,} {len(body):>13,} {seconds:>9.1f} {rss_kib / 1024:>8.1f} MiB")
            return

        body = make_csv(args.rows)
        ours_s, _, result = ours(KEY, body)

        # The original's way: one PutItem per row.
        table = tables["InventoryPython"]
        t0 = time.monotonic()
        obj = s3.get_object(Bucket=BUCKET, Key=KEY)["Body"].read().decode()
        reader = csv.reader(io.StringIO(obj))
        next(reader)
        done = 0
        for row in reader:
            if done >= python_rows:
                break
            table.put_item(Item={"Store": row[0], "Item": row[1], "Count": int(row[2])})
            done += 1
        python_s = time.monotonic() - t0

        # Every item of ours must be there (the scan pages; count them all).
        total = 0
        kwargs = {"Select": "COUNT"}
        while True:
            page = tables["Inventory"].scan(**kwargs)
            total += page["Count"]
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

        # 25 distinct items a call: the handler writes whole batches (unprocessed items,
        # which moto never returns, would add calls).
        calls_ours = -(-args.rows // 25)
        print(f"rows: {args.rows}")
        print(f"stockwatch load-inventory: {ours_s:.2f} s, {args.rows / ours_s:,.0f} rows/s, "
              f"{total} items in the table, BatchWriteItem calls: {calls_ours} "
              f"({calls_ours * 1000 / args.rows:.0f} per 1,000 rows)")
        print(f"python put_item per row: {python_s:.2f} s for {done} rows, "
              f"{done / python_s:,.0f} rows/s, PutItem calls: {done} (1000 per 1,000 rows)")
        if done < args.rows:
            print(f"python extrapolated to {args.rows} rows: {python_s * args.rows / done:.1f} s")
        print(f"handler result: {json.dumps(result)[:400]}")
        if total != args.rows:
            sys.exit(f"expected {args.rows} items in the table, found {total}")
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:  # moto_server can ignore SIGTERM while busy
            server.kill()
            server.wait()
        log.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
