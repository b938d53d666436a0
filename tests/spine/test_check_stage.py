"""The check stage keeps what the series introduces and blames the right patch.

The mm checkers live on another branch; here a small function checker of
the test's own (it flags every call of ``demo_pte_batch``) goes through the
real engine, the real tree states and the real attribution.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

import checkers.engine
from checkers.base import CheckerInfo, Confidence, FunctionChecker, TreeView
from checkers.frontend import FunctionUnit
from reviewbot.models import Evidence, Finding, Severity
from reviewbot.pipeline import review_revision
from reviewbot.pipeline.fetch import from_mbox_bytes
from tests.spine.conftest import Commit, make_series, replace_in

CALL = "nr = demo_pte_batch(vmf->pte, nr, vmf->orig_pte);"


class BatchCallChecker(FunctionChecker):
    info = CheckerInfo(
        "test-batch-call",
        "TEST_BATCH_CALL",
        Severity.POSSIBLE_BUG,
        Confidence.HIGH,
        "call of demo_pte_batch",
    )

    def check_function(self, unit: FunctionUnit, tree: TreeView) -> Iterable[Finding]:
        helper = tree.find_function("demo_pte_batch")
        assert helper is not None, "the TreeView finds functions of other files"
        return list(self._calls(unit, unit.node))

    def _calls(self, unit: FunctionUnit, node: object) -> Iterator[Finding]:
        stack = [unit.node]
        while stack:
            n = stack.pop()
            if n.type == "call_expression" and unit.text(n).startswith("demo_pte_batch("):
                line = unit.line_of(n)
                yield Finding(
                    self.info.id,
                    self.info.severity,
                    unit.file.path,
                    line,
                    unit.name,
                    "batched call",
                    (Evidence(line, "used", unit.text(n)),),
                )
            stack.extend(n.children)


@pytest.fixture
def batch_checker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(checkers.engine, "function_checkers", lambda: (BatchCallChecker(),))


INSERT = replace_in(
    "mm/memory.c",
    "\tcount_swapin(vma->vm_mm, nr);\n",
    f"\t{CALL}\n\tcount_swapin(vma->vm_mm, nr);\n",
)
SHIFT = replace_in(
    "mm/memory.c", "\tint nr = 1;\n", "\tint nr = 1;\n\tint unused = 0;\n\tint also_unused = 0;\n"
)
REMOVE = replace_in("mm/memory.c", f"\t{CALL}\n", "")


def _review(tree: Path, commits: list[Commit]):  # type: ignore[no-untyped-def]
    fetched = from_mbox_bytes(make_series(tree, commits))
    return fetched.revision, review_revision(fetched.series, fetched.revision, tree, simulate=False)


@pytest.mark.usefixtures("batch_checker")
def test_finding_is_blamed_on_the_patch_that_introduced_it(mini_tree: Path) -> None:
    revision, review = _review(
        mini_tree,
        [
            Commit("mm: demo: make room", SHIFT),
            Commit("mm: demo: batch", INSERT),
            Commit(
                "mm: demo: shift more",
                replace_in(
                    "mm/memory.c",
                    "\tvm_fault_t ret = 0;\n",
                    "\tvm_fault_t ret = 0;\n\tbool x = false;\n",
                ),
            ),
        ],
    )
    (f,) = [f for f in review.findings if f.checker == "test-batch-call"]
    assert f.patch_index == 2
    assert f.patch_message_id == revision.patches[1].message_id
    # the line is the one in the end-of-series file (patch 3 moved it down)
    end = (mini_tree.parent / "author-v1-20" / "mm" / "memory.c").read_text()
    assert f.line == end.splitlines().index(f"\t{CALL}") + 1
    assert review.apply is not None and review.apply.applied
    assert review.exit_status == 1


@pytest.mark.usefixtures("batch_checker")
def test_a_later_patch_that_fixes_it_leaves_no_finding(mini_tree: Path) -> None:
    _, review = _review(
        mini_tree, [Commit("mm: demo: batch", INSERT), Commit("mm: demo: unbatch", REMOVE)]
    )
    assert [f for f in review.findings if f.checker == "test-batch-call"] == []
    assert review.exit_status == 0


@pytest.mark.usefixtures("batch_checker")
def test_what_the_base_already_has_is_not_reported(mini_tree: Path) -> None:
    from tests.spine.conftest import git

    INSERT(mini_tree)
    git(mini_tree, "commit", "-q", "-am", "mm: demo: batch in the base")
    _, review = _review(mini_tree, [Commit("mm: demo: make room", SHIFT)])
    assert [f for f in review.findings if f.checker == "test-batch-call"] == []


def test_patch_checker_findings_carry_their_patch(mini_tree: Path) -> None:
    revision, review = _review(
        mini_tree,
        [
            Commit("mm: demo: fine", SHIFT),
            Commit("no prefix here", INSERT, body="Signed-off-by: A Developer <dev@example.org>"),
        ],
    )
    pf = [f for f in review.findings if f.checker == "patch-format"]
    assert {f.patch_index for f in pf} == {2}
    assert {f.patch_message_id for f in pf} == {revision.patches[1].message_id}


def _write(path: str, text: str):  # type: ignore[no-untyped-def]
    def edit(root: Path) -> None:
        (root / path).write_text(text)

    return edit


def test_a_file_the_front_end_refuses_is_said_not_skipped(mini_tree: Path) -> None:
    deep = "int f(void)\n{\n\treturn " + "(" * 10_000 + "1" + ")" * 10_000 + ";\n}\n"
    _revision, review = _review(
        mini_tree, [Commit("mm: add a deep file", _write("mm/deep.c", deep))]
    )
    assert any(n.startswith("could not analyse mm/deep.c: ") for n in review.notes), review.notes
    assert review.apply is not None and review.apply.applied


def test_patch_checker_lines_are_where_the_hunk_landed(mini_tree: Path) -> None:
    import re

    from reviewbot.pipeline import check as check_stage
    from reviewbot.pipeline.apply import applied
    from reviewbot.pipeline.fetch import from_mbox_bytes
    from tests.spine.conftest import Commit, git, make_series, replace_in

    mbox = make_series(
        mini_tree,
        [Commit("mm: demo: count two", replace_in("mm/memory.c", "int nr = 1;", "int nr = 2; "))],
        cover=False,
    )
    # the reviewer's tree: 40 more lines above, no history shared with the author's
    memory = mini_tree / "mm" / "memory.c"
    memory.write_text("".join(f"/* line {n} */\n" for n in range(40)) + memory.read_text())
    git(mini_tree, "checkout", "-q", "--orphan", "other")
    git(mini_tree, "commit", "-q", "-am", "other tree")
    revision = from_mbox_bytes(re.sub(rb"\nbase-commit: \w+\n", b"\n", mbox)).revision
    with applied(mini_tree, revision) as a:
        assert a.result.base_source == "HEAD" and a.result.applied
        result = check_stage.run(a, revision)
        end = (a.states[-1].view.read("mm/memory.c") or b"").decode().splitlines()
    (ws,) = [f for f in result.findings if "whitespace" in f.message]
    assert end[ws.line - 1] == "\tint nr = 2; "


class RecordingChecker(BatchCallChecker):
    """BatchCallChecker that notes which functions it was given, per tree state."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, str]] = []

    def check_function(self, unit: FunctionUnit, tree: TreeView) -> Iterable[Finding]:
        self.seen.append((id(tree), unit.name))
        return super().check_function(unit, tree)


def test_states_in_between_are_checked_only_where_a_new_finding_is(
    mini_tree: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    checker = RecordingChecker()
    monkeypatch.setattr(checkers.engine, "function_checkers", lambda: (checker,))
    _revision, review = _review(
        mini_tree,
        [
            Commit(
                "mm: demo: count in one place",
                replace_in(
                    "mm/memory.c",
                    "static void count_swapin(struct mm_struct *mm, int nr)\n{\n",
                    "static void count_swapin(struct mm_struct *mm, int nr)\n{\n\t/* all */\n",
                ),
            ),
            Commit("mm: demo: batch", INSERT),
            Commit("mm: demo: make room", SHIFT),
        ],
    )
    (f,) = [f for f in review.findings if f.checker == "test-batch-call"]
    assert f.patch_index == 2
    states: dict[int, set[str]] = {}
    for tree_id, name in checker.seen:
        states.setdefault(tree_id, set()).add(name)
    assert len(states) == 4  # the base, two states in between, the end
    whole = {"count_swapin", "demo_swap_fault"}
    assert sorted(map(sorted, states.values())).count(sorted(whole)) == 2
    assert sorted(map(sorted, states.values())).count(["demo_swap_fault"]) == 2
