"""The review pipeline: fetch -> apply -> check -> simulate -> report -> post.

``review_revision`` runs the middle of it (apply, check, simulate) on one
revision and returns a Review; the CLI and the workers both call it.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from reviewbot.models import SIM_ENTRY, Finding, Review, Revision, Series, SimulationResult
from reviewbot.pipeline import apply as apply_stage
from reviewbot.pipeline import check as check_stage

log = logging.getLogger(__name__)


def review_revision(
    series: Series,
    revision: Revision,
    tree: Path,
    *,
    base: str | None = None,
    simulate: bool = True,
    progress: Callable[[str], None] | None = None,
    already_applied: bool = False,
    base_from: str = "--base",
    guess_base: bool = True,
) -> Review:
    say = progress or (lambda _msg: None)
    notes: list[str] = [f"patch {m}/{revision.total} is missing" for m in revision.missing]
    say(f"applying {len(revision.patches)} patch(es) of v{revision.version}")
    with apply_stage.applied(
        tree,
        revision,
        base,
        already_applied=already_applied,
        base_from=base_from,
        guess_base=guess_base,
    ) as applied:
        notes.extend(applied.notes)
        say(f"applied on {applied.result.base[:12]} ({applied.result.base_source}); checking")
        checked = check_stage.run(applied, revision)
        notes.extend(checked.notes)
        findings = list(checked.findings)
        simulation: SimulationResult | None = None
        if simulate and len(applied.states) > 1:
            say("simulating")
            touched = {name for names in checked.touched.values() for name in names}
            simulation, sim_findings, sim_notes = _simulate(applied, revision, touched)
            findings = corroborate(findings, sim_findings)
            notes.extend(sim_notes)
        result = applied.result
    return Review(
        series=series,
        revision=revision,
        apply=result,
        findings=tuple(findings),
        simulation=simulation,
        notes=tuple(notes),
    )


# Which checker explains which kind of simulator failure (sim/faults.py Kind).
SIM_KIND_CHECKERS: dict[str, frozenset[str]] = {
    "stale-pointer": frozenset({"stale-pointer"}),
    "null": frozenset({"unchecked-null-pte"}),
    "smeared-bit": frozenset({"batch-bit-uniformity"}),
    "wrong-count": frozenset({"incomplete-batch-conversion"}),
    "out-of-bounds": frozenset({"batch-bounds"}),
    "outside-range": frozenset({"batch-bounds"}),
}


def corroborate(static: list[Finding], simulated: list[Finding]) -> list[Finding]:
    """Put each simulator failure under the static finding it demonstrates.

    A failure of the kind a checker reports, at the statement it flagged (its
    line, or one of its evidence lines; same file and function), becomes a
    "simulated:" paragraph of that finding, the way a reviewer backs a claim
    with a reproducer; the finding keeps its id.  Failures no checker
    explains stay findings of their own: the simulator saw something the
    checkers did not.
    """
    out = list(static)
    alone: list[Finding] = []
    for sim in simulated:
        kind = sim.key.split(":", 1)[0]
        checkers = SIM_KIND_CHECKERS.get(kind)

        def fits(
            f: Finding,
            exact: bool,
            sim: Finding = sim,
            checkers: frozenset[str] | None = checkers,
        ) -> bool:
            if f.file != sim.file or f.function != sim.function or not f.severity.blocking:
                return False
            if checkers is not None and f.checker not in checkers:
                return False
            if exact or checkers is None:
                return f.line == sim.line
            return sim.line in {e.line for e in f.evidence}

        match = next((i for i, f in enumerate(out) if fits(f, True)), None)
        if match is None:
            match = next((i for i, f in enumerate(out) if fits(f, False)), None)
        if match is None:
            alone.append(sim)
        elif sim.message not in out[match].simulated:
            found = out[match]
            out[match] = replace(
                found,
                simulated=(*found.simulated, sim.message),
                reproducers=(*found.reproducers, *sim.reproducers),
            )
    return out + alone


def _simulate(
    applied: apply_stage.AppliedSeries,
    revision: Revision,
    touched: set[str],
) -> tuple[SimulationResult | None, list[Finding], list[str]]:
    """Run the simulator when it is installed, the tree has the entry and
    the series changes a function the entry runs; else say why not."""
    try:
        sim: Any = importlib.import_module("reviewbot.pipeline.simulate")
    except ImportError:
        return None, [], []
    base, final = applied.states[0], applied.states[-1]
    entries = [e for e in sim.simulated_entries() if final.view.find_function(e) is not None]
    if not entries:
        return None, [], []
    # measured on the base; run only where the revision still defines the entry
    chosen = [e for e in sim.entries_touched(base.view, touched) if e in entries]
    if not chosen:
        runs = ", ".join(f"{e}()" for e in entries)
        return None, [], [f"simulation: {sim.NOT_TOUCHED} (the series changes nothing {runs} runs)"]
    label = f"v{revision.version}"
    states = [("base", base.view), (label, final.view)]
    try:
        result = sim.simulate_states(states, entries=chosen)
        raw = sim.findings_from_simulation(result, dict(states))
    except Exception as exc:  # the simulator must not sink the review
        log.exception("simulation of %s failed", ", ".join(chosen))
        return None, [], [f"could not simulate {', '.join(chosen)}: {type(exc).__name__}: {exc}"]
    return result, _attribute(list(raw), applied, revision), []


def _attribute(
    findings: list[Finding], applied: apply_stage.AppliedSeries, revision: Revision
) -> list[Finding]:
    """Give each simulator finding the first patch that changes its function."""
    targets_by_patch: list[tuple[int, set[str]]] = []
    for patch in revision.patches:
        names: set[str] = set()
        for fd in patch.files:
            for h in fd.hunks:
                names.add(h.section.split("(")[0].split()[-1] if "(" in h.section else "")
        targets_by_patch.append((patch.index, names))
    applied_idx = {s.patch_index for s in applied.states}
    out = []
    for f in findings:
        if f.patch_index is not None:
            out.append(f)
            continue
        fn = f.function or SIM_ENTRY
        index = next(
            (i for i, names in targets_by_patch if fn in names and i in applied_idx),
            max(applied_idx),
        )
        patch = next(p for p in revision.patches if p.index == index)
        out.append(replace(f, patch_index=patch.index, patch_message_id=patch.message_id))
    return out
