"""Run the registered checkers over function units or patches.

A checker that raises on some input does not sink the review: its failure
becomes a note ("could not analyse") and the other checkers go on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from checkers.analyses.cfg import CfgError
from checkers.analyses.dataflow import DataflowLimit
from checkers.base import TreeView
from checkers.frontend import FunctionUnit
from checkers.registry import function_checkers, patch_checkers
from reviewbot.models import Finding, Patch


@dataclass(frozen=True)
class CheckOutput:
    findings: tuple[Finding, ...]
    notes: tuple[str, ...] = ()


def may_matter(source: bytes) -> bool:
    """Whether any function checker could report something in this text: a
    file that mentions none of their triggers need not even be parsed."""
    words: set[str] = set()
    for checker in function_checkers():
        t = checker.triggers()
        if not t:
            return True
        words |= t
    # plain substring tests, as mentions() asks: cheaper than one big alternation
    return any(w.encode() in source for w in words)


def check_functions(units: Iterable[FunctionUnit], tree: TreeView) -> CheckOutput:
    findings: list[Finding] = []
    notes: list[str] = []
    # Each checker's trigger words, encoded once: a plain substring test per
    # word (what mentions() asks) costs less than one regex per checker per unit.
    checkers = [(c, tuple(w.encode() for w in sorted(c.triggers()))) for c in function_checkers()]
    for unit in units:
        where = f"{unit.file.path}:{unit.start_line} {unit.name}()"
        raw = unit.node.text or b""
        for checker, triggers in checkers:
            if triggers and not any(w in raw for w in triggers):
                continue
            try:
                findings.extend(checker.check_function(unit, tree))
            except RecursionError:
                notes.append(f"could not analyse {where} ({checker.info.id}): nested too deep")
            except (CfgError, DataflowLimit) as exc:
                notes.append(f"could not analyse {where} ({checker.info.id}): {exc}")
            except Exception as exc:  # a checker bug must not sink the review
                notes.append(f"could not analyse {where} ({checker.info.id}): {exc!r}")
    return CheckOutput(tuple(findings), tuple(notes))


def check_patch(patch: Patch) -> CheckOutput:
    findings: list[Finding] = []
    notes: list[str] = []
    for checker in patch_checkers():
        try:
            for f in checker.check_patch(patch):
                findings.append(
                    replace(f, patch_index=patch.index, patch_message_id=patch.message_id)
                )
        except Exception as exc:
            notes.append(f"could not check patch {patch.index} ({checker.info.id}): {exc!r}")
    return CheckOutput(tuple(findings), tuple(notes))
