"""A simulator reproducer travels as data and is rendered, never read back from prose."""

from __future__ import annotations

from reviewbot.models import Finding, Reproducer, Severity
from reviewbot.pipeline.report import _concrete_reproducer
from sim.suite import default_cases


def test_every_case_id_of_the_simulator_reads_back_as_its_case() -> None:
    cases = default_cases()
    assert cases
    for case in cases:
        r = Reproducer.from_case_id(case.id)
        assert (r.scenario, r.order, r.index) == (case.scenario, case.spec.order, case.spec.index)


def test_rendered_lines() -> None:
    r = Reproducer("table-freed", 4, 3)
    assert (
        r.line() == "Reproduce: reviewbot simulate --scenario table-freed --order 4 --index 3 ..."
    )
    assert r.line("--mbox s.mbox") == (
        "Reproduce: reviewbot simulate --scenario table-freed --order 4 --index 3 --mbox s.mbox"
    )
    assert Reproducer("x", entry="zap_pte_range").argv("m@x") == [
        "reviewbot", "simulate", "--entry", "zap_pte_range", "--scenario", "x", "m@x",
    ]  # fmt: skip
    assert Reproducer.from_case_id("x order=one") == Reproducer("x")


def test_the_report_renders_the_series_into_each_reproducer_and_nothing_else() -> None:
    one, two = Reproducer("swapcache-hit", 0, 0), Reproducer("table-freed", 2, 1)
    finding = Finding(
        checker="stale-pointer",
        severity=Severity.BUG,
        file="mm/memory.c",
        line=10,
        function="do_swap_page",
        # a line that merely looks like a reproducer is prose: left alone
        message=f"the pte is stale\\n{Reproducer('other').line()}",
        simulated=(f"simulated: a.\n{one.line()}", f"simulated: b.\n{two.line()}"),
        reproducers=(one, two),
    )
    out = _concrete_reproducer(finding, "--mbox s.mbox")
    assert out.message == finding.message
    assert out.simulated == (
        f"simulated: a.\n{one.line('--mbox s.mbox')}",
        f"simulated: b.\n{two.line('--mbox s.mbox')}",
    )
    assert out.to_json()["reproducers"] == [
        {"scenario": "swapcache-hit", "order": 0, "index": 0, "entry": "do_swap_page"},
        {"scenario": "table-freed", "order": 2, "index": 1, "entry": "do_swap_page"},
    ]
