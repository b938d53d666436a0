"""State carried across a ``goto retry``: a variable reset before the label.

::

        bool force_break = false;        /* reset once, before the label */
    retry:
        ...
        if (need_break(ptent))
                force_break = true;      /* set on one pass */
        ...
        if (addr != end)
                goto retry;              /* the next pass starts with it set */

A variable given a constant before a retry label (``retry:``, ``again:``,
``restart:``...) that a later ``goto`` jumps back to, and given another
value conditionally inside the retried section before such a ``goto``, keeps
the previous pass's value on the next one unless it is reset after the label.
Only flags count: every value the variable is given is a constant
(``x = false``, ``x = 0``, ``x = NULL``, ``X_FLAG``).  Deliberate carried
state is left alone: a value set in the block that jumps back (``pass = 1;
goto retry;``), a set or a jump under a test of the variable itself
(``if (!locked) { lock(); locked = true; }``, ``if (alloc_ok) goto retry;``).
A flag read only on the pass that does not jump back (``if (addr == end &&
can_reclaim_pt)`` before ``if (addr != end) goto retry;``) sums up every pass
on purpose; when a lock is dropped before the goto the question is whether
that sum still holds, and the remedy is a recheck under the lock, not a reset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from tree_sitter import Node

from checkers.analyses.syntax import BRANCHING, assignments, key, line, text, unwrap, walk


@dataclass(frozen=True)
class CarriedState:
    var: str
    label: str
    reset: Node  # the reset before the label
    label_node: Node
    set_at: Node  # the assignment inside the retried section
    goto: Node  # a goto back to the label after it
    used: Node  # a read of the variable after set_at
    steers_loop: bool = False  # read in the same loop that sets it ("must break")
    unlock: Node | None = None  # read only on the last pass, a lock dropped before the goto


# Labels that start a pass again.  Other backward jumps ("goto checks" from a
# scan loop) often carry state on purpose ("we have already scanned many").
RETRY_WORDS = frozenset({"retry", "again", "restart", "repeat", "redo"})
_RETRY = re.compile(r"^(?:\w*_)?(?:" + "|".join(sorted(RETRY_WORDS)) + r")(?:_\w+)?$")
# a cheap look at the text first: a goto target named like a retry ("again:")
_RETRY_LABEL = re.compile(
    rb"(?m)^\s*(?:\w*_)?(?:" + "|".join(sorted(RETRY_WORDS)).encode() + rb")(?:_\w+)?\s*:(?!:)"
)
_CONSTANTS = {"0", "1", "false", "true", "NULL", "0UL", "-1"}


def _is_constant(value: Node | None) -> bool:
    if value is None:
        return False
    v = unwrap(value)
    return text(v) in _CONSTANTS or (v.type == "identifier" and text(v).isupper())


def _conditional_within(node: Node, region: Node) -> bool:
    """Inside an if/switch/loop body nested in the retried section."""
    p = node.parent
    while p is not None and p is not region and p.type != "function_definition":
        if p.type in BRANCHING:
            return True
        p = p.parent
    return False


def carried_state(fn: Node) -> list[CarriedState]:
    raw = fn.text or b""
    if b"goto" not in raw or not _RETRY_LABEL.search(raw):
        return []
    labels: dict[str, Node] = {}
    gotos: list[tuple[str, Node]] = []
    for n in walk(fn):
        if n.type == "labeled_statement":
            lab = n.child_by_field_name("label")
            if lab is not None:
                labels[text(lab)] = n
        elif n.type == "goto_statement":
            lab = n.child_by_field_name("label")
            if lab is not None:
                gotos.append((text(lab), n))
    back = {
        name: [g for lab, g in gotos if lab == name and g.start_byte > labels[name].start_byte]
        for name in labels
    }
    back = {k: v for k, v in back.items() if v and _RETRY.match(k)}
    if not back:
        return []
    body = fn.child_by_field_name("body")
    if body is None:
        return []
    every = list(assignments(fn))
    out_params: dict[str, list[Node]] = {}  # var -> "&var" call arguments
    for n in walk(fn):
        if (
            n.type == "pointer_expression"
            and n.parent is not None
            and n.parent.type == "argument_list"
            and text(n).startswith("&")
        ):
            arg = n.child_by_field_name("argument")
            if arg is not None and arg.type == "identifier":
                out_params.setdefault(text(arg), []).append(n)
    out: list[CarriedState] = []
    for name, jumps in back.items():
        label = labels[name]
        last = max(g.start_byte for g in jumps)
        # The retried section: from the label to the last goto back to it.
        region_parent = label.parent if label.parent is not None else body
        seen: set[str] = set()
        for target, value, whole in every:
            if whole.start_byte >= label.start_byte or not _is_constant(value):
                continue
            var = key(target)
            if var in seen or unwrap(target).type != "identifier":
                continue
            inside = [
                (t, v, w)
                for t, v, w in every
                if key(t) == var and label.start_byte <= w.start_byte < last
            ]
            if not inside and not out_params.get(var):
                continue
            resets = [
                w
                for _, v, w in inside
                if _is_constant(v) and not _conditional_within(w, region_parent)
            ]
            sets = [w for _, v, w in inside if w not in resets] + out_params.get(var, [])
            if resets and (
                not sets or min(r.start_byte for r in resets) < min(n.start_byte for n in sets)
            ):
                continue  # reset after the label, before any set: each pass starts afresh
            initial = text(unwrap(value)) if value is not None else ""
            if not all(
                v is not None and _is_constant(v) and not _compound(w) for _, v, w in inside
            ):
                continue  # a count or a pointer recomputed each pass: not a flag
            changes = [
                w
                for _, v, w in inside
                if _changes(v, initial)
                and _conditional_within(w, region_parent)
                and not _steers_retry(w, name)
                and not _guarded_by(w, var)
            ]
            # zap_present_ptes(..., &force_flush, &force_break) may set it too
            if initial in ("false", "true", "0", "1"):
                changes.extend(
                    n
                    for n in out_params.get(var, [])
                    if label.start_byte <= n.start_byte < last
                    and _conditional_within(n, region_parent)
                    and not _guarded_by(n, var)
                )
            changes.sort(key=lambda n: n.start_byte)
            if not changes:
                continue
            set_at = changes[0]
            goto = next(
                (g for g in jumps if g.start_byte > set_at.start_byte and not _guarded_by(g, var)),
                None,
            )
            if goto is None:
                continue
            used = _read_in(fn, var, label.start_byte, last)
            if used is None:
                continue
            loop = _loop_of(set_at, label.start_byte)
            in_loop = (
                _read_in(fn, var, loop.start_byte, loop.end_byte) if loop is not None else None
            )
            seen.add(var)
            # A callee's out-parameter may accumulate on purpose: never more than a question.
            steers = in_loop is not None and set_at.type != "pointer_expression"
            unlock = None
            if in_loop is None and all(
                _last_pass_only(fn, r, jumps, every)
                for r in _reads_in(fn, var, label.start_byte, last)
            ):
                unlock = _unlock_between(fn, set_at.end_byte, goto.start_byte)
            out.append(
                CarriedState(var, name, whole, label, set_at, goto, in_loop or used, steers, unlock)
            )
    return out


def _changes(value: Node | None, initial: str) -> bool:
    """An assignment that gives another value than the reset's (or accumulates)."""
    return value is None or not (_is_constant(value) and text(unwrap(value)) == initial)


