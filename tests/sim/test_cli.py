"""``reviewbot simulate --tree``: the table, JSON, exit status, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reviewbot.cli import main
from tests.sim.conftest import sample_tree


@pytest.fixture(scope="module")
def trees(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("cli")
    return {"base": sample_tree(root / "base", None), "v1": sample_tree(root / "v1", 1)}


def test_base_passes_and_prints_coverage(
    trees: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", "--tree", str(trees["base"])]) == 0
    out = capsys.readouterr().out
    assert "swapcache-hit order=4 index=3" in out
    assert "coverage of do_swap_page:" in out


def test_one_case_as_json_fails_with_exit_1(
    trees: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "simulate",
        "--tree",
        str(trees["v1"]),
        "--format",
        "json",
        "--scenario",
        "table-freed",
        "--order",
        "4",
        "--index",
        "3",
    ]
    assert main(argv) == 1
    data = json.loads(capsys.readouterr().out)
    assert set(data) >= {"runs", "coverage"}
    (run,) = data["runs"]
    assert set(run) >= {"scenario", "revision", "outcome", "kind", "message", "trace"}
    assert (run["scenario"], run["revision"], run["outcome"], run["kind"]) == (
        "table-freed order=4 index=3",
        "base",
        "fail",
        "null",
    )
    assert "pointer arithmetic on NULL vmf->pte" in run["message"]
    assert any("vmf->pte - idx" in t for t in run["trace"])
    assert 0.0 <= data["coverage"]["do_swap_page"] <= 1.0
    assert isinstance(data["coverage"]["not_modelled"], list)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--scenario", "no-such-thing"], "unknown scenario"),
        (["--order", "2"], "need --scenario"),
        (["--scenario", "swapcache-hit", "--order", "2", "--index", "9"], "outside a folio"),
        # --order 99 used to build 2**99 pages (a hang); -1 said "negative shift count"
        (["--scenario", "table-freed", "--order", "99", "--index", "0"], "order 0 to 9"),
        (["--scenario", "table-freed", "--order", "-1"], "order 0 to 9"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    trees: dict[str, Path], extra: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["simulate", "--tree", str(trees["base"]), *extra]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_not_a_kernel_tree(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", "--tree", str(tmp_path)]) == 2
    assert "not a kernel tree" in capsys.readouterr().err


def test_missing_entry_function_is_one_line_on_stderr(
    trees: dict[str, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "simulate",
        "--tree",
        str(trees["base"]),
        "--entry",
        "no_such_fault",
        "--scenario",
        "swapcache-hit",
    ]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "reviewbot: --entry no_such_fault: no such function in "
        "mm/memory.c, mm/internal.h, mm/swap.h\n"
    )


@pytest.fixture(scope="module")
def sample_git(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from reviewbot.sample import build_sample_tree

    dest = tmp_path_factory.mktemp("git") / "tree"
    build_sample_tree(dest)
    return dest


def test_series_from_an_mbox_is_applied_and_judged_against_its_base(
    sample_git: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from reviewbot.sample import series_mbox

    argv = [
        "simulate",
        "--tree",
        str(sample_git),
        "--mbox",
        str(series_mbox(2)),
        "--format",
        "json",
        "--scenario",
        "table-freed",
        "--order",
        "2",
        "--index",
        "1",
    ]
    assert main(argv) == 1
    runs = json.loads(capsys.readouterr().out)["runs"]
    assert [(r["revision"], r["outcome"], r["kind"]) for r in runs] == [
        ("base", "pass", ""),
        ("v2", "fail", "null"),
    ]
    argv[argv.index(str(series_mbox(2)))] = str(series_mbox(3))
    assert main(argv) == 0
    runs = json.loads(capsys.readouterr().out)["runs"]
    assert [(r["revision"], r["outcome"]) for r in runs] == [("base", "pass"), ("v3", "pass")]
