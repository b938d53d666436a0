"""Commands that reviewers give by replying to our mails: ``reviewbot: invalid <id>``.

Anyone on the internet can write to a list, so a command counts only when
all of these hold, and is otherwise ignored with a log line saying why:

- the mail replies to a mail the bot really sent (a Message-ID of the outbox,
  not merely one of our domain), which names the series;
- the sender is allowed by the list's policy: a maintainer or reviewer named
  in the config (``[[lists]] maintainers``/``reviewers``), or the series'
  own author;
- that sender is who the mail says: a DKIM signature of the From: domain (or
  a parent of it) verifies (``reviewbot/dkim_auth.py``), unless the list's
  ``policy.commands_dkim`` is ``"off"``, when From: is trusted unverified;
- the finding id is one the bot reported in that series;
- it is among the first ``policy.max_commands`` commands of the mail.

The suppression is recorded for that series only, with who asked and how
they were authenticated (``by``: "Name <addr> (DKIM d=example.org)") and why
(the dashboard lists them).  Quoted lines (``> ...``) are ignored so that
quoting our own footer does not suppress anything.
"""

from __future__ import annotations

import email.utils
import logging
import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from reviewbot.config import CommandsDkim, ListConfig, ListPolicy
from reviewbot.dkim_auth import DkimVerifier
from reviewbot.storage.models import (
    FindingRow,
    OutboxRow,
    ReviewRow,
    RevisionRow,
    SeriesRow,
    SuppressionRow,
)
from reviewbot.watch.mail import MailInfo

log = logging.getLogger(__name__)

# "reviewbot: invalid 3f9c2e1a" (a Finding.id: 8 hex digits), optionally with a reason after it
_INVALID_RE = re.compile(
    r"^\s*reviewbot:\s*invalid\s+([0-9a-f]{6,16})\b[\s:,.-]*(.*)$", re.IGNORECASE
)
MAX_REASON = 2000


@dataclass(frozen=True)
class Command:
    finding_id: str
    reason: str


def parse_commands(body: str, limit: int | None = None) -> list[Command]:
    """The commands of a mail body, in order; at most ``limit`` of them."""
    out: list[Command] = []
    for line in body.splitlines():
        if limit is not None and len(out) >= limit:
            break
        if line.lstrip().startswith(">"):
            continue
        if m := _INVALID_RE.match(line):
            out.append(Command(m.group(1).lower(), m.group(2).strip()[:MAX_REASON]))
    return out


def _our_mail(session: Session, info: MailInfo) -> OutboxRow | None:
    """The outbox row this mail replies to, if any (nearest reference first)."""
    refs = list(dict.fromkeys(reversed(info.references)))
    if not refs:
        return None
    rows = {
        row.message_id: row
        for row in session.scalars(select(OutboxRow).where(OutboxRow.message_id.in_(refs)))
    }
    return next((rows[r] for r in refs if r in rows), None)


def _addr(value: str) -> str:
    return email.utils.parseaddr(value)[1].lower()


def allowed_sender(lst: ListConfig | None, series: SeriesRow, sender: str) -> bool:
    """Maintainers and reviewers of the list, and the series' own author."""
    if not sender or "@" not in sender:
        return False
    staff = {_addr(a) for a in (lst.maintainers + lst.reviewers if lst else ())}
    return sender in staff - {""} or sender == _addr(series.author)


def _reported_in(session: Session, series_id: int, ids: list[str]) -> set[str]:
    return set(
        session.scalars(
            select(FindingRow.finding_id)
            .join(ReviewRow, FindingRow.review_id == ReviewRow.id)
            .join(RevisionRow, ReviewRow.revision_id == RevisionRow.id)
            .where(RevisionRow.series_id == series_id, FindingRow.finding_id.in_(ids))
        )
    )


def authenticated(
    info: MailInfo,
    raw: bytes | None,
    policy: ListPolicy,
    verifier: DkimVerifier | None,
    who: str,
) -> str | None:
    """How the sender was authenticated ("DKIM d=example.org"), or None (logged)."""
    if policy.commands_dkim is CommandsDkim.OFF:
        log.info("%s: commands_dkim is off: From: trusted unverified", who)
        return "From: unverified"
    if raw is None:
        log.warning("%s: commands ignored: no raw mail to verify DKIM on", who)
        return None
    verdict = (verifier or DkimVerifier()).verify(raw, info.author_addr)
    if not verdict.ok:
        log.warning("%s: commands ignored: %s", who, verdict.how)
        return None
    return verdict.how


def apply_commands(
    session: Session,
    info: MailInfo,
    lst: ListConfig | None,
    raw: bytes | None = None,
    verifier: DkimVerifier | None = None,
) -> list[str]:
    """Record the suppressions a reply may ask for; returns the finding ids suppressed.

    ``raw`` is the mail as it came (DKIM is verified on it); ``verifier`` holds
    the pinned keys and the DNS timeout (``[commands]``), DNS only when None."""
    policy = lst.policy if lst is not None else ListPolicy()
    commands = parse_commands(info.body, limit=policy.max_commands + 1)
    if not commands:
        return []
    who = f"{info.message_id} from {info.author_addr or '?'}"
    if len(commands) > policy.max_commands:
        log.warning("%s: only the first %d commands are read", who, policy.max_commands)
        commands = commands[: policy.max_commands]
    ours = _our_mail(session, info)
    if ours is None or ours.revision_id is None:
        log.warning("%s: commands ignored: not a reply to a mail reviewbot sent", who)
        return []
    rev = session.get(RevisionRow, ours.revision_id)
    series = session.get(SeriesRow, rev.series_id) if rev is not None else None
    if series is None:
        return []
    if not allowed_sender(lst, series, info.author_addr):
        log.warning(
            "%s: commands ignored: sender is not a maintainer, reviewer or the author of series %d",
            who,
            series.id,
        )
        return []
    how = authenticated(info, raw, policy, verifier, who)
    if how is None:
        return []
    reported = _reported_in(session, series.id, [c.finding_id for c in commands])
    done = []
    for cmd in commands:
        if cmd.finding_id not in reported:
            log.warning("%s: %s was not reported in series %d", who, cmd.finding_id, series.id)
            continue
        existing = session.scalar(
            select(SuppressionRow).where(
                SuppressionRow.finding_id == cmd.finding_id,
                SuppressionRow.series_id == series.id,
            )
        )
        if existing is None:
            session.add(
                SuppressionRow(
                    finding_id=cmd.finding_id,
                    series_id=series.id,
                    by=f"{info.author} ({how})",
                    reason=cmd.reason,
                )
            )
            session.flush()
            log.info("series %d: %s marked invalid by %s", series.id, cmd.finding_id, who)
        done.append(cmd.finding_id)
    return done


def suppressed_ids(session: Session, series_id: int | None) -> set[str]:
    """Finding ids not to raise again for this series (and those invalid everywhere)."""
    rows = session.scalars(
        select(SuppressionRow.finding_id).where(
            (SuppressionRow.series_id == series_id) | (SuppressionRow.series_id.is_(None))
        )
    ).all()
    return set(rows)
