"""``reviewbot lint``: output formats, exit status and hostile input."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reviewbot.cli import main
from tests.checkers.helpers import FIXTURES

ROOT = Path(__file__).resolve().parents[2]


def _copy(tmp_path: Path, *names: str) -> Path:
    d = tmp_path / "src"
    d.mkdir(exist_ok=True)
    for name in names:
        shutil.copy(FIXTURES / name, d / Path(name).name)
    return d


def test_lint_text_and_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = _copy(tmp_path, "unchecked-null-pte/bad_read_unchecked.c")
    assert main(["lint", str(d)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "bad_read_unchecked.c:10: bug: [unchecked-null-pte] ptep may be NULL here: "
        "pte_offset_map() at line 9 can fail, and it is never checked before this use."
    ]


def test_lint_json_schema(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = _copy(tmp_path, "stale-pointer/bad_decl_copy.c", "ptep-naming/good_values.c")
    assert main(["lint", "--format", "json", str(d)]) == 1
    doc = json.loads(capsys.readouterr().out)
    assert set(doc) == {"findings", "notes", "stats"}
    by_checker = {f["checker"]: f for f in doc["findings"]}
    # the fixture's start_address is also an unbounded folio batch start
    assert set(by_checker) == {"stale-pointer", "ptep-naming", "batch-bounds"}
    stale = by_checker["stale-pointer"]
    assert stale["file"] == "bad_decl_copy.c" and stale["line"] == 29
    assert stale["severity"] == "possible-bug" and stale["patch_index"] is None
    assert [e["role"] for e in stale["evidence"]] == ["copied", "re-obtained", "used"]
    assert all(not any(ch.isdigit() for ch in e["role"]) for e in stale["evidence"])
    assert doc["stats"]["files"] == 2 and doc["stats"]["functions"] == 2
    assert doc["stats"]["files_skipped"] == 0


def test_lint_clean_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = _copy(tmp_path, "unchecked-null-pte/good_status_variable.c")
    assert main(["lint", str(d)]) == 0
    assert capsys.readouterr().out == ""


def test_lint_nits_only_exit_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = _copy(tmp_path, "ptep-naming/bad_start_pte.c")
    assert main(["lint", str(d)]) == 0
    assert "nit: [ptep-naming]" in capsys.readouterr().out


def test_lint_missing_path_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["lint", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("reviewbot: no such file") and "Traceback" not in err


def _with_readme(d: Path) -> Path:
    (d / "README").write_text("no C here\n")
    return d


@pytest.mark.parametrize(
    ("make", "message"),
    [
        # an empty directory used to exit 0 with no output: read as "clean"
        (lambda d: d, "reviewbot: no .c or .h file in "),
        (_with_readme, "reviewbot: no .c or .h file in "),
        # /dev/null exists: "no such file" was wrong
        (lambda d: Path(os.devnull), f"reviewbot: not a regular file or directory: {os.devnull}"),
    ],
)
def test_lint_nothing_to_analyse_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make: object, message: str
) -> None:
    target = make(tmp_path)  # type: ignore[operator]
    assert main(["lint", str(target)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1


def _lint_subprocess(path: Path) -> tuple[subprocess.CompletedProcess[str], float, int]:
    """Run lint in a child so that its peak memory can be measured alone."""
    code = (
        "import resource, sys\n"
        "from reviewbot.cli import main\n"
        "rc = main(['lint', '--format', 'json', sys.argv[1]])\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)\n"
        "raise SystemExit(rc)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", code, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        cwd=ROOT,
        check=False,
    )
    maxrss_kb = int(proc.stderr.strip().splitlines()[-1])
    return proc, time.perf_counter() - t0, maxrss_kb


HOSTILE = {
    "nested": lambda: b"int f(void)\n{\n\treturn " + b"(" * 10000 + b"1" + b")" * 10000 + b";\n}\n",
    "huge": lambda: b"/* filler */\n" * (20 * 1024 * 1024 // 13),
    "binary": lambda: bytes(range(256)) * 4096,
}


@pytest.mark.parametrize("kind", sorted(HOSTILE))
def test_hostile_input_is_bounded(tmp_path: Path, kind: str) -> None:
    d = tmp_path / "src"
    d.mkdir()
    (d / "hostile.c").write_bytes(HOSTILE[kind]())
    shutil.copy(FIXTURES / "unchecked-null-pte/bad_read_unchecked.c", d / "ok.c")
    proc, seconds, maxrss_kb = _lint_subprocess(d)
    assert proc.returncode == 1, proc.stderr  # the other file is still reviewed
    doc = json.loads(proc.stdout)
    notes = [n for n in doc["notes"] if "hostile.c" in n]
    assert len(notes) == 1 and notes[0].startswith("could not analyse hostile.c: ")
    assert [f["file"] for f in doc["findings"]] == ["ok.c"]
    assert seconds < 20
    assert maxrss_kb < 400 * 1024, f"peak RSS {maxrss_kb} kB"
    assert "Traceback" not in proc.stderr


def test_deeply_nested_statements_give_a_note_not_a_crash(tmp_path: Path) -> None:
    # Nesting the CFG builder recurses over (not expressions): if blocks 3,000 deep.
    body = "\tif (a) {\n" * 3000 + "\t\tpte = pte_offset_map(pmd, addr);\n" + "\t}\n" * 3000
    src = "void f(pmd_t *pmd)\n{\n\tpte_t *pte;\n" + body + "}\n"
    d = tmp_path / "src"
    d.mkdir()
    (d / "deep.c").write_text(src)
    proc, seconds, _ = _lint_subprocess(d)
    assert proc.returncode in (0, 1), proc.stderr
    assert "Traceback" not in proc.stderr
    assert seconds < 20
    doc = json.loads(proc.stdout)
    assert doc["notes"]
    assert all(n.startswith("could not analyse deep.c:1 f() (") for n in doc["notes"])


def test_parse_refuses_hostile_input_without_raising() -> None:
    from checkers.frontend import find_function, functions_in_lines, parse

    for kind, make in HOSTILE.items():
        pf = parse(make(), f"{kind}.c")
        assert pf.refused, kind
        assert pf.functions() == {} and functions_in_lines(pf, {1, 2, 3}) == []
        assert find_function(pf, "f") is None
    assert parse(b"int f(void) { return 0; }\n").refused is None


def test_deep_expressions_split_over_lines_are_analysed_iteratively(tmp_path: Path) -> None:
    # Not caught by the "((((" guard: every walk over it must be iterative.
    src = (
        b"int f(pmd_t *pmd)\n{\n\tif ("
        + b"(\n" * 10000
        + b"pte_offset_map(pmd, 0)"
        + b")" * 10000
        + b")\n\t\treturn 1;\n\treturn "
        + b"-(\n" * 10000
        + b"1"
        + b")" * 10000
        + b";\n}\n"
    )
    d = tmp_path / "src"
    d.mkdir()
    (d / "spaced.c").write_bytes(src)
    proc, seconds, _ = _lint_subprocess(d)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    assert doc["stats"]["functions"] == 1 and doc["findings"] == []
    assert all(n.startswith("could not analyse") for n in doc["notes"])
    assert seconds < 20


def test_files_without_trigger_words_are_not_parsed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    d = tmp_path / "src"
    d.mkdir()
    (d / "plain.c").write_text("int add(int a, int b)\n{\n\treturn a + b;\n}\n")
    shutil.copy(FIXTURES / "unchecked-null-pte/bad_read_unchecked.c", d / "pte.c")
    assert main(["lint", "--format", "json", str(d)]) == 1
    stats = json.loads(capsys.readouterr().out)["stats"]
    assert (stats["files"], stats["files_skipped"], stats["functions"]) == (1, 1, 1)


def test_lint_leaves_a_naming_idiom_of_the_linted_code_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No patch in lint: a pte_t * name the code uses in several functions is
    its convention; a name used once is still a nit."""
    d = _copy(tmp_path, "ptep-naming/bad_start_pte.c")
    src = (d / "bad_start_pte.c").read_text()
    (d / "second.c").write_text(src.replace("static ", "static inline ").replace("(", "_again(", 1))
    assert main(["lint", "--format", "json", str(d)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [f for f in doc["findings"] if f["checker"] == "ptep-naming"] == []
    (d / "second.c").unlink()
    assert main(["lint", "--format", "json", str(d)]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [f["line"] for f in doc["findings"] if f["checker"] == "ptep-naming"] == [6]
