"""The data that flows through the pipeline.

Every stage takes and returns these frozen dataclasses: nothing is bolted on
after construction, so a stage's output can be stored, queued or compared as
it is.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reviewbot.sim_summary import SimSummary


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
    FAILED = "failed"
    SKIPPED = "skipped"  # an earlier patch failed
    MISSING = "missing"  # the patch never arrived


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
        }


@dataclass(frozen=True)
class PatchApply:
    index: int
    status: ApplyStatus
    detail: str = ""  # which hunk failed, against which base


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
        from reviewbot.sim_summary import summarise

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
