"""Patch series made on the Linux 6.12 tree, for benchmarks and kernel-tree tests.

Each series is committed in a git overlay (temporary index and object
store, ``reviewbot.git.Overlay``), so the kernel tree is never modified,
and written as the mbox ``git format-patch`` makes.  An edit is
(subject, file, anchor, replacement); each anchor is a kernel line shape
quoted so that a moved tree fails loudly, not silently.
"""

from __future__ import annotations

from pathlib import Path

from reviewbot.git import Overlay, Repo

Edit = tuple[str, str, str, str]

AUTHOR = {
    "GIT_AUTHOR_NAME": "A Developer",
    "GIT_AUTHOR_EMAIL": "dev@example.org",
    "GIT_COMMITTER_NAME": "A Developer",
    "GIT_COMMITTER_EMAIL": "dev@example.org",
}

# do_swap_page() in mm/memory.c and swap_free_nr() in mm/swapfile.c.
TWO_PATCHES: list[Edit] = [
    (
        "mm: swap: keep the faulting address in do_swap_page()",
        "mm/memory.c",
        "\tvoid *shadow = NULL;\n\tint nr_pages;\n",
        "\tvoid *shadow = NULL;\n\tunsigned long fault_address = vmf->address;\n\tint nr_pages;\n",
    ),
    (
        "mm: swap: say what swap_free_nr() frees",
        "mm/swapfile.c",
        "void swap_free_nr(swp_entry_t entry, int nr_pages)\n{\n",
        "void swap_free_nr(swp_entry_t entry, int nr_pages)\n{\n"
        "\t/* Frees nr_pages entries starting at entry, one cluster at a time. */\n",
    ),
]

# The two above, then do_anonymous_page(), zap_pte_range() and swap_pte_batch().
FIVE_PATCHES: list[Edit] = [
    *TWO_PATCHES,
    (
        "mm: say which faults do_anonymous_page() serves",
        "mm/memory.c",
        "static vm_fault_t do_anonymous_page(struct vm_fault *vmf)\n{\n",
        "static vm_fault_t do_anonymous_page(struct vm_fault *vmf)\n{\n"
        "\t/* A first touch of an anonymous page, or a write to the zero page. */\n",
    ),
    (
        "mm: say what zap_pte_range() returns",
        "mm/memory.c",
        "static unsigned long zap_pte_range(struct mmu_gather *tlb,\n"
        "\t\t\t\tstruct vm_area_struct *vma, pmd_t *pmd,\n"
        "\t\t\t\tunsigned long addr, unsigned long end,\n"
        "\t\t\t\tstruct zap_details *details)\n{\n",
        "static unsigned long zap_pte_range(struct mmu_gather *tlb,\n"
        "\t\t\t\tstruct vm_area_struct *vma, pmd_t *pmd,\n"
        "\t\t\t\tunsigned long addr, unsigned long end,\n"
        "\t\t\t\tstruct zap_details *details)\n{\n"
        "\t/* Returns where zapping stopped: end, or earlier to reschedule. */\n",
    ),
    (
        "mm: swap: say what swap_pte_batch() counts",
        "mm/internal.h",
        "static inline int swap_pte_batch(pte_t *start_ptep, int max_nr, pte_t pte)\n{\n",
        "static inline int swap_pte_batch(pte_t *start_ptep, int max_nr, pte_t pte)\n{\n"
        "\t/* Counts the consecutive swap PTEs with consecutive offsets. */\n",
    ),
]


def make_series(tree: Path, edits: list[Edit]) -> bytes:
    """An mbox of ``edits`` on ``tree``'s HEAD, one patch each, without touching the tree."""
    repo = Repo(tree)
    head = repo.head()
    with Overlay(repo) as overlay:
        parent = head
        for n, (subject, path, anchor, replacement) in enumerate(edits):
            data = overlay.read_blob(parent, path)
            if data is None or data.count(anchor.encode()) != 1:
                raise RuntimeError(f"{path}: the edit's anchor is not once in {parent[:12]}")
            new = data.replace(anchor.encode(), replacement.encode(), 1)
            date = f"2026-11-20T10:{10 + n:02d}:00+00:00"
            message = (
                f"{subject}\n\nA benchmark change.\n\nSigned-off-by: A Developer <dev@example.org>"
            )
            parent = overlay.commit_files(
                parent,
                {path: new},
                message,
                {**AUTHOR, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date},
            )
        return overlay.format_patch(head, parent, f"--base={head}", "--to=linux-mm@kvack.org")
