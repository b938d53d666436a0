"""Replies in the seed thread's form, and delivery to the outbox or SMTP."""

from __future__ import annotations

import email
import email.policy
import os
import socket
from dataclasses import replace
from pathlib import Path

import pytest

from reviewbot.errors import UsageError
from reviewbot.models import (
    ApplyResult,
    ApplyStatus,
    Evidence,
    Finding,
    PatchApply,
    Reproducer,
    Review,
    Severity,
)
from reviewbot.pipeline import post, report
from reviewbot.pipeline.fetch import from_mbox_bytes
from tests.spine.conftest import Commit, make_series, replace_in

BIG_EDIT = replace_in(
    "mm/memory.c",
    "\tcount_swapin(vma->vm_mm, nr);\n",
    "\tnr = demo_pte_batch(vmf->pte, nr, vmf->orig_pte);\n"
    "\tif (nr > 1)\n\t\tnr--;\n\tif (nr > 2)\n\t\tnr--;\n\tif (nr > 3)\n\t\tnr--;\n"
    "\tcount_swapin(vma->vm_mm, nr);\n",
)


@pytest.fixture
def review(mini_tree: Path) -> Review:
    fetched = from_mbox_bytes(
        make_series(
            mini_tree,
            [
                Commit("mm: demo: batch the count", BIG_EDIT),
                Commit(
                    "mm: demo: count two pages",
                    replace_in("mm/memory.c", "int nr = 1;", "int nr = 2;"),
                ),
            ],
        )
    )
    rev = fetched.revision
    p1 = rev.patches[0]
    lines = {
        ln.text.strip(): ln.new_lineno
        for h in p1.files[0].hunks
        for ln in h.lines
        if ln.kind == "+"
    }
    first = lines["nr = demo_pte_batch(vmf->pte, nr, vmf->orig_pte);"]
    last = (
        lines["count_swapin(vma->vm_mm, nr);"]
        if "count_swapin(vma->vm_mm, nr);" in lines
        else first + 7
    )
    assert first is not None
    findings = (
        Finding(
            "stale-pointer",
            Severity.BUG,
            "mm/memory.c",
            first,
            "demo_swap_fault",
            "vmf->pte may be NULL here: pte_offset_map_lock() can fail, and the NULL "
            "check only comes after this batch walk, which dereferences it.",
            (Evidence(first, "used", "nr = demo_pte_batch(vmf->pte, nr, vmf->orig_pte);"),),
            patch_index=1,
            patch_message_id=p1.message_id,
        ),
        Finding(
            "batch-nit",
            Severity.NIT,
            "mm/memory.c",
            last,
            "demo_swap_fault",
            "three decrements read like a loop.",
            patch_index=1,
            patch_message_id=p1.message_id,
        ),
    )
    apply = ApplyResult(
        "1a2b3c4d5e6f",
        "trailer",
        (PatchApply(1, ApplyStatus.APPLIED), PatchApply(2, ApplyStatus.APPLIED)),
    )
    return Review(fetched.series, rev, apply, findings)


def test_reply_quotes_the_hunk_and_comments_under_the_line(review: Review) -> None:
    (reply,) = report.render_replies(review)  # patch 2 has no finding: no reply
    patch = review.revision.patches[0]
    body = reply.body.splitlines()
    assert body[0] == f"On {patch.date}, {patch.author} wrote:"
    assert body[1].startswith("> @@ ")
    at = body.index("> +\tnr = demo_pte_batch(vmf->pte, nr, vmf->orig_pte);")
    assert body[at + 1] == "" and body[at + 2].startswith("bug: vmf->pte may be NULL here")
    assert "[...]" in body  # the lines between the two findings are elided
    nit = next(i for i, ln in enumerate(body) if ln.startswith("nit: three decrements"))
    assert body[nit - 2].startswith("> ") and "count_swapin" in body[nit - 2]
    comments = [ln for ln in body if not ln.startswith((">", "On ", "Reproduce: "))]
    assert max(len(ln) for ln in comments) <= 78
    assert body[-5:-2] == [
        "--",
        "reviewbot 0.1.0 on base 1a2b3c4d (from the base-commit: trailer)",
        "Simulator: not run.",  # this review carries no simulation: the reply says so
    ]
    assert f"Reproduce: reviewbot check {patch.message_id}" in reply.body
    assert reply.in_reply_to == patch.message_id
    assert reply.references[-1] == patch.message_id and len(reply.references) == 2
    assert reply.subject == "Re: [PATCH 1/2] mm: demo: batch the count"
    assert reply.to == ("A Developer <dev@example.org>",)
    assert reply.cc == ("linux-mm@kvack.org",)  # the list the patch went to
    msg = email.message_from_bytes(reply.as_bytes(), policy=email.policy.default)
    assert msg["In-Reply-To"] == f"<{patch.message_id}>"
    assert msg["Message-ID"] == f"<{reply.message_id}>"


