"""Turn a Review into what people read: reply mails and a terminal summary.

A reply imitates an mm reviewer on the list (see the seed thread): it
quotes only the hunk lines a finding is about, elides the rest with
"[...]", puts each finding under its line prefixed ``bug:``, ``possible
bug?:``, ``nit:`` or ``question:``, wraps at 78 columns and threads onto
the patch.  Its Message-ID is deterministic (revision, patch, content), so
rendering twice never makes two different mails.
"""

from __future__ import annotations

import email.policy
import email.utils
import hashlib
import os
import re
import textwrap
from dataclasses import dataclass, field, replace
from email.message import EmailMessage

from reviewbot import __version__
from reviewbot.identity import pair_findings
from reviewbot.models import (
    ApplyStatus,
    Finding,
    HunkLine,
    Patch,
    Review,
    Severity,
    simulation_not_run,
)
from reviewbot.pipeline import coverage, partial

WIDTH = 78
CONTEXT = 3  # quoted lines before the one a finding is about
DEFAULT_FROM = "reviewbot <reviewbot@reviewbot.invalid>"
BASE_SOURCE_WORDS = coverage.BASE_SOURCE_WORDS


@dataclass(frozen=True)
class ReplyMail:
    message_id: str  # without angle brackets
    in_reply_to: str
    references: tuple[str, ...]
    subject: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    body: str
    sender: str = DEFAULT_FROM
    finding_ids: tuple[str, ...] = field(default=())
    # people who replied in the patch's thread (Cc after ``cc``; mailed under
    # the recipients cap before the patch's own To/Cc, reviewbot.addresses.choose)
    thread: tuple[str, ...] = field(default=())

    def as_message(self) -> EmailMessage:
        # Message-IDs are not folded: some tools read them back with the fold.
        msg = EmailMessage(policy=email.policy.SMTP.clone(max_line_length=998))
        msg["From"] = self.sender
        if self.to:
            msg["To"] = ", ".join(self.to)
        cc = list(dict.fromkeys([*self.cc, *(t for t in self.thread if t not in self.to)]))
        if cc:
            msg["Cc"] = ", ".join(cc)
        msg["Subject"] = self.subject
        msg["Message-ID"] = f"<{self.message_id}>"
        msg["In-Reply-To"] = f"<{self.in_reply_to}>"
        msg["References"] = " ".join(f"<{r}>" for r in self.references)
        msg["X-Reviewbot-Findings"] = " ".join(self.finding_ids)
        msg.set_content(self.body, cte="8bit" if not self.body.isascii() else "7bit")
        return msg

    def as_bytes(self) -> bytes:
        return self.as_message().as_bytes()


def _sender() -> str:
    return os.environ.get("REVIEWBOT_FROM", DEFAULT_FROM)


def _domain(sender: str) -> str:
    addr = email.utils.parseaddr(sender)[1]
    return addr.rpartition("@")[2] or "reviewbot.invalid"


# -- locating a finding in its patch ------------------------------------------


@dataclass(frozen=True)
class Anchor:
    file_index: int
    hunk_index: int
    line_index: int


def locate(
    patch: Patch, finding: Finding, shifts: dict[tuple[int, int], int] | None = None
) -> Anchor | None:
    """The hunk line a finding is about.

    The finding's line is in the end-of-series file; ``shifts`` says how far
    each hunk moved from its ``@@`` numbers when it landed there (an offset
    tree, an earlier patch that grew the file).  A line whose text matches
    the finding's evidence at that line wins over a bare line-number match.
    """
    texts = {
        " ".join(e.text.split()) for e in finding.evidence if e.line == finding.line and e.text
    }
    best: tuple[int, Anchor] | None = None
    for fi, fd in enumerate(patch.files):
        if finding.file not in (fd.new_path, fd.old_path) or not finding.file:
            continue
        for hi, hunk in enumerate(fd.hunks):
            shift = (shifts or {}).get((fi, hi), 0)
            for li, ln in enumerate(hunk.lines):
                if ln.kind == "-" or ln.new_lineno is None:
                    continue
                distance = abs(ln.new_lineno + shift - finding.line)
                if texts and " ".join(ln.text.split()) in texts:
                    score = distance
                elif distance == 0:
                    score = 10_000
                else:
                    continue
                if best is None or score < best[0]:
                    best = (score, Anchor(fi, hi, li))
    return best[1] if best else None


