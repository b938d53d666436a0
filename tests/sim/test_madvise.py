"""The madvise PTE walkers of Linux 6.12: every scenario passes, mutations fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from reviewbot.pipeline.simulate import findings_from_simulation
from sim.entries.madvise_spec import MadvSpec, build, describe
from sim.suite import entry_cases, run_table
from sim.tree import DirectoryTree
from tests.sim.conftest import (
    MUTATIONS,
    apply_mutation,
    assert_every_scenario_passes,
    assert_mutation_fails,
    load_mutation,
)

FREE = "madvise_free_pte_range"
COLD = "madvise_cold_or_pageout_pte_range"


def test_a_pmd_mapped_thp_has_no_ptes_until_split() -> None:
    built = build(MadvSpec(9, 0, pmd_mapped=True, stop=256))
    assert built.pmd.huge_folio is not None
    assert all(p.kind == "none" for p in built.world.table(built.pmd.index).entries)
    assert built.end - built.addr == 256 * 4096
    assert "advising pages 0 to 255" in describe(built.spec)
    with pytest.raises(ValueError, match="order-9 folio"):
        build(MadvSpec(4, 0, pmd_mapped=True))
    with pytest.raises(ValueError, match="0 to 8"):
        build(MadvSpec(9, 0))


@pytest.mark.kernel_tree
@pytest.mark.parametrize("entry", [FREE, COLD])
def test_6_12_passes_every_scenario_with_coverage(kernel_tree: Path, entry: str) -> None:
    assert_every_scenario_passes(kernel_tree, entry)


@pytest.mark.kernel_tree
@pytest.mark.parametrize("name", ["madvise-free-remap-unchecked", "madvise-cold-remap-unchecked"])
def test_a_remap_without_its_null_check_fails_with_a_reproducer(
    kernel_tree: Path, tmp_path: Path, name: str
) -> None:
    mutation = load_mutation(MUTATIONS / f"{name}.toml")
    v1 = apply_mutation(kernel_tree, mutation, tmp_path / "v1")
    trees = {"base": DirectoryTree(kernel_tree), "v1": DirectoryTree(v1)}
    entry = mutation["entry"]
    result = run_table(list(trees.items()), entry_cases(entry, ["table-freed"]))
    failed = [r for r in result.runs if r.revision == "v1" and r.outcome == "fail"]
    assert failed and all(r.kind == "null" for r in failed)
    assert "NULL" in failed[0].message and failed[0].function == entry
    (finding,) = findings_from_simulation(result, trees)
    assert f"Reproduce: reviewbot simulate --entry {entry} --scenario table-freed" in (
        finding.message
    )
    assert finding.file == "mm/madvise.c" and finding.line > 0


_BROKEN = [
    (
        COLD,
        "the PTE used after its table was unmapped",
        "\t\t\t\tstart_pte = pte =\n\t\t\t\t\tpte_offset_map_lock(mm, pmd, addr, &ptl);\n"
        "\t\t\t\tif (!start_pte)\n\t\t\t\t\tbreak;\n",
        "\t\t\t\tspin_lock(ptl);\n",
        ("partly-advised-split", 4, 3),
        "stale-pointer",
        "unmapped since",
    ),
    (
        COLD,
        "MADV_COLD clearing dirty",
        "clear_young_dirty_ptes(vma, addr, pte, nr,\n\t\t\t\t\t       CYDP_CLEAR_YOUNG);",
        "clear_young_dirty_ptes(vma, addr, pte, nr,\n\t\t\t\t\t       CYDP_CLEAR_YOUNG | "
        "CYDP_CLEAR_DIRTY);",
        ("fully-mapped", 2, 0),
        "smeared-bit",
        "dirty cleared although the advice does not clear it",
    ),
    (
        COLD,
        "a shared folio advised",
        "\t\tif (!folio_test_lru(folio) ||\n\t\t    folio_mapcount(folio) != folio_nr_pages(folio))"
        "\n\t\t\tcontinue;\n",
        "\t\tif (!folio_test_lru(folio))\n\t\t\tcontinue;\n",
        ("shared-folio", 0, 0),
        "smeared-bit",
        "mapped by another process",
    ),
    (
        FREE,
        "the folio lock kept",
        "\t\t\tfolio_clear_dirty(folio);\n\t\t\tfolio_unlock(folio);\n",
        "\t\t\tfolio_clear_dirty(folio);\n",
        ("dirty-folio", 0, 0),
        "lock",
        "locked",
    ),
    (
        FREE,
        "a split folio's reference kept",
        "\t\t\t\tfolio_unlock(folio);\n\t\t\t\tfolio_put(folio);\n"
        "\t\t\t\tpte = pte_offset_map_lock",
        "\t\t\t\tfolio_unlock(folio);\n\t\t\t\tpte = pte_offset_map_lock",
        ("partly-advised-split", 2, 1),
        "wrong-count",
        "references",
    ),
]


@pytest.mark.kernel_tree
@pytest.mark.parametrize(
    ("entry", "what", "old", "new", "case", "kind", "text"), _BROKEN, ids=[b[1] for b in _BROKEN]
)
def test_a_broken_walker_fails_its_invariant(  # noqa: PLR0917
    kernel_tree: Path,
    tmp_path: Path,
    entry: str,
    what: str,
    old: str,
    new: str,
    case: tuple[str, int, int],
    kind: str,
    text: str,
) -> None:
    mutation = {"file": "mm/madvise.c", "old": old, "new": new}
    assert_mutation_fails(kernel_tree, mutation, tmp_path, case, entry, kind, text)
