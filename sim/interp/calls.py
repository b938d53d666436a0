"""Compile a call: the callee is resolved by name on first execution.

Resolution order (``Program.resolve``): a primitive marked ``prefer``; the
revision's own source of the function, if it is defined in one of the files
the simulator reads (so a patched helper runs as patched); any other
primitive; otherwise "not modelled: NAME".  Calls through function pointers
are not modelled.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from tree_sitter import Node

from sim.faults import Kind, NotModelled, SimFault
from sim.interp.expressions import Expr, _raise, local_name
from sim.interp.machine import Frame, _new_frame
from sim.interp.statements import Return
from sim.model.mm import PtePtr
from sim.values import UNINIT, NullPtr

if TYPE_CHECKING:
    from sim.interp.expressions import ExpressionCompiler
    from sim.interp.machine import Machine


log = logging.getLogger(__name__)

_POINTER_KINDS = (Kind.STALE_POINTER, Kind.NULL, Kind.OUT_OF_BOUNDS)


def _name_the_pointer(exc: SimFault, fn: str, args: list[Any], texts: tuple[str, ...]) -> None:
    """Say which argument a primitive found bad: "set_ptes(start_pte): ..."."""
    if exc.kind not in _POINTER_KINDS or getattr(exc, "named", False):
        return
    for value, text in zip(args, texts, strict=False):
        bad = (
            isinstance(value, NullPtr)
            if exc.kind is Kind.NULL
            else isinstance(value, PtePtr)
            and (
                not value.handle.live or value.handle.table.freed or exc.kind is Kind.OUT_OF_BOUNDS
            )
        )
        if bad:
            exc.message = f"{fn}({text}): {exc.message}"
            exc.args = (exc.message,)
            exc.named = True  # type: ignore[attr-defined]
            return


# What a primitive raises when the C hands it values it has no model for
# (a number where it reads a folio, say): the run is "not modelled", with
# the argument types; any other exception is the simulator's own error.
ARGUMENT_ERRORS = (TypeError, AttributeError, ValueError, OverflowError)


def outside_model(name: str, args: list[Any], exc: Exception) -> NotModelled:
    log.debug("%s() given values outside the model", name, exc_info=exc)
    types = ", ".join(type(a).__name__ for a in args)
    return NotModelled(f"{name}() of ({types}): {type(exc).__name__}: {exc}"[:200])


def _wrong_arity(name: str, nargs: int, prim: Any) -> Any:
    """A primitive called with a number of arguments it does not take."""
    what = (
        f"signature differs: {name}() called with {nargs} arguments, the model's {prim.signature()}"
    )

    def run(m: Machine, f: Frame, texts: tuple[str, ...], argfns: tuple[Expr, ...]) -> Any:
        for a in argfns:
            a(m, f)
        raise NotModelled(what)

    return run


def _lazy(name: str, fn: Any) -> Any:
    """A lazy primitive (a macro given its argument texts and closures)."""

    def run(m: Machine, f: Frame, texts: tuple[str, ...], argfns: tuple[Expr, ...]) -> Any:
        try:
            return fn(m, f, texts, argfns)
        except ARGUMENT_ERRORS as exc:
            raise outside_model(name, [], exc) from exc

    return run


def _bad_arity(callee: str) -> Any:
    """A call that does not match the definition: arguments first, as C would."""

    def run(m: Machine, f: Frame, texts: tuple[str, ...], argfns: tuple[Expr, ...]) -> Any:
        args = [a(m, f) for a in argfns]
        raise NotModelled(f"call of {callee} with {len(args)} arguments")

    return run


def _primitive1(name: str, fn: Any, a0: Expr, arg_texts: tuple[str, ...]) -> Expr:
    """A one-argument primitive known when compiled (Program.bound_primitive):
    the general call site's work without its resolution and mode checks."""
    n0 = local_name(a0)
    if n0 is None:

        def prim1(m: Machine, f: Frame) -> Any:
            v = a0(m, f)
            m.charged += 1  # a primitive is a step (checked at the next statement)
            m.room -= 1
            try:
                result = fn(m, v)
            except SimFault as exc:
                _name_the_pointer(exc, name, [v], arg_texts)
                raise
            except ARGUMENT_ERRORS as exc:
                raise outside_model(name, [v], exc) from exc
            if result is True:
                return 1
            if result is False:
                return 0
            return result

        return prim1
    uninit0 = f"use of uninitialised local {n0}"

    def prim1_local(m: Machine, f: Frame) -> Any:
        v = f.vars.get(n0, UNINIT)
        if v is UNINIT:
            raise SimFault(Kind.UNINITIALISED, uninit0)
        m.charged += 1
        m.room -= 1
        try:
            result = fn(m, v)
        except SimFault as exc:
            _name_the_pointer(exc, name, [v], arg_texts)
            raise
        except ARGUMENT_ERRORS as exc:
            raise outside_model(name, [v], exc) from exc
        if result is True:
            return 1
        if result is False:
            return 0
        return result

    return prim1_local