def _quote(line: HunkLine) -> str:
    return f"> {line.kind}{line.text}".rstrip()


def comment(
    finding: Finding, previous_ids: set[str] | None = None, previous_version: int | None = None
) -> str:
    text = f"{finding.severity.prefix} {finding.message}"
    if previous_ids is not None and finding.id in previous_ids:
        text += f" (still present since v{previous_version})"
    # A no-break space keeps "[id" and its value on one line; textwrap only
    # breaks on ASCII whitespace.
    text += f"  [id\xa0{finding.id}]"
    paragraphs = text.split("\n\n")
    # A simulated run keeps its "Reproduce:" command on a line of its own.
    # One reproducer is enough to make the point; more make a long mail.
    if finding.simulated:
        paragraphs.append(finding.simulated[0])
        if len(finding.simulated) > 1:
            more = len(finding.simulated) - 1
            paragraphs.append(
                f"({more} other simulated case{'s' if more > 1 else ''} fail"
                f"{'' if more > 1 else 's'} the same way: reviewbot simulate lists them.)"
            )
    return "\n\n".join(
        "\n".join(
            # a command line is pasted, not read: never wrap it
            line
            if line.startswith("Reproduce: ")
            else textwrap.fill(line, WIDTH, break_long_words=False, break_on_hyphens=False)
            for line in p.split("\n")
        )
        for p in paragraphs
    ).replace("\xa0", " ")


def _general_block(f: Finding, prev_ids: set[str] | None, prev_version: int | None) -> list[str]:
    """A finding on no line of the patch's hunks (the mail, or a line the
    patch leaves alone)."""
    out: list[str] = []
    quoted = [e.text for e in f.evidence if e.role == "quoted" and e.text]
    out += [f"> {t}".rstrip() for t in quoted]
    if not quoted and f.file and f.line:
        # The line is outside the patch's hunks: say where, and show it
        # indented, not quoted, so as not to pretend it is the patch's.
        fn = f" in {f.function}()" if f.function else ""
        out.append(f"At {f.file}:{f.line}{fn}, a line this patch leaves as it is:")
        code = next((e.text for e in f.evidence if e.line == f.line and e.text), "")
        if code:
            out += ["", f"\t{code}"]
    if out:
        out.append("")
    return [*out, comment(f, prev_ids, prev_version), ""]


def _ends_statement(text: str) -> bool:
    t = text.strip()
    return not t or t.startswith("#") or t.endswith((";", "{", "}", ":", "*/"))


def _context_start(lines: tuple[HunkLine, ...], li: int, lowest: int) -> int:
    """Where the quote before line ``li`` starts: at most CONTEXT lines, but
    after a blank line when there is one, and never on the tail of a
    statement split over lines (a lone ``vma->vm_end)))`` misleads)."""
    start = max(li - CONTEXT, lowest)
    for i in range(li - 1, start - 1, -1):
        if not lines[i].text.strip():
            return i + 1
    while 0 < start < li and not _ends_statement(lines[start - 1].text):
        start += 1
    return start


def _hunk_block(
    patch: Patch,
    fi: int,
    hi: int,
    at: dict[int, list[Finding]],
    *,
    prev_ids: set[str] | None,
    prev_version: int | None,
) -> list[str]:
    fd = patch.files[fi]
    hunk = fd.hunks[hi]
    out: list[str] = []
    if len(patch.files) > 1:  # say which file the hunk is of
        path = fd.new_path or fd.old_path or ""
        out.append(f"> diff --git a/{fd.old_path or path} b/{path}")
    out.append(f"> {hunk.header}")
    done = -1
    for li in sorted(at):
        start = _context_start(hunk.lines, li, done + 1)
        if start > done + 1 and done >= 0:
            out.append("[...]")
        out += [_quote(ln) for ln in hunk.lines[start : li + 1]]
        out.append("")
        for f in at[li]:
            out += [comment(f, prev_ids, prev_version), ""]
        done = li
    return out


