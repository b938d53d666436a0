"""``reviewbot simulate``: run the swap-in simulator on a tree or a series.

With no series, the tree itself is simulated as "base".  With a series
(MSGID, --mbox or --range), every revision fetched is applied on its base in
the tree and the table is base x v1 x v2 ...; a case the base fails is a
model error, not the patch's.  ``--scenario`` (with ``--order``/``--index``)
runs one case.  ``--entry NAME`` runs another entry function with its own
scenarios (``sim/entries/``); ``--entry list`` lists them.  Exit 0 all
pass, 1 a failure, 2 could not run.
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from reviewbot.errors import TreeError, UsageError
from reviewbot.models import ApplyStatus, ExitStatus, SimulationResult
from reviewbot.pipeline.coverage import status_words
from sim.entries import all_entries
from sim.interp.machine import SOURCE_FILES
from sim.scenarios.spec import build
from sim.suite import DEFAULT_ENTRY, Case, default_cases, entry_cases, one_case, run_table
from sim.tree import DirectoryTree


def run(args: argparse.Namespace) -> int:
    if args.list_entries or args.entry == "list":
        sys.stdout.write(render_entries())
        return int(ExitStatus.CLEAN)
    root = Path(args.tree)
    if not (root / SOURCE_FILES[0]).is_file():
        raise TreeError(f"{root}: no {SOURCE_FILES[0]} (not a kernel tree?)")
    if (args.order is not None or args.index is not None) and not args.scenario:
        raise UsageError("--order and --index need --scenario NAME")
    if args.database:
        # never silently: a user who passed it expects a record
        print(
            "reviewbot: --database: simulate records nothing "
            "(reviewbot check --database records a review and its simulation)",
            file=sys.stderr,
        )
    # A registered entry runs its own scenarios; any other name is called
    # with do_swap_page's (a fault handler under another name).
    registered = all_entries().get(args.entry)
    entry = registered.name if registered is not None else DEFAULT_ENTRY
    check = registered.check if registered is not None else build
    try:
        if args.scenario:
            cases = [one_case(args.scenario, args.order, args.index, entry)]
        elif entry == DEFAULT_ENTRY:
            cases = default_cases()
        else:
            cases = entry_cases(entry)
        for case in cases:
            check(case.spec)  # an impossible --order/--index is the user's to fix
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    notes: list[str] = []
    if args.target or args.mbox or args.git_range:
        result = _simulate_series(args, root, cases, notes)
    else:
        result = run_table([("base", DirectoryTree(root))], cases, args.entry, reference=False)
    if _entry_missing(result, args.entry):
        files = registered.files if registered is not None else SOURCE_FILES
        raise UsageError(f"--entry {args.entry}: no such function in {', '.join(files)}")
    if args.format == "json":
        # "notes" only with a series: the tree's own table keeps its shape
        extra = {"notes": notes} if notes else {}
        json.dump({**result.to_json(), **extra}, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_text(result, args.entry))
        sys.stdout.write("".join(f"note: {n}\n" for n in notes))
    return int(exit_status(result))


def _simulate_series(
    args: argparse.Namespace, root: Path, cases: list[Case], notes: list[str]
) -> SimulationResult:
    """Apply each revision fetched on its base; simulate base, v1, v2, ...

    As ``check`` does, a revision with missing, skipped or partly applied
    patches is simulated as far as it landed, and ``notes`` say what it lacks.
    """
    from reviewbot.pipeline import apply as apply_stage
    from reviewbot.pipeline import fetch

    fetched = fetch.run(
        fetch.FetchRequest(
            target=args.target,
            mbox=Path(args.mbox) if args.mbox else None,
            git_range=args.git_range,
            tree=root,
            lore=args.lore,
            version=args.version,
        )
    )
    versions = [v for v in fetched.versions if v in fetched.revisions]
    if args.version is not None:
        versions = [v for v in versions if v <= args.version]
    with ExitStack() as stack:
        states: list[tuple[str, Any]] = []
        for version in versions or [fetched.revision.version]:
            revision = fetched.revisions.get(version, fetched.revision)
            applied = stack.enter_context(
                apply_stage.applied(
                    root,
                    revision,
                    args.base or fetched.base,
                    base_from="--range" if args.git_range and not args.base else "--base",
                )
            )
            total = revision.total or len(revision.patches)
            if not any(p.status.reviewed for p in applied.result.patches):
                notes.append(f"v{revision.version}: no patch applies to the tree: not simulated")
                continue
            for p in applied.result.patches:
                if p.status is ApplyStatus.PARTIAL:
                    n = len(p.failed_hunks)
                    what = f"its {n} hunk{'s' if n > 1 else ''} that did not apply"
                elif p.status is not ApplyStatus.APPLIED:
                    what = "it"
                else:
                    continue
                notes.append(
                    f"v{revision.version}: patch {p.index}/{total} {status_words(p)}: "
                    f"simulated without {what}"
                )
            if not states:
                states.append(("base", applied.states[0].view))
            states.append((f"v{revision.version}", applied.states[-1].view))
        if not states:
            raise TreeError("no revision of the series applies to the tree")
        return run_table(states, cases, args.entry)


def _entry_missing(result: SimulationResult, entry: str) -> bool:
    """True when no state of the tree defines ``entry``: a typo in --entry,
    which is the user's to fix, not a table of "not modelled" cells."""
    marker = f"entry function {entry} (not found in the tree)"
    return bool(result.runs) and all(
        r.outcome == "not-modelled" and r.message.endswith(marker) for r in result.runs
    )


