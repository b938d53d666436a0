"""batch-bit-uniformity: one PTE's software bits applied to a whole batch.

What it finds:
    A batched install (``set_ptes(..., nr)`` with ``nr`` not the constant 1)
    whose template PTE takes per-entry bits from one PTE
    (``if (pte_swp_soft_dirty(vmf->orig_pte)) pte = pte_mksoft_dirty(pte);``,
    uffd-wp, exclusive via ``RMAP_EXCLUSIVE``).  The checker reads the body of
    the batch helper that formed the batch (``swap_pte_batch()``, called
    directly or through a wrapper: the batch facts of
    checkers/analyses/batch_facts.py) in the applied tree and decides per
    bit: guaranteed uniform (a full ``pte_same()`` against an expected entry
    that carries the bit), not guaranteed (cleared or ignored before
    comparing), compensated (an out-parameter such as ``any_shared``
    that the caller reads), or unknown.  Not guaranteed is a possible bug,
    unknown a question, and all guaranteed a note saying why it is safe.

Why it matters:
    If the helper let entries with different soft-dirty or uffd-wp bits into
    the batch, smearing the faulting entry's bits over all of them loses
    soft-dirty tracking (CRIU) or write-protection (userfaultfd) for some
    pages, silently.  The seed reviewer had to ask ("I guess actually that's ok
    because swap_pte_batch() only returns a batch with all these bits the
    same?"); the checker answers from the helper's body.

Example:
    nr = swap_pte_batch(folio_ptep, nr_pages, folio_pte);
    ...
    if (pte_swp_soft_dirty(vmf->orig_pte))
            pte = pte_mksoft_dirty(pte);
    set_ptes(vma->vm_mm, address, ptep, pte, nr);

Fix:
    Make the batch helper compare whole PTEs (``pte_same()``) against an
    expected entry built from the first one with the bits kept
    (``pte_move_swp_offset()``), or take the bits per entry.

Also, any decision for the whole batch taken from the first entry's bits:
    a branch on ``pte_young(ptent)``, ``pte_dirty()``, ``pte_write()``,
    ``pte_soft_dirty()``, ``pte_uffd_wp()``... of the entry the batch helper
    was given, whose body acts on all ``nr`` entries (a TLB flush, clearing
    young/dirty, an accounting choice, a marker install) is checked against
    the helper's facts (checkers/analyses/batch_facts.py): a bit the helper
    ignores (``folio_pte_batch()`` always ignores young and write, dirty and
    soft-dirty with ``FPB_IGNORE_*``) and that no out-parameter
    (``&any_young``) reports back is a possible bug; a bit it compares is a
    note saying why it is safe.

    nr = folio_pte_batch(folio, addr, pte, ptent, max_nr, FPB_IGNORE_DIRTY,
                         NULL, NULL, NULL);
    if (pte_young(ptent) || pte_dirty(ptent))      /* entry 0 only */
            clear_young_dirty_ptes(vma, addr, pte, nr, flags);

Fix:
    Pass ``&any_young, &any_dirty`` and fold them into ``ptent`` first.
"""

from __future__ import annotations

from collections.abc import Iterable

from tree_sitter import Node

from checkers.analyses import batch_facts as bf
from checkers.analyses import summaries as sm
from checkers.analyses.context import evidence
from checkers.analyses.knowledge import Bit, knowledge
from checkers.analyses.syntax import (
    call_args,
    call_name,
    calls_in,
    key,
    line,
    mentions,
    text,
    unwrap,
    walk,
)
from checkers.base import CheckerInfo, Confidence, FunctionChecker, TreeView
from checkers.frontend import FunctionUnit
from reviewbot.models import Finding, Severity

_SEVERITY = {
    sm.NOT_GUARANTEED: Severity.POSSIBLE_BUG,
    sm.UNKNOWN: Severity.QUESTION,
    sm.COMPENSATED: Severity.NOTE,
    sm.GUARANTEED: Severity.NOTE,
}
_ORDER = [sm.NOT_GUARANTEED, sm.UNKNOWN, sm.COMPENSATED, sm.GUARANTEED]


