"""Compile a function definition's statements into closures.

Control flow is by returned signals, not exceptions: a statement returns
None to fall through, or BREAK / CONTINUE / a Return / a Goto.  A block
that holds the label of a Goto resumes there; otherwise the signal goes up,
which is how ``goto out`` leaves nested blocks and loops.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tree_sitter import Node

from checkers.frontend import FunctionUnit, declarator_name
from sim.faults import Kind, NotModelled, SimFault
from sim.interp.ctypes import Converter, converter_for
from sim.interp.expressions import Expr, ExpressionCompiler, _raise, child_in, local_name
from sim.model.mm import PtePtr
from sim.values import UNINIT, ArrayPtr, truth

if TYPE_CHECKING:
    from sim.interp.machine import Frame, Machine

Stmt = Callable[["Machine", "Frame"], Any]


class Return:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


class Goto:
    __slots__ = ("label",)

    def __init__(self, label: str) -> None:
        self.label = label


BREAK = object()
CONTINUE = object()

_SKIP = frozenset({"comment", "{", "}", ";", "type_definition", "struct_specifier"})


def _is_pointer(decl: Node) -> bool:
    while decl is not None:
        if decl.type == "pointer_declarator":
            return True
        if decl.type == "function_declarator":
            return False
        nxt = decl.child_by_field_name("declarator")
        if nxt is None:
            return False
        decl = nxt
    return False


class CompiledFunction:
    """One function of the revision's source, ready to run."""

    is_source = True
    lazy = False

    def __init__(self, unit: FunctionUnit, config: dict[str, int], program: Any = None) -> None:
        self.unit = unit
        self.name = unit.name
        self.file = unit.file.path
        self.config = config
        self.program = program  # lets a call site bind its primitive when compiled
        self.statement_lines: set[int] = set()
        # line -> what a step of the statement on that line records
        self.infos: dict[int, tuple[str, str, int, str]] = {}
        self.params: list[tuple[str, Converter | None]] = []
        self.ret_conv: Converter | None = None
        self.body: Stmt = self._compile()
        self.general_body: Stmt = self.body  # the body without a twin's fast path

    # --- front matter -----------------------------------------------------
    def _compile(self) -> Stmt:
        node = self.unit.node
        decl = node.child_by_field_name("declarator")
        type_node = node.child_by_field_name("type")
        assert decl is not None
        type_text = self.unit.text(type_node) if type_node is not None else "int"
        self.ret_conv = converter_for(type_text, _is_pointer(decl))
        fdecl: Node | None = decl
        while fdecl is not None and fdecl.type != "function_declarator":
            fdecl = fdecl.child_by_field_name("declarator")
        locals_: set[str] = set()
        convs: dict[str, Converter | None] = {}
        if fdecl is not None:
            plist = fdecl.child_by_field_name("parameters")
            for p in plist.named_children if plist is not None else []:
                if p.type != "parameter_declaration":
                    continue
                pdecl = p.child_by_field_name("declarator")
                ptype = p.child_by_field_name("type")
                if pdecl is None:
                    continue  # (void)
                pname = declarator_name(pdecl)
                if pname is None:
                    continue
                conv = converter_for(self.unit.text(ptype) if ptype else "", _is_pointer(pdecl))
                self.params.append((pname, conv))
                locals_.add(pname)
                convs[pname] = conv
        body = node.child_by_field_name("body")
        assert body is not None
        self._collect_locals(body, locals_, convs)
        self.ec = ExpressionCompiler(self.unit.text, locals_)
        self.ec.program = self.program
        self.ec.local_conv = convs
        return self.stmt(body)

    def _collect_locals(
        self, node: Node, names: set[str], convs: dict[str, Converter | None]
    ) -> None:
        stack = [node]
        while stack:
            n = stack.pop()
            if n.type == "declaration":
                tnode = n.child_by_field_name("type")
                ttext = self.unit.text(tnode) if tnode is not None else ""
                for d in n.children_by_field_name("declarator"):
                    inner = (
                        d.child_by_field_name("declarator") if d.type == "init_declarator" else d
                    )
                    name = declarator_name(inner) if inner is not None else None
                    if name is not None and inner is not None:
                        names.add(name)
                        array = inner.type == "array_declarator"
                        convs.setdefault(name, converter_for(ttext, _is_pointer(inner) or array))
                continue
            stack.extend(n.named_children)

    # --- statements ---------------------------------------------------------
    def stmt(self, node: Node) -> Stmt:
        method = getattr(self, "_s_" + node.type, None)
        if method is None:
            return self._located(node, self._unsupported(node), step=True)
        fn: Stmt = method(node)
        return fn

    def _unsupported(self, node: Node) -> Stmt:
        what = f"C statement {node.type}: {self.unit.text(node).splitlines()[0][:50]}"

        def fail(m: Machine, f: Frame) -> Any:
            raise NotModelled(what)

        return fail

    def _where(self, node: Node) -> tuple[tuple[str, str, int, str], str, int, str]:
        line = node.start_point[0] + 1
        text = " ".join(self.unit.text(node).splitlines()[0].split())
        self.statement_lines.add(line)
        info = self.infos.setdefault(line, (self.file, self.name, line, text))
        return info, self.file, line, self.name

    def _located(self, node: Node, inner: Stmt, step: bool = True) -> Stmt:
        info, file, line, name = self._where(node)

        # The step is recorded inline (not through Machine.step): this runs
        # once per statement executed, the interpreter's innermost path.
        def run(m: Machine, f: Frame) -> Any:
            log = m.log
            log.append(info)
            if len(log) > m.room:
                m.exhausted()
            try:
                return inner(m, f)
            except SimFault as exc:
                exc.locate(file, line, name)
                raise

        return run

    def _s_compound_statement(self, node: Node) -> Stmt:
        return self._block(node.named_children)

    def _flatten(self, children: list[Node], out: list[Stmt], labels: dict[str, int]) -> None:
        for child in children:
            if child.type in _SKIP:
                continue
            if child.type == "labeled_statement":
                label = child.child_by_field_name("label")
                assert label is not None
                labels[self.unit.text(label)] = len(out)
                self._flatten([c for c in child.named_children if c != label], out, labels)
                continue
            out.append(self.stmt(child))

    def _block(self, children: list[Node]) -> Stmt:
        stmts: list[Stmt] = []
        labels: dict[str, int] = {}
        self._flatten(children, stmts, labels)
        n = len(stmts)
        if not labels:
            if n == 1:
                return stmts[0]

            def block(m: Machine, f: Frame) -> Any:
                for s in stmts:
                    sig = s(m, f)
                    if sig is not None:
                        return sig
                return None

            block.__dict__["stmts"] = stmts  # a loop runs them without this closure
            return block

        def labelled_block(m: Machine, f: Frame) -> Any:
            i = 0
            while i < n:
                sig = stmts[i](m, f)
                if sig is not None:
                    if type(sig) is Goto and sig.label in labels:
                        i = labels[sig.label]
                        continue
                    return sig
                i += 1
            return None

        return labelled_block

    def _s_expression_statement(self, node: Node) -> Stmt:
        children = [c for c in node.named_children if c.type != "comment"]
        if not children:
            return lambda m, f: None
        fused = self._fused_expression_statement(node, children[0])
        if fused is not None:
            return fused
        e = self.ec.expr(children[0])
        info, file, line, name = self._where(node)

        def run(m: Machine, f: Frame) -> Any:
            log = m.log
            log.append(info)
            if len(log) > m.room:
                m.exhausted()
            try:
                e(m, f)
            except SimFault as exc:
                exc.locate(file, line, name)
                raise
            return None

        return run

    def _fused_expression_statement(self, node: Node, expr: Node) -> Stmt | None:
        """``x = value;`` and ``x++;`` on a local, the commonest statements,
        as one closure: the same steps, checks and conversions as the
        general path, without its three nested calls."""
        assigned = self.ec.local_assignment(expr)
        if assigned is not None:
            target, conv, value = assigned
            info, file, line, name = self._where(node)

            def assign(m: Machine, f: Frame) -> Any:
                log = m.log
                log.append(info)
                if len(log) > m.room:
                    m.exhausted()
                try:
                    v = value(m, f)
                except SimFault as exc:
                    exc.locate(file, line, name)
                    raise
                f.vars[target] = v if conv is None else conv(v)
                return None

            return assign
        incremented = self.ec.local_increment(expr)
        if incremented is not None:
            target, conv, comb = incremented
            step = 1 if comb.op == "+" else -1
            info, file, line, name = self._where(node)
            uninit = f"use of uninitialised local {target}"

            def increment(m: Machine, f: Frame) -> Any:
                log = m.log
                log.append(info)
                if len(log) > m.room:
                    m.exhausted()
                try:
                    old = f.vars.get(target, UNINIT)
                    if old is UNINIT:
                        raise SimFault(Kind.UNINITIALISED, uninit)
                    if type(old) is PtePtr:
                        new = PtePtr(old.handle, old.index + step)  # PtePtr.moved()
                    else:
                        new = comb(old, 1)
                except SimFault as exc:
                    exc.locate(file, line, name)
                    raise
                f.vars[target] = new if conv is None else conv(new)
                return None

            return increment
        return None

    def _s_declaration(self, node: Node) -> Stmt:
        tnode = node.child_by_field_name("type")
        ttext = self.unit.text(tnode) if tnode is not None else ""
        inits: list[tuple[str, Any, Converter | None]] = []
        for d in node.children_by_field_name("declarator"):
            if d.type == "init_declarator":
                inner = d.child_by_field_name("declarator")
                value = d.child_by_field_name("value")
            else:
                inner, value = d, None
            assert inner is not None
            name = declarator_name(inner)
            if name is not None and inner.type == "array_declarator" and value is None:
                inits.append((name, self._array(inner, name), None))
                continue
            if name is None or inner.type == "array_declarator":
                return self._located(node, self._unsupported(node))
            conv = converter_for(ttext, _is_pointer(inner))
            if value is not None and value.type == "initializer_list":
                return self._located(node, self._unsupported(node))
            inits.append((name, self.ec.expr(value) if value is not None else None, conv))
        if all(e is None for _, e, _ in inits):
            names = [n for n, _, _ in inits]

            def undefined(m: Machine, f: Frame) -> Any:
                for n in names:
                    f.vars[n] = UNINIT
                return None

            return undefined

        if len(inits) == 1:
            info, file, line, where = self._where(node)
            only, e0, conv0 = inits[0]
            assert e0 is not None

            def declare1(m: Machine, f: Frame) -> Any:
                log = m.log
                log.append(info)
                if len(log) > m.room:
                    m.exhausted()
                try:
                    v = e0(m, f)
                except SimFault as exc:
                    exc.locate(file, line, where)
                    raise
                f.vars[only] = conv0(v) if conv0 is not None else v
                return None

            return declare1

        def declare(m: Machine, f: Frame) -> Any:
            for name, e, conv in inits:
                if e is None:
                    f.vars[name] = UNINIT
                else:
                    v = e(m, f)
                    f.vars[name] = conv(v) if conv is not None else v
            return None

        return self._located(node, declare)

    def _array(self, decl: Node, name: str) -> Expr:
        """``T name[N];``: N cells, each uninitialised until written."""
        size_node = decl.child_by_field_name("size")
        if size_node is None:
            return _raise(NotModelled(f"array {name}[] without a size"))
        size = self.ec.expr(size_node)

        def new_array(m: Machine, f: Frame) -> Any:
            n = size(m, f)
            if type(n) is not int or not 0 < n <= 4096:
                raise NotModelled(f"array {name}[{n!r}]")
            return ArrayPtr([UNINIT] * n, 0, name)

        return new_array

    def _s_if_statement(self, node: Node) -> Stmt:
        cond_node = node.child_by_field_name("condition")
        assert cond_node is not None
        negated = self.ec.negated(cond_node)
        cond = self.ec.expr(cond_node) if negated is None else negated
        negate = negated is not None
        cons = self.stmt(child_in(node, "consequence"))
        alt_node = node.child_by_field_name("alternative")
        alt: Stmt | None = None
        if alt_node is not None:
            inner = [c for c in alt_node.named_children if c.type != "comment"]
            alt = self.stmt(inner[0]) if inner else None

        info, file, line, name = self._where(node)

        if negate:
            # ``if (!x)``: the operand tested directly, as ``!`` would
            # (truth() still rejects an uninitialised value).
            def run_not(m: Machine, f: Frame) -> Any:
                log = m.log
                log.append(info)
                if len(log) > m.room:
                    m.exhausted()
                try:
                    c = cond(m, f)
                    if not (c if type(c) is int else truth(c)):
                        return cons(m, f)
                    if alt is not None:
                        return alt(m, f)
                    return None
                except SimFault as exc:
                    exc.locate(file, line, name)
                    raise

            return run_not

        def run(m: Machine, f: Frame) -> Any:
            log = m.log
            log.append(info)
            if len(log) > m.room:
                m.exhausted()
            try:
                c = cond(m, f)
                if c if type(c) is int else truth(c):
                    return cons(m, f)
                if alt is not None:
                    return alt(m, f)
                return None
            except SimFault as exc:
                exc.locate(file, line, name)
                raise

        return run

    def _s_goto_statement(self, node: Node) -> Stmt:
        label = self.unit.text(node.child_by_field_name("label"))
        sig = Goto(label)
        return self._located(node, lambda m, f: sig)

    def _s_return_statement(self, node: Node) -> Stmt:
        children = [c for c in node.named_children if c.type != "comment"]
        if not children:
            nothing = Return(None)
            return self._located(node, lambda m, f: nothing)
        e = self.ec.expr(children[0])
        conv = self.ret_conv

        info, file, line, name = self._where(node)
        local = local_name(e)
        if local is not None:
            uninit = f"use of uninitialised local {local}"

            def ret_local(m: Machine, f: Frame) -> Any:
                log = m.log
                log.append(info)
                if len(log) > m.room:
                    m.exhausted()
                v = f.vars.get(local, UNINIT)
                if v is UNINIT:
                    exc = SimFault(Kind.UNINITIALISED, uninit)
                    exc.locate(file, line, name)
                    raise exc
                return Return(conv(v) if conv is not None else v)

            return ret_local

        def ret(m: Machine, f: Frame) -> Any:
            log = m.log
            log.append(info)
            if len(log) > m.room:
                m.exhausted()
            try:
                v = e(m, f)
            except SimFault as exc:
                exc.locate(file, line, name)
                raise
            return Return(conv(v) if conv is not None else v)

        return ret

    def _s_break_statement(self, node: Node) -> Stmt:
        return self._located(node, lambda m, f: BREAK)

    def _s_continue_statement(self, node: Node) -> Stmt:
        return self._located(node, lambda m, f: CONTINUE)

    def _loop(self, node: Node, cond: Any, body: Stmt, update: Any, first: bool) -> Stmt:
        stmts: list[Stmt] | None = getattr(body, "stmts", None)

        def loop(m: Machine, f: Frame) -> Any:
            check = first
            while True:
                if check and cond is not None and not truth(cond(m, f)):
                    return None
                check = True
                m.charged += 1
                m.room -= 1
                if len(m.log) > m.room:
                    m.exhausted()
                if stmts is None:
                    sig = body(m, f)
                else:
                    sig = None
                    for s in stmts:
                        sig = s(m, f)
                        if sig is not None:
                            break
                if sig is BREAK:
                    return None
                if sig is not None and sig is not CONTINUE:
                    return sig
                if update is not None:
                    update(m, f)

        return self._located(node, loop)

    def _s_while_statement(self, node: Node) -> Stmt:
        cond = self.ec.expr(child_in(node, "condition"))
        body = self.stmt(child_in(node, "body"))
        return self._loop(node, cond, body, None, True)

    def _s_do_statement(self, node: Node) -> Stmt:
        cond = self.ec.expr(child_in(node, "condition"))
        body = self.stmt(child_in(node, "body"))
        return self._loop(node, cond, body, None, False)

    def _s_for_statement(self, node: Node) -> Stmt:
        init_node = node.child_by_field_name("initializer")
        cond_node = node.child_by_field_name("condition")
        upd_node = node.child_by_field_name("update")
        body = self.stmt(child_in(node, "body"))
        init: Any = None
        if init_node is not None:
            init = (
                self._s_declaration(init_node)
                if init_node.type == "declaration"
                else self.ec.expr(init_node)
            )
        cond = self.ec.expr(cond_node) if cond_node is not None else None
        upd = self.ec.expr(upd_node) if upd_node is not None else None
        loop = self._loop(node, cond, body, upd, True)

        def run(m: Machine, f: Frame) -> Any:
            if init is not None:
                init(m, f)
            return loop(m, f)

        return run

    def _s_switch_statement(self, node: Node) -> Stmt:
        value = self.ec.expr(child_in(node, "condition"))
        body = node.child_by_field_name("body")
        assert body is not None
        cases: list[tuple[Any, int]] = []  # (value expr or None for default, index)
        stmts: list[Stmt] = []
        labels: dict[str, int] = {}
        for case in body.named_children:
            if case.type != "case_statement":
                continue
            vnode = case.child_by_field_name("value")
            cases.append((self.ec.expr(vnode) if vnode is not None else None, len(stmts)))
            self._flatten([c for c in case.named_children if c != vnode], stmts, labels)

        def switch(m: Machine, f: Frame) -> Any:
            v = value(m, f)
            start = None
            for cexpr, idx in cases:
                if cexpr is not None and cexpr(m, f) == v:
                    start = idx
                    break
            if start is None:
                start = next((idx for cexpr, idx in cases if cexpr is None), len(stmts))
            for s in stmts[start:]:
                sig = s(m, f)
                if sig is BREAK:
                    return None
                if sig is not None:
                    return sig
            return None

        return self._located(node, switch)

    # --- preprocessor inside a body: chosen at compile time by the config ---
    def _s_preproc_if(self, node: Node) -> Stmt:
        cond = node.child_by_field_name("condition")
        try:
            taken = cond is not None and bool(self._pp_eval(cond))
        except SimFault:
            return self._located(node, self._unsupported(node))
        return self._pp_branch(node, taken)

    def _s_preproc_ifdef(self, node: Node) -> Stmt:
        name = self.unit.text(node.child_by_field_name("name"))
        defined = bool(self.config.get(name, 0))
        negate = self.unit.text(node).startswith("#ifndef")
        return self._pp_branch(node, defined != negate)

    def _s_preproc_elif(self, node: Node) -> Stmt:
        return self._s_preproc_if(node)

    def _s_preproc_else(self, node: Node) -> Stmt:
        return self._block(list(node.named_children))

    def _pp_branch(self, node: Node, taken: bool) -> Stmt:
        alt = node.child_by_field_name("alternative")
        skip = {"condition", "name", "alternative"}
        own = [
            c
            for i, c in enumerate(node.children)
            if c.is_named and node.field_name_for_child(i) not in skip
        ]
        if taken:
            return self._block(own)
        if alt is not None:
            return self.stmt(alt)
        return lambda m, f: None

    def _pp_eval(self, node: Node) -> int:
        return pp_eval(node, self.unit.text, self.config)