def exit_status(result: SimulationResult) -> ExitStatus:
    outcomes = {r.outcome for r in result.runs}
    if "fail" in outcomes:
        return ExitStatus.FINDINGS
    if outcomes & {"model-error", "not-modelled", "budget"} or not outcomes:
        return ExitStatus.ERROR if "pass" not in outcomes else ExitStatus.CLEAN
    return ExitStatus.CLEAN


def render_entries() -> str:
    """``--entry list``: each entry, its scenarios and what it backs up."""
    out = []
    for entry in all_entries().values():
        out.append(f"{entry.name}: {entry.summary}")
        out.append(f"  scenarios: {', '.join(entry.scenarios())}")
        out.append(f"  executes from the tree: {', '.join(entry.files)}")
        backs = ", ".join(f"{kind} -> {checker}" for kind, checker in sorted(entry.backs.items()))
        if backs:
            out.append(f"  backs up: {backs}")
    out.append("")
    out.append(
        "run one: reviewbot simulate --tree PATH --entry NAME [--scenario S --order N --index I]"
    )
    return "\n".join(out) + "\n"


def render_text(result: SimulationResult, entry: str) -> str:
    revisions = list(dict.fromkeys(r.revision for r in result.runs))
    cases = list(dict.fromkeys(r.scenario for r in result.runs))
    by = {(r.scenario, r.revision): r for r in result.runs}
    width = max([len(c) for c in cases] + [8])
    out = [f"{'scenario':<{width}}  " + "  ".join(f"{r:<12}" for r in revisions)]
    for case in cases:
        cells = []
        for rev in revisions:
            run = by.get((case, rev))
            cells.append(f"{(run.outcome if run else '-'):<12}")
        out.append(f"{case:<{width}}  " + "  ".join(cells))
    failures = [r for r in result.runs if r.outcome != "pass"]
    for r in failures:
        out.append("")
        out.append(f"{r.revision} {r.scenario}: {r.outcome} {r.kind}")
        out.append(f"  {r.message}")
        out.extend(f"    {t}" for t in r.trace[-6:])
    for rev in revisions:
        unsimulated = result.summary(rev).not_simulated_sentence()
        if unsimulated:
            out.extend(["", unsimulated])
    cov = result.coverage
    out.append("")
    share = cov.get(entry, 0.0)
    out.append(
        f"coverage of {entry}: {float(share) * 100:.1f}% of its statement lines"
        if isinstance(share, int | float)
        else f"coverage of {entry}: n/a"
    )
    paths = cov.get("not_modelled", [])
    if isinstance(paths, list) and paths:
        out.append("not modelled or not reached:")
        out.extend(f"  {p}" for p in paths)
    return "\n".join(out) + "\n"
