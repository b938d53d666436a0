"""Generated cases of every entry pass on 6.12; a mutation is found and shrunk."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sim.entries import get
from sim.entries.generate import find_failure, strategy, zap_specs
from sim.faults import Outcome
from sim.interp.machine import Program
from sim.tree import DirectoryTree
from tests.sim.conftest import MUTATIONS, apply_mutation, load_mutation

pytestmark = pytest.mark.kernel_tree

ENTRIES = [
    "zap_pte_range",
    "madvise_free_pte_range",
    "madvise_cold_or_pageout_pte_range",
    "change_pte_range",
]


@pytest.mark.parametrize("name", ENTRIES)
def test_6_12_passes_generated_cases(kernel_tree: Path, name: str) -> None:
    from hypothesis import HealthCheck, given, settings

    entry = get(name)
    program = Program(DirectoryTree(kernel_tree), entry.files)

    @settings(
        max_examples=100,
        database=None,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy(name))
    def passes(spec: Any) -> None:
        run = entry.execute(program, spec, name, 100_000)
        assert run.outcome is Outcome.PASS, run.summary()

    passes()


@pytest.mark.slow
def test_a_uffd_wp_smearing_zap_is_found_and_shrunk(kernel_tree: Path, tmp_path: Path) -> None:
    mutation = load_mutation(MUTATIONS / "zap-batch-ignores-uffd-wp.toml")
    mutated = apply_mutation(kernel_tree, mutation, tmp_path / "v1")
    files = get("zap_pte_range").files
    found = find_failure(
        "zap_pte_range",
        Program(DirectoryTree(mutated), files),
        Program(DirectoryTree(kernel_tree), files),
        max_examples=300,
        # Narrowed to where markers exist: the search is about uffd-wp bits,
        # and this keeps the test fast and certain.
        specs=zap_specs(vmas=("shmem",), details=("",)),
    )
    assert found is not None
    assert found.kind == "smeared-bit"
    spec = found.spec
    assert spec.uffd and "SS" in spec.pages  # a batch of swap entries, uffd-wp VMA
    assert len(spec.pages) <= 4 and spec.order <= 1  # shrunk to the smallest batch
