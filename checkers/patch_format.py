"""patch-format: problems a maintainer flags before reading the code.

A PatchChecker: it reads the mail (subject, commit message, trailers) and the
added lines of the diff, nothing of the tree.

What it finds:
    - no ``Signed-off-by:`` trailer at all;
    - no ``Signed-off-by:`` from the patch author (the From: address, or a
      ``From:`` line at the top of the body);
    - a subject without a subsystem prefix (``mm: swap: ...``);
    - a patch with a diff but no commit message;
    - trailing whitespace on added lines.

Why it matters:
    A patch without its author's Signed-off-by cannot be merged (the
    Developer's Certificate of Origin, Documentation/process/
    submitting-patches.rst); maintainers sort and grep by subsystem prefix;
    the commit message is where a reviewer learns why; trailing whitespace is
    rejected by ``git am --whitespace=error`` and by checkpatch.  Each costs a
    round trip on the list.

Example:
    Subject: [PATCH 2/3] map the whole folio on a swap cache hit
    (no commit message, no Signed-off-by, and an added line
    "+<TAB>nr_pages = folio_nr_pages(folio);<SPACE>")

Fix:
    Subject: [PATCH 2/3] mm: swap: map the whole folio on a swap cache hit
    Say why the change is needed, end with
    "Signed-off-by: A Developer <dev@example.org>", and strip the trailing
    whitespace ("git rebase --whitespace=fix").
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Iterable, Iterator

from checkers.base import CheckerInfo, Confidence, PatchChecker
from reviewbot.models import Evidence, Finding, Patch, Severity

# "Signed-off-by: A Developer <dev@example.org>"
_SOB_RE = re.compile(r"^Signed-off-by:\s*(.+?)\s*$", re.M | re.I)
# "mm: swap: entirely map large folios found in swapcache", "mm/swap: ..."
_PREFIX_RE = re.compile(r"^[\w./+-]+(?:[:,]\s*[\w./+-]+)*:\s+\S")
_GENERATED = ("From:", "Subject:", "Date:")


class PatchFormatChecker(PatchChecker):
    """The mail and diff format problems of one patch (see the module docstring)."""

    info = CheckerInfo(
        id="patch-format",
        symbol="PATCH_FORMAT",
        severity=Severity.NIT,
        confidence=Confidence.HIGH,
        message="{problem}",
    )

    def check_patch(self, patch: Patch) -> Iterable[Finding]:
        if patch.index == 0:
            return []  # a cover letter is not a commit
        return list(self._findings(patch))

    def _finding(
        self,
        patch: Patch,
        key: str,
        message: str,
        *,
        file: str = "",
        line: int = 0,
        evidence: tuple[Evidence, ...] = (),
    ) -> Finding:
        return Finding(
            checker=self.info.id,
            severity=self.info.severity,
            file=file,
            line=line,
            function="",
            message=message,
            evidence=evidence,
            key=key,
        )

    def _findings(self, patch: Patch) -> Iterator[Finding]:
        body = patch.body
        sobs = _SOB_RE.findall(body)
        author = email.utils.parseaddr(patch.author)[1].lower()
        if patch.diff_text and not sobs:
            yield self._finding(
                patch,
                "no-sob",
                "no Signed-off-by: in this patch; it cannot be merged without one "
                "(Documentation/process/submitting-patches.rst).",
            )
        elif sobs and author:
            addrs = [email.utils.parseaddr(s)[1].lower() for s in sobs]
            # "From:" in the body overrides the mail's sender (patches sent on
            # behalf of someone else).
            body_from = re.search(r"^From:\s*(.+)$", body, re.M)
            who = email.utils.parseaddr(body_from.group(1))[1].lower() if body_from else author
            if who not in addrs:
                yield self._finding(
                    patch,
                    "author-sob",
                    f"the author <{who}> has no Signed-off-by: here (only {', '.join(sobs)}).",
                    evidence=tuple(Evidence(0, "quoted", f"Signed-off-by: {s}") for s in sobs),
                )
        if patch.subject and not _PREFIX_RE.match(patch.subject):
            yield self._finding(
                patch,
                "subject-prefix",
                f'the subject "{patch.subject}" has no subsystem prefix; '
                f'mm patches read "mm: ..." or "mm/swap: ...".',
                evidence=(Evidence(0, "quoted", f"Subject: {patch.raw_subject or patch.subject}"),),
            )
        if patch.diff_text and not _message_text(body):
            yield self._finding(
                patch,
                "no-message",
                "there is no commit message: say what the patch changes and why.",
            )
        yield from self._whitespace(patch)

    def _whitespace(self, patch: Patch) -> Iterator[Finding]:
        for fd in patch.files:
            path = fd.new_path or fd.old_path or ""
            for hunk in fd.hunks:
                for ln in hunk.lines:
                    if ln.kind == "+" and ln.text != ln.text.rstrip() and ln.new_lineno:
                        yield self._finding(
                            patch,
                            f"trailing-ws:{path}:{ln.text.strip()}",
                            "trailing whitespace.",
                            file=path,
                            line=ln.new_lineno,
                            evidence=(Evidence(ln.new_lineno, "added", ln.text),),
                        )


def _message_text(body: str) -> str:
    """The commit message without trailers and pseudo-headers."""
    lines = []
    for line in body.splitlines():
        s = line.strip()
        if (
            not s
            or s.startswith(_GENERATED)
            or re.match(
                r"^[A-Z][\w-]*-by:|^Link:|^Cc:|"
                r"^Fixes:|^Reported-",
                s,
            )
        ):
            continue
        lines.append(s)
    return " ".join(lines)
