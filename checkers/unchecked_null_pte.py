"""unchecked-null-pte: a pte pointer that may be NULL is used before it is checked.

What it finds:
    The result of a function that may return a NULL pte pointer
    (``pte_offset_map_lock()`` and friends, listed in checkers/data/kernel.toml)
    used on some path before any NULL check: dereferenced, used in pointer
    arithmetic (``vmf->pte - idx``), indexed, or passed as the pte argument of a
    function that dereferences it (``ptep_get()``, ``set_ptes()``, or a helper
    of the tree whose body reads that argument unchecked).

    Checks through a copy (``start_pte = pte = pte_offset_map_lock(...);
    if (!start_pte)``), assertions (``VM_BUG_ON(!pte)``, ``VM_WARN_ON(!pte);``,
    ``if (WARN_ON(!ptep)) return``), ``IS_ERR_OR_NULL()``, a helper that tests
    its argument for NULL, and a status variable set on the NULL path
    (``result = SCAN_PMD_NULL; ... if (result != SCAN_SUCCEED) goto out;``)
    all count as checks.

    Left alone: a lookup that replaces a ``pte_t *`` parameter for an
    address the function was also given (the caller's pointer to the entry
    shows the table is there), and a walk of the kernel's own tables
    (``pgd_offset_k()``, ``init_mm``), which are not freed or replaced by a
    huge PMD under the walker.

Why it matters:
    Since the page table can be freed or replaced by a huge PMD under us
    (``pte_offset_map()`` returns NULL then), every caller must check the result
    before touching it.  A use before the check is a NULL dereference or, with
    arithmetic, a wild pointer that the later check no longer catches.

Example:
    vmf->pte = pte_offset_map_lock(vma->vm_mm, vmf->pmd, vmf->address, &vmf->ptl);
    folio_ptep = vmf->pte - idx;          /* vmf->pte may be NULL here */
    ...
    if (unlikely(!vmf->pte || !pte_same(ptep_get(vmf->pte), vmf->orig_pte)))
            goto out_nomap;

Fix:
    Check right after the call, before any use:
    vmf->pte = pte_offset_map_lock(...);
    if (unlikely(!vmf->pte))
            goto out;
"""

from __future__ import annotations

from collections.abc import Iterable

from tree_sitter import Node

from checkers.analyses import status as st
from checkers.analyses.cfg import CfgNode
from checkers.analyses.context import cfg_of, evidence
from checkers.analyses.dataflow import State, solve
from checkers.analyses.knowledge import knowledge
from checkers.analyses.summaries import helper_params
from checkers.analyses.syntax import (
    assignment_chain,
    assignments,
    call_args,
    call_name,
    calls_in,
    is_lvalue,
    key,
    line,
    lvalue_root,
    mentions,
    text,
    unwrap,
    walk,
)
from checkers.analyses.uses import uses_in
from checkers.base import CheckerInfo, Confidence, FunctionChecker, TreeView
from checkers.frontend import FunctionUnit
from reviewbot.models import Finding, Severity

# A fact: ("null", var key, origin call's start byte, origin line, callee, status)
# where status records constants assigned since (checkers/analyses/status.py).