def pp_eval(node: Node, text: Callable[[Node], str], config: dict[str, int]) -> int:
    """Evaluate an ``#if`` condition under ``config`` (undefined symbols are 0)."""
    t = node.type
    if t == "preproc_defined" or (t == "call_expression" and text(node).startswith("IS_ENABLED")):
        names = [c for c in node.named_children if c.type == "identifier"]
        if t == "call_expression":
            args = node.child_by_field_name("arguments")
            names = list(args.named_children) if args is not None else []
        return 1 if names and config.get(text(names[-1]), 0) else 0
    if t == "identifier":
        return config.get(text(node), 0)
    if t == "number_literal":
        return int(text(node).rstrip("uUlL"), 0)
    if t == "parenthesized_expression":
        return pp_eval(node.named_children[0], text, config)
    if t == "unary_expression":
        v = pp_eval(child_in(node, "argument"), text, config)
        return int(not v)
    if t == "binary_expression":
        op = text(child_in(node, "operator"))
        a = pp_eval(child_in(node, "left"), text, config)
        b = pp_eval(child_in(node, "right"), text, config)
        ops = {
            "&&": int(bool(a and b)),
            "||": int(bool(a or b)),
            "==": int(a == b),
            "!=": int(a != b),
            ">": int(a > b),
            "<": int(a < b),
            ">=": int(a >= b),
            "<=": int(a <= b),
        }
        if op in ops:
            return ops[op]
    raise SimFault(Kind.NOT_MODELLED, f"not modelled: #if {text(node)}")
