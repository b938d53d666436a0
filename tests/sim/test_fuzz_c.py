"""Hostile C in do_swap_page: hypothesis writes statements, the simulator
runs them with a small fixed budget.  Whatever the C, a run ends as pass,
fail, budget or not-modelled: never a Python exception inside the
simulator (model-error), a hang or a memory blow-up."""

from __future__ import annotations

import resource
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviewbot.models import SimOutcome
from sim.interp.machine import Program
from sim.kernel import PRIMITIVES
from sim.runner import execute
from sim.scenarios.spec import Spec
from tests.sim.conftest import MemTree, sample_tree

MAX_STEPS = 3_000
SPECS = (Spec(), Spec(order=4, index=3))
LOCALS = ("vmf", "folio", "page", "entry", "pte", "ret", "fz0", "fz1", "fz2")
FIELDS = ("vmf->address", "vmf->pte", "vmf->orig_pte", "vmf->vma", "vmf->flags", "vmf->pmd")
NUMBERS = ("0", "1", "-1", "7", "512", "0x900000000", "1UL", "~0UL", "0x7fffffffffffffff")
BINARY = ("+", "-", "*", "/", "%", "<<", ">>", "&", "|", "^", "&&", "||", "==", "!=", "<", ">=")
CASTS = ("(int)", "(unsigned long)", "(u8)", "(bool)", "(pte_t *)")
CALLEES = (*sorted(PRIMITIVES)[:: max(1, len(PRIMITIVES) // 40)], "frobnicate", "do_swap_page")
DECLS = "\tunsigned long fz0 = 1;\n\tint fz1 = 2;\n\tu64 fz2 = 3;\n"


def expressions() -> st.SearchStrategy[str]:
    leaves = st.sampled_from((*LOCALS, *FIELDS, *NUMBERS, "NULL", "sizeof(pte_t)"))

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(inner, st.sampled_from(BINARY), inner).map(
                lambda t: f"({t[0]} {t[1]} {t[2]})"
            ),
            st.tuples(st.sampled_from(("-", "~", "!", "*", "&")), inner).map(
                lambda t: f"{t[0]}({t[1]})"
            ),
            st.tuples(st.sampled_from(CASTS), inner).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(st.sampled_from(CALLEES), st.lists(inner, max_size=6)).map(
                lambda t: f"{t[0]}({', '.join(t[1])})"
            ),
            st.tuples(inner, inner, inner).map(lambda t: f"({t[0]} ? {t[1]} : {t[2]})"),
        )

    return st.recursive(leaves, extend, max_leaves=8)


def statements() -> st.SearchStrategy[str]:
    e = expressions()
    target = st.sampled_from(("fz0", "fz1", "fz2", "ret", "vmf->pte", "*vmf->pte", "entry.val"))
    simple = st.one_of(
        e.map(lambda x: f"{x};"),
        st.tuples(target, st.sampled_from(("=", "+=", "*=", "<<=", "|=")), e).map(
            lambda t: f"{t[0]} {t[1]} {t[2]};"
        ),
        e.map(lambda x: f"return {x};"),
        st.just("goto out;"),
    )

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.tuples(e, inner, inner).map(lambda t: f"if ({t[0]}) {{ {t[1]} }} else {{ {t[2]} }}"),
            st.tuples(e, inner).map(lambda t: f"for (fz1 = 0; fz1 < {t[0]}; fz1++) {{ {t[1]} }}"),
            st.tuples(e, inner).map(lambda t: f"while ({t[0]}) {{ {t[1]} }}"),
            st.tuples(inner, e).map(lambda t: f"do {{ {t[0]} }} while ({t[1]});"),
            st.tuples(e, inner, inner).map(
                lambda t: f"switch ({t[0]}) {{ case 1: {t[1]} break; default: {t[2]} }}"
            ),
            st.lists(inner, min_size=1, max_size=3).map(lambda xs: "{ " + " ".join(xs) + " }"),
        )

    return st.lists(st.recursive(simple, extend, max_leaves=6), min_size=1, max_size=4).map(
        lambda xs: "\n".join(f"\t{x}" for x in xs)
    )


@pytest.fixture(scope="module")
def sample_source(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    tree = sample_tree(tmp_path_factory.mktemp("fuzz") / "tree", None)
    return {
        rel: (tree / rel).read_text()
        for rel in ("mm/memory.c", "mm/internal.h")
        if (tree / rel).exists()
    }


def _inserted(memory_c: str, stmts: str) -> str:
    start = memory_c.index("vm_fault_t do_swap_page(struct vm_fault *vmf)\n{\n")
    body = start + len("vm_fault_t do_swap_page(struct vm_fault *vmf)\n{\n")
    blank = memory_c.index("\n\n", start) + 2  # after the declarations
    return memory_c[:body] + DECLS + memory_c[body:blank] + stmts + "\n" + memory_c[blank:]


@pytest.mark.slow
def test_hostile_statements_in_do_swap_page(sample_source: dict[str, str]) -> None:
    _fuzz(sample_source, 150)


@pytest.mark.slow
@pytest.mark.kernel_tree
def test_hostile_statements_in_the_6_12_do_swap_page(kernel_tree: Path) -> None:
    files = {
        rel: (kernel_tree / rel).read_text()
        for rel in ("mm/memory.c", "mm/internal.h", "mm/swap.h")
    }
    _fuzz(files, 30)


def _fuzz(source: dict[str, str], examples: int) -> None:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(statements())
    def one(stmts: str) -> None:
        files = {**source, "mm/memory.c": _inserted(source["mm/memory.c"], stmts)}
        program = Program(MemTree(files))
        for spec in SPECS:
            t0 = time.monotonic()
            run = execute(program, spec, max_steps=MAX_STEPS)
            took = time.monotonic() - t0
            assert run.outcome is not SimOutcome.MODEL_ERROR, f"{stmts}\n{run.message}"
            assert took < 2.0, f"{stmts}\ntook {took:.1f} s"

    one()
    grown_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak
    assert grown_kib < 256 * 1024, f"peak memory grew by {grown_kib >> 10} MB"


def test_generated_statements_parse_as_c() -> None:
    # The fuzz must exercise the interpreter, not only the parser's error path.
    from checkers.frontend import parse

    sample = "\tif ((fz0 << 0x900000000)) { fz1 *= (vmf->address * 7); } else { goto out; }"
    wrapped = f"int f(void)\n{{\n{sample}\nout:\n\treturn 0;\n}}\n"
    assert not parse(wrapped.encode()).root.has_error
    assert Path(__file__).exists()


@pytest.mark.parametrize(
    "stmts",
    [
        # found by the fuzz with a larger budget: the invariants read the VmFault
        # stored in the PTE as a pte (TypeError, AttributeError out of execute)
        "\t{ *vmf->pte = vmf; goto out; }",
        "\tvmf->pte[1] = vmf;",
    ],
)
def test_a_non_pte_stored_into_a_pte_is_not_modelled(
    sample_source: dict[str, str], stmts: str
) -> None:
    files = {**sample_source, "mm/memory.c": _inserted(sample_source["mm/memory.c"], stmts)}
    for spec in SPECS:
        run = execute(Program(MemTree(files)), spec, max_steps=MAX_STEPS)
        assert run.outcome is SimOutcome.NOT_MODELLED, run.message
        assert "store of VmFault into a pte_t" in run.message
