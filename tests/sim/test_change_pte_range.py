"""change_pte_range() of Linux 6.12: every scenario passes, mutations fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from reviewbot.pipeline.simulate import findings_from_simulation
from sim.entries.change_spec import ChangeSpec, build, describe
from tests.sim.conftest import assert_every_scenario_passes, assert_mutation_fails

ENTRY = "change_pte_range"


def test_actions_pass_what_change_protection_passes() -> None:
    built = build(ChangeSpec(2, 0, action="uffd-wp-resolve", uffd=True))
    assert built.cp_flags == (1 << 3) | (1 << 0)  # RESOLVE | TRY_CHANGE_WRITABLE
    assert not built.newprot.write
    shmem = build(ChangeSpec(2, 0, action="writable", vma="shmem"))
    assert shmem.cp_flags == 0 and shmem.newprot.write
    assert "read-only" in describe(ChangeSpec())
    with pytest.raises(ValueError, match="action 'frob'"):
        build(ChangeSpec(action="frob"))


@pytest.mark.kernel_tree
def test_6_12_passes_every_scenario_with_coverage(kernel_tree: Path) -> None:
    assert_every_scenario_passes(kernel_tree, ENTRY)


_BROKEN = [
    (
        "a shared anonymous page made writable",
        "\t\treturn page && PageAnon(page) && PageAnonExclusive(page);",
        "\t\treturn page && PageAnon(page);",
        ("writable-shared-pages", 0, 0),
        "permission",
        "not PageAnonExclusive",
    ),
    (
        "a uffd-wp PTE made writable",
        "\tif (userfaultfd_pte_wp(vma, pte))\n\t\treturn false;\n\n"
        "\tif (!(vma->vm_flags & VM_SHARED))",
        "\tif (!(vma->vm_flags & VM_SHARED))",
        ("uffd-wp-kept-on-mprotect", 2, 1),
        "permission",
        "it has uffd-wp",
    ),
    (
        "uffd-wp protect forgetting present PTEs",
        "\t\t\tif (uffd_wp)\n\t\t\t\tptent = pte_mkuffd_wp(ptent);\n\t\t\telse if",
        "\t\t\tif (0)\n\t\t\t\tptent = pte_mkuffd_wp(ptent);\n\t\t\telse if",
        ("uffd-wp-protect", 2, 0),
        "smeared-bit",
        "expected pfn",
    ),
    (
        "the walk running one page past the end",
        "\t} while (pte++, addr += PAGE_SIZE, addr != end);",
        "\t} while (pte++, addr += PAGE_SIZE, addr != end + PAGE_SIZE);",
        ("range-ends-mid-folio", 4, 3),
        "outside-range",
        "outside the range changed",
    ),
]


@pytest.mark.kernel_tree
@pytest.mark.parametrize(
    ("what", "old", "new", "case", "kind", "text"), _BROKEN, ids=[b[0] for b in _BROKEN]
)
def test_a_broken_change_fails_its_invariant(  # noqa: PLR0917
    kernel_tree: Path,
    tmp_path: Path,
    what: str,
    old: str,
    new: str,
    case: tuple[str, int, int],
    kind: str,
    text: str,
) -> None:
    mutation = {"file": "mm/mprotect.c", "old": old, "new": new}
    result, trees = assert_mutation_fails(kernel_tree, mutation, tmp_path, case, ENTRY, kind, text)
    (finding,) = findings_from_simulation(result, trees)
    assert f"--entry {ENTRY} --scenario {case[0]}" in finding.message
