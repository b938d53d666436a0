"""Hypothesis over whole mboxes and diffs from strangers (reviewbot.mail, pipeline.hunks).

Bytes are built from the pieces that break readers: From_ lines and their
mboxrd quoting, MIME boundaries that lie, base64 and quoted-printable bodies,
charsets that do not exist, NULs, CRLF, subjects with absurd counters, diffs
with ``..`` paths, ``\\ No newline``, binary markers and giant ``@@`` numbers.
Whatever comes in: only FetchError leaves ``parse_mails``, in bounded time; a
series that reads has a bounded list of missing patches; every path a hunk
would write was seen by ``diff_paths`` (the ``../`` refusal reads those); and
an mbox written by reviewbot itself gives back each mail as it reads alone.
The budget is fixed (derandomized), so CI runs the same cases every time.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reviewbot import mail
from reviewbot.commands.b4_check import read_patch
from reviewbot.errors import FetchError
from reviewbot.pipeline.fetch import as_mboxrd
from reviewbot.pipeline.hunks import split_diff
from reviewbot.watch.series import to_mboxrd
from tests.support.deadline import deadline

SETTINGS = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


_SUBJECTS = st.sampled_from(
    [
        "[PATCH] mm: x",
        "[PATCH v2 1/3] mm: x",
        "[PATCH 0/3] mm: cover",
        "[PATCH 1/99999999] mm: x",
        "[PATCH v" + "9" * 5000 + " 1/2] x",
        "[PATCH 9999/9999] x",
        "[PATCH 5/3] x",
        "[PATCH 0001/0002] x",
        "Re: [PATCH 1/2] x",
        "[RFC PATCH v0 0/0] x",
        "=?utf-8?b?W1BBVENIIDEvMl0geA==?=",
        "=?bogus?q?x?=",
        "[",
        "]]]][[[",
    ]
)

_PATHS = st.sampled_from(
    [
        "mm/memory.c",
        "../outside.c",
        "mm/../../x",
        "/etc/passwd",
        ".git/config",
        "a b/c.c",
        "mm/x.c\t2026-01-01",
        '"mm/\\056\\056/x"',
        "mm/é.c",
        "",
    ]
)


@st.composite
def _diffs(draw: st.DrawFn) -> str:
    out = []
    for _ in range(draw(st.integers(0, 3))):
        old, new = draw(_PATHS), draw(_PATHS)
        out.append(f"diff --git a/{old} b/{new}\n")
        out.extend(
            draw(
                st.lists(
                    st.sampled_from(
                        [
                            "new file mode 100644\n",
                            "deleted file mode 100644\n",
                            f"rename from {old}\nrename to {new}\n",
                            "index 1111111..2222222 100644\n",
                            "GIT binary patch\nliteral 5\nMcmZ?\n\n",
                            f"Binary files a/{old} and b/{new} differ\n",
                        ]
                    ),
                    max_size=2,
                )
            )
        )
        if draw(st.booleans()):
            out.append(f"--- a/{old}\n+++ b/{new}\n")
        for _ in range(draw(st.integers(0, 3))):
            nums = draw(
                st.lists(
                    st.one_of(
                        st.integers(0, 12).map(str),
                        st.sampled_from(["99999999999999999999", "9" * 5000, "4294967296"]),
                    ),
                    min_size=4,
                    max_size=4,
                )
            )
            out.append(f"@@ -{nums[0]},{nums[1]} +{nums[2]},{nums[3]} @@ fn(void)\n")
            out.extend(
                draw(
                    st.lists(
                        st.sampled_from(
                            [
                                " ctx\n",
                                "-old\n",
                                "+new\n",
                                "\n",
                                "\\ No newline at end of file\n",
                                "--- a/../sneaky\n",
                                "+++ b/../sneaky\n",
                                "+x\x00y\n",
                                " crlf\r\n",
                                "-- \n",
                                "From evil\n",
                            ]
                        ),
                        max_size=8,
                    )
                )
            )
    return "".join(out)


_HEADERS = st.lists(
    st.sampled_from(
        [
            "From: A <a@example.org>\n",
            "From: =?utf-8?q?A=00?= <a@example.org>, b@example.org\n",
            "To: linux-mm@kvack.org\n",
            "Cc: " + ", ".join(f"c{i}@example.org" for i in range(50)) + "\n",
            "References: <r1@x> <r2@x>\n",
            "In-Reply-To: <p@x>\n",
            "Content-Type: multipart/mixed; boundary=zz\n",
            "Content-Type: text/plain; charset=x-no-such\n",
            "Content-Type: text/plain; charset=utf-16\n",
            "Content-Transfer-Encoding: base64\n",
            "Content-Transfer-Encoding: quoted-printable\n",
            "MIME-Version: 1.0\n",
            "X-Long: " + "x" * 20_000 + "\n",
            "X-Folded: a\n b\n\tc\n",
            "Date: not a date\n",
        ]
    ),
    max_size=5,
)


@st.composite
def _mails(draw: st.DrawFn) -> bytes:
    head = f"Message-ID: <m{draw(st.integers(0, 5))}@x>\nSubject: {draw(_SUBJECTS)}\n"
    head += "".join(draw(_HEADERS))
    body = draw(
        st.lists(
            st.sampled_from(
                [
                    "Commit message.\n",
                    "From someone else\n",
                    ">From quoted\n",
                    ">>From twice\n",
                    "From: In Body <ib@example.org>\n",
                    "base-commit: 0123456789abcdef\n",
                    "change-id: 20260101-x\n",
                    "Signed-off-by: A <a@example.org>\n",
                    "---\n",
                    "--zz\nContent-Type: text/x-patch\n\n",
                    "--zz--\n",
                    "=E9t=E9=\n",
                    "bm90IGJhc2U2NA==\n",
                    "\x00\x00\n",
                    "\r\n",
                ]
            ),
            max_size=6,
        )
    )
    text = head + "\n" + "".join(body) + draw(_diffs())
    raw = text.encode("utf-8", "surrogatepass")
    return raw + draw(st.binary(max_size=20))


@st.composite
def _mboxes(draw: st.DrawFn) -> bytes:
    mails = draw(st.lists(_mails(), max_size=4))
    sep = draw(st.sampled_from([b"From x\n", b"From mboxrd@z Thu Jan  1 00:00:00 1970\n", b""]))
    return b"".join(sep + m + b"\n" for m in mails) + draw(st.binary(max_size=10))


@SETTINGS
@given(data=_mboxes())
def test_any_mbox_reads_or_says_why(data: bytes) -> None:
    with deadline(10):
        messages = mail.split_mbox(data)
        try:
            parsed = mail.parse_mails(messages, "fuzz")
        except FetchError as exc:
            assert str(exc).startswith("fuzz: ") and "\n" not in str(exc)
            return
    for version, rev in parsed.revisions.items():
        assert rev.version == version and rev.patches
        assert len(rev.missing) < 10_000 and rev.total < 10_000
        indices = [p.index for p in rev.patches]
        assert indices == sorted(set(indices))
        assert not set(indices) & set(rev.missing)
    assert all(len(t.refs) <= mail.MAX_REFS for t in parsed.thread)


@SETTINGS
@given(diff=_diffs())
def test_every_path_a_hunk_writes_is_one_diff_paths_saw(diff: str) -> None:
    seen = mail.diff_paths(diff)
    for section in split_diff(diff):
        for path in (section.old_path, section.new_path):
            assert path is None or path in seen, (path, seen)
        for i in range(len(section.hunks)):
            assert section.hunk_header(i).startswith("@@ -")
    mail.parse_diff(diff)  # unidiff's reading (for the checkers): never a traceback


@SETTINGS
@given(data=st.one_of(_mboxes(), st.binary(max_size=200)))
def test_b4_check_reads_any_stdin_or_says_why(data: bytes) -> None:
    with deadline(10):
        try:
            item, revision = read_patch(data)
        except FetchError as exc:
            assert str(exc).startswith("stdin: ")
            return
    assert item.patch.diff_text.strip() and revision.patches == (item.patch,)


@st.composite
def _patch_mails(draw: st.DrawFn) -> list[bytes]:
    n = draw(st.integers(1, 4))
    out = []
    for k in range(1, n + 1):
        body = "".join(
            draw(
                st.lists(
                    st.sampled_from(
                        [
                            "Plain words.\n",
                            "From a line that looks like an mbox separator\n",
                            ">From a quoted one\n",
                            ">>From a twice quoted one\n",
                            "From \n",
                            "\n",
                            "é ü\n",
                        ]
                    ),
                    max_size=6,
                )
            )
        )
        context = draw(st.sampled_from([" From here\n", " >From there\n", " x\n"]))
        out.append(
            (
                f"From: A <a@example.org>\nSubject: [PATCH {k}/{n}] mm: part {k}\n"
                f"Message-ID: <p{k}@example.org>\nContent-Type: text/plain; charset=utf-8\n\n"
                f"Part {k}.\n{body}\nSigned-off-by: A <a@example.org>\n---\n"
                f"diff --git a/mm/f{k}.c b/mm/f{k}.c\n--- a/mm/f{k}.c\n+++ b/mm/f{k}.c\n"
                f"@@ -1,2 +1,2 @@\n{context}-a\n+b\n"
            ).encode()
        )
    return out


def _alone(raw: bytes) -> tuple[int, str, str, str]:
    msg = mail.parse_message(raw)
    assert msg is not None
    item = mail.message_to_item(msg)
    assert item is not None
    p = item.patch
    return p.index, p.message_id, p.body, p.diff_text


@SETTINGS
@given(mails=_patch_mails())
def test_an_mbox_reviewbot_wrote_gives_back_every_mail(mails: list[bytes]) -> None:
    alone = [_alone(m) for m in mails]
    for mbox in (as_mboxrd(mails), to_mboxrd(m.decode() for m in mails)):
        (rev,) = mail.parse_mails(mail.split_mbox(mbox), "fuzz").revisions.values()
        assert rev.missing == ()
        got = [(p.index, p.message_id, p.body, p.diff_text) for p in rev.patches]
        assert got == alone