class UncheckedNullPte(FunctionChecker):
    info = CheckerInfo(
        id="unchecked-null-pte",
        symbol="UNCHECKED_NULL_PTE",
        severity=Severity.BUG,
        confidence=Confidence.HIGH,
        message="{var} may be NULL here: {callee}() at line {origin} can fail, and {check}.",
        requires=("cfg", "dataflow"),
    )

    def triggers(self) -> frozenset[str]:
        return knowledge().may_return_null

    def check_function(self, unit: FunctionUnit, tree: TreeView) -> Iterable[Finding]:
        producers = knowledge().may_return_null
        raw = unit.node.text or b""
        if not mentions(raw, producers):
            return []
        cfg = cfg_of(unit)
        cannot_fail = _cannot_fail(unit, producers)

        def transfer(node: CfgNode, state: State) -> State:
            out = _transfer(node, state)
            if out and cannot_fail:
                out = frozenset(f for f in out if f[2] not in cannot_fail)
            if out and node.ast is not None:
                out = _checked_by_callees(node.ast, out, unit, tree)
            return out

        sol = solve(cfg, transfer, _refine)
        first: dict[int, tuple[Node, str, tuple[object, ...]]] = {}
        for node in cfg.stmt_nodes():
            state = sol.before[node.id]
            if not state or node.ast is None:
                continue
            tracked = {str(f[1]) for f in state}
            for use in uses_in(node.ast, tracked, any_call=True):
                if not use.known and not _summary(unit, tree, use.callee, use.index)[0]:
                    continue
                for fact in state:
                    if fact[1] != use.var:
                        continue
                    origin = int(str(fact[2]))
                    prev = first.get(origin)
                    if prev is None or use.node.start_byte < prev[0].start_byte:
                        via = "" if use.known else use.callee
                        first[origin] = (use.node, via, fact)
        findings = []
        for use_node, via, fact in first.values():
            findings.append(self._finding(unit, cfg.stmt_nodes(), use_node, fact, via))
        return sorted(findings, key=lambda f: f.line)

    def _finding(
        self,
        unit: FunctionUnit,
        nodes: list[CfgNode],
        use: Node,
        fact: tuple[object, ...],
        via: str,
    ) -> Finding:
        var, origin_line, callee = str(fact[1]), int(str(fact[3])), str(fact[4])
        use_line = line(use)
        later = _later_check(nodes, var, use.start_byte)
        earlier = _later_check(nodes, var, -1)
        if later is not None:
            check = f"the NULL check only comes at line {later}"
        elif earlier is not None and earlier < use_line:
            check = f"the check at line {earlier} is not on every path to this use"
        else:
            check = "it is never checked before this use"
        msg = self.info.message.format(var=var, callee=callee, origin=origin_line, check=check)
        if via:
            msg += f" {via}() reads it without checking."
        ev = [evidence(unit, origin_line, "may-be-null"), evidence(unit, use_line, "used")]
        if later is not None:
            ev.append(evidence(unit, later, "checked"))
        return self.finding(
            unit,
            use_line,
            self.info.severity,
            message=msg,
            evidence=tuple(ev),
            key=var,
        )


def _status(fact: tuple[object, ...]) -> st.Status:
    status = fact[5]
    assert isinstance(status, tuple)
    return status


# (the helper's file, its content hash, helper, argument index) -> (reads it
# unchecked, tests it for NULL).  Keyed by where the helper was found, not by
# the caller's file: a helper of another file that a later tree state changes
# is summarised again.
_summaries: dict[tuple[str, int, str, int], tuple[bool, bool]] = {}


def _summary(unit: FunctionUnit, tree: TreeView, name: str, index: int) -> tuple[bool, bool]:
    """One level of summary of the helper ``name`` (same file first, then the
    tree) for its argument ``index``: whether it uses it as a pte pointer
    before checking it, and whether it tests it for NULL at all.  The body is
    analysed with that parameter seeded as "may be NULL"."""
    if not name or name in knowledge().may_return_null or name in knowledge().deref:
        return False, False
    node = unit.file.functions().get(name)
    helper = FunctionUnit(unit.file, name, node) if node is not None else tree.find_function(name)
    if helper is None:
        return False, False
    key_ = (helper.file.path, hash(helper.file.source), name, index)
    hit = _summaries.get(key_)
    if hit is not None:
        return hit
    _summaries[key_] = (False, False)  # recursion guard
    result = (False, False)
    params = helper_params(helper)
    if 0 <= index < len(params) and params[index]:
        result = _param_summary(helper, params[index])
    if len(_summaries) > 4096:
        _summaries.clear()
    _summaries[key_] = result
    return result


def _param_summary(helper: FunctionUnit, param: str) -> tuple[bool, bool]:
    cfg = cfg_of(helper)
    seed: State = frozenset({("null", param, -1, helper.start_line, "<param>", ())})
    sol = solve(cfg, _transfer, _refine, initial=seed)
    derefs = tests = False
    for node in cfg.stmt_nodes():
        if node.ast is None:
            continue
        if node.kind == "cond":
            t = _tested(node.ast)
            tests = tests or (t is not None and t[0] == param)
        state = sol.before[node.id]
        if not derefs and any(f[1] == param for f in state) and uses_in(node.ast, {param}):
            derefs = True  # known dereferences only: one level
    return derefs, tests


