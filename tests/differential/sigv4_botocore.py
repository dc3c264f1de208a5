#!/usr/bin/env python3
"""Random S3 requests signed by botocore, for the SigV4 differential test.

Writes one JSON object per line: a request as a client sends it (method, target, headers,
Authorization or presign query) together with what is needed to sign it again (key,
secret, token, region, time, payload hash). sigv4_differential (C++) verifies each with
our verifier and signs it again with our signer, comparing byte for byte.

The requests are built the way botocore's S3 client builds them: path segments
percent-encoded with percent_encode(key, safe='/~'), query names and values with
percent_encode (safe '-_.~'), value-less parameters as `?uploads`. Header values get odd
whitespace (runs of spaces and tabs, leading and trailing blanks) and repeated names in
mixed case. Headers are signed by S3SigV4Auth, presigned URLs by S3SigV4QueryAuth.

Usage: sigv4_botocore.py [--count N] [--seed S] > requests.jsonl
"""
import argparse
import datetime
import hashlib
import json
import random
import sys
from unittest import mock

import botocore.auth
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode

PAYLOAD_MODES = [
    "UNSIGNED-PAYLOAD",
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
    "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
]
QUERY_NAMES = [
    "uploads", "uploadId", "partNumber", "prefix", "delimiter", "list-type", "max-keys",
    "continuation-token", "start-after", "versionId", "x-id", "tagging", "acl",
    "response-content-type", "encoding-type", "fetch-owner",
]
HEADER_NAMES = [
    "Content-Type", "Content-MD5", "Range", "If-Match", "If-None-Match", "x-amz-storage-class",
    "x-amz-meta-note", "X-Amz-Meta-Owner", "x-amz-acl", "x-amz-copy-source", "x-amz-trailer",
    "x-amz-decoded-content-length", "Content-Encoding", "Cache-Control", "x-amz-tagging",
]
REGIONS = ["us-east-1", "eu-west-3", "ap-southeast-2", "local", "garage"]
HOSTS = ["s3.amazonaws.com", "examplebucket.s3.us-east-1.amazonaws.com", "localhost:9000",
         "127.0.0.1:41234", "minio.internal"]
KEY_CHARS = ("abcxyzABCXYZ0189-._~ /!$&'()*+,;=:@%?#[]{}\"<>^`|\\" +
             "\u00e9\u00df\u20ac\u4e2d\u6587\U0001f600")


class FixedPayloadS3SigV4Auth(S3SigV4Auth):
    """S3SigV4Auth with the payload hash chosen by the test (botocore picks it from the
    body and the transport otherwise); canonicalization and signing stay botocore's."""

    def __init__(self, credentials, service_name, region_name, payload_hash):
        super().__init__(credentials, service_name, region_name)
        self._payload_hash = payload_hash

    def payload(self, request):
        return self._payload_hash


def random_text(rng, alphabet, low, high):
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(low, high)))


def random_key(rng):
    """An object key (sometimes raw bytes), encoded as botocore encodes the {Key+} label."""
    if rng.random() < 0.1:
        raw = bytes(rng.randrange(256) for _ in range(rng.randint(1, 12)))
        return percent_encode(raw, safe="/~")
    key = random_text(rng, KEY_CHARS, 1, 24)
    if rng.random() < 0.15:
        key = rng.choice(["a/../b", "./x", "x//y/", "../", "dir/"]) + key
    return percent_encode(key, safe="/~")


def random_query(rng, allow_repeats):
    params = []
    for _ in range(rng.choice([0, 0, 1, 2, 3, 5])):
        name = rng.choice(QUERY_NAMES) if rng.random() < 0.7 else random_text(
            rng, KEY_CHARS, 1, 8)
        if not allow_repeats and any(existing == name for existing, _ in params):
            continue
        kind = rng.random()
        if kind < 0.2:
            params.append((name, None))  # ?uploads
        elif kind < 0.3:
            params.append((name, ""))  # ?name=
        else:
            params.append((name, random_text(rng, KEY_CHARS, 1, 16)))
        if allow_repeats and rng.random() < 0.15:
            params.append((name, random_text(rng, KEY_CHARS, 0, 6)))
    parts = []
    for name, value in params:
        encoded = percent_encode(name)
        parts.append(encoded if value is None else encoded + "=" + percent_encode(value))
    return "&".join(parts)


