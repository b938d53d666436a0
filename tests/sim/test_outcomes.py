"""Outcomes never claim more than was run: what was not simulated is said
in the text summary, the reply mail, the JSON and on the dashboard."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from reviewbot.models import Review, SimOutcome, summarise
from reviewbot.pipeline import corroborate, report
from reviewbot.pipeline.simulate import simulate_tree_dirs
from reviewbot.report_json import review_to_json
from reviewbot.storage.db import dispose_engine, open_db
from reviewbot.storage.models import SeriesRow
from reviewbot.storage.record import record_review
from reviewbot.web import create_app
from sim.faults import Kind
from sim.interp.machine import Program
from sim.runner import execute
from sim.scenarios.spec import Spec
from tests.sim.conftest import MemTree, sample_tree
from tests.storage.factory import LIST_ID, sample_review

ENTRY_OPENING = "vm_fault_t do_swap_page(struct vm_fault *vmf)\n{\n"


def _with_unknown_call(tree: Path) -> Path:
    memory = tree / "mm" / "memory.c"
    text = memory.read_text()
    assert text.count(ENTRY_OPENING) == 1
    memory.write_text(text.replace(ENTRY_OPENING, ENTRY_OPENING + "\tfrobnicate(vmf);\n"))
    return tree


@pytest.fixture(scope="module")
def unsimulated(tmp_path_factory: pytest.TempPathFactory) -> Review:
    root = tmp_path_factory.mktemp("unknown-call")
    base = sample_tree(root / "base", None)
    v2 = _with_unknown_call(sample_tree(root / "v2", None))
    result = simulate_tree_dirs([("base", base), ("v2", v2)])
    return replace(sample_review(2), simulation=result)


def _sentence(review: Review) -> str:
    assert review.simulation is not None
    n = len([r for r in review.simulation.runs if r.revision == "v2"])
    assert n > 10
    return f"{n} of {n} runs of v2 could not be simulated: frobnicate() is unknown"


def test_unknown_function_is_counted_with_its_reason(unsimulated: Review) -> None:
    assert unsimulated.simulation is not None
    runs = unsimulated.simulation.runs
    assert {r.outcome for r in runs if r.revision == "base"} == {SimOutcome.PASS}
    v2 = [r for r in runs if r.revision == "v2"]
    assert {r.outcome for r in v2} == {SimOutcome.NOT_MODELLED}
    assert {r.reason for r in v2} == {"frobnicate() is unknown"}
    summary = unsimulated.simulation.summary()
    assert (summary.revision, summary.health) == ("v2", "unknown")
    assert summary.not_simulated_sentence() == _sentence(unsimulated)


def test_text_summary_says_not_simulated(unsimulated: Review) -> None:
    text = report.render_text(unsimulated)
    assert "simulation of v2: " in text and " 0 passed, 0 failed, " in text
    assert _sentence(unsimulated) in text


def test_reply_mail_says_not_simulated(unsimulated: Review) -> None:
    replies = report.render_replies(unsimulated)
    assert replies
    for reply in replies:
        assert f"Simulator: {_sentence(unsimulated)}." in " ".join(reply.body.split())


def test_json_says_not_simulated(unsimulated: Review) -> None:
    sim: Any = review_to_json(unsimulated)["simulation"]
    assert sim["summary"]["health"] == "unknown"
    assert sim["summary"]["sentence"] == _sentence(unsimulated)
    assert sim["summary"]["outcomes"] == {"not-modelled": sim["summary"]["runs"]}
    assert {r["reason"] for r in sim["runs"] if r["revision"] == "v2"} == {
        "frobnicate() is unknown"
    }


def test_dashboard_says_unknown_never_pass(unsimulated: Review, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    factory = open_db(url)
    with factory() as session:
        recorded = record_review(session, unsimulated, list_id=LIST_ID)
        session.commit()
        series_id = recorded.revision.series_id
        row = session.get(SeriesRow, series_id)
        assert row is not None and row.sim_status == "unknown"
    client = create_app({"DATABASE_URL": url, "TESTING": True}).test_client()
    page = client.get(f"/series/{series_id}").get_data(as_text=True)
    assert 'simulator <span class="sim sim-unknown">unknown</span>' in page
    assert 'simulator <span class="sim sim-pass">' not in page
    assert _sentence(unsimulated) in page
    listed = client.get("/api/series").get_json()
    assert [s["simulator"] for s in listed["series"]] == ["unknown"]
    one = client.get(f"/api/series/{series_id}").get_json()
    assert _sentence(unsimulated) in str(one)
    dispose_engine(url)


def test_stored_runs_keep_their_reason(tmp_path: Path, unsimulated: Review) -> None:
    # Rows have no reason column: it is read back from the message.
    assert unsimulated.simulation is not None
    rows = [replace(r, reason="") for r in unsimulated.simulation.runs]
    assert summarise(rows).not_simulated_sentence() == _sentence(unsimulated)


def test_exception_inside_the_simulator_is_a_model_error_with_traceback(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sim.kernel import PRIMITIVES

    def broken(m: Any, *args: Any) -> Any:
        raise KeyError("the model's own bug")

    source = "int do_swap_page(struct vm_fault *vmf)\n{\n\treturn folio_ref_count(vmf);\n}\n"
    program = Program(MemTree({"mm/memory.c": source}))
    monkeypatch.setitem(
        PRIMITIVES, "folio_ref_count", replace(PRIMITIVES["folio_ref_count"], fn=broken)
    )
    with caplog.at_level("ERROR", logger="sim.runner"):
        run = execute(program, Spec())
    assert run.outcome is SimOutcome.MODEL_ERROR
    assert run.kind == Kind.MODEL_ERROR.value
    assert "KeyError" in run.message and "simulator error" in run.reason
    assert any(r.exc_info and r.exc_info[0] is KeyError for r in caplog.records)


def test_budget_is_its_own_outcome_not_a_failure() -> None:
    source = "int do_swap_page(struct vm_fault *vmf)\n{\n\tfor (;;)\n\t\t;\n\treturn 0;\n}\n"
    run = execute(Program(MemTree({"mm/memory.c": source})), Spec(), max_steps=500)
    assert run.outcome is SimOutcome.BUDGET
    assert run.reason == "over the step budget"


def test_failure_joins_a_static_finding_only_at_its_line_or_evidence() -> None:
    findings = list(sample_review(1).findings)
    (bounds,) = [f for f in findings if f.checker == "batch-bounds"]
    elsewhere = replace(
        bounds,
        checker="simulator",
        line=bounds.line + 1000,
        evidence=(),
        key="out-of-bounds:pmd-boundary",
        message="simulated: elsewhere",
    )
    out = corroborate(findings, [elsewhere])
    assert out[-1] is elsewhere  # kept as its own finding
    assert all("simulated: elsewhere" not in f.simulated for f in out)
    there = replace(elsewhere, line=bounds.line)
    joined = corroborate(findings, [there])
    assert any("simulated: elsewhere" in f.simulated for f in joined)


CONFIGURED_LATER = """
#ifdef CONFIG_HIGHPTE
static int table_kind(void)
{
	return 1;
}
#elif defined(CONFIG_NOT_SET)
static int table_kind(void)
{
	return 2;
}
#else
static int table_kind(void)
{
	return 3;
}
#endif

int do_swap_page(struct vm_fault *vmf)
{
	int kind = table_kind();
#if !defined(CONFIG_SMP)
	kind += 100;
#elif CONFIG_PREEMPTION
	kind += 200;
#else
	kind += 300;
#endif
	return kind;
}
"""


def test_if_follows_the_configuration_where_the_taken_branch_is_not_the_first() -> None:
    from sim.interp.machine import DEFAULT_CONFIG

    assert not DEFAULT_CONFIG["CONFIG_HIGHPTE"] and not DEFAULT_CONFIG["CONFIG_PREEMPTION"]
    program = Program(MemTree({"mm/memory.c": CONFIGURED_LATER}))
    from sim.interp.machine import Machine
    from sim.scenarios.spec import build

    built = build(Spec())
    assert Machine(program, built.world).run("do_swap_page", [built.vmf]) == 303
    preempt = Program(
        MemTree({"mm/memory.c": CONFIGURED_LATER}),
        config={**DEFAULT_CONFIG, "CONFIG_HIGHPTE": 1, "CONFIG_PREEMPTION": 1},
    )
    assert Machine(preempt, build(Spec()).world).run("do_swap_page", [built.vmf]) == 201