def _quoted_body(
    patch: Patch,
    findings: list[Finding],
    prev_ids: set[str] | None,
    prev_version: int | None,
    shifts: dict[tuple[int, int], int] | None = None,
) -> list[str]:
    """The reply's comments in the order of the file, the way a reviewer reads
    the patch: a finding on a line the patch leaves alone comes between the
    hunks around it, not before all of them."""
    files = {fd.new_path or fd.old_path: i for i, fd in enumerate(patch.files)}
    # (position, is a hunk, lines): mail-level findings first, then by file and line
    blocks: list[tuple[tuple[int, int, int], bool, list[str]]] = []
    anchored: dict[tuple[int, int], dict[int, list[Finding]]] = {}
    for f in findings:
        a = locate(patch, f, shifts)
        if a is None:
            where = (files.get(f.file, len(files)), f.line, 0) if f.file and f.line else (-1, 0, 0)
            blocks.append((where, False, _general_block(f, prev_ids, prev_version)))
        else:
            anchored.setdefault((a.file_index, a.hunk_index), {}).setdefault(
                a.line_index, []
            ).append(f)
    for (fi, hi), at in anchored.items():
        first = (patch.files[fi].hunks[hi].lines[min(at)].new_lineno or 0) + (shifts or {}).get(
            (fi, hi), 0
        )
        blocks.append(
            (
                (fi, first, 1),
                True,
                _hunk_block(patch, fi, hi, at, prev_ids=prev_ids, prev_version=prev_version),
            )
        )
    out: list[str] = []
    previous_was_hunk = False
    for _, is_hunk, text in sorted(blocks, key=lambda b: b[0]):
        if is_hunk and previous_was_hunk:
            out.append("[...]")
        out += text
        previous_was_hunk = is_hunk
    return out


# -- replies ----------------------------------------------------------------


def render_replies(
    review: Review, *, previous: Review | None = None, tool_cmd: str | None = None
) -> list[ReplyMail]:
    """One reply per patch with findings, threaded onto that patch."""
    sender = _sender()
    domain = _domain(sender)
    rev = review.revision
    # Which of this revision's findings were already in the previous one, and
    # which of the previous ones are gone (reviewbot/identity.py decides,
    # as it does for the dashboard).
    still_ids: set[str] | None = None
    fixed: list[Finding] = []
    if previous is not None:
        pairs = pair_findings(previous.findings, review.findings)
        still_ids = {review.findings[i].id for i in pairs}
        kept = {id(f) for f in pairs.values()}
        fixed = [f for f in previous.findings if id(f) not in kept]
    prev_version = previous.revision.version if previous else None
    replies = []
    for patch in rev.patches:
        findings = sorted(
            (f for f in review.findings if f.patch_index == patch.index),
            key=lambda f: (f.file, f.line, f.checker),
        )
        if not findings:
            continue
        source = _series_source(tool_cmd or f"reviewbot check {patch.message_id}")
        findings = [_concrete_reproducer(f, source) for f in findings]
        lines = [f"On {patch.date}, {patch.author} wrote:"]
        lines += _quoted_body(patch, findings, still_ids, prev_version, _shifts(review, patch))
        if previous is not None:
            for old in fixed:
                if old.patch_index == patch.index:
                    total = previous.revision.total or len(previous.revision.patches)
                    gist = _first_sentence(old.message)
                    # Its line numbers are the older revision's: say so, or
                    # they point at the wrong lines of the patch quoted above.
                    lines_of = f", lines of v{prev_version}" if _LINE_REFS.search(gist) else ""
                    lines.append(
                        textwrap.fill(
                            f"Fixed since v{prev_version}: {gist} "
                            f"(v{prev_version} {old.patch_index}/{total}{lines_of}, id {old.id}).",
                            WIDTH,
                            break_on_hyphens=False,
                        )
                    )
                    lines.append("")
        # Else the author reads the reply as a review of the whole series.
        lines += not_reviewed_block(review)
        lines += _footer(review, patch, tool_cmd)
        body = "\n".join(lines) + "\n"
        digest = hashlib.sha1(
            "\0".join([*(p.message_id for p in rev.patches), patch.message_id, body]).encode()
        ).hexdigest()[:8]
        refs = tuple(dict.fromkeys([*patch.references, patch.message_id]))
        to = (patch.author,) if patch.author else ()
        author_addr = email.utils.parseaddr(patch.author)[1]
        cc = tuple(
            a
            for a in dict.fromkeys([*patch.to, *patch.cc])
            if a not in (author_addr, email.utils.parseaddr(sender)[1])
        )
        subject = (
            patch.raw_subject
            or f"[PATCH v{rev.version} {patch.index}/{patch.total}] {patch.subject}"
        )
        replies.append(
            ReplyMail(
                message_id=f"reviewbot.{digest}.v{rev.version}-{patch.index}@{domain}",
                in_reply_to=patch.message_id,
                references=refs,
                subject=subject if subject.lower().startswith("re:") else f"Re: {subject}",
                to=to,
                cc=cc,
                body=body,
                sender=sender,
                finding_ids=tuple(f.id for f in findings),
            )
        )
    return replies