def _compound(whole: Node) -> bool:
    if whole.type == "update_expression":
        return True
    op = whole.child_by_field_name("operator")
    return op is not None and text(op) != "="


def _guarded_by(node: Node, var: str) -> bool:
    """Under an ``if`` that tests var itself: ``if (!locked) { lock(); locked =
    true; }`` tracks a resource, ``if (alloc_ok) goto retry;`` only retries with
    the reset value."""
    p = node.parent
    while p is not None and p.type != "function_definition":
        if p.type == "if_statement":
            cond = p.child_by_field_name("condition")
            if cond is not None and any(
                n.type == "identifier" and text(n) == var for n in walk(cond)
            ):
                return True
        p = p.parent
    return False


def _steers_retry(whole: Node, label: str) -> bool:
    """Set in the block that jumps back (``pass = 1; goto try_again;``): the
    value is meant for the next pass."""
    node = whole.parent
    while node is not None and node.type not in ("compound_statement", "function_definition"):
        if node.type == "if_statement":
            break
        node = node.parent
    if node is None:
        return False
    if node.type == "if_statement":
        node = node.child_by_field_name("consequence") or node
    return any(
        g.type == "goto_statement"
        and (lab := g.child_by_field_name("label")) is not None
        and text(lab) == label
        for g in walk(node)
    )


