"""The tree's own prototypes, to check a primitive against its release.

Kernel APIs change between releases (``swapcache_prepare(entry)`` in 6.10,
``(entry, nr)`` in 6.12).  A primitive stands for a function the tree does
not let the simulator execute; before it is used, the tree's prototype of
that name (a definition, a declaration or a function-like macro, in the
files the simulator reads or in the file the primitive cites) is compared
with the primitive's: the number of parameters and, where the primitive
names them, their types.  A primitive with era variants (``sim.kernel``
``VARIANTS``) picks the one that fits; none fitting is "not modelled:
signature differs", with both prototypes.
"""

from __future__ import annotations

from dataclasses import dataclass

from tree_sitter import Node

from checkers.frontend import ParsedFile, declarator_name

# Words that say nothing about what an argument means.
_QUALIFIERS = frozenset(
    {"const", "volatile", "restrict", "__restrict", "register", "__user", "__iomem", "__rcu"}
)


def normalise_type(text: str) -> str:
    """``const struct folio *`` -> ``struct folio *``; spacing made uniform."""
    words = text.replace("*", " * ").split()
    kept = [w for w in words if w not in _QUALIFIERS]
    out = " ".join(kept)
    return out.replace("* *", "**")


@dataclass(frozen=True)
class Prototype:
    name: str
    params: tuple[str, ...]  # normalised types ("" for a macro's parameters)
    text: str  # as the tree writes it, on one line
    where: str  # "include/linux/swap.h:498"
    macro: bool = False
    variadic: bool = False

    def __str__(self) -> str:
        return f"{self.text} ({self.where})"


def _param_type(pf: ParsedFile, p: Node) -> str:
    tnode = p.child_by_field_name("type")
    base = pf.text(tnode) if tnode is not None else ""
    decl = p.child_by_field_name("declarator")
    stars = 0
    while decl is not None:
        if decl.type == "pointer_declarator":
            stars += 1
        elif decl.type in ("function_declarator", "array_declarator"):
            stars += 1  # decays to a pointer
            break
        decl = decl.child_by_field_name("declarator")
    return normalise_type(base + " *" * stars)


def _function_declarator(decl: Node | None) -> Node | None:
    while decl is not None and decl.type != "function_declarator":
        decl = decl.child_by_field_name("declarator")
    return decl


def _from_declarator(pf: ParsedFile, node: Node, decl: Node) -> Prototype | None:
    fdecl = _function_declarator(decl)
    if fdecl is None:
        return None
    name = declarator_name(fdecl)
    plist = fdecl.child_by_field_name("parameters")
    if name is None or plist is None:
        return None
    params: list[str] = []
    variadic = False
    for p in plist.named_children:
        if p.type == "variadic_parameter":
            variadic = True
        elif p.type == "parameter_declaration":
            params.append(_param_type(pf, p))
    if params == ["void"]:
        params = []
    if pf.text(plist).rstrip(")").rstrip().endswith("..."):
        variadic = True
    tnode = node.child_by_field_name("type")
    head = pf.text(tnode) if tnode is not None else ""
    text = " ".join(f"{head} {pf.text(decl)}".split())
    line = node.start_point[0] + 1
    return Prototype(name, tuple(params), text, f"{pf.path}:{line}", variadic=variadic)


def _from_macro(pf: ParsedFile, node: Node) -> Prototype | None:
    name_node = node.child_by_field_name("name")
    plist = node.child_by_field_name("parameters")
    if name_node is None or plist is None:
        return None
    names = [pf.text(c) for c in plist.named_children]
    variadic = "..." in pf.text(plist)
    name = pf.text(name_node)
    text = f"#define {name}({', '.join([*names, *(['...'] if variadic else [])])})"
    line = node.start_point[0] + 1
    return Prototype(
        name,
        tuple("" for n in names if n != "..."),
        text,
        f"{pf.path}:{line}",
        macro=True,
        variadic=variadic,
    )


def prototypes(pf: ParsedFile) -> dict[str, Prototype]:
    """Every function prototype of a parsed file, by name (the first wins)."""
    found: dict[str, Prototype] = {}
    stack = list(reversed(pf.root.named_children))
    while stack:
        node = stack.pop()
        t = node.type
        proto: Prototype | None = None
        if t == "function_definition":
            decl = node.child_by_field_name("declarator")
            proto = _from_declarator(pf, node, decl) if decl is not None else None
        elif t == "declaration":
            for decl in node.children_by_field_name("declarator"):
                proto = _from_declarator(pf, node, decl)
                if proto is not None:
                    break
        elif t == "preproc_function_def":
            proto = _from_macro(pf, node)
        elif t in ("linkage_specification", "declaration_list") or t.startswith("preproc_"):
            stack.extend(reversed(node.named_children))
        if proto is not None:
            found.setdefault(proto.name, proto)
    return found
