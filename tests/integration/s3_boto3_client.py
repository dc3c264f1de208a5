"""boto3 against the stockwatch S3 API, for test_s3.py.

Runs under whichever interpreter has boto3 (often pyenv's python3, not /usr/bin/python3).
Usage: s3_boto3_client.py ENDPOINT_URL < ops.json; prints {"botocore_version", "results"}
with one result per operation. Credentials come from AWS_ACCESS_KEY_ID and
AWS_SECRET_ACCESS_KEY. Default checksum settings (botocore's "when_supported"), path-style
addressing, SigV4 presigned URLs.

Operations ({"op": ...}):
  upload_file {path, key}            S3Transfer upload; result: ETag from HeadObject, headers sent
  put_object  {path, key}            PutObject with the file's bytes; ETag, ChecksumCRC32, headers
  get_sha256  {key}                  GetObject; sha256 of the body
  head        {key}                  HeadObject; ETag, ContentLength
  list_keys   {prefix, page_size}    ListObjectsV2 through the paginator
  presign     {key, expires, signed_seconds_ago}
                                     a presigned GetObject URL signed as if at now - N s
Errors are results too: {"error": code, "status": http status}.
"""

import datetime
import hashlib
import json
import sys

import boto3
import botocore
import botocore.auth
import botocore.exceptions
from botocore.config import Config


def main():
    endpoint = sys.argv[1]
    ops = json.load(sys.stdin)
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                          config=Config(s3={"addressing_style": "path"},
                                        retries={"max_attempts": 1},
                                        # Presigned URLs are SigV2 otherwise.
                                        signature_version="s3v4"))
    sent = []

    def record(request, **_):
        sent.append({"method": request.method, "url": request.url,
                     "headers": {k.lower(): (v.decode() if isinstance(v, bytes) else v)
                                 for k, v in request.headers.items()}})

    client.meta.events.register("before-send.s3.*", record)
    results = []
    for op in ops:
        sent.clear()
        try:
            results.append(run(client, op, sent))
        except botocore.exceptions.ClientError as e:
            results.append({"error": e.response.get("Error", {}).get("Code"),
                            "message": e.response.get("Error", {}).get("Message"),
                            "status": e.response.get("ResponseMetadata", {}).get(
                                "HTTPStatusCode")})
    json.dump({"botocore_version": botocore.__version__, "results": results}, sys.stdout)


def run(client, op, sent):
    kind = op["op"]
    if kind == "upload_file":
        client.upload_file(op["path"], "inventory", op["key"])
        put_requests = [s for s in sent if s["method"] == "PUT"]
        head = client.head_object(Bucket="inventory", Key=op["key"])
        return {"etag": head["ETag"].strip('"'), "size": head["ContentLength"],
                "sent": put_requests}
    if kind == "put_object":
        with open(op["path"], "rb") as f:
            body = f.read()
        resp = client.put_object(Bucket="inventory", Key=op["key"], Body=body)
        return {"etag": resp["ETag"].strip('"'), "checksum_crc32": resp.get("ChecksumCRC32"),
                "sent": [s for s in sent if s["method"] == "PUT"]}
    if kind == "get_sha256":
        resp = client.get_object(Bucket="inventory", Key=op["key"])
        return {"sha256": hashlib.sha256(resp["Body"].read()).hexdigest(),
                "etag": resp["ETag"].strip('"')}
    if kind == "head":
        resp = client.head_object(Bucket="inventory", Key=op["key"])
        return {"etag": resp["ETag"].strip('"'), "size": resp["ContentLength"]}
    if kind == "list_keys":
        paginator = client.get_paginator("list_objects_v2")
        keys = []
        for page in paginator.paginate(Bucket="inventory", Prefix=op.get("prefix", ""),
                                       PaginationConfig={"PageSize": op.get("page_size", 1000)}):
            keys += [c["Key"] for c in page.get("Contents", [])]
        return {"keys": keys}
    if kind == "presign":
        signed_at = (datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
                     - datetime.timedelta(seconds=op.get("signed_seconds_ago", 0)))
        # botocore's SigV4 query signer reads the time through this function.
        real = botocore.auth.get_current_datetime
        botocore.auth.get_current_datetime = lambda remove_tzinfo=True: signed_at
        try:
            url = client.generate_presigned_url(
                "get_object", Params={"Bucket": "inventory", "Key": op["key"]},
                ExpiresIn=op["expires"])
        finally:
            botocore.auth.get_current_datetime = real
        return {"url": url}
    raise ValueError(f"unknown op {kind}")


if __name__ == "__main__":
    main()
