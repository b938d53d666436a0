"""Batch facts: where a function forms a batch of ``nr`` PTEs, and what the
helper that formed it guarantees.  Shared by every checker that reasons about
batches (incomplete-batch-conversion, batch-bounds, batch-bit-uniformity,
and the newer classes).

A *batch helper* is one named in ``[batch] helpers`` of
checkers/data/kernel.toml (``swap_pte_batch()``, ``folio_pte_batch()``...).
Callers often reach it through a small *wrapper* of their own
(``madvise_folio_pte_batch()``, ``folio_unmap_pte_batch()``): a function of
the same file, or one whose name says "batch", that returns the helper's
result (or ``helper(...) == max_nr``).  A wrapper's early ``return 1;`` /
``return false;`` under a condition is a condition under which no batch is
formed; those conditions are read from its body and rewritten in the
caller's terms (its parameters replaced by the caller's arguments).

What each helper guarantees is read from its body in the tree under review
(``helper_facts()``): which bits it always ignores (cleared before comparing,
``pte_mkold()`` in ``__pte_batch_clear_ignored()``), which bits each
``FPB_*`` flag makes it ignore (``if (flags & FPB_IGNORE_DIRTY) pte =
pte_mkclean(pte)``), whether it compares whole PTEs, its out-parameters
(``any_dirty``) and whether it clamps ``max_nr`` to the folio or to the page
table.  A helper whose body is not in the tree gets the data file's word
(``[batch.flags]``) and ``where=None``.

Conditions are *atoms* as the CFG builds them (``folio_test_swapbacked(folio)``,
``flags&TTU_HWPOISON``: whitespace-free text with ``likely()``, parentheses
and ``!`` removed), each with the truth value that forming a batch requires.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from tree_sitter import Node

from checkers.analyses.knowledge import Bit, knowledge
from checkers.analyses.summaries import (
    COMPENSATED,
    GUARANTEED,
    UNKNOWN,
    Verdict,
    _may_be_pte_helper,
    helper_params,
    lookup,
    summarise,
)
from checkers.analyses.syntax import (
    assignment_chain,
    assignments,
    call_args,
    call_name,
    calls_in,
    key,
    line,
    per_function,
    text,
    unwrap,
    walk,
)
from checkers.base import TreeView
from checkers.frontend import FunctionUnit

Atom = tuple[str, bool]  # (atom key, the truth value a batch needs)

# Functions whose result is a folio's size in pages: a count taken from them
# may exceed 1 whenever the folio is large.
FOLIO_SIZES = frozenset({"folio_nr_pages", "folio_large_nr_pages", "compound_nr"})
TABLE_TOKENS = ("pmd_addr_end", "PTRS_PER_PTE", "PMD_SIZE", "PMD_MASK", "pmd_index")


@dataclass(frozen=True)
class HelperFacts:
    """What one batch helper guarantees, read from its body."""

    name: str
    where: str | None  # "mm/internal.h:204"; None: the body is not in the tree
    params: tuple[str, ...] = ()
    always_ignored: dict[str, str] = field(default_factory=dict)  # bit -> the clearing call
    flag_bits: dict[str, tuple[str, ...]] = field(default_factory=dict)  # FPB_* -> bits
    full_compare: bool = False
    out_params: dict[str, str] = field(default_factory=dict)  # any_dirty -> dirty
    clamps_to_folio: bool = False  # max_nr limited to the folio's remaining pages
    clamps_to_table: bool = False  # max_nr limited to the page table
    ptep_param: int | None = None
    max_nr_param: int | None = None
    flags_param: int | None = None
    pte_param: int | None = None  # the first entry's value

    def ignored_with(self, flags: frozenset[str]) -> dict[str, str]:
        """bit -> why the helper ignores it when called with ``flags``."""
        out = dict(self.always_ignored)
        for flag in sorted(flags):
            for bit in self.flag_bits.get(flag, ()):
                out.setdefault(bit, f"{flag}")
        return out


@dataclass(frozen=True)
class BatchSite:
    """A call in a function that forms a batch (directly or through a wrapper)."""

    call: Node
    helper: str  # the batch helper of the data file at the bottom
    wrapper: str | None  # the function called in between, if any
    count: str | None  # the variable the count is assigned to (key), if any
    ptep: Node | None  # the caller's expressions for the helper's arguments
    max_nr: Node | None
    flags: frozenset[str]  # FPB_* tokens passed
    needs: tuple[Atom, ...]  # conditions (caller's terms) without which it returns 1
    boolean: bool = False  # the wrapper answers "is it a whole batch" (== max_nr)
    first: Node | None = None  # the first entry's value (the helper's pte)
    out_args: tuple[tuple[str, Node], ...] = ()  # (bit, the caller's &any_x argument)
    clamps_to_table: bool = False  # the wrapper or the helper limits max_nr to the table


# -- helpers ---------------------------------------------------------------


def helper_facts(near: FunctionUnit, name: str, tree: TreeView) -> HelperFacts:
    """Facts of batch helper ``name`` as the tree (or, failing that, the data
    file) has it."""
    unit = lookup(near, name, tree)
    if unit is None:
        return _fallback(name)
    k = (id(tree), id(unit.file.tree), unit.node.start_byte)
    facts = _facts.get(k)
    if facts is None:
        if len(_facts) > _CACHE:
            _facts.clear()
        facts = _facts[k] = _facts_of(unit, tree)
    return facts


def _fallback(name: str) -> HelperFacts:
    k = knowledge()
    args = k.batch_args.get(name, {})
    names = [""] * (max(args.values(), default=-1) + 1)
    for role, i in args.items():
        names[i] = role
    params = tuple(names)
    return HelperFacts(
        name,
        None,
        params=params,
        flag_bits=dict(k.batch_flags),
        out_params={p: b.name for p in params for b in k.bits if p in b.out_params},
        ptep_param=args.get("ptep"),
        max_nr_param=args.get("max_nr"),
        flags_param=args.get("flags"),
        pte_param=args.get("pte"),
    )


def _facts_of(unit: FunctionUnit, tree: TreeView) -> HelperFacts:
    k = knowledge()
    node, name = unit.node, unit.name
    params = tuple(helper_params(unit))
    always: dict[str, str] = {}
    flag_bits: dict[str, list[str]] = {}
    for inner in _pte_builders(unit, tree, 0, set()):
        for call in calls_in(inner.node):
            cname = call_name(call) or ""
            for bit in k.bits:
                if cname not in bit.clear:
                    continue
                flag = _guarding_flag(call)
                if flag is None:
                    always.setdefault(bit.name, f"{cname}()")
                else:
                    flag_bits.setdefault(flag, [])
                    if bit.name not in flag_bits[flag]:
                        flag_bits[flag].append(bit.name)
    for flag, bits in k.batch_flags.items():  # the data file's word where the body is silent
        flag_bits.setdefault(flag, list(bits))
    calls = [call_name(c) or "" for c in calls_in(node)]
    body = node.text or b""
    full = any(c in k.full_compare for c in calls)
    outs = {p: b.name for p in params for b in k.bits if p in b.out_params}
    clamp_folio = any(s.encode() in body for s in FOLIO_SIZES) and b"min" in body
    clamp_table = any(t.encode() in body for t in TABLE_TOKENS)
    return HelperFacts(
        name=name,
        where=f"{unit.file.path}:{unit.start_line}",
        params=params,
        always_ignored=always,
        flag_bits={f: tuple(b) for f, b in flag_bits.items()},
        full_compare=full,
        out_params=outs,
        clamps_to_folio=clamp_folio,
        clamps_to_table=clamp_table,
        ptep_param=_param_index(params, ("start_ptep", "ptep", "pte_p")),
        max_nr_param=_param_index(params, ("max_nr", "nr", "max_nr_pages")),
        flags_param=_param_index(params, ("flags", "fpb_flags")),
        pte_param=_param_index(params, ("pte", "orig_pte")),
    )


def _param_index(params: tuple[str, ...], names: tuple[str, ...]) -> int | None:
    for n in names:
        if n in params:
            return params.index(n)
    return None


def _pte_builders(
    unit: FunctionUnit, tree: TreeView, depth: int, seen: set[str]
) -> Iterator[FunctionUnit]:
    """The helper and the pte_t-returning helpers it calls (bounded depth)."""
    seen.add(unit.name)
    yield unit
    if depth >= 2:
        return
    for call in calls_in(unit.node):
        cname = call_name(call) or ""
        if cname in seen or cname in knowledge().bit_preserving:
            continue
        # Only helpers worth reading: what the data file describes (accessors,
        # bit setters and clearers, constructors) is never looked up.
        if not (_may_be_pte_helper(cname) or cname in unit.file.functions()):
            continue
        seen.add(cname)
        callee = lookup(unit, cname, tree)
        if callee is None:
            continue
        typ = callee.node.child_by_field_name("type")
        if typ is not None and (typ.text or b"").strip() == b"pte_t":
            yield from _pte_builders(callee, tree, depth + 1, seen)


def _guarding_flag(call: Node) -> str | None:
    """The FPB_* token of an ``if`` around the call (``if (flags & FPB_X)``)."""
    node = call.parent
    while node is not None and node.type != "function_definition":
        if node.type == "if_statement":
            cond = node.child_by_field_name("condition")
            m = re.search(r"\bFPB_\w+", text(cond)) if cond is not None else None
            if m:
                return m.group(0)
        node = node.parent
    return None


# -- conditions ------------------------------------------------------------


def atom_key(expr: Node) -> str:
    return key(unwrap(expr))


def conjuncts(expr: Node, value: bool = True) -> list[Atom]:
    """Atoms that must each hold for ``expr`` to have truth ``value``:
    ``a && !b`` true gives [(a, True), (b, False)]; ``a || b`` false gives
    [(a, False), (b, False)]; what a disjunction leaves open gives nothing."""
    out: list[Atom] = []
    stack = [(expr, value)]
    while stack:
        e, v = stack.pop()
        e = unwrap(e)
        if e.type == "unary_expression":
            op = e.child_by_field_name("operator")
            arg = e.child_by_field_name("argument")
            if op is not None and text(op) == "!" and arg is not None:
                stack.append((arg, not v))
                continue
        if e.type == "binary_expression":
            op = e.child_by_field_name("operator")
            left = e.child_by_field_name("left")
            right = e.child_by_field_name("right")
            if op is not None and left is not None and right is not None:
                o = text(op)
                if (o == "&&" and v) or (o == "||" and not v):
                    stack.extend([(right, v), (left, v)])
                    continue
                if o in ("&&", "||"):
                    continue  # one of two: no single atom is required
        out.append((key(e), v))
    return out


def guards(node: Node, stop: Node | None = None) -> list[Atom]:
    """Conditions under which ``node`` runs, read from the ``if``s (and
    ``?:``) around it up to ``stop`` (default: the function)."""
    out: list[Atom] = []
    child, parent = node, node.parent
    while parent is not None and parent is not stop and parent.type != "function_definition":
        if parent.type == "if_statement":
            cond = parent.child_by_field_name("condition")
            if cond is not None and child is not cond:
                in_then = child == parent.child_by_field_name("consequence")
                out.extend(conjuncts(cond, in_then))
        elif parent.type == "conditional_expression":
            cond = parent.child_by_field_name("condition")
            if cond is not None and child is not cond:
                out.extend(conjuncts(cond, child == parent.child_by_field_name("consequence")))
        child, parent = parent, parent.parent
    return out


# -- PTE values read through a pointer --------------------------------------

# Calls whose result is the value of the entry their pte pointer argument
# points to (before clearing it, for the get-and-clear family).
PTE_READERS = {
    "ptep_get": 0,
    "ptep_get_lockless": 0,
    "ptep_get_and_clear": 2,
    "ptep_get_and_clear_full": 2,
    "ptep_clear_flush": 2,
    "get_and_clear_full_ptes": 2,
    "huge_ptep_clear_flush": 2,
    "huge_ptep_get": 2,
}


def pte_aliases(fn: Node) -> dict[str, str]:
    """Locals that only ever hold the value of one entry: var -> ``*ptep``."""
    out = {}
    for var, defs in pte_definitions(fn).items():
        srcs = {src for _, src in defs}
        if len(srcs) == 1 and "?" not in srcs:
            out[var] = next(iter(srcs))
    return out


def pte_definitions(fn: Node) -> dict[str, list[tuple[Node, str]]]:
    """var -> [(assignment, ``*ptep`` or "?")] for every local."""
    out: dict[str, list[tuple[Node, str]]] = {}
    for target, value, whole in assignments(fn):
        if unwrap(target).type != "identifier":
            continue
        src = "?"
        if value is not None:
            v = unwrap(value)
            idx = PTE_READERS.get(call_name(v) or "")
            args = call_args(v) if idx is not None else []
            if idx is not None and idx < len(args):
                src = "*" + key(unwrap(args[idx]))
        out.setdefault(key(target), []).append((whole, src))
    return out


def aliases_at(defs: dict[str, list[tuple[Node, str]]], at: Node) -> dict[str, str]:
    """The locals that hold one entry's value at ``at``: the definitions
    before it in the source that can reach it (one in the other arm of an
    ``if`` around ``at`` cannot) all read the same entry."""
    out = {}
    for var, entries in defs.items():
        srcs = {
            src
            for whole, src in entries
            if whole.start_byte < at.start_byte and not _exclusive(whole, at)
        }
        if len(srcs) == 1 and "?" not in srcs:
            out[var] = next(iter(srcs))
    return out


def _exclusive(a: Node, b: Node) -> bool:
    """a and b sit in different arms of one if statement."""
    child, parent = a, a.parent
    while parent is not None and parent.type != "function_definition":
        if parent.type == "if_statement":
            then = parent.child_by_field_name("consequence")
            alt = parent.child_by_field_name("alternative")
            other = alt if child == then else then if child == alt else None
            if other is not None and other.start_byte <= b.start_byte < other.end_byte:
                return True
        child, parent = parent, parent.parent
    return False


def normalise_atom(atom: str, aliases: dict[str, str]) -> str:
    """An atom with its PTE-value locals written as the entry they read."""
    for var, src in aliases.items():
        if var in atom:
            atom = re.sub(r"(?<![\w.>])" + re.escape(var) + r"(?!\w)", src, atom)
    return atom


# -- wrappers --------------------------------------------------------------


@dataclass(frozen=True)
class Wrapper:
    name: str
    helper: str
    params: tuple[str, ...]
    arg_of: dict[str, int]  # helper argument role ("ptep", "max_nr", "flags") -> wrapper param
    local_args: dict[str, str]  # role -> the wrapper's own expression, when not a param
    needs: tuple[Atom, ...]  # in the wrapper's terms
    flags: frozenset[str]
    boolean: bool
    outs: tuple[tuple[str, int], ...] = ()  # (bit, wrapper param index passed as the out-param)
    clamps_to_table: bool = False


def wrapper_of(near: FunctionUnit, name: str, tree: TreeView) -> Wrapper | None:
    """``name`` as a wrapper of a batch helper, or None."""
    k = knowledge()
    if name in k.batch_helpers:
        return None
    node = near.file.functions().get(name)
    if node is None:
        if "batch" not in name:
            return None
        unit = tree.find_function(name)
        if unit is None:
            return None
        node = unit.node
        file_unit = unit
    else:
        file_unit = FunctionUnit(near.file, name, node)
    return _wrapper(file_unit, tree)


_wrappers: dict[tuple[int, int, int], Wrapper | None] = {}
_facts: dict[tuple[int, int, int], HelperFacts] = {}
_CACHE = 256


def _wrapper(unit: FunctionUnit, tree: TreeView) -> Wrapper | None:
    k = (id(tree), id(unit.file.tree), unit.node.start_byte)
    if k not in _wrappers:
        if len(_wrappers) > _CACHE:
            _wrappers.clear()
        _wrappers[k] = _wrapper_uncached(unit, tree)
    return _wrappers[k]


def _wrapper_uncached(unit: FunctionUnit, tree: TreeView) -> Wrapper | None:
    k = knowledge()
    raw = unit.node.text or b""
    if not any(h.encode() in raw for h in k.batch_helpers):
        return None
    returned: Node | None = None
    boolean = False
    needs: list[Atom] = []
    params = tuple(helper_params(unit))
    assigned = {key(t) for t, _, _ in assignments(unit.node)}
    for n in walk(unit.node):
        if n.type != "return_statement" or not n.named_child_count:
            continue
        value = unwrap(n.named_children[0])
        helper_call = _helper_call_in(value, k.batch_helpers)
        if helper_call is not None:
            returned = helper_call
            boolean = value.type == "binary_expression"
            continue
        if text(value) in ("1", "false", "0"):
            # "if (cond) return 1;": no batch when cond holds
            stmt = n.parent
            if stmt is not None and stmt.type == "if_statement":
                cond = stmt.child_by_field_name("condition")
                if cond is not None and n == stmt.child_by_field_name("consequence"):
                    # a batch needs the condition false: "a || b" gives two atoms
                    needs.extend(conjuncts(cond, False))
            elif stmt is not None and stmt.type == "compound_statement":
                parent = stmt.parent
                if parent is not None and parent.type == "if_statement":
                    cond = parent.child_by_field_name("condition")
                    if cond is not None and stmt == parent.child_by_field_name("consequence"):
                        needs.extend(conjuncts(cond, False))
    if returned is None:
        return None
    helper = call_name(returned) or ""
    facts = helper_facts(unit, helper, tree)
    args = call_args(returned)
    roles = {
        "ptep": facts.ptep_param,
        "max_nr": facts.max_nr_param,
        "flags": facts.flags_param,
        "pte": facts.pte_param,
    }
    arg_of: dict[str, int] = {}
    local_args: dict[str, str] = {}
    for role, idx in roles.items():
        if idx is None or idx >= len(args):
            continue
        a = key(unwrap(args[idx]))
        if a in params and a not in assigned:
            arg_of[role] = params.index(a)
        else:
            local_args[role] = a
    flags = frozenset(re.findall(r"\bFPB_\w+", (raw or b"").decode("utf-8", "replace")))
    # A local holding the value of a parameter's entry ("pte = ptep_get(ptep)")
    # is said as that entry; other locals the wrapper assigns are its own business.
    aliases = {
        var: src
        for var, src in pte_aliases(unit.node).items()
        if var not in params and src[1:] in params
    }
    needs = [(normalise_atom(a, aliases), v) for a, v in needs]
    needs = [(a, v) for a, v in needs if not _mentions_any(a, assigned - set(params))]
    outs = []
    for i, p in enumerate(facts.params):
        bit = facts.out_params.get(p)
        if bit is not None and i < len(args) and key(unwrap(args[i])) in params:
            outs.append((bit, params.index(key(unwrap(args[i])))))
    clamps = facts.clamps_to_table or any(t.encode() in raw for t in TABLE_TOKENS)
    return Wrapper(
        unit.name,
        helper,
        params,
        arg_of,
        local_args,
        tuple(needs),
        flags,
        boolean,
        tuple(outs),
        clamps,
    )


def _mentions_any(atom: str, names: set[str]) -> bool:
    return any(re.search(r"(?<![\w.>])" + re.escape(n) + r"(?!\w)", atom) for n in names)


def _helper_call_in(expr: Node, helpers: frozenset[str]) -> Node | None:
    for c in calls_in(expr):
        if call_name(c) in helpers:
            return c
    return None


def substitute(atom: str, params: tuple[str, ...], args: list[Node]) -> str | None:
    """An atom of a callee rewritten with the caller's arguments, or None when
    a parameter has no argument."""
    out = atom
    for i, p in enumerate(params):
        if not p or not re.search(r"(?<![\w.>])" + re.escape(p) + r"(?!\w)", out):
            continue
        if i >= len(args):
            return None
        a = key(unwrap(args[i]))
        if a.startswith("&") and re.fullmatch(r"&[A-Za-z_]\w*", a):
            out = re.sub(r"(?<![\w.>])" + re.escape(p) + r"->", a[1:] + ".", out)
        rep = a if re.fullmatch(r"[\w.>\-&]+", a) else f"({a})"
        out = re.sub(r"(?<![\w.>])" + re.escape(p) + r"(?!\w)", rep.replace("\\", "\\\\"), out)
    return out


# -- sites -----------------------------------------------------------------


def batch_sites(unit: FunctionUnit, tree: TreeView) -> list[BatchSite]:
    """Every call of ``unit`` that forms a batch, in source order."""
    k = knowledge()
    raw = unit.node.text or b""
    out: list[BatchSite] = []
    targets: dict[int, str] = {}
    for target, value, _ in assignments(unit.node):
        _, final = assignment_chain(value) if value is not None else ([], None)
        if final is not None and final.type == "call_expression":
            targets[final.start_byte] = key(target)
    for call in calls_in(unit.node):
        name = call_name(call) or ""
        if name in k.batch_helpers:
            facts = helper_facts(unit, name, tree)
            args = call_args(call)

            def arg(i: int | None, args: list[Node] = args) -> Node | None:
                return args[i] if i is not None and i < len(args) else None

            flags_node = arg(facts.flags_param)
            out.append(
                BatchSite(
                    call=call,
                    helper=name,
                    wrapper=None,
                    count=targets.get(call.start_byte),
                    ptep=arg(facts.ptep_param),
                    max_nr=arg(facts.max_nr_param),
                    flags=_flags_passed(unit.node, flags_node),
                    needs=(),
                    first=arg(facts.pte_param),
                    clamps_to_table=facts.clamps_to_table,
                    out_args=tuple(
                        (bit, args[i])
                        for i, p in enumerate(facts.params)
                        if (bit := facts.out_params.get(p)) is not None and i < len(args)
                    ),
                )
            )
        elif ("batch" in name or name in unit.file.functions()) and name not in k.leaf_accessors:
            if name == unit.name or not mentions_helper_cheaply(unit, name, raw):
                continue
            w = wrapper_of(unit, name, tree)
            if w is None:
                continue
            args = call_args(call)
            needs: list[Atom] = []
            for a, v in w.needs:
                s = substitute(a, w.params, args)
                if s is not None:
                    needs.append((s, v))

            def role(r: str, w: Wrapper = w, args: list[Node] = args) -> Node | None:
                i = w.arg_of.get(r)
                return args[i] if i is not None and i < len(args) else None

            out.append(
                BatchSite(
                    call=call,
                    helper=w.helper,
                    wrapper=name,
                    count=targets.get(call.start_byte),
                    ptep=role("ptep"),
                    max_nr=role("max_nr"),
                    flags=w.flags | _flags_passed(unit.node, role("flags")),
                    needs=tuple(needs),
                    boolean=w.boolean,
                    first=role("pte"),
                    clamps_to_table=w.clamps_to_table,
                    out_args=tuple((bit, args[i]) for bit, i in w.outs if i < len(args)),
                )
            )
    return out


def mentions_helper_cheaply(unit: FunctionUnit, name: str, raw: bytes) -> bool:
    """A same-file callee is only worth reading when its text names a helper."""
    node = unit.file.functions().get(name)
    if node is None:
        return "batch" in name
    body = node.text or b""
    return any(h.encode() in body for h in knowledge().batch_helpers)


def _flags_passed(fn: Node, arg: Node | None) -> frozenset[str]:
    if arg is None:
        return frozenset()
    texts = [text(arg)]
    a = unwrap(arg)
    if a.type == "identifier":
        name = key(a)
        texts.extend(text(whole) for target, _, whole in assignments(fn) if key(target) == name)
    return frozenset(t for x in texts for t in re.findall(r"\bFPB_\w+", x))


def folio_size_call(expr: Node) -> Node | None:
    """``folio_nr_pages(folio)`` (or a sibling) inside ``expr``."""
    for c in calls_in(expr):
        if call_name(c) in FOLIO_SIZES:
            return c
    return None


# -- per-bit guarantees of a site --------------------------------------------


def bit_verdicts(
    near: FunctionUnit, site: BatchSite, bits: list[Bit], tree: TreeView
) -> dict[str, Verdict]:
    """Per bit, whether the batch formed at ``site`` has it the same in every
    entry: the helper's body judged with the flags the site passes
    (``summaries.summarise()``), a bit it does not guarantee but reports back
    through an out-parameter the caller reads afterwards being compensated."""
    helper = lookup(near, site.helper, tree)
    if helper is None:
        return {
            b.name: Verdict(b.name, UNKNOWN, f"the body of {site.helper}() is not in the tree")
            for b in bits
        }
    verdicts = summarise(helper, bits, tree, site.flags)
    facts = helper_facts(near, site.helper, tree)
    param_of = {bit: p for p, bit in facts.out_params.items()}
    for bit in bits:
        if verdicts[bit.name].verdict == GUARANTEED:
            continue
        for b, arg in site.out_args:
            reader = _read_after(near, site, arg) if b == bit.name else None
            if reader is not None:
                verdicts[bit.name] = Verdict(
                    bit.name,
                    COMPENSATED,
                    f"{helper.name}() reports a mixed batch through {param_of.get(b, b)}, "
                    f"which {near.name}() reads at line {line(reader)}",
                )
                break
    return verdicts


def _read_after(near: FunctionUnit, site: BatchSite, arg: Node) -> Node | None:
    """The first read, after the site, of the variable whose address is ``arg``."""
    t = text(unwrap(arg))
    if not t.startswith("&"):
        return None
    var = t[1:].strip()
    for n in walk(near.node):
        if n.type == "identifier" and text(n) == var and n.start_byte > site.call.end_byte:
            return n
    return None


def site_before(sites: list[BatchSite], at: Node) -> BatchSite | None:
    """The batch ``at`` sees: the closest site before it in the source, else
    the first site of the function (a batch formed in a loop's later part)."""
    before = [s for s in sites if s.call.end_byte <= at.start_byte]
    if before:
        return max(before, key=lambda s: s.call.start_byte)
    return sites[0] if sites else None


# -- batches positioned from a folio ----------------------------------------


@dataclass(frozen=True)
class FolioBatch:
    """A batch whose start address is computed from a folio's index
    (``start = address - idx * PAGE_SIZE``) and installed by a batched call."""

    start: str  # the start variable (key)
    node: Node  # its computation
    group: frozenset[str]  # the start and the locals derived from it (the end...)
    install: Node  # the batched call that installs it
    bounded: frozenset[str]  # of "vma", "pmd": what a condition on the group checks


def folio_batches(unit: FunctionUnit) -> list[FolioBatch]:
    """Every batch of ``unit`` positioned from a folio's index, with the bounds
    that the function's conditions check on it."""
    k = knowledge()
    raw = unit.node.text or b""
    if not any(t.encode() in raw for t in k.page_size_tokens):
        return []
    batched = k.batched_nr_arg
    if not any(b.encode() in raw for b in batched):
        return []
    starts: list[tuple[str, Node]] = []
    derived: dict[str, str] = {}  # var -> the start var it comes from
    for target, value, _ in assignments(unit.node):
        if value is None:
            continue
        _, final = assignment_chain(value)
        if final is None:
            continue
        tk = key(target)
        if _is_folio_start(final, k.page_size_tokens):
            starts.append((tk, final))
            derived[tk] = tk
        else:
            for var in idents(final):
                if var in derived and tk not in derived:
                    derived[tk] = derived[var]
    if not starts:
        return []
    conds = condition_texts(unit.node)
    out = []
    for start, node in starts:
        group = frozenset(v for v, s in derived.items() if s == start)
        use = _batched_use(unit.node, group, batched)
        if use is None:
            continue
        relevant = [c for c in conds if any(mentions_var(c, v) for v in group)]
        bounded = set()
        if any(any(t in c for t in k.vma_tokens) for c in relevant):
            bounded.add("vma")
        if any(any(t in c for t in k.pmd_tokens) for c in relevant):
            bounded.add("pmd")
        out.append(FolioBatch(start, node, group, use, frozenset(bounded)))
    return out


def _is_folio_start(expr: Node, page_tokens: tuple[str, ...]) -> bool:
    """``address - idx * PAGE_SIZE`` or ``address - (idx << PAGE_SHIFT)``."""
    expr = unwrap(expr)
    if expr.type != "binary_expression":
        return False
    op = expr.child_by_field_name("operator")
    right = expr.child_by_field_name("right")
    if op is None or right is None or text(op) != "-":
        return False
    r = unwrap(right)
    if r.type != "binary_expression":
        return False
    rop = r.child_by_field_name("operator")
    if rop is None or text(rop) not in ("*", "<<"):
        return False
    rt = text(r)
    if not any(t in rt for t in page_tokens):
        return False
    # a variable count, not "addr - 2 * PAGE_SIZE"
    return any(n.type == "identifier" and text(n) not in page_tokens for n in walk(r))


def _batched_use(fn: Node, group: frozenset[str], batched: dict[str, int]) -> Node | None:
    """The batched call installing the batch (set_ptes() first: it writes the PTEs)."""
    calls = sorted(calls_in(fn), key=lambda c: call_name(c) != "set_ptes")
    for call in calls:
        name = call_name(call)
        if name not in batched:
            continue
        args = call_args(call)
        idx = batched[name]
        if idx < len(args) and text(unwrap(args[idx])) in ("1", "1UL"):
            continue
        if any(key(unwrap(a)) in group for a in args):
            return call
    return None


def idents(expr: Node) -> set[str]:
    return {key(n) for n in walk(expr) if n.type in ("identifier", "field_expression")}


def mentions_var(cond: str, var: str) -> bool:
    return re.search(r"(?<![\w>.])" + re.escape(var) + r"(?!\w)", cond) is not None


_ASSERTS = frozenset(
    {"BUG_ON", "VM_BUG_ON", "VM_WARN_ON", "WARN_ON", "VM_WARN_ON_ONCE", "WARN_ON_ONCE"}
)


def condition_texts(fn: Node) -> list[str]:
    """Every condition of ``fn`` (branches, loops, ``?:``, assertions), whitespace-free."""
    if fn.type == "function_definition":
        return per_function(fn, "conditions", _condition_texts)
    return list(_condition_texts(fn))


def _condition_texts(fn: Node) -> Iterator[str]:
    out = []
    for n in walk(fn):
        if n.type in (
            "if_statement",
            "while_statement",
            "for_statement",
            "do_statement",
            "conditional_expression",
        ):
            c = n.child_by_field_name("condition")
            if c is not None:
                out.append("".join(text(c).split()))
        elif n.type == "expression_statement" and n.named_child_count:
            call = n.named_children[0]
            if call_name(call) in _ASSERTS:
                out.append("".join(text(call).split()))
    yield from out


_file_batchers: dict[int, tuple[object, frozenset[str]]] = {}


def may_form_batch(unit: FunctionUnit) -> bool:
    """Cheap text prefilter: ``unit`` names a batch helper, something called
    "...batch...", or a function of its own file whose body names a helper
    (a wrapper such as ``swapin_whole_folio()``)."""
    raw = unit.node.text or b""
    helpers = knowledge().batch_helpers
    if b"batch" in raw or any(h.encode() in raw for h in helpers):
        return True
    pf = unit.file
    hit = _file_batchers.get(id(pf))
    if hit is None or hit[0] is not pf:
        if len(_file_batchers) > _CACHE:
            _file_batchers.clear()
        names = frozenset(
            name
            for name, node in pf.functions().items()
            if any(h.encode() in (node.text or b"") for h in helpers)
        )
        hit = _file_batchers[id(pf)] = (pf, names)
    return any(n.encode() + b"(" in raw for n in hit[1])
