"""Status variables: bounded path sensitivity for correlated branches.

mm code often records *why* it left a path in a status variable and tests it
later instead of the pointer itself (khugepaged)::

    pte = pte_offset_map_lock(mm, &_pmd, address, &ptl);
    if (pte)
            result = isolate(pte);
    else
            result = SCAN_PMD_NULL;
    if (result != SCAN_SUCCEED)
            goto out;
    copy(pte);                      /* pte is not NULL here */

A fact carries the constants assigned to variables since it was created
(``(("result", "SCAN_PMD_NULL"),)``); a condition ``result == C`` then
drops the facts whose recorded constant contradicts it.  Only constants are
recorded (numbers, ``-EAGAIN``, ALL_CAPS names, true/false), so the state stays
small.
"""

from __future__ import annotations

import re

from tree_sitter import Node

from checkers.analyses.syntax import is_lvalue, key, text, unwrap

Status = tuple[tuple[str, str], ...]
_CONST_NAME = re.compile(r"-?[A-Z][A-Z0-9_]*|-?\d+[uUlL]*|-?0x[0-9a-fA-F]+[uUlL]*|true|false")


def constant(node: Node | None) -> str | None:
    if node is None:
        return None
    t = "".join(text(unwrap(node)).split())
    return t if _CONST_NAME.fullmatch(t) else None


def assign(status: Status, var: str, value: str | None) -> Status:
    rest = tuple(p for p in status if p[0] != var)
    if value is None:
        return rest
    return tuple(sorted((*rest, (var, value))))


def tested(atom: Node) -> tuple[str, str, bool] | None:
    """(var, constant, truth of "var == constant") for ``v == C``, ``v != C``,
    or a bare ``v`` (``v != 0``)."""
    atom = unwrap(atom)
    if is_lvalue(atom):
        return key(atom), "0", False
    if atom.type != "binary_expression":
        return None
    op = atom.child_by_field_name("operator")
    left = atom.child_by_field_name("left")
    right = atom.child_by_field_name("right")
    if op is None or left is None or right is None or text(op) not in ("==", "!="):
        return None
    for a, b in ((left, right), (right, left)):
        c = constant(b)
        if c is not None and is_lvalue(unwrap(a)):
            return key(unwrap(a)), c, text(op) == "=="
    return None


def contradicts(status: Status, var: str, const: str, equal: bool) -> bool:
    """Whether a path with ``status`` cannot have ``(var == const) == equal``."""
    for v, c in status:
        if v != var:
            continue
        if equal:
            return c != const and _distinct(c, const)
        return c == const
    return False


def _distinct(a: str, b: str) -> bool:
    # Two different names may still be equal (aliases); numbers and the
    # SCAN_*/-E* enumerators mm uses are distinct in practice.
    return a != b
