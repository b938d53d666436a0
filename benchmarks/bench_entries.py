"""Simulator speed per entry: executions per second by order, and each
entry's scenario suite plus 500 generated cases.

Targets (issue 12): 500 executions per second on one core at 16-page
batches (order 4) for each entry; suite plus 500 generated cases per entry
in 5 s.  Times are CPU seconds of this process (the machine is shared:
wall-clock figures are printed beside the rates).  Measured on Linux 6.12
(``REVIEWBOT_KERNEL_TREE``); do_swap_page's figures are bench_sim's.
Figures only: nothing here asserts.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from sim.entries import Entry, all_entries
from sim.interp.machine import Program
from sim.tree import DirectoryTree

ROOT = Path(__file__).resolve().parent.parent
EXEC_TARGET = 500.0
SUITE_TARGET = 5.0
GENERATED = 500
# The case each entry is timed on: its plainest scenario, at each order.
TIMED = {
    "do_swap_page": "swapcache-hit",
    "zap_pte_range": "present-batch",
    "madvise_free_pte_range": "fully-mapped",
    "madvise_cold_or_pageout_pte_range": "fully-mapped",
    "change_pte_range": "read-only",
}
ALSO = {
    "zap_pte_range": ["swap-batch", "swap-mixed-uffd-wp"],
    "madvise_free_pte_range": ["partly-advised-split"],
    "madvise_cold_or_pageout_pte_range": ["partly-advised-split"],
    "change_pte_range": ["writable-exclusive"],
}


def _rate(entry: Entry, program: Program, spec: Any, seconds: float) -> tuple[float, float]:
    """(executions per CPU second, per wall-clock second): on a machine
    shared with other jobs the first is the one-core figure."""
    entry.execute(program, spec, entry.name, 100_000)  # compile first
    n, t0, c0 = 0, time.perf_counter(), time.process_time()
    while time.perf_counter() - t0 < seconds:
        entry.execute(program, spec, entry.name, 100_000)
        n += 1
    return n / (time.process_time() - c0), n / (time.perf_counter() - t0)


def _suite_and_generated(entry: Entry, program: Program) -> tuple[float, int, float]:
    from hypothesis import HealthCheck, given, settings

    from sim.entries.generate import strategy

    t0 = time.process_time()
    n = 0
    for sc in entry.scenarios().values():
        for spec in sc.cases():
            entry.execute(program, spec, entry.name, 100_000)
            n += 1
    suite = time.process_time() - t0

    @settings(
        max_examples=GENERATED,
        database=None,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy(entry.name))
    def one(spec: Any) -> None:
        entry.execute(program, spec, entry.name, 100_000)

    t1 = time.process_time()
    one()
    return suite, n, time.process_time() - t1


def _report(entry: Entry, tree: DirectoryTree) -> None:
    program = Program(tree, entry.files)
    scenarios = entry.scenarios()
    print(f"   {entry.name}:")
    timed = TIMED.get(entry.name, next(iter(scenarios)))
    for name in [timed, *ALSO.get(entry.name, [])]:
        for order in (0, 2, 4) if name == timed else (4,):
            index = 3 if order == 4 and name != timed else 0
            spec = scenarios[name].spec(order, index)
            rate, wall = _rate(entry, program, spec, 0.5)
            mark = f"({rate / EXEC_TARGET:.2f}x the target {EXEC_TARGET:.0f})" if order == 4 else ""
            print(
                f"     executions/s, {name} order={order:<2} {rate:8.0f} per CPU s "
                f"({wall:.0f} wall)   {mark}"
            )
    suite, n, generated = _suite_and_generated(entry, program)
    total = suite + generated
    print(f"     scenario suite ({n} cases)   {suite:6.2f} CPU s")
    print(f"     {GENERATED} generated cases        {generated:6.2f} CPU s")
    print(
        f"     suite + generated          {total:6.2f} CPU s   (target {SUITE_TARGET:.0f} s: "
        f"{SUITE_TARGET / total:.2f}x)"
    )


def main() -> None:
    kernel = Path(os.environ.get("REVIEWBOT_KERNEL_TREE", ROOT / ".cache" / "linux-6.12"))
    if not (kernel / "mm" / "memory.c").exists():
        print(f"   Linux 6.12: not measured ({kernel} missing; make kernel-tree)")
        return
    tree = DirectoryTree(kernel)
    print(f"   Linux 6.12 ({kernel}), one core:")
    for entry in all_entries().values():
        if entry.name == "do_swap_page":
            continue  # bench_sim measures it, with its own generator
        _report(entry, tree)


if __name__ == "__main__":
    main()
