"""Compile C expressions (tree-sitter nodes) into closures ``fn(m, f)``.

``m`` is the Machine (model, budgets, callee resolution), ``f`` the Frame of
locals.  Each node type has one small ``_x_<type>`` method.  Pointer
arithmetic, dereference and NULL are checked here, where the C expression
text is at hand for the message.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tree_sitter import Node

from sim.faults import Kind, NotModelled, SimFault
from sim.interp.ctypes import Converter, c_div, c_mod, converter_for, sizeof
from sim.model.mm import PtePtr
from sim.model.pte import SwapEntry
from sim.values import NULL, UNINIT, ArrayPtr, ErrPtr, FieldRef, NullPtr, Uninit, VarRef, truth

if TYPE_CHECKING:
    from sim.interp.machine import Frame, Machine

Expr = Callable[["Machine", "Frame"], Any]
Setter = Callable[["Machine", "Frame", Any], None]


def _raise(exc: SimFault) -> Expr:
    def fn(m: Machine, f: Frame) -> Any:
        raise exc

    return fn


def child_in(node: Node, field: str) -> Node:
    """``node``'s child in ``field``.  tree-sitter gives None where the C is
    malformed (an ERROR node took its place): that is not modelled."""
    found = node.child_by_field_name(field)
    if found is None:
        raise NotModelled(f"C {node.type} without its {field}")
    return found


def local_name(e: Expr) -> str | None:
    """The local an expression only reads (its consumer may read it inline)."""
    name: str | None = getattr(e, "local_name", None)
    return name


def _ptr_arith(op: str, a: Any, b: Any, text: str, left_text: str) -> Any:
    if isinstance(a, NullPtr) or (isinstance(b, NullPtr) and op == "+"):
        raise SimFault(Kind.NULL, f"pointer arithmetic on NULL {left_text}")
    if isinstance(a, PtePtr):
        if type(b) is int:
            return a.moved(b if op == "+" else -b)
        if isinstance(b, PtePtr) and op == "-":
            if b.handle.table is not a.handle.table:
                raise SimFault(Kind.OUT_OF_BOUNDS, f"{text}: pointers into different tables")
            return a.index - b.index
    if isinstance(b, PtePtr) and type(a) is int and op == "+":
        return b.moved(a)
    if isinstance(a, ArrayPtr) and type(b) is int:
        return a.moved(b if op == "+" else -b)
    raise NotModelled(f"arithmetic '{op}' on {type(a).__name__} and {type(b).__name__} in {text}")


def _compare(op: str, a: Any, b: Any, text: str) -> int:
    if isinstance(a, Uninit) or isinstance(b, Uninit):
        raise SimFault(Kind.UNINITIALISED, f"use of an uninitialised value in {text}")
    if op in ("==", "!="):
        if isinstance(a, PtePtr) or isinstance(b, PtePtr):
            same = a == b
        elif isinstance(a, NullPtr) or isinstance(b, NullPtr):
            other = b if isinstance(a, NullPtr) else a
            same = isinstance(other, NullPtr) or (type(other) is int and other == 0)
        elif type(a) is int and type(b) is int:
            same = a == b
        else:
            same = a is b or a == b
        return int(same) if op == "==" else int(not same)
    if isinstance(a, PtePtr) and isinstance(b, PtePtr):
        if a.handle.table is not b.handle.table:
            raise SimFault(Kind.OUT_OF_BOUNDS, f"{text}: pointers into different tables")
        a, b = a.index, b.index
    if type(a) is not int or type(b) is not int:
        raise NotModelled(f"comparison '{op}' of {type(a).__name__} in {text}")
    if op == "<":
        return int(a < b)
    if op == ">":
        return int(a > b)
    if op == "<=":
        return int(a <= b)
    return int(a >= b)


# Values are Python ints, but never wider than C's: a product or a left
# shift that leaves the 64-bit range wraps (unsigned long arithmetic), and
# the store into a typed local then converts to its own width.  So
# ``big = big * big`` forty times costs forty multiplications of 64-bit
# numbers, not minutes of bignum work.
_LOW = -(1 << 63)
_HIGH = 1 << 64
_MASK = _HIGH - 1
WIDTH = 64


def wrap64(v: int) -> int:
    return v if _LOW <= v < _HIGH else v & _MASK


def _mul(a: int, b: int) -> int:
    v = a * b
    return v if _LOW <= v < _HIGH else v & _MASK


def shift(op: str, a: int, b: int, text: str) -> int:
    """``a << b`` or ``a >> b``; a count past the width is C's undefined
    behaviour, a failure of the run, never a bignum."""
    if b < 0 or b >= WIDTH:
        raise SimFault(
            Kind.UNDEFINED,
            f"shift by {b} in {text}: past the width of a {WIDTH}-bit integer "
            "(undefined behaviour)",
        )
    if op == ">>":
        return a >> b
    v = a << b
    return v if _LOW <= v < _HIGH else v & _MASK


_INT_OPS: dict[str, Callable[[int, int], int]] = {
    "*": _mul,
    "&": lambda a, b: a & b,
    "|": lambda a, b: a | b,
    "^": lambda a, b: a ^ b,
}


def _deref(p: Any, text: str) -> Any:
    if isinstance(p, PtePtr):
        return p.load()
    if isinstance(p, NullPtr):
        raise SimFault(Kind.NULL, f"NULL dereference of {text}")
    if isinstance(p, VarRef | FieldRef | ArrayPtr):
        return p.load()
    if isinstance(p, Uninit):
        raise SimFault(Kind.UNINITIALISED, f"dereference of uninitialised {text}")
    # A model object dereferenced as a whole struct: pass the object on.
    return p


def get_field(obj: Any, name: str, text: str) -> Any:
    if isinstance(obj, NullPtr):
        raise SimFault(Kind.NULL, f"NULL dereference of {text}")
    if isinstance(obj, Uninit):
        raise SimFault(Kind.UNINITIALISED, f"use of uninitialised {text}")
    if isinstance(obj, ErrPtr):
        raise SimFault(Kind.NULL, f"dereference of the error pointer {text}")
    fields = getattr(obj, "C_FIELDS", None)
    if fields is not None and name not in fields:
        raise NotModelled(f"field {name} of {type(obj).__name__}")
    try:
        return getattr(obj, name)
    except AttributeError:
        raise NotModelled(f"field {name} of {type(obj).__name__}") from None


def set_field(obj: Any, name: str, value: Any, text: str) -> None:
    if isinstance(obj, NullPtr):
        raise SimFault(Kind.NULL, f"NULL dereference of {text}")
    if isinstance(obj, Uninit):
        raise SimFault(Kind.UNINITIALISED, f"use of uninitialised {text}")
    fields = getattr(obj, "C_FIELDS", None)
    if fields is None or name not in fields:
        raise NotModelled(f"store to field {name} of {type(obj).__name__}")
    setattr(obj, name, value)


class ExpressionCompiler:
    """Per-function: knows which names are locals and how to convert them."""

    def __init__(self, text_of: Callable[[Node], str], locals_: set[str]) -> None:
        self.text_of = text_of
        self.locals = locals_
        self.local_conv: dict[str, Converter | None] = {}
        self.program: Any = None  # the Program compiling this function, if any

    def expr(self, node: Node) -> Expr:
        method = getattr(self, "_x_" + node.type, None)
        if method is None:
            return _raise(NotModelled(f"C expression {node.type}: {self.text_of(node)[:40]}"))
        fn: Expr = method(node)
        return fn

    # --- leaves -----------------------------------------------------------
    def _x_parenthesized_expression(self, node: Node) -> Expr:
        inner = [c for c in node.named_children if c.type != "comment"]
        return self.expr(inner[0])

    def _x_number_literal(self, node: Node) -> Expr:
        text = self.text_of(node).rstrip("uUlL")
        try:
            value = (
                int(text, 0)
                if not (len(text) > 1 and text[0] == "0" and text[1].isdigit())
                else int(text, 8)
            )
        except ValueError:
            return _raise(NotModelled(f"number {text}"))
        if value >= _HIGH:
            return _raise(NotModelled(f"integer constant wider than {WIDTH} bits: {text[:30]}"))
        return lambda m, f: value

    def _x_true(self, node: Node) -> Expr:
        return lambda m, f: 1

    def _x_false(self, node: Node) -> Expr:
        return lambda m, f: 0

    def _x_null(self, node: Node) -> Expr:
        return lambda m, f: NULL

    def _x_string_literal(self, node: Node) -> Expr:
        value = self.text_of(node)
        return lambda m, f: value

    _x_concatenated_string = _x_string_literal

    def _x_char_literal(self, node: Node) -> Expr:
        text = self.text_of(node)[1:-1]
        value = ord(text[-1]) if text else 0
        return lambda m, f: value

    def _x_identifier(self, node: Node) -> Expr:
        name = self.text_of(node)
        if name in self.locals:

            def local(m: Machine, f: Frame) -> Any:
                v = f.vars.get(name, UNINIT)
                if v is UNINIT:
                    raise SimFault(Kind.UNINITIALISED, f"use of uninitialised local {name}")
                return v

            local.__dict__["local_name"] = name
            return local
        return lambda m, f: f.vars[name] if name in f.vars else m.global_value(name)

    # --- operators --------------------------------------------------------
    def _x_binary_expression(self, node: Node) -> Expr:
        op = self.text_of(child_in(node, "operator"))
        left = self.expr(child_in(node, "left"))
        right = self.expr(child_in(node, "right"))
        text = self.text_of(node)
        left_text = self.text_of(child_in(node, "left"))
        if op == "&&":
            return lambda m, f: 1 if truth(left(m, f)) and truth(right(m, f)) else 0
        if op == "||":
            return lambda m, f: 1 if truth(left(m, f)) or truth(right(m, f)) else 0
        if op in ("==", "!=", "<", ">", "<=", ">="):
            ln, rn = local_name(left), local_name(right)
            if rn is not None:
                # ``ptep < end_ptep``, ``id != cgroup_id``: locals read inline.
                inline_left, lkey, rkey = ln is not None, ln or "", rn
                lmsg = f"use of uninitialised local {ln}"
                rmsg = f"use of uninitialised local {rn}"

                def cmp_local(m: Machine, f: Frame) -> Any:
                    if inline_left:
                        a = f.vars.get(lkey, UNINIT)
                        if a is UNINIT:
                            raise SimFault(Kind.UNINITIALISED, lmsg)
                    else:
                        a = left(m, f)
                    b = f.vars.get(rkey, UNINIT)
                    if b is UNINIT:
                        raise SimFault(Kind.UNINITIALISED, rmsg)
                    if type(a) is int and type(b) is int:
                        if op == "==":
                            return 1 if a == b else 0
                        if op == "!=":
                            return 1 if a != b else 0
                        if op == "<":
                            return 1 if a < b else 0
                        if op == ">":
                            return 1 if a > b else 0
                        if op == "<=":
                            return 1 if a <= b else 0
                        return 1 if a >= b else 0
                    if (
                        type(a) is PtePtr
                        and type(b) is PtePtr
                        and a.handle.table is b.handle.table
                        and op == "<"
                    ):
                        return 1 if a.index < b.index else 0
                    return _compare(op, a, b, text)

                return cmp_local

            def cmp(m: Machine, f: Frame) -> Any:
                a = left(m, f)
                b = right(m, f)
                if type(a) is int and type(b) is int:
                    if op == "==":
                        return 1 if a == b else 0
                    if op == "!=":
                        return 1 if a != b else 0
                    if op == "<":
                        return 1 if a < b else 0
                    if op == ">":
                        return 1 if a > b else 0
                    if op == "<=":
                        return 1 if a <= b else 0
                    return 1 if a >= b else 0
                if (
                    type(a) is PtePtr
                    and type(b) is PtePtr
                    and a.handle.table is b.handle.table
                    and op == "<"
                ):
                    # The loop bound of every batch walk: ``ptep < end_ptep``.
                    return 1 if a.index < b.index else 0
                return _compare(op, a, b, text)

            return cmp
        if op in ("+", "-"):
            plus = op == "+"

            right_local = local_name(right)
            if right_local is not None:
                # ``swp_offset(entry) + delta``: the local read inline.
                rlocal: str = right_local
                rmsg = f"use of uninitialised local {rlocal}"

                def addsub_local(m: Machine, f: Frame) -> Any:
                    a = left(m, f)
                    b = f.vars.get(rlocal, UNINIT)
                    if b is UNINIT:
                        raise SimFault(Kind.UNINITIALISED, rmsg)
                    if type(a) is int and type(b) is int:
                        return a + b if plus else a - b
                    return _ptr_arith(op, a, b, text, left_text)

                return addsub_local

            def addsub(m: Machine, f: Frame) -> Any:
                a = left(m, f)
                b = right(m, f)
                if type(a) is int and type(b) is int:
                    return a + b if plus else a - b
                return _ptr_arith(op, a, b, text, left_text)

            return addsub
        if op in ("/", "%"):
            div = c_div if op == "/" else c_mod

            def divmod_(m: Machine, f: Frame) -> Any:
                a = left(m, f)
                b = right(m, f)
                if type(a) is not int or type(b) is not int:
                    raise NotModelled(f"'{op}' on non-integers in {text}")
                if b == 0:
                    raise SimFault(Kind.BUG_ON, f"division by zero in {text}")
                return div(a, b)

            return divmod_
        if op in ("<<", ">>"):

            def shifted(m: Machine, f: Frame) -> Any:
                a = left(m, f)
                b = right(m, f)
                if type(a) is not int or type(b) is not int:
                    if isinstance(a, Uninit) or isinstance(b, Uninit):
                        raise SimFault(
                            Kind.UNINITIALISED, f"use of an uninitialised value in {text}"
                        )
                    raise NotModelled(f"'{op}' on {type(a).__name__} in {text}")
                return shift(op, a, b, text)

            return shifted
        intop = _INT_OPS.get(op)
        if intop is None:
            return _raise(NotModelled(f"operator {op}"))

        def arith(m: Machine, f: Frame) -> Any:
            a = left(m, f)
            b = right(m, f)
            if type(a) is not int or type(b) is not int:
                if isinstance(a, Uninit) or isinstance(b, Uninit):
                    raise SimFault(Kind.UNINITIALISED, f"use of an uninitialised value in {text}")
                if isinstance(a, NullPtr | PtePtr) or isinstance(b, NullPtr | PtePtr):
                    raise NotModelled(f"'{op}' on a pointer in {text}")
                raise NotModelled(f"'{op}' on {type(a).__name__} in {text}")
            return intop(a, b)

        return arith

    def _x_unary_expression(self, node: Node) -> Expr:
        op = self.text_of(child_in(node, "operator"))
        arg = self.expr(child_in(node, "argument"))
        text = self.text_of(node)
        if op == "!":
            return lambda m, f: 0 if truth(arg(m, f)) else 1

        def un(m: Machine, f: Frame) -> Any:
            v = arg(m, f)
            if type(v) is not int:
                raise NotModelled(f"unary {op} on {type(v).__name__} in {text}")
            return wrap64(-v) if op == "-" else (~v if op == "~" else v)

        return un

    def _x_pointer_expression(self, node: Node) -> Expr:
        op = self.text_of(child_in(node, "operator"))
        arg_node = node.child_by_field_name("argument")
        assert arg_node is not None
        text = self.text_of(arg_node)
        if op == "*":
            arg = self.expr(arg_node)
            return lambda m, f: _deref(arg(m, f), text)
        return self._address_of(arg_node)

    def _address_of(self, node: Node) -> Expr:
        while node.type == "parenthesized_expression":
            node = node.named_children[0]
        if node.type == "identifier":
            name = self.text_of(node)
            if name in self.locals:
                return lambda m, f: VarRef(f.vars, name)
            # A local a macro declared (DECLARE_WAITQUEUE(wait, ...)), or a global.
            return lambda m, f: VarRef(f.vars, name) if name in f.vars else m.global_address(name)
        if node.type == "field_expression":
            obj = self._field_object(node)
            name = self.text_of(child_in(node, "field"))
            text = self.text_of(node)

            def addr(m: Machine, f: Frame) -> Any:
                o = obj(m, f)
                value = get_field(o, name, text)
                if name in getattr(o, "C_EMBEDDED", ()):
                    return value  # &folio->page: an embedded struct is its own object
                return FieldRef(o, name)

            return addr
        if node.type == "pointer_expression":
            return self.expr(child_in(node, "argument"))
        return _raise(NotModelled(f"address of {node.type}"))

    def _field_object(self, node: Node) -> Expr:
        arg = self.expr(child_in(node, "argument"))
        return arg

    def _x_field_expression(self, node: Node) -> Expr:
        obj = self._field_object(node)
        name = self.text_of(child_in(node, "field"))
        text = self.text_of(node)
        return lambda m, f: get_field(obj(m, f), name, text)

    def _x_subscript_expression(self, node: Node) -> Expr:
        arg = self.expr(child_in(node, "argument"))
        idx = self.expr(child_in(node, "index"))
        text = self.text_of(node)

        def sub(m: Machine, f: Frame) -> Any:
            p = arg(m, f)
            i = idx(m, f)
            return _deref(_ptr_arith("+", p, i, text, text), text)

        return sub

    def _x_conditional_expression(self, node: Node) -> Expr:
        cond = self.expr(child_in(node, "condition"))
        cons = self.expr(child_in(node, "consequence"))
        alt = self.expr(child_in(node, "alternative"))
        return lambda m, f: cons(m, f) if truth(cond(m, f)) else alt(m, f)

    def _x_comma_expression(self, node: Node) -> Expr:
        first = self.expr(child_in(node, "left"))
        second = self.expr(child_in(node, "right"))

        def comma(m: Machine, f: Frame) -> Any:
            first(m, f)
            return second(m, f)

        return comma

    def _x_cast_expression(self, node: Node) -> Expr:
        type_node = node.child_by_field_name("type")
        value = self.expr(child_in(node, "value"))
        type_text = self.text_of(type_node) if type_node is not None else ""
        conv = converter_for(type_text, "*" in type_text)
        if conv is None:
            return value
        return lambda m, f: conv(value(m, f))

    def _x_sizeof_expression(self, node: Node) -> Expr:
        inner = node.child_by_field_name("type") or node.child_by_field_name("value")
        text = self.text_of(inner) if inner is not None else ""
        text = text.strip()
        while text.startswith("(") and text.endswith(")"):
            text = text[1:-1].strip()
        size = sizeof(text)
        if size is None:
            return _raise(NotModelled(f"sizeof({text})"))
        return lambda m, f: size

    # --- stores -----------------------------------------------------------
    def lvalue(self, node: Node) -> tuple[Expr, Setter]:
        while node.type == "parenthesized_expression":
            node = node.named_children[0]
        text = self.text_of(node)
        if node.type == "identifier":
            name = self.text_of(node)
            if name not in self.locals:
                return self.expr(node), self._no_store(f"store to global {name}")
            conv = self.local_conv.get(name)

            def set_local(m: Machine, f: Frame, v: Any) -> None:
                f.vars[name] = conv(v) if conv is not None else v

            return self.expr(node), set_local
        if node.type == "field_expression":
            obj_node = node.child_by_field_name("argument")
            assert obj_node is not None
            field = self.text_of(child_in(node, "field"))
            operator = self.text_of(child_in(node, "operator"))
            getter = self._x_field_expression(node)
            if operator == "." and obj_node.type == "identifier":
                # A value struct in a local (swp_entry_t entry; entry.val = ...).
                outer_get, outer_set = self.lvalue(obj_node)

                local = self.text_of(obj_node)

                def set_member(m: Machine, f: Frame, v: Any) -> None:
                    whole = f.vars.get(local, UNINIT) if local in self.locals else None
                    if whole is UNINIT and field == "val" and type(v) is int:
                        # Filling in a fresh swp_entry_t is not a use of it.
                        outer_set(m, f, SwapEntry.from_val(v))
                        return
                    whole = outer_get(m, f)
                    if hasattr(whole, "with_field"):
                        outer_set(m, f, whole.with_field(field, v))
                    else:
                        set_field(whole, field, v, text)

                return getter, set_member
            obj = self.expr(obj_node)

            def set_obj(m: Machine, f: Frame, v: Any) -> None:
                set_field(obj(m, f), field, v, text)

            return getter, set_obj
        if node.type == "pointer_expression":
            arg_node = node.child_by_field_name("argument")
            assert arg_node is not None
            ptr = self.expr(arg_node)
            ptext = self.text_of(arg_node)

            def store(m: Machine, f: Frame, v: Any) -> None:
                p = ptr(m, f)
                if isinstance(p, NullPtr):
                    raise SimFault(Kind.NULL, f"NULL dereference of {ptext}")
                if isinstance(p, PtePtr | VarRef | FieldRef | ArrayPtr):
                    p.store(v)
                    return
                raise NotModelled(f"store through {type(p).__name__}")

            return self.expr(node), store
        if node.type == "subscript_expression":
            base = self.expr(child_in(node, "argument"))
            idx = self.expr(child_in(node, "index"))

            def store_element(m: Machine, f: Frame, v: Any) -> None:
                p = _ptr_arith("+", base(m, f), idx(m, f), text, text)
                if isinstance(p, PtePtr | ArrayPtr):
                    p.store(v)
                    return
                raise NotModelled(f"store through {type(p).__name__}")

            return self.expr(node), store_element
        return self.expr(node), self._no_store(f"store to {node.type}")

    @staticmethod
    def _no_store(what: str) -> Setter:
        def fail(m: Machine, f: Frame, v: Any) -> None:
            raise NotModelled(what)

        return fail

    def _x_assignment_expression(self, node: Node) -> Expr:
        op = self.text_of(child_in(node, "operator"))
        left_node = node.child_by_field_name("left")
        right_node = node.child_by_field_name("right")
        assert left_node is not None and right_node is not None
        get, put = self.lvalue(left_node)
        right = self.expr(right_node)
        if op == "=":

            def assign(m: Machine, f: Frame) -> Any:
                v = right(m, f)
                put(m, f, v)
                return v

            return assign
        binop = op[:-1]
        fake = _BinaryCombiner(binop, self.text_of(node), self.text_of(left_node))

        def compound(m: Machine, f: Frame) -> Any:
            v = fake(get(m, f), right(m, f))
            put(m, f, v)
            return v

        return compound

    def _x_update_expression(self, node: Node) -> Expr:
        op = self.text_of(child_in(node, "operator"))
        arg_node = node.child_by_field_name("argument")
        assert arg_node is not None
        get, put = self.lvalue(arg_node)
        prefix = node.children[0].type in ("++", "--")
        comb = _BinaryCombiner(
            "+" if op == "++" else "-", self.text_of(node), self.text_of(arg_node)
        )

        def update(m: Machine, f: Frame) -> Any:
            old = get(m, f)
            new = comb(old, 1)
            put(m, f, new)
            return new if prefix else old

        return update

    # --- shapes an expression statement runs without its own closure ------
    def local_assignment(self, node: Node) -> tuple[str, Converter | None, Expr] | None:
        """``local = value``: (name, store conversion, value), or None."""
        if node.type != "assignment_expression":
            return None
        op = node.child_by_field_name("operator")
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        if op is None or left is None or right is None or self.text_of(op) != "=":
            return None
        if left.type != "identifier" or self.text_of(left) not in self.locals:
            return None
        name = self.text_of(left)
        return name, self.local_conv.get(name), self.expr(right)

    def negated(self, node: Node) -> Expr | None:
        """The operand of ``!operand`` (parentheses around it dropped), or None."""
        while node.type == "parenthesized_expression":
            inner = [c for c in node.named_children if c.type != "comment"]
            if len(inner) != 1:
                return None
            node = inner[0]
        if node.type != "unary_expression":
            return None
        op = node.child_by_field_name("operator")
        arg = node.child_by_field_name("argument")
        if op is None or arg is None or self.text_of(op) != "!":
            return None
        return self.expr(arg)

    def local_increment(self, node: Node) -> tuple[str, Converter | None, Any] | None:
        """``local++`` or ``local--`` (and the prefix forms), value unused."""
        if node.type != "update_expression":
            return None
        op = node.child_by_field_name("operator")
        arg = node.child_by_field_name("argument")
        if op is None or arg is None or arg.type != "identifier":
            return None
        name = self.text_of(arg)
        if name not in self.locals:
            return None
        comb = _BinaryCombiner("+" if self.text_of(op) == "++" else "-", self.text_of(node), name)
        return name, self.local_conv.get(name), comb

    def _x_call_expression(self, node: Node) -> Expr:
        from sim.interp.calls import compile_call

        return compile_call(self, node)


class _BinaryCombiner:
    """The arithmetic of ``a op= b`` and ``a++``, pointers included."""

    def __init__(self, op: str, text: str, left_text: str) -> None:
        self.op = op
        self.text = text
        self.left_text = left_text

    def __call__(self, a: Any, b: Any) -> Any:
        op = self.op
        if type(a) is int and type(b) is int:
            if op == "+":
                return a + b
            if op == "-":
                return a - b
            if op in ("/", "%"):
                if b == 0:
                    raise SimFault(Kind.BUG_ON, f"division by zero in {self.text}")
                return c_div(a, b) if op == "/" else c_mod(a, b)
            if op in ("<<", ">>"):
                return shift(op, a, b, self.text)
            fn = _INT_OPS.get(op)
            if fn is None:
                raise NotModelled(f"operator {op}=")
            return fn(a, b)
        if isinstance(a, Uninit):
            raise SimFault(Kind.UNINITIALISED, f"use of an uninitialised value in {self.text}")
        if op in ("+", "-"):
            return _ptr_arith(op, a, b, self.text, self.left_text)
        raise NotModelled(f"'{op}=' on {type(a).__name__} in {self.text}")
