"""A 10-patch series that applies only in part, against one that applies whole.

Real series are written on mm-unstable and meet other context in an arch
header of the reviewer's tree: each hunk that does not apply is retried and
diagnosed on its own (pipeline/partial.py), which costs git calls.  Both
series make the same ten mm/ edits (a comment in ten functions of mm/) on the
full Linux 6.12 tree; in the partial one, five patches also carry a hunk of
arch/x86/include/asm/pgtable.h written on an author's tree where that header
differs (it does not apply), and the tenth needs one of those hunks (it is
skipped).  ``reviewbot check --mbox`` as a user runs it, median of 5 runs each;
target: the partial series within 2x of the clean one.  The series are made in
a git overlay: the kernel tree is never written.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from benchmarks.bench_check import KERNEL_TREE, RUNS, time_check
from reviewbot.devtools.kernel_series import AUTHOR
from reviewbot.git import Overlay, Repo

TARGET_RATIO = 2.0
# (file, function): a comment goes after the function's opening brace.
MM_FUNCTIONS = [
    ("mm/memory.c", "zap_pte_range"),
    ("mm/memory.c", "copy_pte_range"),
    ("mm/memory.c", "do_anonymous_page"),
    ("mm/memory.c", "wp_page_copy"),
    ("mm/swapfile.c", "swap_free_nr"),
    ("mm/swapfile.c", "unuse_pte_range"),
    ("mm/mprotect.c", "change_pte_range"),
    ("mm/madvise.c", "madvise_free_pte_range"),
    ("mm/rmap.c", "try_to_unmap_one"),
    ("mm/mremap.c", "move_ptes"),
]
ARCH = "arch/x86/include/asm/pgtable.h"
# Helpers whose first body line the author's tree has otherwise.
ARCH_HELPERS = ["pte_dirty", "pte_young", "pte_huge", "pte_exec", "pte_special"]


def _after_brace(text: str, function: str, insert: str) -> str:
    """``text`` with ``insert`` after the opening brace of ``function``'s
    definition (``static int\ncopy_pte_range(...)`` and prototypes included)."""
    lines = text.split("\n")
    shape = re.compile(rf"^(?:[A-Za-z_][\w \t*]*\b)?{function}\(")
    for start, line in enumerate(lines):
        if not shape.match(line):
            continue
        for i in range(start, len(lines)):
            if lines[i] == "{":
                lines.insert(i + 1, insert)
                return "\n".join(lines)
            if lines[i].rstrip().endswith(";"):
                break  # a prototype
    raise RuntimeError(f"{function}: no definition found")


def _first_body_line(text: str, function: str) -> int:
    lines = text.split("\n")
    start = next(
        i for i, ln in enumerate(lines) if re.match(rf"^static inline .*\b{function}\(", ln)
    )
    return next(i for i in range(start, len(lines)) if lines[i] == "{") + 1


def make_series(tree: Path, partial: bool) -> bytes:
    repo = Repo(tree)
    head = repo.head()
    with Overlay(repo) as overlay:
        base = head
        arch = (overlay.read_blob(head, ARCH) or b"").decode()
        if partial:
            lines = arch.split("\n")
            for helper in ARCH_HELPERS:
                at = _first_body_line(arch, helper)
                lines[at] = lines[at] + " /* the author's tree */"
            arch = "\n".join(lines)
            base = overlay.commit_files(head, {ARCH: arch.encode()}, "mm-unstable", AUTHOR)
        parent = base
        files: dict[str, str] = {}
        for n, (path, function) in enumerate(MM_FUNCTIONS):
            text = files.get(path) or (overlay.read_blob(base, path) or b"").decode()
            files[path] = _after_brace(text, function, f"\t/* {function}: a benchmark note */")
            change = {path: files[path].encode()}
            if partial and n % 2 == 0 and n < 9:
                lines = arch.split("\n")
                at = _first_body_line(arch, ARCH_HELPERS[n // 2])
                lines.insert(at + 1, f"\t/* {ARCH_HELPERS[n // 2]}: a benchmark note */")
                arch = "\n".join(lines)
                change[ARCH] = arch.encode()
            if partial and n == 9:  # needs the note patch 9 adds in the arch header
                arch = arch.replace("/* pte_special: a benchmark note */", "/* pte_special */")
                change[ARCH] = arch.encode()
            date = f"2026-11-20T10:{10 + n:02d}:00+00:00"
            parent = overlay.commit_files(
                parent,
                change,
                f"mm: note {function}()\n\nA benchmark change.\n\n"
                "Signed-off-by: A Developer <dev@example.org>",
                {**AUTHOR, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date},
            )
        return overlay.format_patch(base, parent, f"--base={base}", "--to=linux-mm@example.org")


def main() -> None:
    if not (KERNEL_TREE / "mm" / "memory.c").exists():
        print(f"   kernel tree: {KERNEL_TREE} missing (make kernel-tree), skipped")
        return
    with tempfile.TemporaryDirectory(prefix="reviewbot-bench-") as tmp:
        work = Path(tmp)
        seconds = {}
        for name, partial in (("clean", False), ("partial", True)):
            mbox = work / f"{name}.mbox"
            mbox.write_bytes(make_series(KERNEL_TREE, partial))
            seconds[name], rc = time_check(KERNEL_TREE, mbox, work / f"o-{name}")
            print(
                f"   10-patch series, {name:<7} application on the kernel tree: "
                f"median {seconds[name]:5.2f} s of {RUNS} (exit {rc})"
            )
        ratio = seconds["partial"] / seconds["clean"]
        verdict = "ok" if ratio <= TARGET_RATIO else "OVER TARGET"
        print(f"   partial / clean: {ratio:.2f} (target {TARGET_RATIO:.0f}x) {verdict}")


if __name__ == "__main__":
    main()
