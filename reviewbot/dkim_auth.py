"""Who sent a mail, by DKIM: a From: header alone is whatever its writer typed.

A reviewer command (``reviewbot/reviewer_commands.py``) counts only when
``DkimVerifier.verify`` finds the From: address authenticated:

- the mail has one From: header, and at most one Message-Id, In-Reply-To and
  References (a second one on top is what a reader sees, while the signature
  covers the one at the bottom), counted as dkimpy and as the email package
  read them, and no bare CR (a line end to the email package, not to dkimpy:
  a header could hide a blank line and a command from the verifier);
- one of its first ``MAX_SIGNATURES`` DKIM-Signature headers has a d= aligned
  with the From: domain: that domain or a parent domain of it (d=kernel.org
  for a@lists.kernel.org, as DMARC's relaxed alignment allows; not a child:
  d=lists.kernel.org does not speak for a@kernel.org), of two labels at least;
- that signature signs From:, covers the whole body (no ``l=``, which would let
  anyone append a command), and signs the threading headers the mail has
  (In-Reply-To, References) or its Message-Id (a replay is then a duplicate),
  so that it cannot be aimed at another series;
- it verifies, body hash and headers, with a key of at least 1024 bits from the
  pinned keys file (``[commands] dkim_keys``) or else DNS, with a timeout and at
  most ``MAX_LOOKUPS`` lookups per mail.

Anything else is a ``Verdict`` whose reason is one line of words for the log;
the verifier's own failures (dkimpy on hostile bytes) are such a reason too,
never an exception.

The keys file has one ``selector._domainkey.domain. <TXT record>`` a line
(``dig`` output pasted as is works: a TTL, ``IN`` and ``TXT`` are skipped, and
quoted strings are joined); a name alone pins "no key" (a revoked selector).
Names found in the file never reach the network; others go to DNS.
"""

from __future__ import annotations

import email.parser
import email.policy
import logging
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass

import dkim
import dkim.dnsplug
import dkim.util

log = logging.getLogger(__name__)

MAX_SIGNATURES = 5  # DKIM-Signature headers looked at per mail
MAX_LOOKUPS = 2  # key look-ups in DNS per mail (each bounded by the timeout)
MAX_SIGNATURE_BYTES = 8 * 1024  # a real one is under 1 KB
MAX_MAIL_BYTES = 16 * 1024 * 1024
MAX_KEYS_FILE_BYTES = 1024 * 1024
MIN_KEY_BITS = 1024
_CACHE_SECONDS = 300.0  # a DNS answer is reused this long
_CACHE_FAILURE_SECONDS = 30.0  # and a failed lookup (timeout, no resolver) this long
_CACHE_SIZE = 256

# (name, timeout) -> the TXT record, or None when there is none
DnsFunc = Callable[[bytes, float], bytes | None]

# dkimpy writes its own reasons to a logger; ours is one line per mail
_QUIET = logging.Logger("reviewbot.dkim_auth.dkimpy", level=logging.CRITICAL + 1)
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_ZONE_FIELDS = re.compile(r"^(?:\d+\s+)?(?:IN\s+)?(?:TXT\s+)?", re.IGNORECASE)
_SINGLE = (b"from", b"message-id", b"in-reply-to", b"references")
_BARE_CR = re.compile(rb"\r(?!\n)")
_OK, _UNALIGNED, _FAILED = object(), object(), object()  # what one signature says


class KeysFileError(Exception):
    """The pinned keys file cannot be read (one line, for a log or a usage error)."""


@dataclass(frozen=True)
class Verdict:
    ok: bool
    how: str  # "DKIM d=kernel.org" when ok, else why not (one line)


