"""The entry registry: what exists, which entries a revision needs, case ids."""

from __future__ import annotations

import pytest

from reviewbot.cli import main
from reviewbot.models import Reproducer
from sim.entries import all_entries, entries_for, get
from sim.scenarios import all_scenarios
from sim.suite import Case, entry_cases
from tests.sim.conftest import MemTree

# A do_swap_page that calls one static helper, which calls another; and a
# function nothing reaches.  swap_free() is a primitive: not defined here.
_MEMORY_C = """
static int helper_leaf(int x)
{
	return x + 1;
}

static int helper(int x)
{
	return helper_leaf(x);
}

vm_fault_t do_swap_page(struct vm_fault *vmf)
{
	swap_free(entry);
	return helper(0);
}

static int unrelated(void)
{
	return 0;
}
"""


def _names(entries: list[object]) -> set[str]:
    return {e.name for e in entries}  # type: ignore[attr-defined]


def test_do_swap_page_is_an_entry_with_the_scenarios_of_sim_scenarios() -> None:
    entry = get("do_swap_page")
    assert entry.scenarios() == all_scenarios()
    assert entry.files[0] == "mm/memory.c"
    assert entry.backs["smeared-bit"] == "batch-bit-uniformity"
    assert "do_swap_page" in all_entries()
    with pytest.raises(KeyError, match="unknown entry 'no_such'"):
        get("no_such")


@pytest.mark.parametrize(
    ("touched", "chosen"),
    [
        ({"do_swap_page"}, True),  # the entry itself
        ({"helper_leaf"}, True),  # reached through helper()
        ({"unrelated"}, False),  # defined, never reached
        ({"swap_free"}, False),  # reached, but only a primitive stands for it
        (set(), False),
    ],
)
def test_entries_for_follows_calls_within_the_entry_files(touched: set[str], chosen: bool) -> None:
    tree = MemTree({"mm/memory.c": _MEMORY_C})
    assert ("do_swap_page" in _names(entries_for(touched, tree))) is chosen


def test_case_ids_name_their_entry_unless_it_is_do_swap_page() -> None:
    spec = all_scenarios()["table-freed"].spec(4, 3)
    plain = Case("table-freed", spec)
    assert plain.id == "table-freed order=4 index=3"
    assert Reproducer.from_case_id(plain.id) == Reproducer("table-freed", 4, 3, "do_swap_page")
    other = Case("table-freed", spec, "some_entry")
    assert other.id == "some_entry:table-freed order=4 index=3"
    assert Reproducer.from_case_id(other.id) == Reproducer("table-freed", 4, 3, "some_entry")
    assert Reproducer.from_case_id(other.id).line() == (
        "Reproduce: reviewbot simulate --entry some_entry --scenario table-freed"
        " --order 4 --index 3 ..."
    )
    assert Reproducer.from_case_id(plain.id).line() == (
        "Reproduce: reviewbot simulate --scenario table-freed --order 4 --index 3 ..."
    )


def test_entry_cases_of_do_swap_page_are_the_default_grid() -> None:
    cases = entry_cases("do_swap_page", ["vma-end"])
    assert cases and all(c.entry == "do_swap_page" for c in cases)
    with pytest.raises(KeyError, match="unknown scenario"):
        entry_cases("do_swap_page", ["no-such"])


@pytest.mark.parametrize("argv", [["--entry", "list"], ["--list-entries"]])
def test_listing_entries_needs_no_tree(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--tree", "/nonexistent", *argv]) == 0
    out = capsys.readouterr().out
    for name, entry in all_entries().items():
        assert f"{name}: {entry.summary}" in out
    assert "swapcache-hit" in out
    assert "smeared-bit -> batch-bit-uniformity" in out
