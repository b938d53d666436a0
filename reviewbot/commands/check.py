"""``reviewbot check``: fetch a series, review it, print and file the replies.

Exit status is the contract: 0 reviewed and nothing blocking, 1 at least
one bug or possible-bug finding, 2 could not review (one line on stderr),
including a series of which no hunk of a C file applies to the tree.
"""

from __future__ import annotations

import argparse
import email.utils
import json
import os
import shlex
import sys
from dataclasses import replace
from pathlib import Path

from reviewbot.config import LimitsConfig, ListPolicy, limit_from_env
from reviewbot.errors import TreeError, UsageError
from reviewbot.git import Repo
from reviewbot.mail import ThreadMail, repliers
from reviewbot.models import ExitStatus, Review, Revision, Series
from reviewbot.pipeline import coverage, fetch, post, report, review_revision
from reviewbot.report_json import review_to_json


class Progress:
    """Progress lines on stderr, only when a person is watching."""

    def __init__(self, enabled: bool):
        self.enabled = enabled

    def __call__(self, message: str) -> None:
        if self.enabled:
            print(f"reviewbot: {message}", file=sys.stderr, flush=True)


def reproduce_command(args: argparse.Namespace, message_id: str | None) -> str:
    """The command line that reruns this review from where the user ran it:
    it names the tree and the mbox path as the user gave them."""
    parts = ["reviewbot", "check", "--tree", args.tree]
    if args.base:
        parts += ["--base", args.base]
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


def default_outbox() -> Path:
    """The outbox maildir when --outbox is not given: a state directory of
    the user's ($REVIEWBOT_STATE_DIR, else $XDG_STATE_HOME/reviewbot, else
    ~/.local/state/reviewbot), never the current (kernel) directory."""
    state = os.environ.get("REVIEWBOT_STATE_DIR")
    if not state:
        xdg = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
        state = str(Path(xdg) / "reviewbot")
    return Path(state) / "outbox"


def use_colour() -> bool:
    """Colour on a terminal, unless NO_COLOR is set (https://no-color.org)."""
    return sys.stdout.isatty() and not os.environ.get("NO_COLOR")


def base_from(args: argparse.Namespace) -> str:
    """What names the base passed on: --base, or the A of --range A..B."""
    return "--range" if args.git_range and not args.base else "--base"


def _previous_review(
    fetched: fetch.FetchResult,
    repo: Repo,
    base: str | None,
    say: Progress,
    args: argparse.Namespace,
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
            fetched.series,
            fetched.revisions[older[-1]],
            repo.path,
            base=base,
            simulate=False,
            base_from=base_from(args),
        )
    except UsageError:  # an older revision that cannot be reviewed is no comparison
        return None


def _record(review: Review, args: argparse.Namespace, extra: dict[str, object], raw: bytes) -> None:
    """Store the review when a database is named (--database or the environment)."""
    url = args.database or os.environ.get("REVIEWBOT_DATABASE_URL")
    if not url:
        return
    from reviewbot.storage.db import open_db
    from reviewbot.storage.record import record_review

    # The bytes read once by fetch: a --mbox pipe cannot be read twice.
    mbox = raw.decode("utf-8", "replace") if raw else None
    with open_db(url)() as session, session.begin():
        record_review(session, review, mbox=mbox, extra=extra)


def _parse(data: bytes, version: int | None) -> tuple[Series, Revision]:
    result = fetch.from_mbox_bytes(data, version)
    return result.series, result.revision


def _recorded_identical(
    fetched: fetch.FetchResult, repo: Repo, args: argparse.Namespace, *, simulate: bool
) -> tuple[Review, int] | None:
    """The recorded review of an earlier, identical revision (storage/reuse.py), if any.

    Only with a database, and only against revisions recorded with their
    mails (``--mbox``): the commit messages are compared too.
    """
    url = args.database or os.environ.get("REVIEWBOT_DATABASE_URL")
    if not url:
        return None
    from reviewbot.storage import reuse
    from reviewbot.storage.db import open_db
    from reviewbot.storage.record import lookup_series

    base = reuse.choose_base(fetched.revision, repo.path, args.base or fetched.base)
    with open_db(url)() as session:
        series = lookup_series(session, fetched.series)
        if series is None:
            return None
        found = reuse.find_identical(
            session, series.id, fetched.revision, base, _parse, simulate=simulate
        )
        if found is None:
            return None
        review = reuse.reused_review(found, fetched.series, fetched.revision, base)
        return review, found.version


