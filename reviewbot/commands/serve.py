"""``reviewbot serve``: the dashboard on a local port (werkzeug's server).

For more than a handful of users put it behind a WSGI server
(``gunicorn 'reviewbot.web:create_app()'``); this command is for one
maintainer's machine.  The database is ``--database``, else
``$REVIEWBOT_DATABASE_URL``, else the ``database`` of the config file in
``$REVIEWBOT_CONFIG`` (what the systemd unit sets, as for the watcher), else
the XDG SQLite file (storage/db.py); the token for actions is
``$REVIEWBOT_WEB_TOKEN``.
"""

from __future__ import annotations

import argparse
import socket

from reviewbot.errors import UsageError
from reviewbot.storage.db import database_url


def run(args: argparse.Namespace) -> int:
    if not 0 <= args.port <= 65535:
        # getaddrinfo() wraps 99999 to 34463 without a word.
        raise UsageError(f"--port {args.port}: not a TCP port (0 to 65535)")
    from werkzeug.serving import make_server

    from reviewbot.config import load_config
    from reviewbot.web import create_app

    # load_config() applies $REVIEWBOT_DATABASE_URL and the XDG default itself.
    url = args.database or load_config().database
    app = create_app({"DATABASE_URL": database_url(url)})
    # Bind here: werkzeug's own bind failure prints and calls sys.exit(1).
    try:
        infos = socket.getaddrinfo(args.host, args.port, type=socket.SOCK_STREAM)
        sock = socket.socket(infos[0][0], socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(infos[0][4])
        sock.listen(128)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {reason}") from None
    server = make_server(args.host, args.port, app, threaded=True, fd=sock.fileno())
    print(f"reviewbot dashboard on http://{args.host}:{server.port}/", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0
