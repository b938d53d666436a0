"""Synthetic swap/mm patch series as mbox bytes, for the service tests and benchmarks.

A series has a cover letter (with a ``change-id:`` trailer) and n patches,
each adding a few kernel-style lines to a file under mm/.  A patch listed in
``flagged`` adds a ``/* FIXME */`` line, which the fake pipeline in
``tests/service/fakepipe.py`` reports as a finding.
"""

from __future__ import annotations

import datetime as dt
import email.utils

LIST = "linux-mm@kvack.org"
AUTHOR = "Ada Swapwright <ada@example.org>"


def _mail(headers: dict[str, str], body: str) -> str:
    lines = [f"{k}: {v}" for k, v in headers.items()]
    return "\n".join(lines) + "\n\n" + body.rstrip("\n") + "\n"


def _patch_body(index: int, flagged: bool, path: str) -> str:
    added = [
        f"+\t/* step {index}: keep the swap count in sync with the folio */",
        f"+\tif (unlikely(nr_pages > {index}))",
        "+\t\treturn -EAGAIN;",
    ]
    if flagged:
        added.append(f"+\t/* FIXME batch{index} pte may be stale here */")
    hunk_len = 3 + len(added)
    return "\n".join(
        [
            f"Patch {index} of the series teaches the swap-in path one more step.",
            "",
            f"Signed-off-by: {AUTHOR}",
            "---",
            f" {path} | {len(added)} +",
            "",
            f"diff --git a/{path} b/{path}",
            "index 1111111..2222222 100644",
            f"--- a/{path}",
            f"+++ b/{path}",
            f"@@ -{100 + index},3 +{100 + index},{hunk_len} @@ int swap_step_{index}(int nr_pages)",
            " {",
            "\tint ret = 0;",
            "",
            *added,
            "-- ",
            "2.39.5",
        ]
    )


def series_mails(
    tag: str,
    *,
    version: int = 1,
    n: int = 3,
    flagged: tuple[int, ...] = (1, 3),
    change_id: str | None = "20261126-swap-batch-0123456789ab",
    when: dt.datetime | None = None,
    title: str = "mm: swap: map large folios found in the swap cache in one fault",
    path: str = "mm/swapfile.c",
    with_cover: bool = True,
) -> list[str]:
    """The mails of one revision, cover first; message-ids derive from ``tag``."""
    when = when or dt.datetime(2026, 11, 20, 10, 0, tzinfo=dt.UTC)
    vtag = f" v{version}" if version > 1 else ""
    cover_id = f"{tag}-v{version}-0@example.org"
    mails = []
    if with_cover:
        trailer = (
            "\n---\nbase-commit: 0123456789abcdef0123456789abcdef01234567\n"
            f"change-id: {change_id}\n"
            if change_id
            else ""
        )
        mails.append(
            _mail(
                {
                    "From": AUTHOR,
                    "To": LIST,
                    "Subject": f"[PATCH{vtag} 0/{n}] {title}",
                    "Date": email.utils.format_datetime(when),
                    "Message-Id": f"<{cover_id}>",
                },
                f"This series maps a large folio found in the swap cache in one fault.\n{trailer}",
            )
        )
    first_id = f"{tag}-v{version}-1@example.org"
    for i in range(1, n + 1):
        mid = f"{tag}-v{version}-{i}@example.org"
        root = cover_id if with_cover else first_id
        headers = {
            "From": AUTHOR,
            "To": LIST,
            "Subject": f"[PATCH{vtag} {i}/{n}] mm: swap: step {i} of the batch",
            "Date": email.utils.format_datetime(when + dt.timedelta(seconds=i)),
            "Message-Id": f"<{mid}>",
        }
        if mid != root:
            headers["In-Reply-To"] = f"<{root}>"
            headers["References"] = f"<{root}>"
        mails.append(_mail(headers, _patch_body(i, i in flagged, path)))
    return mails


def mbox(mails: list[str]) -> bytes:
    out = []
    for m in mails:
        out.append("From mboxrd@z Thu Jan  1 00:00:00 1970\n" + m + "\n")
    return "".join(out).encode()
