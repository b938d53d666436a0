"""Who a reply goes to, read with the email package's address parser.

Splitting To/Cc on "," mailed ``"Doe, John" <john@x>`` as ``<Doe>`` and
``<John>``, and let a display name full of addresses redirect the reply.
Here each header value is parsed by :mod:`email.headerregistry` (RFC 5322,
quoted display names, groups, encoded words), and an address is kept only
when it is unambiguous: a header the parser found invalid contributes
nothing, and an address with no domain or a control character is dropped
with a log line.  An internationalised address (RFC 6531: a UTF-8 local part
and/or an IDN domain) is kept when it is well formed: no control, format or
space characters, at most 64 octets of local part and 254 in all, and a
domain that IDNA encodes or whose labels are UTF-8 letters, digits and
hyphens.  Whether it is mailed is decided at send time (reviewbot.outbox:
SMTPUTF8 when the server offers it, else the A-label form of an IDN domain
when the local part is ASCII, else skipped with a log line).  Every path that mails
(the service's outbox and ``check --send``) chooses recipients here, under
one cap of ``max_recipients``: the author, the list, then the people who
replied in the patch's thread one by one while room remains, then the
patch's other To/Cc; when those others do not fit, none of them is mailed
(a patch Cc'd to 500 people is no thread to copy).  A replier is read from
the From: of their mail by :func:`sender_of`: exactly one usable address, or
nobody (a From: listing several, or a display name made of addresses, never
adds one).
"""

from __future__ import annotations

import email.policy
import logging
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from email.errors import InvalidHeaderDefect
from email.headerregistry import Address

import idna

log = logging.getLogger(__name__)

_BAD_CHARS = re.compile(r"[\x00-\x20\x7f<>(),;:\"\[\]\\]")
MAX_HEADER = 16_384  # a header value longer than this is not worth parsing
MAX_SENDER = 500  # a replier as stored: "Name <addr>", or the bare addr when longer
_FOLD = re.compile(r"\r?\n(?=[ \t])")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _header_addresses(value: str) -> tuple[Address, ...] | None:
    """Every address of one header value, or None (with a log line) when it is no address list."""
    if len(value) > MAX_HEADER:
        log.warning("address header of %d characters ignored", len(value))
        return None
    value = _FOLD.sub("", value)  # a folded header is one line (the parser refuses CR/LF)
    try:
        header = email.policy.default.header_factory("To", value)
    except Exception as exc:  # the parser's own errors on hostile input
        log.warning("address header %.80r ignored: %s", value, exc)
        return None
    if any(isinstance(d, InvalidHeaderDefect) for d in header.defects):
        log.warning("address header %.80r ignored: not a valid address list", value)
        return None
    return tuple(header.addresses)


def parse_addresses(values: Iterable[str]) -> list[Address]:
    """The valid addresses of some header values, in order, each once."""
    out: list[Address] = []
    seen: set[str] = set()
    for given in values:
        if not given or not given.strip():
            continue
        found = _header_addresses(_utf8(given))
        for addr in found or ():
            spec = addr.addr_spec
            if not usable(addr):
                log.warning("address %.80r skipped: not a well-formed mailbox", spec)
                continue
            if spec.lower() not in seen:
                seen.add(spec.lower())
                out.append(addr)
    return out


def _utf8(value: str) -> str:
    """A header read from bytes keeps raw UTF-8 (RFC 6532) as surrogate escapes:
    decoded here, so that ``jörg@exämple.org`` is itself; other bytes stay
    escapes, and an address holding one is not usable."""
    if not any("\udc80" <= c <= "\udcff" for c in value):
        return value
    try:
        return value.encode("utf-8", "surrogateescape").decode("utf-8")
    except UnicodeError:
        return value


def usable(addr: Address) -> bool:
    spec = addr.addr_spec
    if not addr.username or not addr.domain or any(c in spec for c in "\r\n\x00 "):
        return False
    if spec.isascii():
        return len(spec) <= 254 and not _BAD_CHARS.search(addr.domain)
    return _international(addr.username, addr.domain)


# control, format (bidi overrides, zero-width), surrogate, private, unassigned
# and separator characters: nothing a mailbox needs, everything a spoof does
_REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"})


