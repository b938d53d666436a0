"""The checker interface: what a checker declares and what it is given.

A function checker sees one function of one tree state (a FunctionUnit) and a
TreeView through which it may look up other functions of the same tree (a
batch helper's body, say).  It returns Findings without patch attribution:
the check stage compares base and patched trees and attributes them.
A patch checker sees one Patch (its mail and diff) and nothing else.
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar, Protocol

from checkers.frontend import FunctionUnit
from reviewbot.models import Evidence, Finding, Patch, Severity


class Confidence(enum.Enum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


@dataclass(frozen=True)
class CheckerInfo:
    id: str  # permanent, e.g. "stale-pointer"; never reused
    symbol: str  # e.g. "STALE_POINTER"
    severity: Severity
    confidence: Confidence
    message: str  # str.format template
    requires: tuple[str, ...] = ()  # analyses it needs: "cfg", "dataflow", ...


class TreeView(Protocol):
    """Read access to one tree state (a directory, or a commit)."""

    def read(self, path: str) -> bytes | None: ...

    def find_function(self, name: str) -> FunctionUnit | None: ...


class FunctionChecker(ABC):
    info: ClassVar[CheckerInfo]

    @abstractmethod
    def check_function(self, unit: FunctionUnit, tree: TreeView) -> Iterable[Finding]:
        """Findings for one function (file, line, function and evidence set)."""

    def triggers(self) -> frozenset[str]:
        """Words without which a function cannot give this checker a finding
        (``pte_offset_map_lock``, ``set_ptes``...).  The engine skips functions,
        and ``reviewbot lint`` whole files, that mention none of them.  Empty
        (the default) means: always run."""
        return frozenset()

    def finding(
        self,
        unit: FunctionUnit,
        line: int,
        severity: Severity,
        *,
        message: str,
        evidence: tuple[Evidence, ...] = (),
        key: str = "",
    ) -> Finding:
        """A Finding of this checker at ``line`` of ``unit``'s function."""
        return Finding(
            checker=self.info.id,
            severity=severity,
            file=unit.file.path,
            line=line,
            function=unit.name,
            message=message,
            evidence=evidence,
            key=key,
        )


class PatchChecker(ABC):
    info: ClassVar[CheckerInfo]

    @abstractmethod
    def check_patch(self, patch: Patch) -> Iterable[Finding]:
        """Findings for one patch mail (patch_index set by the caller)."""
