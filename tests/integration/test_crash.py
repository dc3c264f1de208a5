"""Crash safety: SIGKILL the server while it loads a large file and while it delivers.

After a restart on the same data directory the upload is applied exactly once, the
inventory equals the file, no alert is lost, and SQLite's integrity check passes.
"""

import os
import random
import sqlite3
import tempfile
import unittest

from harness import Server, WebhookSink, read_csv_rows, wait_for


def write_large_file(path, rows, zero_every=97):
    rnd = random.Random(7)
    stores = [f"Store {i:03d}" for i in range((rows // 2000) + 1)]
    with open(path, "w") as f:
        f.write("store,item,count\n")
        n = 0
        for s in stores:
            for i in range(2000):
                if n == rows:
                    return
                count = 0 if n % zero_every == 0 else rnd.randint(1, 500)
                f.write(f'{s},"Item {i:04d}, large",{count}\n')
                n += 1


def integrity_ok(data_dir):
    db = sqlite3.connect(os.path.join(data_dir, "stockwatch.db"))
    try:
        return db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()


class CrashTest(unittest.TestCase):
    def test_kill_during_load_applies_the_upload_exactly_once(self):
        tmp = tempfile.mkdtemp()
        big = os.path.join(tmp, "big.csv")
        write_large_file(big, 400_000)
        server = Server().start()
        try:
            proc = server.cli("upload", "--no-wait", big)
            self.assertIn("uploaded", proc.stdout)
            # The upload is acknowledged; kill while the loader is at work on it.
            server.kill()
            server = Server(data_dir=server.data_dir).start()
            status, uploads = server.get("/api/v1/uploads")
            self.assertEqual(len(uploads["uploads"]), 1)
            report = server.wait_loaded(uploads["uploads"][0]["id"])
            self.assertEqual(report["status"], "loaded")
            self.assertEqual(report["report"]["rows_loaded"], 400_000)
            got = {(i["store"], i["item"]): i["count"] for i in server.inventory()}
            self.assertEqual(got, read_csv_rows(big))
            # One change record per item: applied exactly once.
            status, changes = server.get("/api/v1/changes?after=0&limit=10000")
            self.assertEqual(changes["changes"][0]["sequence"], 1)
            last_seq = 0
            after = 0
            while True:
                _, page = server.get(f"/api/v1/changes?after={after}&limit=10000")
                if not page["changes"]:
                    break
                after = page["changes"][-1]["sequence"]
                last_seq += len(page["changes"])
            self.assertEqual(last_seq, 400_000)
        finally:
            server.stop()
        self.assertTrue(integrity_ok(server.data_dir))

    def test_kill_during_delivery_loses_no_alert(self):
        # The receiver answers slowly, so alerts are in flight when the server dies.
        hook = WebhookSink("--delay-ms", "50")
        server = Server().start()
        try:
            server.cli("subscribe", "--topic", "NoStock", hook.url)
            tmp = tempfile.mkdtemp()
            path = os.path.join(tmp, "zeros.csv")
            with open(path, "w") as f:
                f.write("store,item,count\n")
                for i in range(40):
                    f.write(f"Berlin,Item {i},0\n")
            server.cli("upload", path)
            wait_for(lambda: len(hook.posts()) >= 3, what="first deliveries")
            server.kill()
            server = Server(data_dir=server.data_dir).start()
            wait_for(lambda: {p["body"]["item"] for p in hook.posts()} ==
                     {f"Item {i}" for i in range(40)}, timeout=60, what="all 40 alerts")
            wait_for(lambda: server.get("/api/v1/deliveries?state=pending")[1]["deliveries"] == [],
                     what="no pending deliveries")
            # At least once: duplicates carry the same delivery id, so receivers can drop them.
            ids = {}
            for p in hook.posts():
                ids.setdefault(p["body"]["item"], set()).add(p["body"]["delivery_id"])
            self.assertTrue(all(len(v) == 1 for v in ids.values()), ids)
        finally:
            server.stop()
            hook.stop()
        self.assertTrue(integrity_ok(server.data_dir))


if __name__ == "__main__":
    unittest.main()
