"""Pipeline stage: run the swap-in simulator over base and revisions.

The check pipeline calls ``simulate_states()`` with the base tree and the
applied tree of each revision, then ``findings_from_simulation()`` to turn
each distinct failure of a revision into a Finding with its reproducer.
``simulate_tree_dirs()`` does the same from directories.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from pathlib import Path

from checkers.frontend import find_function, parse
from reviewbot.models import (
    SIM_ENTRY,
    Evidence,
    Finding,
    Reproducer,
    Severity,
    SimOutcome,
    SimRun,
    SimulationResult,
)
from sim.entries import all_entries, get
from sim.interp.machine import Program, SourceTree
from sim.suite import cases_for, default_cases, run_table
from sim.tree import DirectoryTree

CHECKER = "simulator"
EVIDENCE_STATEMENTS = 4
NOT_TOUCHED = "no simulated path touched"


def simulated_entries() -> tuple[str, ...]:
    """The C entry points the simulator can run (sim/entries/), do_swap_page first."""
    names = sorted(all_entries())
    return tuple(sorted(names, key=lambda n: n != SIM_ENTRY))


def executed_functions(tree: SourceTree, entry: str) -> set[str]:
    """``entry`` and every function the simulator executes from the tree's
    source when it runs ``entry`` on its scenarios (about 0.2 s an entry on 6.12).

    Measured, not guessed: a static call graph from do_swap_page() reaches
    zap_pte_range() through the pte-marker fault path no scenario takes.
    """
    spec = get(entry)
    program = Program(tree, spec.files)
    found = {entry}
    for case in cases_for([entry]):
        try:
            execution = spec.execute(program, case.spec, entry, 100_000)
        except Exception:  # the gate must not sink the review: count the entry only
            continue
        found |= {c[1] for c in execution.covered}
    return found


_EXECUTED: dict[tuple[str, str], frozenset[str]] = {}  # (entry, sources' digest) -> functions


def _defines(tree: SourceTree, files: Sequence[str], names: Collection[str]) -> bool:
    """Whether ``files`` define any of ``names``: the simulator executes only
    functions those files define, so an entry whose files define no changed
    function cannot run it (and needs no measuring)."""
    for path in files:
        data = tree.read(path)
        if data is None or not any(name.encode() in data for name in names):
            continue
        parsed = parse(data, path)
        if any(find_function(parsed, name) is not None for name in names):
            return True
    return False


def _executed_cached(tree: SourceTree, entry: str) -> frozenset[str]:
    """``executed_functions``, remembered per entry and per content of its files."""
    digest = hashlib.sha256()
    for path in get(entry).files:
        digest.update(path.encode() + b"\0" + (tree.read(path) or b"") + b"\0")
    key = (entry, digest.hexdigest())
    if key not in _EXECUTED:
        if len(_EXECUTED) > 64:  # a long-lived worker sees many bases
            _EXECUTED.clear()
        _EXECUTED[key] = frozenset(executed_functions(tree, entry))
    return _EXECUTED[key]


def entries_touched(base: SourceTree, touched: Collection[str]) -> list[str]:
    """The entries whose execution on the base runs a function the series
    changes.  A function the base does not run can only matter through a
    changed caller, which is then in ``touched`` itself."""
    names = {n for n in touched if n}
    if not names:
        return []
    return [
        entry
        for entry in simulated_entries()
        if _defines(base, get(entry).files, names) and names & _executed_cached(base, entry)
    ]


def simulate_states(
    states: Sequence[tuple[str, SourceTree]],
    entry: str = SIM_ENTRY,
    scenarios: Sequence[str] | None = None,
    entries: Sequence[str] | None = None,
) -> SimulationResult:
    """Every scenario case on ``states[0]`` (the base), then on the others:
    of ``entry``, or of each of ``entries`` (one table, cases named by entry)."""
    if not entries:
        return run_table(states, default_cases(scenarios), entry)
    return run_table(states, cases_for(entries))


def simulate_tree_dirs(
    dirs: Sequence[tuple[str, str | Path]],
    entry: str = SIM_ENTRY,
    scenarios: Sequence[str] | None = None,
) -> SimulationResult:
    """``simulate_states`` over directories of applied trees: [("base", path), ...]."""
    return simulate_states(
        [(name, DirectoryTree(Path(path))) for name, path in dirs], entry, scenarios
    )


def _statement_text(line: str) -> str:
    # "function:123: text" -> "function: text" (no line number: a stable id).
    fn, _, rest = line.partition(":")
    _, _, text = rest.partition(": ")
    return f"{fn}: {text}" if text else line


def findings_from_simulation(
    result: SimulationResult,
    trees: dict[str, SourceTree],
    revisions: Collection[str] | None = None,
) -> list[Finding]:
    """One bug Finding per distinct failure of a non-base revision.

    ``revisions`` limits the findings to those revisions (say, only the
    newest); by default every revision but the first state (the base).
    """
    base = result.runs[0].revision if result.runs else "base"
    groups: dict[tuple[str, str, str, str, int], list[SimRun]] = {}
    for run in result.runs:
        if run.outcome is not SimOutcome.FAIL or run.revision == base:
            continue
        if revisions is not None and run.revision not in revisions:
            continue
        key = (run.revision, run.kind, run.file, run.function, run.line)
        groups.setdefault(key, []).append(run)
    seen: dict[tuple[str, str, str, str, int], Finding] = {}
    for key, runs in groups.items():
        seen[key] = _finding(min(runs, key=_simplicity), trees)
    return list(seen.values())


def _simplicity(run: SimRun) -> tuple[int, int, int, int]:
    """Quote the plainest case that shows a failure: fewest complications,
    a swap cache hit, the smallest folio."""
    description = run.message.split(": ", 1)[0]
    case = Reproducer.from_case_id(run.scenario)
    miss = int(" folio in the swap cache" not in description)
    return description.count(","), miss, case.order or 0, case.index or 0


def _finding(run: SimRun, trees: dict[str, SourceTree]) -> Finding:
    case = Reproducer.from_case_id(run.scenario)
    tail = run.trace[-EVIDENCE_STATEMENTS:]
    evidence = tuple(
        Evidence(line=_line_of(t), role="executed", text=_statement_text(t)) for t in tail
    )
    failing = _source_line(trees.get(run.revision), run.file, run.line)
    if failing:
        evidence += (Evidence(line=run.line, role="failed", text=failing),)
    return Finding(
        checker=CHECKER,
        severity=Severity.BUG,
        file=run.file,
        line=run.line,
        function=run.function,
        message=f"simulated: {run.message}.\n{case.line()}",
        evidence=evidence,
        key=f"{run.kind}:{case.scenario}",
        reproducers=(case,),
    )


def _line_of(trace_line: str) -> int:
    parts = trace_line.split(":", 2)
    try:
        return int(parts[1])
    except (IndexError, ValueError):
        return 0


def _source_line(tree: SourceTree | None, path: str, line: int) -> str:
    if tree is None or not path or line <= 0:
        return ""
    data = tree.read(path)
    if data is None:
        return ""
    lines = data.decode("utf-8", "replace").splitlines()
    return " ".join(lines[line - 1].split()) if line <= len(lines) else ""
