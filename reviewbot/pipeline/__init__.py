"""The review pipeline: fetch -> apply -> check -> simulate -> report -> post.

``review_revision`` runs the middle of it (apply, check, simulate) on one
revision and returns a Review; the CLI and the workers both call it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from reviewbot.models import Finding, Review, Revision, Series, SimulationResult
from reviewbot.pipeline import apply as apply_stage
from reviewbot.pipeline import check as check_stage

SIM_ENTRY = "do_swap_page"


def review_revision(
    series: Series,
    revision: Revision,
    tree: Path,
    *,
    base: str | None = None,
    simulate: bool = True,
    progress: Callable[[str], None] | None = None,
    already_applied: bool = False,
) -> Review:
    say = progress or (lambda _msg: None)
    notes: list[str] = [f"patch {m}/{revision.total} is missing" for m in revision.missing]
    say(f"applying {len(revision.patches)} patch(es) of v{revision.version}")
    with apply_stage.applied(tree, revision, base, already_applied=already_applied) as applied:
        notes.extend(applied.notes)
        say(f"applied on {applied.result.base[:12]} ({applied.result.base_source}); checking")
        checked = check_stage.run(applied, revision)
        notes.extend(checked.notes)
        findings = list(checked.findings)
        simulation: SimulationResult | None = None
        if simulate and len(applied.states) > 1:
            say("simulating")
            simulation, sim_findings, sim_notes = _simulate(applied, revision)
            findings.extend(sim_findings)
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


def _simulate(
    applied: apply_stage.AppliedSeries,
    revision: Revision,
) -> tuple[SimulationResult | None, list[Finding], list[str]]:
    """Run the simulator when it is installed and the tree has the entry."""
    try:
        sim: Any = importlib.import_module("reviewbot.pipeline.simulate")
    except ImportError:
        return None, [], []
    base, final = applied.states[0], applied.states[-1]
    if final.view.find_function(SIM_ENTRY) is None:
        return None, [], []
    label = f"v{revision.version}"
    states = [("base", base.view), (label, final.view)]
    try:
        result = sim.simulate_states(states, entry=SIM_ENTRY)
        raw = sim.findings_from_simulation(result, dict(states))
    except Exception as exc:  # the simulator must not sink the review
        return None, [], [f"could not simulate {SIM_ENTRY}: {exc!r}"]
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
