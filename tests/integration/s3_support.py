"""Helpers for the S3 API tests (test_s3.py).

- Sigv4: a small, independent AWS Signature V4 signer written from the AWS documentation
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html and
  https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-streaming.html), so tests can send
  requests no real client would: a chosen signing time, a traversal-shaped path, a tampered
  body or chunk, a replay.
- RawS3: signed requests over http.client, answers parsed (status, headers, body, S3 error).
- Access keys through the JSON API; upload bookkeeping through /api/v1/uploads.
- Environments and argument lists for the real clients: awscli, s3cmd, rclone, boto3, node.
"""

import base64
import datetime
import hashlib
import hmac
import http.client
import json
import os
import shutil
import subprocess
import unittest
import urllib.parse
import xml.etree.ElementTree as ET
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
BUCKET = "inventory"
REGION = "us-east-1"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_SIGNED = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
S3_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"

SETUP_HINT = "run scripts/setup.sh (it installs s3cmd and rclone; awscli/boto3 are preinstalled)"


# --- Small utilities ------------------------------------------------------------------------

def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def crc32_b64(data):
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def multipart_etag(path, part_size):
    """The ETag S3 gives a multipart object: md5 of the concatenated part md5s, '-N'."""
    digests = []
    with open(path, "rb") as f:
        for part in iter(lambda: f.read(part_size), b""):
            digests.append(hashlib.md5(part).digest())
    return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"


def uri_encode(text, encode_slash=True):
    """RFC 3986 encoding as SigV4 wants it (unreserved kept, the rest %XX upper case)."""
    if isinstance(text, str):
        text = text.encode("utf-8")
    return urllib.parse.quote(text, safe="-_.~" + ("" if encode_slash else "/"))


def key_path(key, bucket=BUCKET):
    """The path-style request path of `key`: /bucket/key, the key percent-encoded once."""
    return f"/{bucket}/{uri_encode(key, encode_slash=False)}"


def utcnow():
    return datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def amz_date(when):
    return when.strftime("%Y%m%dT%H%M%SZ")


def require_tool(name, hint=SETUP_HINT):
    """The path of client `name`; fails (not skips) naming the setup step when it is missing."""
    path = shutil.which(name)
    if not path:
        raise AssertionError(f"{name} is not installed on this machine: {hint}")
    return path


def generate_inventory_csv(path, target_bytes, store, count_seed=7):
    """Writes a valid inventory CSV of about `target_bytes` for one store; returns
    (row count, {(store, item): count} of a few sample rows)."""
    pad = "with a long descriptive name so that rows stay few and the file stays big"
    lines = ["store,item,count\n"]
    size = len(lines[0])
    n = 0
    samples = {}
    while size < target_bytes:
        item = f"Generated item {n:07d} {pad}"
        count = (n * 7919 + count_seed) % 1000
        line = f"{store},{item},{count}\n"
        lines.append(line)
        size += len(line)
        if n % 50000 == 0:
            samples[(store, item)] = count
        n += 1
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("".join(lines))
    return n, samples


def csv_bytes(rows, header="store,item,count"):
    """An inventory CSV from (store, item, count) tuples."""
    return (header + "\n" + "".join(f"{s},{i},{c}\n" for s, i, c in rows)).encode()


# --- SigV4 ----------------------------------------------------------------------------------

def _hmac(key, msg):
    return hmac.new(key, msg.encode("utf-8") if isinstance(msg, str) else msg,
                    hashlib.sha256).digest()


def canonical_query(raw_query):
    """Canonical query string of a raw (already percent-encoded) query: each name and value
    decoded, encoded again the SigV4 way, sorted."""
    pairs = []
    for part in raw_query.split("&") if raw_query else []:
        if not part:
            continue
        name, _, value = part.partition("=")
        name = urllib.parse.unquote_to_bytes(name)
        value = urllib.parse.unquote_to_bytes(value)
        if name == b"X-Amz-Signature":
            continue
        pairs.append((uri_encode(name), uri_encode(value)))
    pairs.sort()
    return "&".join(f"{n}={v}" for n, v in pairs)


