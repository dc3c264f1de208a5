#!/usr/bin/python3
"""An SMTP sink for tests: accepts every message and saves it as one .eml file.

    /usr/bin/python3 smtp_sink.py --port 0 --dir /tmp/mail [--host 127.0.0.1]
        [--starttls-cert CERT --starttls-key KEY] [--auth USER:PASSWORD]

Built on aiosmtpd's Controller (Debian's python3-aiosmtpd). When it is ready it prints
`listening <port>` on stdout (flushed), so `--port 0` can be used to pick a free port. Each
message is written to DIR as `<ns since epoch>-<n>.eml` through a temporary file and a
rename, so a reader never sees a partial file, and before the server replies 250 to the
data, so a client that got its 250 can read the file at once. The file is the message as
received (dot-stuffing undone), preceded by three headers that record the envelope:
`X-Peer`, `X-MailFrom` and `X-RcptTo` (comma-separated), as aiosmtpd's own handlers do.

Scripted failures: a recipient whose local part is `reply-NNN` (e.g. `reply-451@example.com`
or `reply-550@example.com`) is answered `NNN <text>` to RCPT TO, so tests can exercise
temporary and permanent refusals without restarting the sink.

With --starttls-cert/--starttls-key the server offers STARTTLS (not required). With --auth
it offers AUTH PLAIN/LOGIN (after STARTTLS only, as aiosmtpd requires by default) and
accepts just that user and password. TCP_NODELAY is set on every accepted connection, so
multi-line replies are not held back by Nagle's algorithm. Stops on SIGTERM or SIGINT.
"""

import argparse
import itertools
import logging
import os
import re
import signal
import socket
import ssl
import sys
import tempfile
import threading
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult

_SCRIPTED_REPLY = re.compile(r"^reply-([45]\d\d)@", re.IGNORECASE)


class SaveToDirectory:
    """aiosmtpd handler: scripted RCPT replies, and one .eml file per message."""

    def __init__(self, directory):
        self.directory = directory
        self.counter = itertools.count(1)
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        match = _SCRIPTED_REPLY.match(address)
        if match:
            code = match.group(1)
            return f"{code} {code[0]}.0.0 scripted reply for {address}"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        peer = session.peer[0] if isinstance(session.peer, tuple) else str(session.peer)
        prefix = (
            f"X-Peer: {peer}\r\n"
            f"X-MailFrom: {envelope.mail_from}\r\n"
            f"X-RcptTo: {', '.join(envelope.rcpt_tos)}\r\n"
        ).encode("ascii", "replace")
        with self.lock:
            n = next(self.counter)
        name = f"{time.time_ns():020d}-{n:06d}.eml"
        fd, temp_path = tempfile.mkstemp(prefix=".incoming-", dir=self.directory)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(prefix)
                f.write(envelope.original_content or b"")
            os.replace(temp_path, os.path.join(self.directory, name))
        except BaseException:
            os.unlink(temp_path)
            raise
        return "250 OK saved"


class NoDelaySMTP(SMTP):
    def connection_made(self, transport):
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        super().connection_made(transport)


class SinkController(Controller):
    """A Controller that also works with port 0 and uses NoDelaySMTP."""

    def factory(self):
        return NoDelaySMTP(self.handler, **self.SMTP_kwargs)

    def _create_server(self):
        async def create():
            server = await self.loop.create_server(
                self._factory_invoker,
                host=self.hostname,
                port=self.port,
                ssl=self.ssl_context,
            )
            # With port 0 the kernel picked one; the readiness probe and the caller need it.
            self.port = server.sockets[0].getsockname()[1]
            return server

        return create()


def main():
    # aiosmtpd 1.4 logs a warning about its own use of Session.login_data on every login;
    # errors (such as failed TLS handshakes) still show on stderr.
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--dir", required=True, help="where to write the .eml files")
    parser.add_argument("--starttls-cert", help="PEM certificate: offer STARTTLS")
    parser.add_argument("--starttls-key", help="PEM private key for --starttls-cert")
    parser.add_argument("--auth", help="USER:PASSWORD accepted by AUTH")
    args = parser.parse_args()

    os.makedirs(args.dir, exist_ok=True)
    kwargs = {}
    if args.starttls_cert:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(args.starttls_cert, args.starttls_key)
        kwargs["tls_context"] = context
    if args.auth:
        user, _, password = args.auth.partition(":")

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = (
                getattr(auth_data, "login", None) == user.encode()
                and getattr(auth_data, "password", None) == password.encode()
            )
            # handled=False: aiosmtpd itself answers 535 to a failed login.
            return AuthResult(success=ok, handled=False)

        kwargs["authenticator"] = authenticator
        kwargs["auth_require_tls"] = bool(args.starttls_cert)

    controller = SinkController(
        SaveToDirectory(args.dir), hostname=args.host, port=args.port, **kwargs
    )
    controller.start()

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    print(f"listening {controller.port}", flush=True)
    try:
        while not stop.wait(3600):
            pass
    finally:
        controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
