"""The unmodified do_swap_page of Linux 6.12, and mutations of it."""

from __future__ import annotations

from pathlib import Path

import pytest

from reviewbot.pipeline.simulate import findings_from_simulation, simulate_tree_dirs
from sim.faults import Outcome
from sim.interp.machine import Program
from sim.runner import execute
from sim.suite import default_cases, one_case, run_table
from sim.tree import DirectoryTree
from tests.sim.conftest import MUTATIONS, apply_mutation, load_mutation

pytestmark = pytest.mark.kernel_tree


def test_6_12_passes_every_swap_cache_hit_scenario(kernel_tree: Path) -> None:
    result = run_table([("base", DirectoryTree(kernel_tree))], default_cases(hits_only=True))
    bad = [r for r in result.runs if r.outcome != "pass"]
    assert not bad, "\n".join(f"{r.scenario}: {r.outcome} {r.message}" for r in bad)
    assert len(result.runs) >= 40


def test_6_12_statement_coverage(kernel_tree: Path) -> None:
    result = run_table([("base", DirectoryTree(kernel_tree))], default_cases())
    share = result.coverage["do_swap_page"]
    assert isinstance(share, float)
    print(f"\ncoverage of do_swap_page (6.12): {share:.1%}")
    for path in result.coverage["not_modelled"]:  # type: ignore[union-attr]
        print("  ", path)
    assert share >= 0.6
    assert all(r.outcome == "pass" for r in result.runs)


def test_6_12_generated_cases_pass(kernel_tree: Path) -> None:
    from hypothesis import HealthCheck, given, settings

    from sim.generate import specs

    program = Program(DirectoryTree(kernel_tree))

    @settings(
        max_examples=50,
        database=None,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(specs())
    def passes(spec: object) -> None:
        run = execute(program, spec)  # type: ignore[arg-type]
        assert run.outcome is Outcome.PASS, run.summary()

    passes()


@pytest.mark.parametrize("path", sorted(MUTATIONS.glob("*.toml")), ids=lambda p: p.stem)
def test_mutation_is_caught(kernel_tree: Path, tmp_path: Path, path: Path) -> None:
    mutation = load_mutation(path)
    mutated = apply_mutation(kernel_tree, mutation, tmp_path / "v1")
    entry = mutation.get("entry", "do_swap_page")
    case = one_case(mutation["scenario"], mutation["order"], mutation["index"], entry)
    result = run_table(
        [("base", DirectoryTree(kernel_tree)), ("v1", DirectoryTree(mutated))], [case]
    )
    base, v1 = result.runs
    assert base.outcome == "pass", base.message
    assert (v1.outcome, v1.kind) == ("fail", mutation["kind"]), v1.message
    # The failure is reported where the entry observes it, whichever file the
    # mutation edits (batch-ignores-soft-dirty edits mm/internal.h).
    reported = (
        mutation.get("reported_file", "mm/memory.c"),
        mutation.get("reported_function", entry),
    )
    assert (v1.file, v1.function) == reported
    # ... and inside that function's body in the mutated file.
    lines = (mutated / reported[0]).read_text().splitlines()
    start = next(
        n
        for n, text in enumerate(lines, 1)
        if not text[:1].isspace() and f"{reported[1]}(" in text and not text.endswith(";")
    )
    end = lines.index("}", start) + 1
    assert start < v1.line <= end


def test_hypothesis_shrinks_a_mutation_to_a_small_case(kernel_tree: Path, tmp_path: Path) -> None:
    from sim.generate import find_failure, specs

    mutation = load_mutation(MUTATIONS / "batch-ignores-soft-dirty.toml")
    mutated = apply_mutation(kernel_tree, mutation, tmp_path / "v1")
    found = find_failure(
        Program(DirectoryTree(mutated)),
        Program(DirectoryTree(kernel_tree)),
        max_examples=200,
        # Narrowed to faults without races on folios inside the VMA: the
        # search is about bits, and this keeps the test fast and certain.
        strategy=specs(sources=("swapcache",), races=("",), placements=("inside",)),
    )
    assert found is not None
    assert found.kind == "smeared-bit"
    assert found.spec.order == 1  # shrunk to the smallest folio that can smear a bit
    assert found.spec.race == "" and not found.spec.mapped


def test_findings_name_the_case_and_survive_a_line_shift(kernel_tree: Path, tmp_path: Path) -> None:
    mutation = load_mutation(MUTATIONS / "null-check-below-use.toml")
    v1 = apply_mutation(kernel_tree, mutation, tmp_path / "v1")
    v2 = apply_mutation(kernel_tree, mutation, tmp_path / "v2")
    memory = v2 / "mm" / "memory.c"
    memory.write_text("/* two lines\n   added above */\n" + memory.read_text())
    dirs = [("base", kernel_tree), ("v1", v1), ("v2", v2)]
    result = simulate_tree_dirs(dirs, scenarios=["table-freed"])
    trees = {name: DirectoryTree(path) for name, path in dirs}
    found = findings_from_simulation(result, trees)
    assert {f.checker for f in found} == {"simulator"}
    v1_found = findings_from_simulation(result, trees, revisions={"v1"})
    v2_found = findings_from_simulation(result, trees, revisions={"v2"})
    assert len(found) == len(v1_found) + len(v2_found) == 2  # one per distinct failure
    f1, f2 = v1_found[0], v2_found[0]
    assert f1.message.startswith("simulated: ")
    assert f2.line == f1.line + 2
    assert f1.id == f2.id
    assert "page table freed concurrently" in f1.message
    assert "Reproduce: reviewbot simulate --scenario table-freed --order" in f1.message
    assert f1.severity.value == "bug"


def test_a_base_that_fails_is_a_model_error(kernel_tree: Path, tmp_path: Path) -> None:
    mutation = load_mutation(MUTATIONS / "null-check-below-use.toml")
    broken = apply_mutation(kernel_tree, mutation, tmp_path / "broken")
    result = simulate_tree_dirs([("base", broken), ("v1", kernel_tree)], scenarios=["table-freed"])
    assert {r.outcome for r in result.runs} == {"model-error"}
    base_runs = [r for r in result.runs if r.revision == "base"]
    assert all("model, not the patch" in r.message for r in base_runs)
    assert findings_from_simulation(result, {}) == []
