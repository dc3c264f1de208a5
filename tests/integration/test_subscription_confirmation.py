"""Subscription confirmation (as in SNS), unsubscribe links and SMS STOP, through the binary.

A webhook receiver gets the SubscriptionConfirmation, fetches its SubscribeURL and then gets
alerts; an email subscriber gets the confirmation mail in a real SMTP server, follows the
link, and unsubscribes with the one-click List-Unsubscribe POST of an alert email; a Twilio
inbound POST with a valid X-Twilio-Signature opts a number out (an unsigned one is refused).
No SMS provider can run here: the SMS channel talks to the webhook receiver, which stands in
for Twilio's REST API.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request

from harness import SAMPLES, Server, SmtpSink, WebhookSink, wait_for

BERLIN = os.path.join(SAMPLES, "inventory-berlin.csv")  # Echo Plus at 0
CALCUTTA = os.path.join(SAMPLES, "inventory-calcutta.csv")  # Echo Show at 0
SID = "AC" + "0" * 32
AUTH_TOKEN = "twilio-auth-token-for-tests"


def fetch(url, method="GET", data=None, headers=None):
    """(status, headers, text) of a request made without any credentials."""
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.headers, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


def twilio_signature(token, url, params):
    """Twilio's X-Twilio-Signature: base64(HMAC-SHA1(token, url + sorted name+value...))."""
    data = url + "".join(k + v for k, v in sorted(params.items()))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()).decode()


