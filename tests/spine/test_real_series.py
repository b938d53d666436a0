"""Series written on another tree, reviewed on the real Linux 6.12 tree.

The edits are made at test time in scratch repos (tests/spine/kernel_scratch.py):
the kernel tree is never written.  A series lands at an offset; one hunk of
an arch header does not apply; a later patch needs that hunk; another patch
is already in the tree.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reviewbot.git import Repo
from reviewbot.models import ApplyStatus, Review
from reviewbot.pipeline import report, review_revision
from reviewbot.pipeline.fetch import from_mbox_bytes
from reviewbot.report_json import review_to_json
from tests.spine.kernel_scratch import Edit, ScratchRepo, signed

pytestmark = pytest.mark.kernel_tree

# do_swap_page() in 6.12 re-maps the pte and checks it for NULL on the next
# line; the edit reads it in between (the shape of the seed thread's bug).
REMAP = (
    "\tvmf->pte = pte_offset_map_lock(vma->vm_mm, vmf->pmd, vmf->address,\n"
    "\t\t\t&vmf->ptl);\n"
    "\tif (unlikely(!vmf->pte || !pte_same("
)
READ_BEFORE_CHECK = Edit(
    "mm/memory.c",
    REMAP,
    REMAP.replace("\tif (unlikely(", "\tvmf->orig_pte = ptep_get(vmf->pte);\n\tif (unlikely(", 1),
)
ENTRY = "vm_fault_t do_swap_page(struct vm_fault *vmf)\n{\n"
OFFSET = 250  # more than the hunk's distance from the top of do_swap_page()


def _review(tree: Path, mbox: bytes) -> Review:
    fetched = from_mbox_bytes(mbox)
    return review_revision(fetched.series, fetched.revision, tree, simulate=False)


def _shift_lines(text: str, by: int) -> str:
    return re.sub(r"\bline (\d+)", lambda m: f"line {int(m.group(1)) + by}", text)


def _quoted(review: Review, by: int = 0) -> str:
    (reply,) = report.render_replies(review)
    return _shift_lines(reply.body.split("\n--\n")[0], by)


def test_hunks_landing_250_lines_below_their_numbers_give_the_same_review(
    kernel_tree: Path, tmp_path: Path
) -> None:
    scratch = ScratchRepo(kernel_tree, tmp_path / "author")
    head = scratch.kernel_head
    tip = scratch.edit(head, [READ_BEFORE_CHECK], signed("mm: swap: read the pte again"))
    mbox = scratch.series(head, tip, f"--base={head}")
    # The reviewer's tree: the same files, with other code above do_swap_page()
    # (a copy of the tree state, no history shared with the author's base).
    filler = "".join(f"/* a line the author's tree does not have: {n} */\n" for n in range(OFFSET))
    reviewer = ScratchRepo(kernel_tree, tmp_path / "reviewer")
    moved = reviewer.edit(
        head, [Edit("mm/memory.c", ENTRY, filler + "\n" + ENTRY)], "other code", orphan=True
    )
    reviewer.set_head(moved)

    on_base = _review(kernel_tree, mbox)
    without_trailer = re.sub(rb"\nbase-commit: \w+\n", b"\n", mbox)
    at_offset = _review(reviewer.path, without_trailer)

    assert on_base.apply is not None and at_offset.apply is not None
    assert on_base.apply.base == head and at_offset.apply.base == moved
    assert [p.status for p in at_offset.apply.patches] == [ApplyStatus.APPLIED]
    (shift,) = at_offset.apply.patches[0].shifts
    assert shift[2] == OFFSET + 1
    found = [(f.id, f.checker, f.function, f.line) for f in on_base.findings]
    assert found and found[0][1:3] == ("unchecked-null-pte", "do_swap_page")
    assert [(f.id, f.checker, f.function, f.line) for f in at_offset.findings] == [
        (i, c, fn, line + OFFSET + 1) for i, c, fn, line in found
    ]
    assert [f.message for f in at_offset.findings] == [
        _shift_lines(f.message, OFFSET + 1) for f in on_base.findings
    ]
    # the reply quotes the same hunk lines, under the same finding
    assert "> +\tvmf->orig_pte = ptep_get(vmf->pte);" in _quoted(at_offset)
    assert _quoted(at_offset) == _quoted(on_base, OFFSET + 1)


# The author's tree (mm-unstable, say) differs from 6.12 in an arch header
# and lacks a check that 6.12 has in swap_free_nr().
AUTHOR_ARCH = Edit(
    "arch/x86/include/asm/pgtable.h",
    "\treturn pte_flags(pte) & _PAGE_SWP_EXCLUSIVE;\n}\n",
    "\treturn !!(pte_flags(pte) & _PAGE_SWP_EXCLUSIVE);\n}\n",
)
AUTHOR_SWAPFILE = Edit(
    "mm/swapfile.c",
    "\tsis = _swap_info_get(entry);\n\tif (!sis)\n\t\treturn;\n\n\twhile (nr_pages) {",
    "\tsis = _swap_info_get(entry);\n\n\twhile (nr_pages) {",
)
NEW_HELPER = Edit(
    "arch/x86/include/asm/pgtable.h",
    "\treturn !!(pte_flags(pte) & _PAGE_SWP_EXCLUSIVE);\n}\n",
    "\treturn !!(pte_flags(pte) & _PAGE_SWP_EXCLUSIVE);\n}\n\n"
    "static inline bool pte_swp_exclusive_same(pte_t a, pte_t b)\n{\n"
    "\treturn pte_swp_exclusive(a) == pte_swp_exclusive(b);\n}\n",
)
HELPER_CHANGE = Edit(
    "arch/x86/include/asm/pgtable.h",
    "\treturn pte_swp_exclusive(a) == pte_swp_exclusive(b);\n",
    "\treturn !((pte_flags(a) ^ pte_flags(b)) & _PAGE_SWP_EXCLUSIVE);\n",
)
CHECK_BACK = Edit(
    "mm/swapfile.c",
    "\tsis = _swap_info_get(entry);\n\n\twhile (nr_pages) {",
    "\tsis = _swap_info_get(entry);\n\tif (!sis)\n\t\treturn;\n\n\twhile (nr_pages) {",
)


@pytest.fixture(scope="module")
def other_tree_series(kernel_tree: Path, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    scratch = ScratchRepo(kernel_tree, tmp_path_factory.mktemp("author") / "tree")
    base = scratch.edit(scratch.kernel_head, [AUTHOR_ARCH, AUTHOR_SWAPFILE], "mm-unstable")
    one = scratch.edit(
        base,
        [NEW_HELPER, READ_BEFORE_CHECK],
        signed("mm: swap: compare exclusive bits, read the pte again"),
        date="2026-11-20T10:11:00+00:00",
    )
    two = scratch.edit(
        one,
        [HELPER_CHANGE],
        signed("x86/mm: compare exclusive bits in one go"),
        date="2026-11-20T10:12:00+00:00",
    )
    three = scratch.edit(
        two,
        [CHECK_BACK],
        signed("mm: swap: check the device in swap_free_nr()"),
        date="2026-11-20T10:13:00+00:00",
    )
    return scratch.series(base, three, f"--base={base}", "--numbered", "--cover-letter")


def test_an_arch_hunk_that_does_not_apply_leaves_the_mm_hunks_reviewed(
    kernel_tree: Path, other_tree_series: bytes
) -> None:
    before = Repo(kernel_tree).snapshot()
    review = _review(kernel_tree, other_tree_series)
    assert Repo(kernel_tree).snapshot() == before
    assert review.apply is not None
    one, two, three = review.apply.patches
    assert [one.status, two.status, three.status] == [
        ApplyStatus.PARTIAL,
        ApplyStatus.SKIPPED,
        ApplyStatus.ALREADY_APPLIED,
    ]
    (arch,) = one.failed_hunks
    assert arch.file == "arch/x86/include/asm/pgtable.h" and arch.hunk == 1
    assert arch.header.startswith("@@ -") and arch.base == review.apply.base
    line = (
        (kernel_tree / arch.file)
        .read_text()
        .splitlines()
        .index("\treturn pte_flags(pte) & _PAGE_SWP_EXCLUSIVE;")
    )
    assert arch.cause == (
        f"context differs at line {line + 1} of {arch.file}: the patch expects "
        "'return !!(pte_flags(pte) & _PAGE_SWP_EXCLUSIVE);', "
        "the tree has 'return pte_flags(pte) & _PAGE_SWP_EXCLUSIVE;'"
    )
    # the mm/ hunk of the same patch was reviewed
    (bug,) = [f for f in review.findings if f.severity.blocking]
    assert (bug.checker, bug.function, bug.patch_index) == ("unchecked-null-pte", "do_swap_page", 1)
    # patch 2 needs the helper that hunk adds
    assert (
        two.detail == f"skipped: it needs hunk #1 ({arch.header}) of {arch.file} "
        "from patch 1/3, which did not apply"
    )
    assert "already in" in three.detail
    assert review.exit_status == 1


def test_every_output_says_what_was_not_reviewed(
    kernel_tree: Path, other_tree_series: bytes
) -> None:
    review = _review(kernel_tree, other_tree_series)
    (reply,) = report.render_replies(review)
    flat = " ".join(reply.body.split())
    assert "Not reviewed:" in flat
    assert "- patch 1/3 was reviewed in part, without hunk #1 (@@ -" in flat
    assert "- patch 2/3 was skipped: it needs hunk #1" in flat
    assert "- patch 3/3 is already in" in flat
    assert "never" not in flat
    text = report.render_text(review)
    assert "[1/3] PARTIAL" in text and "partially reviewed" in text
    assert "[2/3] SKIPPED" in text and "[3/3] ALREADY-APPLIED" in text
    assert "0 of 3 patches fully reviewed, 1 partially, 1 skipped, 1 already in the tree" in text
    assert text.count("context differs at line") == 1  # each failed hunk once
    data = review_to_json(review)
    patches = data["patches"]
    assert isinstance(patches, list)
    assert [p["apply_status"] for p in patches] == ["partial", "skipped", "already-applied"]
    assert [len(p["failed_hunks"]) for p in patches] == [1, 1, 0]
    assert patches[0]["failed_hunks"][0]["cause"].startswith("context differs at line")
    revision = data["revision"]
    assert isinstance(revision, dict)
    assert (revision["base_source"], revision["base_reason"]) == ("HEAD", "the tree's HEAD")
    notes = " ".join(str(n) for n in review.notes)
    assert "is not in the tree" in notes and "index lines" in notes  # why not the others


def test_the_simulator_runs_only_when_the_series_touches_what_it_runs(
    kernel_tree: Path, tmp_path: Path
) -> None:
    scratch = ScratchRepo(kernel_tree, tmp_path / "author")
    head = scratch.kernel_head
    comment = Edit(
        "mm/swapfile.c",
        "\tsis = _swap_info_get(entry);\n\tif (!sis)\n\t\treturn;\n\n\twhile (nr_pages) {",
        "\tsis = _swap_info_get(entry);\n\tif (!sis)\n\t\treturn;\n\n"
        "\t/* one cluster at a time */\n\twhile (nr_pages) {",
    )
    elsewhere = scratch.edit(head, [comment], signed("mm: swap: say how swap_free_nr() walks"))
    fetched = from_mbox_bytes(scratch.series(head, elsewhere, f"--base={head}"))
    review = review_revision(fetched.series, fetched.revision, kernel_tree)
    assert review.simulation is None
    assert any("no simulated path touched" in n for n in review.notes)
    assert "note: simulation: no simulated path touched" in report.render_text(review)
    # a helper do_swap_page() runs (mm/internal.h) is a simulated path
    helper = Edit(
        "mm/internal.h",
        "static inline pte_t pte_move_swp_offset(pte_t pte, long delta)\n{\n",
        "static inline pte_t pte_move_swp_offset(pte_t pte, long delta)\n{\n"
        "\t/* delta may be negative */\n",
    )
    inside = scratch.edit(head, [helper], signed("mm: swap: note the sign of delta"))
    fetched = from_mbox_bytes(scratch.series(head, inside, f"--base={head}"))
    review = review_revision(fetched.series, fetched.revision, kernel_tree)
    assert review.simulation is not None and review.simulation.runs
    assert not any("no simulated path touched" in n for n in review.notes)
