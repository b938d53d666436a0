"""The bundled sample series: base and v3 pass, every seeded bug of v1/v2 fails."""

from __future__ import annotations

from typing import Any

import pytest

from reviewbot.pipeline.simulate import findings_from_simulation
from reviewbot.sample import expected_bugs

# The bug classes of sample/expected.toml and the kind of failure that shows each.
KIND_OF_BUG = {
    "stale-pointer": {"stale-pointer"},
    "unchecked-null-pte": {"null"},
    "batch-bit-uniformity": {"smeared-bit"},
    "incomplete-batch-conversion": {"wrong-count"},
    "batch-bounds": {"out-of-bounds", "outside-range"},
}


def test_base_passes_every_scenario(sample_result: Any) -> None:
    result, _ = sample_result
    base = [r for r in result.runs if r.revision == "base"]
    assert len(base) >= 50
    bad = [f"{r.scenario}: {r.outcome} {r.message}" for r in base if r.outcome != "pass"]
    assert not bad, "\n".join(bad)


def test_v3_passes_every_scenario(sample_result: Any) -> None:
    result, _ = sample_result
    bad = [
        f"{r.scenario}: {r.message}"
        for r in result.runs
        if r.revision == "v3" and r.outcome != "pass"
    ]
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("version", [1, 2])
def test_every_seeded_bug_fails_a_scenario_with_its_kind(sample_result: Any, version: int) -> None:
    result, _ = sample_result
    failures = [r for r in result.runs if r.revision == f"v{version}" and r.outcome == "fail"]
    for bug in expected_bugs(version):
        kinds = KIND_OF_BUG.get(bug.bug)
        if kinds is None:
            continue  # a naming nit: nothing to simulate
        hits = [r for r in failures if r.kind in kinds and r.file == bug.file]
        if bug.bug != "batch-bounds":  # bounds show where the pointer is used, not computed
            hits = [r for r in hits if r.line == bug.line]
        assert hits, f"v{version} {bug.bug} at {bug.file}:{bug.line} not caught"


def test_findings_read_like_the_reply(sample_result: Any) -> None:
    result, trees = sample_result
    found = findings_from_simulation(result, trees, revisions={"v2"})
    null = [f for f in found if "NULL vmf->pte" in f.message]
    assert len(null) == 1
    finding = null[0]
    assert (finding.file, finding.line, finding.function) == ("mm/memory.c", 160, "do_swap_page")
    assert finding.message.startswith(
        "simulated: a 4-page folio in the swap cache, fault on "
        "page 1, page table freed concurrently: pointer arithmetic"
        " on NULL vmf->pte at line 160."
    )
    assert (
        "\nReproduce: reviewbot simulate --scenario table-freed --order 2 --index 1"
        in finding.message
    )
    executed = [e.text for e in finding.evidence if e.role == "executed"]
    assert executed and all(t.startswith("do_swap_page: ") for t in executed)  # no line numbers
    # One finding per distinct failure: many cases hit the same stale set_ptes().
    keys = [(f.line, f.message.split(": ")[-1].split(" at line")[0]) for f in found]
    assert len(keys) == len(set(keys))
    stale = [f for f in found if "stale pte pointer" in f.message]
    # The plainest case is quoted: an order-0 swap cache hit, nothing else going on.
    assert [f.message.split(": ")[1] for f in stale] == [
        "a 1-page folio in the swap cache, fault on page 0"
    ]
    assert stale and all(
        "set_ptes(start_ptep): store through a stale pte pointer" in f.message for f in stale
    )
    assert not findings_from_simulation(result, trees, revisions={"v3"})


def test_failures_in_a_helper_name_its_file_and_stale_reads_right(sample_result: Any) -> None:
    """A v1 reply about mm/memory.c used to say "load outside the page table
    at line 99", line 99 being swap_pte_batch()'s in mm/internal.h; and "its
    mapping (...) was unmapped at line 217" put the unmapping at the store."""
    result, trees = sample_result
    found = findings_from_simulation(result, trees, revisions={"v1"})
    helper = [f for f in found if "in swap_pte_batch()" in f.message]
    assert helper and all(" at mm/internal.h:" in f.message for f in helper)
    assert not any(" at line 99." in f.message for f in found)
    stale = [f for f in found if "stale pte pointer" in f.message]
    assert stale and all(
        "(mapped by handle_pte_fault's pte_offset_map_nolock, unmapped since) at line 217."
        in f.message
        for f in stale
    )
