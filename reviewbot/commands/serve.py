"""``reviewbot serve``: the dashboard on a local port (werkzeug's server).

For more than a handful of users put it behind a WSGI server
(``gunicorn 'reviewbot.web:create_app()'``); this command is for one
maintainer's machine.
"""

from __future__ import annotations

import argparse

from reviewbot.errors import UsageError
from reviewbot.storage.db import database_url


def run(args: argparse.Namespace) -> int:
    from werkzeug.serving import run_simple

    from reviewbot.web import create_app

    app = create_app({"DATABASE_URL": database_url(args.database)})
    print(f"reviewbot dashboard on http://{args.host}:{args.port}/", flush=True)
    try:
        run_simple(args.host, args.port, app, threaded=True, use_reloader=False)
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    return 0