def _checked_by_callees(ast: Node, state: State, unit: FunctionUnit, tree: TreeView) -> State:
    """``if (!slot_is_free(ptep))`` where the helper tests ptep for NULL: the
    caller relies on that check, so the pointer counts as checked after it."""
    tracked = {str(f[1]) for f in state}
    for call in calls_in(ast):
        name = call_name(call) or ""
        for i, arg in enumerate(call_args(call)):
            k = key(unwrap(arg))
            if k in tracked and _summary(unit, tree, name, i)[1]:
                origins = {f[2] for f in state if f[1] == k}
                state = frozenset(f for f in state if f[2] not in origins)
    return state


KERNEL_TABLES = ("pgd_offset_k", "init_mm", "pte_offset_kernel")


def _cannot_fail(unit: FunctionUnit, producers: frozenset[str]) -> set[int]:
    """Lookups (by start byte) whose NULL result is not this function's to
    check, for a reason read from the function itself:

    - the result replaces a pte pointer parameter, and the lookup is for an
      address the function was given too (``ptep = huge_pte_offset(mm, addr,
      sz)`` in a function called with ``ptep`` and ``addr``): the caller's
      pointer to that entry shows the table is there;
    - the table walked is the kernel's own (the pmd comes from
      ``pgd_offset_k()`` or ``init_mm``): those tables are not freed or
      replaced by a huge PMD under the walker, which is what a NULL result of
      ``pte_offset_map()`` stands for.
    """
    raw = unit.node.text or b""
    params = _param_types(unit)
    kernel = any(t.encode() in raw for t in KERNEL_TABLES)
    if not params and not kernel:
        return set()
    values: dict[str, list[Node]] = {}
    for target, value, _ in assignments(unit.node):
        if value is not None:
            values.setdefault(key(target), []).append(value)
    out: set[int] = set()
    for target, value, _ in assignments(unit.node):
        if value is None:
            continue
        _, final = assignment_chain(value)
        if final is None or call_name(final) not in producers:
            continue
        args = [key(unwrap(a)) for a in call_args(final)]
        given = params.get(key(target)) == "pte_t*" and any(
            params.get(a) == "unsignedlong" for a in args
        )
        if given or (kernel and any(_from_kernel_tables(a, values) for a in args)):
            out.add(final.start_byte)
    return out


def _param_types(unit: FunctionUnit) -> dict[str, str]:
    """Parameter name -> its type, whitespace-free (``pte_t*``, ``unsignedlong``)."""
    decl = unit.node.child_by_field_name("declarator")
    while decl is not None and decl.type != "function_declarator":
        decl = decl.child_by_field_name("declarator")
    plist = decl.child_by_field_name("parameters") if decl is not None else None
    out: dict[str, str] = {}
    for p in plist.named_children if plist is not None else []:
        if p.type != "parameter_declaration":
            continue
        typ = p.child_by_field_name("type")
        d = p.child_by_field_name("declarator")
        stars = ""
        while d is not None and d.type == "pointer_declarator":
            stars += "*"
            d = d.child_by_field_name("declarator")
        if typ is not None and d is not None and d.type == "identifier":
            out[key(d)] = key(typ) + stars
    return out


def _from_kernel_tables(name: str, values: dict[str, list[Node]], depth: int = 0) -> bool:
    """``name`` is derived (through up to five assignments: pgd, p4d, pud,
    pmd) from the kernel's page tables, on every assignment of it."""
    if any(t in name for t in KERNEL_TABLES):
        return True
    defs = values.get(name)
    if not defs or depth > 5:
        return False
    for v in defs:
        t = key(v)
        if any(k in t for k in KERNEL_TABLES):
            continue
        inner = [key(unwrap(a)) for c in calls_in(v) for a in call_args(c)]
        if unwrap(v).type == "identifier":
            inner.append(t)
        if not any(_from_kernel_tables(a, values, depth + 1) for a in inner if a != name):
            return False
    return True


