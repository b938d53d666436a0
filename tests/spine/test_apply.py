"""Applying a series in an overlay: states, failures, refusals, the user's tree."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from reviewbot.errors import TreeError
from reviewbot.git import Repo
from reviewbot.models import ApplyStatus, Severity
from reviewbot.pipeline.apply import applied
from reviewbot.pipeline.fetch import from_mbox_bytes
from tests.spine.conftest import Commit, git, make_series, replace_in

MAIL = Path(__file__).parent / "fixtures" / "mail"


def _files_outside(root: Path) -> set[str]:
    return {p.name for p in root.iterdir()}


def test_states_hold_each_step_and_the_tree_is_untouched(mini_tree: Path) -> None:
    mbox = make_series(
        mini_tree,
        [
            Commit(
                "mm: demo: count two pages", replace_in("mm/memory.c", "int nr = 1;", "int nr = 2;")
            ),
            Commit(
                "mm: demo: count three pages",
                replace_in("mm/memory.c", "int nr = 2;", "int nr = 3;"),
            ),
            Commit(
                "mm: demo: add a header", lambda r: (r / "mm" / "new.h").write_text("/* n */\n")
            ),
        ],
    )
    (mini_tree / "scratch.txt").write_text("uncommitted work\n")  # a dirty worktree
    repo = Repo(mini_tree)
    before = repo.snapshot()
    revision = from_mbox_bytes(mbox).revision
    with applied(mini_tree, revision) as a:
        assert a.result.applied and a.result.base_source == "trailer"
        texts = [s.view.read("mm/memory.c") or b"" for s in a.states]
        assert [b"int nr = %d;" % n in t for n, t in zip((1, 2, 3, 3), texts, strict=True)] == [
            True
        ] * 4
        assert a.states[2].view.read("mm/new.h") is None
        assert a.states[3].view.read("mm/new.h") == b"/* n */\n"
        # files the series does not touch come from the base
        assert a.states[3].view.read("include/linux/mm.h") is not None
        assert a.states[3].view.find_function("demo_pte_batch") is not None
        overlay_dir = a.states[0].view.overlay.dir
        assert overlay_dir.exists()
    assert not overlay_dir.exists()
    assert repo.snapshot() == before
    assert (mini_tree / "mm" / "memory.c").read_text().count("int nr = 1;") == 1


def test_a_hunk_that_does_not_apply_leaves_the_others_reviewed(mini_tree: Path) -> None:
    revision = from_mbox_bytes((MAIL / "noapply.mbox").read_bytes()).revision
    before = Repo(mini_tree).snapshot()
    head = git(mini_tree, "rev-parse", "HEAD").strip()
    with applied(mini_tree, revision) as a:
        statuses = [p.status for p in a.result.patches]
        # hunk #1 of patch 1 lands, hunk #2 does not; patch 2 needs nothing of it
        assert statuses == [ApplyStatus.PARTIAL, ApplyStatus.APPLIED]
        (fh,) = a.result.patches[0].failed_hunks
        assert (fh.file, fh.hunk, fh.base) == ("mm/memory.c", 2, head)
        assert fh.header.startswith("@@ -40,3 +40,3 @@")
        # the tree has the hunk's post-image already ("return ret;")
        assert fh.cause == "already in the tree (the change applies in reverse)"
        assert a.findings == []  # said once, in the patch's status, not as a finding
        assert [s.label for s in a.states] == ["base", "1/2", "2/2"]
        end = a.states[-1].view.read("mm/memory.c") or b""
        assert b"int nr = 2;" in end and b"count_vm_events(PSWPIN, nr);" in end
    assert Repo(mini_tree).snapshot() == before


def test_dotdot_path_is_refused_and_nothing_is_written(mini_tree: Path) -> None:
    revision = from_mbox_bytes((MAIL / "dotdot.eml").read_bytes()).revision
    outside = _files_outside(mini_tree.parent)
    before = Repo(mini_tree).snapshot()
    with applied(mini_tree, revision) as a:
        assert a.result.patches[0].status is ApplyStatus.FAILED
        assert "leaves the tree" in a.result.patches[0].detail
        assert a.findings[0].severity is Severity.BUG
        assert a.states[0].view.read("../outside.c") is None
    assert _files_outside(mini_tree.parent) == outside
    assert not (mini_tree.parent / "outside.c").exists()
    assert Repo(mini_tree).snapshot() == before


def test_path_through_a_symlink_is_refused(mini_tree: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.mkdir()
    os.symlink(str(target), mini_tree / "mm" / "link")
    git(mini_tree, "add", "mm/link")
    git(mini_tree, "commit", "-q", "-m", "mm: a link")
    revision = from_mbox_bytes((MAIL / "symlink.eml").read_bytes()).revision
    before = Repo(mini_tree).snapshot()
    with applied(mini_tree, revision) as a:
        assert a.result.patches[0].status is ApplyStatus.FAILED
        assert "symbolic link" in a.result.patches[0].detail
    assert list(target.iterdir()) == []
    assert Repo(mini_tree).snapshot() == before


def test_renames_deletions_and_binary_apply(mini_tree: Path) -> None:
    def rename(root: Path) -> None:
        (root / "mm" / "internal.h").rename(root / "mm" / "demo_internal.h")

    def delete(root: Path) -> None:
        (root / "include" / "linux" / "mm.h").unlink()

    def binary(root: Path) -> None:
        (root / "mm" / "table.bin").write_bytes(bytes(range(256)) * 4)

    mbox = make_series(
        mini_tree,
        [
            Commit("mm: demo: rename the internal header", rename),
            Commit("mm: demo: drop the mm header", delete),
            Commit("mm: demo: add a table", binary),
        ],
    )
    fetched = from_mbox_bytes(mbox)
    files = [fd for p in fetched.revision.patches for fd in p.files]
    assert files[0].is_rename and files[0].old_path == "mm/internal.h"
    assert files[1].new_path is None and files[1].old_path == "include/linux/mm.h"
    assert files[2].is_binary
    with applied(mini_tree, fetched.revision) as a:
        assert a.result.applied, a.result
        end = a.states[-1].view
        assert end.read("mm/internal.h") is None
        assert end.read("mm/demo_internal.h") is not None
        assert end.read("include/linux/mm.h") is None
        assert end.read("mm/table.bin") == bytes(range(256)) * 4


def test_base_is_trailer_then_base_then_head(mini_tree: Path) -> None:
    revision = from_mbox_bytes((MAIL / "partial-3of5.mbox").read_bytes()).revision
    head = git(mini_tree, "rev-parse", "HEAD").strip()
    with applied(mini_tree, revision) as a:  # the trailer names an unknown commit
        assert a.result.base == head and a.result.base_source == "HEAD"
        assert any("not in the tree" in n for n in a.notes)
        statuses = {p.index: p.status for p in a.result.patches}
        assert statuses == {
            1: ApplyStatus.APPLIED,
            2: ApplyStatus.APPLIED,
            3: ApplyStatus.MISSING,
            4: ApplyStatus.APPLIED,
            5: ApplyStatus.MISSING,
        }
    with applied(mini_tree, revision, base="HEAD") as a:
        assert a.result.base_source == "--base"
    with pytest.raises(TreeError, match="not a commit"), applied(mini_tree, revision, base="nope"):
        pass


def test_missing_tree_and_non_repo(tmp_path: Path) -> None:
    with pytest.raises(TreeError, match="no such directory"):
        Repo(tmp_path / "absent")
    with pytest.raises(TreeError, match="not a git repository"):
        Repo(tmp_path)


def test_base_is_found_from_the_index_lines(mini_tree: Path) -> None:
    mbox = make_series(
        mini_tree,
        [Commit("mm: demo: count two", replace_in("mm/memory.c", "int nr = 1;", "int nr = 2;"))],
        cover=False,
    )
    first = git(mini_tree, "rev-parse", "HEAD").strip()
    # the tree moved on: the patch's context is gone from HEAD
    (mini_tree / "mm" / "memory.c").write_text(
        (mini_tree / "mm" / "memory.c").read_text().replace("vm_fault_t ret = 0;", "int ret = 0;")
    )
    git(mini_tree, "commit", "-q", "-am", "mm: demo: plain int")
    (mini_tree / "mm" / "internal.h").write_text("/* unrelated */\n")
    git(mini_tree, "commit", "-q", "-am", "mm: demo: another change")
    without_trailer = re.sub(rb"\nbase-commit: \w+\n", b"\n", mbox)
    revision = from_mbox_bytes(without_trailer).revision
    assert revision.base_commit is None
    with applied(mini_tree, revision) as a:
        assert (a.result.base, a.result.base_source) == (first, "index")
        assert a.result.applied
    # a --base the guess overrules is checked and said to be unused
    with (
        pytest.raises(TreeError, match="--base nope: not a commit"),
        applied(mini_tree, revision, base="nope"),
    ):
        pass
    with applied(mini_tree, revision, base="HEAD") as a:
        assert (a.result.base, a.result.base_source) == (first, "index")
        assert any(n.startswith("--base HEAD not used: the diffs' index lines") for n in a.notes)
    # --base comes after the guess, HEAD last; each says why the one before failed
    other = from_mbox_bytes(without_trailer.replace(b"index ", b"index 0bad")).revision
    with applied(mini_tree, other, base="HEAD~1") as a:
        assert a.result.base_source == "--base"
        assert any("index lines" in n for n in a.notes)
    with applied(mini_tree, other) as a:
        assert a.result.base_source == "HEAD"


def test_range_says_from_range(mini_tree: Path) -> None:
    from reviewbot.models import Review, Series
    from reviewbot.pipeline import report

    with applied(
        mini_tree,
        from_mbox_bytes((MAIL / "noapply.mbox").read_bytes()).revision,
        base="HEAD",
        base_from="--range",
    ) as a:
        result = a.result
    assert result.base_source == "--range"
    review = Review(
        Series("t", "a"), from_mbox_bytes((MAIL / "noapply.mbox").read_bytes()).revision, result, ()
    )
    assert "(from --range)" in report.render_text(review)


def _one_hunk_mail(hunk: str) -> bytes:
    return (
        "From: Ada <ada@example.org>\nSubject: [PATCH] mm: x\nMessage-ID: <h@example.org>\n\n"
        "Do it.\n\nSigned-off-by: Ada <ada@example.org>\n---\n"
        "diff --git a/mm/memory.c b/mm/memory.c\n--- a/mm/memory.c\n+++ b/mm/memory.c\n" + hunk
    ).encode()


def test_a_hunk_whose_context_is_there_says_why_git_refuses_it(mini_tree: Path) -> None:
    # it said "the patch expects 'X', the tree has 'X'" (found by fuzzing b4-check)
    from reviewbot.commands.b4_check import review_stdin

    lines = (mini_tree / "mm" / "memory.c").read_text().splitlines()
    ctx = [f" {ln}\n" for ln in lines[9:12]]
    cases = {
        "@@ -10,2 +10,3 @@\n" + ctx[0] + ctx[1] + "+\tnr = 2;\n": "no context after its change",
        "@@ -1,3 +1,4 @@\n" + ctx[0] + "+\tnr = 2;\n" + ctx[1] + ctx[2]: "header says line 1",
        "@@ -10,3 +10,4 @@\n" + ctx[0].replace("\n", " \n") + "+\tnr = 2;\n" + ctx[1] + ctx[2]: (
            "differs only in trailing whitespace"
        ),
    }
    for hunk, why in cases.items():
        review = review_stdin(_one_hunk_mail(hunk), mini_tree)
        assert review.apply is not None
        (fh,) = review.apply.patches[0].failed_hunks
        assert fh.cause.startswith("its context") and why in fh.cause, fh.cause
        assert "line 10 of mm/memory.c" in fh.cause
