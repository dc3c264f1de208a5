"""The dashboard end to end in Debian's Chromium (tests/browser/dashboard.mjs, playwright-core).

A real `stockwatch serve` with the six sample files and two accounts (the first admin, from
STOCKWATCH_ADMIN_PASSWORD, and a viewer made through the users API); the node script logs in,
browses every page (axe-core on each: no serious or critical violation; a screenshot of each
into the artefact directory), uploads a file and watches another tab's counts change without
a reload, and checks what a viewer cannot do. Screenshots go to $SW_ARTIFACTS, else
<build dir>/browser-artifacts; with SW_UPDATE_SCREENSHOT=1 the inventory one is also copied to
docs/screenshots/inventory.png (the README's).
"""

import os
import shutil
import subprocess
import tempfile
import unittest

from harness import BIN, SAMPLES, Server

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../.."))
SCRIPT = os.path.join(ROOT, "tests/browser/dashboard.mjs")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ADMIN_PASSWORD = "admin password for the browser test"
VIEWER_PASSWORD = "viewer password for the browser test"


def node_major():
    try:
        out = subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=30)
        return int(out.stdout.strip().lstrip("v").split(".")[0])
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return 0


class DashboardBrowserTest(unittest.TestCase):
    def setUp(self):
        missing = [what for what, ok in [
            (CHROMIUM, os.access(CHROMIUM, os.X_OK)),
            ("node 20 or later", node_major() >= 20),
            ("web/node_modules/playwright-core",
             os.path.isdir(os.path.join(ROOT, "web/node_modules/playwright-core")))] if not ok]
        if missing:
            self.skipTest("needs " + ", ".join(missing) + " (scripts/setup.sh installs them)")
        self.server = Server(env={"STOCKWATCH_ADMIN_PASSWORD": ADMIN_PASSWORD}).start()
        self.addCleanup(self.server.stop)

    def test_dashboard_flow(self):
        s = self.server
        files = sorted(os.path.join(SAMPLES, f) for f in os.listdir(SAMPLES) if f.endswith(".csv"))
        self.assertEqual(len(files), 6)
        for path in files:
            with open(path, "rb") as f:
                status, doc = s.request("PUT", "/api/v1/uploads/" + os.path.basename(path),
                                        body=f.read())
            self.assertEqual(status, 201, doc)
            self.assertEqual(s.wait_loaded(doc["id"])["status"], "loaded")
        status, doc = s.request("POST", "/api/v1/users", body={
            "name": "viv", "role": "viewer", "password": VIEWER_PASSWORD})
        self.assertEqual(status, 201, doc)

        work = tempfile.mkdtemp(prefix="sw-browser-")
        restock = os.path.join(work, "berlin-restock.csv")
        with open(os.path.join(SAMPLES, "inventory-berlin.csv")) as f:
            text = f.read()
        self.assertIn("Berlin,Echo Plus,0\n", text)
        with open(restock, "w") as f:
            f.write(text.replace("Berlin,Echo Plus,0\n", "Berlin,Echo Plus,5\n"))

        artifacts = os.environ.get("SW_ARTIFACTS") or os.path.join(
            os.path.dirname(os.path.dirname(os.path.abspath(BIN))), "browser-artifacts")
        env = dict(os.environ, SW_URL=s.url, SW_ADMIN_USER="admin",
                   SW_ADMIN_PASSWORD=ADMIN_PASSWORD, SW_VIEWER_USER="viv",
                   SW_VIEWER_PASSWORD=VIEWER_PASSWORD, SW_RESTOCK_FILE=restock,
                   SW_ARTIFACTS=artifacts, CHROMIUM=CHROMIUM)
        proc = subprocess.run(["node", SCRIPT], env=env, capture_output=True, text=True,
                              timeout=300)
        if proc.returncode != 0:
            self.fail(f"dashboard.mjs exited {proc.returncode}\n--- stdout\n{proc.stdout}\n"
                      f"--- stderr\n{proc.stderr}\n--- server log (tail)\n{s.logs()[-4000:]}")
        self.assertIn("browser: 1 passed, 0 failed", proc.stdout)
        for page in ["login", "inventory", "uploads", "item", "subscriptions",
                     "subscriptions-test", "alerts", "overview", "admin", "viewer-admin"]:
            self.assertTrue(os.path.getsize(os.path.join(artifacts, page + ".png")) > 0, page)
        if os.environ.get("SW_UPDATE_SCREENSHOT") == "1":
            os.makedirs(os.path.join(ROOT, "docs/screenshots"), exist_ok=True)
            shutil.copyfile(os.path.join(artifacts, "inventory.png"),
                            os.path.join(ROOT, "docs/screenshots/inventory.png"))


if __name__ == "__main__":
    unittest.main()