def _shifts(review: Review, patch: Patch) -> dict[tuple[int, int], int]:
    """Where the patch's hunks landed, against their @@ numbers (apply stage)."""
    patches = review.apply.patches if review.apply is not None else ()
    pa = next((p for p in patches if p.index == patch.index), None)
    return {(fi, hi): shift for fi, hi, shift in pa.shifts} if pa else {}


def not_reviewed_block(review: Review) -> list[str]:
    """ "Not reviewed:" and one item per patch or hunk the review did not cover."""
    items = coverage.gaps(review)
    if not items:
        return []
    out = ["Not reviewed:"]
    for item in items:
        out.append(
            textwrap.fill(
                item,
                WIDTH,
                initial_indent="- ",
                subsequent_indent="  ",
                break_long_words=False,
                break_on_hyphens=False,
            )
        )
    return [*out, ""]


def _series_source(check_cmd: str) -> str:
    """The series arguments of a ``reviewbot check ...`` command line."""
    prefix = "reviewbot check "
    return check_cmd[len(prefix) :] if check_cmd.startswith(prefix) else ""


def _concrete_reproducer(finding: Finding, source: str) -> Finding:
    """Render the simulator's "Reproduce: reviewbot simulate ... ..." lines again
    from the finding's reproducers, with the series this review came from, so
    the line can be pasted as it is."""

    def fill(text: str) -> str:
        lines = text.split("\n")
        for case in finding.reproducers:
            lines = [case.line(source) if line == case.line() else line for line in lines]
        return "\n".join(lines)

    if not source or not finding.reproducers:
        return finding
    return replace(
        finding,
        message=fill(finding.message),
        simulated=tuple(fill(s) for s in finding.simulated),
    )


_LINE_REFS = re.compile(r" at (?:line \d+|[\w./-]+:\d+)| \([\w./-]+:\d+\)")


def _first_sentence(text: str) -> str:
    head = text.split("\n", maxsplit=1)[0]
    return head.split(". ")[0].rstrip(".")


