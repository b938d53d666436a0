"""Bounded execution: C that anyone can post neither hangs nor eats memory.

Integers keep C widths, a shift past the width is a failure, primitives and
loops count against the step budget, and each case has a wall-clock and a
memory budget.  The end-to-end tests run the simulator in a child process
held to 1 GB of address space and 10 s: a hang or a blow-up fails them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reviewbot.models import SimOutcome
from sim.faults import Kind, SimFault
from sim.interp.machine import Machine, Program
from sim.runner import execute
from sim.scenarios.spec import Spec, build
from tests.sim.conftest import MemTree, run_c, sample_tree

ROOT = Path(__file__).resolve().parents[2]
SQUARING = (
    "\tunsigned long big = 3;\n\tint sq;\n\n\tfor (sq = 0; sq < 40; sq++)\n\t\tbig = big * big;\n"
)
HUGE_SHIFT = "\tunsigned long big = 1UL << 0x900000000;\n\n\tif (big)\n\t\tret = 0;\n"

ARITH = """
typedef unsigned long long big_t;

unsigned long square_u64(void)
{
	u64 big = 3;
	int i;

	for (i = 0; i < 40; i++)
		big = big * big;
	return big;
}

unsigned long square_unknown_type(void)
{
	big_t big = 3;
	int i;

	for (i = 0; i < 40; i++)
		big *= big;
	return big;
}

int square_int(void)
{
	int big = 3;
	int i;

	for (i = 0; i < 40; i++)
		big = big * big;
	return big;
}

unsigned long shift(unsigned long n)
{
	return 1UL << n;
}

unsigned long shift_assign(unsigned long n)
{
	unsigned long v = 1;

	v <<= n;
	return v;
}

unsigned long forever(void)
{
	unsigned long n = 0;

	for (;;)
		n++;
	return n;
}
"""


def _squared(bits: int, signed: bool) -> int:
    v = 3
    for _ in range(40):
        v = (v * v) & ((1 << 64) - 1)
    v &= (1 << bits) - 1
    return v - (1 << bits) if signed and v >> (bits - 1) else v


def test_integers_wrap_at_their_c_width() -> None:
    assert run_c(ARITH, "square_u64") == _squared(64, False)
    assert run_c(ARITH, "square_unknown_type") == _squared(64, False)
    assert run_c(ARITH, "square_int") == _squared(32, True)


@pytest.mark.parametrize("fn", ["shift", "shift_assign"])
def test_a_shift_past_the_width_is_a_failure_not_a_bignum(fn: str) -> None:
    assert run_c(ARITH, fn, 63) == 1 << 63
    for n in (64, 0x900000000, -1):
        with pytest.raises(SimFault) as info:
            run_c(ARITH, fn, n)
        assert info.value.kind is Kind.UNDEFINED
        assert "past the width of a 64-bit integer" in info.value.message


def test_an_integer_constant_wider_than_64_bits_is_not_modelled() -> None:
    source = "int do_swap_page(struct vm_fault *vmf)\n{\n\treturn 0x1" + "0" * 20 + ";\n}\n"
    run = execute(Program(MemTree({"mm/memory.c": source})), Spec())
    assert run.outcome is SimOutcome.NOT_MODELLED
    assert "wider than 64 bits" in run.reason


def test_wall_clock_budget_ends_a_run() -> None:
    world = build(Spec()).world
    m = Machine(Program(MemTree({"mm/memory.c": ARITH})), world, max_steps=10**12)
    m.max_seconds = 0.2
    with pytest.raises(SimFault) as info:
        m.run("forever", [])
    assert info.value.kind is Kind.BUDGET and "time budget" in info.value.message


def test_memory_budget_ends_a_run() -> None:
    world = build(Spec()).world
    m = Machine(Program(MemTree({"mm/memory.c": ARITH})), world, max_steps=10**12)
    m.max_memory = -1  # any peak at all is over it: the checkpoint looks
    with pytest.raises(SimFault) as info:
        m.run("forever", [])
    assert info.value.kind is Kind.BUDGET and "memory budget" in info.value.message


def test_a_primitive_walking_a_huge_count_is_charged_to_the_budget() -> None:
    source = (
        "int do_swap_page(struct vm_fault *vmf)\n{\n"
        "\tswap_free_nr(pte_to_swp_entry(vmf->orig_pte), 1UL << 40);\n\treturn 0;\n}\n"
    )
    run = execute(Program(MemTree({"mm/memory.c": source})), Spec(), max_steps=100_000)
    assert run.outcome is SimOutcome.BUDGET, run.message
    assert run.reason == "over the step budget"


def test_primitive_calls_count_as_steps() -> None:
    source = "int do_swap_page(struct vm_fault *vmf)\n{\n\treturn folio_ref_count(NULL) + 1;\n}\n"
    world = build(Spec()).world
    m = Machine(Program(MemTree({"mm/memory.c": source})), world)
    with pytest.raises(SimFault):
        m.run("do_swap_page", [build(Spec()).vmf])
    assert m.steps == 2  # the return statement and the primitive


# --- end to end, in a child process held to 1 GB and 10 s -------------------

CHILD = """
import json, resource, sys
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
from reviewbot.pipeline.simulate import simulate_tree_dirs
result = simulate_tree_dirs([("base", sys.argv[1]), ("v1", sys.argv[2])])
print(json.dumps(result.summary().to_json()))
print(json.dumps(sorted({(r.outcome.value, r.kind) for r in result.runs if r.revision == "v1"})))
"""


def _patched(tree: Path, insert: str) -> Path:
    memory = tree / "mm" / "memory.c"
    text = memory.read_text()
    start = text.index("vm_fault_t do_swap_page(struct vm_fault *vmf)\n{\n")
    blank = text.index("\n\n", start) + 2  # after the declarations
    memory.write_text(text[:blank] + insert + "\n" + text[blank:])
    return tree


def _suite_in_child(base: Path, patched: Path) -> tuple[dict[str, Any], list[list[str]]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(base), str(patched)],
        capture_output=True,
        text=True,
        timeout=10,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    summary, kinds = done.stdout.splitlines()[-2:]
    return json.loads(summary), json.loads(kinds)


def _copy_of(kernel: Path, dest: Path) -> Path:
    for rel in ("mm/memory.c", "mm/internal.h", "mm/swap.h"):
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        (dest / rel).write_bytes((kernel / rel).read_bytes())
    return dest


@pytest.mark.parametrize("tree", ["sample", "6.12"])
def test_squaring_loop_and_huge_shift_end_within_10s_and_1gb(
    tree: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if tree == "sample":

        def fresh(name: str) -> Path:
            return sample_tree(tmp_path / name, None)
    else:
        kernel: Path = request.getfixturevalue("kernel_tree")

        def fresh(name: str) -> Path:
            return _copy_of(kernel, tmp_path / name)

    base = fresh("base")
    summary, kinds = _suite_in_child(base, _patched(fresh("squaring"), SQUARING))
    assert summary["health"] == "pass" and kinds == [["pass", ""]]
    summary, kinds = _suite_in_child(base, _patched(fresh("shift"), HUGE_SHIFT))
    assert summary["health"] == "fail"
    assert kinds == [["fail", "undefined-behaviour"]]
