"""End to end through `stockwatch serve`: signed SNS-shaped webhooks, private targets refused,
SMS and Slack deliveries, and the webhook status table (retry, dead letter, redrive)."""

import json
import os
import unittest

from harness import SAMPLES, Server, Sink, WebhookSink, wait_for
from scripted_receiver import ScriptedReceiver

BERLIN = os.path.join(SAMPLES, "inventory-berlin.csv")  # Echo Plus at 0: one NoStock alert
ALERT = "Berlin is out of stock of Echo Plus"
# Retries within milliseconds, so the status table runs fast (the backoff itself is tested on
# a virtual clock in the dispatcher's unit tests).
FAST_RETRIES = {"STOCKWATCH_DELIVERY_INITIAL_BACKOFF_MS": "10",
                "STOCKWATCH_DELIVERY_MAX_BACKOFF_MS": "50"}


def deliveries(server, state):
    status, doc = server.get(f"/api/v1/deliveries?state={state}&limit=100")
    assert status == 200, doc
    return doc["deliveries"]


class TwilioSink(Sink):
    """twilio_sink.py: a stand-in for Twilio's Messages API (see its docstring)."""

    SID = "AC0123456789abcdef0123456789abcdef"
    TOKEN = "f4k3-tw1l10-t0k3n"

    def __init__(self):
        super().__init__("twilio_sink.py",
                         ["--account-sid", self.SID, "--auth-token", self.TOKEN])
        self.url = f"http://127.0.0.1:{self.port}"

    def messages(self):
        out = []
        for name in self.files(".json"):
            with open(os.path.join(self.dir, name)) as f:
                out.append(json.load(f))
        return out


