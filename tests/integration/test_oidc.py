"""Sign-in with OpenID Connect against Amazon Cognito as moto_server emulates it.

moto serves Cognito's API and each pool's JWKS (`/<pool>/.well-known/jwks.json`), and its
`initiate-auth` mints real RS256 ID tokens (iss = the real AWS URL, aud = the app client,
token_use = "id", cognito:groups, custom: attributes) signed with the key of that JWKS. It
has no hosted UI: no /oauth2/authorize, no /oauth2/token, no discovery document. So the
browser side of the flow runs against a stand-in provider (oidc_standin.py) started IN THIS TEST: its
/authorize redirects back with a code, and its /token checks the PKCE code_verifier against
the challenge /authorize received (as Cognito's token endpoint does) and answers with an ID
token minted by moto for the user. The stand-in only carries moto's real tokens; every check
of them (signature against moto's JWKS, iss, aud, exp, token_use) is stockwatch's.

moto's tokens carry no `nonce` (initiate-auth has none to echo), so the server under test
runs with oidc.require_nonce = false; a second server with the default shows that a token
without the nonce is refused.
"""

import json
import unittest
import urllib.parse

from harness import Server
from moto_support import REGION, MotoServer
from oidc_standin import StandInProvider, b64url, b64url_decode, fetch, set_cookies

PASSWORD = "Passw0rd!long-enough"


class OidcCognitoTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.moto = MotoServer()
        try:
            cls._make_pool()
        except Exception:
            cls.moto.stop()
            raise

    @classmethod
    def _make_pool(cls):
        m = cls.moto
        cls.pool_id, cls.client_id, cls.other_client_id = m.make_user_pool(PASSWORD)
        cls.issuer = f"https://cognito-idp.{REGION}.amazonaws.com/{cls.pool_id}"
        cls.jwks_uri = f"{m.url}/{cls.pool_id}/.well-known/jwks.json"

    @classmethod
    def tearDownClass(cls):
        cls.moto.stop()

    def moto_id_token(self, user, client_id=None):
        return self.moto.id_token(client_id or self.client_id, user, PASSWORD)

    def setUp(self):
        # What /token hands out; tests replace it to tamper.
        self.token_source = self.moto_id_token
        self.provider = StandInProvider(self.client_id, lambda user: self.token_source(user))
        self.addCleanup(self.provider.stop)
        self.server = self.start_server(require_nonce=False)

    def start_server(self, require_nonce):
        server = Server(env={
            "STOCKWATCH_OIDC_ISSUER": self.issuer,
            "STOCKWATCH_OIDC_CLIENT_ID": self.client_id,
            "STOCKWATCH_OIDC_AUTHORIZATION_ENDPOINT": self.provider.url + "/authorize",
            "STOCKWATCH_OIDC_TOKEN_ENDPOINT": self.provider.url + "/token",
            "STOCKWATCH_OIDC_JWKS_URI": self.jwks_uri,
            "STOCKWATCH_OIDC_ADMIN_GROUPS": "stockwatch-admins",
            "STOCKWATCH_OIDC_MANAGER_GROUPS": "stockwatch-managers",
            "STOCKWATCH_OIDC_REQUIRE_NONCE": "true" if require_nonce else "false",
        }).start()
        self.addCleanup(server.stop)
        return server

    def sign_in(self, user, server=None, change_state=None):
        """Drives the browser through the flow by hand; returns the callback's
        (status, headers, body)."""
        server = server or self.server
        self.provider.user = user
        status, headers, _ = fetch(server.url + "/api/v1/oidc/login")
        self.assertEqual(status, 302)
        location = headers["Location"]
        self.assertTrue(location.startswith(self.provider.url + "/authorize?"), location)
        q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(location).query))
        self.assertEqual(q["client_id"], self.client_id)
        self.assertEqual(q["redirect_uri"], server.url + "/api/v1/oidc/callback")
        self.assertEqual(q["code_challenge_method"], "S256")
        cookie = set_cookies(headers)["sw_oidc"]
        self.assertIn("HttpOnly", cookie[1])
        self.assertIn("SameSite=Lax", cookie[1])

        status, headers, body = fetch(location)
        self.assertEqual(status, 302, body)
        callback = headers["Location"]
        self.assertTrue(callback.startswith(server.url + "/api/v1/oidc/callback?"), callback)
        if change_state:
            parts = urllib.parse.urlsplit(callback)
            q = dict(urllib.parse.parse_qsl(parts.query))
            q["state"] = change_state(q["state"])
            callback = parts._replace(query=urllib.parse.urlencode(q)).geturl()
        return fetch(callback, cookies={"sw_oidc": cookie[0]})

    def me(self, session_id, server=None):
        status, _, body = fetch((server or self.server).url + "/api/v1/me",
                                cookies={"sw_session": session_id})
        return status, json.loads(body)

    def test_config_says_enabled(self):
        status, _, body = fetch(self.server.url + "/api/v1/oidc/config")
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), {"enabled": True, "login_url": "/api/v1/oidc/login"})

    def test_cognito_group_member_signs_in_as_admin(self):
        status, headers, body = self.sign_in("alice")
        self.assertEqual(status, 302, body)
        self.assertEqual(headers["Location"], "/")
        cookies = set_cookies(headers)
        session, attributes = cookies["sw_session"]
        self.assertIn("HttpOnly", attributes)
        self.assertIn("SameSite=Strict", attributes)
        self.assertEqual(cookies["sw_oidc"][0], "")  # the attempt's cookie is cleared
        # The stand-in got the verifier whose challenge went to /authorize (it checked it).
        self.assertEqual(len(self.provider.token_requests), 1)
        self.assertGreaterEqual(len(self.provider.token_requests[0]["code_verifier"]), 43)

        status, doc = self.me(session)
        self.assertEqual(status, 200, doc)
        self.assertEqual(doc["user"], {"name": "alice", "role": "admin", "stores": None})
        self.assertTrue(doc["csrf_token"])
        # A second sign-in is a new session of the same account.
        status, headers, body = self.sign_in("alice")
        self.assertEqual(status, 302, body)
        self.assertNotEqual(set_cookies(headers)["sw_session"][0], session)
        users = json.loads(self.server.cli("users", "list", "--format", "json", "--data",
                                           self.server.data_dir).stdout)
        self.assertEqual([u["role"] for u in users if u["name"] == "alice"], ["admin"])

    def test_groups_map_to_manager_and_viewer(self):
        status, headers, body = self.sign_in("carol")
        self.assertEqual(status, 302, body)
        status, doc = self.me(set_cookies(headers)["sw_session"][0])
        self.assertEqual(doc["user"], {"name": "carol", "role": "manager", "stores": ["Berlin"]})
        status, headers, body = self.sign_in("bob")
        self.assertEqual(status, 302, body)
        status, doc = self.me(set_cookies(headers)["sw_session"][0])
        self.assertEqual(doc["user"], {"name": "bob", "role": "viewer", "stores": None})

    def test_tampered_token_is_refused(self):
        def tampered(user):
            header, payload, signature = self.moto_id_token(user).split(".")
            raw = bytearray(b64url_decode(signature))
            raw[7] ^= 0x01
            return ".".join([header, payload, b64url(bytes(raw))])

        self.token_source = tampered
        status, headers, body = self.sign_in("alice")
        self.assertEqual(status, 401, body)
        self.assertIn("signature does not verify", json.loads(body)["error"]["message"])
        self.assertNotIn("sw_session", set_cookies(headers))

    def test_token_for_another_client_is_refused(self):
        self.token_source = lambda user: self.moto_id_token(user, self.other_client_id)
        status, _, body = self.sign_in("alice")
        self.assertEqual(status, 401, body)
        self.assertIn('"aud" is not this client', json.loads(body)["error"]["message"])

    def test_access_token_is_refused(self):
        def access_token(user):
            doc = self.moto.cognito("InitiateAuth", {
                "ClientId": self.client_id, "AuthFlow": "USER_PASSWORD_AUTH",
                "AuthParameters": {"USERNAME": user, "PASSWORD": PASSWORD}})
            return doc["AuthenticationResult"]["AccessToken"]

        self.token_source = access_token
        status, _, body = self.sign_in("alice")
        self.assertEqual(status, 401, body)
        self.assertIn('"aud" is missing', json.loads(body)["error"]["message"])

    def test_wrong_state_is_refused(self):
        status, headers, body = self.sign_in("alice", change_state=lambda s: s[:-2] + "xx")
        self.assertEqual(status, 401, body)
        self.assertIn("state does not match", json.loads(body)["error"]["message"])
        self.assertNotIn("sw_session", set_cookies(headers))
        # The code was never redeemed.
        self.assertEqual(self.provider.token_requests, [])

    def test_callback_without_the_browsers_cookie_is_refused(self):
        self.provider.user = "alice"
        _, headers, _ = fetch(self.server.url + "/api/v1/oidc/login")
        _, headers, _ = fetch(headers["Location"])
        status, _, body = fetch(headers["Location"])  # no sw_oidc cookie: another browser
        self.assertEqual(status, 401, body)
        self.assertEqual(self.provider.token_requests, [])

    def test_token_without_nonce_is_refused_by_default(self):
        server = self.start_server(require_nonce=True)
        status, _, body = self.sign_in("alice", server=server)
        self.assertEqual(status, 401, body)
        self.assertIn('"nonce" is missing', json.loads(body)["error"]["message"])


if __name__ == "__main__":
    unittest.main()
