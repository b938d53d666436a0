"""Fetch threads from lore (or any public-inbox) through b4's library.

The only module that imports b4.  b4 keeps its configuration in module
globals, so each fetch sets it up again: lore base URL (default
lore.kernel.org's ``all``), attestation off unless configured, cache off
(a cached thread would hide a revision posted minutes ago).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import urllib.parse

from reviewbot.errors import FetchError

DEFAULT_LORE = "https://lore.kernel.org/all"
_MSGID_RE = re.compile(r"^<?([^<>\s/]+@[^<>\s/]+)>?$")


def parse_target(target: str) -> tuple[str, str | None]:
    """(message-id, lore base URL or None) of a message-id or lore URL.

    ``https://lore.kernel.org/linux-mm/20240409082631.187483-5-x@y.com/``
    names the message-id ``20240409082631.187483-5-x@y.com`` on the
    ``linux-mm`` inbox.
    """
    target = target.strip()
    if target.startswith(("http://", "https://")):
        url = urllib.parse.urlsplit(target)
        parts = [urllib.parse.unquote(p) for p in url.path.split("/") if p]
        for i, part in enumerate(parts):
            if "@" in part:
                base_path = "/".join(parts[:i]) or "all"
                return part, f"{url.scheme}://{url.netloc}/{base_path}"
        raise FetchError(f"{target}: no message-id in this URL")
    if target.startswith("id:"):
        target = target[3:]
    m = _MSGID_RE.match(target)
    if not m:
        raise FetchError(f"{target!r} is neither a message-id nor a lore URL")
    return m.group(1), None


def _setup(lore_base: str) -> None:
    import b4

    overrides = {
        "b4.midmask": lore_base.rstrip("/") + "/%s",
        "b4.linkmask": lore_base.rstrip("/") + "/%s",
        "b4.cache-expire": "0",
    }
    if not os.environ.get("REVIEWBOT_ATTESTATION"):
        overrides["b4.attestation-policy"] = "off"
    b4._setup_main_config(argparse.Namespace(config=overrides))
    b4.LORENODE = None  # it caches the old base URL
    logging.getLogger("b4").setLevel(logging.CRITICAL + 1)


def _reachable(base: str) -> bool:
    """Whether the lore server answers at all (b4 says None for both cases)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(base.rstrip("/") + "/", timeout=10):
            return True
    except urllib.error.HTTPError:
        return True  # it answered, even if with 404
    except (urllib.error.URLError, OSError, ValueError):
        return False


def fetch_thread(
    msgid: str, lore_base: str | None = None, wanted_version: int | None = None
) -> list[bytes]:
    """Every mail of the thread and of the series' other revisions, raw.

    Newer revisions come from b4's ``get_extra_series`` (it searches lore by
    subject and change-id within a date window); an older one only when
    ``wanted_version`` asks for it.
    """
    import b4
    import b4.mbox

    base = lore_base or DEFAULT_LORE
    if not base.startswith(("http://", "https://")):
        # b4 would mangle it into "No connection adapters were found for '://...'"
        raise FetchError(f"--lore {base}: not an http(s) URL")
    _setup(base)
    try:
        msgs = b4.get_pi_thread_by_msgid(msgid, nocache=True, quiet=True)
    except Exception as exc:  # network or server errors, whatever b4 raises
        raise FetchError(f"{msgid}: could not fetch from {base}: {exc}") from None
    if not msgs:
        if not _reachable(base):
            raise FetchError(f"{msgid}: {base} cannot be reached")
        raise FetchError(f"{msgid}: no such message on {base}")
    try:
        msgs = b4.mbox.get_extra_series(msgs, direction=1, nocache=True)
        if wanted_version is not None:
            msgs = b4.mbox.get_extra_series(
                msgs, direction=-1, wantvers=[wanted_version], nocache=True
            )
    except Exception:  # other revisions are a bonus; the thread is enough
        pass
    return [b4.LoreMessage.get_msg_as_bytes(m) for m in msgs]
