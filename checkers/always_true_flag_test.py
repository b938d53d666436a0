"""always-true-flag-test: a condition that is constant by construction.

What it finds:
    A test whose value does not depend on its input:

    - ``flags | FLAG`` used as a truth value, with ``FLAG`` a non-zero
      constant: always true (``&`` was meant);
    - ``x & 0`` used as a truth value: always false;
    - ``!x & MASK``: ``!`` binds tighter than ``&``, so this is ``(!x) & MASK``
      (``!(x & MASK)`` was meant; with an even ``MASK`` it is always false);
    - an unsigned variable compared ``< 0`` (never true) or ``>= 0`` (always
      true), as the function declares it (``[always_true] unsigned_types``);
    - a ``bool`` compared ``==``/``!=`` with a value other than 0/1/true/false.

    A constant test is a ``bug`` when it decides a branch or a loop (the
    branch never or always runs); a ``< 0`` that is one operand of a wider
    test is a ``possible-bug`` (that part is dead), a ``nit`` when the test
    also rejects the variable above a bound (``x < 0 || x >= N``: a value
    meant to be negative wraps to a large one and is rejected anyway); a
    ``>= 0`` conjunct only
    repeats what the type says, and a constant part of a ``WARN_ON()`` can
    never fire: both are ``nit``.

Why it matters:
    The compiler folds the test away without a word: the code runs as if the
    branch were unconditional.  In the review of clear_young_dirty_ptes()
    ``if (flags | CYDP_CLEAR_YOUNG)`` made every PTE of a batch old and clean
    whatever the caller asked for; an unsigned ``i >= 0`` loop never ends.

Example:
    for (;;) {
            pte = ptep_get_and_clear(mm, addr, ptep);
            if (flags | CYDP_CLEAR_YOUNG)
                    pte = pte_mkold(pte);
            ...

Fix:
    Test the bit:
            if (flags & CYDP_CLEAR_YOUNG)
                    pte = pte_mkold(pte);
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from tree_sitter import Node, Query, QueryCursor

from checkers.analyses.context import evidence
from checkers.analyses.declared import scalar_types
from checkers.analyses.syntax import TRANSPARENT_CALLS, call_name, line, text, unwrap
from checkers.analyses.tables import names
from checkers.base import CheckerInfo, Confidence, FunctionChecker, TreeView
from checkers.frontend import C_LANGUAGE, FunctionUnit
from reviewbot.models import Finding, Severity

# Only the shapes that can be constant: a capture per candidate, not per operator.
_QUERY = """
(binary_expression operator: "|") @or
(binary_expression operator: "&" right: (number_literal)) @and
(binary_expression left: (number_literal) operator: "&") @and
(binary_expression left: (unary_expression operator: "!") operator: "&") @and
(binary_expression operator: ["<" ">=" ">" "<=" "==" "!="] right: (number_literal)) @cmp
(binary_expression left: (number_literal) operator: ["<" ">=" ">" "<=" "==" "!="]) @cmp
(binary_expression operator: ["==" "!="]
    right: (unary_expression operator: "-" argument: (number_literal))) @cmp