def odd_whitespace(rng, value):
    blanks = [" ", "  ", "\t", " \t ", "   "]
    words = value.split(" ")
    out = rng.choice(["", "", " ", "\t", "  "])
    for i, word in enumerate(words):
        if i:
            out += rng.choice(blanks)
        out += word
    return out + rng.choice(["", "", " ", "\t "])


def random_headers(rng, host):
    headers = [("Host" if rng.random() < 0.7 else "host", host)]
    for _ in range(rng.randint(0, 5)):
        name = rng.choice(HEADER_NAMES)
        if rng.random() < 0.3:
            name = "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in name)
        words = [random_text(rng, "abcXYZ019=/+-_.:;,\"'()", 1, 8)
                 for _ in range(rng.randint(1, 4))]
        headers.append((name, odd_whitespace(rng, " ".join(words))))
    return headers


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=20240601)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    out = sys.stdout
    for index in range(args.count):
        presigned = rng.random() < 0.3
        method = rng.choice(["GET", "PUT", "POST", "DELETE", "HEAD"])
        path = "/" + random_text(rng, "abcdefghij0123456789-.", 3, 12)
        if rng.random() < 0.85:
            path += "/" + random_key(rng)
        query = random_query(rng, allow_repeats=not presigned)
        target = path + ("?" + query if query else "")
        host = rng.choice(HOSTS)
        headers = random_headers(rng, host)
        region = rng.choice(REGIONS)
        access_key = "AKID" + random_text(rng, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 8, 16)
        secret = random_text(rng, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789+/", 20, 40)
        token = random_text(rng, "abcXYZ0123456789+/=", 10, 60) if rng.random() < 0.2 else None
        when = datetime.datetime(2010, 1, 1) + datetime.timedelta(
            seconds=rng.randrange(20 * 365 * 86400))
        amz_date = when.strftime("%Y%m%dT%H%M%SZ")
        credentials = Credentials(access_key, secret, token)

        request = AWSRequest(method=method, url="https://" + host + target)
        for name, value in headers:
            request.headers[name] = value
        record = {
            "index": index, "method": method, "access_key": access_key, "secret": secret,
            "token": token or "", "region": region, "amz_date": amz_date,
            "presigned": presigned, "original_target": target,
            "original_headers": [list(h) for h in headers],
        }
        if presigned:
            expires = rng.choice([1, 60, 3600, 86400, 604800, rng.randint(1, 604800)])
            if rng.random() < 0.2:
                payload_hash = hashlib.sha256(str(index).encode()).hexdigest()
                request.headers["X-Amz-Content-SHA256"] = payload_hash
                record["original_headers"].append(["X-Amz-Content-SHA256", payload_hash])
            else:
                payload_hash = "UNSIGNED-PAYLOAD"
            signer = S3SigV4QueryAuth(credentials, "s3", region, expires=expires)
            with mock.patch.object(botocore.auth, "get_current_datetime", return_value=when):
                signer.add_auth(request)
            record["expires"] = expires
            url = request.url
            record["target"] = url[url.index("/", len("https://")):]
            record["signature"] = url[url.rindex("X-Amz-Signature=") + 16:]
        else:
            if rng.random() < 0.5:
                payload_hash = hashlib.sha256(random_text(rng, "ab", 0, 50).encode()).hexdigest()
            else:
                payload_hash = rng.choice(PAYLOAD_MODES)
            signer = FixedPayloadS3SigV4Auth(credentials, "s3", region, payload_hash)
            with mock.patch.object(botocore.auth, "get_current_datetime", return_value=when):
                signer.add_auth(request)
            record["target"] = target
            record["authorization"] = request.headers["Authorization"]
        record["payload_hash"] = payload_hash
        record["headers"] = [[name, value] for name, value in request.headers.items()]
        out.write(json.dumps(record, ensure_ascii=True) + "\n")


if __name__ == "__main__":
    main()