def _canonical_value(value):
    return " ".join(str(value).strip().split())


class Sigv4:
    """An S3 SigV4 signer for one access key (header signatures, presigned URLs and the
    chunk signatures of STREAMING-AWS4-HMAC-SHA256-PAYLOAD bodies)."""

    # Headers a proxy may change; never signed.
    UNSIGNED = {"expect", "user-agent", "transfer-encoding", "connection", "accept-encoding"}

    def __init__(self, access_key_id, secret, region=REGION, service="s3"):
        self.access_key_id = access_key_id
        self.secret = secret
        self.region = region
        self.service = service

    def scope(self, when):
        return f"{when.strftime('%Y%m%d')}/{self.region}/{self.service}/aws4_request"

    def signing_key(self, when):
        key = _hmac(("AWS4" + self.secret).encode(), when.strftime("%Y%m%d"))
        key = _hmac(key, self.region)
        key = _hmac(key, self.service)
        return _hmac(key, "aws4_request")

    def canonical_request(self, method, target, headers, signed, payload_hash):
        path, _, query = target.partition("?")
        lower = {k.lower(): v for k, v in headers.items()}
        lines = [method, path or "/", canonical_query(query)]
        lines += [f"{name}:{_canonical_value(lower[name])}" for name in signed]
        return "\n".join(lines) + "\n\n" + ";".join(signed) + "\n" + payload_hash

    def string_to_sign(self, when, canonical_request):
        return "\n".join(["AWS4-HMAC-SHA256", amz_date(when), self.scope(when),
                          sha256_hex(canonical_request.encode())])

    def sign(self, method, target, headers, payload_hash, when=None):
        """Returns a copy of `headers` (which must hold Host) with x-amz-date,
        x-amz-content-sha256 and Authorization added; every header but UNSIGNED is signed.
        Also returns the signature (the seed of a streaming body)."""
        when = when or utcnow()
        out = {k: v for k, v in headers.items()
               if k.lower() not in ("authorization", "x-amz-date", "x-amz-content-sha256")}
        out["x-amz-date"] = amz_date(when)
        out["x-amz-content-sha256"] = payload_hash
        signed = sorted(k.lower() for k in out if k.lower() not in self.UNSIGNED)
        creq = self.canonical_request(method, target, out, signed, payload_hash)
        signature = hmac.new(self.signing_key(when), self.string_to_sign(when, creq).encode(),
                             hashlib.sha256).hexdigest()
        out["Authorization"] = (f"AWS4-HMAC-SHA256 Credential={self.access_key_id}/"
                                f"{self.scope(when)}, SignedHeaders={';'.join(signed)}, "
                                f"Signature={signature}")
        return out, signature

    def presign(self, method, path, host, expires, when=None):
        """A presigned target (path?X-Amz-...) signing only host, UNSIGNED-PAYLOAD."""
        when = when or utcnow()
        params = {
            "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
            "X-Amz-Credential": f"{self.access_key_id}/{self.scope(when)}",
            "X-Amz-Date": amz_date(when),
            "X-Amz-Expires": str(expires),
            "X-Amz-SignedHeaders": "host",
        }
        query = "&".join(f"{uri_encode(k)}={uri_encode(v)}" for k, v in sorted(params.items()))
        target = f"{path}?{query}"
        creq = self.canonical_request(method, target, {"host": host}, ["host"], UNSIGNED_PAYLOAD)
        signature = hmac.new(self.signing_key(when), self.string_to_sign(when, creq).encode(),
                             hashlib.sha256).hexdigest()
        return f"{target}&X-Amz-Signature={signature}"

    def chunk_signature(self, when, previous, data):
        sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", amz_date(when), self.scope(when), previous,
                         EMPTY_SHA256, sha256_hex(data)])
        return hmac.new(self.signing_key(when), sts.encode(), hashlib.sha256).hexdigest()

    def streaming_signed_body(self, data, seed, when, chunk_size):
        """The aws-chunked body of STREAMING-AWS4-HMAC-SHA256-PAYLOAD, as a list of
        (header line, data) chunks ending with the empty final chunk."""
        chunks = []
        previous = seed
        pieces = [data[i:i + chunk_size] for i in range(0, len(data), chunk_size)] + [b""]
        for piece in pieces:
            sig = self.chunk_signature(when, previous, piece)
            chunks.append((f"{len(piece):x};chunk-signature={sig}\r\n".encode(), piece))
            previous = sig
        return chunks


