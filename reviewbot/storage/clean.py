"""Values from mail made storable at the door: NULs, surrogates, lengths.

Anyone can write a mail: a 600-character Message-Id, a 300-character
``change-id:``, a NUL in a Subject or bytes that are no UTF-8.  PostgreSQL
refuses NULs and lone surrogates in text and raises on a value longer than
its VARCHAR, and one such row used to fail the watcher's whole batch, poll
after poll.  So every row is cleaned just before it is written (an ORM hook
on every table, whoever writes it):

- text loses its NULs and gets U+FFFD for what is not Unicode;
- an identifier longer than :data:`MAX_ID` (message ids, change ids) becomes
  its readable start plus a hash of the whole (:func:`clean_id`), the same
  function the watcher applies when it reads a mail, so threading still
  matches; other bounded text is cut to its column's length.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from sqlalchemy import JSON, String, event
from sqlalchemy.orm import Mapper

MAX_ID = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_ID_COLUMNS = frozenset({"message_id", "patch_message_id", "change_id", "finding_id", "key", "ref"})


def clean_text(value: str) -> str:
    """Text any database stores: no NUL, no lone surrogate."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    return value


def clean_id(value: str, limit: int = MAX_ID) -> str:
    """An identifier from mail that fits ``limit``: long ones keep a prefix and a hash.

    Idempotent: an id it returns is returned unchanged.
    """
    value = _CONTROL.sub("", clean_text(value)).strip()
    if len(value) <= limit:
        return value
    digest = hashlib.sha256(value.encode("utf-8")).hexdigest()[:40]
    return f"{value[: max(limit - 42, 0)]}#{digest}"[-limit:]


def _clean_json(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, list):
        return [_clean_json(v) for v in value]
    if isinstance(value, dict):
        return {clean_text(str(k)): _clean_json(v) for k, v in value.items()}
    return value


def clean_row(mapper: Mapper[Any], target: Any) -> None:
    """Clean every text and JSON attribute of a row about to be written."""
    for column in mapper.columns:
        key = mapper.get_property_by_column(column).key
        value = target.__dict__.get(key)
        if value is None:
            continue
        if isinstance(column.type, JSON):
            cleaned = _clean_json(value)
            if cleaned != value:
                setattr(target, key, cleaned)
            continue
        if not isinstance(value, str):
            continue
        cleaned = clean_text(value)
        limit = getattr(column.type, "length", None) if isinstance(column.type, String) else None
        if key in _ID_COLUMNS:
            # the watcher's own form (MAX_ID), whatever the column allows: ids must match
            bound = min(limit or MAX_ID, MAX_ID)
            if len(cleaned) > bound:
                cleaned = clean_id(cleaned, bound)
        elif limit and len(cleaned) > limit:
            cleaned = cleaned[:limit]
        if cleaned is not value and cleaned != value:
            setattr(target, key, cleaned)


def install(base: type[Any]) -> None:
    """Clean the rows of every table mapped under ``base`` (storage.models calls it)."""
    for name in ("before_insert", "before_update"):
        event.listen(
            base, name, lambda mapper, _conn, target: clean_row(mapper, target), propagate=True
        )