def _with_repliers(
    replies: list[report.ReplyMail], thread: tuple[ThreadMail, ...]
) -> list[report.ReplyMail]:
    """Each reply with the people who replied in its patch's thread (the fetched
    thread's mails that are not patches and not the bot's own)."""
    if not thread:
        return replies
    ours = {r.message_id for r in replies}
    out = []
    for reply in replies:
        domain = email.utils.parseaddr(reply.sender)[1].rpartition("@")[2]
        who = repliers(thread, reply.in_reply_to, ours, domain)
        out.append(replace(reply, thread=who) if who else reply)
    return out


def run(args: argparse.Namespace) -> int:
    # the developer path has no list policy: $REVIEWBOT_MAX_RECIPIENTS caps a reply
    cap = limit_from_env("max_recipients", ListPolicy.max_recipients)
    if args.send and cap < 2:  # said before the review, not after it
        raise UsageError("$REVIEWBOT_MAX_RECIPIENTS must be at least 2 (the author and the list)")
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
    limit = limit_from_env("max_patches", LimitsConfig.max_patches)
    if len(revision.patches) > limit:
        raise UsageError(
            f"v{revision.version} has {len(revision.patches)} patches, over the maximum of "
            f"{limit} ($REVIEWBOT_MAX_PATCHES): too large, not reviewed"
        )
    say(
        f"v{revision.version}: {len(revision.patches)} of {revision.total} patch(es)"
        + (
            f", versions seen: {', '.join(map(str, fetched.versions))}"
            if len(fetched.versions) > 1
            else ""
        )
    )
    simulate = not getattr(args, "no_simulate", False)
    extra: dict[str, object] = {}
    reused = _recorded_identical(fetched, repo, args, simulate=simulate)
    if reused is not None:
        review, extra["reused_from"] = reused
        say(review.notes[0])
    else:
        review = review_revision(
            fetched.series,
            revision,
            repo.path,
            base=args.base or fetched.base,
            simulate=simulate,
            progress=say,
            base_from=base_from(args),
        )
    if fetched.notes:
        more = tuple(n for n in fetched.notes if n not in review.notes)
        review = replace(review, notes=(*review.notes, *more))
    _record(review, args, extra, fetched.raw)
    previous = _previous_review(fetched, repo, args.base or fetched.base, say, args)
    first = revision.patches[0].message_id if revision.patches else None
    replies = report.render_replies(
        review, previous=previous, tool_cmd=reproduce_command(args, first)
    )
    replies = _with_repliers(replies, fetched.thread)
    # Replies are filed when they are what was asked for (email, --send) or
    # where asked (--outbox); never into the user's kernel tree by default.
    outbox = Path(args.outbox) if args.outbox else default_outbox()
    keep = bool(args.outbox) or args.format == "email" or args.send
    written = post.to_maildir(replies, outbox) if replies and keep else []
    if written and not args.outbox:
        n = len(written)
        print(
            f"reviewbot: {n} repl{'y' if n == 1 else 'ies'} written to {outbox}/new",
            file=sys.stderr,
        )
    if args.format == "json":
        print(json.dumps(review_to_json(review), indent=2))
    elif args.format == "email":
        for reply in replies:
            sys.stdout.write(reply.as_bytes().decode("utf-8", "replace"))
            sys.stdout.write("\n")
        if not replies:
            print("reviewbot: no findings, no reply", file=sys.stderr)
            # No reply carries the "Not reviewed:" list: say it here, unless
            # nothing was reviewed at all (then one line says why, below).
            if coverage.unreviewable(review) is None:
                for gap in coverage.gaps(review):
                    print(f"reviewbot: not reviewed: {gap}", file=sys.stderr)
    else:
        sys.stdout.write(report.render_text(review, colour=use_colour()))
        if written and args.outbox:
            print(f"{len(written)} repl{'y' if len(written) == 1 else 'ies'} in {outbox}/new")
    if args.send and replies:
        sent = post.send_smtp(replies, post.SmtpConfig.from_env(), outbox, max_recipients=cap)
        say(f"sent {sent} repl{'y' if sent == 1 else 'ies'}")
    why = coverage.unreviewable(review)
    if why is not None and review.exit_status is not ExitStatus.FINDINGS:
        print(f"reviewbot: {why}", file=sys.stderr)
        return int(ExitStatus.ERROR)
    return int(review.exit_status)