def encode_signed_chunks(chunks):
    return b"".join(line + piece + b"\r\n" for line, piece in chunks)


def unsigned_trailer_body(data, chunk_size, trailers):
    """The aws-chunked body of STREAMING-UNSIGNED-PAYLOAD-TRAILER (as awscli sends it over
    https): size lines without signatures, then the trailer fields."""
    out = []
    for i in range(0, len(data), chunk_size):
        piece = data[i:i + chunk_size]
        out.append(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
    out.append(b"0\r\n")
    for name, value in trailers:
        out.append(f"{name}:{value}\r\n".encode())
    out.append(b"\r\n")
    return b"".join(out)


# --- Raw requests ---------------------------------------------------------------------------

class Answer:
    """An HTTP answer with the S3 error (if any) parsed."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case names
        self.body = body
        self.code = self.message = self.request_id = None
        if status >= 300 and body.lstrip().startswith(b"<"):
            try:
                root = ET.fromstring(body)
                self.code = root.findtext("Code")
                self.message = root.findtext("Message")
                self.request_id = root.findtext("RequestId")
            except ET.ParseError:
                pass

    @property
    def etag(self):
        return self.headers.get("etag", "").strip('"')

    def xml(self):
        return ET.fromstring(self.body)

    def __repr__(self):
        return (f"<{self.status} code={self.code} message={self.message!r} "
                f"body={self.body[:300]!r}>")


def send(port, method, target, headers, body=b"", timeout=60):
    """Sends one request on a new connection to 127.0.0.1:port exactly as given (the
    target is not normalized). `body` may be bytes or, for Transfer-Encoding: chunked, a
    list of byte strings."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        chunked = isinstance(body, list)
        for name, value in headers.items():
            conn.putheader(name, value)
        if chunked:
            conn.putheader("Transfer-Encoding", "chunked")
        elif body and not any(k.lower() == "content-length" for k in headers):
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders()
        if chunked:
            for piece in body:
                if piece:
                    conn.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
            conn.send(b"0\r\n\r\n")
        elif body:
            conn.send(body)
        resp = conn.getresponse()
        data = resp.read()
        return Answer(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


class RawS3:
    """Signed S3 requests by hand for one access key on one server's S3 port."""

    def __init__(self, port, access_key_id, secret, host=None):
        self.port = port
        self.host = host or f"127.0.0.1:{port}"
        self.signer = Sigv4(access_key_id, secret)

    def signed(self, method, target, body=b"", headers=None, payload_hash=None, when=None):
        """(headers, signature) for a request; the payload hash defaults to the body's."""
        hdrs = {"Host": self.host}
        hdrs.update(headers or {})
        if body and method in ("PUT", "POST") and not any(
                k.lower() == "content-length" for k in hdrs):
            hdrs["Content-Length"] = str(len(body))
        if payload_hash is None:
            payload_hash = sha256_hex(body)
        return self.signer.sign(method, target, hdrs, payload_hash, when)

    def request(self, method, target, body=b"", headers=None, payload_hash=None, when=None,
                send_body=None):
        hdrs, _ = self.signed(method, target, body, headers, payload_hash, when)
        return send(self.port, method, target, hdrs, body if send_body is None else send_body)

    def put(self, key, body, **kw):
        return self.request("PUT", key_path(key), body, **kw)

    def get(self, key, **kw):
        return self.request("GET", key_path(key), **kw)

    def head(self, key, **kw):
        return self.request("HEAD", key_path(key), **kw)

    def delete(self, key, **kw):
        return self.request("DELETE", key_path(key), **kw)

    def list_v2(self, **params):
        """ListObjectsV2 with query parameters given by name (max_keys -> max-keys)."""
        q = {"list-type": "2"}
        q.update({k.replace("_", "-"): str(v) for k, v in params.items() if v is not None})
        query = "&".join(f"{uri_encode(k)}={uri_encode(v)}" for k, v in sorted(q.items()))
        return self.request("GET", f"/{BUCKET}?{query}")

    def list_v1(self, **params):
        q = {k.replace("_", "-"): str(v) for k, v in params.items() if v is not None}
        query = "&".join(f"{uri_encode(k)}={uri_encode(v)}" for k, v in sorted(q.items()))
        return self.request("GET", f"/{BUCKET}" + (f"?{query}" if query else ""))

    def list_keys(self, prefix=""):
        """Every key visible under `prefix`, following continuation tokens."""
        keys, token = [], None
        while True:
            a = self.list_v2(prefix=prefix, continuation_token=token)
            if a.status != 200:
                raise AssertionError(f"ListObjectsV2 failed: {a!r}")
            root = a.xml()
            keys += [c.findtext(f"{S3_NS}Key") for c in root.findall(f"{S3_NS}Contents")]
            if root.findtext(f"{S3_NS}IsTruncated") != "true":
                return keys
            token = root.findtext(f"{S3_NS}NextContinuationToken")


# --- The JSON API: keys and uploads ---------------------------------------------------------

def create_key(server, stores=None, all_stores=False):
    """Creates an access key; returns (access_key_id, secret_access_key)."""
    body = {"all_stores": True} if all_stores else {"stores": list(stores)}
    status, doc = server.request("POST", "/api/v1/keys", body)
    if status != 201:
        raise AssertionError(f"POST /api/v1/keys: {status} {doc}")
    return doc["access_key_id"], doc["secret_access_key"]


def revoke_key(server, key_id):
    status, doc = server.request("DELETE", f"/api/v1/keys/{urllib.parse.quote(key_id, safe='')}")
    if status not in (200, 204):
        raise AssertionError(f"DELETE /api/v1/keys/{key_id}: {status} {doc}")


def all_uploads(server):
    """Every upload (newest first)."""
    out, before = [], None
    while True:
        path = "/api/v1/uploads?limit=1000" + (f"&before={before}" if before else "")
        status, doc = server.get(path)
        if status != 200:
            raise AssertionError(f"GET {path}: {status} {doc}")
        out += doc["uploads"]
        before = doc.get("next_before")
        if not before:
            return out


def uploads_of(server, key):
    return [u for u in all_uploads(server) if u["name"] == key]


def wait_loaded_key(server, key, timeout=120):
    """Waits until the newest upload of object `key` is loaded; returns its report doc."""
    found = uploads_of(server, key)
    if not found:
        raise AssertionError(f"no upload recorded for object {key!r}")
    doc = server.wait_loaded(found[0]["id"], timeout=timeout)
    if doc["status"] != "loaded":
        raise AssertionError(f"upload of {key!r} was not loaded: {doc}")
    return doc


def inventory_map(server, store=None):
    return {(i["store"], i["item"]): i["count"] for i in server.inventory(store)}


# --- Real clients ---------------------------------------------------------------------------

def _clean_env():
    """The test's environment without anything that could steer an AWS client elsewhere
    (profiles, CA bundles, endpoints, credentials, checksum settings)."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("AWS_", "RCLONE_", "S3CMD")) and k != "BOTO_CONFIG"}


def aws_env(tmpdir, key_id, secret, checksum_when_required=False, sigv4_presign=True):
    """Environment for `aws` (awscli v1): credentials in the environment, a private config
    file with path-style addressing and 8 MiB multipart parts. awscli v1 presigns with
    Signature Version 2 unless the config says s3v4 (`sigv4_presign`)."""
    config = os.path.join(tmpdir, f"aws-config-{int(checksum_when_required)}"
                                  f"{int(sigv4_presign)}")
    with open(config, "w") as f:
        f.write("[default]\n")
        f.write(f"region = {REGION}\n")
        if checksum_when_required:
            f.write("request_checksum_calculation = when_required\n")
            f.write("response_checksum_validation = when_required\n")
        f.write("s3 =\n"
                + ("  signature_version = s3v4\n" if sigv4_presign else "") +
                "  addressing_style = path\n"
                "  multipart_threshold = 8MB\n"
                "  multipart_chunksize = 8MB\n")
    env = _clean_env()
    env.update({
        "AWS_ACCESS_KEY_ID": key_id,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": config,
        "AWS_SHARED_CREDENTIALS_FILE": os.path.join(tmpdir, "no-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PAGER": "",
    })
    return env


def s3cmd_args(port, key_id, secret):
    return [require_tool("s3cmd"), f"--access_key={key_id}", f"--secret_key={secret}",
            f"--host=127.0.0.1:{port}", f"--host-bucket=127.0.0.1:{port}", "--no-ssl",
            f"--region={REGION}", "-c", "/dev/null"]


def rclone_env(url, key_id, secret):
    env = _clean_env()  # rclone 1.60 fails when AWS_CA_BUNDLE is set
    env.update({
        "RCLONE_CONFIG_SW_TYPE": "s3",
        "RCLONE_CONFIG_SW_PROVIDER": "Other",
        "RCLONE_CONFIG_SW_ACCESS_KEY_ID": key_id,
        "RCLONE_CONFIG_SW_SECRET_ACCESS_KEY": secret,
        "RCLONE_CONFIG_SW_REGION": REGION,
        "RCLONE_CONFIG_SW_ENDPOINT": url,
        "RCLONE_CONFIG_SW_FORCE_PATH_STYLE": "true",
    })
    return env


def boto3_python():
    """An interpreter that can import boto3 (pyenv's python3 on PATH, else Debian's), or
    None."""
    candidates = []
    for c in (shutil.which("python3"), "/usr/bin/python3", shutil.which("python")):
        if c and c not in candidates:
            candidates.append(c)
    for c in candidates:
        try:
            ok = subprocess.run([c, "-c", "import boto3"], capture_output=True,
                                timeout=60).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        if ok:
            return c
    return None


def run_boto3(python, url, key_id, secret, ops):
    """Runs s3_boto3_client.py with `ops` (a list of operation dicts); returns
    (botocore version, results)."""
    env = _clean_env()
    env.update({"AWS_ACCESS_KEY_ID": key_id, "AWS_SECRET_ACCESS_KEY": secret,
                "AWS_DEFAULT_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull})
    proc = subprocess.run([python, os.path.join(HERE, "s3_boto3_client.py"), url],
                          input=json.dumps(ops), capture_output=True, text=True, env=env,
                          timeout=300)
    if proc.returncode != 0:
        raise AssertionError(f"s3_boto3_client.py exited {proc.returncode}:\n{proc.stdout}\n"
                             f"{proc.stderr[-4000:]}")
    doc = json.loads(proc.stdout)
    return doc["botocore_version"], doc["results"]


def node_sdk_ready():
    """Fails with the setup step when node or the npm packages of tests/integration are
    missing."""
    require_tool("node", "install Node.js 20+ (Debian: apt-get install nodejs npm)")
    version = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout
    major = int(version.strip().lstrip("v").split(".")[0] or 0)
    if major < 20:
        # Debian 12's nodejs is 18; the current AWS SDK for JavaScript refuses to run on it.
        raise unittest.SkipTest(f"node {version.strip()} is too old for @aws-sdk/client-s3 "
                                "(needs 20+)")
    if not os.path.isdir(os.path.join(HERE, "node_modules", "@aws-sdk", "client-s3")):
        raise AssertionError("@aws-sdk/client-s3 is not installed: run "
                             "`npm ci --prefix tests/integration` (scripts/test.sh does it)")
