"""Fetch a series: from lore by message-id or URL, a local mbox, or a git range.

All three end as raw mails read by reviewbot.mail, so a series reviewed
from lore and the same series from an mbox are the same Revision.  The
newest revision is chosen unless a version is asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from reviewbot import lore, mail
from reviewbot.errors import FetchError, UsageError
from reviewbot.models import Revision, Series


@dataclass(frozen=True)
class FetchRequest:
    """Exactly one of ``target`` (message-id or lore URL), ``mbox``, ``git_range``."""

    target: str | None = None
    mbox: Path | None = None
    git_range: str | None = None
    tree: Path | None = None  # for git_range
    lore: str | None = None  # lore base URL, e.g. https://lore.kernel.org/all
    version: int | None = None


@dataclass(frozen=True)
class FetchResult:
    series: Series
    revision: Revision  # the chosen one
    versions: tuple[int, ...]  # every revision number seen
    revisions: dict[int, Revision] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    base: str | None = None  # a base implied by the source (the A of A..B)
    raw: bytes = b""  # the mails as read (an mbox), kept so that nothing is lost
    thread: tuple[mail.ThreadMail, ...] = ()  # replies in the thread (not patches)


MAX_MBOX_BYTES = 256 << 20  # a whole busy month of linux-mm is far less


def read_bounded(path: Path, limit: int = MAX_MBOX_BYTES) -> bytes:
    """The file's bytes, refusing one larger than ``limit``: ``--mbox /dev/zero``
    (or a wrong 50 GB file) must be an error, not the machine's memory.  A
    pipe (``--mbox <(b4 mbox ...)``) still works."""
    try:
        with path.open("rb") as fh:
            data = fh.read(limit + 1)
    except OSError as exc:
        raise FetchError(f"{path}: {exc.strerror or exc}") from None
    if len(data) > limit:
        raise FetchError(f"{path}: larger than {limit >> 20} MB, not a patch series")
    return data


def run(req: FetchRequest) -> FetchResult:
    sources = [x for x in (req.target, req.mbox, req.git_range) if x]
    if len(sources) != 1:
        raise UsageError("give exactly one of MSGID/URL, --mbox FILE, --range A..B")
    if req.mbox is not None:
        data = read_bounded(Path(req.mbox))
        return replace(from_mbox_bytes(data, req.version, what=str(req.mbox)), raw=data)
    if req.git_range is not None:
        from reviewbot.git import Repo

        repo = Repo(req.tree or Path("."))
        data = repo.format_patch(req.git_range)
        if not data.strip():
            raise FetchError(f"--range {req.git_range}: no commits")
        start = req.git_range.split("..", 1)[0] or "HEAD"
        result = from_mbox_bytes(data, req.version, what=f"--range {req.git_range}")
        return FetchResult(
            result.series,
            result.revision,
            result.versions,
            result.revisions,
            result.notes,
            base=repo.resolve(start),
            raw=data,
            thread=result.thread,
        )
    assert req.target is not None
    msgid, url_base = lore.parse_target(req.target)
    raw = lore.fetch_thread(msgid, req.lore or url_base, req.version)
    messages = [m for m in (mail.parse_message(r) for r in raw) if m is not None]
    return replace(
        _choose(mail.parse_mails(messages, msgid), req.version, msgid), raw=as_mboxrd(raw)
    )


_FROM_LINE = re.compile(rb"^(>*From )", re.MULTILINE)


def as_mboxrd(mails: list[bytes]) -> bytes:
    """Raw mails as one mboxrd file ("From " body lines quoted with '>')."""
    return b"".join(
        b"From mboxrd@z Thu Jan  1 00:00:00 1970\n"
        + _FROM_LINE.sub(rb">\1", m.rstrip(b"\n"))
        + b"\n\n"
        for m in mails
    )


def from_mbox_bytes(
    data: bytes,
    version: int | None = None,
    *,
    what: str = "mbox",
) -> FetchResult:
    """The series in raw mbox bytes (the watcher hands over mails it read)."""
    if not data.strip():
        raise FetchError(f"{what}: empty")
    return _choose(mail.parse_mails(mail.split_mbox(data), what), version, what)


def _choose(parsed: mail.Parsed, version: int | None, what: str) -> FetchResult:
    versions = tuple(sorted(parsed.revisions))
    if version is None:
        version = versions[-1]
    elif version not in parsed.revisions:
        have = ", ".join(f"v{v}" for v in versions)
        raise FetchError(f"{what}: no v{version} of this series (found {have})")
    revision = parsed.revisions[version]
    series = parsed.series
    if version != versions[-1]:
        first = revision.cover or revision.patches[0]
        series = Series(first.subject, first.author, series.change_id)
    return FetchResult(
        series, revision, versions, parsed.revisions, parsed.notes, thread=parsed.thread
    )
