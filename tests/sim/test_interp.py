"""The C interpreter on small kernel-style snippets written for these tests."""

from __future__ import annotations

import pytest

from sim.faults import Kind, NotModelled, SimFault
from tests.sim.conftest import run_c

ARITH = """
static unsigned long wrap_unsigned(void)
{
	unsigned long idx = 0;

	idx = idx - 1;
	return idx;
}

static int narrow(long v)
{
	int small = v;
	return small;
}

static int c_division(int a, int b)
{
	return a / b + a % b * 100;
}

static unsigned short ushort_wrap(void)
{
	unsigned short x = 65535;
	x++;
	return x;
}
"""


def test_unsigned_wraps_like_c() -> None:
    assert run_c(ARITH, "wrap_unsigned") == 2**64 - 1
    assert run_c(ARITH, "narrow", 2**32 + 5) == 5
    assert run_c(ARITH, "narrow", 2**31) == -(2**31)
    assert run_c(ARITH, "ushort_wrap") == 0


def test_division_truncates_towards_zero() -> None:
    # -7 / 2 == -3 and -7 % 2 == -1 in C (Python would say -4 and 1).
    assert run_c(ARITH, "c_division", -7, 2) == -3 + -1 * 100


CONTROL = """
static int count_with_goto(int n)
{
	int i = 0;
	int total = 0;

again:
	if (i >= n)
		goto out;
	total += i;
	i++;
	goto again;
out:
	return total;
}

static int loops(int n)
{
	int total = 0;
	int i;

	for (i = 0; i < n; i++) {
		if (i == 3)
			continue;
		if (i == 6)
			break;
		total += i;
	}
	do {
		total++;
	} while (0);
	while (n-- > 0)
		total += 100;
	return total;
}

static int pick(int v)
{
	switch (v) {
	case 1:
		return 10;
	case 2:
	case 3:
		v = 30;
		break;
	default:
		v = -1;
	}
	return v;
}

static int sizes(void)
{
	int same = 1;
#if defined(CONFIG_SMP) || defined(CONFIG_PREEMPTION)
	if (sizeof(pte_t) > sizeof(unsigned long))
		same = 2;
	same += 10;
#else
	same = 99;
#endif
	return same + sizeof(int);
}
"""


def test_goto_loops_switch_sizeof_and_if_config() -> None:
    assert run_c(CONTROL, "count_with_goto", 5) == 0 + 1 + 2 + 3 + 4
    assert run_c(CONTROL, "loops", 8) == (0 + 1 + 2 + 4 + 5) + 1 + 800
    assert [run_c(CONTROL, "pick", v) for v in (1, 2, 3, 7)] == [10, 30, 30, -1]
    assert run_c(CONTROL, "sizes") == 11 + 4


FAULTS = """
static int uninit(void)
{
	int x;
	return x + 1;
}

static int null_arith(struct vm_fault *vmf)
{
	pte_t *first;

	vmf->pte = NULL;
	first = vmf->pte - 3;
	return 0;
}

static int spin(void)
{
	int i = 0;
	while (1)
		i++;
	return i;
}

static int recurse(int n)
{
	return recurse(n + 1);
}

static int unknown(void)
{
	return frobnicate_the_mm(1);
}

static int through_pointer(struct vm_fault *vmf)
{
	return vmf->page->pgmap->ops->migrate_to_ram(vmf);
}

static int bug(int v)
{
	BUG_ON(v > 1);
	return v;
}
"""


def _fault(entry: str, *args: object) -> SimFault:
    with pytest.raises(SimFault) as info:
        run_c(FAULTS, entry, *args)
    return info.value


def test_use_of_uninitialised_local() -> None:
    assert _fault("uninit").kind is Kind.UNINITIALISED


def test_pointer_arithmetic_on_null_names_the_expression() -> None:
    from sim.scenarios.spec import Spec, build

    built = build(Spec())
    with pytest.raises(SimFault) as info:
        run_c(FAULTS, "null_arith", built.vmf, world=built.world)
    exc = info.value
    assert exc.kind is Kind.NULL
    assert "vmf->pte" in exc.message
    expected = FAULTS.splitlines().index("\tfirst = vmf->pte - 3;") + 1
    assert exc.line == expected


def test_infinite_loop_ends_within_the_step_budget() -> None:
    exc = _fault("spin")
    assert exc.kind is Kind.BUDGET
    assert "step budget" in exc.message


def test_unbounded_recursion_ends_within_the_depth_budget() -> None:
    exc = _fault("recurse", 0)
    assert exc.kind is Kind.BUDGET
    assert "depth" in exc.message


def test_unknown_callee_is_not_modelled_never_skipped() -> None:
    exc = _fault("unknown")
    assert isinstance(exc, NotModelled)
    assert exc.message == "not modelled: frobnicate_the_mm() is unknown"


def test_call_through_function_pointer_is_not_modelled() -> None:
    from sim.scenarios.spec import Spec, build

    built = build(Spec())
    with pytest.raises(SimFault) as info:
        run_c(FAULTS, "through_pointer", built.vmf, world=built.world)
    exc = info.value
    assert isinstance(exc, NotModelled)


def test_bug_on_fires_only_when_true() -> None:
    assert run_c(FAULTS, "bug", 1) == 1
    assert _fault("bug", 2).kind is Kind.BUG_ON


STRUCTS = """
static unsigned long fresh_entry(void)
{
	swp_entry_t entry;

	entry.val = 4096 + 3;
	return swp_offset(entry);
}
"""


def test_filling_in_a_fresh_swap_entry_is_not_a_use() -> None:
    assert run_c(STRUCTS, "fresh_entry") == 4099


CONFIGURED = """
#ifndef _MM_DEMO_H
#define _MM_DEMO_H
#ifdef CONFIG_SWAP
static inline int swap_pages(void)
{
	return 16;
}
#else
static inline int swap_pages(void)
{
	return 0;
}
#endif
#endif
"""


def test_helpers_are_the_real_ones_not_the_stubs() -> None:
    # The shared front end keeps the first branch of each #if; the simulator's
    # own index would also pick the branch DEFAULT_CONFIG compiles in.
    assert run_c(CONFIGURED, "swap_pages") == 16
