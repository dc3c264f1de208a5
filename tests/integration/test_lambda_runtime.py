"""`stockwatch lambda`, the custom runtime's bootstrap, against a fake Lambda Runtime API.

No real AWS Lambda can run here: lambda_runtime_fake.py plays the service side of the
Runtime API (next, response, error, init error) on loopback, and the real binary runs as
Lambda would start it (AWS_LAMBDA_RUNTIME_API, _HANDLER). The events used need no AWS call
(check-stock with records that change no count; events that fail to parse), so nothing
talks to AWS or moto.
"""

import json
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import BIN
from lambda_runtime_fake import FakeRuntimeApi

EQUAL_IMAGES = {
    "Records": [{
        "eventID": "1", "eventName": "MODIFY", "eventVersion": "1.1",
        "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1764084110,
            "Keys": {"Store": {"S": "Berlin"}, "Item": {"S": "Echo Plus"}},
            "NewImage": {"Store": {"S": "Berlin"}, "Item": {"S": "Echo Plus"}, "Count": {"N": "4"}},
            "OldImage": {"Store": {"S": "Berlin"}, "Item": {"S": "Echo Plus"}, "Count": {"N": "4"}},
            "SequenceNumber": "111100000000000000000001", "SizeBytes": 60,
            "StreamViewType": "NEW_AND_OLD_IMAGES"},
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/Inventory/stream/x"}]
}


def lambda_env(api, handler):
    env = dict(os.environ)
    env.update({
        "AWS_LAMBDA_RUNTIME_API": api, "_HANDLER": handler,
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        # Nothing listens here: the test's events must never reach AWS.
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "HOME": tempfile.gettempdir(),
    })
    env.pop("_X_AMZN_TRACE_ID", None)
    return env


class LambdaRuntimeTest(unittest.TestCase):
    def setUp(self):
        self.fake = FakeRuntimeApi()
        self.addCleanup(self.fake.close)

    def start(self, handler):
        proc = subprocess.Popen([BIN, "lambda"], env=lambda_env(self.fake.address, handler),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

        def stop():
            if proc.poll() is None:
                proc.kill()
            proc.communicate(timeout=30)
        self.addCleanup(stop)
        return proc

    def test_responses_errors_and_trace_header(self):
        proc = self.start("check-stock")
        self.fake.push("req-1", {"Records": []}, {"Lambda-Runtime-Trace-Id": "Root=1-5e1b4151-aaaa;Sampled=1"})
        self.fake.push("req-2", EQUAL_IMAGES)
        self.fake.push("req-3", "this is not json", {"Lambda-Runtime-Trace-Id": "Root=1-5e1b4151-cccc"})
        self.fake.push("req-4", {"foo": 1})
        posts = self.fake.wait_posts(4)
        self.fake.wait_next_requests(5)  # the runtime asks for the next event after each
        by_id = {p["request_id"]: p for p in posts}

        self.assertEqual(by_id["req-1"]["kind"], "response")
        self.assertEqual(json.loads(by_id["req-1"]["body"]), {"batchItemFailures": []})
        self.assertEqual(by_id["req-2"]["kind"], "response")
        self.assertEqual(json.loads(by_id["req-2"]["body"]), {"batchItemFailures": []})

        for rid in ("req-3", "req-4"):
            self.assertEqual(by_id[rid]["kind"], "error")
            body = json.loads(by_id[rid]["body"])
            self.assertEqual(body["errorType"], "Runtime.InvalidEvent")
            self.assertTrue(body["errorMessage"])
            self.assertEqual(by_id[rid]["headers"].get("Lambda-Runtime-Function-Error-Type"),
                             "Runtime.InvalidEvent")
        self.assertIn("not a DynamoDB stream event", json.loads(by_id["req-4"]["body"])["errorMessage"])

        proc.kill()
        _, err = proc.communicate(timeout=30)
        logs = {}
        for line in err.splitlines():  # one JSON line per invocation, on stderr
            if not line.startswith("{"):
                continue
            doc = json.loads(line)
            if doc.get("msg") == "invocation":
                logs[doc["requestId"]] = doc
        # _X_AMZN_TRACE_ID is set from each invocation's header, and unset without one.
        self.assertEqual(logs["req-1"]["xrayTraceId"], "Root=1-5e1b4151-aaaa;Sampled=1")
        self.assertEqual(logs["req-2"]["xrayTraceId"], "")
        self.assertEqual(logs["req-3"]["xrayTraceId"], "Root=1-5e1b4151-cccc")

    def test_runs_as_bootstrap_without_arguments(self):
        # Lambda starts /var/task/bootstrap with no arguments.
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp, True)
        bootstrap = os.path.join(tmp, "bootstrap")
        os.symlink(os.path.abspath(BIN), bootstrap)
        proc = subprocess.Popen([bootstrap], env=lambda_env(self.fake.address, "check-stock"),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (proc.kill(), proc.wait()))
        self.fake.push("req-b", {"Records": []})
        post = self.fake.wait_posts(1)[0]
        self.assertEqual((post["kind"], post["request_id"]), ("response", "req-b"))

    def test_unknown_handler_is_an_init_error(self):
        proc = self.start("no-such-handler")
        self.assertEqual(proc.wait(timeout=30), 1)
        posts = self.fake.wait_posts(1)
        self.assertEqual(posts[0]["kind"], "init_error")
        body = json.loads(posts[0]["body"])
        self.assertEqual(body["errorType"], "Runtime.UnknownHandler")
        self.assertIn('unknown handler "no-such-handler"', body["errorMessage"])
        self.assertEqual(posts[0]["headers"].get("Lambda-Runtime-Function-Error-Type"),
                         "Runtime.UnknownHandler")
        self.assertEqual(self.fake.next_requests, [])

    def test_load_inventory_refuses_a_bad_event(self):
        self.start("load-inventory")
        self.fake.push("req-9", {"Records": [{"s3": {"bucket": {"name": "b"}}}]})
        post = self.fake.wait_posts(1)[0]
        self.assertEqual(post["kind"], "error")
        self.assertIn("Records[0].s3.object.key", json.loads(post["body"])["errorMessage"])


class LambdaInvokeTest(unittest.TestCase):
    def test_invoke_prints_the_result(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(EQUAL_IMAGES, f)
        self.addCleanup(os.unlink, f.name)
        env = lambda_env("unused:1", "")
        del env["AWS_LAMBDA_RUNTIME_API"]
        run = subprocess.run([BIN, "lambda", "--invoke", "check-stock", "--event", f.name],
                             env=env, capture_output=True, text=True, timeout=60)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(json.loads(run.stdout), {"batchItemFailures": []})

    def test_invoke_unknown_handler_is_a_usage_error(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            f.write("{}")
        self.addCleanup(os.unlink, f.name)
        run = subprocess.run([BIN, "lambda", "--invoke", "nope", "--event", f.name],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(run.returncode, 2)
        self.assertIn('unknown handler "nope"', run.stderr)


if __name__ == "__main__":
    unittest.main()