class BatchBitUniformity(FunctionChecker):
    info = CheckerInfo(
        id="batch-bit-uniformity",
        symbol="BATCH_BIT_UNIFORMITY",
        severity=Severity.POSSIBLE_BUG,
        confidence=Confidence.MEDIUM,
        message="the {bits} of {source} {verb} applied to all {nr} entries. {verdict}",
        requires=("summaries",),
    )

    def triggers(self) -> frozenset[str]:
        return frozenset({"set_ptes"}) | knowledge().batch_helpers | {"batch"}

    def check_function(self, unit: FunctionUnit, tree: TreeView) -> Iterable[Finding]:
        out = list(self._templates(unit, tree))
        out.extend(self._decisions(unit, tree))
        return out

    def _decisions(self, unit: FunctionUnit, tree: TreeView) -> list[Finding]:
        """Branches on one entry's bit whose body acts on the whole batch."""
        raw = unit.node.text or b""
        k = knowledge()
        testers = {t: b for b in k.bits for t in b.tests}
        if not mentions(raw, testers) or b"batch" not in raw:
            return []
        sites = [
            st for st in bf.batch_sites(unit, tree) if st.count is not None and st.first is not None
        ]
        if not sites:
            return []
        out = []
        for n in walk(unit.node):
            if n.type != "if_statement":
                continue
            # the batch this branch sees: the closest one formed before it
            before = [st for st in sites if st.call.end_byte <= n.start_byte]
            if not before:
                continue
            site = max(before, key=lambda st: st.call.start_byte)
            assert site.first is not None and site.count is not None
            first, nr = key(unwrap(site.first)), site.count
            cond = n.child_by_field_name("condition")
            if cond is None:
                continue
            bits: list[Bit] = []
            for c in calls_in(cond):
                bit = testers.get(call_name(c) or "")
                args = call_args(c)
                if bit is not None and args and key(unwrap(args[0])) == first and bit not in bits:
                    bits.append(bit)
            if not bits:
                continue
            action = _batch_action(n, nr)
            if action is None:
                continue
            facts = bf.helper_facts(unit, site.helper, tree)
            ignored = facts.ignored_with(site.flags)
            verdicts = {b.name: _decision_verdict(unit, site, facts, ignored, b) for b in bits}
            out.append(
                self._decision_finding(
                    unit, site, facts, branch=n, action=action, nr=nr, verdicts=verdicts
                )
            )
        return out

    def _decision_finding(
        self,
        unit: FunctionUnit,
        site: bf.BatchSite,
        facts: bf.HelperFacts,
        *,
        branch: Node,
        action: Node,
        nr: str,
        verdicts: dict[str, sm.Verdict],
    ) -> Finding:
        worst = min(verdicts.values(), key=lambda v: _ORDER.index(v.verdict))
        names = _join(sorted(verdicts))
        helper = f"{site.helper}()" + (f" ({facts.where})" if facts.where else "")
        via = f" through {site.wrapper}()" if site.wrapper else ""
        first = text(site.first) if site.first is not None else "the first entry"
        alone = " alone" if worst.verdict == sm.NOT_GUARANTEED else ""
        head = (
            f"{unit.name}() decides for all {nr} entries from the {names} "
            f"{'bits' if len(verdicts) > 1 else 'bit'} of {first}{alone} "
            f"({call_name(action)}() at line {line(action)})."
        )
        if worst.verdict == sm.NOT_GUARANTEED:
            bad = [v for v in verdicts.values() if v.verdict == sm.NOT_GUARANTEED]
            tail = (
                f" {helper}{via} does not guarantee the other entries match: "
                + "; ".join(v.reason for v in bad)
                + ". Have it report them (&any_young, &any_dirty...) and fold them into "
                f"{first}, or decide per entry."
            )
        elif worst.verdict == sm.UNKNOWN:
            tail = f" Does {helper} guarantee the others match? reviewbot could not tell: " + (
                worst.reason + "."
            )
        else:
            tail = " That is safe: " + _merge_reasons(list(verdicts.values())) + "."
        ln = line(branch)
        return self.finding(
            unit,
            ln,
            _SEVERITY[worst.verdict],
            message=head + tail,
            evidence=(
                evidence(unit, line(site.call), "batch"),
                evidence(unit, ln, "decision"),
                evidence(unit, line(action), "whole-batch"),
            ),
            key="decision:" + ",".join(f"{b}:{v.verdict}" for b, v in sorted(verdicts.items())),
        )

    def _templates(self, unit: FunctionUnit, tree: TreeView) -> Iterable[Finding]:
        raw = unit.node.text or b""
        if b"set_ptes" not in raw:
            return []
        k = knowledge()
        if not bf.may_form_batch(unit):
            return []
        sites = bf.batch_sites(unit, tree)
        if not sites:
            return []
        out = []
        for install in calls_in(unit.node):
            if call_name(install) != "set_ptes":
                continue
            args = call_args(install)
            if len(args) < 5 or text(unwrap(args[4])) in ("1", "1UL"):
                continue
            propagated = _propagated_bits(unit.node, key(unwrap(args[3])), k.bits)
            if not propagated:
                continue
            out.append(
                self._judge(
                    unit,
                    tree,
                    install,
                    nr=key(unwrap(args[4])),
                    propagated=propagated,
                    site=bf.site_before(sites, install) or sites[0],
                )
            )
        return out

    def _judge(
        self,
        unit: FunctionUnit,
        tree: TreeView,
        install: Node,
        *,
        nr: str,
        propagated: list[tuple[Bit, Node, str]],
        site: bf.BatchSite,
    ) -> Finding:
        helper_name = site.helper
        bits = [b for b, _, _ in propagated]
        verdicts = bf.bit_verdicts(unit, site, bits, tree)
        worst = min(verdicts.values(), key=lambda v: _ORDER.index(v.verdict))
        severity = _SEVERITY[worst.verdict]
        source = propagated[0][2]
        names = _join([b.name for b in bits]) + (" bits" if len(bits) > 1 else " bit")
        text_ = _explain(helper_name, verdicts, worst.verdict)
        ln = line(install)
        ev = [evidence(unit, ln, "installed")]
        ev.extend(evidence(unit, line(n), "bit-source") for _, n, _ in propagated)
        return self.finding(
            unit,
            ln,
            severity,
            message=self.info.message.format(
                bits=names,
                source=source,
                nr=nr,
                verb="are" if len(bits) > 1 else "is",
                verdict=text_,
            ),
            evidence=tuple(ev),
            key=",".join(f"{b}:{v.verdict}" for b, v in sorted(verdicts.items())),
        )


