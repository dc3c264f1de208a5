"""The S3 API of `stockwatch serve` (--s3-listen) with real S3 clients and raw signed requests.

- Real clients: awscli (default checksums and request_checksum_calculation=when_required,
  single PUT and 8 MiB multipart), s3cmd, rclone, boto3 and the JavaScript SDK v3 (a stream
  body: aws-chunked with a CRC32 trailer over plain http). Every object reads back byte for
  byte and every file's rows reach the inventory.
- Raw requests signed by the independent signer in s3_support.py: what no client sends on
  purpose (a bad secret, an expired or skewed signature, a tampered body or chunk, a bad
  trailer checksum, a traversal-shaped key, a replay) is refused with the S3 error code, and
  nothing is stored or loaded.
- Scoped keys, virtual-hosted addressing, ListObjects paging, the object size limit and the
  `stockwatch keys` CLI.
One server per class, temp dirs, port 0.
"""

import contextlib
import datetime
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import threading
import unittest
import urllib.error
import urllib.parse
import urllib.request

import s3_support as s3
from harness import SAMPLES, TOKEN, Server, read_csv_rows, wait_for
from s3_support import BUCKET, S3_NS, RawS3, csv_bytes, key_path, sha256_hex

MiB = 1024 * 1024


def sample(store):
    path = os.path.join(SAMPLES, f"inventory-{store}.csv")
    if not os.path.exists(path):
        raise AssertionError(f"sample file {path} is missing (SW_SAMPLES={SAMPLES})")
    return path


def read(path):
    with open(path, "rb") as f:
        return f.read()


def md5_hex(data):
    return hashlib.md5(data).hexdigest()


def _drain(stream, path):
    with open(path, "a") as out:
        try:
            for line in stream:
                out.write(line)
                out.flush()
        except (OSError, ValueError):
            pass


class S3TestCase(unittest.TestCase):
    """A server per class, an all-stores access key and helpers."""

    server_env = {}

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="sw-s3-test-")
        env = {"STOCKWATCH_LOG_LEVEL": "debug"}
        env.update(cls.server_env)
        cls.server = Server(env=env).start()
        # The server logs to stdout; the harness stops reading it after the "listening"
        # lines, so keep draining it (a full pipe would stall the server) into a file.
        cls.stdout_log = cls.server.log_path + ".stdout"
        cls.drain = threading.Thread(target=_drain, args=(cls.server.proc.stdout,
                                                          cls.stdout_log), daemon=True)
        cls.drain.start()
        cls.admin_id, cls.admin_secret = s3.create_key(cls.server, all_stores=True)
        cls.raw = RawS3(cls.server.s3_port, cls.admin_id, cls.admin_secret)

    @classmethod
    def tearDownClass(cls):
        cls.server.stop()
        cls.drain.join(10)
        shutil.rmtree(cls.server.data_dir, ignore_errors=True)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def server_log_tail(self, size=3000):
        with open(self.stdout_log, errors="replace") as f:
            return (f.read() + self.server.logs())[-size:]

    # --- assertions -------------------------------------------------------------------------

    def assertS3Error(self, answer, status, code, message_pattern=None):
        detail = f"{answer!r}\nserver log tail:\n{self.server_log_tail()}"
        self.assertEqual(answer.status, status, detail)
        self.assertEqual(answer.code, code, detail)
        self.assertTrue(answer.request_id, f"no RequestId in the error document: {detail}")
        if message_pattern:
            self.assertRegex(answer.message or "", message_pattern, detail)

    def assertOk(self, answer, status=200):
        self.assertEqual(answer.status, status,
                         f"{answer!r}\nserver log tail:\n{self.server_log_tail()}")

    def quiesce(self):
        """Waits until no upload is pending, so the inventory stands still."""
        wait_for(lambda: all(u["status"] != "pending" for u in s3.all_uploads(self.server)),
                 timeout=120, interval=0.05, what="every upload loaded")

    @contextlib.contextmanager
    def assertNothingStored(self):
        """The block must leave the uploads, the objects and the inventory as they were."""
        self.quiesce()
        uploads = [u["id"] for u in s3.all_uploads(self.server)]
        keys = self.raw.list_keys()
        inventory = s3.inventory_map(self.server)
        yield
        self.quiesce()
        self.assertEqual([u["id"] for u in s3.all_uploads(self.server)], uploads,
                         "an upload was recorded")
        self.assertEqual(self.raw.list_keys(), keys, "an object was stored")
        self.assertEqual(s3.inventory_map(self.server), inventory, "the inventory changed")

    def assertRowsLoaded(self, path_or_rows, key):
        """The object `key` was uploaded once, loaded, and its rows are in the inventory."""
        found = s3.uploads_of(self.server, key)
        self.assertEqual(len(found), 1, f"uploads of {key!r}: {found}")
        report = s3.wait_loaded_key(self.server, key)
        expected = (read_csv_rows(path_or_rows) if isinstance(path_or_rows, str)
                    else path_or_rows)
        self.assertEqual(report["report"]["rows_loaded"] + report["report"]["rows_unchanged"],
                         len(expected), report)
        got = {}
        for store in {s for s, _ in expected}:
            got.update(s3.inventory_map(self.server, store))
        for row, count in expected.items():
            self.assertEqual(got.get(row), count, f"inventory row {row} after {key}")
        return report

    def assertStoredBytes(self, key, data):
        got = self.raw.get(key)
        self.assertOk(got)
        self.assertEqual(sha256_hex(got.body), sha256_hex(data), f"content of {key}")

    def run_tool(self, args, env=None, check=True, timeout=300, text=True):
        proc = subprocess.run(args, env=env, capture_output=True, text=text, timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"{' '.join(args[:3])}... exited {proc.returncode}\nstdout:\n"
                f"{str(proc.stdout)[-3000:]}\nstderr:\n{str(proc.stderr)[-5000:]}\n"
                f"server log tail:\n{self.server_log_tail()}")
        return proc


