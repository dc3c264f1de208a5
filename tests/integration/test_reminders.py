"""Reminders through the real binary and a real webhook receiver.

With notify.reminder_after_seconds = 2, an item still out of stock 2 seconds after its
NoStock alert is announced again ("Berlin is still out of stock of Echo Plus since ..."); once
it is back in stock, no more reminders come for that outage. A subscription with the filter
policy {"reminder": [{"exists": false}]} gets the alerts but not the reminders.
"""

import json
import os
import subprocess
import tempfile
import unittest

from harness import BIN, TOKEN, Server, WebhookSink, wait_for


def field(post, name):
    body = post["body"]
    return body.get(name)


class RemindersTest(unittest.TestCase):
    def setUp(self):
        self.hook = WebhookSink()
        self.quiet = WebhookSink()
        self.server = Server(env={"STOCKWATCH_NOTIFY_REMINDER_AFTER_SECONDS": "2"}).start()
        self.tmp = tempfile.mkdtemp(prefix="sw-reminders-")

    def tearDown(self):
        self.server.stop()
        self.hook.stop()
        self.quiet.stop()

    def upload(self, count):
        path = os.path.join(self.tmp, "inventory-berlin.csv")
        with open(path, "w") as f:
            f.write(f"store,item,count\nBerlin,Echo Plus,{count}\nBerlin,Echo Dot,7\n")
        self.server.cli("upload", path)

    def posts_with(self, prefix):
        return [p for p in self.hook.posts() if (field(p, "Message") or "").startswith(prefix)]

    def test_an_item_still_out_of_stock_is_announced_again_until_it_is_back(self):
        s = self.server
        s.cli("subscribe", "--topic", "NoStock", self.hook.url)
        s.cli("subscribe", "--topic", "BackInStock", self.hook.url)
        quiet = json.loads(s.cli("subscribe", "--topic", "NoStock", "--filter-policy",
                                 '{"reminder":[{"exists":false}]}', "--format", "json",
                                 self.quiet.url).stdout)

        self.upload(0)
        alert = wait_for(lambda: self.posts_with("Berlin is out of stock of Echo Plus"),
                         what="the NoStock alert")[0]
        first = wait_for(lambda: self.posts_with("Berlin is still out of stock"),
                         what="a reminder")[0]
        since = field(alert, "Timestamp")
        self.assertEqual(field(first, "Message"),
                         f"Berlin is still out of stock of Echo Plus since {since}")
        self.assertEqual(field(first, "Subject"), "Inventory Alert!")
        self.assertEqual(field(first, "topic"), "NoStock")
        self.assertEqual(field(first, "since"), since)
        self.assertEqual(field(first, "store"), "Berlin")
        self.assertEqual(field(first, "item"), "Echo Plus")
        self.assertEqual(field(first, "new_count"), 0)
        self.assertRegex(field(first, "MessageId"), r"^reminder-\d+-1$")
        self.assertIsNone(field(alert, "since"))
        self.assertGreater(field(first, "Timestamp"), since)

        # Back in stock: the outage is over.
        self.upload(5)
        back = wait_for(lambda: self.posts_with("Berlin is back in stock of Echo Plus"),
                        what="the BackInStock alert")[0]
        back_at = field(back, "Timestamp")
        # Out of stock again: a new outage, reminded of from its own alert. Its reminder comes
        # after the next reminder of the first outage would have been due, and reminders go out
        # oldest first, so had the first outage stayed open its reminder would be here too.
        self.upload(0)
        again = wait_for(
            lambda: [p for p in self.posts_with("Berlin is out of stock of Echo Plus")
                     if field(p, "Timestamp") > back_at],
            what="the second NoStock alert")[0]
        since_again = field(again, "Timestamp")
        wait_for(lambda: [p for p in self.posts_with("Berlin is still out of stock")
                          if field(p, "since") == since_again],
                 what="a reminder of the second outage")

        reminders = self.posts_with("Berlin is still out of stock")
        first_outage = [p for p in reminders if field(p, "since") == since]
        self.assertTrue(first_outage)
        for p in first_outage:
            self.assertLess(field(p, "Timestamp"), back_at, field(p, "MessageId"))
        self.assertEqual({field(p, "since") for p in reminders}, {since, since_again})

        # The subscription that opted out of reminders got both alerts and no reminder.
        status, doc = s.get("/api/v1/deliveries?limit=10000")
        self.assertEqual(status, 200, doc)
        quiet_messages = sorted(d["message_id"] for d in doc["deliveries"]
                                if d["subscription_id"] == quiet["id"])
        self.assertEqual(len(quiet_messages), 2, quiet_messages)
        self.assertFalse([m for m in quiet_messages if m.startswith("reminder-")])

        # The reminders are listed as alerts, with since.
        status, doc = s.get("/api/v1/alerts?topic=NoStock&limit=100")
        listed = [a for a in doc["alerts"] if a["message_id"] == field(first, "MessageId")]
        self.assertEqual(len(listed), 1)
        self.assertEqual(listed[0]["since"], since)


class ReminderSettingsTest(unittest.TestCase):
    def test_a_limit_out_of_range_is_refused_at_start(self):
        data = tempfile.mkdtemp(prefix="sw-reminders-")
        env = dict(os.environ, STOCKWATCH_ADMIN_TOKEN=TOKEN,
                   STOCKWATCH_NOTIFY_REMINDER_AFTER_SECONDS="60",
                   STOCKWATCH_NOTIFY_REMINDER_LIMIT="101")
        proc = subprocess.run([BIN, "serve", "--data", data, "--listen", "127.0.0.1:0",
                               "--s3-listen", "off"],
                              capture_output=True, text=True, env=env, timeout=60)
        self.assertNotEqual(proc.returncode, 0)
        self.assertIn("notify.reminder_limit must be between 0 and 100", proc.stderr)


if __name__ == "__main__":
    unittest.main()
