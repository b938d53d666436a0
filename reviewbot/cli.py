"""Command-line entry point: ``reviewbot SUBCOMMAND ...``.

The flags here are a contract (other parts, b4 and CI call them): add, never
rename.  Each subcommand lives in ``reviewbot/commands/<name>.py`` and exposes
``run(args) -> int``; it is imported only when used so that ``reviewbot
check`` does not pay for Flask or Celery.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import threading

from reviewbot import __version__
from reviewbot.errors import UsageError
from reviewbot.models import SIM_ENTRY, ExitStatus
from reviewbot.terminal import escape_controls, guard

CONFIG_HELP = "reviewbot.toml (default: $REVIEWBOT_CONFIG, else the built-in defaults)"
DATABASE_HELP = (
    "database URL (default: $REVIEWBOT_DATABASE_URL, else the config's, "
    "else $XDG_DATA_HOME/reviewbot/reviewbot.db)"
)


class _SimulateParser(argparse.ArgumentParser):
    """``reviewbot simulate --help`` ends with the scenario names."""

    def format_help(self) -> str:
        from sim.scenarios import all_scenarios

        names = sorted(all_scenarios())
        return super().format_help() + "\nscenarios:\n" + "".join(f"  {n}\n" for n in names)


def _add_series_source(p: argparse.ArgumentParser, required: bool = True) -> None:
    src = p.add_mutually_exclusive_group(required=required)
    src.add_argument(
        "target",
        nargs="?",
        metavar="MSGID|URL",
        help="message-id or lore URL of any mail of the series",
    )
    src.add_argument("--mbox", metavar="FILE", help="read the series from a local mbox")
    src.add_argument(
        "--range",
        metavar="A..B",
        dest="git_range",
        help="review commits A..B of the tree (before sending)",
    )


def _add_common(
    p: argparse.ArgumentParser,
    database_help: str = "record results (default: $REVIEWBOT_DATABASE_URL, else not recorded)",
) -> None:
    p.add_argument(
        "--tree", metavar="PATH", default=".", help="the kernel git tree to apply on (default: .)"
    )
    p.add_argument(
        "--base",
        metavar="REV",
        help="base when the tree lacks the base-commit: trailer and no commit has the diffs'"
        " pre-image blobs (default: HEAD)",
    )
    p.add_argument(
        "-v",
        dest="version",
        type=int,
        metavar="N",
        help="review revision N (default: the newest fetched)",
    )
    p.add_argument(
        "--lore", metavar="URL", help="lore base URL (default: https://lore.kernel.org/all)"
    )
    p.add_argument(
        "--database",
        metavar="URL",
        help=database_help,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reviewbot",
        description="Automated review of Linux mm (swap) patch series.",
    )
    parser.add_argument("--version", action="version", version=f"reviewbot {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("check", help="review a patch series")
    _add_common(p)
    p.add_argument(
        "--format",
        choices=("email", "json", "text"),
        default="text",
        help="what to print: the reply mails, the JSON contract or a summary (default: text)",
    )
    p.add_argument(
        "--outbox",
        metavar="DIR",
        help="maildir the replies are written to (default: with --format email or --send, "
        "$REVIEWBOT_STATE_DIR/outbox, else $XDG_STATE_HOME/reviewbot/outbox, else "
        "~/.local/state/reviewbot/outbox; with text or json, none)",
    )
    p.add_argument(
        "--send",
        action="store_true",
        help="send the replies over SMTP ($REVIEWBOT_SMTP_HOST ...) (default: do not send)",
    )
    p.add_argument(
        "--no-simulate",
        action="store_true",
        help="skip the simulator (default: simulate when the series touches what it runs)",
    )
    _add_series_source(p)

    p = sub.add_parser("b4-check", help="b4 check command: one patch mail on stdin")
    p.add_argument(
        "--terse",
        action="store_true",
        help="checkpatch-style FILE:LINE: SEVERITY: message lines (default: b4's JSON)",
    )
    p.add_argument("--tree", metavar="PATH", default=".", help="the kernel git tree (default: .)")

    p = sub.add_parser("lint", help="run every checker over files or directories")
    p.add_argument(
        "--format", choices=("text", "json"), default="text", help="output (default: text)"
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="C files or directories")

    p = sub.add_parser("simulate", help="run the swap-in simulator")
    p.__class__ = _SimulateParser  # its --help lists the scenarios (imported then only)
    _add_common(
        p,
        database_help="accepted for symmetry with check; simulate records nothing "
        "(default: not recorded)",
    )
    p.add_argument(
        "--entry",
        default=SIM_ENTRY,
        metavar="FUNCTION",
        help="the C function to execute, with its own scenarios (default: do_swap_page); "
        "'--entry list' lists the entries",
    )
    p.add_argument(
        "--list-entries",
        action="store_true",
        help="list the entries and exit (default: simulate)",
    )
    p.add_argument(
        "--format", choices=("text", "json"), default="text", help="output (default: text)"
    )
    p.add_argument(
        "--scenario", metavar="NAME", help="run only this scenario (default: all, listed below)"
    )
    p.add_argument(
        "--order",
        type=int,
        help="folio order for --scenario (default: the scenario's first case; "
        "0 when only --index is given)",
    )
    p.add_argument(
        "--index",
        type=int,
        help="faulting page index for --scenario (default: the scenario's first case; "
        "0 when only --order is given)",
    )
    _add_series_source(p, required=False)

    p = sub.add_parser("watch", help="follow public-inbox inboxes and queue reviews")
    p.add_argument("--config", metavar="FILE", help=CONFIG_HELP)
    p.add_argument("--database", metavar="URL", help=DATABASE_HELP)
    p.add_argument("--once", action="store_true", help="poll once and exit (default: poll on)")
    p.add_argument(
        "--interval",
        type=float,
        metavar="SECONDS",
        help="seconds between polls (default: the config's, 60)",
    )

    p = sub.add_parser("worker", help="run a Celery worker")
    p.add_argument("--config", metavar="FILE", help=CONFIG_HELP)
    p.add_argument("--concurrency", type=int, default=1, help="worker processes (default: 1)")

    p = sub.add_parser("link", help="link two revisions of a series by hand")
    p.add_argument("--database", metavar="URL", help=DATABASE_HELP)
    p.add_argument("older", metavar="MSGID", help="a mail of the older revision")
    p.add_argument("newer", metavar="MSGID", help="a mail of the newer revision")

    p = sub.add_parser("outbox", help="list, approve or send held replies")
    p.add_argument("--config", metavar="FILE", help=CONFIG_HELP)
    p.add_argument("--database", metavar="URL", help=DATABASE_HELP)
    p.add_argument("action", choices=("list", "approve", "send", "resolve"), help="what to do")
    p.add_argument(
        "ids",
        nargs="*",
        help="outbox ids (default: none; list takes none); resolve takes rows in doubt "
        "(delivering, unconfirmed, sending)",
    )
    p.add_argument(
        "--resend",
        action="store_true",
        help="resolve: the reply did not go out, send it again (default: mark it sent)",
    )

    p = sub.add_parser(
        "serve",
        help="the web dashboard",
        description="The web dashboard.  Its actions (re-run, mark invalid, approve a held "
        "reply) need a token: set REVIEWBOT_WEB_TOKEN in the environment; without it the "
        "dashboard is read-only and says so.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="TCP port (default: 8080)")
    p.add_argument("--database", metavar="URL", help=DATABASE_HELP)
    return parser


def _database_error(exc: BaseException) -> bool:
    """An error raised by the database layer (SQLAlchemy or its drivers)."""
    return any(
        k.__module__.split(".")[0] in ("sqlalchemy", "psycopg2", "psycopg", "sqlite3", "alembic")
        for k in type(exc).__mro__
    )


def _one_line(text: str) -> str:
    return escape_controls(" ".join(ln.strip() for ln in text.splitlines() if ln.strip()), False)


def _terminate(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def _quiet_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's final flush into
    the closed pipe does not print "Exception ignored ... BrokenPipeError"."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    finally:
        os.close(devnull)


def main(argv: list[str] | None = None) -> int:
    sys.stdout, sys.stderr = guard(sys.stdout), guard(sys.stderr)
    args = build_parser().parse_args(argv)
    # SIGTERM runs the finally blocks (temporary overlays are removed) like ^C does;
    # watch and worker install their own handlers.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    module = importlib.import_module(f"reviewbot.commands.{args.command.replace('-', '_')}")
    try:
        status = int(module.run(args))
        sys.stdout.flush()  # a closed pipe shows here, not at the interpreter's exit
        return status
    except BrokenPipeError:
        # `reviewbot check ... | head`: the reader left; end quietly, as cat does.
        _quiet_stdout()
        return 141
    except UsageError as exc:
        # One line, whatever the cause says (psycopg2's errors span three).
        print(f"reviewbot: {_one_line(str(exc))}", file=sys.stderr)
        return int(ExitStatus.ERROR)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if not _database_error(exc):
            raise
        # A database that went away or refused a value: one line, no password.
        from reviewbot.storage.db import scrub

        cause = str(getattr(exc, "orig", None) or exc).split("\n[SQL:")[0]
        url = str(getattr(args, "database", None) or "")
        print(f"reviewbot: database error: {_one_line(scrub(cause, url))}", file=sys.stderr)
        return int(ExitStatus.ERROR)