def _read_in(fn: Node, var: str, start: int, end: int) -> Node | None:
    """A read of var (not a plain assignment to it) in the retried section."""
    for n in walk(fn):
        if n.type != "identifier" or text(n) != var or not start <= n.start_byte < end:
            continue
        parent = n.parent
        if parent is not None and parent.type == "pointer_expression":
            continue  # &var handed to a callee: a set, not a read
        if (
            parent is not None
            and parent.type == "assignment_expression"
            and parent.child_by_field_name("left") == n
        ):
            op = parent.child_by_field_name("operator")
            if op is not None and text(op) == "=":
                continue
        return n
    return None


def _reads_in(fn: Node, var: str, start: int, end: int) -> list[Node]:
    """Every read of var in [start, end), as _read_in() finds the first."""
    out = []
    while (n := _read_in(fn, var, start, end)) is not None:
        out.append(n)
        start = n.end_byte
    return out


_COMPLEMENT = {"==": "!=", "!=": "=="}


def _conjuncts(cond: Node) -> list[Node]:
    """The operands of a top-level && chain (the condition itself otherwise)."""
    out, stack = [], [unwrap(cond)]
    while stack:
        n = stack.pop()
        op = n.child_by_field_name("operator") if n.type == "binary_expression" else None
        if op is not None and text(op) == "&&":
            for side in ("right", "left"):
                part = n.child_by_field_name(side)
                if part is not None:
                    stack.append(unwrap(part))
        else:
            out.append(n)
    return out


def _complementary(a: Node, b: Node) -> bool:
    """``x == y`` against ``x != y`` (either operand order), ``!e`` against ``e``."""
    a, b = unwrap(a), unwrap(b)
    if a.type == "binary_expression" and b.type == "binary_expression":
        oa, ob = a.child_by_field_name("operator"), b.child_by_field_name("operator")
        if oa is None or ob is None or _COMPLEMENT.get(text(oa)) != text(ob):
            return False
        la, ra = a.child_by_field_name("left"), a.child_by_field_name("right")
        lb, rb = b.child_by_field_name("left"), b.child_by_field_name("right")
        if la is None or ra is None or lb is None or rb is None:
            return False
        pa = (key(la), key(ra))
        return pa in ((key(lb), key(rb)), (key(rb), key(lb)))
    for x, y in ((a, b), (b, a)):
        if x.type == "unary_expression" and text(x).startswith("!"):
            arg = x.child_by_field_name("argument")
            if arg is not None and key(unwrap(arg)) == key(y):
                return True
    return False


def _jump_condition(goto: Node) -> Node | None:
    """The condition of the if whose consequence holds the goto (not its else)."""
    child: Node = goto
    p = goto.parent
    while p is not None and p.type != "function_definition":
        if p.type == "if_statement":
            if p.child_by_field_name("consequence") != child:
                return None
            return p.child_by_field_name("condition")
        if p.type not in {"compound_statement", "expression_statement"}:
            return None
        child, p = p, p.parent
    return None