def test_message_id_is_deterministic_and_tracks_content(review: Review) -> None:
    (a,) = report.render_replies(review)
    (b,) = report.render_replies(review)
    assert a.message_id == b.message_id
    changed = replace(review, findings=review.findings[:1])
    (c,) = report.render_replies(changed)
    assert c.message_id != a.message_id and c.message_id.endswith(".v1-1@reviewbot.invalid")


def test_previous_revision_fixed_and_still_present(review: Review) -> None:
    fixed = Finding(
        "old-check",
        Severity.POSSIBLE_BUG,
        "mm/memory.c",
        3,
        "demo_swap_fault",
        "the batch may cross the VMA end. Bound it.",
        patch_index=1,
    )
    previous = replace(review, findings=(*review.findings[:1], fixed))
    (reply,) = report.render_replies(review, previous=previous)
    flat = " ".join(reply.body.split())
    assert "(still present since v1)" in flat
    assert f"Fixed since v1: the batch may cross the VMA end (v1 1/2, id {fixed.id})." in flat


def test_terminal_summary(review: Review) -> None:
    text = report.render_text(review)
    assert "[1/2] applied" in text and "findings: 1 bug, 1 nit" in text
    coloured = report.render_text(review, colour=True)
    assert "\033[1;31mbug:\033[0m" in coloured


def test_terminal_summary_names_no_line_0(review: Review) -> None:
    # a patch that does not apply is a finding on the file, line 0: it used
    # to read "include/linux/swap.h:0:"
    whole_file = replace(review.findings[0], line=0, file="include/linux/swap.h")
    text = report.render_text(replace(review, findings=(whole_file,)))
    assert "] include/linux/swap.h demo_swap_fault(): " in text and ":0" not in text


def test_outbox_is_a_maildir_and_idempotent(review: Review, tmp_path: Path) -> None:
    replies = report.render_replies(review)
    first = post.to_maildir(replies, tmp_path / "outbox")
    again = post.to_maildir(replies, tmp_path / "outbox")
    assert first == again and len(list((tmp_path / "outbox" / "new").iterdir())) == 1
    assert {p.name for p in (tmp_path / "outbox").iterdir()} == {"tmp", "new", "cur"}
    msg = email.message_from_bytes(first[0].read_bytes(), policy=email.policy.default)
    assert msg["Subject"].startswith("Re: ")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_send_smtp_delivers_threaded_replies(review: Review) -> None:
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    class Keep(Sink):
        def __init__(self) -> None:
            self.got: list[tuple[list[str], bytes]] = []

        async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
            self.got.append((list(envelope.rcpt_tos), envelope.content))
            return "250 OK"

    handler = Keep()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        replies = report.render_replies(review)
        cfg = post.SmtpConfig.from_env(
            {"REVIEWBOT_SMTP_HOST": "127.0.0.1", "REVIEWBOT_SMTP_PORT": str(port)}
        )
        assert post.send_smtp(replies, cfg) == 1
    finally:
        controller.stop()
    ((rcpt, content),) = handler.got
    assert rcpt == ["dev@example.org", "linux-mm@kvack.org"]
    msg = email.message_from_bytes(content, policy=email.policy.default)
    assert msg["In-Reply-To"] == f"<{review.revision.patches[0].message_id}>"


def test_smtp_down_is_a_clear_error(review: Review) -> None:
    cfg = post.SmtpConfig(host="127.0.0.1", port=_free_port(), timeout=5)
    with pytest.raises(UsageError, match=r"SMTP 127\.0\.0\.1"):
        post.send_smtp(report.render_replies(review), cfg)


def test_a_moved_finding_is_not_reported_fixed(review: Review) -> None:
    bug = review.findings[0]
    moved = replace(
        bug,
        line=bug.line - 9,
        message=bug.message + " (pte_offset_map_lock() at line 12)",
        evidence=(Evidence(bug.line - 9, "used", "other text"),),
    )
    now = replace(bug, message=bug.message + " (pte_offset_map_lock() at line 21)")
    assert moved.id != now.id
    (reply,) = report.render_replies(
        replace(review, findings=(now,)), previous=replace(review, findings=(moved,))
    )
    flat = " ".join(reply.body.split())
    assert "(still present since v1)" in flat and "Fixed since" not in flat


