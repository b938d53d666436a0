"""One-level summaries of batch helpers read from the applied tree.

A batch helper (``swap_pte_batch()``) returns how many consecutive PTEs
look "the same".  Whether a caller may apply one PTE's soft-dirty or
uffd-wp bit to the whole batch depends on what "the same" means in that
helper's body, per bit:

- guaranteed: every entry is compared with a full ``pte_same()`` against an
  expected PTE that carries the bit (built from the first entry by a function
  that keeps or explicitly copies it, as ``pte_move_swp_offset()`` does);
- not guaranteed: the bit is cleared before comparing, or only a field
  (``swp_offset()``) is compared;
- compensated: the helper reports a mixed batch through an out-parameter
  (``bool *any_shared``) the caller reads;
- unknown: the body, or a builder it calls, is not in the tree.

Builders called by the helper are summarised too (bounded depth), which is
how ``pte_next_swp_offset() -> pte_move_swp_offset()`` is followed.
"""

from __future__ import annotations

from dataclasses import dataclass

from tree_sitter import Node

from checkers.analyses.knowledge import Bit, knowledge
from checkers.analyses.syntax import assignments, call_args, call_name, calls_in, key, line, walk
from checkers.base import TreeView
from checkers.frontend import FunctionUnit

GUARANTEED = "guaranteed"
NOT_GUARANTEED = "not-guaranteed"
COMPENSATED = "compensated"
UNKNOWN = "unknown"

# Functions that build a PTE from scratch: the result carries a bit only if
# the builder copies it explicitly (tests it on the input, sets it on the output).
CONSTRUCTORS = frozenset(
    {
        "__swp_entry_to_pte",
        "swp_entry_to_pte",
        "mk_pte",
        "pfn_pte",
        "folio_mk_pte",
        "__pte",
        "make_pte_marker",
    }
)
MAX_DEPTH = 3


@dataclass(frozen=True)
class Verdict:
    bit: str
    verdict: str
    reason: str


def helper_params(unit: FunctionUnit) -> list[str]:
    decl = unit.node.child_by_field_name("declarator")
    while decl is not None and decl.type != "function_declarator":
        decl = decl.child_by_field_name("declarator")
    if decl is None:
        return []
    params = decl.child_by_field_name("parameters")
    names = []
    for p in params.named_children if params is not None else []:
        ident = None
        for n in walk(p):
            if n.type == "identifier":
                ident = n
        names.append(key(ident) if ident is not None else "")
    return names


def summarise(
    helper: FunctionUnit, bits: list[Bit], tree: TreeView, flags: frozenset[str] = frozenset()
) -> dict[str, Verdict]:
    """Per-bit verdicts for ``helper``, called with the ``flags`` tokens
    (``FPB_IGNORE_SOFT_DIRTY``...) that the data file says make it ignore bits."""
    k = knowledge()
    calls = list(calls_in(helper.node))
    full = [c for c in calls if call_name(c) in k.full_compare]
    where = f"{helper.name}() ({helper.file.path}:{helper.start_line})"
    out: dict[str, Verdict] = {}
    for bit in bits:
        ignoring = sorted(f for f in flags if bit.name in k.batch_flags.get(f, ()))
        if ignoring:
            out[bit.name] = Verdict(
                bit.name,
                NOT_GUARANTEED,
                f"{where} is called with {ignoring[0]}, which makes it ignore {bit.name}",
            )
            continue
        cleared = _clears(helper, bit, tree, 0, set())
        if cleared is not None:
            out[bit.name] = Verdict(
                bit.name, NOT_GUARANTEED, f"{where} clears {bit.name} ({cleared}) before comparing"
            )
            continue
        if not full:
            if any(call_name(c) in k.field_compare for c in calls):
                out[bit.name] = Verdict(
                    bit.name, NOT_GUARANTEED, f"{where} compares only the swap entry, not the bits"
                )
            else:
                out[bit.name] = Verdict(
                    bit.name, UNKNOWN, f"{where} has no full pte_same() comparison"
                )
            continue
        carried = _expected_carries(helper, full[0], bit, tree)
        if carried is None:
            out[bit.name] = Verdict(
                bit.name, UNKNOWN, f"could not tell how {where} builds its expected entry"
            )
        elif carried:
            out[bit.name] = Verdict(
                bit.name,
                GUARANTEED,
                f"{where} compares each entry with pte_same() ({helper.file.path}:{line(full[0])}) "
                f"against "
                f"an expected entry that carries the bit",
            )
        else:
            out[bit.name] = Verdict(
                bit.name, NOT_GUARANTEED, f"{where} builds its expected entry without the bit"
            )
    return out