# =================================================================================================
class S3ClientsTest(S3TestCase):
    """Real clients upload, list, read and delete; the samples reach the inventory."""

    # --- awscli -----------------------------------------------------------------------------

    def aws(self, env, *args, check=True):
        aws = s3.require_tool("aws", "awscli is preinstalled (pyenv); else scripts/setup.sh "
                                     "installs Debian's")
        return self.run_tool([aws, "--endpoint-url", self.server.s3_url, *args], env=env,
                             check=check)

    def awscli_round_trip(self, variant, when_required, store_sample):
        env = s3.aws_env(self.tmp, self.admin_id, self.admin_secret,
                         checksum_when_required=when_required)
        prefix = f"awscli-{variant}/"
        small = sample(store_sample)
        small_key = prefix + os.path.basename(small)
        big = os.path.join(self.tmp, f"bulk-{variant}.csv")
        big_store = f"Bulk-{variant}"
        big_rows, big_samples = s3.generate_inventory_csv(big, 40 * 1000 * 1000, big_store)
        big_key = prefix + "bulk.csv"

        # A single PutObject; --debug shows the headers awscli sent.
        proc = self.aws(env, "s3", "cp", small, f"s3://{BUCKET}/{small_key}", "--debug")
        put_lines = [l for l in proc.stderr.splitlines()
                     if "Sending http request" in l and "method=PUT" in l]
        self.assertEqual(len(put_lines), 1, proc.stderr[-3000:])
        if when_required:
            self.assertNotIn("x-amz-checksum-crc32", put_lines[0].lower())
        else:
            self.assertIn("x-amz-checksum-crc32", put_lines[0].lower())

        # Above 8 MiB: CreateMultipartUpload, 8 MiB UploadParts, CompleteMultipartUpload.
        self.aws(env, "s3", "cp", big, f"s3://{BUCKET}/{big_key}")

        listing = self.aws(env, "s3", "ls", f"s3://{BUCKET}/{prefix}").stdout
        small_name = re.escape(os.path.basename(small))
        self.assertRegex(listing, rf"\s{os.path.getsize(small)} {small_name}\n")
        self.assertRegex(listing, rf"\s{os.path.getsize(big)} bulk\.csv\n")

        head = json.loads(self.aws(env, "s3api", "head-object", "--bucket", BUCKET,
                                   "--key", big_key).stdout)
        expected_etag = s3.multipart_etag(big, 8 * MiB)
        self.assertRegex(expected_etag, r"^[0-9a-f]{32}-5$")
        self.assertEqual(head["ETag"].strip('"'), expected_etag)
        self.assertEqual(head["ContentLength"], os.path.getsize(big))
        head = json.loads(self.aws(env, "s3api", "head-object", "--bucket", BUCKET,
                                   "--key", small_key).stdout)
        self.assertEqual(head["ETag"].strip('"'), md5_hex(read(small)))

        # Read back: get-object (one GET) and s3 cp (HEAD + ranged GETs for the big one).
        out = os.path.join(self.tmp, f"get-{variant}.csv")
        got = json.loads(self.aws(env, "s3api", "get-object", "--bucket", BUCKET, "--key",
                                  small_key, out).stdout)
        self.assertEqual(s3.file_sha256(out), s3.file_sha256(small))
        self.assertEqual(got["ContentLength"], os.path.getsize(small))
        out_big = os.path.join(self.tmp, f"get-bulk-{variant}.csv")
        self.aws(env, "s3", "cp", f"s3://{BUCKET}/{big_key}", out_big)
        self.assertEqual(s3.file_sha256(out_big), s3.file_sha256(big))
        os.remove(out_big)

        # A presigned URL works for anyone with it.
        url = self.aws(env, "s3", "presign", f"s3://{BUCKET}/{small_key}",
                       "--expires-in", "300").stdout.strip()
        self.assertTrue(url.startswith(self.server.s3_url + "/"), url)
        self.assertIn("X-Amz-Signature=", url)
        with urllib.request.urlopen(url, timeout=30) as resp:
            self.assertEqual(resp.read(), read(small))
        # awscli v1's default presigned URL is Signature Version 2: refused with a hint, not
        # served.
        v2_env = s3.aws_env(self.tmp, self.admin_id, self.admin_secret,
                            checksum_when_required=when_required, sigv4_presign=False)
        url = self.aws(v2_env, "s3", "presign", f"s3://{BUCKET}/{small_key}").stdout.strip()
        self.assertIn("AWSAccessKeyId=", url)
        with self.assertRaises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(url, timeout=30)
        answer = s3.Answer(caught.exception.code, {}, caught.exception.read())
        self.assertS3Error(answer, 400, "InvalidRequest")
        self.assertIn(b"signature_version s3v4", answer.body)

        # Both files are loaded: the sample's rows, and every row of the big one.
        self.assertRowsLoaded(small, small_key)
        self.assertEqual(len(s3.uploads_of(self.server, big_key)), 1)
        report = s3.wait_loaded_key(self.server, big_key, timeout=240)
        self.assertEqual(report["report"]["rows_loaded"], big_rows, report)
        status, stores = self.server.get("/api/v1/stores")
        self.assertEqual(status, 200, stores)
        by_name = {s["store"]: s for s in stores["stores"]}
        self.assertEqual(by_name[big_store]["items"], big_rows)
        for (store, item), count in big_samples.items():
            status, doc = self.server.get(f"/api/v1/inventory/{urllib.parse.quote(store)}/"
                                          f"{urllib.parse.quote(item)}")
            self.assertEqual(status, 200, doc)
            self.assertEqual(doc["count"], count)

        # delete-object: gone from the bucket (HEAD 404, not listed).
        self.aws(env, "s3api", "delete-object", "--bucket", BUCKET, "--key", big_key)
        proc = self.aws(env, "s3api", "head-object", "--bucket", BUCKET, "--key", big_key,
                        check=False)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("404", proc.stderr)
        listing = self.aws(env, "s3", "ls", f"s3://{BUCKET}/{prefix}").stdout
        self.assertNotIn("bulk.csv", listing)
        self.assertIn(os.path.basename(small), listing)
        os.remove(big)

    def test_awscli_with_default_checksums(self):
        self.awscli_round_trip("default", when_required=False, store_sample="berlin")

    def test_awscli_with_checksums_when_required(self):
        self.awscli_round_trip("when-required", when_required=True, store_sample="calcutta")

    # --- s3cmd ------------------------------------------------------------------------------

    def test_s3cmd_put_ls_get_del(self):
        args = s3.s3cmd_args(self.server.s3_port, self.admin_id, self.admin_secret)
        small = sample("karachi")
        small_url = f"s3://{BUCKET}/s3cmd/{os.path.basename(small)}"
        # Above 15 MiB s3cmd uploads in 15 MiB parts.
        big = os.path.join(self.tmp, "s3cmd-bulk.csv")
        big_rows, _ = s3.generate_inventory_csv(big, 17 * MiB, "Bulk-s3cmd")
        big_url = f"s3://{BUCKET}/s3cmd/bulk.csv"
        env = s3._clean_env()

        self.run_tool(args + ["put", small, small_url], env=env)
        self.run_tool(args + ["put", big, big_url], env=env)
        listing = self.run_tool(args + ["ls", f"s3://{BUCKET}/s3cmd/"], env=env).stdout
        self.assertIn(small_url, listing)
        self.assertIn(big_url, listing)

        out = os.path.join(self.tmp, "s3cmd-get.csv")
        self.run_tool(args + ["get", "--force", small_url, out], env=env)
        self.assertEqual(s3.file_sha256(out), s3.file_sha256(small))
        self.run_tool(args + ["get", "--force", big_url, out], env=env)
        self.assertEqual(s3.file_sha256(out), s3.file_sha256(big))
        head = self.raw.head("s3cmd/bulk.csv")
        self.assertOk(head)
        self.assertEqual(head.etag, s3.multipart_etag(big, 15 * MiB))

        self.assertRowsLoaded(small, "s3cmd/" + os.path.basename(small))
        report = s3.wait_loaded_key(self.server, "s3cmd/bulk.csv", timeout=240)
        self.assertEqual(report["report"]["rows_loaded"], big_rows)

        self.run_tool(args + ["del", small_url], env=env)
        self.run_tool(args + ["del", big_url], env=env)
        listing = self.run_tool(args + ["ls", f"s3://{BUCKET}/s3cmd/"], env=env).stdout
        self.assertNotIn(small_url, listing)
        self.assertS3Error(self.raw.get("s3cmd/" + os.path.basename(small)), 404, "NoSuchKey")
        os.remove(big)

    # --- rclone -----------------------------------------------------------------------------

    def test_rclone_copy_lsf_cat(self):
        rclone = s3.require_tool("rclone")
        env = s3.rclone_env(self.server.s3_url, self.admin_id, self.admin_secret)
        small = sample("pusan")
        base = [rclone, "--config", "/dev/null", "--retries", "1", "--low-level-retries", "1"]
        self.run_tool(base + ["copy", small, f"sw:{BUCKET}/rclone/"], env=env)
        listing = self.run_tool(base + ["lsf", f"sw:{BUCKET}/rclone"], env=env).stdout
        self.assertEqual(listing.split(), [os.path.basename(small)])
        cat = self.run_tool(base + ["cat", f"sw:{BUCKET}/rclone/{os.path.basename(small)}"],
                            env=env, text=False).stdout
        self.assertEqual(cat, read(small))
        self.assertRowsLoaded(small, "rclone/" + os.path.basename(small))
        # Copying the same file again is a no-op for rclone (same size and MD5).
        self.run_tool(base + ["copy", small, f"sw:{BUCKET}/rclone/"], env=env)
        self.assertEqual(len(s3.uploads_of(self.server, "rclone/" + os.path.basename(small))),
                         1)

    # --- boto3 ------------------------------------------------------------------------------

    def test_boto3_upload_file_and_put_object(self):
        python = s3.boto3_python()
        if not python:
            self.skipTest("boto3 is importable by neither the python3 on PATH nor "
                          "/usr/bin/python3 (scripts/setup.sh installs python3-boto3)")
        shanghai, springfield = sample("shanghai"), sample("springfield")
        k1, k2 = "boto3/inventory-shanghai.csv", "boto3/inventory-springfield.csv"
        version, results = s3.run_boto3(python, self.server.s3_url, self.admin_id,
                                        self.admin_secret, [
                                            {"op": "upload_file", "path": shanghai, "key": k1},
                                            {"op": "put_object", "path": springfield, "key": k2},
                                            {"op": "get_sha256", "key": k1},
                                            {"op": "get_sha256", "key": k2},
                                        ])
        for r in results:
            self.assertNotIn("error", r, f"{results}\n{self.server_log_tail()}")
        uploaded, put, got1, got2 = results
        self.assertEqual(uploaded["etag"], md5_hex(read(shanghai)))
        self.assertEqual(put["etag"], md5_hex(read(springfield)))
        self.assertEqual(got1["sha256"], s3.file_sha256(shanghai))
        self.assertEqual(got2["sha256"], s3.file_sha256(springfield))
        if tuple(int(x) for x in version.split(".")[:2]) >= (1, 36):
            # botocore >= 1.36 sends a CRC32 by default; the server answers it back.
            self.assertIn("x-amz-checksum-crc32", put["sent"][0]["headers"])
            self.assertEqual(put["checksum_crc32"], s3.crc32_b64(read(springfield)))
        self.assertRowsLoaded(shanghai, k1)
        self.assertRowsLoaded(springfield, k2)

    # --- JavaScript SDK v3 ------------------------------------------------------------------

    def test_js_sdk_stream_body_is_aws_chunked_with_crc32_trailer(self):
        s3.node_sdk_ready()
        small = sample("berlin")
        medium = os.path.join(self.tmp, "js-stream.csv")
        medium_rows, _ = s3.generate_inventory_csv(medium, 1 * MiB, "JsStream")
        env = s3._clean_env()
        env.update({"AWS_ACCESS_KEY_ID": self.admin_id,
                    "AWS_SECRET_ACCESS_KEY": self.admin_secret})
        proc = self.run_tool(["node", os.path.join(s3.HERE, "s3_js_put.mjs"), self.server.s3_url,
                              f"js/{os.path.basename(small)}={small}",
                              f"js/stream.csv={medium}"], env=env)
        results = json.loads(proc.stdout)
        self.assertEqual(len(results), 2)
        for result, path in zip(results, (small, medium)):
            data = read(path)
            sent = {k.lower(): v for k, v in result["sent"]["headers"].items()}
            self.assertEqual(sent.get("content-encoding"), "aws-chunked", sent)
            self.assertEqual(sent.get("x-amz-content-sha256"), s3.STREAMING_UNSIGNED_TRAILER)
            self.assertEqual(sent.get("x-amz-trailer"), "x-amz-checksum-crc32")
            self.assertEqual(sent.get("x-amz-decoded-content-length"), str(len(data)))
            self.assertEqual(result["put"]["etag"].strip('"'), md5_hex(data))
            self.assertEqual(result["put"]["checksumCRC32"], s3.crc32_b64(data))
            self.assertEqual(result["head"]["size"], len(data))
            self.assertEqual(result["head"]["contentType"], "text/csv")
            self.assertEqual(result["getSha256"], sha256_hex(data))
        self.assertRowsLoaded(small, f"js/{os.path.basename(small)}")
        report = s3.wait_loaded_key(self.server, "js/stream.csv")
        self.assertEqual(report["report"]["rows_loaded"], medium_rows)


