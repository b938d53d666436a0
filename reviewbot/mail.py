"""Patch mails to Patch, Revision and Series.

Every source (lore through b4, a local mbox, a git range through
``git format-patch``) ends up as raw RFC 2822 bytes; this module is the one
place that reads them.  Mail from the wild is messy: bodies in base64 or
quoted-printable, charsets that lie, diffs that unidiff cannot read.  None of
it may raise past this module: a mail that cannot be read is skipped with a
note, and only "there is nothing to review" is an error.
"""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from email.message import EmailMessage, Message

from unidiff.errors import UnidiffParseError
from unidiff.patch import PatchSet

from reviewbot.addresses import addr_specs, sender_of
from reviewbot.errors import FetchError
from reviewbot.models import FileDiff, Hunk, HunkLine, Patch, Revision, Series

# "[PATCH v2 3/5]", "[RFC PATCH net-next v3 01/12]", "[PATCH 0/4]", "[PATCH]"
_PREFIX_RE = re.compile(r"^\s*(?:(?:re|aw|fwd?)\s*:\s*)*\[([^\]]*)\]\s*(.*)$", re.I | re.S)
_REPLY_RE = re.compile(r"^\s*(re|aw)\s*:", re.I)
# At most 4 digits: "[PATCH 1/99999999]" is no series (its 99999998 missing
# patches were a 4 GB list), nor "v<5000 digits>" a version (int() refuses it).
_VERSION_RE = re.compile(r"^v(\d{1,4})$", re.I)
_COUNTER_RE = re.compile(r"^(\d{1,4})/(\d{1,4})$")
_TRAILER_RE = re.compile(r"^(base-commit|change-id):\s*(\S+)\s*$", re.M | re.I)
_MBOX_FROM_RE = re.compile(rb"^From \S+", re.M)
_MSGID_RE = re.compile(r"<([^<>\s]+)>")
MAX_REFS = 40  # ids kept per reply: its first and last 20 (the root, the patch, the parent)


@dataclass(frozen=True)
class SubjectInfo:
    """What the bracketed prefix of a subject says."""

    is_patch: bool
    is_reply: bool
    version: int
    index: int
    total: int
    subject: str  # without the prefix


def parse_subject(raw: str) -> SubjectInfo:
    raw = " ".join(raw.split())
    is_reply = bool(_REPLY_RE.match(raw))
    m = _PREFIX_RE.match(raw)
    if not m:
        return SubjectInfo(False, is_reply, 1, 1, 1, raw)
    words = m.group(1).replace(",", " ").split()
    is_patch = any(w.upper() in ("PATCH", "RFC") for w in words)
    version, index, total = 1, 1, 1
    for w in words:
        if vm := _VERSION_RE.match(w):
            version = int(vm.group(1))
        elif cm := _COUNTER_RE.match(w):
            index, total = int(cm.group(1)), int(cm.group(2))
    return SubjectInfo(is_patch, is_reply, version, index, total, m.group(2).strip())


# -- raw bytes to messages ----------------------------------------------------


def split_mbox(data: bytes) -> list[EmailMessage]:
    """Messages of an mbox (mboxrd or mboxo), or one bare message."""
    if not data.strip():
        return []
    starts = [m.start() for m in _MBOX_FROM_RE.finditer(data)]
    if not starts or data[: starts[0]].strip():
        chunks = [data]  # a single message without a From_ line
    else:
        chunks = [data[a:b] for a, b in zip(starts, [*starts[1:], len(data)], strict=True)]
    out = []
    for chunk in chunks:
        text = chunk
        if text.startswith(b"From "):
            text = text.split(b"\n", 1)[1] if b"\n" in text else b""
            # the blank line before the next From_ line is the mbox's, not the mail's
            for sep in (b"\r\n", b"\n"):
                if text.endswith(sep * 2):
                    text = text[: -len(sep)]
                    break
        # mboxrd quoting: ">From " and ">>From " lose one ">"
        text = re.sub(rb"^>(>*From )", rb"\1", text, flags=re.M)
        msg = parse_message(text)
        if msg is not None:
            out.append(msg)
    return out


