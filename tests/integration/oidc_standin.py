"""The browser-facing half of an OpenID Connect provider, for sign-in tests, and the HTTP
helpers those tests share (GET without following redirects, Set-Cookie parsing).

moto serves Cognito's API and each pool's JWKS, and mints real RS256 ID tokens, but has no
hosted UI: no /oauth2/authorize, no /oauth2/token. StandInProvider plays that part IN THE
TESTS: its authorize endpoint redirects back with a code, and its token endpoint checks the
PKCE code_verifier against the challenge the authorize request carried (as Cognito's does)
and answers with an ID token the test supplies (one minted by moto). It serves both the
short paths (/authorize, /token) and Cognito's hosted-UI paths (/oauth2/authorize,
/oauth2/token).
"""

import base64
import hashlib
import http.server
import json
import secrets
import threading
import urllib.error
import urllib.parse
import urllib.request


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class StandInProvider:
    """The browser-facing half of an OIDC provider, carrying ID tokens minted by moto.

    `id_token_for(user)` returns the token /token hands out for the user who "signs in" at
    /authorize (`self.user`; a browser script changes it with POST /_test/user, the name as
    the body).
    """

    def __init__(self, client_id, id_token_for):
        self.client_id = client_id
        self.id_token_for = id_token_for
        self.user = None
        self.codes = {}
        self.token_requests = []
        provider = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def reply(self, status, body=b"", headers=()):
                self.send_response(status)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                q = dict(urllib.parse.parse_qsl(url.query))
                if url.path not in ("/authorize", "/oauth2/authorize"):
                    return self.reply(404)
                if (q.get("response_type") != "code" or q.get("client_id") != provider.client_id
                        or q.get("code_challenge_method") != "S256"
                        or "openid" not in q.get("scope", "").split()
                        or not q.get("state") or not q.get("nonce")
                        or not q.get("code_challenge")):
                    return self.reply(400, b"bad authorization request")
                code = secrets.token_urlsafe(16)
                provider.codes[code] = {"challenge": q["code_challenge"],
                                        "redirect_uri": q["redirect_uri"],
                                        "user": provider.user, "nonce": q["nonce"]}
                location = q["redirect_uri"] + "?" + urllib.parse.urlencode(
                    {"code": code, "state": q["state"]})
                self.reply(302, headers=[("Location", location)])

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length).decode()
                if self.path == "/_test/user":
                    provider.user = raw
                    return self.reply(204)
                form = dict(urllib.parse.parse_qsl(raw))
                provider.token_requests.append(form)
                if self.path not in ("/token", "/oauth2/token"):
                    return self.reply(404)
                grant = provider.codes.pop(form.get("code", ""), None)  # single use
                error = None
                if form.get("grant_type") != "authorization_code" or grant is None:
                    error = "invalid_grant"
                elif form.get("redirect_uri") != grant["redirect_uri"]:
                    error = "invalid_grant"
                elif form.get("client_id") != provider.client_id:
                    error = "invalid_client"
                else:
                    verifier = form.get("code_verifier", "")
                    challenge = b64url(hashlib.sha256(verifier.encode()).digest())
                    if not 43 <= len(verifier) <= 128 or challenge != grant["challenge"]:
                        error = "invalid_grant"
                if error:
                    body = json.dumps({"error": error}).encode()
                    return self.reply(400, body, [("Content-Type", "application/json")])
                body = json.dumps({"id_token": provider.id_token_for(grant["user"]),
                                   "token_type": "Bearer", "expires_in": 3600}).encode()
                self.reply(200, body, [("Content-Type", "application/json")])

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def fetch(url, cookies=None):
    """GET without following redirects: (status, headers, body)."""
    headers = {}
    if cookies:
        headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    req = urllib.request.Request(url, headers=headers)
    try:
        with OPENER.open(req, timeout=60) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read()


def set_cookies(headers):
    """name -> (value, attributes) of every Set-Cookie."""
    out = {}
    for line in headers.get_all("Set-Cookie") or []:
        parts = [p.strip() for p in line.split(";")]
        name, _, value = parts[0].partition("=")
        out[name] = (value, parts[1:])
    return out
