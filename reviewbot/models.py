"""The data that flows through the pipeline.

Every stage takes and returns these frozen dataclasses: nothing is bolted on
after construction, so a stage's output can be stored, queued or compared as
it is.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field


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


@dataclass(frozen=True)
class SimRun:
    scenario: str
    revision: str  # "base", "v1", ...
    outcome: str  # "pass" | "fail" | "not-modelled" | "model-error"
    kind: str = ""
    message: str = ""
    trace: tuple[str, ...] = ()
    # Where it failed in that revision's source (not part of the JSON contract).
    file: str = ""
    line: int = 0
    function: str = ""


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
                }
                for r in self.runs
            ],
            "coverage": self.coverage,
        }


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