def _clears(unit: FunctionUnit, bit: Bit, tree: TreeView, depth: int, seen: set[str]) -> str | None:
    """Name of the call (possibly nested in a callee) that clears the bit."""
    seen.add(unit.name)
    for call in calls_in(unit.node):
        name = call_name(call) or ""
        if name in bit.clear:
            if _flag_guarded(call):
                continue  # "if (flags & FPB_IGNORE_DIRTY) pte = pte_mkclean(pte)": by flags
            return f"{name}() at {unit.file.path}:{line(call)}"
        if (
            depth < MAX_DEPTH
            and name not in seen
            and name not in _carriers()
            and (_may_be_pte_helper(name) or name in unit.file.functions())
        ):
            callee = lookup(unit, name, tree)
            if callee is not None and _returns_pte(callee):
                inner = _clears(callee, bit, tree, depth + 1, seen)
                if inner is not None:
                    return f"{name}() at {unit.file.path}:{line(call)}, through {inner}"
    return None


def _flag_guarded(call: Node) -> bool:
    """Inside an ``if`` testing one of the helper flags of the data file."""
    flags = knowledge().batch_flags
    node = call.parent
    while node is not None and node.type != "function_definition":
        if node.type == "if_statement":
            cond = node.child_by_field_name("condition")
            raw = cond.text if cond is not None and cond.text is not None else b""
            if any(f.encode() in raw for f in flags):
                return True
        node = node.parent
    return False


def lookup(near: FunctionUnit, name: str, tree: TreeView) -> FunctionUnit | None:
    """A callee: in the caller's own file first (static helpers), then the tree."""
    node = near.file.functions().get(name)
    if node is not None:
        return FunctionUnit(near.file, name, node)
    return tree.find_function(name)


def _carriers() -> frozenset[str]:
    return knowledge().bit_preserving


def _may_be_pte_helper(name: str) -> bool:
    """A callee worth reading: a pte helper, not a bit accessor or a leaf the
    data file already describes (looking those up would only cost time)."""
    k = knowledge()
    if "pte" not in name or name in k.full_compare or name in k.deref:
        return False
    if name in k.leaf_accessors or name in CONSTRUCTORS:
        return False
    return not any(name in b.tests or name in b.set or name in b.clear for b in k.bits)


def _returns_pte(unit: FunctionUnit) -> bool:
    typ = unit.node.child_by_field_name("type")
    return typ is not None and (typ.text or b"").strip() == b"pte_t"


def _expected_carries(helper: FunctionUnit, compare: Node, bit: Bit, tree: TreeView) -> bool | None:
    """Whether the expected side of ``pte_same(a, b)`` keeps the first entry's bit."""
    builders: set[str] = set()
    args = call_args(compare)
    names = {key(a) for a in args}
    for target, value, _ in assignments(helper.node):
        if key(target) in names and value is not None:
            for c in calls_in(value):
                n = call_name(c)
                if n:
                    builders.add(n)
    skip = {"ptep_get", "ptep_get_lockless", *knowledge().full_compare}
    callees = {call_name(c) or "" for c in calls_in(helper.node)}
    if builders & bit.set and callees & bit.tests:
        return True  # "if (exclusive) expected = pte_swp_mkexclusive(expected)": copied
    for b in sorted(builders - skip):
        verdict = _builder_carries(b, bit, tree, 0, helper)
        if verdict is not True:
            return verdict
    return True


def _builder_carries(
    name: str, bit: Bit, tree: TreeView, depth: int, near: FunctionUnit
) -> bool | None:
    if name in bit.set:
        return True
    if name in bit.clear:
        return False
    local = name in near.file.functions()
    if not local and not _may_be_pte_helper(name) and name not in CONSTRUCTORS:
        return True  # swp_offset() and friends do not produce the compared PTE
    if name in CONSTRUCTORS:
        return False
    if depth >= MAX_DEPTH:
        return None
    unit = lookup(near, name, tree)
    if unit is None:
        # Not in the tree: fall back on what the data file says of it.
        return True if name in _carriers() else None
    # Clears under "if (flags & FPB_...)" are the flags' business (see summarise()).
    callees = {
        call_name(c) or ""
        for c in calls_in(unit.node)
        if not (call_name(c) in bit.clear and _flag_guarded(c))
    }
    if callees & bit.clear:
        return False
    if callees & CONSTRUCTORS:
        # Built from scratch: carried only when copied explicitly.
        return bool(callees & bit.tests and callees & bit.set)
    for c in sorted(callees):
        if c != name and (_may_be_pte_helper(c) or c in unit.file.functions()):
            v = _builder_carries(c, bit, tree, depth + 1, unit)
            if v is not True:
                return v
    return True
