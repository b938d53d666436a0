"""Dynamic checks that come from the model: map handles, bounds, locks."""

from __future__ import annotations

import pytest

from sim.faults import Kind, SimFault
from sim.scenarios.spec import Spec, build
from tests.sim.conftest import run_c

SNIPPETS = """
static int stale(struct vm_fault *vmf)
{
	pte_t *saved = vmf->pte;
	pte_t pte;

	pte_unmap(vmf->pte);
	vmf->pte = pte_offset_map_lock(vmf->vma->vm_mm, vmf->pmd, vmf->address, &vmf->ptl);
	pte = ptep_get(saved);
	pte_unmap_unlock(vmf->pte, vmf->ptl);
	return 0;
}

static int fresh(struct vm_fault *vmf)
{
	pte_t pte;

	pte_unmap(vmf->pte);
	vmf->pte = pte_offset_map_lock(vmf->vma->vm_mm, vmf->pmd, vmf->address, &vmf->ptl);
	pte = ptep_get(vmf->pte);
	pte_unmap_unlock(vmf->pte, vmf->ptl);
	return pte_same(pte, vmf->orig_pte);
}

static int out_of_table(struct vm_fault *vmf)
{
	pte_t pte = ptep_get(vmf->pte - 600);

	return 0;
}

static int double_lock(struct vm_fault *vmf)
{
	spin_lock(vmf->ptl);
	spin_lock(vmf->ptl);
	return 0;
}

static int unlocked_store(struct vm_fault *vmf)
{
	set_pte_at(vmf->vma->vm_mm, vmf->address, vmf->pte, vmf->orig_pte);
	return 0;
}
"""


def _run(entry: str) -> object:
    built = build(Spec(order=2, index=1))
    return run_c(SNIPPETS, entry, built.vmf, world=built.world)


def test_pointer_kept_across_unmap_is_stale() -> None:
    with pytest.raises(SimFault) as info:
        _run("stale")
    assert info.value.kind is Kind.STALE_POINTER
    assert _run("fresh") == 1  # the same access through the new mapping is fine


def test_access_outside_the_table() -> None:
    with pytest.raises(SimFault) as info:
        _run("out_of_table")
    assert info.value.kind is Kind.OUT_OF_BOUNDS


@pytest.mark.parametrize("entry", ["double_lock", "unlocked_store"])
def test_lock_misuse(entry: str) -> None:
    with pytest.raises(SimFault) as info:
        _run(entry)
    assert info.value.kind is Kind.LOCK


def test_primitives_cite_the_kernel_function() -> None:
    from sim.kernel import PRIMITIVES

    for name, prim in PRIMITIVES.items():
        assert prim.cites, name
        assert prim.kind in ("semantic", "noop", "observed")


def test_every_scenario_draws_its_state() -> None:
    from sim.scenarios import all_scenarios

    scenarios = all_scenarios()
    assert {
        "swapcache-hit",
        "table-freed",
        "pte-changed",
        "write-fault",
        "extra-ref",
        "vma-start",
        "vma-end",
        "pmd-boundary",
        "mixed-soft-dirty",
    } <= set(scenarios)
    for sc in scenarios.values():
        assert "|" in sc.doc and "swap" in sc.doc, sc.name  # an ASCII drawing of the PTEs
        for spec in sc.cases():
            build(spec)  # every default case is consistent
