"""Pairing findings across revisions: equal ids, then renames."""

from __future__ import annotations

from reviewbot.storage.history import compare, match
from reviewbot.storage.models import FindingRow


def _f(
    fid: str,
    key: str,
    *texts: str,
    checker: str = "stale-pointer",
    severity: str = "possible-bug",
    roles: tuple[str, ...] = (),
) -> FindingRow:
    roles = roles or tuple(f"r{i}" for i in range(len(texts)))
    return FindingRow(
        finding_id=fid,
        checker=checker,
        severity=severity,
        file="mm/memory.c",
        line=1,
        function="do_swap_page",
        message="",
        key=key,
        evidence=[{"line": 1, "role": r, "text": t} for r, t in zip(roles, texts, strict=True)],
    )


def test_equal_ids_pair_first() -> None:
    old = [_f("a", "k", "x = 1;"), _f("b", "k", "y = 2;")]
    new = [_f("b", "k", "y = 2;"), _f("c", "k", "z = 3;")]
    assert match(old, new) == {0: old[1]}
    delta = compare(old, new)
    assert [f.finding_id for f in delta.new] == ["c"]
    assert [f.finding_id for f in delta.fixed] == ["a"]


def test_a_renamed_variable_is_the_same_finding() -> None:
    old = [
        _f(
            "a",
            "start_pte=vmf->pte",
            "pte_t *start_pte = vmf->pte;",
            "set_ptes(mm, a, start_pte, pte, nr);",
        )
    ]
    new = [
        _f(
            "b",
            "start_ptep=vmf->pte",
            "pte_t *start_ptep = vmf->pte;",
            "set_ptes(mm, a, start_ptep, pte, nr);",
        )
    ]
    delta = compare(old, new)
    assert delta.still == (new[0],) and delta.new == () and delta.fixed == ()


def test_different_calls_are_different_findings() -> None:
    old = [
        _f(
            "a",
            "swap_free",
            "set_ptes(mm, a, p, pte, nr);",
            "swap_free(entry);",
            checker="incomplete-batch-conversion",
        )
    ]
    new = [
        _f(
            "b",
            "arch_do_swap_page",
            "set_ptes(mm, a, p, pte, nr);",
            "arch_do_swap_page(mm, vma, a, pte, orig);",
            checker="incomplete-batch-conversion",
        )
    ]
    assert match(old, new) == {}


def test_a_bug_that_became_a_note_is_fixed() -> None:
    old = [_f("a", "soft-dirty:not-guaranteed", "set_ptes(mm, a, p, pte, nr);")]
    new = [_f("b", "soft-dirty:guaranteed", "set_ptes(mm, a, p, pte, nr);", severity="note")]
    delta = compare(old, new)
    assert delta.fixed == (old[0],) and delta.new == (new[0],)


def test_each_old_finding_pairs_once_best_first() -> None:
    old = [_f("a", "k", "flush_icache_page(vma, page);")]
    new = [
        _f("b", "k", "flush_icache_pages(vma, page);"),
        _f("c", "k", "flush_icache_page(vma,   page);"),
    ]
    pairs = match(old, new)
    assert list(pairs) == [1]  # the closer text wins, the other is new


def test_findings_without_evidence_need_equal_ids() -> None:
    assert match([_f("a", "k")], [_f("b", "k")]) == {}
