"""Commands that reviewers give by replying to our mails: ``reviewbot: invalid <id>``.

A reply to one of our replies (its References name a Message-Id of our own
domain, or one in the outbox) containing that line, outside quoted text,
marks the finding a false positive: who said it is recorded, and later
revisions of the series do not raise it again.  Quoted lines (``> ...``) are
ignored so that quoting our own footer does not suppress anything.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from reviewbot.storage.models import OutboxRow, RevisionRow, SuppressionRow
from reviewbot.watch.mail import MailInfo

# "reviewbot: invalid 3f9c2e1a" (a Finding.id: 8 hex digits), optionally with a reason after it
_INVALID_RE = re.compile(
    r"^\s*reviewbot:\s*invalid\s+([0-9a-f]{6,16})\b[\s:,.-]*(.*)$", re.IGNORECASE
)


@dataclass(frozen=True)
class Command:
    finding_id: str
    reason: str


def parse_commands(body: str) -> list[Command]:
    out = []
    for line in body.splitlines():
        if line.lstrip().startswith(">"):
            continue
        if m := _INVALID_RE.match(line):
            out.append(Command(m.group(1).lower(), m.group(2).strip()))
    return out


def _our_mail(session: Session, info: MailInfo, domain: str) -> OutboxRow | None:
    """The outbox row this mail replies to, if any (nearest reference first)."""
    for ref in reversed(info.references):
        row = session.scalar(select(OutboxRow).where(OutboxRow.message_id == ref))
        if row is not None:
            return row
    return None


def apply_commands(session: Session, info: MailInfo, domain: str) -> list[str]:
    """Record the suppressions a reply asks for; returns the finding ids suppressed."""
    if not any(ref.endswith("@" + domain) for ref in info.references):
        return []
    commands = parse_commands(info.body)
    if not commands:
        return []
    ours = _our_mail(session, info, domain)
    series_id = None
    if ours is not None and ours.revision_id is not None:
        rev = session.get(RevisionRow, ours.revision_id)
        series_id = rev.series_id if rev is not None else None
    done = []
    for cmd in commands:
        existing = session.scalar(
            select(SuppressionRow).where(SuppressionRow.finding_id == cmd.finding_id)
        )
        if existing is None:
            session.add(
                SuppressionRow(
                    finding_id=cmd.finding_id,
                    series_id=series_id,
                    by=info.author,
                    reason=cmd.reason,
                )
            )
            session.flush()
        done.append(cmd.finding_id)
    return done


def suppressed_ids(session: Session, series_id: int | None) -> set[str]:
    """Finding ids not to raise again for this series (or anywhere, if no series was known)."""
    rows = session.scalars(
        select(SuppressionRow.finding_id).where(
            (SuppressionRow.series_id == series_id) | (SuppressionRow.series_id.is_(None))
        )
    ).all()
    return set(rows)