def _show(value: bytes | str, limit: int = 80) -> str:
    """Bytes a stranger wrote, as a short printable ASCII string for a log line."""
    text = value.decode("ascii", "replace") if isinstance(value, bytes) else value
    text = re.sub(r"[^\x21-\x7e]+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _domain(value: str) -> str:
    return value.strip().lower().rstrip(".")


def aligned(d: str, from_domain: str) -> bool:
    """d= speaks for the From: domain: the same domain or a parent of it."""
    d, from_domain = _domain(d), _domain(from_domain)
    if "." not in d or not from_domain or ".." in d:
        return False
    return from_domain == d or from_domain.endswith("." + d)


def parse_keys(text: str) -> tuple[dict[str, bytes | None], list[str]]:
    """The keys file's names and records (None: pinned "no key"), and its bad lines."""
    keys: dict[str, bytes | None] = {}
    problems: list[str] = []
    for n, text_line in enumerate(text.splitlines(), 1):
        line = text_line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, rest = line.partition(" ")
        if "\t" in name:
            name, _, more = name.partition("\t")
            rest = f"{more} {rest}"
        name = _domain(name)
        if "._domainkey." not in name or not name.isascii():
            problems.append(f"line {n}: not a selector._domainkey.domain name")
            continue
        rest = _ZONE_FIELDS.sub("", rest.strip())
        if rest.startswith('"'):
            parts = _QUOTED.findall(rest)
            if not parts or _QUOTED.sub("", rest).strip():
                problems.append(f"line {n}: unbalanced quotes")
                continue
            rest = "".join(re.sub(r"\\(.)", r"\1", p) for p in parts)
        if not rest.isascii():
            problems.append(f"line {n}: a record is ASCII")
            continue
        if name in keys:
            problems.append(f"line {n}: {name} given twice (the first one counts)")
            continue
        keys[name] = rest.encode() if rest else None
    return keys, problems


class PinnedKeys:
    """The keys file, read again when it changes."""

    def __init__(self, path: str):
        self.path = path
        self._stamp: tuple[int, int, int] | None = None
        self._keys: dict[str, bytes | None] = {}

    def load(self) -> dict[str, bytes | None]:
        where = f"DKIM keys file {self.path}"
        try:
            st = os.stat(self.path)
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
            if stamp == self._stamp:
                return self._keys
            if st.st_size > MAX_KEYS_FILE_BYTES:
                raise KeysFileError(f"{where}: larger than {MAX_KEYS_FILE_BYTES} bytes")
            with open(self.path, "rb") as fh:
                data = fh.read(MAX_KEYS_FILE_BYTES + 1)
        except OSError as exc:
            raise KeysFileError(f"{where}: {exc.strerror or exc}") from None
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise KeysFileError(f"{where}: not UTF-8 text") from None
        keys, problems = parse_keys(text)
        if problems:
            log.warning(
                "%s: %d line(s) ignored, first %s", where, len(problems), _show(problems[0], 200)
            )
        self._keys, self._stamp = keys, stamp
        return keys


def dns_txt(name: bytes, timeout: float) -> bytes | None:
    """The TXT record of ``name`` from DNS (dnspython through dkimpy), bounded in time."""
    txt: bytes | None = dkim.dnsplug.get_txt(name, timeout=timeout)
    return txt


class _Lookup:
    """dkimpy's ``dnsfunc`` for one signature: pinned keys first, then DNS; it
    remembers what it found, so that a failure can say which."""

    def __init__(self, verifier: DkimVerifier, keys: dict[str, bytes | None]):
        self.verifier = verifier
        self.keys = keys
        self.name = ""
        self.record: bytes | None = None
        self.error = ""
        self.asked = False

    def __call__(self, name: bytes, timeout: float = 5.0) -> bytes | None:
        self.asked = True
        self.name = _domain(name.decode("ascii", "replace"))
        if self.name in self.keys:
            self.record = self.keys[self.name]
            return self.record
        record, self.error = self.verifier.from_dns(name)
        if self.error:
            raise dkim.DnsTimeoutError(self.error)  # dkimpy: "does not verify"
        self.record = record
        return record


class DkimVerifier:
    """Verifies the From: of mails; one per watcher (the keys file and DNS answers cached)."""

    def __init__(self, keys_file: str = "", timeout: float = 5.0, dns: DnsFunc | None = None):
        self.pinned = PinnedKeys(keys_file) if keys_file else None
        self.timeout = timeout
        self.dns: DnsFunc = dns or dns_txt
        self._cache: dict[bytes, tuple[float, bytes | None, str]] = {}
        self._lookups_left = MAX_LOOKUPS

    def check_keys(self) -> None:
        """Read the keys file now (KeysFileError when it cannot be read)."""
        if self.pinned is not None:
            self.pinned.load()

    def from_dns(self, name: bytes) -> tuple[bytes | None, str]:
        """A key record from DNS (cached a while), or why the lookup failed."""
        now = time.monotonic()
        hit = self._cache.get(name)
        if hit is not None and now - hit[0] < (
            _CACHE_FAILURE_SECONDS if hit[2] else _CACHE_SECONDS
        ):
            return hit[1], hit[2]
        if self._lookups_left <= 0:
            return None, f"more than {MAX_LOOKUPS} DNS lookups for one mail"
        self._lookups_left -= 1
        try:
            record, error = self.dns(name, self.timeout), ""
        except Exception as exc:  # dnspython's errors for a hostile name or a dead resolver
            record, error = None, f"DNS: {type(exc).__name__}: {_show(str(exc), 120)}"
        if len(self._cache) >= _CACHE_SIZE:
            self._cache.pop(next(iter(self._cache)))
        self._cache[name] = (now, record, error)
        return record, error

    def verify(self, raw: bytes, from_addr: str) -> Verdict:
        """Whether ``from_addr`` (the mail's From: address) is authenticated by DKIM."""
        self._lookups_left = MAX_LOOKUPS
        try:
            return self._verify(raw, from_addr)
        except Exception as exc:  # the verifier failing on a stranger's bytes is a reason
            return Verdict(False, f"DKIM verifier failed: {type(exc).__name__}: {_show(str(exc))}")

    def _verify(self, raw: bytes, from_addr: str) -> Verdict:
        from_domain = _domain(from_addr.rpartition("@")[2]) if "@" in from_addr else ""
        if not from_domain:
            return Verdict(False, "no From: address to authenticate")
        if len(raw) > MAX_MAIL_BYTES:
            return Verdict(False, f"mail over {MAX_MAIL_BYTES} bytes: not verified")
        try:
            keys = self.pinned.load() if self.pinned is not None else {}
        except KeysFileError as exc:
            return Verdict(False, str(exc))
        if _BARE_CR.search(raw):
            # the email package ends a line there, dkimpy does not: the headers and
            # the body the command is read from would not be the ones verified
            return Verdict(False, "a bare CR in the mail (read and verified differently)")
        try:
            signer = dkim.DKIM(raw, logger=_QUIET, minkey=MIN_KEY_BITS)
        except dkim.DKIMException as exc:
            return Verdict(False, f"headers unreadable for DKIM: {_show(str(exc))}")
        names = [bytes(name).lower() for name, _ in signer.headers]
        read = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(raw)
        for single in _SINGLE:
            # as dkimpy sees them and as the mail's reader (watch/mail.py) does
            count = max(names.count(single), len(read.get_all(single.decode(), [])))
            if count > 1 or (single == b"from" and count == 0):
                return Verdict(False, f"{single.decode()} header appears {count} times")
        sigs = [bytes(v) for n, v in signer.headers if bytes(n).lower() == b"dkim-signature"]
        if not sigs:
            return Verdict(False, "no DKIM signature")
        unaligned: list[str] = []
        failures: list[str] = []
        for idx, value in enumerate(sigs[:MAX_SIGNATURES]):
            try:
                state, text = self._one(
                    signer, idx, value, from_domain=from_domain, names=set(names), keys=keys
                )
            except Exception as exc:  # one bad signature does not spoil the others
                state = _FAILED
                text = f"DKIM verifier failed: {type(exc).__name__}: {_show(str(exc))}"
            if state is _OK:
                return Verdict(True, f"DKIM d={text}")
            (unaligned if state is _UNALIGNED else failures).append(text)
        if failures:  # the reason of a signature that could have counted
            return Verdict(False, failures[0])
        return Verdict(False, f"{unaligned[0]} {_show(from_domain)}")

    def _one(
        self,
        signer: dkim.DKIM,
        idx: int,
        value: bytes,
        *,
        from_domain: str,
        names: set[bytes],
        keys: dict[str, bytes | None],
    ) -> tuple[object, str]:
        """(_OK, its d=) when signature ``idx`` authenticates the From: domain,
        else (_UNALIGNED or _FAILED, why)."""
        if len(value) > MAX_SIGNATURE_BYTES:
            return _FAILED, f"DKIM-Signature of {len(value)} bytes: too long"
        try:
            tags = dkim.util.parse_tag_value(value)
            d = _domain(tags.get(b"d", b"").decode("ascii"))
        except (dkim.util.InvalidTagValueList, UnicodeDecodeError):
            return _FAILED, "DKIM-Signature unreadable (not tag=value; ASCII)"
        if not d:
            return _FAILED, "DKIM-Signature without d="
        if not aligned(d, from_domain):
            return _UNALIGNED, f"d={_show(d)} not aligned with From: domain"
        signed = {h.strip().lower() for h in re.split(rb"\s*:\s*", tags.get(b"h", b""))}
        if b"from" not in signed:
            return _FAILED, f"d={_show(d)}: From not among the signed headers (h=)"
        if b"l" in tags:
            return _FAILED, f"d={_show(d)}: signature covers only part of the body (l=)"
        loose = [h.decode() for h in (b"in-reply-to", b"references") if h in names - signed]
        if loose and b"message-id" not in signed:
            return _FAILED, f"d={_show(d)}: {', '.join(loose)} not signed (nor Message-Id)"
        lookup = _Lookup(self, keys)
        try:
            good = signer.verify(idx, dnsfunc=lookup)
        except dkim.DKIMException as exc:
            text = str(exc)
            if "body hash mismatch" in text:
                text = "body hash mismatch (the body changed after signing)"
            return _FAILED, f"d={_show(d)}: signature does not verify: {_show(text, 120)}"
        if good:
            return _OK, _show(d)
        where = _show(lookup.name or "?")
        if lookup.error:
            return _FAILED, f"d={_show(d)}: key not found: {where}: {lookup.error}"
        if lookup.asked and lookup.record is None:
            return _FAILED, f"d={_show(d)}: key not found: no TXT record at {where}"
        try:
            dkim.evaluate_pk(lookup.name.encode(), lookup.record)
        except dkim.DKIMException as exc:
            return _FAILED, f"d={_show(d)}: key at {where} unusable: {_show(str(exc))}"
        return _FAILED, f"d={_show(d)}: signature does not verify (headers or b=)"
