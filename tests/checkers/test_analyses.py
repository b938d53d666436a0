"""The shared analyses on small functions: CFG shape, dataflow, normaliser."""

from __future__ import annotations

from checkers.analyses.cfg import Cfg, build_cfg
from checkers.analyses.syntax import text
from checkers.frontend import all_functions, parse
from checkers.normaliser import normalise


def _cfg(src: str) -> Cfg:
    pf = parse(src.encode(), "t.c")
    (unit,) = all_functions(pf)
    assert not unit.has_error
    return build_cfg(unit.node)


def _atoms(cfg: Cfg) -> list[str]:
    return sorted(text(n.ast) for n in cfg.nodes if n.kind == "cond" and n.ast is not None)


def _reachable(cfg: Cfg) -> set[str]:
    seen, stack = set(), [cfg.entry]
    while stack:
        i = stack.pop()
        if i in seen:
            continue
        seen.add(i)
        stack.extend(t for t, _ in cfg.nodes[i].succ)
    return {text(cfg.nodes[i].ast) for i in seen if cfg.nodes[i].ast is not None}


def test_conditions_split_into_atoms_with_wrappers_removed() -> None:
    cfg = _cfg(
        "void f(void)\n{\n\tif (unlikely(!pte || !pte_same(READ_ONCE(a), b)) && WARN_ON(c))"
        "\n\t\treturn;\n}\n"
    )
    assert _atoms(cfg) == ["c", "pte", "pte_same(READ_ONCE(a), b)"]


def test_negation_swaps_edges() -> None:
    cfg = _cfg("void f(void)\n{\n\tif (!p)\n\t\treturn;\n\tuse(p);\n}\n")
    (cond,) = [n for n in cfg.nodes if n.kind == "cond"]
    targets = {label: cfg.nodes[t] for t, label in cond.succ}
    assert targets[True].ast is not None and text(targets[True].ast) == "use(p);"
    assert targets[False].ast is not None and text(targets[False].ast) == "return;"


def test_bug_on_is_an_exit() -> None:
    cfg = _cfg("void f(void)\n{\n\tVM_BUG_ON(!p);\n\tuse(p);\n}\n")
    (cond,) = [n for n in cfg.nodes if n.kind == "cond"]
    targets = {label: cfg.nodes[t] for t, label in cond.succ}
    assert targets[False].kind == "abort" and not targets[False].succ


def test_goto_to_nested_label_and_unreachable_code() -> None:
    cfg = _cfg(
        "int f(int a)\n{\n\tif (a)\n\t\tgoto out;\n\treturn 0;\n\tdead();\n"
        "\tif (a) {\nout:\n\t\tlive();\n\t}\n\treturn 1;\n}\n"
    )
    reached = _reachable(cfg)
    assert "live();" in reached and "dead();" not in reached


def test_switch_fallthrough_break_and_loops() -> None:
    cfg = _cfg(
        "void f(int x)\n{\n\tswitch (x) {\n\tcase 1:\n\t\tone();\n\tcase 2:\n\t\ttwo();\n"
        "\t\tbreak;\n\tdefault:\n\t\tnone();\n\t}\n\twhile (1) {\n\t\tif (x)\n\t\t\tbreak;\n"
        "\t\tx++;\n\t}\n\tafter();\n}\n"
    )
    one = next(n for n in cfg.nodes if n.ast is not None and text(n.ast) == "one();")
    assert text(cfg.nodes[one.succ[0][0]].ast or one.ast) == "two();"  # falls through
    assert "after();" in _reachable(cfg)


def test_normaliser_keeps_length_and_lines() -> None:
    src = (
        b"static int __init foo(void)\n{\n\tlist_for_each_entry(p, &head, lru) {\n"
        b"\t\tx = min_t(unsigned long, a, b);\n\t}\n#ifdef CONFIG_X\n\ta();\n#else\n\tb();\n"
        b"#endif\n\treturn (unsigned long)x;\n}\n"
    )
    out = normalise(src)
    assert len(out) == len(src) and out.count(b"\n") == src.count(b"\n")
    assert b"__init" not in out and b"while" in out and b"Unsigned_long" in out
    assert b"b();" not in out and b"a();" in out  # first branch of the #ifdef kept
    assert b"(unsigned long)x" in out  # a cast is not a macro argument
    pf = parse(src, "n.c")
    (unit,) = all_functions(pf)
    assert unit.name == "foo" and not unit.has_error
    assert unit.text().startswith("static int __init foo")  # text is the original


def test_if_zero_blocks_are_dropped_and_else_kept() -> None:
    src = b"void f(void)\n{\n#if 0\n\tgone(;\n#else\n\tkept();\n#endif\n}\n"
    out = normalise(src)
    assert b"gone" not in out and b"kept();" in out


def test_dataflow_budget_gives_a_limit_not_a_hang() -> None:
    import pytest

    from checkers.analyses import dataflow

    body = "".join(f"\tif (c{i})\n\t\tp{i} = q;\n" for i in range(400))
    cfg = _cfg("void f(void)\n{\n" + body + "}\n")

    def transfer(node: object, state: dataflow.State) -> dataflow.State:
        return state | {(getattr(node, "id", 0),)}  # a fact per node: grows forever

    old = dataflow.MAX_VISITS
    dataflow.MAX_VISITS = 500
    try:
        with pytest.raises(dataflow.DataflowLimit):
            dataflow.solve(cfg, transfer)  # type: ignore[arg-type]
    finally:
        dataflow.MAX_VISITS = old


def test_file_scope_else_branches_are_kept_and_the_real_definition_wins() -> None:
    src = (
        b"#ifndef CONFIG_SWAP\nstatic inline int swap_count(int e)\n{\n\treturn 0;\n}\n"
        b"#else\nint swap_count(int e)\n{\n\tint n = lookup(e);\n\n\treturn n ? n : 1;\n}\n"
        b"#endif\n"
    )
    pf = parse(src, "s.c")
    assert [u.name for u in all_functions(pf)] == ["swap_count", "swap_count"]
    real = pf.functions()["swap_count"]
    assert b"lookup" in (real.text or b"")
