"""Run localstripe (a stateful Stripe test server) on a loopback port chosen by the OS.

``localstripe`` itself listens on every interface; the tests must only ever bind 127.0.0.1,
so this runner serves localstripe's own aiohttp application on a socket it binds itself, and
prints the port on its first line of output for the test fixture to read.
"""

from __future__ import annotations

import socket
import sys

from aiohttp import web
from localstripe.server import app


def main() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    web.run_app(app, sock=sock, print=None, access_log=None)


if __name__ == "__main__":
    sys.exit(main())
