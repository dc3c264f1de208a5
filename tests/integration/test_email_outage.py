"""Email through a real SMTP server (aiosmtpd with STARTTLS and AUTH) that is down for a
while: every alert arrives once it is back, none lost, each exactly once with its own
Message-ID."""

import os
import socket
import subprocess
import tempfile
import unittest

from harness import HERE, SYS_PYTHON, Server, SmtpSink, _read_listening_line, wait_for


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpSinkOnPort(SmtpSink):
    """The SMTP sink on a given port, with STARTTLS and AUTH."""

    def __init__(self, port, directory, cert, key, auth):
        # Sink.__init__ picks a free port; this one must come back on the same port.
        self.dir = directory
        self.proc = subprocess.Popen(
            [SYS_PYTHON, os.path.join(HERE, "smtp_sink.py"), "--port", str(port), "--dir",
             directory, "--starttls-cert", cert, "--starttls-key", key, "--auth", auth],
            stdout=subprocess.PIPE, text=True)
        _read_listening_line(self.proc, "listening")
        self.port = port
        self.url = f"smtp://127.0.0.1:{port}"


class EmailOutageTest(unittest.TestCase):
    def test_smtp_server_down_then_up_delivers_every_alert_once(self):
        tmp = tempfile.mkdtemp(prefix="sw-smtp-")
        cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        key, "-out", cert, "-days", "1", "-subj", "/CN=localhost"],
                       check=True, capture_output=True)
        port = free_port()  # nothing listens there yet: the server is "down"
        mail_dir = os.path.join(tmp, "mail")
        os.mkdir(mail_dir)
        server = Server(env={
            "STOCKWATCH_SMTP_URL": f"smtp://127.0.0.1:{port}",
            "STOCKWATCH_SMTP_FROM": "stockwatch@example.test",
            "STOCKWATCH_SMTP_USERNAME": "alerts",
            "STOCKWATCH_SMTP_PASSWORD": "s3cret-pass",
            "STOCKWATCH_SMTP_REQUIRE_TLS": "true",
            "STOCKWATCH_SMTP_INSECURE_SKIP_VERIFY": "true",  # the throwaway certificate
            "STOCKWATCH_DELIVERY_INITIAL_BACKOFF_MS": "100",
            "STOCKWATCH_DELIVERY_MAX_BACKOFF_MS": "400",
            # Retries this fast would ask for more than the default 10 emails/s to one
            # address; the throttle is tested in tests/pipeline, not here.
            "STOCKWATCH_DELIVERY_EMAIL_RATE_PER_ADDRESS": "1000",
            "STOCKWATCH_DELIVERY_EMAIL_MAX_ATTEMPTS": "1000",
        }).start()
        sink = None
        try:
            server.cli("subscribe", "--topic", "NoStock", "--confirmed", "mailto:ops@example.test")
            path = os.path.join(tmp, "zeros.csv")
            with open(path, "w") as f:
                f.write("store,item,count\n")
                for i in range(20):
                    f.write(f"Berlin,Item {i},0\n")
            server.cli("upload", path)

            # Down: every delivery fails its first attempts and stays pending.
            def retried():
                _, doc = server.get("/api/v1/deliveries?state=pending&limit=100")
                ds = doc["deliveries"]
                return len(ds) == 20 and all(d["attempts"] >= 2 and d["last_error"] for d in ds)
            wait_for(retried, timeout=60, what="20 pending deliveries retried while SMTP is down")
            self.assertNotIn("s3cret-pass", server.logs())

            # Up again, on the same port: everything arrives, once.
            sink = SmtpSinkOnPort(port, mail_dir, cert, key, "alerts:s3cret-pass")
            wait_for(lambda: len(sink.messages()) >= 20, timeout=60, what="20 emails")
            wait_for(lambda: server.get("/api/v1/deliveries?state=pending")[1]["deliveries"] == [],
                     what="no pending deliveries")
            mails = sink.messages()
            self.assertEqual(len(mails), 20)
            firsts = sorted(m.get_body(("plain",)).get_content().splitlines()[0] for m in mails)
            self.assertEqual(firsts, sorted(f"Berlin is out of stock of Item {i}"
                                            for i in range(20)))
            self.assertEqual(len({m["Message-ID"] for m in mails}), 20)
            _, failed = server.get("/api/v1/deliveries?state=failed")
            self.assertEqual(failed["deliveries"], [])
        finally:
            server.stop()
            if sink:
                sink.stop()


if __name__ == "__main__":
    unittest.main()
