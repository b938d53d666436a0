"""Local arrays (``int rss[NR_MM_COUNTERS]``), as zap_pte_range() declares one."""

from __future__ import annotations

import pytest

from sim.faults import Kind, SimFault
from tests.sim.conftest import run_c

_SOURCE = """
static inline void init_rss_vec(int *rss)
{
	memset(rss, 0, sizeof(int) * NR_MM_COUNTERS);
}

int sum(int nr)
{
	int rss[NR_MM_COUNTERS];
	int i, total = 0;

	init_rss_vec(rss);
	rss[MM_SWAPENTS] -= nr;
	rss[MM_ANONPAGES]++;
	for (i = 0; i < NR_MM_COUNTERS; i++)
		if (rss[i])
			total += rss[i] * (i + 1);
	return total;
}

int past_the_end(void)
{
	int a[2];

	a[0] = 1;
	return a[2];
}

int unset(void)
{
	int a[2];

	return a[1];
}
"""


def test_an_array_is_written_through_a_pointer_and_read_back() -> None:
    assert run_c(_SOURCE, "sum", 5) == -5 * 3 + 1 * 2


@pytest.mark.parametrize(
    ("fn", "kind"), [("past_the_end", Kind.OUT_OF_BOUNDS), ("unset", Kind.UNINITIALISED)]
)
def test_bad_array_reads_fail(fn: str, kind: Kind) -> None:
    with pytest.raises(SimFault) as exc:
        run_c(_SOURCE, fn)
    assert exc.value.kind is kind