# =================================================================================================
class S3RequestTest(S3TestCase):
    """Raw signed requests: authentication, payload integrity, keys, scopes, replays."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.berlin_id, cls.berlin_secret = s3.create_key(cls.server, stores=["Berlin"])
        cls.paris_id, cls.paris_secret = s3.create_key(cls.server, stores=["Paris"])
        cls.berlin = RawS3(cls.server.s3_port, cls.berlin_id, cls.berlin_secret)
        cls.paris = RawS3(cls.server.s3_port, cls.paris_id, cls.paris_secret)

    def body(self, store="Springfield", n=3, tag="x"):
        return csv_bytes([(store, f"Raw {tag} {i}", i + 1) for i in range(n)])

    def rows(self, body):
        path = os.path.join(self.tmp, "rows.csv")
        with open(path, "wb") as f:
            f.write(body)
        return read_csv_rows(path)

    # --- the signer itself ------------------------------------------------------------------

    def test_hand_signed_put_get_head_delete(self):
        body = self.body(tag="plain")
        put = self.raw.put("raw/plain.csv", body, headers={"Content-Type": "text/csv"})
        self.assertOk(put)
        self.assertEqual(put.etag, md5_hex(body))
        self.assertStoredBytes("raw/plain.csv", body)
        head = self.raw.head("raw/plain.csv")
        self.assertOk(head)
        self.assertEqual(head.headers.get("content-length"), str(len(body)))
        self.assertEqual(head.headers.get("content-type"), "text/csv")
        ranged = self.raw.get("raw/plain.csv", headers={"Range": "bytes=0-4"})
        self.assertEqual((ranged.status, ranged.body), (206, body[:5]))
        self.assertRowsLoaded(self.rows(body), "raw/plain.csv")
        self.assertOk(self.raw.delete("raw/plain.csv"), 204)
        missing = self.raw.get("raw/plain.csv")
        self.assertS3Error(missing, 404, "NoSuchKey")
        self.assertEqual(missing.headers.get("x-amz-request-id"), missing.request_id)

    # --- authentication ---------------------------------------------------------------------

    def test_wrong_secret_is_signature_does_not_match(self):
        wrong = RawS3(self.server.s3_port, self.admin_id, self.admin_secret[:-1] + (
            "A" if self.admin_secret[-1] != "A" else "B"))
        with self.assertNothingStored():
            self.assertS3Error(wrong.put("auth/wrong-secret.csv", self.body()), 403,
                               "SignatureDoesNotMatch")
            self.assertS3Error(wrong.list_v2(), 403, "SignatureDoesNotMatch")

    def test_unknown_key_is_invalid_access_key_id(self):
        unknown = RawS3(self.server.s3_port, "AKSWUNKNOWN000000000", self.admin_secret)
        with self.assertNothingStored():
            self.assertS3Error(unknown.put("auth/unknown.csv", self.body()), 403,
                               "InvalidAccessKeyId")

    def test_revoked_key_is_invalid_access_key_id(self):
        key_id, secret = s3.create_key(self.server, stores=["Springfield"])
        raw = RawS3(self.server.s3_port, key_id, secret)
        before = self.body(tag="before-revoke")
        self.assertOk(raw.put("auth/before-revoke.csv", before))
        self.assertRowsLoaded(self.rows(before), "auth/before-revoke.csv")
        s3.revoke_key(self.server, key_id)
        with self.assertNothingStored():
            self.assertS3Error(raw.put("auth/after-revoke.csv", self.body(tag="after")), 403,
                               "InvalidAccessKeyId")
            self.assertS3Error(raw.get("auth/before-revoke.csv"), 403, "InvalidAccessKeyId")

    def test_expired_presigned_urls_are_access_denied(self):
        body = self.body(tag="presign")
        self.assertOk(self.raw.put("auth/presign.csv", body))
        self.assertRowsLoaded(self.rows(body), "auth/presign.csv")
        host = f"127.0.0.1:{self.server.s3_port}"
        signer = self.raw.signer
        # A fresh one works (checks the presigner), an expired one does not.
        fresh = signer.presign("GET", key_path("auth/presign.csv"), host, 60)
        self.assertEqual(s3.send(self.server.s3_port, "GET", fresh, {"Host": host}).body, body)
        past = s3.utcnow() - datetime.timedelta(hours=2)
        expired = signer.presign("GET", key_path("auth/presign.csv"), host, 60, when=past)
        self.assertS3Error(s3.send(self.server.s3_port, "GET", expired, {"Host": host}), 403,
                           "AccessDenied", "Request has expired")
        with self.assertNothingStored():
            put = signer.presign("PUT", key_path("auth/presign-put.csv"), host, 60, when=past)
            self.assertS3Error(s3.send(self.server.s3_port, "PUT", put, {"Host": host},
                                       self.body(tag="late")), 403, "AccessDenied",
                               "Request has expired")

        # The same with botocore's presigner, signing an hour ago for 60 s.
        python = s3.boto3_python()
        if python:
            _, (old, new) = s3.run_boto3(python, self.server.s3_url, self.admin_id,
                                         self.admin_secret, [
                                             {"op": "presign", "key": "auth/presign.csv",
                                              "expires": 60, "signed_seconds_ago": 3600},
                                             {"op": "presign", "key": "auth/presign.csv",
                                              "expires": 60}])
            with self.assertRaises(urllib.error.HTTPError) as caught:
                urllib.request.urlopen(old["url"], timeout=30)
            answer = s3.Answer(caught.exception.code, {}, caught.exception.read())
            self.assertS3Error(answer, 403, "AccessDenied", "Request has expired")
            with urllib.request.urlopen(new["url"], timeout=30) as resp:
                self.assertEqual(resp.read(), body)

    def test_clock_skew_over_15_minutes_is_refused(self):
        now = s3.utcnow()
        with self.assertNothingStored():
            for offset in (-901, 901):
                when = now + datetime.timedelta(seconds=offset)
                self.assertS3Error(
                    self.raw.put(f"skew/refused{offset}.csv", self.body(tag=f"skew{offset}"),
                                 when=when), 403, "RequestTimeTooSkewed")
        for offset in (-899, 899):
            body = self.body(tag=f"skew{offset}")
            when = s3.utcnow() + datetime.timedelta(seconds=offset)
            self.assertOk(self.raw.put(f"skew/accepted{offset}.csv", body, when=when))
            self.assertRowsLoaded(self.rows(body), f"skew/accepted{offset}.csv")

    # --- payload integrity ------------------------------------------------------------------

    def test_tampered_body_is_content_sha256_mismatch(self):
        body = self.body(tag="tamper", n=5)
        tampered = body.replace(b",5\n", b",6\n")
        self.assertEqual(len(tampered), len(body))
        self.assertNotEqual(tampered, body)
        with self.assertNothingStored():
            answer = self.raw.request("PUT", key_path("integrity/tampered.csv"), body,
                                      send_body=tampered)
            self.assertS3Error(answer, 400, "XAmzContentSHA256Mismatch")

    def streaming_signed_put(self, key, data, chunk_size, tamper=None):
        """PUT with STREAMING-AWS4-HMAC-SHA256-PAYLOAD; `tamper(chunks)` may spoil the
        encoded chunks after signing."""
        when = s3.utcnow()
        encoded_len = len(s3.encode_signed_chunks(
            self.raw.signer.streaming_signed_body(data, "0" * 64, when, chunk_size)))
        headers, seed = self.raw.signed(
            "PUT", key_path(key), headers={
                "Content-Encoding": "aws-chunked",
                "Content-Length": str(encoded_len),
                "x-amz-decoded-content-length": str(len(data)),
            }, payload_hash=s3.STREAMING_SIGNED, when=when)
        chunks = self.raw.signer.streaming_signed_body(data, seed, when, chunk_size)
        if tamper:
            chunks = tamper(chunks)
        encoded = s3.encode_signed_chunks(chunks)
        self.assertEqual(len(encoded), encoded_len)
        return s3.send(self.server.s3_port, "PUT", key_path(key), headers, encoded)

    def test_streaming_signed_payload_and_tampered_chunks(self):
        data = csv_bytes([("Springfield", f"Chunked item {i:05d}", i % 97) for i in range(6000)])
        self.assertGreater(len(data), 3 * 65536)
        good = self.streaming_signed_put("integrity/chunked.csv", data, 65536)
        self.assertOk(good)
        self.assertEqual(good.etag, md5_hex(data))
        self.assertStoredBytes("integrity/chunked.csv", data)
        self.assertRowsLoaded(self.rows(data), "integrity/chunked.csv")

        def flip_data_digit(chunks):
            # One digit of the second chunk's data changes: still a valid CSV, bad signature.
            line, piece = chunks[1]
            i = next(i for i in range(len(piece)) if piece[i:i + 1].isdigit())
            digit = b"1" if piece[i:i + 1] != b"1" else b"2"
            chunks[1] = (line, piece[:i] + digit + piece[i + 1:])
            return chunks

        def flip_signature(chunks):
            line, piece = chunks[2]
            sig_at = line.index(b"chunk-signature=") + len(b"chunk-signature=")
            c = b"0" if line[sig_at:sig_at + 1] != b"0" else b"1"
            chunks[2] = (line[:sig_at] + c + line[sig_at + 1:], piece)
            return chunks

        with self.assertNothingStored():
            for name, tamper in (("data", flip_data_digit), ("signature", flip_signature)):
                answer = self.streaming_signed_put(f"integrity/chunked-bad-{name}.csv", data,
                                                   65536, tamper)
                self.assertS3Error(answer, 403, "SignatureDoesNotMatch")

    def unsigned_trailer_put(self, key, data, crc, chunked_transfer):
        encoded = s3.unsigned_trailer_body(data, 8192, [("x-amz-checksum-crc32", crc)])
        headers = {"Content-Encoding": "aws-chunked",
                   "x-amz-decoded-content-length": str(len(data)),
                   "x-amz-trailer": "x-amz-checksum-crc32",
                   "x-amz-sdk-checksum-algorithm": "CRC32"}
        if not chunked_transfer:
            headers["Content-Length"] = str(len(encoded))
        hdrs, _ = self.raw.signed("PUT", key_path(key), headers=headers,
                                  payload_hash=s3.STREAMING_UNSIGNED_TRAILER)
        body = [encoded[i:i + 10000] for i in range(0, len(encoded), 10000)] \
            if chunked_transfer else encoded
        return s3.send(self.server.s3_port, "PUT", key_path(key), hdrs, body)

    def test_unsigned_payload_trailer_checksum(self):
        data = csv_bytes([("Springfield", f"Trailer item {i:05d}", i % 13) for i in range(2000)])
        # As the JS SDK sends it (Content-Length of the encoded body) and as awscli does over
        # https (Transfer-Encoding: chunked, no Content-Length).
        for chunked in (False, True):
            key = f"integrity/trailer-{'te' if chunked else 'cl'}.csv"
            good = self.unsigned_trailer_put(key, data, s3.crc32_b64(data), chunked)
            self.assertOk(good)
            self.assertEqual(good.headers.get("x-amz-checksum-crc32"), s3.crc32_b64(data))
            self.assertStoredBytes(key, data)
            self.assertRowsLoaded(self.rows(data), key)
        wrong = s3.crc32_b64(data + b"x")
        with self.assertNothingStored():
            for chunked in (False, True):
                answer = self.unsigned_trailer_put("integrity/trailer-bad.csv", data, wrong,
                                                   chunked)
                self.assertS3Error(answer, 400, "BadDigest")

    # --- content rules ----------------------------------------------------------------------

    def test_scoped_key_uploading_another_store_is_denied_naming_the_line(self):
        body = csv_bytes([("Berlin", "Scope Widget", 4), ("Paris", "Scope Widget", 5)])
        with self.assertNothingStored():
            answer = self.berlin.put("scope/mixed.csv", body)
            self.assertS3Error(answer, 403, "AccessDenied", r"mixed\.csv:3\b.*Paris")

    def test_file_rejected_as_a_whole_is_invalid_argument_with_positions(self):
        with self.assertNothingStored():
            answer = self.raw.put("content/bad-header.csv", b"shop,item,count\nBerlin,X,1\n")
            self.assertS3Error(answer, 400, "InvalidArgument", r"bad-header\.csv:\d+:\d+:")
            answer = self.raw.put("content/no-rows.csv", b"store,item,count\n")
            self.assertS3Error(answer, 400, "InvalidArgument", r"no-rows\.csv")

    def test_traversal_shaped_keys_are_invalid_argument(self):
        body = self.body(tag="traversal")
        targets = [
            f"/{BUCKET}/../x.csv",
            f"/{BUCKET}/a/../../x.csv",
            f"/{BUCKET}/%2e%2e/x.csv",
            f"/{BUCKET}/%2E%2E/x.csv",
            f"/{BUCKET}/./x.csv",
            f"/{BUCKET}//abs.csv",
            f"/{BUCKET}/%2Fabs.csv",
            f"/{BUCKET}/a\\b.csv",
            f"/{BUCKET}/a%5Cb.csv",
            f"/{BUCKET}/a%00b.csv",
            f"/{BUCKET}/a%0Ab.csv",
            f"/{BUCKET}/a%7Fb.csv",
        ]
        vhost = RawS3(self.server.s3_port, self.admin_id, self.admin_secret,
                      host=f"{BUCKET}.localhost:{self.server.s3_port}")
        with self.assertNothingStored():
            for target in targets:
                with self.subTest(target=target):
                    self.assertS3Error(self.raw.request("PUT", target, body), 400,
                                       "InvalidArgument")
            for target in ("/../x.csv", "/%2e%2e/x.csv", "//abs.csv"):
                with self.subTest(target=target, style="virtual-hosted"):
                    self.assertS3Error(vhost.request("PUT", target, body), 400,
                                       "InvalidArgument")

    # --- scopes -----------------------------------------------------------------------------

    def test_scoped_keys_see_only_objects_of_their_stores(self):
        paris_body = csv_bytes([("Paris", "Scope Lamp", 3), ("Paris", "Scope Chair", 0)])
        berlin_body = csv_bytes([("Berlin", "Scope Lamp", 7)])
        self.assertOk(self.paris.put("scoped/paris.csv", paris_body))
        self.assertOk(self.berlin.put("scoped/berlin.csv", berlin_body))
        self.assertRowsLoaded(self.rows(paris_body), "scoped/paris.csv")
        self.assertRowsLoaded(self.rows(berlin_body), "scoped/berlin.csv")

        self.assertEqual(self.berlin.list_keys("scoped/"), ["scoped/berlin.csv"])
        self.assertEqual(self.paris.list_keys("scoped/"), ["scoped/paris.csv"])
        self.assertEqual(self.raw.list_keys("scoped/"), ["scoped/berlin.csv", "scoped/paris.csv"])
        self.assertS3Error(self.berlin.get("scoped/paris.csv"), 403, "AccessDenied")
        self.assertEqual(self.berlin.head("scoped/paris.csv").status, 403)
        self.assertS3Error(self.berlin.delete("scoped/paris.csv"), 403, "AccessDenied")
        self.assertS3Error(self.paris.get("scoped/berlin.csv"), 403, "AccessDenied")
        self.assertStoredBytes("scoped/paris.csv", paris_body)  # the all-stores key
        self.assertStoredBytes("scoped/berlin.csv", berlin_body)
        got = self.berlin.get("scoped/berlin.csv")
        self.assertEqual((got.status, got.body), (200, berlin_body))
        self.assertEqual(self.raw.list_keys("scoped/"), ["scoped/berlin.csv", "scoped/paris.csv"])

    # --- replays and addressing -------------------------------------------------------------

    def test_replayed_signed_put_is_answered_alike_and_stored_once(self):
        body = self.body(tag="replay")
        target = key_path("replay/once.csv")
        headers, _ = self.raw.signed("PUT", target, body)
        count = len(s3.all_uploads(self.server))
        first = s3.send(self.server.s3_port, "PUT", target, headers, body)
        second = s3.send(self.server.s3_port, "PUT", target, headers, body)
        self.assertOk(first)
        self.assertOk(second)
        self.assertEqual(first.etag, md5_hex(body))
        self.assertEqual(second.etag, first.etag)
        self.assertEqual(len(s3.all_uploads(self.server)), count + 1)
        self.assertRowsLoaded(self.rows(body), "replay/once.csv")

    def test_virtual_hosted_style(self):
        host = f"{BUCKET}.localhost:{self.server.s3_port}"
        vhost = RawS3(self.server.s3_port, self.admin_id, self.admin_secret, host=host)
        body = self.body(tag="vhost")
        self.assertOk(vhost.request("PUT", "/vhost/file.csv", body))
        got = vhost.request("GET", "/vhost/file.csv")
        self.assertEqual((got.status, got.body), (200, body))
        listing = vhost.request("GET", "/?list-type=2&prefix=vhost%2F")
        self.assertOk(listing)
        self.assertEqual([c.findtext(f"{S3_NS}Key")
                          for c in listing.xml().findall(f"{S3_NS}Contents")],
                         ["vhost/file.csv"])
        self.assertStoredBytes("vhost/file.csv", body)  # the same object, path style
        self.assertRowsLoaded(self.rows(body), "vhost/file.csv")


# =================================================================================================
def expected_listing(keys, prefix, delimiter):
    """What S3 lists: keys and common prefixes in bytewise key order."""
    out, seen = [], set()
    for key in sorted(keys, key=lambda k: k.encode()):
        if not key.startswith(prefix):
            continue
        rest = key[len(prefix):]
        if delimiter and delimiter in rest:
            common = prefix + rest[:rest.index(delimiter) + len(delimiter)]
            if common not in seen:
                seen.add(common)
                out.append(common)
        else:
            out.append(key)
    return out


class S3ListTest(S3TestCase):
    KEYS = [
        "a.csv", "b/1.csv", "b/2.csv", "b/3.csv", "b/c/1.csv", "b/c/2.csv", "b/d/1.csv",
        "c.csv", "d/1.csv", "d/2.csv", "e/x/1.csv", "e/y/1.csv", "e/y/2.csv", "f.csv",
        "g/1.csv", "g/2.csv", "g/3.csv", "g/4.csv", "g/5.csv", "j-1.csv", "j-2.csv", "j/1.csv",
        "k.csv", "sp ace/\u00fcber.csv", "plus+sign.csv",
    ]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for i, key in enumerate(cls.KEYS):
            answer = cls.raw.put(key, csv_bytes([("Lister", f"Item {i}", i)]))
            assert answer.status == 200, (key, answer)

    def page_entries(self, root):
        keys = [c.findtext(f"{S3_NS}Key") for c in root.findall(f"{S3_NS}Contents")]
        prefixes = [p.findtext(f"{S3_NS}Prefix") for p in root.findall(f"{S3_NS}CommonPrefixes")]
        return sorted(keys + prefixes, key=lambda k: k.encode()), len(keys) + len(prefixes)

    def test_list_objects_v2_prefix_delimiter_max_keys_continuation(self):
        cases = [("", "", 1000), ("", "", 7), ("", "/", 1000), ("", "/", 3), ("b/", "/", 1000),
                 ("b/", "/", 2), ("b/", "", 2), ("e/", "/", 1), ("g/", "", 2), ("j", "/", 2),
                 ("j", "-", 1), ("zzz", "", 10), ("", "-", 4), ("sp ace/", "/", 1)]
        for prefix, delimiter, max_keys in cases:
            with self.subTest(prefix=prefix, delimiter=delimiter, max_keys=max_keys):
                expected = expected_listing(self.KEYS, prefix, delimiter)
                got, token, pages = [], None, 0
                while True:
                    answer = self.raw.list_v2(prefix=prefix or None, delimiter=delimiter or None,
                                              max_keys=max_keys, continuation_token=token)
                    self.assertOk(answer)
                    root = answer.xml()
                    entries, count = self.page_entries(root)
                    pages += 1
                    self.assertLessEqual(count, max_keys)
                    self.assertEqual(root.findtext(f"{S3_NS}KeyCount"), str(count))
                    self.assertEqual(root.findtext(f"{S3_NS}MaxKeys"), str(max_keys))
                    self.assertEqual(root.findtext(f"{S3_NS}Prefix") or "", prefix)
                    if delimiter:
                        self.assertEqual(root.findtext(f"{S3_NS}Delimiter"), delimiter)
                    got += entries
                    truncated = root.findtext(f"{S3_NS}IsTruncated")
                    self.assertIn(truncated, ("true", "false"))
                    if truncated == "false":
                        self.assertIsNone(root.find(f"{S3_NS}NextContinuationToken"))
                        break
                    self.assertGreater(count, 0, "a truncated page must make progress")
                    token = root.findtext(f"{S3_NS}NextContinuationToken")
                    self.assertTrue(token)
                    self.assertLess(pages, 50, "paging does not end")
                self.assertEqual(got, expected)
                self.assertEqual(pages, max(1, -(-len(expected) // max_keys)),
                                 "every page but the last holds max-keys entries")

    def test_list_objects_v2_start_after_and_v1_marker(self):
        answer = self.raw.list_v2(start_after="d/2.csv")
        self.assertOk(answer)
        entries, _ = self.page_entries(answer.xml())
        self.assertEqual(entries, [k for k in expected_listing(self.KEYS, "", "")
                                   if k.encode() > b"d/2.csv"])
        # v1 (s3cmd, rclone): NextMarker with a delimiter, else the last key.
        for delimiter, max_keys in (("", 4), ("/", 3)):
            with self.subTest(delimiter=delimiter, max_keys=max_keys):
                got, marker = [], None
                for _ in range(50):
                    answer = self.raw.list_v1(delimiter=delimiter or None, max_keys=max_keys,
                                              marker=marker)
                    self.assertOk(answer)
                    root = answer.xml()
                    entries, count = self.page_entries(root)
                    self.assertLessEqual(count, max_keys)
                    got += entries
                    if root.findtext(f"{S3_NS}IsTruncated") != "true":
                        break
                    marker = root.findtext(f"{S3_NS}NextMarker") or entries[-1]
                self.assertEqual(got, expected_listing(self.KEYS, "", delimiter))

    def test_list_with_boto3_paginator(self):
        python = s3.boto3_python()
        if not python:
            self.skipTest("boto3 is importable by neither the python3 on PATH nor "
                          "/usr/bin/python3")
        _, (result,) = s3.run_boto3(python, self.server.s3_url, self.admin_id,
                                    self.admin_secret,
                                    [{"op": "list_keys", "prefix": "", "page_size": 4}])
        self.assertNotIn("error", result)
        self.assertEqual(result["keys"], expected_listing(self.KEYS, "", ""))


# =================================================================================================
class S3LimitsTest(S3TestCase):
    MAX = 2048
    server_env = {"STOCKWATCH_S3_MAX_OBJECT_BYTES": str(MAX)}

    def csv_of_size(self, size, tag):
        body = csv_bytes([("Limits", f"{tag} {i:04d}", i) for i in range(size // 20)])
        body = body[:body.rfind(b"\n", 0, size - 40) + 1]
        last = f"Limits,{tag} last ".encode()
        pad = size - len(body) - len(last) - len(b",1\n")
        self.assertGreater(pad, 0)
        body += last + b"p" * pad + b",1\n"
        self.assertEqual(len(body), size)
        return body

    def test_object_at_the_limit_is_accepted(self):
        body = self.csv_of_size(self.MAX, "exact")
        self.assertOk(self.raw.put("limits/exact.csv", body))
        self.assertStoredBytes("limits/exact.csv", body)
        s3.wait_loaded_key(self.server, "limits/exact.csv")

    def test_object_over_the_limit_is_entity_too_large(self):
        body = self.csv_of_size(self.MAX + 1, "over")
        with self.assertNothingStored():
            # Declared by Content-Length.
            self.assertS3Error(self.raw.put("limits/over.csv", body), 400, "EntityTooLarge")
            # Declared by x-amz-decoded-content-length (aws-chunked).
            encoded = s3.unsigned_trailer_body(body, 1024,
                                               [("x-amz-checksum-crc32", s3.crc32_b64(body))])
            answer = self.raw.request(
                "PUT", key_path("limits/over-chunked.csv"), encoded,
                headers={"Content-Encoding": "aws-chunked",
                         "x-amz-decoded-content-length": str(len(body)),
                         "x-amz-trailer": "x-amz-checksum-crc32"},
                payload_hash=s3.STREAMING_UNSIGNED_TRAILER)
            self.assertS3Error(answer, 400, "EntityTooLarge")
            # Not declared at all: Transfer-Encoding: chunked, found while streaming.
            big = self.csv_of_size(4 * self.MAX, "stream")
            hdrs, _ = self.raw.signed("PUT", key_path("limits/over-te.csv"),
                                      payload_hash=s3.UNSIGNED_PAYLOAD)
            answer = s3.send(self.server.s3_port, "PUT", key_path("limits/over-te.csv"), hdrs,
                             [big[i:i + 512] for i in range(0, len(big), 512)])
            self.assertS3Error(answer, 400, "EntityTooLarge")

    def test_multipart_over_the_limit_is_entity_too_large(self):
        body = self.csv_of_size(2 * self.MAX, "multipart")
        with self.assertNothingStored():
            created = self.raw.request("POST", key_path("limits/multipart.csv") + "?uploads=")
            self.assertOk(created)
            upload_id = created.xml().findtext(f"{S3_NS}UploadId")
            self.assertTrue(upload_id)
            qid = urllib.parse.quote(upload_id, safe="")
            part = self.raw.request(
                "PUT", key_path("limits/multipart.csv") + f"?partNumber=1&uploadId={qid}", body)
            if part.status == 200:
                complete = (f'<CompleteMultipartUpload><Part><PartNumber>1</PartNumber>'
                            f'<ETag>"{part.etag}"</ETag></Part></CompleteMultipartUpload>').encode()
                answer = self.raw.request(
                    "POST", key_path("limits/multipart.csv") + f"?uploadId={qid}", complete)
                self.assertS3Error(answer, 400, "EntityTooLarge")
                self.raw.request("DELETE", key_path("limits/multipart.csv") + f"?uploadId={qid}")
            else:
                self.assertS3Error(part, 400, "EntityTooLarge")
                self.assertOk(self.raw.request(
                    "DELETE", key_path("limits/multipart.csv") + f"?uploadId={qid}"), 204)

    def test_awscli_reports_entity_too_large(self):
        path = os.path.join(self.tmp, "too-big.csv")
        with open(path, "wb") as f:
            f.write(self.csv_of_size(3 * self.MAX, "awscli"))
        env = s3.aws_env(self.tmp, self.admin_id, self.admin_secret)
        aws = s3.require_tool("aws", "awscli is preinstalled (pyenv)")
        with self.assertNothingStored():
            proc = self.run_tool([aws, "--endpoint-url", self.server.s3_url, "s3", "cp", path,
                                  f"s3://{BUCKET}/limits/too-big.csv"], env=env, check=False)
            self.assertNotEqual(proc.returncode, 0)
            self.assertIn("EntityTooLarge", proc.stderr)


# =================================================================================================
class KeysCliTest(S3TestCase):
    """`stockwatch keys create|list|revoke`."""

    def test_create_list_revoke(self):
        s = self.server
        created = json.loads(s.cli("keys", "create", "--store", "Berlin", "--store", "Paris",
                                   "--format", "json", "--server", s.url, "--token",
                                   TOKEN).stdout)
        key_id, secret = created["access_key_id"], created["secret_access_key"]
        self.assertTrue(key_id and secret)
        self.assertEqual(sorted(created["stores"]), ["Berlin", "Paris"])
        self.assertFalse(created["all_stores"])

        text = s.cli("keys", "create", "--all-stores").stdout
        all_id = re.search(r"access key id:\s*(\S+)", text).group(1)
        all_secret = re.search(r"secret access key:\s*(\S+)", text).group(1)

        listing = s.cli("keys", "list").stdout
        listing_json = s.cli("keys", "list", "--format", "json").stdout
        for out in (listing, listing_json):
            self.assertIn(key_id, out)
            self.assertIn(all_id, out)
            self.assertNotIn(secret, out)
            self.assertNotIn(all_secret, out)
            self.assertNotIn("secret_access_key", out)

        raw = RawS3(s.s3_port, key_id, secret)
        body = csv_bytes([("Berlin", "Cli Key Item", 2), ("Paris", "Cli Key Item", 3)])
        self.assertOk(raw.put("cli/key.csv", body))
        self.assertOk(RawS3(s.s3_port, all_id, all_secret).get("cli/key.csv"))

        out = s.cli("keys", "revoke", key_id).stdout
        self.assertIn(key_id, out)
        self.assertS3Error(raw.put("cli/after.csv", body), 403, "InvalidAccessKeyId")
        self.assertS3Error(raw.get("cli/key.csv"), 403, "InvalidAccessKeyId")
        status, doc = s.get("/api/v1/keys")
        self.assertEqual(status, 200, doc)
        revoked = {k["access_key_id"]: k["revoked_at"] for k in doc["keys"]}
        self.assertIsNotNone(revoked[key_id])
        self.assertIsNone(revoked[all_id])


if __name__ == "__main__":
    unittest.main()
