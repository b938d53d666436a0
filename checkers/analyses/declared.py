"""The declared scalar type of a function's parameters and locals.

Only what the function itself declares is known: ``unsigned long nr`` as a
parameter or a local.  A name declared twice with different types (two
scopes) or as a pointer or array is left out, so a caller never decides
on a type it cannot see.
"""

from __future__ import annotations

from functools import cache

from tree_sitter import Node, Query, QueryCursor

from checkers.analyses.syntax import text
from checkers.frontend import C_LANGUAGE


@cache
def _query() -> Query:
    return Query(C_LANGUAGE, "[(declaration) (parameter_declaration)] @decl")


def scalar_types(fn: Node) -> dict[str, str]:
    """name -> whitespace-normalised type text, for scalars the function declares."""
    seen: dict[str, set[str]] = {}
    cursor = QueryCursor(_query())
    for n in cursor.captures(fn).get("decl", []):
        typ = n.child_by_field_name("type")
        if typ is None:
            continue
        tname = " ".join(text(typ).split())
        for decl in n.children_by_field_name("declarator"):
            target = (
                decl.child_by_field_name("declarator") if decl.type == "init_declarator" else decl
            )
            if target is None:
                continue
            ident = text(target) if target.type == "identifier" else None
            if ident is None:
                # a pointer, an array, a function pointer: not a scalar we know
                inner: Node | None = target
                while inner is not None and inner.type != "identifier":
                    inner = inner.child_by_field_name("declarator")
                if inner is not None:
                    seen.setdefault(text(inner), set()).add("<not scalar>")
                continue
            seen.setdefault(ident, set()).add(tname)
    return {k: next(iter(v)) for k, v in seen.items() if len(v) == 1 and "<not scalar>" not in v}
