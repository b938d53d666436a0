"""A small pipeline for testing the service's own logic (queueing, posting, faults).

It parses the mbox for real (email package) and reports one finding per
``/* FIXME ... */`` line a patch adds; the reply names findings fixed since
the previous revision.  ``REVIEWBOT_FAKE_DELAY`` (seconds) makes a review
slow enough to kill a worker in the middle of it; with
``REVIEWBOT_FAKE_OVERLAY=TREE`` it holds an apply overlay over TREE
meanwhile.  A series whose message ids contain ``REVIEWBOT_FAKE_HANG``
never finishes its review; one with ``REVIEWBOT_FAKE_HOG`` asks for 64 GB.
The end-to-end tests with the bundled sample use the real
pipeline instead.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from reviewbot.models import Finding, Patch, Review, Revision, Series, Severity
from reviewbot.watch.mail import parse_mail

_FIXME = re.compile(r"^\+.*FIXME (\w+)", re.MULTILINE)


@dataclass(frozen=True)
class FakeReply:
    message_id: str
    in_reply_to: str
    references: tuple[str, ...]
    subject: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    body: str


def _header_values(raw: bytes, name: str) -> tuple[str, ...]:
    """The header's values as the real pipeline reads them (reviewbot/mail.py:
    RFC 6532 UTF-8 kept); the outbox parses the addresses itself."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    return tuple(" ".join(str(v).split()) for v in msg.get_all(name, []))


def _split(mbox: bytes) -> list[bytes]:
    parts = re.split(rb"^From mboxrd@z .*\n", mbox, flags=re.MULTILINE)
    return [p for p in parts if p.strip()]


class FakePipeline:
    def parse(self, mbox: bytes, version: int | None) -> tuple[Series, Revision]:
        raws = {i.message_id: raw for raw in _split(mbox) if (i := parse_mail(raw)) is not None}
        infos = [i for raw in _split(mbox) if (i := parse_mail(raw)) is not None]
        if not infos:
            raise ValueError("empty mbox")
        cover = next((i for i in infos if i.index == 0), None)
        patches = tuple(
            Patch(
                index=i.index,
                total=i.total,
                subject=i.title,
                message_id=i.message_id,
                author=i.author,
                date=str(i.date),
                diff_text=i.body,
                raw_subject=i.subject,
                references=i.references,
                to=_header_values(raws[i.message_id], "To"),
                cc=_header_values(raws[i.message_id], "Cc"),
            )
            for i in sorted(infos, key=lambda i: i.index)
            if i.index > 0
        )
        head = cover or infos[0]
        series = Series(title=head.title, author=head.author, change_id=head.change_id)
        cov = None
        if cover is not None:
            cov = Patch(
                index=0,
                total=cover.total,
                subject=cover.title,
                message_id=cover.message_id,
                author=cover.author,
                date=str(cover.date),
                diff_text="",
            )
        return series, Revision(version=head.version, patches=patches, cover=cov, total=head.total)

    def review(self, series: Series, revision: Revision, tree: Path, *, simulate: bool) -> Review:
        ids = " ".join(p.message_id for p in revision.patches)
        if (hang := os.environ.get("REVIEWBOT_FAKE_HANG")) and hang in ids:
            time.sleep(3600)  # a review that never ends (an interpreter spinning)
        if (hog := os.environ.get("REVIEWBOT_FAKE_HOG")) and hog in ids:
            chunks = [bytearray(256 * 1024 * 1024) for _ in range(256)]  # 64 GB, or MemoryError
            del chunks
        delay = float(os.environ.get("REVIEWBOT_FAKE_DELAY", "0") or 0)
        if delay and os.environ.get("REVIEWBOT_FAKE_OVERLAY"):
            # the real apply stage's temporary index, held while the review is slow
            from reviewbot.git import Overlay, Repo

            if os.environ.get("REVIEWBOT_FAKE_STUBBORN"):
                # deaf to Celery's SIGTERM too: only the SIGKILL after it ends the review
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
            with Overlay(Repo(os.environ["REVIEWBOT_FAKE_OVERLAY"])):
                end = time.monotonic() + delay
                while time.monotonic() < end:
                    try:
                        time.sleep(end - time.monotonic())
                    except Exception:  # Celery's soft limit
                        if not os.environ.get("REVIEWBOT_FAKE_STUBBORN"):
                            raise  # with it set, only the hard limit (SIGKILL) ends it
        elif delay:
            time.sleep(delay)
        findings = []
        for p in revision.patches:
            for m in _FIXME.finditer(p.diff_text):
                findings.append(
                    Finding(
                        checker="fake-fixme",
                        severity=Severity.BUG,
                        file="mm/swapfile.c",
                        line=100 + p.index,
                        function=f"swap_step_{p.index}",
                        message=f"FIXME left in {m.group(1)}",
                        key=m.group(1),
                        patch_index=p.index,
                        patch_message_id=p.message_id,
                    )
                )
        return Review(series=series, revision=revision, apply=None, findings=tuple(findings))

    def render(self, review: Review, previous: Review | None) -> list[FakeReply]:
        now = {f.id for f in review.findings}
        fixed = [f for f in previous.findings if f.id not in now] if previous else []
        replies = []
        for p in review.revision.patches:
            mine = [f for f in review.findings if f.patch_message_id == p.message_id]
            lines = [f"> {p.raw_subject}", ""] + ([] if mine else ["No findings."])
            for f in mine:
                state = ""
                if previous is not None:
                    state = (
                        f" (still present since v{previous.revision.version})"
                        if any(g.id == f.id for g in previous.findings)
                        else " (new)"
                    )
                lines.append(f"bug: {f.message}{state}  [id {f.id}]")
            if fixed and previous is not None:
                ids = ", ".join(f.id for f in fixed)
                lines.append(f"\nFixed since v{previous.revision.version}: {ids}")
            cover = review.revision.cover
            refs = (cover.message_id,) if cover is not None else ()
            replies.append(
                FakeReply(
                    message_id=f"fake.{p.message_id}",
                    in_reply_to=p.message_id,
                    references=refs,
                    subject=f"Re: {p.raw_subject}",
                    to=(p.author,),
                    cc=(*p.to, *p.cc),  # as the real report does: the list stays on Cc
                    body="\n".join(lines),
                )
            )
        return replies


def Pipeline() -> FakePipeline:
    return FakePipeline()
