"""Batch facts: sites, wrappers and what a helper guarantees, read from bodies."""

from __future__ import annotations

from pathlib import Path

import pytest

from checkers.analyses.batch_facts import batch_sites, conjuncts, helper_facts
from checkers.frontend import all_functions, find_function, parse
from checkers.treeview import DirectoryTreeView
from tests.checkers.helpers import FIXTURES

HELPERS = (FIXTURES / "batch-facts" / "helpers.c").read_text()


def _unit(tmp_path: Path, name: str):  # type: ignore[no-untyped-def]
    (tmp_path / "t.c").write_text(HELPERS)
    pf = parse(HELPERS.encode(), "t.c")
    view = DirectoryTreeView(tmp_path)
    view.add(pf)
    unit = find_function(pf, name)
    assert unit is not None and all(not u.has_error for u in all_functions(pf))
    return unit, view


def test_helper_facts_are_read_from_the_body(tmp_path: Path) -> None:
    unit, view = _unit(tmp_path, "caller")
    facts = helper_facts(unit, "folio_pte_batch", view)
    line = next(
        i for i, t in enumerate(HELPERS.splitlines(), 1) if t.startswith("static inline int folio_")
    )
    assert facts.where == f"t.c:{line}"
    assert facts.full_compare and facts.clamps_to_folio and not facts.clamps_to_table
    assert facts.always_ignored == {"young": "pte_mkold()"}
    # read from the body, not from the data file's list (which has no uffd-wp flag)
    assert facts.flag_bits["FPB_IGNORE_UFFD_WP"] == ("uffd-wp",)
    assert facts.out_params == {"any_writable": "write", "any_young": "young", "any_dirty": "dirty"}
    assert (facts.ptep_param, facts.max_nr_param, facts.flags_param) == (2, 4, 5)
    assert facts.ignored_with(frozenset({"FPB_IGNORE_DIRTY"})) == {
        "young": "pte_mkold()",
        "dirty": "FPB_IGNORE_DIRTY",
    }


def test_helper_not_in_tree_gets_the_data_file(tmp_path: Path) -> None:
    unit, view = _unit(tmp_path, "caller")
    facts = helper_facts(unit, "swap_pte_batch", view)
    assert facts.where is None and "FPB_IGNORE_DIRTY" in facts.flag_bits


def test_wrapper_conditions_in_the_callers_terms(tmp_path: Path) -> None:
    unit, view = _unit(tmp_path, "caller")
    (site,) = batch_sites(unit, view)
    assert (site.helper, site.wrapper, site.count) == ("folio_pte_batch", "unmap_batch", "nr")
    assert site.flags == frozenset({"FPB_IGNORE_DIRTY"})
    assert set(site.needs) == {
        ("flags&TTU_HWPOISON", False),
        ("folio_test_anon(folio)", True),
        ("folio_test_swapbacked(folio)", False),
    }
    assert site.ptep is None  # pvmw->pte: not one of the wrapper's parameters


def test_conjuncts() -> None:
    pf = parse(b"int f(void)\n{\n\treturn likely(a && !b) || c;\n}\n")
    (unit,) = all_functions(pf)
    ret = unit.node.child_by_field_name("body").named_children[0].named_children[0]  # type: ignore[union-attr]
    assert conjuncts(ret, False) == [("c", False)]  # "a && !b" false: either may be
    inner = ret.child_by_field_name("left")
    assert inner is not None and conjuncts(inner, True) == [("a", True), ("b", False)]


@pytest.mark.kernel_tree
def test_real_sites_in_6_12(kernel_tree: Path) -> None:
    view = DirectoryTreeView(kernel_tree)
    pf = parse((kernel_tree / "mm/madvise.c").read_bytes(), "mm/madvise.c")
    view.add(pf)
    unit = find_function(pf, "madvise_free_pte_range")
    assert unit is not None
    sites = batch_sites(unit, view)
    assert [(s.helper, s.wrapper, s.count) for s in sites] == [
        ("swap_pte_batch", None, "nr"),
        ("folio_pte_batch", "madvise_folio_pte_batch", "nr"),
    ]
    assert sites[1].flags == {"FPB_IGNORE_DIRTY", "FPB_IGNORE_SOFT_DIRTY"}
    facts = helper_facts(unit, "folio_pte_batch", view)
    assert facts.where is not None and facts.where.startswith("mm/internal.h:")
    assert facts.always_ignored == {"write": "pte_wrprotect()", "young": "pte_mkold()"}
    assert facts.clamps_to_folio and not facts.clamps_to_table


FOLIO_START = """
vm_fault_t map_folio(struct vm_fault *vmf, struct folio *folio, pte_t *ptep, pte_t pte)
{
	unsigned long idx = folio_page_idx(folio, vmf->page);
	unsigned long start = vmf->address - idx * PAGE_SIZE;
	unsigned long end = start + folio_nr_pages(folio) * PAGE_SIZE;
	int nr = folio_nr_pages(folio);

	if (start < vmf->vma->vm_start || end > vmf->vma->vm_end)
		return VM_FAULT_FALLBACK;
	set_ptes(vmf->vma->vm_mm, start, ptep - idx, pte, nr);
	return 0;
}
"""


def test_folio_batches_say_which_bounds_are_checked() -> None:
    from checkers.analyses.batch_facts import folio_batches

    pf = parse(FOLIO_START.encode(), "f.c")
    unit = find_function(pf, "map_folio")
    assert unit is not None
    (batch,) = folio_batches(unit)
    assert batch.start == "start" and {"start", "end"} <= batch.group
    assert batch.bounded == frozenset({"vma"})  # the PMD is not checked
    assert batch.install.text is not None and batch.install.text.startswith(b"set_ptes")


def test_bit_verdicts_of_a_site_formed_through_a_wrapper(tmp_path: Path) -> None:
    from checkers.analyses import summaries as sm
    from checkers.analyses.batch_facts import bit_verdicts
    from checkers.analyses.knowledge import knowledge

    src = (FIXTURES / "batch-bit-uniformity" / "bad_template_via_wrapper.c").read_bytes()
    pf = parse(src, "w.c")
    view = DirectoryTreeView(tmp_path)
    view.add(pf)
    unit = find_function(pf, "swapin_map_wrapped")
    assert unit is not None
    (site,) = batch_sites(unit, view)
    assert (site.helper, site.wrapper) == ("swap_pte_batch", "swapin_whole_folio")
    bits = [b for b in knowledge().bits if b.name == "uffd-wp"]
    (verdict,) = bit_verdicts(unit, site, bits, view).values()
    assert verdict.verdict == sm.NOT_GUARANTEED and "only the swap entry" in verdict.reason