def parse_message(data: bytes) -> EmailMessage | None:
    """One message, or None when the bytes carry no header at all."""
    try:
        msg = email.message_from_bytes(data, policy=email.policy.default)
    except Exception:  # the email package raises many types on garbage
        return None
    if not isinstance(msg, EmailMessage) or not (msg.get("Subject") or msg.get("Message-ID")):
        return None
    return msg


def header(msg: Message, name: str) -> str:
    """A header as text; a header the email package cannot decode is kept raw."""
    try:
        value = msg.get(name)
    except Exception:
        return ""
    if value is None:
        return ""
    try:
        return " ".join(str(value).split())
    except Exception:
        return ""


def clean_msgid(value: str) -> str:
    value = value.strip()
    m = re.search(r"<([^>]+)>", value)
    return (m.group(1) if m else value).strip()


def body_text(msg: Message) -> str:
    """The text/plain body, decoded from base64/QP and its charset.

    A charset that lies (or none, with 8-bit bytes) falls back to UTF-8 with
    replacement, then Latin-1: a patch is never lost to its encoding.
    """
    part: Message | None = None
    if msg.is_multipart():
        for sub in msg.walk():
            if sub.get_content_type() in ("text/plain", "text/x-patch", "text/x-diff"):
                part = sub
                break
    else:
        part = msg
    if part is None:
        return ""
    raw = part.get_payload(decode=True)
    if not isinstance(raw, bytes):
        payload = part.get_payload()
        return payload if isinstance(payload, str) else ""
    charset = part.get_content_charset() or "utf-8"
    for cs in (charset, "utf-8"):
        try:
            return raw.decode(cs)
        except (LookupError, UnicodeDecodeError):
            continue
    return raw.decode("latin-1")


# -- a body to commit message and diff ----------------------------------------

_DIFF_START_RE = re.compile(r"^(diff --git |--- (?:a/|/dev/null)|Index: )", re.M)


def split_body(body: str) -> tuple[str, str]:
    """(commit message, diff) of a patch mail body."""
    body = body.replace("\r\n", "\n")
    m = _DIFF_START_RE.search(body)
    if not m:
        return body.strip("\n"), ""
    message, diff = body[: m.start()], body[m.start() :]
    # The commit message ends at the first "---" line; diffstat follows it.
    parts = re.split(r"^---\s*$", message, maxsplit=1, flags=re.M)
    # A trailing mail signature ("-- \n2.43.0") is not part of the diff.
    diff = re.split(r"^-- $", diff, maxsplit=1, flags=re.M)[0]
    return parts[0].strip("\n"), diff


def parse_diff(diff: str) -> tuple[FileDiff, ...]:
    """unidiff's view of a diff, as plain frozen data; () when unreadable."""
    if not diff.strip():
        return ()
    try:
        patchset = PatchSet(diff)
    except (UnidiffParseError, ValueError, IndexError):
        return ()
    files = []
    for pf in patchset:
        hunks = []
        for h in pf:
            lines = tuple(
                HunkLine(
                    kind=ln.line_type if ln.line_type in "+- " else " ",
                    text=ln.value.rstrip("\n"),
                    old_lineno=ln.source_line_no,
                    new_lineno=ln.target_line_no,
                )
                for ln in h
                if ln.line_type in ("+", "-", " ")
            )
            hunks.append(
                Hunk(
                    h.source_start,
                    h.source_length,
                    h.target_start,
                    h.target_length,
                    (h.section_header or "").strip(),
                    lines,
                )
            )
        files.append(
            FileDiff(
                old_path=None if pf.is_added_file else _strip_prefix(pf.source_file),
                new_path=None if pf.is_removed_file else _strip_prefix(pf.target_file),
                is_binary=bool(pf.is_binary_file),
                is_rename=bool(getattr(pf, "is_rename", False)),
                hunks=tuple(hunks),
            )
        )
    return tuple(files)


def _strip_prefix(path: str) -> str:
    for p in ("a/", "b/"):
        if path.startswith(p):
            return path[len(p) :]
    return path


