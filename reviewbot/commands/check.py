"""``reviewbot check``: fetch a series, review it, print and file the replies.

Exit status is the contract: 0 reviewed and nothing blocking, 1 at least
one bug or possible-bug finding, 2 could not review (one line on stderr).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from dataclasses import replace
from pathlib import Path

from reviewbot.errors import TreeError, UsageError
from reviewbot.git import Repo
from reviewbot.models import Review
from reviewbot.pipeline import fetch, post, report, review_revision
from reviewbot.report_json import review_to_json


class Progress:
    """Progress lines on stderr, only when a person is watching."""

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __call__(self, message: str) -> None:
        if self.enabled:
            print(f"reviewbot: {message}", file=sys.stderr, flush=True)


def reproduce_command(args: argparse.Namespace, message_id: str | None) -> str:
    parts = ["reviewbot", "check"]
    if args.version is not None:
        parts += ["-v", str(args.version)]
    if args.lore:
        parts += ["--lore", args.lore]
    if args.mbox:
        parts += ["--mbox", args.mbox]
    elif args.git_range:
        parts += ["--range", args.git_range]
    else:
        parts.append(message_id or args.target)
    return shlex.join(parts)


def _previous_review(
    fetched: fetch.FetchResult, repo: Repo, base: str | None, say: Progress
) -> Review | None:
    """The review of the revision before the chosen one, when it was fetched too.

    It lets the replies say "Fixed since vN" and "still present"; the
    simulator is skipped for it (its findings are not compared).
    """
    older = [v for v in fetched.versions if v < fetched.revision.version]
    if not older:
        return None
    say(f"reviewing v{older[-1]} for comparison")
    try:
        return review_revision(
            fetched.series, fetched.revisions[older[-1]], repo.path, base=base, simulate=False
        )
    except UsageError:  # an older revision that cannot be reviewed is no comparison
        return None


def _record(review: Review, args: argparse.Namespace) -> None:
    """Store the review when a database is named (--database or the environment)."""
    url = args.database or os.environ.get("REVIEWBOT_DATABASE_URL")
    if not url:
        return
    from reviewbot.storage.db import open_db
    from reviewbot.storage.record import record_review

    mbox = Path(args.mbox).read_bytes().decode("utf-8", "replace") if args.mbox else None
    with open_db(url)() as session, session.begin():
        record_review(session, review, mbox=mbox)


def run(args: argparse.Namespace) -> int:
    tree = Path(args.tree)
    if not tree.is_dir():
        raise TreeError(f"tree {args.tree}: no such directory")
    repo = Repo(tree)  # fail before fetching when the tree is unusable
    say = Progress(sys.stderr.isatty())
    say("fetching")
    fetched = fetch.run(
        fetch.FetchRequest(
            target=args.target,
            mbox=Path(args.mbox) if args.mbox else None,
            git_range=args.git_range,
            tree=tree,
            lore=args.lore,
            version=args.version,
        )
    )
    revision = fetched.revision
    say(
        f"v{revision.version}: {len(revision.patches)} of {revision.total} patch(es)"
        + (
            f", versions seen: {', '.join(map(str, fetched.versions))}"
            if len(fetched.versions) > 1
            else ""
        )
    )
    review = review_revision(
        fetched.series,
        revision,
        repo.path,
        base=args.base or fetched.base,
        simulate=not getattr(args, "no_simulate", False),
        progress=say,
    )
    if fetched.notes:
        review = replace(review, notes=(*review.notes, *fetched.notes))
    _record(review, args)
    previous = _previous_review(fetched, repo, args.base or fetched.base, say)
    first = revision.patches[0].message_id if revision.patches else None
    replies = report.render_replies(
        review,
        previous=previous,
        tool_cmd=None if not (args.mbox or args.git_range) else reproduce_command(args, first),
    )
    outbox = Path(args.outbox) if args.outbox else Path("outbox")
    written = post.to_maildir(replies, outbox) if replies else []
    if args.format == "json":
        print(json.dumps(review_to_json(review), indent=2))
    elif args.format == "email":
        for reply in replies:
            sys.stdout.write(reply.as_bytes().decode("utf-8", "replace"))
            sys.stdout.write("\n")
        if not replies:
            print("reviewbot: no findings, no reply", file=sys.stderr)
    else:
        sys.stdout.write(report.render_text(review, colour=sys.stdout.isatty()))
        if written:
            print(f"{len(written)} repl{'y' if len(written) == 1 else 'ies'} in {outbox}/new")
    if args.send and replies:
        sent = post.send_smtp(replies, post.SmtpConfig.from_env())
        say(f"sent {sent} repl{'y' if sent == 1 else 'ies'}")
    return int(review.exit_status)
