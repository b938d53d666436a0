"""Who a reply goes to, read with the email package's address parser.

Splitting To/Cc on "," mailed ``"Doe, John" <john@x>`` as ``<Doe>`` and
``<John>``, and let a display name full of addresses redirect the reply.
Here each header value is parsed by :mod:`email.headerregistry` (RFC 5322,
quoted display names, groups, encoded words), and an address is kept only
when it is unambiguous: a header the parser found invalid contributes
nothing, and an address with no domain, a control character or non-ASCII
(we do not send SMTPUTF8) is dropped with a log line.  Every path that mails
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
from collections.abc import Iterable
from dataclasses import dataclass
from email.errors import InvalidHeaderDefect
from email.headerregistry import Address

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
    for value in values:
        if not value or not value.strip():
            continue
        found = _header_addresses(value)
        for addr in found or ():
            spec = addr.addr_spec
            if not usable(addr):
                log.warning("address %.80r skipped: not a plain ASCII mailbox", spec)
                continue
            if spec.lower() not in seen:
                seen.add(spec.lower())
                out.append(addr)
    return out


def usable(addr: Address) -> bool:
    spec = addr.addr_spec
    return (
        bool(addr.username)
        and bool(addr.domain)
        and spec.isascii()
        and len(spec) <= 254
        and not _BAD_CHARS.search(addr.domain)
        and not any(c in spec for c in "\r\n\x00 ")
    )


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
    found = _header_addresses(value)
    if found is None:
        return None
    if len(found) != 1:
        log.warning("From: %.80r names %d addresses: not a replier", value, len(found))
        return None
    addr = found[0]
    if not usable(addr):
        log.warning("From: %.80r skipped: not a plain ASCII mailbox", value)
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
