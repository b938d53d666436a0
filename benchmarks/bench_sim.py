"""Simulator speed: executions of do_swap_page per second, and a full run.

Targets (issue 4): 500 executions per second on one core; the whole
scenario suite plus 500 hypothesis-generated cases for one revision in 5 s.
Measured on the bundled sample's base tree and, when present, on Linux 6.12
(``REVIEWBOT_KERNEL_TREE``).  Figures only: nothing here asserts.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from sim.interp.machine import Program
from sim.runner import execute
from sim.scenarios.spec import Spec
from sim.suite import default_cases
from sim.tree import DirectoryTree

ROOT = Path(__file__).resolve().parent.parent
EXEC_TARGET = 500.0
SUITE_TARGET = 5.0
GENERATED = 500


def _rate(program: Program, spec: Spec, seconds: float = 1.0) -> tuple[float, float]:
    """Executions per second of this process's CPU time ("on one core", and
    steady on a machine other jobs share), and per second of wall clock
    (which, on a shared machine, also counts the time others had the core)."""
    execute(program, spec)  # compile first: the rate is for executions
    n, t0, w0 = 0, time.process_time(), time.perf_counter()
    while time.process_time() - t0 < seconds:
        execute(program, spec)
        n += 1
    return n / (time.process_time() - t0), n / (time.perf_counter() - w0)


def _suite_and_generated(program: Program) -> tuple[float, int, float, int]:
    from hypothesis import HealthCheck, given, settings

    from sim.generate import specs

    t0 = time.perf_counter()
    cases = default_cases()
    for case in cases:
        execute(program, case.spec)
    suite = time.perf_counter() - t0

    @settings(
        max_examples=GENERATED,
        database=None,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(specs())
    def one(spec: Spec) -> None:
        executed.append(1)
        execute(program, spec)

    executed: list[int] = []
    t1 = time.perf_counter()
    one()
    # hypothesis may run fewer than max_examples: the figure is the count run
    return suite, len(cases), time.perf_counter() - t1, len(executed)


def _report(label: str, tree: DirectoryTree) -> None:
    program = Program(tree)
    print(f"   {label}:")
    for name, spec in (
        ("order-0 hit", Spec()),
        ("16-page hit", Spec(order=4, index=3)),
        ("512-page hit", Spec(order=9, index=255)),
    ):
        rate, wall = _rate(program, spec, 0.5 if spec.order == 9 else 1.0)
        print(
            f"     executions/s, {name:<13} {rate:8.0f}   ({rate / EXEC_TARGET:.2f}x the "
            f"target {EXEC_TARGET:.0f}; {wall:.0f} per wall-clock second)"
        )
    suite, n, generated, ran = _suite_and_generated(program)
    total = suite + generated
    print(f"     scenario suite ({n} cases)   {suite:6.2f} s")
    print(f"     {ran} generated cases (of {GENERATED} asked)  {generated:6.2f} s")
    print(
        f"     suite + generated          {total:6.2f} s   (target {SUITE_TARGET:.0f} s: "
        f"{SUITE_TARGET / total:.2f}x)"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sample = Path(tmp) / "sample"
        shutil.copytree(ROOT / "sample" / "tree", sample)
        _report("sample base tree", DirectoryTree(sample))
    kernel = Path(os.environ.get("REVIEWBOT_KERNEL_TREE", ROOT / ".cache" / "linux-6.12"))
    if (kernel / "mm" / "memory.c").exists():
        _report(f"Linux 6.12 ({kernel})", DirectoryTree(kernel))
    else:
        print(f"   Linux 6.12: not measured ({kernel} missing; make kernel-tree)")


if __name__ == "__main__":
    main()
