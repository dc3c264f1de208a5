"""Message templates through the real binary, a real SMTP server and a webhook receiver.

Templates set with `stockwatch templates set` (and the API) give the subject and body of the
alerts of their topic and protocol; alerts without one keep the checker's wording; escaping
stays the channel's job (HTML in the email's HTML part, JSON in the webhook body).
"""

import json
import os
import tempfile
import unittest

from harness import Server, SmtpSink, WebhookSink, wait_for


class TemplatesTest(unittest.TestCase):
    def setUp(self):
        self.smtp = SmtpSink()
        self.hook = WebhookSink()
        self.server = Server(args=["--smtp-url", self.smtp.url,
                                   "--smtp-from", "stockwatch@example.test"]).start()
        self.tmp = tempfile.mkdtemp(prefix="sw-templates-")

    def tearDown(self):
        self.server.stop()
        self.smtp.stop()
        self.hook.stop()

    def upload(self, name, content):
        path = os.path.join(self.tmp, name)
        with open(path, "w", newline="") as f:
            f.write(content)
        self.server.cli("upload", path)

    def hooks(self):
        return [p["body"] for p in self.hook.posts()]

    def test_webhook_and_email_templates_render_and_others_keep_the_wording(self):
        s = self.server
        s.cli("subscribe", "--topic", "NoStock", self.hook.url)
        s.cli("subscribe", "--topic", "NoStock", "mailto:ops@example.test")
        s.cli("subscribe", "--topic", "LowStock", self.hook.url)
        s.cli("subscribe", "--topic", "BackInStock", self.hook.url)
        s.cli("thresholds", "set", "5")
        out = s.cli("templates", "set", "NoStock", "--protocol", "webhook",
                    "--subject", "Out: {item}", "--body", "{store}/{item}/{old_count}->{new_count}")
        self.assertIn("templates of NoStock for webhook set", out.stdout)
        s.cli("templates", "set", "NoStock", "--protocol", "email",
              "--subject", "[{store}] {item} is gone", "--body", "{item} at {store}: {new_count} left")
        s.cli("templates", "set", "LowStock",
              "--subject", "Low: {item}", "--body", "{item}: {new_count} (threshold {threshold})")

        listed = json.loads(s.cli("templates", "list", "--format", "json").stdout)
        self.assertEqual(
            [(t["topic"], t["protocol"]) for t in listed["templates"]],
            [("LowStock", None), ("NoStock", "webhook"), ("NoStock", "email")])
        defaults = {d["topic"]: d for d in listed["defaults"]}
        self.assertEqual(defaults["NoStock"]["subject"], "Inventory Alert!")
        self.assertIn("threshold", listed["placeholders"])
        table = s.cli("templates").stdout
        self.assertIn("Out: {item}", table)

        self.upload("first.csv", "store,item,count\nBerlin,Echo Dot,4\nBerlin,Kindle,0\n")
        self.upload("second.csv", "store,item,count\nBerlin,Echo Dot,0\nBerlin,Kindle,7\n"
                                  "Paris,Echo Show,3\n")
        # first: Kindle NoStock (new item at 0), Echo Dot LowStock (new item at 4);
        # second: Echo Dot NoStock 4->0, Kindle BackInStock, Echo Show LowStock.
        wait_for(lambda: len(self.hooks()) >= 5, what="five webhooks")
        wait_for(lambda: len(self.smtp.messages()) >= 2, what="two emails")
        hooks = {(h["topic"], h["store"], h["item"]): h for h in self.hooks()}
        self.assertEqual(len(hooks), 5, list(hooks))

        dot = hooks[("NoStock", "Berlin", "Echo Dot")]
        self.assertEqual(dot["Subject"], "Out: Echo Dot")
        self.assertEqual(dot["Message"], "Berlin/Echo Dot/4->0")
        self.assertEqual(dot["message"], "Berlin/Echo Dot/4->0")
        kindle = hooks[("NoStock", "Berlin", "Kindle")]
        self.assertEqual(kindle["Message"], "Berlin/Kindle/->0")  # new item: no old count
        # LowStock: the any-protocol template, with the threshold.
        low = hooks[("LowStock", "Paris", "Echo Show")]
        self.assertEqual(low["Subject"], "Low: Echo Show")
        self.assertEqual(low["Message"], "Echo Show: 3 (threshold 5)")
        # BackInStock has no template: the checker's wording, exactly.
        back = hooks[("BackInStock", "Berlin", "Kindle")]
        self.assertEqual(back["Subject"], "Back In Stock")
        self.assertEqual(back["Message"], "Berlin is back in stock of Kindle: 7 available")

        mails = {m["Subject"]: m for m in self.smtp.messages()}
        self.assertEqual(set(mails), {"[Berlin] Echo Dot is gone", "[Berlin] Kindle is gone"})
        text = mails["[Berlin] Echo Dot is gone"].get_body(preferencelist=("plain",)).get_content()
        self.assertEqual(text.splitlines()[0], "Echo Dot at Berlin: 0 left")

        # The stored alerts keep the checker's text.
        status, doc = s.get("/api/v1/alerts?topic=NoStock")
        self.assertEqual(status, 200, doc)
        self.assertEqual({a["subject"] for a in doc["alerts"]}, {"Inventory Alert!"})

        # Reset: the next alert has the checker's wording again.
        out = s.cli("templates", "reset", "NoStock", "--protocol", "webhook")
        self.assertIn("templates of NoStock for webhook reset", out.stdout)
        before = len(self.hooks())
        self.upload("third.csv", "store,item,count\nParis,Echo Show,0\n")
        wait_for(lambda: len(self.hooks()) > before, what="a webhook after reset")
        show = {(h["topic"], h["item"]): h for h in self.hooks()}[("NoStock", "Echo Show")]
        self.assertEqual(show["Subject"], "Inventory Alert!")
        self.assertEqual(show["Message"], "Paris is out of stock of Echo Show")

    def test_escaping_stays_the_channels_job(self):
        s = self.server
        s.cli("subscribe", "--topic", "NoStock", self.hook.url)
        s.cli("subscribe", "--topic", "NoStock", "mailto:ops@example.test")
        status, doc = s.request("PUT", "/api/v1/templates/NoStock", {
            "protocol": None, "subject": "Out of stock", "body": "store {store} has no {item}"})
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc, {"topic": "NoStock", "protocol": None, "subject": "Out of stock",
                               "body": "store {store} has no {item}"})
        self.upload("escape.csv", 'store,item,count\n"<b>&""",Echo,0\n')
        wait_for(lambda: self.hooks() and self.smtp.messages(), what="a webhook and an email")

        hook = self.hooks()[0]
        self.assertEqual(hook["store"], '<b>&"')
        self.assertEqual(hook["Message"], 'store <b>&" has no Echo')  # JSON keeps it intact
        mail = self.smtp.messages()[0]
        text = mail.get_body(preferencelist=("plain",)).get_content()
        self.assertEqual(text.splitlines()[0], 'store <b>&" has no Echo')
        html = mail.get_body(preferencelist=("html",)).get_content()
        self.assertIn("store &lt;b&gt;&amp;&quot; has no Echo", html)
        self.assertNotIn("<b>", html)

    def test_api_refuses_bad_templates_and_unknown_topics_and_previews(self):
        s = self.server
        status, doc = s.request("PUT", "/api/v1/templates/NoStock",
                                {"subject": "ok", "body": "fine\n  {stor}"})
        self.assertEqual(status, 400, doc)
        self.assertTrue(doc["error"]["message"].startswith(
            'body: line 2, column 3: unknown placeholder "{stor}"'), doc)
        status, doc = s.request("PUT", "/api/v1/templates/NoSuchTopic",
                                {"subject": "a", "body": "b"})
        self.assertEqual(status, 404, doc)
        status, doc = s.request("PUT", "/api/v1/templates/NoStock",
                                {"protocol": "pigeon", "subject": "a", "body": "b"})
        self.assertEqual(status, 400, doc)
        status, doc = s.request("DELETE", "/api/v1/templates/NoSuchTopic")
        self.assertEqual(status, 404, doc)
        status, doc = s.request("DELETE", "/api/v1/templates/NoStock?protocol=email")
        self.assertEqual(status, 204, doc)
        bad = s.cli("templates", "set", "NoStock", "--subject", "{", "--body", "b", check=False)
        self.assertEqual(bad.returncode, 1)
        self.assertIn("subject: line 1, column 1", bad.stderr)

        status, doc = s.request("POST", "/api/v1/templates/preview", {
            "topic": "LowStock", "body": "{item}: {new_count} <= {threshold}",
            "item": "Echo Dot", "new_count": 2, "threshold": 4})
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["subject"], "Low Stock Alert")
        self.assertEqual(doc["body"], "Echo Dot: 2 <= 4")
        out = s.cli("templates", "preview", "NoStock", "--body", "{store} lacks {item}")
        self.assertEqual(out.stdout, "Subject: Inventory Alert!\n\nBerlin lacks Echo Plus\n")


if __name__ == "__main__":
    unittest.main()
