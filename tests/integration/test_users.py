"""`stockwatch users add` and `users list` through the real binary on a real data directory.

The accounts land in the data directory's SQLite database with argon2id hashes only, the
rules on names, roles, stores and passwords are enforced, and a server started on the same
directory (and the command run beside it) sees the same accounts.
"""

import json
import os
import sqlite3
import subprocess
import tempfile
import unittest

from harness import BIN, Server

PASSWORD = "correct horse battery staple"


class UsersCommandTest(unittest.TestCase):
    def setUp(self):
        self.data = tempfile.mkdtemp(prefix="sw-users-")

    def users(self, *args, password=None, check=True):
        # A new session: no controlling terminal, as under CI.
        proc = subprocess.run([BIN, "users", *args, "--data", self.data], capture_output=True,
                              text=True, input=password, timeout=120, start_new_session=True)
        if check and proc.returncode != 0:
            raise AssertionError(f"users {' '.join(args)} exited {proc.returncode}:\n"
                                 f"{proc.stdout}\n{proc.stderr}")
        return proc

    def listed(self):
        return json.loads(self.users("list", "--format", "json").stdout)

    def test_adds_and_lists_users(self):
        out = self.users("add", "alice", "--role", "admin", "--password-stdin",
                         password=PASSWORD + "\n")
        self.assertIn("added user alice (admin)", out.stdout)
        self.users("add", "bob", "--role", "manager", "--stores", "Paris,Berlin",
                   "--password-stdin", password=PASSWORD + "\r\n")
        self.users("add", "viv", "--role", "viewer", "--password-stdin", password=PASSWORD)
        users = self.listed()
        self.assertEqual([u["name"] for u in users], ["alice", "bob", "viv"])
        self.assertEqual(users[0]["role"], "admin")
        self.assertIsNone(users[0]["stores"])
        self.assertEqual(users[1]["role"], "manager")
        self.assertEqual(users[1]["stores"], ["Berlin", "Paris"])
        self.assertEqual(users[2]["role"], "viewer")
        self.assertFalse(any(u["disabled"] for u in users))
        text = self.users("list").stdout
        self.assertIn("NAME", text)
        self.assertIn("Berlin,Paris", text)

        db = sqlite3.connect(os.path.join(self.data, "stockwatch.db"))
        hashes = [row[0] for row in db.execute("SELECT password_hash FROM users ORDER BY id")]
        db.close()
        self.assertEqual(len(hashes), 3)
        for h in hashes:
            self.assertTrue(h.startswith("$argon2id$v=19$m=65536,t=2,"), h)
        self.assertEqual(len(set(hashes)), 3)  # salted
        for name in os.listdir(self.data):
            path = os.path.join(self.data, name)
            if os.path.isfile(path):
                with open(path, "rb") as f:
                    self.assertNotIn(PASSWORD.encode(), f.read(), name)

    def test_refuses_bad_accounts_and_passwords(self):
        self.users("add", "alice", "--role", "admin", "--password-stdin", password=PASSWORD)
        cases = [
            (("add", "ALICE", "--role", "viewer"), PASSWORD, "already exists"),
            (("add", "bob", "--role", "viewer"), "short pw", "at least 12 characters"),
            (("add", "bob", "--role", "viewer"), " " * 20, "whitespace"),
            (("add", "bob", "--role", "manager"), PASSWORD, "at least one store"),
            (("add", "bob", "--role", "viewer", "--stores", "Berlin"), PASSWORD, "store list"),
            (("add", "bo b", "--role", "viewer"), PASSWORD, "user name"),
        ]
        for args, password, message in cases:
            with self.subTest(args=args):
                proc = self.users(*args, "--password-stdin", password=password, check=False)
                self.assertEqual(proc.returncode, 1, proc.stderr)
                self.assertIn(message, proc.stderr)
        proc = self.users("add", "bob", "--role", "owner", "--password-stdin",
                          password=PASSWORD, check=False)
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertEqual([u["name"] for u in self.listed()], ["alice"])

    def test_without_a_terminal_asks_for_password_stdin(self):
        proc = self.users("add", "alice", "--role", "admin", password=PASSWORD, check=False)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("--password-stdin", proc.stderr)
        self.assertEqual(self.listed(), [])

    def test_works_beside_a_running_server(self):
        self.users("add", "alice", "--role", "admin", "--password-stdin", password=PASSWORD)
        server = Server(data_dir=self.data).start()
        try:
            status, _ = server.get("/api/v1/stores")
            self.assertEqual(status, 200)
            self.users("add", "bob", "--role", "viewer", "--password-stdin", password=PASSWORD)
            self.assertEqual([u["name"] for u in self.listed()], ["alice", "bob"])
        finally:
            server.stop()
        self.assertEqual([u["name"] for u in self.listed()], ["alice", "bob"])


if __name__ == "__main__":
    unittest.main()
