"""Kernel knowledge loaded from ``checkers/data/kernel.toml``.

The lists of functions that may return NULL, that dereference a pte pointer,
that re-obtain one, the PTE bits and the single-entry/batched API pairs are
data that mm maintainers extend without touching a checker.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data" / "kernel.toml"


@dataclass(frozen=True)
class Bit:
    name: str
    tests: frozenset[str]
    set: frozenset[str]
    clear: frozenset[str]
    marks: frozenset[str]
    out_params: frozenset[str]


@dataclass(frozen=True)
class Pair:
    single: str
    batched: str
    nr_arg: int


@dataclass(frozen=True)
class Knowledge:
    may_return_null: frozenset[str]
    null_or_error_tests: frozenset[str]
    deref: dict[str, int]
    reobtain: frozenset[str]
    bits: tuple[Bit, ...]
    batch_helpers: frozenset[str]
    full_compare: frozenset[str]
    field_compare: frozenset[str]
    bit_preserving: frozenset[str]
    leaf_accessors: frozenset[str]
    batch_flags: dict[str, tuple[str, ...]]
    pairs: tuple[Pair, ...]
    vma_tokens: tuple[str, ...]
    pmd_tokens: tuple[str, ...]
    page_size_tokens: tuple[str, ...]
    pointer_suffixes: tuple[str, ...]
    conventional_names: frozenset[str]
    batch_args: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def batched_nr_arg(self) -> dict[str, int]:
        return {p.batched: p.nr_arg for p in self.pairs}


def _strs(table: dict[str, object], name: str) -> list[str]:
    value = table.get(name, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{DATA.name}: {name} must be a list of strings")
    return list(value)


@cache
def knowledge(path: Path = DATA) -> Knowledge:
    data = tomllib.loads(path.read_text())
    bits = tuple(
        Bit(
            name,
            *(frozenset(_strs(t, k)) for k in ("tests", "set", "clear", "marks", "out_params")),
        )
        for name, t in data["bits"].items()
    )
    pairs = tuple(
        Pair(single, str(v["batched"]), int(v["nr_arg"])) for single, v in data["pairs"].items()
    )
    batch = data["batch"]
    return Knowledge(
        may_return_null=frozenset(_strs(data["null_pte"], "may_return_null")),
        null_or_error_tests=frozenset(_strs(data["null_pte"], "null_or_error_tests")),
        deref={k: int(v) for k, v in data["deref"].items()},
        reobtain=frozenset(_strs(data["reobtain"], "functions")),
        bits=bits,
        batch_helpers=frozenset(_strs(batch, "helpers")),
        full_compare=frozenset(_strs(batch, "full_compare")),
        field_compare=frozenset(_strs(batch, "field_compare")),
        bit_preserving=frozenset(_strs(batch, "bit_preserving")),
        leaf_accessors=frozenset(_strs(batch, "leaf_accessors")),
        batch_flags={k: tuple(v) for k, v in batch.get("flags", {}).items()},
        pairs=pairs,
        vma_tokens=tuple(_strs(data["batch_bounds"], "vma_tokens")),
        pmd_tokens=tuple(_strs(data["batch_bounds"], "pmd_tokens")),
        page_size_tokens=tuple(_strs(data["batch_bounds"], "page_size_tokens")),
        pointer_suffixes=tuple(_strs(data["naming"], "pointer_suffixes")),
        conventional_names=frozenset(_strs(data["naming"], "conventional")),
        batch_args={
            h: {r: int(i) for r, i in roles.items()} for h, roles in batch.get("args", {}).items()
        },
    )
