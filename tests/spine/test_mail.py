"""Reading patch mail: subjects, encodings, series grouping, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from reviewbot import mail
from reviewbot.errors import FetchError
from reviewbot.pipeline.fetch import from_mbox_bytes

MAIL = Path(__file__).parent / "fixtures" / "mail"


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("[PATCH v2 4/5] mm: swap: entirely map large folios", (True, False, 2, 4, 5)),
        ("[RFC PATCH mm-unstable v3 01/12] mm: x", (True, False, 3, 1, 12)),
        ("[PATCH 0/4] mm: cover", (True, False, 1, 0, 4)),
        ("[PATCH] mm: single", (True, False, 1, 1, 1)),
        ("Re: [PATCH v2 4/5] mm: swap: x", (True, True, 2, 4, 5)),
        ("question about swap", (False, False, 1, 1, 1)),
    ],
)
def test_parse_subject(subject: str, expected: tuple[bool, bool, int, int, int]) -> None:
    info = mail.parse_subject(subject)
    assert (info.is_patch, info.is_reply, info.version, info.index, info.total) == expected


def _one(name: str) -> mail.MailItem:
    msgs = mail.split_mbox((MAIL / name).read_bytes())
    assert len(msgs) == 1
    item = mail.message_to_item(msgs[0])
    assert item is not None
    return item


@pytest.mark.parametrize("name", ["qp.eml", "base64.eml"])
def test_transfer_encodings_give_the_same_patch(name: str) -> None:
    item = _one(name)
    (fd,) = item.patch.files
    assert fd.new_path == "mm/memory.c"
    added = [ln.text for h in fd.hunks for ln in h.lines if ln.kind == "+"]
    assert added == ["\tint nr = 2;"]
    assert item.patch.body.startswith("Count two pages")
    assert "Signed-off-by: A Developer <dev@example.org>" in item.patch.body


@pytest.mark.parametrize("name", ["latin1.eml", "badcharset.eml"])
def test_non_utf8_mail_is_read(name: str) -> None:
    item = _one(name)
    assert "Ren" in item.patch.body and "veloppeur" in item.patch.body
    assert item.patch.files and item.patch.files[0].new_path == "mm/memory.c"


def test_latin1_author_is_decoded() -> None:
    assert _one("latin1.eml").patch.author.startswith("René Développeur")


def test_malformed_mail_is_no_patch() -> None:
    with pytest.raises(FetchError, match=r"no patches|no mail"):
        from_mbox_bytes((MAIL / "malformed.eml").read_bytes(), what="malformed.eml")


def test_empty_mbox_is_an_error() -> None:
    with pytest.raises(FetchError, match="empty"):
        from_mbox_bytes(b"", what="empty.mbox")


def test_thread_without_patches_is_an_error() -> None:
    with pytest.raises(FetchError, match=r"2 mail\(s\) but no patches"):
        from_mbox_bytes((MAIL / "thread-no-patches.mbox").read_bytes(), what="t")


def test_partial_series_says_what_is_missing() -> None:
    result = from_mbox_bytes((MAIL / "partial-3of5.mbox").read_bytes())
    rev = result.revision
    assert [p.index for p in rev.patches] == [1, 2, 4]
    assert rev.missing == (3, 5) and rev.total == 5
    assert rev.cover is not None and rev.base_commit == "0" * 40
    assert result.series.change_id == "20261120-demo-batch-0123456789ab"
    assert result.series.title == "mm: demo: batch the demo fault"


def test_mboxrd_from_quoting_is_undone() -> None:
    data = (
        b"From mboxrd@z Thu Jan  1 00:00:00 1970\nSubject: [PATCH] mm: x\n"
        b"Message-ID: <a@b>\n\n>From here on\n>>From two\n"
    )
    (msg,) = mail.split_mbox(data)
    assert mail.body_text(msg) == "From here on\n>From two\n"


def test_versions_are_grouped_and_chosen() -> None:
    def m(version: int, n: int) -> bytes:
        return (
            f"From x@y Thu Jan  1 00:00:00 1970\nSubject: [PATCH v{version} {n}/1] mm: a\n"
            f"Message-ID: <v{version}-{n}@x>\nFrom: A <a@x>\n\nmsg\n\n"
            "Signed-off-by: A <a@x>\n---\n"
            "--- a/f.c\n+++ b/f.c\n@@ -1 +1 @@\n-a\n+b\n"
        ).encode()

    data = m(1, 1) + m(2, 1) + m(3, 1)
    assert from_mbox_bytes(data).revision.version == 3
    chosen = from_mbox_bytes(data, 2)
    assert chosen.revision.version == 2 and chosen.versions == (1, 2, 3)
    with pytest.raises(FetchError, match=r"no v7 .*found v1, v2, v3"):
        from_mbox_bytes(data, 7)


def test_diff_paths_sees_every_header_path() -> None:
    diff = (MAIL / "dotdot.eml").read_text().split("---\n", 1)[1]
    assert mail.diff_paths(diff) == {"../outside.c"}


def test_an_endless_mbox_is_refused_not_read_forever() -> None:
    # `--mbox /dev/zero` used to end in a MemoryError traceback (or swap)
    from reviewbot.pipeline.fetch import read_bounded

    with pytest.raises(FetchError, match=r"^/dev/zero: larger than 0 MB, not a patch series$"):
        read_bounded(Path("/dev/zero"), limit=1024)
    with pytest.raises(FetchError, match="Is a directory"):
        read_bounded(Path("/"))


def test_b4_check_refuses_an_endless_stdin(tmp_path: Path) -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    with open("/dev/zero", "rb") as zero:
        done = subprocess.run(
            [sys.executable, "-m", "reviewbot", "b4-check", "--tree", str(tmp_path)],
            stdin=zero,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=root,
            check=False,
        )
    assert done.returncode == 2
    assert done.stderr == "reviewbot: stdin: larger than 256 MB, not one patch mail\n"


def _mail(subject: str, body: str, sender: str = "Lists Bot <bot@example.org>") -> bytes:
    return (
        f"From: {sender}\nTo: linux-mm@kvack.org\nSubject: {subject}\n"
        f"Date: Fri, 20 Nov 2026 10:10:10 +0000\n"
        f"Message-ID: <{abs(hash(subject))}@example.org>\n\n{body}"
    ).encode()


DIFF = (
    "---\ndiff --git a/mm/memory.c b/mm/memory.c\n--- a/mm/memory.c\n+++ b/mm/memory.c\n"
    "@@ -1,1 +1,1 @@\n-int nr = 1;\n+int nr = 2;\n"
)


def test_in_body_from_gives_the_author() -> None:
    body = "From: Ada Swapwright <ada@example.org>\n\nCount two pages.\n\nSigned-off-by: Ada\n"
    (msg,) = mail.split_mbox(_mail("[PATCH] mm: demo: count two", body + DIFF))
    item = mail.message_to_item(msg)
    assert item is not None
    assert item.patch.author == "Ada Swapwright <ada@example.org>"
    assert item.patch.body.startswith("Count two pages.")


def test_a_numbered_patch_without_its_diff_arrived() -> None:
    # it used to read as a cover letter, and the report said 2/2 "never arrived"
    mbox = (
        b"From x\n"
        + _mail("[PATCH 1/2] mm: one", "One.\n" + DIFF)
        + b"\nFrom x\n"
        + _mail("[PATCH 2/2] mm: two", "Two, its diff lost on the way.\n")
    )
    revision = from_mbox_bytes(mbox).revision
    assert revision.missing == ()
    assert [p.index for p in revision.patches] == [1, 2]
    assert revision.patches[1].diff_text == ""


def test_a_series_of_99999999_patches_is_no_series() -> None:
    # "[PATCH 1/99999999]" used to list 99999998 missing patches: 73 s and 4 GB
    raw = _mail("[PATCH 1/99999999] mm: demo: count two", "Count two.\n" + DIFF)
    parsed = mail.parse_mails(mail.split_mbox(raw), "t")
    (revision,) = parsed.revisions.values()
    assert (revision.total, revision.missing, len(revision.patches)) == (1, (), 1)
    info = mail.parse_subject("[PATCH v2 3/10000] x")
    assert (info.version, info.index, info.total) == (2, 1, 1)
    assert mail.parse_subject("[PATCH v2 0003/9999] x").index == 3


def test_a_version_of_5000_digits_is_no_version() -> None:
    # int() refuses 4300 digits: the patch was skipped, "1 mail(s) but no patches"
    subject = "[PATCH v" + "9" * 5000 + " 2/2] mm: demo: count two"
    assert mail.parse_subject(subject).version == 1
    parsed = mail.parse_mails(mail.split_mbox(_mail(subject, "Count two.\n" + DIFF)), "t")
    assert [(p.index, p.total) for p in parsed.revisions[1].patches] == [(2, 2)]
    assert not parsed.notes
    from reviewbot.watch.mail import parse_mail

    info = parse_mail(_mail("[PATCH 1/" + "9" * 5000 + "] x", "x\n" + DIFF))
    assert info is not None and (info.version, info.index, info.total) == (1, 1, 1)
    # the watcher's group of "[PATCH 1/99999999]" was complete() over a set of 10^8
    info = parse_mail(_mail("[PATCH 1/99999999] x", "x\n" + DIFF))
    assert info is not None and info.total == 1


_LYING_HUNK = (
    "---\ndiff --git a/mm/memory.c b/mm/memory.c\n--- a/mm/memory.c\n+++ b/mm/memory.c\n"
    "@@ -1,5 +1,5 @@\n-zzz\n+b\ndiff --git a/mm/internal.h b/mm/internal.h\n"
    "index 1111111..2222222 100644\n--- a/mm/internal.h\n+++ b/mm/internal.h\n"
    "@@ -1 +1 @@\n-c\n+d\n"
)


@pytest.mark.parametrize(
    "diff",
    [
        # int() refused the count: a traceback out of split_diff
        DIFF.replace("@@ -1,1 +1,1 @@", "@@ -1," + "9" * 5000 + " +1,1 @@"),
        # a hand-edited hunk promising 5 lines, then the next file: IndexError
        _LYING_HUNK,
    ],
    ids=["5000-digits", "lying-count"],
)
def test_b4_check_on_hostile_hunks(mini_tree: Path, diff: str) -> None:
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "reviewbot", "b4-check", "--tree", str(mini_tree)],
        input=_mail("[PATCH] mm: demo: count two", "Count two.\n" + diff),
        capture_output=True,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert b"Traceback" not in done.stderr and done.returncode == 0, done.stderr[-500:]
    assert done.stdout.startswith(b"[")


def test_the_mbox_blank_line_is_not_the_last_line_of_the_diff() -> None:
    # it was: each patch read from an mbox ended its diff with an extra "\n"
    raw = _mail("[PATCH] mm: demo: count two", "Count two.\n" + DIFF)
    (alone,) = mail.split_mbox(raw)
    item = mail.message_to_item(alone)
    assert item is not None and item.patch.diff_text.endswith("+int nr = 2;\n")
    for mbox in (b"From x\n" + raw + b"\n", b"From x\r\n" + raw.replace(b"\n", b"\r\n") + b"\r\n"):
        (msg,) = mail.split_mbox(mbox + mbox)[:1]
        from_mbox = mail.message_to_item(msg)
        assert from_mbox is not None and from_mbox.patch.diff_text == item.patch.diff_text


def test_a_to_or_cc_the_address_parser_refuses_names_nobody() -> None:
    # email.utils.getaddresses made '"a@b"@quoted.example=?utf-8?q?Eve=2C_' and
    # 'eve=40attacker.example' out of this Cc, and check --send mailed them
    cc = '"a@b"@quoted.example=?utf-8?q?Eve=2C_<eve=40attacker.example>?= <eve@example.org>'
    raw = _mail("[PATCH] mm: demo: count two", "Count two.\n" + DIFF).replace(
        b"To: linux-mm@kvack.org\n",
        b"To: linux-mm@kvack.org, Bob <bob@example.org>\nCc: " + cc.encode() + b"\n",
    )
    (msg,) = mail.split_mbox(raw)
    item = mail.message_to_item(msg)
    assert item is not None
    assert item.patch.to == ("linux-mm@kvack.org", "bob@example.org")
    assert item.patch.cc == ()