class SubscriptionConfirmationTest(unittest.TestCase):
    def setUp(self):
        self.cleanups = []

    def tearDown(self):
        for stop in reversed(self.cleanups):
            stop()

    def start(self, **kw):
        server = Server(**kw).start()
        self.cleanups.append(server.stop)
        return server

    def subscription(self, s, sub_id):
        subs = s.get("/api/v1/subscriptions")[1]["subscriptions"]
        return next((x for x in subs if x["id"] == sub_id), None)

    def upload(self, s, path):
        out = s.cli("upload", path)
        self.assertIn("loaded", out.stdout)

    def test_webhook_confirms_through_subscribe_url_then_gets_alerts(self):
        hook = WebhookSink()
        self.cleanups.append(hook.stop)
        s = self.start()
        sub = json.loads(s.cli("subscribe", "--topic", "NoStock", hook.url, "--format", "json",
                               confirmed=False).stdout)
        self.assertEqual(sub["status"], "pending_confirmation")

        post = wait_for(lambda: hook.posts(), what="the SubscriptionConfirmation")[0]
        self.assertEqual(post["headers"]["x-stockwatch-message-type"], "SubscriptionConfirmation")
        doc = post["body"]
        self.assertEqual(doc["Type"], "SubscriptionConfirmation")
        self.assertRegex(doc["Token"], r"^[0-9a-f]{64}$")
        self.assertEqual(doc["TopicArn"], "arn:stockwatch:sns:local:0:NoStock")
        self.assertIn("To confirm the subscription, visit the SubscribeURL", doc["Message"])
        self.assertEqual(doc["SubscribeURL"], f"{s.url}/confirm?token={doc['Token']}")
        self.assertTrue(doc["MessageId"] and doc["Timestamp"].endswith("Z"))

        # While pending, alerts skip it: Berlin's alert is published but not sent to it.
        self.upload(s, BERLIN)
        wait_for(lambda: s.get("/api/v1/alerts")[1]["alerts"], what="Berlin's alert")
        mine = [d for d in s.get("/api/v1/deliveries")[1]["deliveries"]
                if d["subscription_id"] == sub["id"]]
        self.assertEqual(len(mine), 1)  # the confirmation only

        # A made-up token changes nothing; the real one confirms, once.
        status, _, text = fetch(f"{s.url}/confirm?token={'0' * 64}")
        self.assertEqual(status, 404)
        self.assertIn("unknown, already used or expired", text)
        self.assertEqual(self.subscription(s, sub["id"])["status"], "pending_confirmation")
        status, headers, text = fetch(doc["SubscribeURL"])
        self.assertEqual(status, 200, text)
        self.assertIn("text/html", headers["Content-Type"])
        self.assertIn("Subscription confirmed", text)
        self.assertEqual(self.subscription(s, sub["id"])["status"], "confirmed")
        self.assertEqual(fetch(doc["SubscribeURL"])[0], 404)

        self.upload(s, CALCUTTA)
        alert = wait_for(lambda: [p for p in hook.posts() if p["body"].get("Type") != "SubscriptionConfirmation"],
                         what="an alert after confirming")
        self.assertEqual(alert[0]["body"]["store"], "Calcutta")
        self.assertNotIn("Berlin", [p["body"].get("store") for p in hook.posts()])

    def test_expired_pending_subscription_is_removed_when_the_server_starts(self):
        # Links live 1 s; no smtp.url, so the confirmation email stays pending meanwhile.
        s = self.start(env={"STOCKWATCH_NOTIFY_CONFIRMATION_TTL_SECONDS": "1"})
        sub = json.loads(s.cli("subscribe", "--topic", "NoStock", "mailto:late@example.test",
                               "--format", "json", confirmed=False).stdout)
        self.assertEqual(sub["status"], "pending_confirmation")
        deadline = time.time() + 1.5
        wait_for(lambda: time.time() > deadline, what="the confirmation link to expire")
        self.assertIsNotNone(self.subscription(s, sub["id"]))  # purged at start and hourly

        s.stop()
        s.start()
        self.assertIsNone(self.subscription(s, sub["id"]))
        mine = [d for d in s.get("/api/v1/deliveries")[1]["deliveries"]
                if d["subscription_id"] == sub["id"]]
        self.assertEqual(len(mine), 1)
        self.assertEqual(mine[0]["state"], "failed")
        self.assertEqual(mine[0]["last_error"], "confirmation expired")
        # Subscribing the address again makes a new subscription, pending again.
        again = json.loads(s.cli("subscribe", "--topic", "NoStock", "mailto:late@example.test",
                                 "--format", "json", confirmed=False).stdout)
        self.assertNotEqual(again["id"], sub["id"])
        self.assertEqual(again["status"], "pending_confirmation")

    def test_email_confirmation_link_and_one_click_unsubscribe(self):
        smtp = SmtpSink()
        self.cleanups.append(smtp.stop)
        s = self.start(args=["--smtp-url", smtp.url, "--smtp-from", "stockwatch@example.test"])
        out = s.cli("subscribe", "--topic", "NoStock", "mailto:ops@example.test",
                    confirmed=False).stdout
        self.assertIn("pending_confirmation", out)

        mail = wait_for(lambda: smtp.messages(), what="the confirmation email")[0]
        self.assertEqual(mail["Subject"], "Confirm your subscription to NoStock")
        self.assertEqual(mail["To"], "ops@example.test")
        text = mail.get_body(preferencelist=("plain",)).get_content()
        link = re.search(re.escape(s.url) + r"/confirm\?token=[0-9a-f]{64}", text).group(0)
        self.assertIn(link, mail.get_body(preferencelist=("html",)).get_content())
        status, _, page = fetch(link)
        self.assertEqual(status, 200, page)

        self.upload(s, BERLIN)
        alerts = wait_for(lambda: [m for m in smtp.messages() if m["Subject"] == "Inventory Alert!"],
                          what="the alert email")
        alert = alerts[0]
        header = alert["List-Unsubscribe"]
        self.assertRegex(header, r"^<" + re.escape(s.url) + r"/unsubscribe\?token=\d+\.[0-9a-f]{64}>$")
        self.assertEqual(alert["List-Unsubscribe-Post"], "List-Unsubscribe=One-Click")
        unsubscribe_url = header[1:-1]
        self.assertIn(unsubscribe_url, alert.get_body(preferencelist=("plain",)).get_content())
        html = alert.get_body(preferencelist=("html",)).get_content()
        self.assertIn(f'href="{unsubscribe_url}"', html)

        # The link's page only asks; a tampered token is refused; the one-click POST acts.
        status, _, page = fetch(unsubscribe_url)
        self.assertEqual(status, 200)
        self.assertIn('<form method="post"', page)
        self.assertEqual(len(s.get("/api/v1/subscriptions")[1]["subscriptions"]), 1)
        tampered = unsubscribe_url[:-1] + ("0" if unsubscribe_url[-1] != "0" else "1")
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        self.assertEqual(fetch(tampered, "POST", b"List-Unsubscribe=One-Click", form)[0], 404)
        self.assertEqual(len(s.get("/api/v1/subscriptions")[1]["subscriptions"]), 1)
        status, _, page = fetch(unsubscribe_url, "POST", b"List-Unsubscribe=One-Click", form)
        self.assertEqual(status, 200, page)
        self.assertEqual(s.get("/api/v1/subscriptions")[1]["subscriptions"], [])
        # Twice is fine.
        self.assertEqual(fetch(unsubscribe_url, "POST", b"List-Unsubscribe=One-Click", form)[0],
                         200)

    def test_signed_stop_opts_a_number_out_and_start_back_in(self):
        twilio = WebhookSink("--status", "201")  # stands in for Twilio's REST API
        self.cleanups.append(twilio.stop)
        s = self.start(env={"STOCKWATCH_SMS_BASE_URL": f"http://127.0.0.1:{twilio.port}",
                            "STOCKWATCH_SMS_ACCOUNT_SID": SID,
                            "STOCKWATCH_SMS_AUTH_TOKEN": AUTH_TOKEN,
                            "STOCKWATCH_SMS_FROM": "+15005550006"})
        stopped = json.loads(s.cli("subscribe", "--topic", "NoStock", "+4915112345678",
                                   "--format", "json", confirmed=False).stdout)
        self.assertEqual(stopped["status"], "confirmed")  # SMS numbers cannot confirm
        s.cli("subscribe", "--topic", "NoStock", "+4915199999999", confirmed=False)

        url = f"{s.url}/sms/inbound"
        params = {"From": "+4915112345678", "To": "+15005550006", "Body": "Stop ",
                  "AccountSid": SID, "MessageSid": "SM" + "1" * 32}
        body = urllib.parse.urlencode(params).encode()
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        status, _, _ = fetch(url, "POST", body, form)
        self.assertEqual(status, 403)
        wrong = dict(form, **{"X-Twilio-Signature": twilio_signature("other", url, params)})
        self.assertEqual(fetch(url, "POST", body, wrong)[0], 403)
        self.assertEqual(s.get("/api/v1/sms/opt-outs")[1]["opt_outs"], [])

        signed = dict(form, **{"X-Twilio-Signature": twilio_signature(AUTH_TOKEN, url, params)})
        status, headers, text = fetch(url, "POST", body, signed)
        self.assertEqual(status, 200, text)
        self.assertIn("xml", headers["Content-Type"])
        self.assertIn("<Response></Response>", text)
        opt_outs = json.loads(s.cli("sms", "opt-outs", "--format", "json").stdout)["opt_outs"]
        self.assertEqual([o["number"] for o in opt_outs], ["+4915112345678"])

        self.upload(s, BERLIN)
        wait_for(lambda: [d for d in s.get("/api/v1/deliveries?state=delivered")[1]["deliveries"]],
                 what="the SMS to the number that did not opt out")
        sent = [urllib.parse.parse_qs(p["body_text"]) for p in twilio.posts()]
        self.assertEqual([m["To"] for m in sent], [["+4915199999999"]])
        mine = [d for d in s.get("/api/v1/deliveries")[1]["deliveries"]
                if d["subscription_id"] == stopped["id"]]
        self.assertEqual(mine, [])

        params["Body"] = "START"
        signed["X-Twilio-Signature"] = twilio_signature(AUTH_TOKEN, url, params)
        self.assertEqual(fetch(url, "POST", urllib.parse.urlencode(params).encode(), signed)[0],
                         200)
        self.assertEqual(s.get("/api/v1/sms/opt-outs")[1]["opt_outs"], [])

        # The same by hand, from the CLI.
        self.assertEqual(s.cli("sms", "opt-out", "+4930123456").stdout, "+4930123456 opted out\n")
        self.assertIn("+4930123456", s.cli("sms", "opt-outs").stdout)
        self.assertEqual(s.cli("sms", "opt-in", "+4930123456").stdout, "+4930123456 opted in\n")
        self.assertNotIn("+4930123456", s.cli("sms", "opt-outs").stdout)
        bad = s.cli("sms", "opt-out", "4930", check=False)
        self.assertNotEqual(bad.returncode, 0)


if __name__ == "__main__":
    unittest.main()
