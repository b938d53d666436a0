"""do_swap_page as written in three releases' API shapes: each runs the
whole scenario suite with no run left not modelled.

6.12 is the Debian tree.  The other two are reconstructed at test time by
editing copies of its files (nothing of the kernel is committed): an older
shape, where the synchronous swap-in pins one swap cache entry
(``swapcache_prepare(entry)``, ``swapcache_clear(si, entry)``, as before
6.11), and a newer one that builds the PTE of a whole folio with
``folio_mk_pte(folio, prot)`` (6.16).  The primitives follow the tree's own
prototypes; one that fits no primitive is "not modelled: signature differs"
with both prototypes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from reviewbot.models import SimOutcome
from sim.suite import default_cases, run_table
from sim.tree import DirectoryTree

pytestmark = pytest.mark.kernel_tree

FILES = ("mm/memory.c", "mm/internal.h", "mm/swap.h", "mm/swapfile.c", "include/linux/mm.h")

OLDER = {
    "mm/memory.c": [
        ("if (swapcache_prepare(entry, nr_pages)) {", "if (swapcache_prepare(entry)) {"),
        ("swapcache_clear(si, entry, nr_pages);", "swapcache_clear(si, entry);"),
    ],
    "mm/swap.h": [
        (
            "void swapcache_clear(struct swap_info_struct *si, swp_entry_t entry, int nr);",
            "void swapcache_clear(struct swap_info_struct *si, swp_entry_t entry);",
        ),
    ],
    "mm/swapfile.c": [
        (
            "int swapcache_prepare(swp_entry_t entry, int nr)\n",
            "int swapcache_prepare(swp_entry_t entry)\n",
        ),
        (
            "void swapcache_clear(struct swap_info_struct *si, swp_entry_t entry, int nr)\n",
            "void swapcache_clear(struct swap_info_struct *si, swp_entry_t entry)\n",
        ),
    ],
}

NEWER = {
    "mm/memory.c": [
        (
            "\tpte = mk_pte(page, vma->vm_page_prot);\n",
            "\tif (nr_pages == folio_nr_pages(folio))\n"
            "\t\tpte = folio_mk_pte(folio, vma->vm_page_prot);\n"
            "\telse\n"
            "\t\tpte = mk_pte(page, vma->vm_page_prot);\n",
        ),
    ],
    "include/linux/mm.h": [
        (
            "#endif /* _LINUX_MM_H */",
            "static inline pte_t folio_mk_pte(struct folio *folio, pgprot_t pgprot)\n"
            "{\n\treturn mk_pte(&folio->page, pgprot);\n}\n\n"
            "#endif /* _LINUX_MM_H */",
        ),
    ],
}


def _tree(kernel: Path, dest: Path, edits: dict[str, list[tuple[str, str]]]) -> Path:
    for rel in FILES:
        text = (kernel / rel).read_text()
        for old, new in edits.get(rel, []):
            count = text.count(old)
            assert count >= 1, f"{rel}: edit does not apply: {old!r}"
            text = text.replace(old, new)
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_text(text)
    return dest


@pytest.fixture(scope="module")
def eras(kernel_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("eras")
    return {
        "6.12": _tree(kernel_tree, root / "6.12", {}),
        "older": _tree(kernel_tree, root / "older", OLDER),
        "newer": _tree(kernel_tree, root / "newer", NEWER),
    }


@pytest.mark.parametrize("era", ["6.12", "older", "newer"])
def test_every_era_runs_the_suite_with_nothing_not_modelled(
    era: str, eras: dict[str, Path]
) -> None:
    result = run_table([(era, DirectoryTree(eras[era]))], default_cases(), reference=False)
    assert len(result.runs) >= 60
    unmodelled = [r for r in result.runs if not r.outcome.simulated]
    assert not unmodelled, "\n".join(f"{r.scenario}: {r.message}" for r in unmodelled[:5])
    failed = [r for r in result.runs if r.outcome is SimOutcome.FAIL]
    assert not failed, "\n".join(f"{r.scenario}: {r.message}" for r in failed[:5])


def test_the_era_edits_reach_the_code_that_runs(eras: dict[str, Path]) -> None:
    from sim.interp.machine import Program

    older = Program(DirectoryTree(eras["older"]))
    assert older.primitive_for("swapcache_prepare").params == ("swp_entry_t",)
    assert older.primitive_for("swapcache_clear").params == (
        "struct swap_info_struct *",
        "swp_entry_t",
    )
    current = Program(DirectoryTree(eras["6.12"]))
    assert current.primitive_for("swapcache_prepare").params == ("swp_entry_t", "int")
    newer = Program(DirectoryTree(eras["newer"]))
    proto = newer.prototype("folio_mk_pte", "include/linux/mm.h")
    assert proto is not None and proto.params == ("struct folio *", "pgprot_t")


@pytest.mark.parametrize(
    ("declared", "call"),
    [
        # a release with one more parameter than any primitive models
        (
            "int swapcache_prepare(swp_entry_t entry, int nr, bool wait)",
            "swapcache_prepare(entry, nr_pages, true)",
        ),
        # as many parameters, another meaning
        (
            "int swapcache_prepare(struct folio *folio, int nr)",
            "swapcache_prepare(folio, nr_pages)",
        ),
    ],
)
def test_a_primitive_of_another_release_is_not_modelled_with_both_prototypes(
    declared: str, call: str, kernel_tree: Path, tmp_path: Path
) -> None:
    edits = {
        "mm/memory.c": [("swapcache_prepare(entry, nr_pages)", call)],
        "mm/swapfile.c": [("int swapcache_prepare(swp_entry_t entry, int nr)\n", declared + "\n")],
    }
    tree = _tree(kernel_tree, tmp_path, edits)
    result = run_table([("v", DirectoryTree(tree))], default_cases(["sync-io"]), reference=False)
    reasons = {r.reason for r in result.runs if r.outcome is SimOutcome.NOT_MODELLED}
    assert len(reasons) == 1, reasons
    (reason,) = reasons
    assert reason.startswith("signature differs: the tree has " + declared + " (mm/swapfile.c:")
    assert (
        "the model has swapcache_prepare(swp_entry_t, int) or swapcache_prepare(swp_entry_t)"
        in (reason)
    )
