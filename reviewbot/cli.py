"""Command-line entry point: ``reviewbot SUBCOMMAND ...``.

The flags here are a contract (other parts, b4 and CI call them): add, never
rename.  Each subcommand lives in ``reviewbot/commands/<name>.py`` and exposes
``run(args) -> int``; it is imported only when used so that ``reviewbot
check`` does not pay for Flask or Celery.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from reviewbot import __version__
from reviewbot.errors import UsageError
from reviewbot.models import ExitStatus


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


def _add_common(p: argparse.ArgumentParser) -> None:
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
        "-v", dest="version", type=int, metavar="N", help="review revision N instead of the newest"
    )
    p.add_argument(
        "--lore", metavar="URL", help="lore base URL (default: https://lore.kernel.org/all)"
    )
    p.add_argument(
        "--database", metavar="URL", help="record results (default: $REVIEWBOT_DATABASE_URL)"
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
    p.add_argument("--format", choices=("email", "json", "text"), default="text")
    p.add_argument("--outbox", metavar="DIR", help="maildir for replies (default: ./outbox)")
    p.add_argument("--send", action="store_true", help="send replies over SMTP")
    p.add_argument("--no-simulate", action="store_true", help="skip the simulator")
    _add_series_source(p)

    p = sub.add_parser("b4-check", help="b4 check command: one patch mail on stdin")
    p.add_argument(
        "--terse", action="store_true", help="checkpatch-style FILE:LINE: SEVERITY: message lines"
    )
    p.add_argument("--tree", metavar="PATH", default=".")

    p = sub.add_parser("lint", help="run every checker over files or directories")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("paths", nargs="+", metavar="PATH")

    p = sub.add_parser("simulate", help="run the swap-in simulator")
    _add_common(p)
    p.add_argument("--entry", default="do_swap_page", metavar="FUNCTION")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--scenario", metavar="NAME", help="run only this scenario")
    p.add_argument("--order", type=int, help="folio order for --scenario")
    p.add_argument("--index", type=int, help="faulting page index for --scenario")
    _add_series_source(p, required=False)

    p = sub.add_parser("watch", help="follow public-inbox inboxes and queue reviews")
    p.add_argument("--config", metavar="FILE", help="reviewbot.toml")
    p.add_argument("--database", metavar="URL")
    p.add_argument("--once", action="store_true", help="poll once and exit")
    p.add_argument("--interval", type=float, metavar="SECONDS")

    p = sub.add_parser("worker", help="run a Celery worker")
    p.add_argument("--config", metavar="FILE")
    p.add_argument("--concurrency", type=int, default=1)

    p = sub.add_parser("link", help="link two revisions of a series by hand")
    p.add_argument("--database", metavar="URL")
    p.add_argument("older", metavar="MSGID")
    p.add_argument("newer", metavar="MSGID")

    p = sub.add_parser("outbox", help="list, approve or send held replies")
    p.add_argument("--config", metavar="FILE")
    p.add_argument("--database", metavar="URL")
    p.add_argument("action", choices=("list", "approve", "send", "resolve"))
    p.add_argument("ids", nargs="*")
    p.add_argument(
        "--resend", action="store_true", help="resolve: the reply did not go out, send it again"
    )

    p = sub.add_parser("serve", help="the web dashboard")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--database", metavar="URL")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    module = importlib.import_module(f"reviewbot.commands.{args.command.replace('-', '_')}")
    try:
        return int(module.run(args))
    except UsageError as exc:
        # One line, whatever the cause says (psycopg2's errors span three).
        text = " ".join(ln.strip() for ln in str(exc).splitlines() if ln.strip())
        print(f"reviewbot: {text}", file=sys.stderr)
        return int(ExitStatus.ERROR)
    except KeyboardInterrupt:
        return 130
