"""Control-flow graph of one C function, built from the tree-sitter tree.

Nodes are statements (expression statements, declarations, returns) and
condition *atoms*: ``if (!pte || !pte_same(a, b))`` becomes two atoms, ``pte``
(edges: true -> next atom, false -> then-branch) and ``pte_same(a, b)``.
``!`` swaps the edges; ``likely``, ``unlikely``, ``WARN_ON`` and
``READ_ONCE`` are transparent.  ``BUG_ON(c)``/``VM_BUG_ON(c)`` are atoms whose
true edge goes to an abort node with no successor, so an assertion acts like
a NULL check; ``WARN_ON(c);`` used as a statement is taken as the same claim.
Loops, ``switch`` with fall-through, ``break``/``continue``, ``return`` and
``goto`` to labels at any depth are followed.

The graph is built backwards (each statement is given its successor), which
keeps the builder a simple recursion over statement nesting, never over
expression nesting.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tree_sitter import Node

from checkers.analyses.syntax import (
    ASSERT_CALLS,
    WARN_STATEMENTS,
    call_args,
    call_name,
    text,
    unwrap,
)

Edge = tuple[int, bool | None]  # (target, True/False on a condition's edges, else None)


@dataclass
class CfgNode:
    id: int
    kind: str  # "entry", "exit", "abort", "stmt", "cond", "join"
    ast: Node | None = None
    succ: list[Edge] = field(default_factory=list)


class CfgError(Exception):
    """The function is too large or too deep to analyse."""


MAX_NODES = 20000


@dataclass
class Cfg:
    nodes: list[CfgNode]
    entry: int
    exit: int

    def preds(self) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in self.nodes]
        for n in self.nodes:
            for t, _ in n.succ:
                out[t].append(n.id)
        return out

    def stmt_nodes(self) -> list[CfgNode]:
        return [n for n in self.nodes if n.kind in ("stmt", "cond") and n.ast is not None]


class _Builder:
    def __init__(self) -> None:
        self.nodes: list[CfgNode] = []
        self.labels: dict[str, int] = {}
        self.gotos: list[tuple[int, str]] = []
        self.exit = self.new("exit")
        self.abort = self.new("abort")

    def new(self, kind: str, ast: Node | None = None, succ: list[Edge] | None = None) -> int:
        if len(self.nodes) >= MAX_NODES:
            raise CfgError("function too large")
        node = CfgNode(len(self.nodes), kind, ast, succ or [])
        self.nodes.append(node)
        return node.id

    # -- conditions ---------------------------------------------------------
    def cond(self, expr: Node, on_true: int, on_false: int) -> int:
        expr = unwrap(expr)
        if expr.type == "unary_expression":
            op = expr.child_by_field_name("operator")
            arg = expr.child_by_field_name("argument")
            if op is not None and text(op) == "!" and arg is not None:
                return self.cond(arg, on_false, on_true)
        if expr.type == "binary_expression":
            op = expr.child_by_field_name("operator")
            left = expr.child_by_field_name("left")
            right = expr.child_by_field_name("right")
            if op is not None and left is not None and right is not None:
                if text(op) == "&&":
                    return self.cond(left, self.cond(right, on_true, on_false), on_false)
                if text(op) == "||":
                    return self.cond(left, on_true, self.cond(right, on_true, on_false))
        return self.new("cond", expr, [(on_true, True), (on_false, False)])

    # -- statements ---------------------------------------------------------
    def block(self, stmts: list[Node], nxt: int, brk: int | None, cont: int | None) -> int:
        for s in reversed(stmts):
            nxt = self.stmt(s, nxt, brk, cont)
        return nxt

    def stmt(self, node: Node, nxt: int, brk: int | None, cont: int | None) -> int:
        t = node.type
        if t == "compound_statement":
            return self.block(node.named_children, nxt, brk, cont)
        if t in (
            "comment",
            ";",
            "preproc_call",
            "preproc_def",
            "preproc_function_def",
            "preproc_include",
            "type_definition",
            "struct_specifier",
            "enum_specifier",
        ):
            return nxt
        if t == "if_statement":
            cond = node.child_by_field_name("condition")
            then = node.child_by_field_name("consequence")
            alt = node.child_by_field_name("alternative")
            t_entry = self.stmt(then, nxt, brk, cont) if then is not None else nxt
            f_entry = nxt
            if alt is not None:
                inner = alt.named_children
                f_entry = self.block(list(inner), nxt, brk, cont)
            if cond is None:
                return self.new("join", None, [(t_entry, None), (f_entry, None)])
            return self.cond(cond, t_entry, f_entry)
        if t == "while_statement":
            head = self.new("join")
            cond = node.child_by_field_name("condition")
            body = node.child_by_field_name("body")
            b_entry = self.stmt(body, head, nxt, head) if body is not None else head
            c_entry = self.loop_cond(cond, b_entry, nxt)
            self.nodes[head].succ = [(c_entry, None)]
            return head
        if t == "do_statement":
            head = self.new("join")
            cond = node.child_by_field_name("condition")
            body = node.child_by_field_name("body")
            c_entry = self.loop_cond(cond, head, nxt)
            b_entry = self.stmt(body, c_entry, nxt, c_entry) if body is not None else c_entry
            self.nodes[head].succ = [(b_entry, None)]
            return head
        if t == "for_statement":
            return self.for_stmt(node, nxt)
        if t == "switch_statement":
            return self.switch(node, nxt, cont)
        if t == "return_statement":
            return self.new("stmt", node, [(self.exit, None)])
        if t == "break_statement":
            return self.new("join", node, [(brk if brk is not None else nxt, None)])
        if t == "continue_statement":
            return self.new("join", node, [(cont if cont is not None else nxt, None)])
        if t == "goto_statement":
            label = node.child_by_field_name("label")
            j = self.new("join", node)
            if label is not None:
                self.gotos.append((j, text(label)))
            else:
                self.nodes[j].succ = [(nxt, None)]
            return j
        if t == "labeled_statement":
            label = node.child_by_field_name("label")
            inner = [c for c in node.named_children if c.type != "statement_identifier"]
            entry = self.block(inner, nxt, brk, cont)
            j = self.new("join", None, [(entry, None)])
            if label is not None:
                self.labels[text(label)] = j
            return j
        if t == "case_statement":  # a stray case outside a switch body
            inner = [c for c in node.named_children if c != node.child_by_field_name("value")]
            return self.block(inner, nxt, brk, cont)
        if t == "expression_statement":
            expr = node.named_children[0] if node.named_child_count else None
            if expr is not None and expr.type == "call_expression":
                name = call_name(expr)
                args = call_args(expr)
                if (name in ASSERT_CALLS or name in WARN_STATEMENTS) and args:
                    return self.cond(args[0], self.abort, nxt)
        return self.new("stmt", node, [(nxt, None)])

    def loop_cond(self, cond: Node | None, body: int, out: int) -> int:
        if cond is None:
            return body
        inner = unwrap(cond)
        if inner.type in ("number_literal", "true") and text(inner) not in ("0", "false"):
            return body  # while (1)
        if inner.type == "comma_expression":
            return self.new("stmt", inner, [(body, None), (out, None)])
        return self.cond(cond, body, out)

    def for_stmt(self, node: Node, nxt: int) -> int:
        init = node.child_by_field_name("initializer")
        cond = node.child_by_field_name("condition")
        update = node.child_by_field_name("update")
        body = node.child_by_field_name("body")
        head = self.new("join")
        step = self.new("stmt", update, [(head, None)]) if update is not None else head
        b_entry = self.stmt(body, step, nxt, step) if body is not None else step
        c_entry = self.loop_cond(cond, b_entry, nxt)
        self.nodes[head].succ = [(c_entry, None)]
        if init is not None:
            return self.new("stmt", init, [(head, None)])
        return head

    def switch(self, node: Node, nxt: int, cont: int | None) -> int:
        cond = node.child_by_field_name("condition")
        body = node.child_by_field_name("body")
        entries: list[int] = []
        has_default = False
        flow = nxt
        children = list(body.named_children) if body is not None else []
        for child in reversed(children):
            if child.type == "case_statement":
                value = child.child_by_field_name("value")
                if value is None:
                    has_default = True
                stmts = [c for c in child.named_children if c != value]
                flow = self.block(stmts, flow, nxt, cont)
                entries.append(flow)
            else:
                flow = self.stmt(child, flow, nxt, cont)
        succ: list[Edge] = [(e, None) for e in reversed(entries)]
        if not has_default:
            succ.append((nxt, None))
        return self.new("stmt", cond, succ)


def build_cfg(function: Node) -> Cfg:
    """CFG of a function_definition node (raises CfgError when it cannot)."""
    b = _Builder()
    body = function.child_by_field_name("body")
    first = b.stmt(body, b.exit, None, None) if body is not None else b.exit
    entry = b.new("entry", None, [(first, None)])
    for j, label in b.gotos:
        # An unknown label (a macro hid it) ends the path rather than inventing flow.
        b.nodes[j].succ = [(b.labels.get(label, b.exit), None)]
    return Cfg(b.nodes, entry, b.exit)
