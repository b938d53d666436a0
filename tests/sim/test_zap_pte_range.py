"""zap_pte_range() of Linux 6.12: every scenario passes, mutations are caught."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reviewbot.cli import main
from reviewbot.pipeline.simulate import findings_from_simulation
from sim.entries import entries_for, get
from sim.entries.zap_spec import ZapSpec, build, describe
from sim.suite import cases_for, entry_cases, one_case, run_table
from sim.tree import DirectoryTree
from tests.sim.conftest import (
    KERNEL_FILES,
    MUTATIONS,
    apply_mutation,
    assert_every_scenario_passes,
    assert_mutation_fails,
    load_mutation,
)

ENTRY = "zap_pte_range"


def test_the_layout_builds_what_it_says() -> None:
    spec = ZapSpec(order=2, layout="PPSS-MMH", wp="00100000", vma="shmem", uffd=True, stop=6)
    built = build(spec)
    assert built.end - built.addr == 6 * 4096
    table = built.world.table(built.pmd.index)
    at = (built.first >> 12) % 512
    kinds = [p.kind for p in table.entries[at - 1 : at + 9]]
    assert kinds == ["present", *["present"] * 2, "swap", "swap", "none", *["swap"] * 3, "present"]
    assert table.entries[at + 2].uffd_wp and not table.entries[at + 3].uffd_wp
    assert built.world.mm.counters == {0: 0, 1: 0, 2: 2, 3: 4}  # 2 shmem pages + 2 migrating
    assert describe(spec).startswith("2 present, 2 swap, 1 none, 2 migration, 1 hwpoison PTEs")
    with pytest.raises(ValueError, match="order 0 to 8"):
        build(ZapSpec(order=12))
    with pytest.raises(ValueError, match="range"):
        build(ZapSpec(order=2, stop=9))


pytestmark_kernel = pytest.mark.kernel_tree


@pytestmark_kernel
def test_6_12_passes_every_scenario_with_coverage(kernel_tree: Path) -> None:
    assert_every_scenario_passes(kernel_tree, ENTRY, runs=40)


@pytestmark_kernel
def test_the_pipeline_picks_zap_for_a_touched_batch_helper(kernel_tree: Path) -> None:
    tree = DirectoryTree(kernel_tree)
    names = {e.name for e in entries_for({"swap_pte_batch"}, tree)}
    assert {"do_swap_page", ENTRY} <= names
    # Read only by zap_pte_range's files; do_swap_page does not execute it.
    assert {e.name for e in entries_for({"pte_install_uffd_wp_if_needed"}, tree)} == {ENTRY}
    assert entries_for({"copy_page_range"}, tree) == []
    cases = cases_for(entries_for({"pte_install_uffd_wp_if_needed"}, tree))
    assert cases and {c.entry for c in cases} == {ENTRY}
    assert "include/linux/mm_inline.h" in get(ENTRY).files


@pytestmark_kernel
def test_uffd_wp_smeared_across_a_swap_batch_is_caught(kernel_tree: Path, tmp_path: Path) -> None:
    mutation = load_mutation(MUTATIONS / "zap-batch-ignores-uffd-wp.toml")
    v1 = apply_mutation(kernel_tree, mutation, tmp_path / "v1")
    trees = {"base": DirectoryTree(kernel_tree), "v1": DirectoryTree(v1)}
    cases = [one_case("swap-mixed-uffd-wp", 4, i, ENTRY) for i in (0, 3)]
    result = run_table(list(trees.items()), cases)
    by = {(r.revision, r.scenario): r for r in result.runs}
    assert all(r.outcome == "pass" for r in result.runs if r.revision == "base")
    missing = by[("v1", "zap_pte_range:swap-mixed-uffd-wp order=4 index=3")]
    assert (missing.outcome, missing.kind) == ("fail", "smeared-bit")
    assert "had uffd-wp but was left none, not a uffd-wp marker" in missing.message
    assert (missing.file, missing.function) == ("mm/memory.c", ENTRY)
    smeared = by[("v1", "zap_pte_range:swap-mixed-uffd-wp order=4 index=0")]
    assert "had no uffd-wp but was left a uffd-wp marker" in smeared.message
    assert smeared.function == "pte_install_uffd_wp_if_needed"
    found = findings_from_simulation(result, trees)
    assert len(found) == 2
    assert any(
        "Reproduce: reviewbot simulate --entry zap_pte_range --scenario swap-mixed-uffd-wp "
        "--order 4 --index 3" in f.message
        for f in found
    )


# Mutations at test time, each breaking one invariant.
_BROKEN = [
    (
        "swap entries freed twice",
        "\t\t\tfree_swap_and_cache_nr(entry, nr);\n",
        "\t\t\tfree_swap_and_cache_nr(entry, nr);\n\t\t\tfree_swap_and_cache_nr(entry, 1);\n",
        ("swap-batch", 2, 0),
        "wrong-count",
        "freed twice",
    ),
    (
        "rss of a swap batch counted as one",
        "rss[MM_SWAPENTS] -= nr;",
        "rss[MM_SWAPENTS] -= 1;",
        ("swap-batch", 4, 0),
        "wrong-count",
        "MM_SWAPENTS moved by -1, but the PTEs zapped account for -16",
    ),
    (
        "the table lock kept",
        "\tpte_unmap_unlock(start_pte, ptl);\n\n\t/*\n\t * If we forced",
        "\tpte_unmap(start_pte);\n\n\t/*\n\t * If we forced",
        ("swap-batch", 0, 0),
        "lock",
        "held",
    ),
    (
        "a present batch one page past the end",
        [
            [
                "max_nr = (end - addr) / PAGE_SIZE;\n\t\t\tnr = zap_present_ptes(",
                "max_nr = (end - addr) / PAGE_SIZE + 1;\n\t\t\tnr = zap_present_ptes(",
            ],
            [
                "addr += PAGE_SIZE * nr, addr != end);",
                "addr += PAGE_SIZE * nr, addr < end);",
            ],
        ],
        None,
        ("range-ends-mid-folio", 4, 3),
        "outside-range",
        "not the end",
    ),
    (
        "delayed rmaps never flushed",
        "\t\ttlb_flush_rmaps(tlb, vma);\n\t}\n\tpte_unmap_unlock(start_pte, ptl);",
        "\t}\n\tpte_unmap_unlock(start_pte, ptl);",
        ("dirty-file-folio", 2, 0),
        "wrong-count",
        "delayed",
    ),
]


@pytestmark_kernel
@pytest.mark.parametrize(
    ("what", "old", "new", "case", "kind", "text"), _BROKEN, ids=[b[0] for b in _BROKEN]
)
def test_a_broken_zap_fails_its_invariant(  # noqa: PLR0917
    kernel_tree: Path,
    tmp_path: Path,
    what: str,
    old: str | list[list[str]],
    new: str | None,
    case: tuple[str, int, int],
    kind: str,
    text: str,
) -> None:
    edits = old if isinstance(old, list) else [[old, new]]
    mutation = {"file": "mm/memory.c", "edits": edits}
    assert_mutation_fails(kernel_tree, mutation, tmp_path / "v1", case, ENTRY, kind, text)


@pytestmark_kernel
def test_cli_runs_the_entry(kernel_tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["simulate", "--tree", str(kernel_tree), "--entry", ENTRY]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "zap_pte_range:swap-mixed-uffd-wp order=4 index=3" in out
    assert "coverage of zap_pte_range:" in out
    argv += ["--scenario", "gather-full", "--order", "2", "--format", "json"]
    assert main(argv) == 0
    data = json.loads(capsys.readouterr().out)
    assert [r["outcome"] for r in data["runs"]] == ["pass"]
    assert main([*argv[:5], "--scenario", "gather-full", "--order", "12"]) == 2
    assert "order 0 to 8" in capsys.readouterr().err


def _split_out_zap_nonpresent_ptes(memory_c: str) -> str:
    """6.12's zap_pte_range() with its non-present branch moved into a helper
    of its own, the shape later kernels give it (zap_nonpresent_ptes()): the
    helper returns how many PTEs it handled, a skipped entry included."""
    fn = memory_c.index("static unsigned long zap_pte_range(")
    start = memory_c.index("\t\tentry = pte_to_swp_entry(ptent);\n", fn)
    tail = "\t\tzap_install_uffd_wp_if_needed(vma, addr, pte, nr, details, ptent);\n"
    end = memory_c.index(tail, start) + len(tail)
    body = memory_c[start:end]
    body = body.replace("\t\t\tmax_nr = (end - addr) / PAGE_SIZE;\n", "")
    body = body.replace("continue;", "return nr;").replace("\n\t", "\n")[1:]
    helper = (
        "static inline int zap_nonpresent_ptes(struct mmu_gather *tlb,\n"
        "\t\tstruct vm_area_struct *vma, pte_t *pte, pte_t ptent,\n"
        "\t\tunsigned int max_nr, unsigned long addr,\n"
        "\t\tstruct zap_details *details, int *rss)\n"
        "{\n\tstruct mm_struct *mm = tlb->mm;\n\tstruct folio *folio;\n\tstruct page *page;\n"
        "\tswp_entry_t entry;\n\tint nr = 1;\n\n" + body + "\treturn nr;\n}\n\n"
    )
    call = (
        "\t\tnr = zap_nonpresent_ptes(tlb, vma, pte, ptent, (end - addr) / PAGE_SIZE,\n"
        "\t\t\t\t\t  addr, details, rss);\n"
    )
    return memory_c[:fn] + helper + memory_c[fn:start] + call + memory_c[end:]


@pytestmark_kernel
def test_a_tree_with_zap_nonpresent_ptes_runs_it_from_source(
    kernel_tree: Path, tmp_path: Path
) -> None:
    mutation = load_mutation(MUTATIONS / "zap-batch-ignores-uffd-wp.toml")
    split = tmp_path / "split"
    for rel in KERNEL_FILES:
        (split / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(kernel_tree / rel, split / rel)
    memory = split / "mm" / "memory.c"
    memory.write_text(_split_out_zap_nonpresent_ptes(memory.read_text()))
    result = run_table([("split", DirectoryTree(split))], entry_cases(ENTRY), reference=False)
    bad = [r for r in result.runs if r.outcome != "pass"]
    assert not bad, "\n".join(f"{r.scenario}: {r.outcome} {r.message}" for r in bad)
    from sim.entries import get as get_entry
    from sim.interp.machine import Program

    entry = get_entry(ENTRY)
    program = Program(DirectoryTree(split), entry.files)
    run = entry.execute(program, one_case("mixed", 2, 0, ENTRY).spec, ENTRY, 100_000)
    assert "zap_nonpresent_ptes" in {fn for _, fn, _, _ in run.covered}
    # The uffd-wp smearing is still caught when the swap batch is the helper's.
    both = apply_mutation(kernel_tree, mutation, tmp_path / "both")
    (both / "mm" / "memory.c").write_text(memory.read_text())
    result = run_table(
        [("split", DirectoryTree(split)), ("v1", DirectoryTree(both))],
        [one_case("swap-mixed-uffd-wp", 4, 3, ENTRY)],
    )
    base, broken = result.runs[:2]
    assert base.outcome == "pass"
    assert (broken.outcome, broken.kind, broken.function) == (
        "fail",
        "smeared-bit",
        "zap_nonpresent_ptes",
    )
