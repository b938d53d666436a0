"""Hypothesis over ``reviewbot b4-check``'s stdin, reviewed for real against a small tree.

Each example is one patch mail whose diff edits the fixture tree's files
with hunks that lie about their counts, CRLF lines, ``\\ No newline``,
binary markers, ``../`` paths, absurd ``@@`` numbers and lines the tree does
not have.  The whole review runs (apply, hunk by hunk when it must, check,
simulate): it gives b4 its JSON and terse lines, or a UsageError (exit 2, one
line), never another exception.  Then the CLI itself, in a process, on the
cases that exercise the most.  Fixed budget (derandomized): under 10 s.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviewbot.commands.b4_check import as_b4_json, as_terse, review_stdin
from reviewbot.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]
TREE = Path(__file__).parent / "fixtures" / "tree"
FILES = ("mm/memory.c", "mm/internal.h")


def _file_lines(path: str) -> list[str]:
    return (TREE / path).read_text().splitlines()


_ODD_LINES = st.sampled_from(
    [
        "-not in the tree",
        " not in the tree either",
        "\\ No newline at end of file",
        "",
        "+crlf\r",
        "+\x00",
    ]
)


@st.composite
def _hunk(draw: st.DrawFn, path: str) -> str:
    """Real context around an added line, sometimes with odd lines and lying counts."""
    lines = _file_lines(path)
    start = draw(st.integers(1, len(lines) - 1))
    before = lines[start - 1 : start - 1 + draw(st.integers(0, 3))]
    after = lines[start - 1 + len(before) : start - 1 + len(before) + draw(st.integers(0, 3))]
    change = draw(st.sampled_from(["+\tnr = 2;", "+\tif (!vmf->pte) return 0;", "+}"]))
    body = [f" {ln}" for ln in before] + [change] + [f" {ln}" for ln in after]
    if before and draw(st.booleans()):
        body[0] = "-" + body[0][1:]
    if draw(st.integers(0, 3)) == 0:
        body.insert(draw(st.integers(0, len(body))), draw(_ODD_LINES))
    old = sum(1 for b in body if b[:1] in (" ", "-", ""))
    new = sum(1 for b in body if b[:1] in (" ", "+", ""))
    old_n, new_n = draw(
        st.sampled_from(
            [(str(old), str(new))] * 4
            + [(str(old + 3), str(new)), ("0", "0"), ("9" * 12, "1"), ("1", "9" * 5000)]
        )
    )
    return f"@@ -{start},{old_n} +{start},{new_n} @@\n" + "".join(f"{b}\n" for b in body)


@st.composite
def _patch(draw: st.DrawFn) -> bytes:
    sections = []
    for _ in range(draw(st.integers(1, 2))):
        path = draw(st.sampled_from([*FILES, *FILES, "../outside.c", "mm/new.c"]))
        head = f"diff --git a/{path} b/{path}\n"
        head += draw(
            st.sampled_from(
                [
                    "",
                    "",
                    "",
                    "index 0000000..1111111 100644\n",
                    "new file mode 100644\n",
                    "Binary files a/x and b/x differ\n",
                ]
            )
        )
        head += f"--- a/{path}\n+++ b/{path}\n"
        real = path if path in FILES else FILES[0]
        hunks = draw(st.lists(_hunk(real), min_size=1, max_size=3))
        sections.append(head + "".join(hunks))
    subject = draw(st.sampled_from(["[PATCH] mm: x", "[PATCH v3 2/5] mm: x", "mm: x"]))
    body = (
        f"From: Ada <ada@example.org>\nSubject: {subject}\nMessage-ID: <f@example.org>\n\n"
        "Do it.\n\nSigned-off-by: Ada <ada@example.org>\n---\n" + "".join(sections)
    )
    data = body.encode("utf-8", "surrogatepass")
    if draw(st.booleans()):
        data = data.replace(b"\n", b"\r\n")
    return data


@settings(
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=_patch())
def test_any_patch_on_stdin_is_reviewed_or_refused_in_one_line(
    data: bytes, mini_tree: Path
) -> None:
    try:
        review = review_stdin(data, mini_tree)
    except UsageError as exc:
        assert "\n" not in str(exc).strip()
        return
    for pa in review.apply.patches if review.apply else ():
        for fh in pa.failed_hunks:  # a cause in words that says something
            m = re.search(r"expects '(.*)', the tree has '(.*)'$", fh.cause)
            assert m is None or m.group(1) != m.group(2), fh.cause
    checks = as_b4_json(review)
    assert checks and all(c["status"] in ("pass", "warn", "fail") for c in checks)
    json.dumps(checks)
    assert all("\n" not in line for line in as_terse(review))


def test_the_cli_on_hostile_patches(mini_tree: Path) -> None:
    lying = (
        "diff --git a/mm/memory.c b/mm/memory.c\n--- a/mm/memory.c\n+++ b/mm/memory.c\n"
        "@@ -10,9 +10,9 @@\n-static void count_swapin(struct mm_struct *mm, int nr)\n+x\n"
        "diff --git a/../outside.c b/../outside.c\n--- a/../outside.c\n+++ b/../outside.c\n"
        "@@ -1 +1 @@\n-a\n+b\n"
    )
    for stdin in (
        b"Subject: [PATCH] x\n\n---\n" + lying.encode(),
        (b"Subject: [PATCH] x\n\n---\n" + lying.encode()).replace(b"\n", b"\r\n"),
        b"\x00" * 100,
        b"Subject: [PATCH 1/99999999] x\n\nno diff\n",
    ):
        done = subprocess.run(
            [sys.executable, "-m", "reviewbot", "b4-check", "--tree", str(mini_tree)],
            input=stdin,
            capture_output=True,
            timeout=120,
            cwd=ROOT,
            check=False,
        )
        assert done.returncode in (0, 2) and b"Traceback" not in done.stderr, done.stderr
        assert done.stderr.count(b"\n") == (done.returncode == 2)