"""
_MACRO = re.compile(r"[A-Z][A-Z0-9_]*")
_BIT_MACROS = frozenset({"BIT", "BIT_ULL", "_BITUL", "_BITULL", "BIT_MASK"})
_LOOPS = ("for_statement", "while_statement", "do_statement")


@cache
def _query() -> Query:
    return Query(C_LANGUAGE, _QUERY)


class AlwaysTrueFlagTest(FunctionChecker):
    info = CheckerInfo(
        id="always-true-flag-test",
        symbol="ALWAYS_TRUE_FLAG_TEST",
        severity=Severity.BUG,
        confidence=Confidence.HIGH,
        message="{expr} is always {value}: {why}.{effect}",
        requires=("syntax",),
    )

    def triggers(self) -> frozenset[str]:
        # checkpatch wants spaces around binary operators: " | " and " & ".
        return frozenset({" | ", " & ", "< 0", ">= 0", "0 >", "0 <=", "bool"})

    def check_function(self, unit: FunctionUnit, tree: TreeView) -> Iterable[Finding]:
        body = unit.node.child_by_field_name("body")
        if body is None:
            return []
        cursor = QueryCursor(_query())
        cursor.set_byte_range(body.start_byte, body.end_byte)
        caps = cursor.captures(body)
        types: dict[str, str] | None = None
        out: list[Finding] = []
        for node in caps.get("or", []):
            hit = _or_constant(node)
            if hit is not None:
                out.append(self._finding(unit, node, "true", hit, _effect(node, True)))
        for node in _unique(caps.get("and", [])):
            if _masks_with_zero(node):
                why = "it masks with 0"
                out.append(self._finding(unit, node, "false", why, _effect(node, False)))
                continue
            hit = _not_and(node)
            if hit is not None:
                out.append(self._not_and(unit, node, hit))
        cmps = caps.get("cmp", [])
        if cmps:
            for node in _unique(cmps):
                if types is None:
                    types = scalar_types(unit.node)
                f = self._comparison(unit, node, types)
                if f is not None:
                    out.append(f)
        return sorted(out, key=lambda f: (f.line, f.message))

    # -- shapes --------------------------------------------------------------
    def _comparison(self, unit: FunctionUnit, node: Node, types: dict[str, str]) -> Finding | None:
        op = _op(node)
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if left is None or right is None:
            return None
        left, right = unwrap(left), unwrap(right)
        if op in ("==", "!="):
            if left.type != "identifier" or types.get(text(left)) not in names(
                "always_true", "bool_types"
            ):
                return None
            value = _literal(right)
            if value is None or value in (0, 1):
                return None
            truth = op == "!="
            why = f"{text(left)} is a bool, it is never {text(right)}"
            return self._finding(unit, node, _word(truth), why, _effect(node, truth))
        # Normalise "0 > x" to "x < 0" and "0 <= x" to "x >= 0".
        if _literal(right) == 0 and op in ("<", ">="):
            var, always = left, op == ">="
        elif _literal(left) == 0 and op in (">", "<="):
            var, always = right, op == "<="
        else:
            return None
        if var.type != "identifier":
            return None
        typ = types.get(text(var))
        if typ is None or not _unsigned(typ):
            return None
        why = f"{text(var)} is {typ}, never negative"
        effect = _effect(node, always)
        severity = Severity.BUG
        if _in_assertion(node):
            # WARN_ON(len < 0 || ...): the assertion just never fires for this part
            severity = Severity.NIT
            effect = " This part of the assertion can never fire."
        elif always and not _decides(node):
            severity = Severity.NIT
            effect = " It only repeats what the type says."
        elif not always and _upper_bound_beside(node, text(var)):
            # "x < 0 || x >= N": a negative x would have wrapped to a huge one,
            # which the bound beside it rejects; only the dead part is left
            severity = Severity.NIT
            effect = (
                " It is dead but harmless: a value meant to be negative wraps to a large one, "
                f"which the upper bound on {text(var)} beside it rejects."
            )
        elif not always and not _decides(node):
            # one operand of a wider test: the rest of it still decides
            severity = Severity.POSSIBLE_BUG
            effect = " That part of the test is dead: was a negative value expected here?"
        return self._finding(unit, node, _word(always), why, effect, severity=severity)

    def _not_and(self, unit: FunctionUnit, node: Node, why: str) -> Finding:
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        assert left is not None and right is not None
        arg = left.child_by_field_name("argument")
        inner = text(arg) if arg is not None else "x"
        meant = f"!({inner} & {text(right)})"
        return self.finding(
            unit,
            line(node),
            Severity.BUG,
            message=(f"{_short(node)} is (!{inner}) & {text(right)}: {why}. {meant} was meant?"),
            evidence=(evidence(unit, line(node), "test"),),
            key=_short(node),
        )

    def _finding(
        self,
        unit: FunctionUnit,
        node: Node,
        value: str,
        why: str,
        effect: str,
        *,
        severity: Severity = Severity.BUG,
    ) -> Finding:
        return self.finding(
            unit,
            line(node),
            severity,
            message=self.info.message.format(
                expr=_short(node), value=value, why=why, effect=effect
            ),
            evidence=(evidence(unit, line(node), "test"),),
            key=_short(node),
        )


def _unique(nodes: list[Node]) -> list[Node]:
    seen: set[tuple[int, int]] = set()
    out = []
    for n in nodes:
        k = (n.start_byte, n.end_byte)
        if k not in seen:
            seen.add(k)
            out.append(n)
    return out


def _or_constant(node: Node) -> str | None:
    """Why ``a | b`` used as a truth value is always true, or None."""
    if not _truth_context(node):
        return None
    left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
    if left is None or right is None:
        return None
    lc, rc = _nonzero_constant(left), _nonzero_constant(right)
    if lc == rc:  # both constant (a macro's business) or neither
        return None
    const = left if lc else right
    return f"{text(const)} is a non-zero constant, so & was meant"


def _masks_with_zero(node: Node) -> bool:
    """``x & 0`` used as a truth value."""
    left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
    if left is None or right is None:
        return False
    return (_literal(right) == 0 or _literal(left) == 0) and _truth_context(node)


def _not_and(node: Node) -> str | None:
    """Why ``!x & MASK`` (unparenthesised) is not the bit test it looks like."""
    left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
    if left is None or right is None:
        return None
    if left.type != "unary_expression" or _op(left) != "!":
        return None
    mask = _literal(right)
    if mask == 1 or not _nonzero_constant(right):
        return None
    if mask is not None and mask % 2 == 0:
        return "!x is 0 or 1 and the mask has no bit 0, so it is always false"
    return "! binds tighter than &"


def _truth_context(node: Node) -> bool:
    """Whether the value of ``node`` is only used as true/false."""
    n = node
    while True:
        p = n.parent
        if p is None:
            return False
        t = p.type
        if t == "parenthesized_expression":
            n = p
            continue
        if t in ("if_statement", "while_statement", "do_statement"):
            return p.child_by_field_name("condition") == n
        if t == "for_statement":
            return p.child_by_field_name("condition") == n
        if t == "conditional_expression":
            return p.child_by_field_name("condition") == n
        if t == "unary_expression":
            return _op(p) == "!"
        if t == "binary_expression":
            return _op(p) in ("&&", "||")
        if t == "argument_list" and p.parent is not None:
            return call_name(p.parent) in TRANSPARENT_CALLS | {"WARN_ON", "BUG_ON", "VM_BUG_ON"}
        return False


def _decides(node: Node) -> bool:
    """Whether a constant test decides a branch or a loop on its own (it is
    the whole condition, or a conjunct of a loop's condition)."""
    n = node
    while True:
        p = n.parent
        if p is None:
            return False
        if p.type == "parenthesized_expression" or (
            p.type == "argument_list"
            and p.parent is not None
            and call_name(p.parent) in TRANSPARENT_CALLS
        ):
            n = p
            continue
        if p.type == "call_expression":
            n = p
            continue
        if p.type in (*_LOOPS, "if_statement", "conditional_expression"):
            return p.child_by_field_name("condition") == n
        if p.type == "binary_expression" and _op(p) == "&&":
            # a conjunct of a loop condition still ends (or not) the loop
            return _loop_condition(p)
        return False


def _upper_bound_beside(node: Node, var: str) -> bool:
    """``node`` is an operand of an ``||`` chain that also rejects ``var`` above
    a bound (``var > E``, ``var >= E``, ``E < var``, ``E <= var``)."""
    top = node
    while top.parent is not None and (
        top.parent.type == "parenthesized_expression"
        or (top.parent.type == "binary_expression" and _op(top.parent) == "||")
    ):
        top = top.parent
    if top is node:
        return False
    stack = [top]
    while stack:
        n = stack.pop()
        if n.type == "parenthesized_expression":
            stack.extend(n.named_children)
            continue
        if n.type != "binary_expression":
            continue
        op = _op(n)
        if op == "||":
            stack.extend(
                c for c in (n.child_by_field_name("left"), n.child_by_field_name("right")) if c
            )
            continue
        left, right = n.child_by_field_name("left"), n.child_by_field_name("right")
        if left is None or right is None:
            continue
        left, right = unwrap(left), unwrap(right)
        if op in (">", ">=") and left.type == "identifier" and text(left) == var:
            return True
        if op in ("<", "<=") and right.type == "identifier" and text(right) == var:
            return True
    return False


def _in_assertion(node: Node) -> bool:
    """Inside WARN_ON()/BUG_ON()/VM_WARN_ON()... (their condition, at any depth)."""
    p = node.parent
    while p is not None and not p.type.endswith("statement"):
        if p.type == "call_expression":
            name = call_name(p) or ""
            if name.startswith(("WARN", "BUG_ON", "VM_BUG_ON", "VM_WARN")):
                return True
        p = p.parent
    return False


def _loop_condition(node: Node) -> bool:
    n = node
    while n.parent is not None:
        p = n.parent
        if p.type in _LOOPS:
            return p.child_by_field_name("condition") == n
        if p.type == "parenthesized_expression" or (
            p.type == "binary_expression" and _op(p) == "&&"
        ):
            n = p
            continue
        return False
    return False


def _effect(node: Node, value: bool) -> str:
    """What the constant does to the code around it."""
    n = _climb_wrappers(node)
    p = n.parent
    if p is None:
        return ""
    if p.type == "if_statement" and p.child_by_field_name("condition") == n:
        if value:
            alt = p.child_by_field_name("alternative")
            extra = f"; the else branch at line {line(alt)} never does" if alt is not None else ""
            return f" The branch at line {line(p)} always runs{extra}."
        return f" The branch at line {line(p)} never runs."
    if p.type in _LOOPS and p.child_by_field_name("condition") == n:
        if value:
            return f" The loop at line {line(p)} never stops on this test."
        return f" The loop at line {line(p)} never runs its body again."
    return ""


def _climb_wrappers(node: Node) -> Node:
    """From an expression up through ``(...)`` and ``unlikely(...)``."""
    n = node
    while n.parent is not None:
        p = n.parent
        if p.type == "parenthesized_expression":
            n = p
        elif (
            p.type == "argument_list"
            and p.parent is not None
            and call_name(p.parent) in TRANSPARENT_CALLS
            and p.named_child_count == 1
        ):
            n = p.parent
        else:
            break
    return n


def _nonzero_constant(node: Node) -> bool:
    node = unwrap(node)
    while node.type == "cast_expression":
        value = node.child_by_field_name("value")
        if value is None:
            return False
        node = unwrap(value)
    if node.type == "number_literal":
        v = _literal(node)
        return v is not None and v != 0
    if node.type == "identifier":
        return _MACRO.fullmatch(text(node)) is not None
    if node.type == "call_expression":
        return call_name(node) in _BIT_MACROS
    if node.type == "binary_expression" and _op(node) in ("<<", "|"):
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if _op(node) == "<<":
            return left is not None and _literal(left) not in (None, 0)
        return (
            left is not None
            and right is not None
            and (_nonzero_constant(left) or _nonzero_constant(right))
        )
    return False


def _literal(node: Node) -> int | None:
    node = unwrap(node)
    t = text(node)
    if node.type == "true":
        return 1
    if node.type == "false":
        return 0
    if node.type == "unary_expression" and _op(node) == "-":
        arg = node.child_by_field_name("argument")
        v = _literal(arg) if arg is not None else None
        return -v if v is not None else None
    if node.type != "number_literal":
        return None
    t = t.rstrip("uUlL")
    try:
        return int(t, 0)
    except ValueError:
        return None


def _unsigned(typ: str) -> bool:
    words = typ.split()
    return "unsigned" in words or typ in names("always_true", "unsigned_types")


def _op(node: Node) -> str:
    op = node.child_by_field_name("operator")
    return text(op) if op is not None else ""


def _word(value: bool) -> str:
    return "true" if value else "false"


def _short(node: Node) -> str:
    s = " ".join(text(node).split())
    return s if len(s) <= 60 else s[:57] + "..."
