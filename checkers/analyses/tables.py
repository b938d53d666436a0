"""Named tables of ``checkers/data/kernel.toml`` read as plain data.

The tables of the newer checkers (locks, swap entries, unsigned types...)
are read here, table by table, so that each checker names the few lists it
needs and the file stays the one place where kernel knowledge lives.
"""

from __future__ import annotations

import tomllib
from functools import cache
from typing import Any

from checkers.analyses.knowledge import DATA


@cache
def _data() -> dict[str, Any]:
    return tomllib.loads(DATA.read_text())


def table(name: str) -> dict[str, Any]:
    """The table ``[name]`` (dotted names for nested tables)."""
    node: Any = _data()
    for part in name.split("."):
        node = node.get(part, {}) if isinstance(node, dict) else {}
    if not isinstance(node, dict):
        raise ValueError(f"{DATA.name}: [{name}] is not a table")
    return node


@cache
def names(table_name: str, key: str) -> frozenset[str]:
    """A list of strings of a table, as a set."""
    value = table(table_name).get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{DATA.name}: [{table_name}] {key} must be a list of strings")
    return frozenset(value)


@cache
def indices(table_name: str, key: str) -> dict[str, int]:
    """A table of ``name = index`` pairs (argument positions)."""
    value = table(table_name).get(key, {})
    if not isinstance(value, dict) or not all(isinstance(v, int) for v in value.values()):
        raise ValueError(f"{DATA.name}: [{table_name}] {key} must map names to integers")
    return {str(k): int(v) for k, v in value.items()}
