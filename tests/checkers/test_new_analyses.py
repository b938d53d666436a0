"""The small analyses the newer checkers share: declared scalar types, flag
variables followed through a may-dataflow, and the knowledge tables."""

from __future__ import annotations

import pytest

from checkers.analyses import flags
from checkers.analyses.cfg import CfgNode
from checkers.analyses.context import cfg_of
from checkers.analyses.dataflow import State, solve
from checkers.analyses.declared import scalar_types
from checkers.analyses.syntax import assignments, call_name, calls_in, key
from checkers.analyses.tables import indices, names, table
from checkers.frontend import all_functions, parse

SRC = b"""
static int f(unsigned long nr, struct page *page, bool ok)
{
	size_t i;
	int err = 0;
	pte_t *ptep, pte;

	if (ok) {
		unsigned int i;
		err = 1;
	}
	return err;
}
"""


def test_scalar_types_are_what_the_function_declares() -> None:
    (unit,) = all_functions(parse(SRC))
    types = scalar_types(unit.node)
    assert types["nr"] == "unsigned long"
    assert types["ok"] == "bool"
    assert types["err"] == "int"
    assert types["pte"] == "pte_t"
    # declared twice with two types, or a pointer: not known
    assert "i" not in types and "ptep" not in types and "page" not in types


FLAGGED = b"""
static void g(swp_entry_t entry, int nr)
{
	bool pinned = false;

	if (swapcache_prepare(entry, nr))
		goto out;
	pinned = true;
	work();
out:
	if (pinned)
		swapcache_clear(NULL, entry, nr);
}
"""


def test_flag_variables_drop_contradicted_facts() -> None:
    (unit,) = all_functions(parse(FLAGGED))
    calls = [c for c in calls_in(unit.node) if call_name(c) in ("swapcache_prepare", "work")]
    variables = flags.flag_variables(calls)
    assert variables == frozenset({"pinned"})

    def transfer(node: CfgNode, state: State) -> State:
        assert node.ast is not None
        for target, value, _ in assignments(node.ast):
            if key(target) in variables:
                state = flags.assign(state, key(target), value)
        if b"work()" in (node.ast.text or b""):
            state = state | {("did-work", flags.snapshot(state))}
        return state

    def refine(node: CfgNode, label: bool, state: State) -> State:
        assert node.ast is not None
        return flags.refine(state, node.ast, label, variables)

    cfg = cfg_of(unit)
    sol = solve(cfg, transfer, refine)
    clear = next(n for n in cfg.stmt_nodes() if b"swapcache_clear" in (n.ast.text or b""))
    before = sol.before[clear.id]
    # Only the path that set pinned = true reaches the clear, and it did the work.
    assert (flags.FLAG, "pinned", "0") not in before
    assert ("did-work", (("pinned", "1"),)) in before


def test_tables_read_the_knowledge_file() -> None:
    assert "spin_lock" in indices("locks", "acquire")
    assert "non_swap_entry" in names("swap_entry", "not_swap_tests")
    assert table("swap_pairs")["swapcache_prepare"]["give"] == "swapcache_clear"
    with pytest.raises(ValueError, match="must be a list of strings"):
        names("locks", "acquire")
