"""The interpreter's fused fast paths keep the general path's semantics.

Statements such as ``x = value;``, ``x++;``, ``if (!x)``, ``return x;``,
comparisons and calls whose operands are plain locals run without their
operand closures (see sim/interp/statements.py).  Each check that the
general path makes must still fire there, at the same line, and the steps
counted must not change.
"""

from __future__ import annotations

import pytest

from sim.faults import Kind, NotModelled, SimFault
from sim.interp.machine import Machine, Program
from sim.scenarios.spec import Spec, build
from tests.sim.conftest import MemTree, run_c

SHAPES = """
static int take(int v)
{
	return v + 1;
}

static int assign_from_uninit(void)
{
	int a;
	int b = 0;

	b = a;
	return b;
}

static int increment_uninit(void)
{
	int a;

	a++;
	return 0;
}

static int not_uninit(void)
{
	int a;

	if (!a)
		return 1;
	return 0;
}

static int return_uninit(void)
{
	int a;

	return a;
}

static int compare_uninit(int b)
{
	int a;

	if (b < a)
		return 1;
	return 0;
}

static int call_with_uninit(void)
{
	int a;

	return take(a);
}

static int compare_all(int a, int b)
{
	int low = (a == b) + 2 * (a != b) + 4 * (a < b);
	int high = 8 * (a > b) + 16 * (a <= b) + 32 * (a >= b);

	return low + high;
}

static int count_down(int n)
{
	int seen = 0;

	while (n > 0) {
		seen++;
		n--;
	}
	return seen;
}

static int not_of_value(int v)
{
	if (!v)
		return 7;
	return 9;
}

static int wrong_arity(void)
{
	return take(1, 2);
}

static unsigned short ushort_increment(void)
{
	unsigned short x = 65535;

	x++;
	return x;
}

static int walk_off_the_table(struct vm_fault *vmf)
{
	pte_t *ptep = pte_offset_map(vmf->pmd, vmf->address);
	pte_t *end = ptep + 600;
	int n = 0;

	while (ptep < end) {
		pte_t pte = ptep_get(ptep);

		n++;
		ptep++;
	}
	return n;
}

static int load_after_unmap(struct vm_fault *vmf)
{
	pte_t *ptep = pte_offset_map(vmf->pmd, vmf->address);
	pte_t pte;

	pte_unmap(ptep);
	pte = ptep_get(ptep);
	return 0;
}
"""


def _line(text: str) -> int:
    return SHAPES.splitlines().index(text) + 1


def _fault(entry: str, *args: object) -> SimFault:
    with pytest.raises(SimFault) as info:
        run_c(SHAPES, entry, *args)
    return info.value


@pytest.mark.parametrize(
    ("entry", "args", "line"),
    [
        ("assign_from_uninit", (), "\tb = a;"),
        ("increment_uninit", (), "\ta++;"),
        ("not_uninit", (), "\tif (!a)"),
        ("return_uninit", (), "\treturn a;"),
        ("compare_uninit", (3,), "\tif (b < a)"),
        ("call_with_uninit", (), "\treturn take(a);"),
    ],
)
def test_uninitialised_local_is_caught_in_every_fused_shape(
    entry: str, args: tuple[object, ...], line: str
) -> None:
    exc = _fault(entry, *args)
    assert exc.kind is Kind.UNINITIALISED
    assert exc.message == "use of uninitialised local a"
    assert exc.line == _line(line)
    assert exc.function == entry


@pytest.mark.parametrize(
    ("a", "b", "want"), [(1, 1, 1 + 16 + 32), (1, 2, 2 + 4 + 16), (3, 2, 2 + 8 + 32)]
)
def test_integer_comparisons(a: int, b: int, want: int) -> None:
    assert run_c(SHAPES, "compare_all", a, b) == want


def test_not_and_increment_keep_c_values() -> None:
    assert run_c(SHAPES, "not_of_value", 0) == 7
    assert run_c(SHAPES, "not_of_value", -1) == 9
    assert run_c(SHAPES, "ushort_increment") == 0  # converted on store, as C does


def test_steps_trace_and_coverage_are_exact() -> None:
    program = Program(MemTree({"mm/memory.c": SHAPES}))
    m = Machine(program, build(Spec()).world)
    assert m.run("count_down", [3]) == 3
    # int seen; while; 3 x (seen++; n--;); return  + 3 loop ticks
    assert len(m.log) == 1 + 1 + 3 * 2 + 1
    assert m.steps == len(m.log) + 3
    assert [text for _, _, _, text in m.trace[-3:]] == ["seen++;", "n--;", "return seen;"]
    assert {line for _, _, line, _ in m.covered} == {
        _line("\tint seen = 0;"),
        _line("\twhile (n > 0) {"),
        _line("\t\tseen++;"),
        _line("\t\tn--;"),
        _line("\treturn seen;"),
    }


def test_step_budget_counts_fused_statements() -> None:
    program = Program(MemTree({"mm/memory.c": SHAPES}))
    m = Machine(program, build(Spec()).world, max_steps=20)
    with pytest.raises(SimFault) as info:
        m.run("count_down", [100])
    assert info.value.kind is Kind.BUDGET
    assert m.steps == 21


def test_call_with_the_wrong_number_of_arguments_is_not_modelled() -> None:
    exc = _fault("wrong_arity")
    assert isinstance(exc, NotModelled)
    assert exc.message == "not modelled: call of take with 2 arguments"


def test_walking_a_pte_pointer_off_its_table_is_out_of_bounds() -> None:
    built = build(Spec())
    with pytest.raises(SimFault) as info:
        run_c(SHAPES, "walk_off_the_table", built.vmf, world=built.world)
    assert info.value.kind is Kind.OUT_OF_BOUNDS
    assert info.value.line == _line("\t\tpte_t pte = ptep_get(ptep);")


def test_load_through_an_unmapped_pte_pointer_is_stale() -> None:
    built = build(Spec())
    with pytest.raises(SimFault) as info:
        run_c(SHAPES, "load_after_unmap", built.vmf, world=built.world)
    assert info.value.kind is Kind.STALE_POINTER
    assert info.value.message.startswith("ptep_get(ptep): load through a stale pte pointer")
