"""What the simulator's runs of one revision add up to, said once for all reports.

The text summary, the reply mail, the JSON and the dashboard all read this,
so none of them can claim more than was run: a run that was not simulated
(``not-modelled``, ``budget``, ``model-error``) is counted and its reason
named ("68 of 68 runs could not be simulated: frobnicate() is unknown"), and
a revision whose runs were mostly not simulated has health ``unknown``,
never ``pass``.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol

from reviewbot.models import SimOutcome

# "<case>: not modelled: frobnicate() is unknown at line 12" -> the reason,
# for runs stored before SimRun had a reason of its own.
_NOT_MODELLED = re.compile(
    r"not modelled: (?P<what>.*?)(?: at (?:line \d+|[\w./-]+:\d+(?: in \w+\(\))?))?$",
    re.DOTALL,
)
REASONS_SHOWN = 3


class RunLike(Protocol):
    @property
    def revision(self) -> str: ...
    @property
    def outcome(self) -> str: ...
    @property
    def message(self) -> str: ...


def reason_of(run: RunLike) -> str:
    """Why a run was not simulated ("" for pass and fail)."""
    outcome = SimOutcome.parse(str(run.outcome))
    if outcome.simulated:
        return ""
    reason = str(getattr(run, "reason", "") or "")
    if reason:
        return reason
    found = _NOT_MODELLED.search(run.message)
    if found:
        return found.group("what")
    if outcome is SimOutcome.BUDGET:
        return "over budget"
    return "simulator error" if outcome is SimOutcome.MODEL_ERROR else str(outcome)


@dataclass(frozen=True)
class SimSummary:
    revision: str
    total: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # SimOutcome value -> runs
    reasons: tuple[tuple[str, int], ...] = ()  # most runs first

    def count(self, outcome: SimOutcome) -> int:
        return self.counts.get(outcome.value, 0)

    @property
    def not_simulated(self) -> int:
        return self.total - self.count(SimOutcome.PASS) - self.count(SimOutcome.FAIL)

    @property
    def health(self) -> str:
        """``fail`` (a run failed), ``unknown`` (mostly not simulated),
        ``pass``, or ``none`` (no run)."""
        if not self.total:
            return "none"
        if self.count(SimOutcome.FAIL):
            return "fail"
        if 2 * self.not_simulated > self.total:
            return "unknown"
        return "pass"

    def headline(self) -> str:
        """``v2: 68 runs, 60 passed, 2 failed, 6 not simulated``."""
        parts = [
            f"{self.total} run{'s' if self.total != 1 else ''}",
            f"{self.count(SimOutcome.PASS)} passed",
            f"{self.count(SimOutcome.FAIL)} failed",
        ]
        if self.not_simulated:
            parts.append(f"{self.not_simulated} not simulated")
        return f"{self.revision}: " + ", ".join(parts)

    def not_simulated_sentence(self) -> str:
        """``68 of 68 runs could not be simulated: frobnicate() is unknown``,
        or "" when every run was simulated."""
        if not self.not_simulated:
            return ""
        shown = [
            reason if len(self.reasons) == 1 else f"{reason} ({n})"
            for reason, n in self.reasons[:REASONS_SHOWN]
        ]
        if len(self.reasons) > REASONS_SHOWN:
            shown.append(f"{len(self.reasons) - REASONS_SHOWN} other reasons")
        runs = "run" if self.total == 1 else "runs"
        return (
            f"{self.not_simulated} of {self.total} {runs} of {self.revision} "
            f"could not be simulated: {'; '.join(shown)}"
        )

    def to_json(self) -> dict[str, object]:
        return {
            "revision": self.revision,
            "runs": self.total,
            "outcomes": dict(self.counts),
            "not_simulated": self.not_simulated,
            "reasons": [{"reason": r, "runs": n} for r, n in self.reasons],
            "health": self.health,
            "sentence": self.not_simulated_sentence(),
        }


def reviewed_revision(runs: Iterable[RunLike]) -> str | None:
    """The revision under review: the last one run, unless only the base ran."""
    names = list(dict.fromkeys(r.revision for r in runs))
    return names[-1] if names else None


def summarise(runs: Iterable[RunLike], revision: str | None = None) -> SimSummary:
    """The runs of ``revision`` (by default the reviewed one) added up."""
    runs = list(runs)
    revision = revision if revision is not None else reviewed_revision(runs)
    if revision is None:
        return SimSummary(revision="")
    mine = [r for r in runs if r.revision == revision]
    counts = Counter(SimOutcome.parse(str(r.outcome)).value for r in mine)
    reasons = Counter(reason_of(r) for r in mine if not SimOutcome.parse(str(r.outcome)).simulated)
    return SimSummary(
        revision=revision,
        total=len(mine),
        counts={o.value: counts[o.value] for o in SimOutcome if counts[o.value]},
        reasons=tuple(reasons.most_common()),
    )
