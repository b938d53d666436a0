"""When a stored review may stand for a resent revision, and when it may not.

git's patch-id ignores whitespace and the commit message, but checkers read
both: a resend is reused only when the mails are the same too.  And a patch
is "unchanged since vN" only as part of an unchanged prefix on one base.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from reviewbot.models import Finding, Patch, Review, Revision, Series, Severity
from reviewbot.storage.patchid import patch_id
from reviewbot.storage.record import record_review
from reviewbot.storage.reuse import Base, find_identical, identical_note, reused_review
from reviewbot.storage.unchanged import Step, unchanged_since

SERIES = Series("mm: swap: batch the swap-in", "Ada <ada@example.org>", "20261126-reuse-0001")


def _diff(index: int, added: str) -> str:
    return (
        f"diff --git a/mm/swapfile.c b/mm/swapfile.c\n"
        f"--- a/mm/swapfile.c\n+++ b/mm/swapfile.c\n"
        f"@@ -{10 * index},2 +{10 * index},3 @@ int swap_step_{index}(void)\n"
        f" {{\n{added}\n \treturn 0;\n"
    )


def _revision(version: int, bodies: dict[int, str] | None = None, **diffs: str) -> Revision:
    patches = tuple(
        Patch(
            index=i,
            total=3,
            subject=f"mm: swap: step {i}",
            message_id=f"v{version}-{i}@example.org",
            author=SERIES.author,
            date="Thu, 26 Nov 2026 10:00:00 +0000",
            diff_text=diffs.get(f"p{i}", _diff(i, f"+\tcount_step({i});")),
            body=(bodies or {}).get(i, f"Step {i}.\n\nSigned-off-by: {SERIES.author}"),
        )
        for i in (1, 2, 3)
    )
    return Revision(version=version, patches=patches, total=3)


def _review(revision: Revision) -> Review:
    p2 = revision.patches[1]
    finding = Finding(
        checker="stale-pointer",
        severity=Severity.BUG,
        file="mm/swapfile.c",
        line=21,
        function="swap_step_2",
        message="the pte may be stale here",
        patch_index=2,
        patch_message_id=p2.message_id,
        key="pte",
    )
    return Review(series=SERIES, revision=revision, apply=None, findings=(finding,))


def _stored(session: Session, *revisions: Revision) -> dict[int, Revision]:
    for rev in revisions:
        record_review(session, _review(rev), mbox=f"mails of v{rev.version}")
    session.commit()
    return {rev.version: rev for rev in revisions}


def _series_id(session: Session) -> int:
    from sqlalchemy import select

    from reviewbot.storage.models import SeriesRow

    return session.scalars(select(SeriesRow.id)).one()


def test_an_identical_resend_is_found_and_re_attributed(session: Session) -> None:
    known = _stored(session, _revision(1))
    v2 = _revision(2)
    found = find_identical(
        session,
        _series_id(session),
        v2,
        Base(None, "HEAD"),
        lambda _mbox, version: (SERIES, known[version or 0]),
        simulate=False,
    )
    assert found is not None and found.version == 1
    review = reused_review(found, SERIES, v2, Base(None, "HEAD"))
    assert [f.patch_message_id for f in review.findings] == ["v2-2@example.org"]
    assert [f.id for f in review.findings] == [f.id for f in _review(v2).findings]
    assert review.notes[0] == identical_note(2, 1)


def test_same_patch_id_but_other_mails_is_not_identical(session: Session) -> None:
    known = _stored(session, _revision(1))
    sid = _series_id(session)

    def parse(_mbox: bytes, version: int | None) -> tuple[Series, Revision]:
        return SERIES, known[version or 0]

    # trailing whitespace only: git's patch-id is blind to it, patch-format is not
    spaced = _diff(2, "+\tcount_step(2);   ")
    assert patch_id(spaced) == patch_id(_diff(2, "+\tcount_step(2);"))
    other_message = _revision(2, bodies={1: "Step 1, reworded.\n\nSigned-off-by: Ada"})
    for new in (_revision(2, p2=spaced), other_message):
        assert find_identical(session, sid, new, Base(None, "HEAD"), parse, simulate=False) is None
    # another base, a missing patch, a changed patch
    same = _revision(2)
    assert find_identical(session, sid, same, Base("f" * 40, "HEAD"), parse, simulate=False) is None
    gap = replace(same, patches=same.patches[:2], missing=(3,))
    assert find_identical(session, sid, gap, Base(None, "HEAD"), parse, simulate=False) is None
    changed = _revision(2, p3=_diff(3, "+\tcount_step(33);"))
    assert find_identical(session, sid, changed, Base(None, "HEAD"), parse, simulate=False) is None


def test_results_of_another_reviewbot_are_not_reused(session: Session) -> None:
    from sqlalchemy import select

    from reviewbot.storage.models import ReviewRow

    known = _stored(session, _revision(1))
    row = session.scalars(select(ReviewRow)).one()
    row.result = {**row.result, "reviewbot_version": "0.0.1"}
    session.commit()
    found = find_identical(
        session,
        _series_id(session),
        _revision(2),
        Base(None, "HEAD"),
        lambda _mbox, version: (SERIES, known[version or 0]),
        simulate=False,
    )
    assert found is None


def test_stored_result_records_the_unchanged_prefix(session: Session) -> None:
    from sqlalchemy import select

    from reviewbot.storage.models import ReviewRow, RevisionRow

    _stored(
        session,
        _revision(1),
        _revision(2, p3=_diff(3, "+\tcount_step(33);")),
        _revision(3, p2=_diff(2, "+\tcount_step(22);"), p3=_diff(3, "+\tcount_step(33);")),
    )
    since = {
        rev.version: review.result["unchanged_since"]
        for rev, review in session.execute(
            select(RevisionRow, ReviewRow).join(ReviewRow, ReviewRow.revision_id == RevisionRow.id)
        ).all()
    }
    assert since == {1: {}, 2: {"1": 1, "2": 1}, 3: {"1": 1}}


def _step(version: int, pids: str, base: str | None = "b") -> Step:
    return Step(version, base, [(i + 1, c if c != "-" else None) for i, c in enumerate(pids)])


def test_unchanged_since_is_a_prefix_on_one_base() -> None:
    # patch 3 is back to its v1 form in v2, but patch 2 changed: not unchanged
    assert unchanged_since([_step(1, "abc"), _step(2, "aXc")], 2) == {1: 1}
    # contiguity: v2 changed patch 1, v3 repeats v2 -> since v2, not v1
    steps = [_step(1, "abc"), _step(2, "Xbc"), _step(3, "Xbc")]
    assert unchanged_since(steps, 3) == {1: 2, 2: 2, 3: 2}
    # the reach shrinks going back: 1-3 since v2, 1 since v1
    steps = [_step(1, "aYZ"), _step(2, "abc"), _step(3, "abc")]
    assert unchanged_since(steps, 3) == {1: 1, 2: 2, 3: 2}
    # another base: nothing carries over; a patch without a diff has no id
    assert unchanged_since([_step(1, "abc", "old"), _step(2, "abc")], 2) == {}
    assert unchanged_since([_step(1, "-bc"), _step(2, "-bc")], 2) == {}
    assert unchanged_since([_step(1, "abc")], 2) == {}


def test_base_is_the_apply_stages_choice_and_a_bad_base_is_refused(tmp_path: Path) -> None:
    """storage/reuse.py chooses as pipeline/apply.py does: trailer, --base, HEAD;
    a --base the tree lacks is an error there too, never HEAD."""
    from reviewbot.errors import TreeError
    from reviewbot.git import Repo, isolated_env, run_text
    from reviewbot.storage.reuse import choose_base

    env = {**isolated_env(), "GIT_AUTHOR_NAME": "A", "GIT_AUTHOR_EMAIL": "a@example.org"}
    env.update(GIT_COMMITTER_NAME="A", GIT_COMMITTER_EMAIL="a@example.org")
    run_text(tmp_path, "init", "-q", "-b", "master", env=env)
    run_text(tmp_path, "commit", "-q", "--allow-empty", "-m", "one", env=env)
    first = Repo(tmp_path).head()
    run_text(tmp_path, "commit", "-q", "--allow-empty", "-m", "two", env=env)
    head = Repo(tmp_path).head()
    plain = _revision(1)
    assert choose_base(plain, tmp_path) == Base(head, "HEAD")
    assert choose_base(plain, tmp_path, first[:12]) == Base(first, "--base")
    with pytest.raises(TreeError, match="--base no-such-ref: not a commit"):
        choose_base(plain, tmp_path, "no-such-ref")
    trailer = replace(plain, base_commit=first)
    # a typo in --base is said even where the trailer would have chosen
    with pytest.raises(TreeError, match="--base no-such-ref: not a commit"):
        choose_base(trailer, tmp_path, "no-such-ref")
    assert choose_base(trailer, tmp_path, head[:12]) == Base(first, "trailer")
    assert choose_base(plain, tmp_path / "missing") == Base(None, "HEAD")
