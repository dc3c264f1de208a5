"""The Lambda zip itself (`ninja lambda_zip`), unpacked and run as Lambda would run it.

Run by the ctest `lambda_zip_run` (src/CMakeLists.txt), which builds the zip first and
passes its path in STOCKWATCH_LAMBDA_ZIP; without that variable (the generic
integration_test_lambda_zip entry) every test is skipped, since the zip is not part of the
default build. No real Lambda or Amazon Linux 2023 runs here: the bootstrap runs on this
machine against lambda_runtime_fake.py, with LD_LIBRARY_PATH unset so that the libraries
it loads are the ones the zip carries (its RPATH, $ORIGIN/lib), and exceptions and the
Runtime API loop are exercised in the zipped binary, whose unwinder and std::random_device
go through src/lambda/bootstrap/glibc_compat.cc.
"""

import json
import os
import shutil
import subprocess
import tempfile
import unittest
import zipfile

from lambda_runtime_fake import FakeRuntimeApi
from test_lambda_runtime import EQUAL_IMAGES, lambda_env

ZIP = os.environ.get("STOCKWATCH_LAMBDA_ZIP")
GLIBC = ("linux-vdso", "ld-linux", "libc.so", "libm.so", "libpthread.so", "libdl.so",
         "librt.so", "libresolv.so", "libutil.so")


def unzip(path, into):
    """Extracts `path` into `into` with each member's Unix mode, as Lambda does."""
    with zipfile.ZipFile(path) as z:
        for info in z.infolist():
            out = z.extract(info, into)
            os.chmod(out, (info.external_attr >> 16) & 0o777)
        return z.namelist()


@unittest.skipUnless(ZIP, "STOCKWATCH_LAMBDA_ZIP not set: run through the ctest lambda_zip_run")
class LambdaZipTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp()
        cls.names = unzip(ZIP, cls.dir)
        cls.bootstrap = os.path.join(cls.dir, "bootstrap")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    def env(self, api="unused:1", handler="check-stock"):
        env = lambda_env(api, handler)
        env.pop("LD_LIBRARY_PATH", None)
        return env

    def test_carries_no_gcc_runtime_and_loads_only_its_own_libraries(self):
        self.assertIn("bootstrap", self.names)
        libs = [n for n in self.names if n.startswith("lib/")]
        self.assertTrue(libs)
        for name in libs:
            self.assertFalse(os.path.basename(name).startswith(("libstdc++", "libgcc_s")), name)
        out = subprocess.run(["ldd", self.bootstrap], env=self.env(), capture_output=True,
                             text=True, check=True).stdout
        lib_dir = os.path.join(self.dir, "lib")
        for line in out.splitlines():
            if "=>" not in line or line.strip().startswith(GLIBC):
                continue
            path = line.split("=>", 1)[1].split(" (")[0].strip()
            self.assertEqual(os.path.dirname(path), lib_dir, line)

    def test_serves_invocations_from_the_runtime_api(self):
        fake = FakeRuntimeApi()
        self.addCleanup(fake.close)
        proc = subprocess.Popen([self.bootstrap], env=self.env(fake.address),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (proc.kill(), proc.wait()))
        fake.push("req-1", {"Records": []})
        fake.push("req-2", EQUAL_IMAGES)
        fake.push("req-3", "this is not json")
        by_id = {p["request_id"]: p for p in fake.wait_posts(3)}
        self.assertEqual(by_id["req-1"]["kind"], "response")
        self.assertEqual(json.loads(by_id["req-2"]["body"]), {"batchItemFailures": []})
        self.assertEqual(by_id["req-3"]["kind"], "error")
        self.assertEqual(json.loads(by_id["req-3"]["body"])["errorType"], "Runtime.InvalidEvent")

    def test_invoke_prints_the_result(self):
        event = os.path.join(self.dir, "event.json")
        with open(event, "w") as f:
            json.dump(EQUAL_IMAGES, f)
        run = subprocess.run([self.bootstrap, "lambda", "--invoke", "check-stock", "--event",
                              event], env=self.env(), capture_output=True, text=True,
                             timeout=60)
        self.assertEqual(run.returncode, 0, run.stderr)
        self.assertEqual(json.loads(run.stdout), {"batchItemFailures": []})

    def test_exceptions_are_caught(self):
        # Both errors are C++ exceptions thrown and caught inside the bootstrap (CLI11's
        # ParseError; toml++'s parse_error, then CLI11's RuntimeError). Had the unwinder not
        # found the frames' tables, std::terminate would abort the process (SIGABRT, -6).
        run = subprocess.run([self.bootstrap, "lambda", "--no-such-flag"], env=self.env(),
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(run.returncode, 2, run.stderr)
        self.assertIn("--no-such-flag", run.stderr)
        bad = os.path.join(self.dir, "bad.toml")
        with open(bad, "w") as f:
            f.write("[server\nlisten = \n")
        run = subprocess.run([self.bootstrap, "users", "list", "--config", bad, "--data",
                              os.path.join(self.dir, "data")], env=self.env(),
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(run.returncode, 1, run.stderr)
        self.assertIn(bad + ":1:", run.stderr)


if __name__ == "__main__":
    unittest.main()