def test_sample_v2_reply_keeps_the_renamed_stale_pointer(tmp_path: Path) -> None:
    """v2 renames start_pte -> start_ptep: the stale pointer is still there,
    not "fixed since v1" (the same pairing as the dashboard's)."""
    from reviewbot.pipeline import fetch, review_revision
    from reviewbot.sample import build_sample_tree, series_mbox

    tree = tmp_path / "tree"
    build_sample_tree(tree)
    reviews = []
    for version in (1, 2):
        got = fetch.run(fetch.FetchRequest(mbox=Path(series_mbox(version))))
        reviews.append(review_revision(got.series, got.revision, tree, simulate=False))
    replies = report.render_replies(reviews[1], previous=reviews[0])
    flat = " ".join(" ".join(r.body.split()) for r in replies)
    assert "start_ptep is a copy of vmf->pte" in flat
    assert "Fixed since v1: start_pte is a copy" not in flat
    assert "Fixed since v1: start_pte is a pte_t *" in flat  # the nit is fixed
    assert flat.count("(still present since v1)") == 4


def test_simulated_reproducer_names_the_series_and_is_not_wrapped(review: Review) -> None:
    case = Reproducer("table-freed", 2, 1)
    shown = (
        "simulated: a 4-page folio in the swap cache, fault on page 1, page table freed "
        f"concurrently: pointer arithmetic on NULL vmf->pte at line 151.\n{case.line()}"
    )
    assert shown.endswith(
        "Reproduce: reviewbot simulate --scenario table-freed --order 2 --index 1 ..."
    )
    bug = replace(review.findings[0], simulated=(shown,), reproducers=(case,))
    (reply,) = report.render_replies(
        replace(review, findings=(bug,)), tool_cmd="reviewbot check --mbox series/v2.mbox"
    )
    assert (
        "Reproduce: reviewbot simulate --scenario table-freed --order 2 --index 1 "
        "--mbox series/v2.mbox\n" in reply.body
    )
    assert "simulated: a 4-page folio" in reply.body


def test_sample_v2_reply_reads_in_file_order_and_fixed_cites_no_v1_lines(
    tmp_path: Path,
) -> None:
    """A maintainer reads a reply top-down: flush_icache_page() at line 218
    (a line v2 leaves alone) used to come before the hunk at line 160; and
    "Fixed since v1: ... at line 147" cited v1's lines as if they were v2's."""
    from reviewbot.pipeline import fetch, review_revision
    from reviewbot.sample import build_sample_tree, series_mbox

    tree = tmp_path / "tree"
    build_sample_tree(tree)
    reviews = []
    for version in (1, 2):
        got = fetch.run(fetch.FetchRequest(mbox=Path(series_mbox(version))))
        reviews.append(review_revision(got.series, got.revision, tree, simulate=False))
    (reply,) = report.render_replies(reviews[1], previous=reviews[0])
    body = reply.body
    order = [
        body.index("> +\t\tfolio_ptep = vmf->pte - idx;"),  # line 160
        body.index("At mm/memory.c:218 in do_swap_page(), a line this patch leaves"),
        body.index("> +\tset_ptes(vma->vm_mm, start_address, start_ptep, pte, nr_pages);"),
    ]
    assert order == sorted(order)
    fixed = " ".join(body[body.index("Fixed since v1:") :].split())
    fixed = fixed[: fixed.index(" -- ")]
    assert (
        "Fixed since v1: folio_start is computed from the folio's index at line 147 and "
        "installed by set_ptes() at line 217, but nothing keeps the batch inside the VMA or "
        "the PMD (v1 3/3, lines of v1, id 6be504e9)."
    ) in fixed
    assert "start_ptep would say so (v1 3/3, id dc88f112)." in fixed  # no line: no remark


def test_quote_never_opens_on_the_tail_of_a_split_statement(tmp_path: Path) -> None:
    """v2's NULL finding used to be quoted from "vma->vm_end)))", the last
    line of an `if` split over two lines: the quote starts after the blank
    line instead, and never on a continuation line."""
    from reviewbot.pipeline import fetch, review_revision
    from reviewbot.sample import build_sample_tree, series_mbox

    tree = tmp_path / "tree"
    build_sample_tree(tree)
    got = fetch.run(fetch.FetchRequest(mbox=Path(series_mbox(2))))
    (reply,) = report.render_replies(
        review_revision(got.series, got.revision, tree, simulate=False)
    )
    quoted = [ln for ln in reply.body.splitlines() if ln.startswith("> ")]
    assert "> +\t\t\t\t\t\t      vma->vm_end)))" not in quoted
    at = quoted.index("> +\t\tfolio_ptep = vmf->pte - idx;")
    assert quoted[at - 1].startswith("> @@ ")


def test_context_start_skips_continuation_lines() -> None:
    from reviewbot.models import HunkLine

    lines = tuple(
        HunkLine("+", text, None, n)
        for n, text in enumerate(
            ["\tx = f(a,", "\t      b);", "\tif (g(c,", "\t      d))", "\t\ty = *p;"], 1
        )
    )
    # CONTEXT lines back is line 2, the tail of "x = f(a, b);": start at the `if`.
    assert report._context_start(lines, 4, 0) == 2
    assert report._context_start(lines, 1, 0) == 0


