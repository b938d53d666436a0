"""How long ``reviewbot check --mbox`` takes on a long series (``make bench``).

A series of ``SIZES`` patches on the full Linux 6.12 tree (.cache/linux-6.12,
``make kernel-tree``), generated here as text: each patch adds one comment
line at the top of a function of mm/swapfile.c or mm/memory.c, in turn, so
every patch makes a tree state the check stage reads and analyses.  Target
(issue 13): 500 patches in under a minute (was 449 s: one ``git cat-file``
per file per tree state; then quadratic: every target function checked in
every state, now only in the states where what it reads changed, see
reviewbot/pipeline/incremental.py).  One run per size; the tree is never
modified.
"""

from __future__ import annotations

import difflib
import email.utils
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from reviewbot.git import run_text

ROOT = Path(__file__).resolve().parent.parent
KERNEL_TREE = Path(os.environ.get("REVIEWBOT_KERNEL_TREE", ROOT / ".cache" / "linux-6.12"))
SIZES = [int(n) for n in os.environ.get("REVIEWBOT_BENCH_SCALE", "100,500").split(",")]
TARGET_500 = 60.0
FILES = ("mm/swapfile.c", "mm/memory.c")
# "static int swap_range_alloc(struct swap_info_struct *si,": a function's
# first line in column 0, its body's "{" alone on a later line
_FUNC_RE = re.compile(r"^[a-z][\w \t*]*\b(\w+)\([^;]*$")


def _bodies(lines: list[str]) -> list[int]:
    """Indexes of the lines right after each function's opening brace."""
    out = []
    for i, line in enumerate(lines):
        if (
            line == "{\n"
            and i > 0
            and any(_FUNC_RE.match(lines[j]) for j in range(max(i - 4, 0), i))
        ):
            out.append(i + 1)
    return out


def make_series(tree: Path, n: int) -> bytes:
    """An mbox of ``n`` patches, each adding one line to a function (round robin)."""
    head = run_text(tree, "rev-parse", "HEAD").strip()
    texts = {p: run_text(tree, "show", f"{head}:{p}").splitlines(keepends=True) for p in FILES}
    spots = {p: _bodies(texts[p])[:200] for p in FILES}
    when = email.utils.parsedate_to_datetime("Fri, 20 Nov 2026 10:00:00 +0000")
    out = []
    for k in range(1, n + 1):
        path = FILES[k % len(FILES)]
        lines = texts[path]
        slot = (k // len(FILES)) % len(spots[path])
        at = spots[path][slot]
        new = [*lines[:at], f"\t/* benchmark step {k} */\n", *lines[at:]]
        diff = "".join(difflib.unified_diff(lines, new, f"a/{path}", f"b/{path}", n=3))
        texts[path] = new
        # the line moved every function body below it down by one
        spots[path] = [s + 1 if s >= at else s for s in spots[path]]
        date = email.utils.format_datetime(when.replace(second=k % 60, minute=k // 60 % 60))
        out.append(
            f"From mboxrd@z Thu Jan  1 00:00:00 1970\nFrom: A Developer <dev@example.org>\n"
            f"To: linux-mm@kvack.org\nDate: {date}\n"
            f"Subject: [PATCH {k}/{n}] mm: benchmark step {k}\n"
            f"Message-Id: <bench-{n}-{k}@example.org>\n"
            + (f"In-Reply-To: <bench-{n}-1@example.org>\n" if k > 1 else "")
            + f"\nStep {k}.\n\nSigned-off-by: A Developer <dev@example.org>\n---\n"
            f"diff --git a/{path} b/{path}\n{diff}"
            + (f"\nbase-commit: {head}\n" if k == n else "")
            + "\n"
        )
    return "".join(out).encode()


def _children_cpu() -> float:
    """CPU seconds of finished children (reviewbot and its git): the figure a busy
    machine does not inflate."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    if not (KERNEL_TREE / "mm" / "memory.c").exists():
        print(f"   kernel tree: {KERNEL_TREE} missing (make kernel-tree), skipped")
        return
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    with tempfile.TemporaryDirectory(prefix="reviewbot-bench-") as tmp:
        for n in SIZES:
            mbox = Path(tmp) / f"series-{n}.mbox"
            mbox.write_bytes(make_series(KERNEL_TREE, n))
            argv = [sys.executable, "-m", "reviewbot", "check", "--tree", str(KERNEL_TREE)]
            argv += ["--mbox", str(mbox), "--format", "json", "--outbox", f"{tmp}/o{n}"]
            t0, cpu0 = time.perf_counter(), _children_cpu()
            proc = subprocess.run(argv, env=env, capture_output=True, check=False)
            seconds, cpu = time.perf_counter() - t0, _children_cpu() - cpu0
            if proc.returncode not in (0, 1):
                print(f"   {n} patches: exit {proc.returncode}: {proc.stderr.decode()[-300:]}")
                continue
            verdict = ""
            if n == 500:
                verdict = " ok" if seconds <= TARGET_500 else " OVER TARGET"
                verdict = f" (target {TARGET_500:.0f} s){verdict}"
            print(
                f"   check --mbox, {n:4d}-patch series, kernel tree: {seconds:6.1f} s"
                f" (CPU {cpu:.1f} s){verdict}"
            )


if __name__ == "__main__":
    main()
