"""patch_id() agrees with ``git patch-id --stable``."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reviewbot.git import run_text
from reviewbot.storage.patchid import patch_id
from tests.storage.factory import hostile_review, make_diff, sample_revision


def _git_patch_id(diff: str) -> str | None:
    out = run_text(Path(__file__).parent, "patch-id", "--stable", input=diff.encode())
    return out.split()[0] if out.strip() else None


TWO_FILES = make_diff("mm/a.c", "a\nb\nc\n", "a\nB\nc\n") + make_diff("mm/b.c", "x\n", "x\ny\n")
NEW_FILE = (
    "diff --git a/mm/new.c b/mm/new.c\nnew file mode 100644\nindex 0000000..1111111\n"
    "--- /dev/null\n+++ b/mm/new.c\n@@ -0,0 +1,2 @@\n+int a;\n+int   b;\n"
)
BINARY = (
    "diff --git a/fw.bin b/fw.bin\nindex 1234567..89abcde 100644\n"
    "Binary files a/fw.bin and b/fw.bin differ\n" + make_diff("mm/a.c", "a\n", "b\n")
)
NO_NEWLINE = (
    "diff --git a/x b/x\nindex 1..2 100644\n--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n"
    "\\ No newline at end of file\n+b\n\\ No newline at end of file\n"
)


@pytest.mark.parametrize(
    "diff",
    [
        sample_revision(1).patches[0].diff_text,
        sample_revision(2).patches[1].diff_text,
        hostile_review().revision.patches[0].diff_text,
        TWO_FILES,
        NEW_FILE,
        BINARY,
        NO_NEWLINE,
    ],
    ids=["helper", "memory", "hostile", "two-files", "new-file", "binary", "no-newline"],
)
def test_matches_git(diff: str) -> None:
    assert patch_id(diff) == _git_patch_id(diff)


# hunk counts as git's atoi() reads them; 5000 digits made int() raise (the
# review could not be stored), 11 to 19 digits are cut to a C int, not kept
@pytest.mark.parametrize(
    "count", ["9" * 5000, "0" * 5000 + "2", "99999999999", "4294967297", "9" * 19, "1" + "0" * 18]
)
def test_matches_git_on_absurd_counts(count: str) -> None:
    diff = (
        f"diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -1,{count} +1,{count} @@\n-a\n+b\n-c\n"
        + TWO_FILES
    )
    assert patch_id(diff) == _git_patch_id(diff)


def test_ignores_line_numbers_and_file_order() -> None:
    moved = TWO_FILES.replace("@@ -1,3 +1,3 @@", "@@ -40,3 +41,3 @@")
    assert patch_id(moved) == patch_id(TWO_FILES)
    first, second = TWO_FILES.split("diff --git a/mm/b.c")
    assert patch_id("diff --git a/mm/b.c" + second + first) == patch_id(TWO_FILES)


def test_no_diff() -> None:
    assert patch_id("") is None
    assert patch_id("just a cover letter\n") is None


_LINES = st.sampled_from(
    [
        " ctx\n",
        " ctx  with   spaces\t\n",
        "-old\n",
        "+new\n",
        "\n",
        "\\ No newline at end of file\n",
        "--- a/mm/a.c\n",
        "+++ b/mm/a.c\n",
        "diff --git a/mm/c.c b/mm/c.c\n",
        "index 1111111..2222222 100644\n",
        "new file mode 100644\n",
        "-- \n",
        "stray words\n",
        "+é\r\n",
    ]
)
_COUNT = st.one_of(
    st.integers(0, 4).map(str),
    st.sampled_from(["", "4294967297", "9" * 19, "9" * 5000, "007"]),
)


@st.composite
def _hostile_diffs(draw: st.DrawFn) -> str:
    out = []
    for path in draw(st.lists(st.sampled_from(["mm/a.c", "mm/b.c", "x"]), max_size=3)):
        out.append(f"diff --git a/{path} b/{path}\n")
        out.extend(draw(st.lists(_LINES, max_size=2)))
        out.append(f"--- a/{path}\n+++ b/{path}\n")
        for _ in range(draw(st.integers(0, 3))):
            old, new = draw(_COUNT), draw(_COUNT)
            out.append(f"@@ -1{',' + old if old else ''} +1{',' + new if new else ''} @@ f\n")
            out.extend(draw(st.lists(_LINES, max_size=6)))
    return "".join(out)


@settings(max_examples=100, derandomize=True, deadline=None, database=None)
@given(diff=_hostile_diffs())
def test_matches_git_on_hostile_diffs(diff: str) -> None:
    assert patch_id(diff) == _git_patch_id(diff)