def test_send_without_smtp_config_says_so(review: Review) -> None:
    assert post.SmtpConfig.from_env({}).configured is False
    assert post.SmtpConfig.from_env({"REVIEWBOT_SMTP_HOST": "mx"}).configured is True
    cfg = post.SmtpConfig(host="127.0.0.1", port=_free_port(), timeout=5, configured=False)
    with pytest.raises(post.SendError, match=r"\(REVIEWBOT_SMTP_HOST is not set\): "):
        post.send_smtp(report.render_replies(review), cfg)


def test_unwritable_outbox_is_a_usage_error(review: Review, tmp_path: Path) -> None:
    # Stands for a read-only outbox (tests run as root, where chmod does not
    # stop a write): the write of the reply itself fails.
    (reply,) = report.render_replies(review)
    tmp_name = f"{post._filename(reply)}.{os.getpid()}"
    (tmp_path / "o" / "tmp" / tmp_name).mkdir(parents=True)
    with pytest.raises(UsageError, match=r"^outbox .*/o: Is a directory$"):
        post.to_maildir([reply], tmp_path / "o")


def test_a_reply_says_which_patches_never_arrived(review: Review) -> None:
    # 3 of 5 arrived: the reply to one of them used to read as a review of all
    rev = replace(review.revision, total=5, missing=(3, 5))
    (reply,) = report.render_replies(replace(review, revision=rev))
    flat = " ".join(reply.body.split())
    assert (
        "Not reviewed: - patch 3/5 never reached reviewbot: not reviewed. "
        "- patch 5/5 never reached reviewbot: not reviewed." in flat
    )
    assert "the rest was applied" not in flat
    (complete,) = report.render_replies(review)
    assert "Not reviewed" not in complete.body


def test_b4_terse_lines_leave_notes_out(review: Review) -> None:
    # v3's "that is safe" note came out as a CHECK line in `b4 prep --check`
    from reviewbot.commands.b4_check import as_b4_json, as_terse

    note = replace(review.findings[1], severity=Severity.NOTE)
    lines = as_terse(replace(review, findings=(review.findings[0], note)))
    assert len(lines) == 1 and ": ERROR: bug: " in lines[0]
    assert [e["status"] for e in as_b4_json(replace(review, findings=(note,)))] == ["pass"]


def test_a_long_run_of_missing_patches_is_said_as_one_range(review: Review) -> None:
    """One patch picked out of a stable queue of 160 used to print 158
    'never reached' lines: three or more in a row are one range, in the
    reply and in the text summary; one or two stay one line each."""
    from reviewbot.models import ApplyStatus, PatchApply
    from reviewbot.pipeline import coverage

    assert coverage.runs([7, 1, 2, 3, 9, 10]) == [[1, 2, 3], [7], [9, 10]]
    assert {p.index for p in review.revision.patches} == {1, 2}
    missing = tuple(i for i in range(3, 161) if i not in (157,))
    rev = replace(review.revision, total=160, missing=missing)
    assert review.apply is not None
    apply = replace(
        review.apply,
        patches=(
            *review.apply.patches,
            *(PatchApply(i, ApplyStatus.MISSING) for i in missing),
        ),
    )
    wide = replace(review, revision=rev, apply=apply)
    gaps = coverage.gaps(wide)
    assert gaps == [
        "patches 3-156/160 never reached reviewbot: not reviewed.",
        "patches 158-160/160 never reached reviewbot: not reviewed.",
    ]
    text = report.render_text(wide)
    assert "  [3-156/160] MISSING  (never received)" in text
    assert "  [158-160/160] MISSING  (never received)" in text
    assert "[4/160]" not in text and len(text.splitlines()) < 40
    # two in a row stay apart
    short = replace(review, revision=replace(review.revision, total=4, missing=(3, 4)))
    assert coverage.gaps(short) == [
        "patch 3/4 never reached reviewbot: not reviewed.",
        "patch 4/4 never reached reviewbot: not reviewed.",
    ]


def test_b4_terse_says_what_was_not_reviewed(review: Review) -> None:
    """A patch that did not apply is no clean review: `b4 am`/`b4 prep --check`
    get a CHECK line saying so (and nothing when all of it was reviewed)."""
    from reviewbot.commands.b4_check import as_terse
    from reviewbot.models import ApplyStatus, PatchApply

    assert review.apply is not None
    assert not any("reviewbot: patch" in ln for ln in as_terse(review))
    failed = replace(
        review.apply,
        patches=tuple(
            PatchApply(pa.index, ApplyStatus.FAILED, "no hunk of it applies")
            if pa.index == 2
            else pa
            for pa in review.apply.patches
        ),
    )
    lines = as_terse(replace(review, apply=failed))
    assert (
        "commit-message:0: CHECK: reviewbot: patch 2/2 was not reviewed: no hunk of it applies."
        in lines
    )