class NotifyChannelsTest(unittest.TestCase):
    # Webhook subscriptions are made with --confirmed: these tests are about alerts, not the
    # SubscriptionConfirmation handshake.
    def setUp(self):
        self.cleanups = []

    def tearDown(self):
        for cleanup in reversed(self.cleanups):
            cleanup()

    def start(self, **kw):
        server = Server(**kw).start()
        self.cleanups.append(server.stop)
        return server

    def receiver(self, **kw):
        receiver = ScriptedReceiver(**kw)
        self.cleanups.append(receiver.stop)
        return receiver

    def test_webhook_is_signed_and_shaped_like_sns(self):
        receiver = self.receiver()
        s = self.start()
        created = json.loads(
            s.cli("subscribe", "--topic", "NoStock", "--confirmed", receiver.url, "--format", "json").stdout)
        secret = created["signing_secret"]
        self.assertRegex(secret, r"^[0-9a-f]{64}$")
        # Listings never show it again.
        listed = s.get("/api/v1/subscriptions")[1]["subscriptions"]
        self.assertNotIn(secret, json.dumps(listed))
        receiver.secret = secret  # from now on the receiver refuses anything not signed with it

        s.cli("upload", BERLIN)
        wait_for(lambda: deliveries(s, "delivered"), what="the webhook delivered")
        requests = receiver.requests()
        self.assertEqual(len(requests), 1)
        request = requests[0]
        self.assertIsNone(request.signature_problem)
        self.assertEqual(request.status, 200)
        self.assertTrue(request.headers["x-stockwatch-signature"].startswith("v1="))
        body = request.json()
        self.assertEqual(body["Type"], "Notification")
        self.assertEqual(body["MessageId"], body["message_id"])
        self.assertEqual(body["TopicArn"], "arn:stockwatch:sns:local:0:NoStock")
        self.assertEqual(body["Subject"], "Inventory Alert!")
        self.assertEqual(body["Message"], ALERT)
        self.assertRegex(body["Timestamp"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertEqual(body["Timestamp"], body["timestamp"])
        self.assertEqual((body["store"], body["item"], body["old_count"], body["new_count"]),
                         ("Berlin", "Echo Plus", None, 0))
        self.assertEqual(request.headers["x-stockwatch-delivery"], str(body["delivery_id"]))

    def test_test_message_reaches_only_its_subscription(self):
        target = self.receiver()
        other = self.receiver()
        s = self.start()
        created = json.loads(s.cli("subscribe", "--topic", "NoStock", "--confirmed", target.url,
                                   "--format", "json").stdout)
        target.secret = created["signing_secret"]
        s.cli("subscribe", "--topic", "NoStock", "--confirmed", other.url)
        status, sent = s.request("POST", f"/api/v1/subscriptions/{created['id']}/test")
        self.assertEqual(status, 202, sent)
        self.assertEqual((sent["kind"], sent["subscription_id"]), ("test", created["id"]))
        wait_for(lambda: s.get(f"/api/v1/deliveries/{sent['id']}")[1]["state"] == "delivered",
                 what="the test message delivered")
        requests = target.requests()
        self.assertEqual(len(requests), 1)
        self.assertIsNone(requests[0].signature_problem)
        self.assertEqual(requests[0].headers["x-stockwatch-message-type"], "TestMessage")
        body = requests[0].json()
        self.assertEqual(body["Type"], "Notification")
        self.assertEqual(body["kind"], "test")
        self.assertEqual(body["Subject"], "stockwatch test message")
        self.assertIn("test message", body["Message"])
        self.assertEqual(body["delivery_id"], sent["id"])
        # Not published to the topic's other subscriber, and not an alert.
        self.assertEqual(other.requests(), [])
        self.assertEqual(s.get("/api/v1/alerts")[1]["alerts"], [])
        status, metrics = s.request("GET", "/metrics")
        self.assertNotRegex(str(metrics), r"stockwatch_alerts_published_total [1-9]")
        # A subscription not yet confirmed gets no test message: 412.
        pending = json.loads(s.cli("subscribe", "--topic", "NoStock", "--format", "json",
                                   target.url + "/pending", confirmed=False).stdout)
        self.assertEqual(pending["status"], "pending_confirmation")
        status, doc = s.request("POST", f"/api/v1/subscriptions/{pending['id']}/test")
        self.assertEqual(status, 412, doc)
        self.assertEqual(doc["error"]["code"], "failed_precondition")

    def test_cli_sends_a_test_message_and_reports_the_outcome(self):
        good = self.receiver()
        gone = self.receiver(status=410)
        s = self.start()
        ok_id = json.loads(s.cli("subscribe", "--topic", "NoStock", "--confirmed", good.url,
                                 "--format", "json").stdout)["id"]
        gone_id = json.loads(s.cli("subscribe", "--topic", "NoStock", "--confirmed", gone.url,
                                   "--format", "json").stdout)["id"]
        out = s.cli("subscriptions", "test", str(ok_id)).stdout
        self.assertRegex(out, rf"test message to subscription {ok_id} \(webhook .*\): "
                              r"delivery \d+ delivered")
        self.assertEqual(len(good.requests()), 1)
        # A 410 fails the delivery for good: exit 1, with the endpoint's answer.
        failed = s.cli("subscriptions", "test", str(gone_id), check=False)
        self.assertEqual(failed.returncode, 1, failed.stdout + failed.stderr)
        self.assertIn("failed", failed.stdout)
        self.assertIn("410", failed.stdout)
        # --wait 0 only queues it; --format json prints the delivery.
        queued = json.loads(s.cli("subscriptions", "test", str(ok_id), "--wait", "0",
                                  "--format", "json").stdout)
        self.assertEqual((queued["kind"], queued["subscription_id"]), ("test", ok_id))
        missing = s.cli("subscriptions", "test", "999", check=False)
        self.assertEqual(missing.returncode, 1)
        self.assertIn("no subscription 999", missing.stderr.lower())

    def test_loopback_target_refused_unless_allowed(self):
        receiver = self.receiver()
        s = self.start(allow_private_targets=False)
        out = s.cli("subscribe", "--topic", "NoStock", "--confirmed", receiver.url).stdout
        # Text output shows the signing secret the one time it is available.
        self.assertRegex(out, r"signing secret \(shown once; [^)]*\): [0-9a-f]{64}\n")
        s.cli("upload", BERLIN)
        failed = wait_for(lambda: deliveries(s, "failed"), what="the delivery refused")
        self.assertEqual(len(failed), 1)
        self.assertEqual(failed[0]["attempts"], 1)  # permanent: not retried
        self.assertEqual(failed[0]["last_error"],
                         "refusing to connect to private address 127.0.0.1 "
                         "(set notify.allow_private_targets to allow)")
        self.assertEqual(receiver.requests(), [])
        out = s.cli("deliveries", "list", "--failed").stdout
        self.assertIn("refusing to connect to private address 127.0.0.1", out)

    def test_sms_delivered_to_twilio_compatible_api(self):
        # twilio_sink.py stands in for Twilio: the real service is not reachable from here.
        twilio = TwilioSink()
        self.cleanups.append(twilio.stop)
        s = self.start(env={"STOCKWATCH_SMS_BASE_URL": twilio.url,
                            "STOCKWATCH_SMS_ACCOUNT_SID": TwilioSink.SID,
                            "STOCKWATCH_SMS_AUTH_TOKEN": TwilioSink.TOKEN,
                            "STOCKWATCH_SMS_FROM": "+15005550006"})
        s.cli("subscribe", "--topic", "NoStock", "sms:+4915112345678")
        s.cli("upload", BERLIN)
        wait_for(lambda: twilio.messages(), what="an SMS at the fake Twilio")
        wait_for(lambda: deliveries(s, "delivered"), what="the SMS delivery recorded")
        messages = twilio.messages()
        self.assertEqual(len(messages), 1)
        form = messages[0]["form"]
        self.assertEqual(form["To"], "+4915112345678")
        self.assertEqual(form["From"], "+15005550006")
        self.assertEqual(form["Body"], f"Inventory Alert!\n{ALERT}")
        delivered = deliveries(s, "delivered")
        self.assertEqual([d["protocol"] for d in delivered], ["sms"])
        self.assertNotIn(TwilioSink.TOKEN, s.logs())

    def test_sms_without_settings_waits_with_a_clear_error(self):
        s = self.start()
        s.cli("subscribe", "--topic", "NoStock", "+4915112345678")
        s.cli("upload", BERLIN)
        pending = wait_for(
            lambda: [d for d in deliveries(s, "pending") if d["last_error"]],
            what="a failed SMS attempt")
        self.assertIn("sms is not configured", pending[0]["last_error"])

    def test_slack_delivered_to_incoming_webhook(self):
        slack = WebhookSink()
        self.cleanups.append(slack.stop)
        s = self.start()
        url = f"http://127.0.0.1:{slack.port}/services/T0ACME/B0ALERTS/xoxSecret"
        s.cli("subscribe", "--topic", "NoStock", "--confirmed", "--protocol", "slack", url)
        s.cli("upload", BERLIN)
        wait_for(lambda: slack.posts(), what="a post at the Slack receiver")
        wait_for(lambda: deliveries(s, "delivered"), what="the Slack delivery recorded")
        posts = slack.posts()
        self.assertEqual(len(posts), 1)
        self.assertEqual(posts[0]["path"], "/services/T0ACME/B0ALERTS/xoxSecret")
        body = posts[0]["body"]
        self.assertEqual(body["text"], f"Inventory Alert!\n{ALERT}")
        self.assertEqual(body["blocks"][0]["text"],
                         {"type": "mrkdwn", "text": f"*Inventory Alert!*\n{ALERT}"})
        self.assertEqual(body["blocks"][0]["fields"][0]["text"], "*Store*\nBerlin")

    def test_status_table_retry_dead_letter_and_redrive(self):
        flaky = self.receiver(statuses=[500], status=200)  # 500, then 200
        gone = self.receiver(status=410)
        s = self.start(env=FAST_RETRIES)
        s.cli("subscribe", "--topic", "NoStock", "--confirmed", flaky.url)
        s.cli("subscribe", "--topic", "NoStock", "--confirmed", gone.url)
        s.cli("upload", BERLIN)

        # 500 is retried and then delivered; 410 is dead-lettered at once.
        wait_for(lambda: deliveries(s, "delivered") and deliveries(s, "failed"),
                 what="one delivered and one failed delivery")
        delivered, failed = deliveries(s, "delivered"), deliveries(s, "failed")
        self.assertEqual([d["endpoint"] for d in delivered], [flaky.url])
        self.assertEqual(delivered[0]["attempts"], 2)
        self.assertEqual([r.status for r in flaky.requests()], [500, 200])
        keys = {r.headers["x-stockwatch-delivery"] for r in flaky.requests()}
        self.assertEqual(keys, {str(delivered[0]["id"])})  # the same key on the retry

        self.assertEqual([d["endpoint"] for d in failed], [gone.url])
        self.assertEqual(failed[0]["attempts"], 1)
        error = f"http 410 from {gone.url}"
        self.assertEqual(failed[0]["last_error"], error)
        self.assertEqual([r.status for r in gone.requests()], [410])
        listed = s.cli("deliveries", "list", "--failed").stdout
        self.assertIn(error, listed)
        self.assertIn(str(failed[0]["id"]), listed)

        # The receiver is fixed; redrive sends the same delivery again.
        gone.status = 200
        out = s.cli("deliveries", "redrive", str(failed[0]["id"])).stdout
        self.assertIn("redriven 1 deliveries", out)
        wait_for(lambda: len(deliveries(s, "delivered")) == 2, what="the redriven delivery")
        self.assertEqual(deliveries(s, "failed"), [])
        self.assertEqual([r.status for r in gone.requests()], [410, 200])
        self.assertEqual({r.headers["x-stockwatch-delivery"] for r in gone.requests()},
                         {str(failed[0]["id"])})
        self.assertIn("0 deliveries", s.cli("deliveries", "redrive", "--all").stdout)


if __name__ == "__main__":
    unittest.main()
