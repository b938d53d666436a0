"""unsigned-range-underflow: an address or index subtraction that wraps on some input.

What it finds:
    A subtraction whose operands can be in the wrong order, with nothing on
    the way to it that establishes the order:

    - ``ALIGN_DOWN(end, S) - ALIGN(start, S)`` (also through variables
      assigned from them, ``round_down``/``round_up``, ``& PMD_MASK``):
      wraps when ``start`` and ``end`` lie in one ``S``-aligned block (a
      ``question`` when the block is a page, ``PFN_DOWN(end) - PFN_UP(start)``:
      what is counted in pages is rarely smaller than one);
    - ``x - ALIGN(x, S)`` and ``ALIGN_DOWN(x, S) - x``: wrap whenever ``x``
      is not aligned (``possible-bug``);
    - ``nr - 1`` used as an index, a dereferenced pointer offset or a loop
      start where ``nr`` is an unsigned parameter the function never tests
      against 0 nor passes on to a helper (``question``: can the caller pass
      0?).

    A comparison of the two operands that guards the subtraction (an
    enclosing ``if (start < end)``, a loop condition, or an earlier ``if
    (start >= end) return``) establishes the order.  The rounding helpers are
    listed in ``[unsigned_range]`` of checkers/data/kernel.toml.

Why it matters:
    Addresses and page counts are unsigned: a "negative" range is a huge
    one.  ``nr = (ALIGN_DOWN(end, PMD_SIZE) - ALIGN(start, PMD_SIZE)) >>
    PAGE_SHIFT`` gives about 2^52 pages when the range sits inside one PMD,
    and the loop that follows walks far past the page table.

Example:
    unsigned long hstart = ALIGN(start, PMD_SIZE);
    unsigned long hend = ALIGN_DOWN(end, PMD_SIZE);

    nr_pmds = (hend - hstart) >> PMD_SHIFT;

Fix:
    Establish the order first:
    if (hstart >= hend)
            return 0;
    nr_pmds = (hend - hstart) >> PMD_SHIFT;
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from tree_sitter import Node, Query, QueryCursor

from checkers.analyses.context import evidence
from checkers.analyses.declared import scalar_types
from checkers.analyses.knowledge import knowledge
from checkers.analyses.syntax import (
    assignments,
    call_args,
    call_name,
    key,
    line,
    text,
    unwrap,
    walk,
)
from checkers.analyses.tables import names
from checkers.base import CheckerInfo, Confidence, FunctionChecker, TreeView
from checkers.frontend import C_LANGUAGE, FunctionUnit
from reviewbot.models import Finding, Severity

_RELATIONAL = ("<", "<=", ">", ">=", "==", "!=")
_EXITS = ("return_statement", "goto_statement", "break_statement", "continue_statement")


@cache
def _query() -> Query:
    return Query(C_LANGUAGE, '(binary_expression operator: "-") @sub')


@cache
def _minus_one_query() -> Query:
    return Query(
        C_LANGUAGE,
        '(binary_expression operator: "-" right: (number_literal) @one (#eq? @one "1")) @sub',
    )


# A rounding: (direction "up"/"down", the rounded expression's key, the alignment's text)
Rounding = tuple[str, str, str]


class UnsignedRangeUnderflow(FunctionChecker):
    info = CheckerInfo(
        id="unsigned-range-underflow",
        symbol="UNSIGNED_RANGE_UNDERFLOW",
        severity=Severity.POSSIBLE_BUG,
        confidence=Confidence.MEDIUM,
        message="{what}",
        requires=("syntax",),
    )

    def triggers(self) -> frozenset[str]:
        # Short words that every rounding helper, mask and "nr - 1" contain: few
        # alternatives keep the engine's per-function text test cheap.
        return frozenset({"ALIGN", "round_", "PFN_", "_MASK", " - 1"})

    def check_function(self, unit: FunctionUnit, tree: TreeView) -> Iterable[Finding]:
        body = unit.node.child_by_field_name("body")
        if body is None:
            return []
        # Without a rounding word only "x - 1" can matter: a narrower query.
        rounding = _ROUND_WORDS.search(body.text or b"") is not None
        cursor = QueryCursor(_query() if rounding else _minus_one_query())
        cursor.set_byte_range(body.start_byte, body.end_byte)
        subs = cursor.captures(body).get("sub", [])
        if not subs:
            return []
        roundings: dict[str, Rounding] | None = None
        out: list[Finding] = []
        types: dict[str, str] | None = None
        for sub in subs:
            left, right = sub.child_by_field_name("left"), sub.child_by_field_name("right")
            if left is None or right is None:
                continue
            left, right = unwrap(left), unwrap(right)
            f = None
            if left.type in _ROUNDABLE and right.type in _ROUNDABLE:
                if roundings is None and "identifier" in (left.type, right.type):
                    roundings = _rounded_variables(unit.node)
                f = self._range(unit, sub, left, right, roundings or {})
            if f is None and text(right) == "1":
                if types is None:
                    types = scalar_types(unit.node)
                nr, offset = left, False
                if nr.type == "binary_expression" and _op(nr) == "+":
                    inner = nr.child_by_field_name("right")
                    nr, offset = (unwrap(inner), True) if inner is not None else (nr, False)
                f = self._minus_one(unit, sub, nr, types, offset=offset)
            if f is not None:
                out.append(f)
        return out

    def _range(
        self,
        unit: FunctionUnit,
        sub: Node,
        left: Node,
        right: Node,
        roundings: dict[str, Rounding],
    ) -> Finding | None:
        lr, rr = _rounding(left, roundings), _rounding(right, roundings)
        lk, rk = key(left), key(right)
        sub_page = False
        if rr is not None and rr[0] == "up" and lr is not None and lr[0] == "down":
            if lr[1] == rr[1]:
                wraps = f"{lr[1]} not {_aligned(lr[2])}"
            else:
                wraps = f"{rr[1]} and {lr[1]} in one {_block(rr[2])}"
                sub_page = rr[2] == "PAGE_SIZE" and lr[2] == "PAGE_SIZE"
        elif rr is not None and rr[0] == "up" and lr is None and lk == rr[1]:
            wraps = f"{_show(left)} not {_aligned(rr[2])}"
        elif lr is not None and lr[0] == "down" and rr is None and rk == lr[1]:
            wraps = f"{_show(right)} not {_aligned(lr[2])}"
        else:
            return None
        if _guarded(sub, lk, rk):
            return None
        expr = " ".join(text(sub).split())
        lk, rk = _show(left), _show(right)
        ln = line(sub)
        message = (
            f"{expr} wraps around when {rk} > {lk}, which happens with {wraps}; nothing "
            f"before it establishes {rk} <= {lk}."
        )
        if sub_page:
            # A range inside one page: rare for what is counted in pages (memory
            # regions, firmware tables), so whether it can happen is asked, not said.
            message += " Can the range be smaller than a page here?"
        return self.finding(
            unit,
            ln,
            Severity.QUESTION if sub_page else Severity.POSSIBLE_BUG,
            message=message,
            evidence=(evidence(unit, ln, "subtraction"),),
            key=f"range:{lk}-{rk}",
        )

    def _minus_one(
        self, unit: FunctionUnit, sub: Node, left: Node, types: dict[str, str], *, offset: bool
    ) -> Finding | None:
        if left.type != "identifier":
            return None
        nr = text(left)
        typ = types.get(nr)
        if typ is None or not ("unsigned" in typ.split() or typ in _UNSIGNED):
            return None
        if not _is_parameter(unit.node, nr) or _assigned(unit.node, nr):
            return None
        if not (_dereferenced(sub) if offset else _index_like(sub)):
            return None
        if _tested_against_zero(unit.node, nr):
            return None
        ln = line(sub)
        return self.finding(
            unit,
            ln,
            Severity.QUESTION,
            message=(
                f"{nr} - 1 wraps to the largest {typ} when {nr} is 0, and {unit.name}() never "
                f"tests {nr} against 0: can a caller pass {nr} == 0?"
            ),
            evidence=(evidence(unit, ln, "subtraction"),),
            key=f"minus-one:{nr}",
        )


# Operand shapes that can be (or hold) a rounding.
_ROUNDABLE = frozenset({"identifier", "call_expression", "binary_expression", "number_literal"})
_UNSIGNED = frozenset({"size_t", "pgoff_t", "u32", "u64", "u16", "u8"})


_ROUND_WORDS = re.compile(rb"ALIGN|round_|PFN_|_MASK")


def _rounded_variables(fn: Node) -> dict[str, Rounding]:
    """Variables every assignment of which is one rounding of the same kind."""
    if _ROUND_WORDS.search(fn.text or b"") is None:
        return {}
    seen: dict[str, list[Rounding | None]] = {}
    for target, value, _ in assignments(fn):
        if target.type != "identifier":
            continue
        r = _rounding(unwrap(value), {}) if value is not None else None
        seen.setdefault(text(target), []).append(r)
    out: dict[str, Rounding] = {}
    for var, rs in seen.items():
        first = rs[0]
        if first is not None and all(r is not None and r[0] == first[0] for r in rs):
            out[var] = first
    return out


def _rounding(node: Node, roundings: dict[str, Rounding]) -> Rounding | None:
    node = unwrap(node)
    if node.type == "identifier":
        return roundings.get(text(node))
    name = call_name(node)
    if name is not None:
        args = call_args(node)
        if not args:
            return None
        align = text(args[1]) if len(args) > 1 else "PAGE_SIZE"
        if name in names("unsigned_range", "round_up"):
            return ("up", key(unwrap(args[0])), align)
        if name in names("unsigned_range", "round_down"):
            return ("down", key(unwrap(args[0])), align)
        return None
    if node.type == "binary_expression" and _op(node) == "&":
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if left is not None and right is not None:
            masks = names("unsigned_range", "down_masks")
            if text(right) in masks:
                return ("down", key(unwrap(left)), text(right).replace("MASK", "SIZE"))
            if text(left) in masks:
                return ("down", key(unwrap(right)), text(left).replace("MASK", "SIZE"))
    return None


def _guarded(sub: Node, lk: str, rk: str) -> bool:
    """Whether a comparison of the operands guards the subtraction."""
    n = sub
    while n.parent is not None and n.type != "function_definition":
        p = n.parent
        if p.type in ("if_statement", "while_statement", "for_statement", "do_statement"):
            cond = p.child_by_field_name("condition")
            if cond is not None and cond != n and _compares(cond, lk, rk):
                return True
        if p.type == "conditional_expression":
            cond = p.child_by_field_name("condition")
            if cond is not None and cond != n and _compares(cond, lk, rk):
                return True
        if p.type == "binary_expression" and _op(p) in ("&&", "||"):
            left = p.child_by_field_name("left")
            if left is not None and left != n and _compares(left, lk, rk):
                return True
        if p.type == "compound_statement":
            for sib in p.named_children:
                if sib.start_byte >= n.start_byte:
                    break
                if sib.type == "if_statement":
                    cond = sib.child_by_field_name("condition")
                    if cond is not None and _compares(cond, lk, rk) and _exits(sib):
                        return True
                elif sib.type == "expression_statement" and _compares(sib, lk, rk):
                    # VM_WARN_ON(start > end); BUG_ON(start >= end);
                    return True
        n = p
    return False


def _compares(node: Node, lk: str, rk: str) -> bool:
    for n in walk(node):
        if n.type == "binary_expression" and _op(n) in _RELATIONAL:
            t = key(n)
            if lk in t and rk in t:
                return True
        name = call_name(n)
        if name in ("min", "max", "min_t", "max_t", "clamp"):
            t = key(n)
            if lk in t and rk in t:
                return True
    return False


def _exits(if_stmt: Node) -> bool:
    then = if_stmt.child_by_field_name("consequence")
    if then is None:
        return False
    if then.type in _EXITS:
        return True
    if then.type == "compound_statement" and then.named_child_count:
        return then.named_children[-1].type in _EXITS
    return False


def _is_parameter(fn: Node, name: str) -> bool:
    decl = fn.child_by_field_name("declarator")
    while decl is not None and decl.type != "function_declarator":
        decl = decl.child_by_field_name("declarator")
    params = decl.child_by_field_name("parameters") if decl is not None else None
    if params is None:
        return False
    return any(
        n.type == "identifier" and text(n) == name for p in params.named_children for n in walk(p)
    )


def _assigned(fn: Node, name: str) -> bool:
    return any(
        target.type == "identifier" and text(target) == name for target, _, _ in assignments(fn)
    )


def _index_like(sub: Node) -> bool:
    """``a[nr - 1]``, ``p + nr - 1``, ``i = nr - 1`` as a loop start."""
    p = sub.parent
    while p is not None and p.type == "parenthesized_expression":
        p = p.parent
    if p is None:
        return False
    if p.type == "subscript_expression":
        return True
    if p.type == "binary_expression" and _op(p) == "+":
        return True
    if p.type == "assignment_expression" and p.parent is not None:
        return p.parent.type == "for_statement"
    return False


def _dereferenced(sub: Node) -> bool:
    """``p + nr - 1`` read through: ``*(...)``, or a pte argument of a function
    that dereferences it (``ptep_get(ptep + nr - 1)``)."""
    p = sub.parent
    while p is not None and p.type == "parenthesized_expression":
        p = p.parent
    if p is None:
        return False
    if p.type == "pointer_expression" and _op(p) == "*":
        return True
    if p.type == "argument_list" and p.parent is not None:
        name = call_name(p.parent)
        idx = next((i for i, a in enumerate(call_args(p.parent)) if a == sub), -1)
        return name is not None and knowledge().deref.get(name) == idx
    return False


def _tested_against_zero(fn: Node, name: str) -> bool:
    for n in walk(fn):
        if n.type == "identifier" and text(n) == name:
            p = n.parent
            while p is not None and p.type == "parenthesized_expression":
                p = p.parent
            if p is None:
                continue
            if p.type == "unary_expression" and _op(p) == "!":
                return True
            if p.type == "binary_expression" and _op(p) in _RELATIONAL:
                return True
            if p.type in ("if_statement", "while_statement"):
                return True
            if p.type == "argument_list":
                return True  # WARN_ON(nr), a helper that may check it: not this checker's call
    return False


def _show(node: Node) -> str:
    return " ".join(text(node).split())


def _aligned(align: str) -> str:
    return f"{align}-aligned"


def _block(align: str) -> str:
    return f"{align} block" if align != "PAGE_SIZE" else "page"


def _op(node: Node) -> str:
    op = node.child_by_field_name("operator")
    return text(op) if op is not None else ""