def compile_call(ec: ExpressionCompiler, node: Node) -> Expr:
    fn_node = node.child_by_field_name("function")
    args_node = node.child_by_field_name("arguments")
    assert fn_node is not None and args_node is not None
    if fn_node.type != "identifier":
        return _raise(NotModelled(f"call through a function pointer: {ec.text_of(fn_node)}"))
    name = ec.text_of(fn_node)
    arg_nodes = [c for c in args_node.named_children if c.type != "comment"]
    arg_texts = tuple(ec.text_of(a) for a in arg_nodes)
    argfns = tuple(ec.expr(a) for a in arg_nodes)
    nargs = len(argfns)
    bound = ec.program.bound_primitive(name) if ec.program is not None else None
    if bound is not None and not bound.lazy and nargs == 1 and bound.accepts(1):
        return _primitive1(name, bound.fn, argfns[0], arg_texts)
    # Resolved on the first execution, then fixed: a call site belongs to one
    # CompiledFunction, which belongs to one Program.  Modes: 0 unresolved,
    # 1 the tree's source, 2 a primitive, 3 a lazy primitive.
    mode = 0
    program: Any = None
    target: Any = None
    fn: Any = None
    body: Any = None
    p0: Any = None
    c0: Any = None
    p1: Any = None
    c1: Any = None

    def resolve(m: Machine) -> None:
        nonlocal mode, program, target, fn, body, p0, c0, p1, c1
        t = m.program.resolve(name)
        program, target = m.program, t
        if t.lazy:
            mode, fn = 3, _lazy(name, t.fn) if t.accepts(nargs) else _wrong_arity(name, nargs, t)
        elif t.is_source and nargs != len(t.params):
            mode, fn = 3, _bad_arity(t.name)
        elif t.is_source:
            mode, fn, body = 1, None, t.body
            if nargs >= 1:
                p0, c0 = t.params[0]
            if nargs >= 2:
                p1, c1 = t.params[1]
        elif not t.accepts(nargs):
            mode, fn = 3, _wrong_arity(name, nargs, t)
        else:
            mode, fn = 2, t.fn

    def primitive(m: Machine, args: list[Any]) -> Any:
        m.charged += 1
        m.room -= 1
        try:
            result = fn(m, *args)
        except SimFault as exc:
            _name_the_pointer(exc, name, args, arg_texts)
            raise
        except ARGUMENT_ERRORS as exc:
            raise outside_model(name, args, exc) from exc
        if result is True:
            return 1
        if result is False:
            return 0
        return result

    def source(m: Machine, frame: Frame) -> Any:
        # Machine.enter() for a call whose frame is already built.
        m.depth += 1
        if m.depth > m.max_depth:
            m.too_deep(target)
        sig = body(m, frame)
        m.depth -= 1
        if type(sig) is Return:
            return sig.value
        return m.fell_off(target, sig)

    # Arity-specialised closures: calls are the interpreter's hottest node,
    # and most arguments are plain locals, read here without a closure call.
    if nargs == 1:
        (a0,) = argfns
        n0 = local_name(a0)
        uninit0 = f"use of uninitialised local {n0}"

        def call1(m: Machine, f: Frame) -> Any:
            if program is not m.program:
                resolve(m)
            if mode == 3:
                m.charged += 1
                m.room -= 1
                return fn(m, f, arg_texts, argfns)
            if n0 is None:
                v = a0(m, f)
            else:
                v = f.vars.get(n0, UNINIT)
                if v is UNINIT:
                    raise SimFault(Kind.UNINITIALISED, uninit0)
            if mode == 2:
                m.charged += 1
                m.room -= 1
                try:
                    result = fn(m, v)
                except SimFault as exc:
                    _name_the_pointer(exc, name, [v], arg_texts)
                    raise
                except ARGUMENT_ERRORS as exc:
                    raise outside_model(name, [v], exc) from exc
                if result is True:
                    return 1
                if result is False:
                    return 0
                return result
            frame = _new_frame(Frame)
            frame.vars = {p0: v if c0 is None else c0(v)}
            return source(m, frame)

        return call1
    if nargs == 2:
        a0, a1 = argfns
        n0, n1 = local_name(a0), local_name(a1)
        uninit0 = f"use of uninitialised local {n0}"
        uninit1 = f"use of uninitialised local {n1}"

        def call2(m: Machine, f: Frame) -> Any:
            if program is not m.program:
                resolve(m)
            if mode == 3:
                m.charged += 1
                m.room -= 1
                return fn(m, f, arg_texts, argfns)
            if n0 is None:
                v0 = a0(m, f)
            else:
                v0 = f.vars.get(n0, UNINIT)
                if v0 is UNINIT:
                    raise SimFault(Kind.UNINITIALISED, uninit0)
            if n1 is None:
                v1 = a1(m, f)
            else:
                v1 = f.vars.get(n1, UNINIT)
                if v1 is UNINIT:
                    raise SimFault(Kind.UNINITIALISED, uninit1)
            if mode == 2:
                m.charged += 1
                m.room -= 1
                try:
                    result = fn(m, v0, v1)
                except SimFault as exc:
                    _name_the_pointer(exc, name, [v0, v1], arg_texts)
                    raise
                except ARGUMENT_ERRORS as exc:
                    raise outside_model(name, [v0, v1], exc) from exc
                if result is True:
                    return 1
                if result is False:
                    return 0
                return result
            frame = _new_frame(Frame)
            frame.vars = {p0: v0 if c0 is None else c0(v0), p1: v1 if c1 is None else c1(v1)}
            return source(m, frame)

        return call2

    def call(m: Machine, f: Frame) -> Any:
        if program is not m.program:
            resolve(m)
        if mode == 1:
            return m.enter(target, *[a(m, f) for a in argfns])
        if mode == 2:
            return primitive(m, [a(m, f) for a in argfns])
        m.charged += 1
        m.room -= 1
        return fn(m, f, arg_texts, argfns)

    return call