def diff_paths(diff: str) -> set[str]:
    """Every path a diff names, read from its headers (not from unidiff).

    Used to refuse ``../`` and symlinked paths: it must see every path even
    when unidiff cannot parse the rest of the diff.
    """
    paths: set[str] = set()
    for line in diff.splitlines():
        for prefix in ("--- ", "+++ ", "rename from ", "rename to ", "copy from ", "copy to "):
            if line.startswith(prefix):
                p = line[len(prefix) :].split("\t")[0].strip()
                if p != "/dev/null":
                    paths.add(_strip_prefix(p) if prefix in ("--- ", "+++ ") else p)
        if line.startswith("diff --git "):
            parts = line.split()
            paths.update(_strip_prefix(p) for p in parts[2:4])
    return paths


# -- messages to patches and revisions ----------------------------------------

# git send-email of someone else's patch puts the author first in the body:
# "From: Ada Swapwright <ada@example.org>" then a blank line.
_IN_BODY_RE = re.compile(r"\A\s*((?:(?:From|Date|Subject): *[^\n]+\n)+)(?:\n|\Z)", re.I)


def in_body_headers(message: str) -> tuple[dict[str, str], str]:
    """The in-body From:/Date:/Subject: lines of a commit message, and the
    message without them."""
    m = _IN_BODY_RE.match(message + "\n")
    if not m:
        return {}, message
    fields: dict[str, str] = {}
    for line in m.group(1).splitlines():
        name, _, value = line.partition(":")
        fields.setdefault(name.strip().lower(), " ".join(value.split()))
    return fields, message[m.end() :].lstrip("\n") if m.end() <= len(message) else ""


@dataclass(frozen=True)
class MailItem:
    """One mail of a thread, read once."""

    info: SubjectInfo
    patch: Patch
    trailers: dict[str, str] = field(default_factory=dict)
    is_cover: bool = False


def message_to_item(msg: Message) -> MailItem | None:
    """A patch or cover letter; None for replies and other mail."""
    raw_subject = header(msg, "Subject")
    info = parse_subject(raw_subject)
    # A mail without "[PATCH]" but with a diff still counts (git send-email
    # with no prefix, or b4-check given a commit mail); replies never do.
    if info.is_reply:
        return None
    body = body_text(msg)
    message, diff = split_body(body)
    # "[PATCH 2/4]" without a diff is patch 2 that lost its diff (it arrived:
    # it must not be reported as never received); only 0/n or a lone
    # "[PATCH]" without a diff reads as a cover letter.
    is_cover = info.index == 0 or (not diff and info.is_patch and info.total <= 1)
    if not info.is_patch and not diff:
        return None
    trailers = {m.group(1).lower(): m.group(2) for m in _TRAILER_RE.finditer(body)}
    in_body, message = in_body_headers(message)
    refs = tuple(clean_msgid(r) for r in header(msg, "References").split() if r.strip())
    patch = Patch(
        index=info.index,
        total=info.total,
        subject=info.subject,
        message_id=clean_msgid(header(msg, "Message-ID")),
        author=in_body.get("from") or header(msg, "From"),
        date=header(msg, "Date"),
        diff_text=diff,
        files=parse_diff(diff),
        body=message,
        raw_subject=raw_subject,
        references=refs,
        # read as the replies' recipients are chosen (reviewbot.addresses): a
        # To/Cc the RFC 5322 parser finds invalid names nobody, where
        # email.utils.getaddresses made addresses out of its pieces
        to=tuple(addr_specs([_raw_header(msg, "To") or ""])),
        cc=tuple(addr_specs([_raw_header(msg, "Cc") or ""])),
    )
    return MailItem(info, patch, trailers, is_cover)


def build_revisions(items: Iterable[MailItem]) -> dict[int, Revision]:
    """Group mails by version into Revisions, noting what never arrived."""
    by_version: dict[int, list[MailItem]] = {}
    for item in items:
        by_version.setdefault(item.info.version, []).append(item)
    revisions: dict[int, Revision] = {}
    for version, group in by_version.items():
        cover = next((i for i in group if i.is_cover), None)
        patches: dict[int, Patch] = {}
        for i in group:
            if not i.is_cover and i.patch.index not in patches:
                patches[i.patch.index] = i.patch
        if not patches:
            continue
        total = max([p.total for p in patches.values()] + [cover.info.total if cover else 0])
        trailers: dict[str, str] = {}
        for i in [*([cover] if cover else []), *sorted(group, key=lambda x: x.info.index)]:
            for k, v in i.trailers.items():
                trailers.setdefault(k, v)
        revisions[version] = Revision(
            version=version,
            patches=tuple(patches[k] for k in sorted(patches)),
            cover=cover.patch if cover else None,
            base_commit=trailers.get("base-commit"),
            missing=tuple(k for k in range(1, total + 1) if k not in patches),
            total=total,
        )
    return revisions