def _merge_reasons(verdicts: list[sm.Verdict]) -> str:
    """One sentence per distinct reason, the bits named once."""
    by: dict[str, list[str]] = {}
    for v in sorted(verdicts, key=lambda v: v.bit):
        by.setdefault(v.reason.replace(v.bit, "{bit}"), []).append(v.bit)
    return "; ".join(r.replace("{bit}", _join(bits)) for r, bits in by.items())


def _batch_action(branch: Node, nr: str) -> Node | None:
    """A call in the branch that is given the batch count (acts on all entries)."""
    for part in ("consequence", "alternative"):
        body = branch.child_by_field_name(part)
        if body is None:
            continue
        for c in calls_in(body):
            for arg in call_args(c):
                a = unwrap(arg)
                if a.type == "unary_expression" and text(a).startswith("-"):
                    inner = a.child_by_field_name("argument")
                    a = unwrap(inner) if inner is not None else a
                if a.type == "identifier" and text(a) == nr:
                    return c
    return None


def _decision_verdict(
    unit: FunctionUnit,
    site: bf.BatchSite,
    facts: bf.HelperFacts,
    ignored: dict[str, str],
    bit: Bit,
) -> sm.Verdict:
    helper = f"{site.helper}()"
    if bit.name in ignored:
        for b, arg in site.out_args:
            t = text(unwrap(arg))
            if b != bit.name or not t.startswith("&"):
                continue
            var = t[1:].strip()
            reads = [
                n
                for n in walk(unit.node)
                if n.type == "identifier" and text(n) == var and n.start_byte > site.call.end_byte
            ]
            if reads:
                return sm.Verdict(
                    bit.name,
                    sm.COMPENSATED,
                    f"{helper} reports any {bit.name} entry through {t}, which "
                    f"{unit.name}() reads at line {line(reads[0])}",
                )
        why = ignored[bit.name]
        how = f"it is called with {why}" if why.startswith("FPB_") else f"it clears it ({why})"
        return sm.Verdict(bit.name, sm.NOT_GUARANTEED, f"{helper} ignores {bit.name}: {how}")
    if facts.where is None:
        return sm.Verdict(bit.name, sm.UNKNOWN, f"the body of {helper} is not in the tree")
    if facts.full_compare:
        return sm.Verdict(
            bit.name,
            sm.GUARANTEED,
            f"{helper} compares whole entries with pte_same() and does not ignore {bit.name}",
        )
    return sm.Verdict(bit.name, sm.UNKNOWN, f"{helper} has no full pte_same() comparison")


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _explain(helper: str, verdicts: dict[str, sm.Verdict], worst: str) -> str:
    by = {v: [x for x in verdicts.values() if x.verdict == v] for v in _ORDER}
    if worst == sm.NOT_GUARANTEED:
        bad = by[sm.NOT_GUARANTEED]
        names = _join([v.bit for v in bad])
        many = len(bad) > 1
        reason = bad[0].reason
        clears = [v.reason.split(" clears ", 1) for v in bad]
        if many and all(len(c) == 2 and c[0] == clears[0][0] for c in clears):
            # "f() clears soft-dirty (...) and uffd-wp (...) before comparing"
            details = [c[1].removesuffix(" before comparing") for c in clears]
            reason = f"{clears[0][0]} clears {_join(details)} before comparing"
        subject = f"{helper}()"
        if reason.startswith(f"{helper}() ("):
            # Name the helper once: "f() (mm/internal.h:82) does not guarantee
            # ...: it clears ...", not "f() does not ...: f() (...) clears".
            where, _, rest = reason[len(helper) + 4 :].partition(") ")
            subject, reason = f"{helper}() ({where})", f"it {rest}"
        return (
            f"{subject} does not guarantee the {names} {'bits are' if many else 'bit is'} "
            f"the same in every entry: {reason}, so entries without "
            f"{'them' if many else 'it'} would gain {'them' if many else 'it'}."
        )
    if worst == sm.UNKNOWN:
        unk = by[sm.UNKNOWN]
        names = _join([v.bit for v in unk])
        return (
            f"Does {helper}() guarantee every entry has the same {names} "
            f"{'bits' if len(unk) > 1 else 'bit'}? "
            f"reviewbot could not tell: {unk[0].reason}."
        )
    parts = []
    if by[sm.GUARANTEED]:
        n = len(by[sm.GUARANTEED])
        reason = by[sm.GUARANTEED][0].reason
        if n > 1:
            reason = reason.replace(
                "carries the bit", "carries both bits" if n == 2 else f"carries all {n} bits"
            )
        parts.append(f"That is safe: {reason}")
    if by[sm.COMPENSATED]:
        c = by[sm.COMPENSATED][0]
        parts.append(("That is safe for " if not parts else "and for ") + f"{c.bit}: {c.reason}")
    return " ".join(parts) + "."