def _international(local: str, domain: str) -> bool:
    """A UTF-8 mailbox (RFC 6531) that is well formed and bounded."""
    if any(unicodedata.category(c) in _REFUSED_CATEGORIES for c in local + domain):
        return False
    if len(local.encode("utf-8", "surrogatepass")) > 64:
        return False
    if len(f"{local}@{domain}".encode("utf-8", "surrogatepass")) > 254:
        return False
    if domain.isascii():
        return not _BAD_CHARS.search(domain)
    if a_label_domain(domain) is not None:
        return True
    labels = domain.split(".")
    return all(
        label
        and len(label.encode()) <= 63
        and not label.startswith("-")
        and not label.endswith("-")
        and all(c.isalnum() or c == "-" for c in label)
        for label in labels
    )


def a_label_domain(domain: str) -> str | None:
    """The ASCII (A-label, punycode) form of a domain, or None when IDNA refuses it."""
    if domain.isascii():
        return domain
    try:
        encoded = idna.encode(domain, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError, ValueError):
        return None
    return encoded if len(encoded) <= 253 else None


def ascii_form(spec: str) -> str | None:
    """An envelope address without SMTPUTF8: itself when ASCII, the A-label
    form when only the domain is internationalised, else None (not mailable)."""
    if spec.isascii():
        return spec
    local, at, domain = spec.rpartition("@")
    if not at or not local.isascii():
        return None
    alabel = a_label_domain(domain)
    return f"{local}@{alabel}" if alabel is not None else None


def needs_utf8(addrs: Iterable[Address]) -> bool:
    """Whether a message carrying these addresses must be written as UTF-8 (RFC 6532)."""
    return any(not a.addr_spec.isascii() for a in addrs)


def addr_specs(values: Iterable[str]) -> list[str]:
    return [a.addr_spec for a in parse_addresses(values)]


def sender_of(value: str | None) -> str | None:
    """Who wrote a mail, from its raw From: value, as one address to mail back.

    Exactly one usable address, or None: a From: listing several (or none) is
    nobody's, whatever its display names say.  The result is at most
    :data:`MAX_SENDER` characters (the bare address when the name is longer).
    """
    if not value or not value.strip():
        return None
    found = _header_addresses(_utf8(value))
    if found is None:
        return None
    if len(found) != 1:
        log.warning("From: %.80r names %d addresses: not a replier", value, len(found))
        return None
    addr = found[0]
    if not usable(addr):
        log.warning("From: %.80r skipped: not a well-formed mailbox", value)
        return None
    text = str(addr)
    if len(text) > MAX_SENDER or _CONTROL.search(text):
        text = addr.addr_spec  # the name is dropped, the address kept
    return text


@dataclass(frozen=True)
class Recipients:
    to: list[Address]
    cc: list[Address]
    dropped: int = 0  # repliers and others not mailed because they did not fit the cap

    @property
    def envelope(self) -> list[str]:
        return [a.addr_spec for a in [*self.to, *self.cc]]


def choose(
    author: Iterable[str],
    list_addr: Iterable[str],
    others: Iterable[str],
    max_recipients: int,
    exclude: Iterable[str] = (),
    *,
    thread: Iterable[str] = (),
) -> Recipients:
    """To: the author; Cc: the list, then the thread's repliers while room
    remains, then the others if they all fit in the room left.

    ``thread`` is the people who replied in the patch's thread, in order of
    arrival: each is mailed while the cap has room, the rest are counted in
    ``dropped`` (one log line).  ``exclude`` (the bot itself) is never mailed.
    """
    skip = {a.lower() for a in addr_specs(exclude)}
    to = [a for a in parse_addresses(author) if a.addr_spec.lower() not in skip][:1]
    taken = skip | {a.addr_spec.lower() for a in to}
    cc = [a for a in parse_addresses(list_addr) if a.addr_spec.lower() not in taken]
    taken |= {a.addr_spec.lower() for a in cc}
    room = max(max_recipients - len(to) - len(cc), 0)
    repliers = [a for a in parse_addresses(thread) if a.addr_spec.lower() not in taken]
    late = len(repliers) - min(len(repliers), room)
    if late:
        log.warning(
            "%d of %d thread repliers over max_recipients=%d: not mailed (first: %s)",
            late,
            len(repliers),
            max_recipients,
            repliers[room].addr_spec,
        )
    cc += repliers[:room]
    taken |= {a.addr_spec.lower() for a in repliers[:room]}
    room -= len(repliers[:room])
    rest = [a for a in parse_addresses(others) if a.addr_spec.lower() not in taken]
    if len(rest) > room:
        log.warning("%d other recipients over max_recipients=%d: not mailed", len(rest), room)
        return Recipients(to, cc, late + len(rest))
    return Recipients(to, cc + rest, late)


def header_value(addrs: list[Address]) -> str:
    return ", ".join(str(a) for a in addrs)
