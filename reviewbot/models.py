"""The data that flows through the pipeline.

Every stage takes and returns these frozen dataclasses: nothing is bolted on
after construction, so a stage's output can be stored, queued or compared as
it is.
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol


class Severity(enum.Enum):
    """How a finding is introduced in a reply (the seed reviewer's words)."""

    BUG = "bug"
    POSSIBLE_BUG = "possible-bug"
    QUESTION = "question"
    NIT = "nit"
    NOTE = "note"

    @property
    def prefix(self) -> str:
        """The word that opens the comment in a reply mail."""
        return {
            Severity.BUG: "bug:",
            Severity.POSSIBLE_BUG: "possible bug?:",
            Severity.QUESTION: "question:",
            Severity.NIT: "nit:",
            Severity.NOTE: "note:",
        }[self]

    @property
    def blocking(self) -> bool:
        """Findings that make ``reviewbot check`` exit 1."""
        return self in (Severity.BUG, Severity.POSSIBLE_BUG)


class ApplyStatus(enum.Enum):
    APPLIED = "applied"
    FAILED = "failed"  # no hunk landed (each one's cause in PatchApply.failed_hunks)
    SKIPPED = "skipped"  # it needs a hunk of an earlier patch that did not apply
    MISSING = "missing"  # the patch never arrived
    PARTIAL = "partial"  # some hunks landed and were reviewed; failed_hunks did not
    ALREADY_APPLIED = "already-applied"  # the base already has it (applies in reverse)

    @property
    def reviewed(self) -> bool:
        """Whether some of the patch's change was applied and checked."""
        return self in (ApplyStatus.APPLIED, ApplyStatus.PARTIAL)


class ExitStatus(enum.IntEnum):
    """The CLI contract: 0 clean, 1 blocking findings, 2 could not review."""

    CLEAN = 0
    FINDINGS = 1
    ERROR = 2


@dataclass(frozen=True)
class Series:
    title: str
    author: str
    change_id: str | None = None


@dataclass(frozen=True)
class FileDiff:
    """One file of a patch, as unidiff parsed it, reduced to plain data."""

    old_path: str | None  # None for a new file
    new_path: str | None  # None for a deleted file
    is_binary: bool = False
    is_rename: bool = False
    hunks: tuple[Hunk, ...] = ()


@dataclass(frozen=True)
class HunkLine:
    kind: str  # " ", "+", "-"
    text: str
    old_lineno: int | None
    new_lineno: int | None


@dataclass(frozen=True)
class Hunk:
    old_start: int
    old_len: int
    new_start: int
    new_len: int
    section: str  # the function name git puts after @@ ... @@
    lines: tuple[HunkLine, ...] = ()

    @property
    def header(self) -> str:
        tail = f" {self.section}" if self.section else ""
        return f"@@ -{self.old_start},{self.old_len} +{self.new_start},{self.new_len} @@{tail}"


@dataclass(frozen=True)
class Patch:
    index: int  # n of n/m (1-based; 0 is a cover letter)
    total: int  # m of n/m
    subject: str  # without the [PATCH ...] prefix
    message_id: str  # without angle brackets
    author: str  # "Name <addr>"
    date: str  # RFC 2822 date as in the mail
    diff_text: str  # the raw unified diff
    files: tuple[FileDiff, ...] = ()
    body: str = ""  # commit message
    raw_subject: str = ""  # subject as mailed, with its [PATCH vN n/m]
    references: tuple[str, ...] = ()
    to: tuple[str, ...] = ()  # addresses, so that a reply keeps the list on Cc
    cc: tuple[str, ...] = ()


@dataclass(frozen=True)
class Revision:
    version: int
    patches: tuple[Patch, ...]
    cover: Patch | None = None
    base_commit: str | None = None  # from the base-commit: trailer
    missing: tuple[int, ...] = ()  # indexes of n/m that never arrived
    total: int = 0


@dataclass(frozen=True)
class Evidence:
    """One line that supports a finding: where a copy was taken, etc."""

    line: int
    role: str  # "copied", "re-obtained", "used", "checked", ...
    text: str = ""


SIM_ENTRY = "do_swap_page"  # the simulator's default entry function


@dataclass(frozen=True)
class Reproducer:
    """The simulator case that shows a failure, as data (scenario, folio order,
    faulting index, entry function): rendered into a ``reviewbot simulate``
    command line, never read back from one."""

    scenario: str
    order: int | None = None
    index: int | None = None
    entry: str = SIM_ENTRY

    @classmethod
    def from_case_id(cls, case_id: str, entry: str = SIM_ENTRY) -> Reproducer:
        """From the simulator's case id, ``"table-freed order=4 index=3"``; an
        entry other than do_swap_page leads it: ``"zap_pte_range:swap-batch ..."``."""
        name, *rest = case_id.split() or [""]
        lead, sep, tail = name.partition(":")
        if sep and tail:
            entry, name = lead, tail
        params = dict(p.split("=", 1) for p in rest if "=" in p)
        order, index = params.get("order", ""), params.get("index", "")
        return cls(
            name,
            int(order) if order.isdigit() else None,
            int(index) if index.isdigit() else None,
            entry,
        )

    def argv(self, *series: str) -> list[str]:
        """``reviewbot simulate`` with this case's flags, then ``series``."""
        out = ["reviewbot", "simulate"]
        if self.entry != SIM_ENTRY:
            out += ["--entry", self.entry]
        out += ["--scenario", self.scenario]
        if self.order is not None:
            out += ["--order", str(self.order)]
        if self.index is not None:
            out += ["--index", str(self.index)]
        return [*out, *series]

    def line(self, series: str = "...") -> str:
        """``Reproduce: reviewbot simulate ... SERIES`` ("..." when the series
        source is not known yet), the line a reply carries."""
        return "Reproduce: " + " ".join(self.argv(series))

    def to_json(self) -> dict[str, object]:
        return {
            "scenario": self.scenario,
            "order": self.order,
            "index": self.index,
            "entry": self.entry,
        }


@dataclass(frozen=True)
class Finding:
    checker: str  # permanent checker id, e.g. "stale-pointer"
    severity: Severity
    file: str
    line: int  # line in the post-image (end-of-series tree) file
    function: str
    message: str
    evidence: tuple[Evidence, ...] = ()
    patch_index: int | None = None
    patch_message_id: str | None = None
    key: str = ""  # line-independent identity material given by the checker
    # What the simulator showed of this same problem (not part of the id).
    simulated: tuple[str, ...] = ()
    # The simulator cases behind ``message`` (a simulator finding) and
    # ``simulated``, whose "Reproduce:" lines are rendered from them.
    reproducers: tuple[Reproducer, ...] = ()

    @property
    def id(self) -> str:
        """Stable across line shifts: checker, function and evidence text."""
        material = "\0".join(
            [self.checker, self.file, self.function, self.key]
            + [e.role + ":" + " ".join(e.text.split()) for e in self.evidence]
        )
        return hashlib.sha1(material.encode()).hexdigest()[:8]

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "checker": self.checker,
            "severity": self.severity.value,
            "file": self.file,
            "line": self.line,
            "function": self.function,
            "message": self.message,
            "patch_index": self.patch_index,
            "patch_message_id": self.patch_message_id,
            "evidence": [{"line": e.line, "role": e.role, "text": e.text} for e in self.evidence],
            "simulated": list(self.simulated),
            "reproducers": [r.to_json() for r in self.reproducers],
        }


