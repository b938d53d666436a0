"""Sequences of faults on the pages of one folio (hypothesis state machine).

The first fault may map the whole folio or one page; each later fault on a
page still holding a swap entry must keep every invariant, and between
faults the counts must agree.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from sim import invariants
from sim.faults import Outcome
from sim.interp.machine import Program
from sim.model.mm import PAGE_SIZE
from sim.runner import run_fault
from sim.scenarios.spec import Bits, Built, Spec, build, fault_vmf
from sim.tree import DirectoryTree
from tests.sim.conftest import sample_tree

SETTINGS = settings(
    max_examples=15,
    stateful_step_count=5,
    database=None,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)


def fault_sequences(program: Program) -> type[RuleBasedStateMachine]:
    class FaultSequence(RuleBasedStateMachine):
        built: Built
        spec: Spec

        @initialize(order=st.integers(1, 4), soft_dirty=st.integers(0, 15))
        def swap_out(self, order: int, soft_dirty: int) -> None:
            bits = tuple(Bits(soft_dirty=bool(soft_dirty >> i & 1)) for i in range(1 << order))
            self.spec = Spec(order=order, bits=bits)
            self.built = build(self.spec)
            self.built.vmf.pte.handle.live = False  # faults below bring their own vm_fault

        @rule(data=st.data(), write=st.booleans())
        def fault(self, data: Any, write: bool) -> None:
            world, base = self.built.world, self.built.folio_vaddr
            swapped = [
                i for i in range(self.spec.nr) if world.pte_at(base + i * PAGE_SIZE).kind == "swap"
            ]
            if not swapped:
                return
            index = data.draw(st.sampled_from(swapped))
            spec = replace(self.spec, index=index, write=write)
            vmf = fault_vmf(world, base + index * PAGE_SIZE, write)
            run = run_fault(program, world, vmf, spec)
            assert run.outcome is Outcome.PASS, run.summary()

        @invariant()
        def counts_agree(self) -> None:
            if hasattr(self, "built"):
                violation = invariants.consistent(self.built.world)
                assert violation is None, violation.message

    return FaultSequence


@pytest.fixture(scope="module")
def sample_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("seq")
    return {
        v: sample_tree(root / v, None if v == "base" else int(v[1])) for v in ("base", "v1", "v3")
    }


@pytest.mark.parametrize("revision", ["base", "v3"])
def test_fault_sequences_on_the_sample(sample_dirs: dict[str, Path], revision: str) -> None:
    program = Program(DirectoryTree(sample_dirs[revision]))
    run_state_machine_as_test(fault_sequences(program), settings=SETTINGS)


def test_fault_sequences_find_v1_bugs(sample_dirs: dict[str, Path]) -> None:
    program = Program(DirectoryTree(sample_dirs["v1"]))
    with pytest.raises(AssertionError, match=r"swap_map|stale|flushed|smeared|fault"):
        run_state_machine_as_test(fault_sequences(program), settings=SETTINGS)


@pytest.mark.kernel_tree
def test_fault_sequences_on_6_12(kernel_tree: Path) -> None:
    program = Program(DirectoryTree(kernel_tree))
    run_state_machine_as_test(fault_sequences(program), settings=SETTINGS)
