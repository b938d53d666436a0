"""Building a case: the one-run layout of plain swap PTEs builds the same
world as the page-by-page one."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings

import sim.scenarios.spec as spec_module
from sim.generate import specs
from sim.scenarios import all_scenarios
from sim.scenarios.spec import Spec, build


def _state(spec: Spec) -> Any:
    built = build(spec)
    w = built.world
    return (
        {pmd: list(t.entries) for pmd, t in w.tables.items()},
        dict(w.mm.counters),
        list(w.swap.swap_map.items()),
        dict(w.external_swap_refs),
        dict(w.swap_cgroup),
        [(p.mapcount, p.anon_exclusive) for p in built.folio.pages],
        built.folio.refcount,
    )


def _both(spec: Spec) -> tuple[Any, Any, bool]:
    plain = spec_module._plain_swap_ptes
    try:
        spec_module._plain_swap_ptes = lambda s, v: False
        general = _state(spec)
    finally:
        spec_module._plain_swap_ptes = plain
    used = plain(spec, spec_module.geometry(spec)[0])
    return _state(spec), general, used


def test_every_scenario_case_builds_the_same_world() -> None:
    fast_ones = 0
    for scenario in all_scenarios().values():
        for spec in scenario.cases():
            fast, general, used = _both(spec)
            assert fast == general, spec
            fast_ones += used
    assert fast_ones > 10  # the one-run layout is the common one


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(specs())
def test_generated_cases_build_the_same_world(spec: Spec) -> None:
    fast, general, _ = _both(spec)
    assert fast == general