def _kill(state: State, var: str) -> State:
    return frozenset(f for f in state if f[1] != var and lvalue_root(str(f[1])) != var)


def _transfer(node: CfgNode, state: State) -> State:
    ast = node.ast
    assert ast is not None
    producers = knowledge().may_return_null
    for target, value, _whole in assignments(ast):
        tk = key(target)
        copied = [f for f in state if f[1] == (key(unwrap(value)) if value is not None else None)]
        state = _kill(state, tk)
        if value is None:
            continue
        _inner, final = assignment_chain(value)
        if final is None:
            continue
        name = call_name(final)
        if name in producers:
            state = state | {("null", tk, final.start_byte, line(final), name, ())}
        elif is_lvalue(final):
            state = state | {("null", tk, f[2], f[3], f[4], f[5]) for f in copied}
        if state:
            const = st.constant(final)
            state = frozenset((*f[:5], st.assign(_status(f), tk, const)) for f in state)
    if state:
        state = _escapes(ast, state)
    return state


def _escapes(ast: Node, state: State) -> State:
    """``&pte`` passed anywhere, or the struct holding it (``vmf``) passed to a
    call: the callee may re-assign or check it, so we stop tracking."""
    tracked = {str(f[1]) for f in state}
    roots = {lvalue_root(v) for v in tracked if lvalue_root(v) != v}
    for n in walk(ast):
        if n.type == "pointer_expression" and n.child_by_field_name("operator") is not None:
            op = n.child_by_field_name("operator")
            arg = n.child_by_field_name("argument")
            if op is not None and text(op) == "&" and arg is not None and key(arg) in tracked:
                state = _kill(state, key(arg))
    if roots:
        for call in calls_in(ast):
            for arg in call_args(call):
                k = key(arg)
                if k in roots:
                    state = frozenset(f for f in state if lvalue_root(str(f[1])) != k)
    return state


def _tested(atom: Node) -> tuple[str, bool] | None:
    """(var, truth value meaning "var is not NULL") for a condition atom."""
    atom = unwrap(atom)
    if is_lvalue(atom):
        return key(atom), True
    if atom.type == "assignment_expression":
        left = atom.child_by_field_name("left")
        return (key(left), True) if left is not None else None
    if atom.type == "binary_expression":
        op = atom.child_by_field_name("operator")
        left = atom.child_by_field_name("left")
        right = atom.child_by_field_name("right")
        if op is None or left is None or right is None:
            return None
        o = text(op)
        if o not in ("==", "!="):
            return None
        for a, b in ((left, right), (right, left)):
            if text(unwrap(b)) in ("NULL", "0") and is_lvalue(unwrap(a)):
                return key(unwrap(a)), o == "!="
        return None
    name = call_name(atom)
    if name in knowledge().null_or_error_tests:
        args = call_args(atom)
        if args and is_lvalue(unwrap(args[0])):
            return key(unwrap(args[0])), False
    return None


def _refine(node: CfgNode, label: bool, state: State) -> State:
    if not state or node.kind != "cond" or node.ast is None:
        return state
    status_test = st.tested(node.ast)
    if status_test is not None:
        var, const, eq = status_test
        state = frozenset(
            f for f in state if not st.contradicts(_status(f), var, const, eq == label)
        )
    tested = _tested(node.ast)
    if tested is None:
        return state
    var, nonnull_when = tested
    if label != nonnull_when:
        return state
    origins = {f[2] for f in state if f[1] == var}
    return frozenset(f for f in state if f[2] not in origins)


def _later_check(nodes: list[CfgNode], var: str, after: int) -> int | None:
    best: Node | None = None
    for n in nodes:
        if n.kind != "cond" or n.ast is None or n.ast.start_byte <= after:
            continue
        t = _tested(n.ast)
        if t is not None and t[0] == var and (best is None or n.ast.start_byte < best.start_byte):
            best = n.ast
    return line(best) if best is not None else None
