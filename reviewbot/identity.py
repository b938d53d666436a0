"""When two findings of two revisions are the same problem.

Two findings are the same when their ``Finding.id`` is equal: the id hashes
checker, file, function and the evidence text with line numbers left out, so
a finding that only moved is still the same.  Authors edit the very lines a
finding quotes, though: v2 of the sample renames ``start_pte`` to
``start_ptep`` and the stale-pointer finding's evidence changes with it.  So a
finding left without an equal id is paired with a leftover older finding of
the same checker, file, function, evidence roles and blocking class when the
key and every evidence line are nearly the same text (``SIMILAR``), or, last,
when checker, file, function and message are the same once the numbers (line
numbers, mostly) are blanked out.

Used by the replies ("still present since v1", "Fixed since v1") and by
storage (new / still present / fixed on the dashboard), so both agree.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Protocol, TypeVar

from reviewbot.models import Finding

SIMILAR = 0.8  # lowest difflib ratio between two evidence lines of one finding


class FindingLike(Protocol):
    @property
    def finding_id(self) -> str: ...
    @property
    def checker(self) -> str: ...
    @property
    def file(self) -> str: ...
    @property
    def function(self) -> str: ...
    @property
    def key(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def evidence(self) -> Sequence[Mapping[str, object]]: ...


T = TypeVar("T", bound=FindingLike)


@dataclass(frozen=True)
class Comparable:
    """A ``Finding`` seen through the FindingLike protocol."""

    finding: Finding

    @property
    def finding_id(self) -> str:
        return self.finding.id

    @property
    def checker(self) -> str:
        return self.finding.checker

    @property
    def file(self) -> str:
        return self.finding.file

    @property
    def function(self) -> str:
        return self.finding.function

    @property
    def key(self) -> str:
        return self.finding.key

    @property
    def severity(self) -> str:
        return self.finding.severity.value

    @property
    def message(self) -> str:
        return self.finding.message

    @property
    def evidence(self) -> Sequence[Mapping[str, object]]:
        return [{"role": e.role, "text": e.text} for e in self.finding.evidence]


def _shape(f: FindingLike) -> tuple[object, ...]:
    roles = tuple(str(e.get("role", "")) for e in f.evidence)
    # A bug that became a note ("that is safe: ...") was fixed, not kept.
    blocking = f.severity in ("bug", "possible-bug")
    return (f.checker, f.file, f.function, roles, blocking)


def _texts(f: FindingLike) -> list[str]:
    # the checker's key often names the variable too ("start_pte=vmf->pte")
    return [f.key or "", *(" ".join(str(e.get("text", "")).split()) for e in f.evidence)]


def likeness(a: FindingLike, b: FindingLike) -> float:
    if _shape(a) != _shape(b) or not a.evidence:
        return 0.0
    return min(
        SequenceMatcher(None, x, y).ratio() for x, y in zip(_texts(a), _texts(b), strict=True)
    )


def match(older: Sequence[T], newer: Sequence[T]) -> dict[int, T]:
    """For each finding of ``newer`` (by position) its counterpart in ``older``."""
    out: dict[int, T] = {}
    by_id = {f.finding_id: f for f in older}
    for i, f in enumerate(newer):
        if f.finding_id in by_id:
            out[i] = by_id[f.finding_id]
    taken = {id(f) for f in out.values()}
    new_ids = {f.finding_id for f in newer}
    left_old = [f for f in older if id(f) not in taken and f.finding_id not in new_ids]
    candidates = sorted(
        (
            (score, i, j)
            for i, f in enumerate(newer)
            if i not in out
            for j, o in enumerate(left_old)
            if (score := likeness(f, o)) >= SIMILAR
        ),
        key=lambda t: (-t[0], t[1], t[2]),
    )
    used: set[int] = set()
    for _score, i, j in candidates:  # best pairs first, each finding once
        if i not in out and j not in used:
            out[i] = left_old[j]
            used.add(j)
    by_wording: dict[tuple[str, ...], int] = {}
    for j, o in enumerate(left_old):
        if j not in used and o.function and o.message:
            by_wording.setdefault(_wording(o), j)
    for i, f in enumerate(newer):
        j_match = by_wording.get(_wording(f)) if i not in out and f.function and f.message else None
        if j_match is not None and j_match not in used:
            out[i] = left_old[j_match]
            used.add(j_match)
    return out


def _wording(f: FindingLike) -> tuple[str, ...]:
    """Checker, place and message with its numbers blanked: only for findings
    in a function (a patch-format message repeats word for word)."""
    return (f.checker, f.file, f.function, re.sub(r"\d+", "#", f.message))


def pair_findings(older: Sequence[Finding], newer: Sequence[Finding]) -> dict[int, Finding]:
    """``match`` over pipeline Findings: newer index -> the older Finding."""
    wrapped = match([Comparable(f) for f in older], [Comparable(f) for f in newer])
    return {i: c.finding for i, c in wrapped.items()}
