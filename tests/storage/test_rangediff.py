"""Range-diff between stored revisions."""

from __future__ import annotations

from dataclasses import dataclass

from reviewbot.storage.patchid import patch_id
from reviewbot.storage.rangediff import PairKind, range_diff
from tests.storage.factory import sample_revision


@dataclass
class P:
    index: int
    subject: str
    diff: str
    patch_id: str | None


def _patches(version: int) -> list[P]:
    return [
        P(p.index, p.subject, p.diff_text, patch_id(p.diff_text))
        for p in sample_revision(version).patches
    ]


def test_v2_to_v3() -> None:
    pairs = range_diff(_patches(2), _patches(3))
    assert [(p.kind, p.old_index, p.new_index) for p in pairs] == [
        (PairKind.SAME, 1, 1),
        (PairKind.CHANGED, 2, 2),
    ]
    changed = "\n".join(pairs[1].lines)
    assert "-+\tpte_t *start_ptep = vmf->pte;" in changed
    assert "++\tstart_ptep = vmf->pte;" in changed


def test_added_dropped_and_moved() -> None:
    old = _patches(1)
    new = [
        P(1, "mm: new first patch", "diff --git a/x b/x\n", None),
        *(P(p.index + 1, p.subject, p.diff, p.patch_id) for p in old[1:]),
    ]
    pairs = range_diff(old, new)
    assert [(p.kind, p.old_index, p.new_index) for p in pairs] == [
        (PairKind.CHANGED, 1, 1),  # left unpaired by patch-id and subject: paired by position
        (PairKind.SAME, 2, 3),  # same patch, now 3/3
    ]
    assert range_diff([], []) == []
    assert [p.kind for p in range_diff([], old)] == [PairKind.ADDED, PairKind.ADDED]


def test_huge_patches_are_not_diffed() -> None:
    big_a = "diff --git a/x b/x\n" + "".join(f"+line {i}\n" for i in range(15_000))
    big_b = "diff --git a/x b/x\n" + "".join(f"+other {i}\n" for i in range(15_000))
    pairs = range_diff([P(1, "s", big_a, None)], [P(1, "s", big_b, None)])
    assert pairs[0].kind is PairKind.CHANGED
    assert pairs[0].lines == ("(not shown: 15001 and 15001 lines of diff)",)