def _propagated_bits(fn: Node, template: str, bits: tuple[Bit, ...]) -> list[tuple[Bit, Node, str]]:
    """Bits tested on one PTE and set into the template (or marked)."""
    out: list[tuple[Bit, Node, str]] = []
    fn_text = fn.text or b""
    testers = {t for b in bits for t in b.tests}
    branches: list[tuple[Node, Node, str]] = []  # (tester call, consequence, tester name)
    tests_anywhere: dict[str, Node] = {}
    for n in walk(fn):
        if n.type == "call_expression":
            name = call_name(n)
            if name in testers:
                tests_anywhere.setdefault(name, n)
        elif n.type == "if_statement":
            cond = n.child_by_field_name("condition")
            then = n.child_by_field_name("consequence")
            if (
                cond is None
                or then is None
                or not any(t.encode() in (cond.text or b"") for t in testers)
            ):
                continue
            for c in calls_in(cond):
                name = call_name(c)
                if name in testers:
                    branches.append((c, then, name))
    for bit in bits:
        found = None
        for tester, then, name in branches:
            if name not in bit.tests:
                continue
            sets = any(
                call_name(c) in bit.set and any(key(unwrap(a)) == template for a in call_args(c))
                for c in calls_in(then)
            )
            marks = any(m.encode() in (then.text or b"") for m in bit.marks)
            if sets or marks:
                found = tester
                break
        if found is None and bit.marks and any(m.encode() in fn_text for m in bit.marks):
            # exclusive = pte_swp_exclusive(orig); ... rmap_flags |= RMAP_EXCLUSIVE
            found = next(
                (tests_anywhere[t] for t in sorted(bit.tests) if t in tests_anywhere), None
            )
        if found is not None:
            args = call_args(found)
            out.append((bit, found, key(args[0]) if args else "the faulting entry"))
    return out
