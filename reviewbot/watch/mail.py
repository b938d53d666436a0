"""What the watcher needs to know about one mail, read from its headers and diff.

Only enough to group patches into series and revisions and to decide whether
the series is ours to review: the subject's ``[PATCH vN n/m]`` prefix, the
thread (Message-Id, In-Reply-To, References), the author, the date, the
``change-id:`` trailer b4 adds to cover letters and the files the diff touches.
The pipeline parses the series properly later; this never fails on bad input.
"""

from __future__ import annotations

import datetime as dt
import email
import email.header
import email.policy
import email.utils
import fnmatch
import re
from dataclasses import dataclass
from email.message import Message

from reviewbot.addresses import sender_of
from reviewbot.mail import parse_subject
from reviewbot.storage.clean import clean_id, clean_text

_CHANGE_ID_RE = re.compile(r"^change-id:\s*(\S+)\s*$", re.MULTILINE | re.IGNORECASE)
# "diff --git a/mm/memory.c b/mm/memory.c" and "+++ b/mm/memory.c"
_DIFF_PATH_RE = re.compile(
    r"^(?:diff --git a/(\S+) b/(\S+)|\+\+\+ b/(\S+)|--- a/(\S+))$", re.MULTILINE
)
_MSGID_RE = re.compile(r"<([^<>\s]+)>")
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True)
class MailInfo:
    message_id: str
    subject: str  # as mailed
    title: str  # subject without prefix
    author: str  # "Name <addr>"
    author_addr: str
    date: dt.datetime | None
    in_reply_to: str | None
    references: tuple[str, ...]
    is_patch: bool
    is_reply: bool
    version: int
    index: int
    total: int
    change_id: str | None
    paths: tuple[str, ...]
    body: str
    # who to mail back when this is a reply in a patch's thread (not a patch):
    # its From: as exactly one address, else None (reviewbot.addresses.sender_of)
    sender: str | None = None

    @property
    def thread_root(self) -> str:
        """The cover letter (or first patch) this patch hangs under."""
        if self.index == 0 or not self.references:
            return self.message_id
        return self.references[0]


def _ids(value: str | None) -> tuple[str, ...]:
    # ids longer than storage takes get the form storage gives them (a hash suffix)
    return tuple(clean_id(i) for i in _MSGID_RE.findall(value or ""))


def _one_line(value: str) -> str:
    """A header as one line of printable text (no NUL, no escape sequence)."""
    return " ".join(_CONTROL_RE.sub(" ", clean_text(value)).split())


def _header(msg: Message, name: str) -> str:
    """A header as text, RFC 2047 words decoded (compat32 leaves them encoded)."""
    value = msg.get(name)
    if value is None:
        return ""
    try:
        parts = email.header.decode_header(str(value))
    except (LookupError, ValueError, UnicodeError):
        return str(value)
    out = []
    for data, charset in parts:  # word by word: one bad word does not undo the others
        if isinstance(data, str):
            out.append(data)
            continue
        try:
            out.append(data.decode(charset or "ascii", "replace"))
        except LookupError:  # an unknown charset
            out.append(data.decode("utf-8", "replace"))
    return "".join(out)


def _body_text(msg: Message) -> str:
    """The first text/plain part, decoded; diffs and trailers are read from it."""
    part = next((p for p in msg.walk() if p.get_content_type() == "text/plain"), None)
    if part is None:
        return ""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, "replace")
    except LookupError:
        return payload.decode("utf-8", "replace")


def parse_mail(raw: bytes) -> MailInfo | None:
    """Read one mail; None when it has no Message-Id (nothing can refer to it).

    The compat32 policy, not email.policy.default: its header objects cost
    about 10x more, and the watcher reads thousands of mails per poll.
    """
    try:
        msg = email.message_from_bytes(raw, policy=email.policy.compat32)
        message_id = next(iter(_ids(str(msg.get("Message-Id", "")))), None)
        subject = _one_line(_header(msg, "Subject"))
        author = _one_line(_header(msg, "From"))
        raw_from = msg.get("From")
        date_hdr = msg.get("Date")
    except (ValueError, TypeError, IndexError, AttributeError):
        return None
    if not message_id:
        return None
    try:
        date = email.utils.parsedate_to_datetime(str(date_hdr)) if date_hdr else None
        if date is not None and date.tzinfo is None:
            date = date.replace(tzinfo=dt.UTC)
    except (ValueError, TypeError):
        date = None
    body = clean_text(_body_text(msg))
    refs = _ids(str(msg.get("References", "")))
    in_reply_to = next(iter(_ids(str(msg.get("In-Reply-To", "")))), None)
    if in_reply_to and in_reply_to not in refs:
        refs = (*refs, in_reply_to)
    # The pipeline's own reading of "[PATCH v3 2/5]": the watcher must group
    # a mail under the version and index the review will later see.
    info = parse_subject(subject)
    is_reply, m = info.is_reply, info.is_patch
    version, index, total = info.version, info.index, max(info.total, 1)
    title = info.subject if m else subject
    paths = tuple(dict.fromkeys(p for groups in _DIFF_PATH_RE.findall(body) for p in groups if p))
    change = _CHANGE_ID_RE.search(body)
    _, addr = email.utils.parseaddr(author)
    is_patch = m and not is_reply and index <= total and (index == 0 or bool(paths))
    sender = None
    if not is_patch and refs and raw_from is not None:
        sender = sender_of(clean_text(str(raw_from)))
    return MailInfo(
        message_id=message_id,
        subject=subject,
        title=title,
        author=author,
        author_addr=addr.lower(),
        date=date,
        in_reply_to=in_reply_to,
        references=refs,
        is_patch=is_patch,
        is_reply=is_reply,
        version=version,
        index=index,
        total=total,
        change_id=clean_id(change.group(1)) if change else None,
        paths=paths,
        body=body,
        sender=sender,
    )


def touches(paths: tuple[str, ...], patterns: tuple[str, ...]) -> bool:
    """Whether any path matches one of the configured globs (``mm/swap*.c``)."""
    return any(fnmatch.fnmatchcase(p, pat) for p in paths for pat in patterns)
