"""The scenario x revision table: base first, then each revision.

A case the base fails is the model's fault, never the patch's: that run is
``model-error`` and the revisions' runs of the same case are not judged.
Coverage is the share of the entry function's statement lines that the
base's runs executed, with what was not modelled or not reached.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from reviewbot.models import SimRun, SimulationResult
from sim.faults import Outcome
from sim.interp.machine import SOURCE_FILES, Program, SourceTree
from sim.runner import Execution, execute
from sim.scenarios import all_scenarios

DEFAULT_ENTRY = "do_swap_page"


@dataclass(frozen=True)
class Case:
    scenario: str
    spec: Any  # the entry's spec type (sim.scenarios.spec.Spec for do_swap_page)
    entry: str = DEFAULT_ENTRY

    @property
    def id(self) -> str:
        # do_swap_page's ids stay as they always were; another entry's name
        # leads its cases: "zap_pte_range:swap-batch order=4 index=3".
        lead = "" if self.entry == DEFAULT_ENTRY else f"{self.entry}:"
        return f"{lead}{self.scenario} order={self.spec.order} index={self.spec.index}"


def default_cases(scenarios: Sequence[str] | None = None, hits_only: bool = False) -> list[Case]:
    table = all_scenarios()
    names = list(scenarios) if scenarios else list(table)
    cases: list[Case] = []
    for name in names:
        if name not in table:
            raise KeyError(f"unknown scenario {name!r}; known: {', '.join(table)}")
        sc = table[name]
        if hits_only and not sc.hit:
            continue
        cases.extend(Case(name, spec) for spec in sc.cases())
    return cases


def entry_cases(entry: str, scenarios: Sequence[str] | None = None) -> list[Case]:
    """Every case of an entry's scenarios (or of the ones named)."""
    from sim.entries import get

    table = get(entry).scenarios()
    names = list(scenarios) if scenarios else list(table)
    cases: list[Case] = []
    for name in names:
        if name not in table:
            raise KeyError(f"unknown scenario {name!r} of {entry}; known: {', '.join(table)}")
        cases.extend(Case(name, spec, entry) for spec in table[name].cases())
    return cases


def cases_for(entries: Iterable[Any]) -> list[Case]:
    """Every case of each entry (``sim.entries.entries_for()``'s answer):
    ``run_table(states, cases_for(entries_for(touched, base)))``."""
    cases: list[Case] = []
    for entry in entries:
        name = entry if isinstance(entry, str) else entry.name
        cases.extend(default_cases() if name == DEFAULT_ENTRY else entry_cases(name))
    return cases


def one_case(name: str, order: int | None, index: int | None, entry: str = DEFAULT_ENTRY) -> Case:
    from sim.entries import get

    table = get(entry).scenarios() if entry != DEFAULT_ENTRY else all_scenarios()
    if name not in table:
        raise KeyError(f"unknown scenario {name!r}; known: {', '.join(table)}")
    sc = table[name]
    if order is None and index is None:
        return Case(name, sc.cases()[0], entry)
    order = order if order is not None else 0
    return Case(name, sc.spec(order, index if index is not None else 0), entry)


BASE_FAILS = "the base fails this case, so the model is wrong"


def _run(execution: Execution, case: Case, revision: str) -> SimRun:
    message = execution.summary() if execution.outcome is not Outcome.PASS else ""
    return SimRun(
        scenario=case.id,
        revision=revision,
        outcome=execution.outcome,
        reason=execution.reason,
        kind=execution.kind,
        message=message,
        trace=execution.trace_lines(),
        file=execution.file,
        line=execution.line,
        function=execution.function,
    )


