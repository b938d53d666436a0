"""A flag computed under a lock that is dropped and taken again.

::

        spin_lock(ptl);
        must_break = folio_test_large(folio) && !list_empty(&q);   /* under ptl */
        spin_unlock(ptl);
        ...
        spin_lock(ptl);                                            /* re-taken */
        if (must_break)                                            /* decided on old state */

What the flag says held while the lock was held; once it is dropped,
anything may change, and the second critical section decides on a stale
answer unless it recomputes it.  Found in source order within one function:
lock L at a, unlock L at b, lock L again at c, a flag assigned a computed
value between a and b, read in a condition after c while L is held again
(no unlock of L between c and the read, other than on a path that leaves:
a read with L dropped again treats the flag as a lockless snapshot either
way), and not assigned between b and that read.  Only scalar flags count
(the value of a test: a call or a comparison), not pointers (the pointer
checkers' business).
"""

from __future__ import annotations

from dataclasses import dataclass

from tree_sitter import Node

from checkers.analyses.syntax import (
    assignment_chain,
    assignments,
    call_args,
    call_name,
    calls_in,
    key,
    text,
    unwrap,
    walk,
)

LOCKS = {
    "spin_lock": 0,
    "spin_lock_irq": 0,
    "spin_lock_irqsave": 0,
    "spin_lock_bh": 0,
    "mutex_lock": 0,
    "down_read": 0,
    "down_write": 0,
    "mmap_read_lock": 0,
    "mmap_write_lock": 0,
    "pte_offset_map_lock": 3,
}
UNLOCKS = {
    "spin_unlock": 0,
    "spin_unlock_irq": 0,
    "spin_unlock_irqrestore": 0,
    "spin_unlock_bh": 0,
    "mutex_unlock": 0,
    "up_read": 0,
    "up_write": 0,
    "mmap_read_unlock": 0,
    "mmap_write_unlock": 0,
    "pte_unmap_unlock": 1,
}
WORDS = frozenset(UNLOCKS)
_TESTS = ("==", "!=", "<", ">", "<=", ">=", "&&", "||", "!")


@dataclass(frozen=True)
class StaleFlag:
    var: str
    lock: str
    computed: Node
    dropped: Node
    retaken: Node
    used: Node


def _lock_key(call: Node, table: dict[str, int]) -> str | None:
    idx = table.get(call_name(call) or "")
    args = call_args(call)
    if idx is None or idx >= len(args):
        return None
    k = key(unwrap(args[idx]))
    return k[1:] if k.startswith("&") else k


def _is_test(value: Node) -> bool:
    v = unwrap(value)
    if v.type == "call_expression":
        name = call_name(v) or ""
        return name.startswith(("folio_test_", "PageTest", "pte_", "is_", "test_bit", "list_empty"))
    if v.type == "unary_expression":
        op = v.child_by_field_name("operator")
        return op is not None and text(op) == "!"
    if v.type == "binary_expression":
        op = v.child_by_field_name("operator")
        return op is not None and text(op) in _TESTS
    return False


def stale_flags(fn: Node) -> list[StaleFlag]:
    raw = fn.text or b""
    if not any(w.encode() in raw for w in WORDS):
        return []
    events: list[tuple[int, str, str, Node]] = []  # (byte, "lock"/"unlock", key, call)
    for c in calls_in(fn):
        lk = _lock_key(c, LOCKS)
        if lk is not None:
            events.append((c.start_byte, "lock", lk, c))
            continue
        uk = _lock_key(c, UNLOCKS)
        if uk is not None:
            events.append((c.start_byte, "unlock", uk, c))
    if len(events) < 3:
        return []
    events.sort(key=lambda e: e[0])
    every = list(assignments(fn))
    out: list[StaleFlag] = []
    seen: set[str] = set()
    for i, (a, kind, lk, _) in enumerate(events):
        if kind != "lock":
            continue
        unlock = next((e for e in events[i + 1 :] if e[1] == "unlock" and e[2] == lk), None)
        if unlock is None:
            continue
        relock = next(
            (e for e in events if e[0] > unlock[0] and e[1] == "lock" and e[2] == lk), None
        )
        if relock is None:
            continue
        for target, value, whole in every:
            if not a < whole.start_byte < unlock[0] or value is None:
                continue
            _, final = assignment_chain(value)
            if final is None or not _is_test(final) or unwrap(target).type != "identifier":
                continue
            var = key(target)
            if var in seen:
                continue
            later = [w for t, _, w in every if key(t) == var and w.start_byte > unlock[0]]
            read = _read_in_condition(fn, var, relock[0])
            if read is None:
                continue
            if any(w.start_byte < read.start_byte for w in later):
                continue  # recomputed before it is read
            if any(
                e[1] == "unlock" and e[2] == lk and relock[0] < e[0] < read.start_byte
                for e in events
                if not _leaves(e[3])
            ):
                continue  # read with the lock dropped again: a lockless snapshot either way
            seen.add(var)
            out.append(StaleFlag(var, lk, whole, unlock[3], relock[3], read))
    return out


def _leaves(call: Node) -> bool:
    """The unlock is on a path that leaves (its block goes on to return, goto,
    break or continue): the code after it in the source does not follow it."""
    stmt = call
    while stmt.parent is not None and stmt.parent.type != "compound_statement":
        if stmt.parent.type == "function_definition":
            return False
        stmt = stmt.parent
    block = stmt.parent
    if block is None:
        return False
    return any(
        sib.start_byte > stmt.start_byte
        and sib.type
        in ("return_statement", "goto_statement", "break_statement", "continue_statement")
        for sib in block.named_children
    )


def _read_in_condition(fn: Node, var: str, after: int) -> Node | None:
    for n in walk(fn):
        if n.type not in ("if_statement", "while_statement", "conditional_expression"):
            continue
        if n.start_byte <= after:
            continue
        cond = n.child_by_field_name("condition")
        if cond is None:
            continue
        for ident in walk(cond):
            if ident.type == "identifier" and text(ident) == var:
                return ident
    return None
