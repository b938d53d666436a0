"""Read a public-inbox over HTTP, one git epoch at a time (git itself through
``reviewbot.git.Mirror``).

A v2 public-inbox stores every message as one commit of an epoch repository
(``git/N.git``) whose tree holds the raw mail as blob ``m``; epochs roll over
at about 1 GB, so the epochs are discovered from the inbox's manifest
(``manifest.js.gz``) instead of assuming ``0.git``.  Each epoch is mirrored
locally (``git clone --mirror``, then ``git fetch``) and read from a cursor
commit to HEAD, oldest first.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from reviewbot.errors import FetchError
from reviewbot.git import GitError, Mirror

_EPOCH_RE = re.compile(r"/git/(\d{1,6})\.git$")
# lore's largest inbox (LKML) has a manifest of a few KB and tens of epochs:
# anything far larger is no manifest, and is not decompressed without bound
MAX_MANIFEST_BYTES = 4 * 1024 * 1024
MAX_EPOCHS = 10_000


@dataclass(frozen=True)
class InboxMessage:
    epoch: int
    commit: str
    raw: bytes


def discover_epochs(inbox_url: str, timeout: float = 20.0) -> list[int]:
    """Epoch numbers listed by the inbox's manifest, e.g. ``[0, 1, 2]``."""
    url = f"{inbox_url.rstrip('/')}/manifest.js.gz"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            data = resp.read(MAX_MANIFEST_BYTES + 1)
    except (urllib.error.URLError, OSError) as exc:
        raise FetchError(f"{url}: {exc}") from None
    too_big = FetchError(f"{url}: over {MAX_MANIFEST_BYTES >> 20} MB, not a public-inbox manifest")
    if len(data) > MAX_MANIFEST_BYTES:
        raise too_big
    try:
        if data[:2] == b"\x1f\x8b":
            with gzip.GzipFile(fileobj=io.BytesIO(data)) as gz:
                data = gz.read(MAX_MANIFEST_BYTES + 1)  # a gzip bomb stops here
            if len(data) > MAX_MANIFEST_BYTES:
                raise too_big
        manifest = json.loads(data)
    except (OSError, EOFError, ValueError) as exc:
        raise FetchError(f"{url}: not a public-inbox manifest ({exc})") from None
    if not isinstance(manifest, dict):
        raise FetchError(f"{url}: not a public-inbox manifest")
    epochs = sorted({int(m.group(1)) for key in manifest if (m := _EPOCH_RE.search(str(key)))})
    if len(epochs) > MAX_EPOCHS:
        raise FetchError(f"{url}: {len(epochs)} epochs, not a public-inbox manifest")
    return epochs


def _slug(url: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", url.split("://", 1)[-1]).strip("_")


class EpochMirror:
    """A local ``--mirror`` clone of one epoch of one inbox."""

    def __init__(self, state_dir: Path, inbox_url: str, epoch: int):
        self.url = f"{inbox_url.rstrip('/')}/git/{epoch}.git"
        self.path = state_dir / "mirrors" / _slug(inbox_url) / f"{epoch}.git"
        self.epoch = epoch
        self._mirror = Mirror(self.path, self.url)

    def update(self) -> None:
        """Clone or fetch; raises FetchError when the server cannot be reached."""
        try:
            self._mirror.update()
        except GitError as exc:
            detail = exc.stderr.strip().splitlines()
            raise FetchError(f"{self.url}: {detail[-1] if detail else exc}") from None

    def head(self) -> str | None:
        return self._mirror.head()  # None: not cloned yet, or an empty epoch

    def messages_after(
        self, cursor: str | None, limit: int | None = None
    ) -> Iterator[InboxMessage]:
        """Messages after ``cursor`` (exclusive) up to HEAD, oldest first.

        A cursor that is no longer in the history (the server rewrote the
        epoch, which public-inbox does for purges) reads the epoch again from
        its start: duplicates are dropped by message-id downstream.
        """
        head = self.head()
        if head is None or head == cursor:
            return
        shas = self._mirror.commits_after(cursor, head)
        if limit is not None:
            shas = shas[:limit]
        # a purge commit has no message (blob ``m``): skipped
        for sha, raw in self._mirror.blobs(shas, "m"):
            yield InboxMessage(self.epoch, sha, raw)