def _footer(review: Review, patch: Patch, tool_cmd: str | None) -> list[str]:
    base = "unknown"
    if review.apply is not None:
        words = BASE_SOURCE_WORDS.get(review.apply.base_source, review.apply.base_source)
        base = f"{review.apply.base[:8]} ({words})"
    lines = ["--", f"reviewbot {__version__} on base {base}"]
    if review.simulation is not None:
        # Never more than was run: the cases the simulator could not run are said.
        unsimulated = review.simulation.summary().not_simulated_sentence()
        if unsimulated:
            lines.extend(textwrap.wrap(f"Simulator: {unsimulated}.", WIDTH, break_on_hyphens=False))
    else:
        # nor is a simulator that did not run taken for one that found nothing
        said = simulation_not_run(False, review.notes)
        lines.extend(textwrap.wrap(f"Simulator: {said}.", WIDTH, break_on_hyphens=False))
    return [
        *lines,
        f"Reproduce: {tool_cmd or 'reviewbot check ' + patch.message_id}",
        'Wrong? Reply with "reviewbot: invalid <id>" and it will not be raised again.',
    ]


# -- terminal ---------------------------------------------------------------

_COLOURS = {
    Severity.BUG: "\033[1;31m",
    Severity.POSSIBLE_BUG: "\033[33m",
    Severity.QUESTION: "\033[36m",
    Severity.NIT: "\033[2m",
    Severity.NOTE: "\033[2m",
}
_RESET = "\033[0m"


def render_text(review: Review, *, colour: bool = False) -> str:
    """A short summary: what was applied, what was found, what is missing."""

    def paint(sev: Severity, text: str) -> str:
        return f"{_COLOURS[sev]}{text}{_RESET}" if colour else text

    rev = review.revision
    out = [f'v{rev.version} of "{review.series.title}" by {review.series.author}']
    if review.apply is not None:
        words = BASE_SOURCE_WORDS.get(review.apply.base_source, review.apply.base_source)
        out.append(f"base {review.apply.base[:12]} ({words})")
        # three or more missing in a row: one line for the range
        ranges = [
            run
            for run in coverage.runs(
                pa.index for pa in review.apply.patches if pa.status is ApplyStatus.MISSING
            )
            if len(run) >= coverage.MIN_RUN
        ]
        first_of = {run[0]: run for run in ranges}
        in_range = {i for run in ranges for i in run}
        for pa in review.apply.patches:
            if pa.index in first_of:
                run = first_of[pa.index]
                out.append(f"  [{run[0]}-{run[-1]}/{rev.total}] MISSING  (never received)")
            if pa.index in in_range:
                continue
            patch = next((p for p in rev.patches if p.index == pa.index), None)
            subject = patch.subject if patch else "(never received)"
            status = pa.status.value
            if pa.status is not ApplyStatus.APPLIED:
                status = status.upper()
            line = f"  [{pa.index}/{rev.total}] {status:<8} {subject}"
            if pa.status not in (ApplyStatus.APPLIED, ApplyStatus.MISSING):
                line += f"\n               {coverage.status_words(pa)}"
                if pa.failed_hunks:
                    line += "".join(
                        f"\n               - {partial.describe(fh)}" for fh in pa.failed_hunks
                    )
                elif pa.detail:
                    line += f": {pa.detail}"
            out.append(line)
        out.append(coverage.tally(review))
    counts: dict[Severity, int] = {}
    for f in review.findings:
        counts[f.severity] = counts.get(f.severity, 0) + 1
    summary = ", ".join(f"{n} {s.value}" for s, n in counts.items()) or "none"
    out.append(f"findings: {summary}")
    for f in review.findings:
        # line 0: about the whole file (a hunk that does not apply), no line to name
        where = (f"{f.file}:{f.line}" if f.line else f.file) if f.file else "(mail)"
        fn = f" {f.function}()" if f.function else ""
        out.append(
            f"  {paint(f.severity, f.severity.prefix)} [{f.patch_index}/{rev.total}] "
            f"{where}{fn}: {f.message}  [id {f.id}]"
        )
    if review.simulation is not None:
        sim = review.simulation.summary()
        out.append(f"simulation of {sim.headline()}" if sim.total else "simulation: no run")
        if sim.not_simulated:
            out.append(f"  {sim.not_simulated_sentence()}")
    for note in review.notes:
        out.append(f"note: {note}")
    return "\n".join(out) + "\n"