@dataclass(frozen=True)
class FailedHunk:
    """A hunk (or a whole file: hunk 0) of a patch that did not land."""

    file: str
    hunk: int  # 1-based among the file's hunks in the mail; 0 for the whole file
    header: str  # the hunk's "@@ -a,b +c,d @@ ..." line as mailed
    base: str  # the commit the series was applied on
    cause: str  # in words: "context differs at line N ...", "file absent", ...

    def to_json(self) -> dict[str, object]:
        return {
            "file": self.file,
            "hunk": self.hunk,
            "header": self.header,
            "base": self.base,
            "cause": self.cause,
        }


@dataclass(frozen=True)
class PatchApply:
    index: int
    status: ApplyStatus
    detail: str = ""  # which hunk failed, against which base
    failed_hunks: tuple[FailedHunk, ...] = ()
    # (file index, hunk index, lines it moved): where each hunk that landed
    # sits in the end-of-series file, against the mail's @@ numbers
    shifts: tuple[tuple[int, int, int], ...] = ()


@dataclass(frozen=True)
class ApplyResult:
    base: str  # the commit the series was applied on
    base_source: str  # "trailer", "--base", "HEAD"
    patches: tuple[PatchApply, ...]
    tree_dir: str | None = None  # throwaway worktree holding the end state

    @property
    def applied(self) -> bool:
        return all(p.status is ApplyStatus.APPLIED for p in self.patches)


