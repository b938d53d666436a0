"""How long ``reviewbot check --mbox`` takes, as a user runs it (a new process).

Two trees, median of 5 runs each, against the issue's targets:
- the bundled sample series (v2) on the sample mini tree: 3 s;
- a 2-patch series on the full Linux 6.12 tree (.cache/linux-6.12, made by
  ``make kernel-tree``): 10 s.  The series is made by
  ``reviewbot/devtools/kernel_series.py`` in a git overlay, so the kernel
  tree is never modified; it edits do_swap_page() in mm/memory.c and
  swap_free_nr() in mm/swapfile.c.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reviewbot.devtools.kernel_series import TWO_PATCHES, make_series

ROOT = Path(__file__).resolve().parent.parent
KERNEL_TREE = Path(os.environ.get("REVIEWBOT_KERNEL_TREE", ROOT / ".cache" / "linux-6.12"))
RUNS = 5
TARGETS = {"mini": 3.0, "kernel": 10.0}
KERNEL_EDITS = TWO_PATCHES


def make_kernel_series(tree: Path) -> bytes:
    """An mbox of KERNEL_EDITS on ``tree``'s HEAD, without touching the tree."""
    return make_series(tree, KERNEL_EDITS)


def time_check(tree: Path, mbox: Path, outbox: Path) -> tuple[float, int]:
    """Median wall time of RUNS runs, and the exit status of the last."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    times = []
    rc = 0
    for _ in range(RUNS):
        t0 = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "reviewbot",
                "check",
                "--tree",
                str(tree),
                "--mbox",
                str(mbox),
                "--format",
                "json",
                "--outbox",
                str(outbox),
            ],
            env=env,
            capture_output=True,
            check=False,
        )
        times.append(time.perf_counter() - t0)
        rc = proc.returncode
        if rc not in (0, 1):
            raise RuntimeError(f"reviewbot check exited {rc}: {proc.stderr.decode()[-500:]}")
    return statistics.median(times), rc


def _report(name: str, seconds: float, rc: int) -> None:
    target = TARGETS[name]
    verdict = "ok" if seconds <= target else "OVER TARGET"
    print(
        f"   check --mbox on {name:<6} tree: median {seconds:5.2f} s of {RUNS} "
        f"(target {target:.0f} s, ratio {seconds / target:.2f}, exit {rc}) {verdict}"
    )


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="reviewbot-bench-") as tmp:
        work = Path(tmp)
        try:
            from reviewbot.sample import build_sample_tree
        except ImportError:
            print("   mini tree: reviewbot.sample not available, skipped")
        else:
            tree = work / "sample-tree"
            build_sample_tree(tree)
            seconds, rc = time_check(tree, ROOT / "sample" / "series" / "v2.mbox", work / "o1")
            _report("mini", seconds, rc)
        if not (KERNEL_TREE / "mm" / "memory.c").exists():
            print(f"   kernel tree: {KERNEL_TREE} missing (make kernel-tree), skipped")
            return
        mbox = work / "kernel.mbox"
        mbox.write_bytes(make_kernel_series(KERNEL_TREE))
        seconds, rc = time_check(KERNEL_TREE, mbox, work / "o2")
        _report("kernel", seconds, rc)


if __name__ == "__main__":
    main()