def _guards(read: Node) -> list[Node]:
    """Conditions that hold whenever read is evaluated: the conditions of the
    ifs whose consequence holds it, and the left-hand conjuncts of an && it is
    on the right of."""
    out: list[Node] = []
    child, p = read, read.parent
    while p is not None and p.type != "function_definition":
        if p.type in ("for_statement", "while_statement", "do_statement"):
            return []  # read again and again: no single pass
        if p.type == "binary_expression":
            op = p.child_by_field_name("operator")
            if op is not None and text(op) == "&&" and p.child_by_field_name("right") == child:
                left = p.child_by_field_name("left")
                if left is not None:
                    out.extend(_conjuncts(left))
        elif p.type == "if_statement" and p.child_by_field_name("consequence") == child:
            cond = p.child_by_field_name("condition")
            if cond is not None:
                out.extend(_conjuncts(cond))
        child, p = p, p.parent
    return out


def _last_pass_only(
    fn: Node, read: Node, jumps: list[Node], every: list[tuple[Node, Node | None, Node]]
) -> bool:
    """The read happens only on the pass that does not jump back: every goto
    to the label after it sits under ``if (addr != end)`` while the read sits
    under ``addr == end``, and nothing assigns addr or end in between.  Such a
    read wants what every pass left (``if (addr == end && can_reclaim)``)."""
    later = [g for g in jumps if g.start_byte > read.start_byte]
    guards = _guards(read)
    if not later or not guards:
        return False
    for g in later:
        cond = _jump_condition(g)
        if cond is None:
            return False
        conj = _conjuncts(cond)
        if len(conj) != 1:
            return False
        match = next((c for c in guards if _complementary(c, conj[0])), None)
        if match is None:
            return False
        names = {text(n) for n in walk(match) if n.type == "identifier"}
        if any(
            read.start_byte < w.start_byte < g.start_byte and key(t) in names for t, _, w in every
        ):
            return False
        if any(
            n.type == "update_expression"
            and read.start_byte < n.start_byte < g.start_byte
            and any(c.type == "identifier" and text(c) in names for c in walk(n))
            for n in walk(fn)
        ):
            return False
    return True


def _unlock_between(fn: Node, start: int, end: int) -> Node | None:
    """A call that drops a lock (``spin_unlock()``, ``pte_unmap_unlock()``...)
    between start and end."""
    for n in walk(fn):
        if n.type == "call_expression" and start <= n.start_byte < end:
            name = n.child_by_field_name("function")
            if name is not None and text(name).endswith("unlock"):
                return n
    return None


def _loop_of(node: Node, after: int) -> Node | None:
    """The innermost loop around node that starts after byte ``after``."""
    p = node.parent
    while p is not None and p.type != "function_definition" and p.start_byte > after:
        if p.type in ("for_statement", "while_statement", "do_statement"):
            return p
        p = p.parent
    return None


def describe(c: CarriedState) -> str:
    if c.unlock is not None:
        return (
            f"can {c.var} carried over goto {c.label} (line {line(c.goto)}) still be trusted? "
            f"It is read only on the pass that ends (line {line(c.used)}), as a sum of every "
            f"pass since the reset before the label (line {line(c.reset)}), but the lock is "
            f"dropped at line {line(c.unlock)} before each goto: what an earlier pass saw "
            "(set at line "
            f"{line(c.set_at)} or not) may have changed since. Recheck it under the lock "
            "after a retry; resetting it after the label would lose the earlier passes."
        )
    if c.steers_loop:
        return (
            f"should {c.var} keep the previous pass's value after goto {c.label} (line "
            f"{line(c.goto)})? It is reset before the {c.label}: label (line {line(c.reset)}) "
            f"but set at line {line(c.set_at)} in a loop that reads it (line {line(c.used)}): "
            "the next pass starts with it set. If each pass should start afresh, reset it "
            "after the label."
        )
    return (
        f"should {c.var} keep the previous pass's value after goto {c.label} (line "
        f"{line(c.goto)})? It is reset before the {c.label}: label (line {line(c.reset)}), set "
        f"at line {line(c.set_at)} and read at line {line(c.used)}. If each pass should start "
        f"afresh, reset it after the label."
    )