def run_table(
    states: Sequence[tuple[str, SourceTree]],
    cases: Iterable[Case],
    entry: str = "do_swap_page",
    reference: bool = True,
) -> SimulationResult:
    """Run every case on every state.  With ``reference`` the first state is
    the base the others are judged against; without, it is judged itself
    (``reviewbot simulate --tree`` with no series)."""
    if not states:
        raise ValueError("no tree to simulate")
    from sim.entries import all_entries, get

    programs: dict[tuple[str, tuple[str, ...]], Program] = {}

    def program(state: int, files: tuple[str, ...]) -> Program:
        name, tree = states[state]
        key = (name, files)
        if key not in programs:
            programs[key] = Program(tree, files)
        return programs[key]

    def run_case(state: int, case: Case) -> Execution:
        if case.entry == DEFAULT_ENTRY:
            # ``entry`` names the C function do_swap_page's cases call (a
            # fault handler under another name, or a typo to report).
            return execute(program(state, SOURCE_FILES), case.spec, entry)
        e = get(case.entry)
        return e.execute(program(state, e.files), case.spec, e.name, 100_000)

    base_name = states[0][0]
    names = [name for name, _ in states]
    runs: list[SimRun] = []
    covered: dict[str, set[int]] = {}
    not_modelled: dict[str, list[str]] = {}
    for case in cases:
        function = entry if case.entry == DEFAULT_ENTRY else case.entry
        base = run_case(0, case)
        covered.setdefault(function, set()).update(c[2] for c in base.covered if c[1] == function)
        missing = not_modelled.setdefault(function, [])
        if base.outcome is Outcome.FAIL and not reference:
            runs.append(_run(base, case, base_name))
            runs.extend(_run(more, case, base_name) for more in base.more)
        elif base.outcome is Outcome.FAIL:
            runs.append(
                SimRun(
                    scenario=case.id,
                    revision=base_name,
                    outcome=Outcome.MODEL_ERROR,
                    reason=BASE_FAILS,
                    kind=base.kind,
                    trace=base.trace_lines(),
                    file=base.file,
                    line=base.line,
                    function=base.function,
                    message="the model, not the patch, is wrong: the base fails this case: "
                    + base.summary(),
                )
            )
        else:
            runs.append(_run(base, case, base_name))
        if base.outcome is Outcome.NOT_MODELLED and base.message not in missing:
            missing.append(base.message)
        for state, name in enumerate(names[1:], start=1):
            if base.outcome is Outcome.FAIL:
                runs.append(
                    SimRun(
                        scenario=case.id,
                        revision=name,
                        outcome=Outcome.MODEL_ERROR,
                        reason=BASE_FAILS,
                        message="not judged: the base fails this case",
                    )
                )
                continue
            execution = run_case(state, case)
            runs.append(_run(execution, case, name))
            runs.extend(_run(more, case, name) for more in execution.more)
    coverage: dict[str, object] = {}
    paths: list[str] = []
    for function, lines in covered.items():
        files = get(function).files if function in all_entries() else SOURCE_FILES
        share, missed = _coverage(program(0, files), function, lines, not_modelled[function])
        coverage[function] = share
        # One entry keeps the plain list; several say whose path each is.
        lead = f"{function}: " if len(covered) > 1 else ""
        paths.extend(f"{lead}{p}" for p in missed)
    if not covered:
        share, paths = _coverage(program(0, SOURCE_FILES), entry, set(), [])
        coverage[entry] = share
    coverage["not_modelled"] = paths
    return SimulationResult(runs=tuple(runs), coverage=coverage)


def _coverage(
    program: Program, entry: str, covered: set[int], not_modelled: list[str]
) -> tuple[float, list[str]]:
    """The share of the entry's statement lines covered, and what was not:
    the paths not modelled, then the ranges of lines not reached."""
    fn = program.function(entry)
    if fn is None:
        return 0.0, [f"entry function {entry} not found"]
    lines = fn.statement_lines
    hit = lines & covered
    missing = sorted(lines - hit)
    source = fn.unit.file.source.decode("utf-8", "replace").splitlines()
    paths: list[str] = list(not_modelled)
    for start, end in _ranges(missing):
        text = " ".join(source[start - 1].split())[:60] if start <= len(source) else ""
        span = f"line {start}" if start == end else f"lines {start}-{end}"
        paths.append(f"not reached: {span}: {text}")
    return (round(len(hit) / len(lines), 3) if lines else 0.0), paths


def _ranges(lines: list[int]) -> list[tuple[int, int]]:
    """Group statement lines that follow each other with a gap of at most 3."""
    out: list[tuple[int, int]] = []
    for ln in lines:
        if out and ln - out[-1][1] <= 3:
            out[-1] = (out[-1][0], ln)
        else:
            out.append((ln, ln))
    return out
