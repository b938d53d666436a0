"""Where an expression *uses* a pointer in a way that needs it valid.

A use is a dereference (``*p``, ``p->f``, ``p[i]``), pointer arithmetic
(``p - idx``, ``p++``), or passing it as the pte argument of a function that
dereferences it (``ptep_get(p)``, ``set_ptes(mm, addr, p, pte, nr)``; the
table is in checkers/data/kernel.toml).  Tests (``!p``, ``p && ...``,
``p == q``) are not uses.
"""

from __future__ import annotations

from dataclasses import dataclass

from tree_sitter import Node

from checkers.analyses.knowledge import knowledge
from checkers.analyses.syntax import TRANSPARENT_CALLS, call_args, call_name, key, text, walk


@dataclass(frozen=True)
class Use:
    var: str  # the key of the used lvalue
    node: Node
    how: str  # "deref", "arith", "call"
    callee: str = ""
    index: int = -1  # argument position, for "call"
    known: bool = True  # the callee is in the deref table (not a guess from any_call)

    @property
    def describe(self) -> str:
        if self.how == "call":
            return f"{self.callee}()"
        if self.how == "arith":
            return "pointer arithmetic"
        return "a dereference"


def uses_in(ast: Node, names: set[str], any_call: bool = False) -> list[Use]:
    """Uses of any lvalue in ``names`` (keys) inside ``ast``, in source order.

    With ``any_call`` every call argument counts, not only the pte argument of
    a known dereferencing function."""
    if not names:
        return []
    raw = ast.text or b""
    if not any(n.split("->")[-1].split(".")[-1].encode() in raw for n in names):
        return []
    deref = knowledge().deref
    out: list[Use] = []
    for n in walk(ast):
        if n.type not in ("identifier", "field_expression"):
            continue
        k = key(n)
        if k not in names:
            continue
        parent = n.parent
        if parent is None:
            continue
        how = ""
        callee = ""
        pt = parent.type
        if pt == "pointer_expression" and _op(parent) == "*":
            how = "deref"
        elif pt == "field_expression" and parent.child_by_field_name("argument") == n:
            how = "deref" if _op(parent) == "->" else ""
        elif pt == "subscript_expression" and parent.child_by_field_name("argument") == n:
            how = "deref"
        elif (pt == "binary_expression" and _op(parent) in ("+", "-")) or pt == "update_expression":
            how = "arith"
        elif pt == "argument_list" and parent.parent is not None:
            call = parent.parent
            name = call_name(call) or ""
            args = call_args(call)
            idx = next((i for i, a in enumerate(args) if a == n), -1)
            if name in TRANSPARENT_CALLS or n == ast:
                continue  # likely(pte): a test, not a use
            if name in deref and deref[name] == idx:
                out.append(Use(k, n, "call", name, idx))
            elif any_call and name and idx >= 0:
                out.append(Use(k, n, "call", name, idx, known=False))
            continue
        if how:
            out.append(Use(k, n, how, callee))
    out.sort(key=lambda u: u.node.start_byte)
    return out


def _op(node: Node) -> str:
    op = node.child_by_field_name("operator")
    return text(op) if op is not None else ""
