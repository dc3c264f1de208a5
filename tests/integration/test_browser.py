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
import tempfile
import unittest

from harness import (ROOT, SAMPLES, Server, browser_artifacts, browser_test_missing,
                     run_browser_script)

ADMIN_PASSWORD = "admin password for the browser test"
VIEWER_PASSWORD = "viewer password for the browser test"


class DashboardBrowserTest(unittest.TestCase):
    def setUp(self):
        missing = browser_test_missing()
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

        artifacts = browser_artifacts()
        env = dict(os.environ, SW_URL=s.url, SW_ADMIN_USER="admin",
                   SW_ADMIN_PASSWORD=ADMIN_PASSWORD, SW_VIEWER_USER="viv",
                   SW_VIEWER_PASSWORD=VIEWER_PASSWORD, SW_RESTOCK_FILE=restock,
                   SW_ARTIFACTS=artifacts)
        stdout = run_browser_script(self, "dashboard.mjs", env, s.logs())
        self.assertIn("browser: 1 passed, 0 failed", stdout)
        for page in ["login", "inventory", "uploads", "item", "subscriptions",
                     "subscriptions-test", "alerts", "overview", "admin", "viewer-admin"]:
            self.assertTrue(os.path.getsize(os.path.join(artifacts, page + ".png")) > 0, page)
        if os.environ.get("SW_UPDATE_SCREENSHOT") == "1":
            os.makedirs(os.path.join(ROOT, "docs/screenshots"), exist_ok=True)
            shutil.copyfile(os.path.join(artifacts, "inventory.png"),
                            os.path.join(ROOT, "docs/screenshots/inventory.png"))


if __name__ == "__main__":
    unittest.main()