class SimOutcome(enum.StrEnum):
    """How one simulator run ended, from the interpreter to storage.

    Only ``pass`` and ``fail`` say something about the patch; the others say
    the case was not simulated (``budget``: over its step, time or memory
    budget; ``not-modelled``: the C needs something the model lacks;
    ``model-error``: the simulator itself is wrong).  A str enum: stored and
    written to JSON as its value.
    """

    PASS = "pass"
    FAIL = "fail"
    BUDGET = "budget"
    NOT_MODELLED = "not-modelled"
    MODEL_ERROR = "model-error"

    @classmethod
    def parse(cls, value: str) -> SimOutcome:
        """A stored value; one this version does not know is a model error."""
        try:
            return cls(value)
        except ValueError:
            return cls.MODEL_ERROR

    @property
    def simulated(self) -> bool:
        return self in (SimOutcome.PASS, SimOutcome.FAIL)


@dataclass(frozen=True)
class SimRun:
    scenario: str
    revision: str  # "base", "v1", ...
    outcome: SimOutcome
    kind: str = ""
    message: str = ""
    trace: tuple[str, ...] = ()
    # Where it failed in that revision's source (not part of the JSON contract).
    file: str = ""
    line: int = 0
    function: str = ""
    # Why a run was not simulated, shared by the runs it stopped
    # ("frobnicate() is unknown"); empty for pass and fail.
    reason: str = ""


@dataclass(frozen=True)
class SimulationResult:
    runs: tuple[SimRun, ...]
    coverage: dict[str, object] = field(default_factory=dict)

    def to_json(self) -> dict[str, object]:
        return {
            "runs": [
                {
                    "scenario": r.scenario,
                    "revision": r.revision,
                    "outcome": r.outcome,
                    "kind": r.kind,
                    "message": r.message,
                    "trace": list(r.trace),
                    "reason": r.reason,
                }
                for r in self.runs
            ],
            "coverage": self.coverage,
            "summary": self.summary().to_json(),
        }

    def summary(self, revision: str | None = None) -> SimSummary:
        return summarise(self.runs, revision)


@dataclass(frozen=True)
class Review:
    series: Series
    revision: Revision
    apply: ApplyResult | None
    findings: tuple[Finding, ...]
    simulation: SimulationResult | None = None
    notes: tuple[str, ...] = ()  # "could not analyse ...", "patch 4/5 missing"

    @property
    def exit_status(self) -> ExitStatus:
        if any(f.severity.blocking for f in self.findings):
            return ExitStatus.FINDINGS
        return ExitStatus.CLEAN


# What the simulator's runs of one revision add up to (was reviewbot/sim_summary.py):
# What the simulator's runs of one revision add up to, said once for all reports.
#
# The text summary, the reply mail, the JSON and the dashboard all read this,
# so none of them can claim more than was run: a run that was not simulated
# (``not-modelled``, ``budget``, ``model-error``) is counted and its reason
# named ("68 of 68 runs could not be simulated: frobnicate() is unknown"), and
# a revision whose runs were mostly not simulated has health ``unknown``,
# never ``pass``.
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


_NOT_RUN_NOTES = ("simulation: ", "could not simulate")


def simulation_not_run(simulated: bool, notes: Iterable[str]) -> str | None:
    """Why the simulator did not run, from a review's notes ("no simulated
    path touched (...)", "could not simulate ...", else "not run"); None when
    it ran.  Every format says it: a simulator that did not run is never
    taken for one that found nothing."""
    if simulated:
        return None
    why = next((n for n in notes if n.startswith(_NOT_RUN_NOTES)), "simulation: not run")
    return why.removeprefix("simulation: ")
