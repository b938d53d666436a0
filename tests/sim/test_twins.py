"""The fast path beside the general interpreter (sim/interp/twins.py) gives
the same values, steps, trace, coverage and faults."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.faults import SimFault
from sim.generate import specs
from sim.interp.machine import Machine, Program
from sim.model.mm import MapHandle, PtePtr, World
from sim.model.pte import PTE_NONE, Pte
from sim.runner import Execution, execute
from sim.scenarios.spec import Spec, build
from sim.tree import DirectoryTree

pytestmark = pytest.mark.kernel_tree

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    database=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture(scope="module")
def programs(kernel_tree: Path) -> tuple[Program, Program]:
    tree = DirectoryTree(kernel_tree)
    fast, general = Program(tree), Program(tree, twins=False)
    fn = fast.function("swap_pte_batch")
    assert fn is not None and fn.body is not fn.general_body, "the twin is not installed"
    plain = general.function("swap_pte_batch")
    assert plain is not None and plain.body is plain.general_body
    return fast, general


def _same(a: Execution, b: Execution) -> None:
    assert (a.outcome, a.kind, a.message, a.file, a.line, a.function, a.ret) == (
        b.outcome,
        b.kind,
        b.message,
        b.file,
        b.line,
        b.function,
        b.ret,
    )
    assert a.steps == b.steps
    assert a.trace == b.trace
    assert a.covered == b.covered
    assert [(x.kind, x.message, x.line) for x in a.more] == [
        (x.kind, x.message, x.line) for x in b.more
    ]


def test_generated_cases_agree(programs: tuple[Program, Program]) -> None:
    fast, general = programs

    @SETTINGS
    @given(specs())
    def one(spec: Spec) -> None:
        _same(execute(fast, spec), execute(general, spec))

    one()


@pytest.mark.parametrize("spec", [Spec(order=9, index=255), Spec(order=4, index=3)])
def test_large_folios_agree_and_take_the_fast_path(
    programs: tuple[Program, Program], spec: Spec
) -> None:
    fast, general = programs
    _same(execute(fast, spec), execute(general, spec))


@st.composite
def batches(draw: st.DrawFn) -> dict[str, Any]:
    """A table around a folio's swap entries, perturbed, and a call."""
    order = draw(st.sampled_from([2, 4, 9]))
    nr = 1 << order
    return {
        "order": order,
        # mostly inside or next to the folio's swap PTEs, where the loop runs
        "start": draw(
            st.one_of(
                st.tuples(st.just("abs"), st.integers(0, 511)),
                st.tuples(st.just("rel"), st.integers(-2, nr + 1)),
                st.tuples(st.just("rel"), st.integers(0, 2)),
            )
        ),
        "max_nr": draw(st.sampled_from([-1, 0, 1, 2, nr, nr + 1, 512, 700])),
        "edits": draw(
            st.lists(
                st.tuples(
                    st.integers(0, 511),
                    st.sampled_from(["soft_dirty", "uffd_wp", "exclusive", "offset", "none"]),
                ),
                max_size=4,
            )
        ),
        "cgroups": draw(st.lists(st.tuples(st.integers(0, 600), st.integers(0, 3)), max_size=3)),
        "pte_kind": draw(st.sampled_from(["first", "first", "present", "other"])),
        "budget": draw(st.sampled_from([100_000, 100_000, 60, 400])),
        "depth": draw(st.sampled_from([48, 48, 1, 2, 3])),
        "unmapped": draw(st.integers(0, 9)) == 0,
    }


def _call(program: Program, case: dict[str, Any]) -> tuple[Any, list[Any], int]:
    built = build(Spec(order=case["order"], index=0))
    world: World = built.world
    table = max(world.tables.values(), key=lambda t: sum(e[0] == "swap" for e in t.entries))
    entries = table.entries
    for index, what in case["edits"]:
        pte = entries[index]
        if what == "none":
            entries[index] = PTE_NONE
        elif pte.kind == "swap" and what == "offset":
            entries[index] = pte.set(swp_offset=pte.swp_offset + 3)
        elif pte.kind == "swap":
            entries[index] = pte.set(**{what: not getattr(pte, what)})
    for offset, cg in case["cgroups"]:
        world.swap_cgroup[offset] = cg
    first_swap = next(i for i, e in enumerate(entries) if e[0] == "swap")
    how, where = case["start"]
    start_index = where if how == "abs" else max(0, min(511, first_swap + where))
    handle = MapHandle(table, "test")
    world.handles.append(handle)
    if case["unmapped"]:
        handle.live = False
    start = PtePtr(handle, start_index)
    first = entries[start_index]
    pte: Any = {
        "first": first,
        "present": Pte.present(7),
        "other": entries[(start_index + 5) % 512],
    }[case["pte_kind"]]
    m = Machine(program, world, max_steps=case["budget"], max_depth=case["depth"])
    try:
        out: Any = ("value", m.run("swap_pte_batch", [start, case["max_nr"], pte]))
    except SimFault as exc:
        out = ("fault", exc.kind, exc.message, exc.line, exc.function)
    return out, m.log, m.steps


def test_swap_pte_batch_agrees_on_any_table(programs: tuple[Program, Program]) -> None:
    fast, general = programs

    @SETTINGS
    @given(batches())
    def one(case: dict[str, Any]) -> None:
        assert _call(fast, case) == _call(general, case)

    one()


def test_a_patched_helper_runs_interpreted(kernel_tree: Path, tmp_path: Path) -> None:
    for rel in ("mm/memory.c", "mm/internal.h", "mm/swap.h"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(kernel_tree / rel, tmp_path / rel)
    internal = tmp_path / "mm" / "internal.h"
    text = internal.read_text()
    old = "\t\tif (lookup_swap_cgroup_id(pte_to_swp_entry(pte)) != cgroup_id)\n"
    assert text.count(old) == 1
    internal.write_text(text.replace(old, old.replace(") != ", ")  !=  ")))
    # One space more: the fingerprint ignores it; a changed token is another text.
    same = Program(DirectoryTree(tmp_path)).function("swap_pte_batch")
    assert same is not None and same.body is not same.general_body
    internal.write_text(text.replace(old, old.replace(") != ", ") == ")))
    patched = Program(DirectoryTree(tmp_path)).function("swap_pte_batch")
    assert patched is not None and patched.body is patched.general_body
