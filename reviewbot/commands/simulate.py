"""``reviewbot simulate``: run the swap-in simulator on a tree.

With no series, the tree itself is simulated as "base".  ``--scenario`` (with
``--order``/``--index``) runs one case.  Exit 0 all pass, 1 a failure, 2
could not run.  The series path (MSGID/--mbox/--range) is wired by the check
pipeline, which calls ``simulate_tree_dirs`` with the applied trees.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from reviewbot.errors import TreeError, UsageError
from reviewbot.models import ExitStatus, SimulationResult
from sim.interp.machine import SOURCE_FILES
from sim.scenarios.spec import build
from sim.suite import default_cases, one_case, run_table
from sim.tree import DirectoryTree


def run(args: argparse.Namespace) -> int:
    if (
        getattr(args, "target", None)
        or getattr(args, "mbox", None)
        or getattr(args, "git_range", None)
    ):
        raise UsageError("simulate: series input is not wired yet; use --tree PATH alone")
    root = Path(args.tree)
    if not (root / SOURCE_FILES[0]).is_file():
        raise TreeError(f"{root}: no {SOURCE_FILES[0]} (not a kernel tree?)")
    if (args.order is not None or args.index is not None) and not args.scenario:
        raise UsageError("--order and --index need --scenario NAME")
    try:
        if args.scenario:
            cases = [one_case(args.scenario, args.order, args.index)]
        else:
            cases = default_cases()
        for case in cases:
            build(case.spec)  # an impossible --order/--index is the user's to fix
    except KeyError as exc:
        raise UsageError(str(exc.args[0])) from None
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    result = run_table([("base", DirectoryTree(root))], cases, args.entry, reference=False)
    if args.format == "json":
        json.dump(result.to_json(), sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        sys.stdout.write(render_text(result, args.entry))
    return int(exit_status(result))


def exit_status(result: SimulationResult) -> ExitStatus:
    outcomes = {r.outcome for r in result.runs}
    if "fail" in outcomes:
        return ExitStatus.FINDINGS
    if outcomes & {"model-error", "not-modelled"} or not outcomes:
        return ExitStatus.ERROR if "pass" not in outcomes else ExitStatus.CLEAN
    return ExitStatus.CLEAN


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