def series_of(revision: Revision, change_id: str | None) -> Series:
    first = revision.cover or revision.patches[0]
    return Series(title=first.subject, author=first.author, change_id=change_id)


@dataclass(frozen=True)
class ThreadMail:
    """A mail of the thread that is not a patch: who wrote it, what it answers."""

    message_id: str
    sender: str  # one address (reviewbot.addresses.sender_of)
    refs: tuple[str, ...]  # In-Reply-To and References ids, at most MAX_REFS


def _raw_header(msg: Message, name: str) -> str | None:
    """A header as mailed (encoded words and all), for the address parser."""
    try:
        for key, value in msg.raw_items():
            if key.lower() == name.lower():
                return str(value)
    except Exception:
        return None
    return None


def thread_mail(msg: Message) -> ThreadMail | None:
    """A reply's author and the ids it answers; None when it answers nothing or
    its From: is not exactly one address."""
    refs_text = f"{header(msg, 'References')} {header(msg, 'In-Reply-To')}"
    refs = list(dict.fromkeys(_MSGID_RE.findall(refs_text)))
    if not refs:
        return None
    if len(refs) > MAX_REFS:
        refs = refs[: MAX_REFS // 2] + refs[-(MAX_REFS // 2) :]
    sender = sender_of(_raw_header(msg, "From"))
    if sender is None:
        return None
    return ThreadMail(clean_msgid(header(msg, "Message-ID")), sender, tuple(refs))


def repliers(
    thread: Iterable[ThreadMail], message_id: str, ours: Iterable[str] = (), domain: str = ""
) -> tuple[str, ...]:
    """Who replied under ``message_id`` (a patch, or the cover letter), in order, each once.

    Never a mail of the bot: one of ``ours`` (Message-IDs), or one whose id has
    the form the bot gives its own (``reviewbot.*@domain``).
    """
    skip = set(ours)
    out: dict[str, None] = {}
    for m in thread:
        if message_id not in m.refs or m.message_id in skip:
            continue
        if domain and m.message_id.startswith("reviewbot.") and m.message_id.endswith(f"@{domain}"):
            continue
        out.setdefault(m.sender, None)
    return tuple(out)


@dataclass(frozen=True)
class Parsed:
    series: Series
    revisions: dict[int, Revision]
    notes: tuple[str, ...] = ()
    thread: tuple[ThreadMail, ...] = ()  # the replies, in the order read


def parse_mails(messages: Iterable[Message], what: str) -> Parsed:
    """Read a thread or mbox; FetchError when it holds no patch at all."""
    items: list[MailItem] = []
    notes: list[str] = []
    thread: list[ThreadMail] = []
    count = 0
    for msg in messages:
        count += 1
        try:
            item = message_to_item(msg)
            reply = thread_mail(msg) if item is None else None
        except Exception as exc:  # one unreadable mail must not sink the others
            notes.append(f"skipped an unreadable mail ({type(exc).__name__})")
            continue
        if item is not None:
            items.append(item)
        elif reply is not None:
            thread.append(reply)
    if count == 0:
        raise FetchError(f"{what}: no mail found (empty or not an mbox)")
    revisions = build_revisions(items)
    if not revisions:
        raise FetchError(f"{what}: {count} mail(s) but no patches")
    change_id = None
    for item in items:
        change_id = change_id or item.trailers.get("change-id")
    newest = revisions[max(revisions)]
    return Parsed(series_of(newest, change_id), revisions, tuple(notes), tuple(thread))


def with_base(revision: Revision, base: str | None) -> Revision:
    return replace(revision, base_commit=base) if base and not revision.base_commit else revision
