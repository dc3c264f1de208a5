"""GET /api/v1/events through the real binary: Server-Sent Events of uploads, changes and
alerts, read with http.client while sample files are uploaded."""

import http.client
import json
import os
import queue
import threading
import time
import unittest

from harness import SAMPLES, TOKEN, Server


class EventReader:
    """Reads one event stream on a thread; events land in `events` as dicts."""

    def __init__(self, port, last_event_id=None):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Authorization": f"Bearer {TOKEN}", "Accept": "text/event-stream"}
        if last_event_id:
            headers["Last-Event-ID"] = last_event_id
        self.conn.request("GET", "/api/v1/events", headers=headers)
        self.response = self.conn.getresponse()
        self.events = queue.Queue()
        self.comments = []
        self.retry = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        event = {}
        try:
            for raw in self.response:
                line = raw.decode().rstrip("\r\n")
                if not line:
                    if "event" in event:
                        self.events.put(event)
                    event = {}
                elif line.startswith(":"):
                    self.comments.append(line)
                elif line.startswith("retry: "):
                    self.retry = int(line[7:])
                elif line.startswith("id: "):
                    event["id"] = line[4:]
                elif line.startswith("event: "):
                    event["event"] = line[7:]
                elif line.startswith("data: "):
                    event["data"] = json.loads(line[6:])
        except (OSError, ValueError, AttributeError, http.client.HTTPException):
            return  # closed by close(): http.client drops its file then

    def collect(self, done, timeout=30.0):
        """Events until done(events) holds; fails after `timeout` seconds."""
        got = []
        deadline = time.monotonic() + timeout
        while not done(got):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"event stream: condition not met; got {got}")
            try:
                got.append(self.events.get(timeout=left))
            except queue.Empty:
                pass
        return got

    def close(self):
        self.conn.close()


def has_alert(store, item):
    return lambda events: any(e["event"] == "alert" and e["data"]["store"] == store and
                              e["data"]["item"] == item for e in events)


class EventsTest(unittest.TestCase):
    def setUp(self):
        self.server = Server().start()
        self.readers = []

    def tearDown(self):
        for reader in self.readers:
            reader.close()
        self.server.stop()

    def open(self, **kw):
        reader = EventReader(self.server.port, **kw)
        self.readers.append(reader)
        return reader

    def test_uploads_changes_and_alerts_arrive_as_they_happen(self):
        reader = self.open()
        self.assertEqual(reader.response.status, 200)
        self.assertTrue(reader.response.getheader("Content-Type").startswith("text/event-stream"))
        self.assertEqual(reader.response.getheader("Transfer-Encoding"), "chunked")

        self.server.cli("upload", os.path.join(SAMPLES, "inventory-berlin.csv"))
        events = reader.collect(has_alert("Berlin", "Echo Plus"))
        self.assertEqual(reader.retry, 2000)
        for e in events:
            self.assertRegex(e["id"], r"^\d+-\d+-\d+$")
        uploads = [e["data"] for e in events if e["event"] == "upload"]
        self.assertIn("loaded", [u["status"] for u in uploads])
        loaded = next(u for u in uploads if u["status"] == "loaded")
        self.assertEqual(loaded["name"], "inventory-berlin.csv")
        self.assertEqual(loaded["report"]["rows_loaded"], 6)
        changes = [e["data"] for e in events if e["event"] == "change"]
        self.assertEqual({c["store"] for c in changes}, {"Berlin"})
        self.assertEqual(len(changes), 6)
        alert = next(e["data"] for e in events if e["event"] == "alert")
        self.assertEqual(alert["topic"], "NoStock")
        self.assertEqual(alert["message"], "Berlin is out of stock of Echo Plus")

        # A stream resumed from the last id gets only what came after it.
        resumed = self.open(last_event_id=events[-1]["id"])
        self.server.cli("upload", os.path.join(SAMPLES, "inventory-pusan.csv"))
        later = resumed.collect(has_alert("Pusan", "Echo Dot"))
        self.assertNotIn("Berlin", {e["data"].get("store") for e in later})
        self.assertIn("Pusan", {e["data"]["store"] for e in later if e["event"] == "change"})


if __name__ == "__main__":
    unittest.main()
