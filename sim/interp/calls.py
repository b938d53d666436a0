"""Compile a call: the callee is resolved by name on first execution.

Resolution order (``Program.resolve``): a primitive marked ``prefer``; the
revision's own source of the function, if it is defined in one of the files
the simulator reads (so a patched helper runs as patched); any other
primitive; otherwise "not modelled: NAME".  Calls through function pointers
are not modelled.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from enum import Enum
from typing import TYPE_CHECKING, Any

from tree_sitter import Node

from sim.faults import Kind, NotModelled, SimFault
from sim.interp.expressions import Expr, _raise, local_name
from sim.interp.machine import Frame, _new_frame
from sim.interp.statements import CompiledFunction, Return
from sim.kernel import Primitive
from sim.model.mm import PtePtr
from sim.values import UNINIT, NullPtr

if TYPE_CHECKING:
    from sim.interp.expressions import ExpressionCompiler
    from sim.interp.machine import Machine, Program

# What a call site may resolve to (Program.resolve).
Callee = CompiledFunction | Primitive


log = logging.getLogger(__name__)

_POINTER_KINDS = (Kind.STALE_POINTER, Kind.NULL, Kind.OUT_OF_BOUNDS)


def _name_the_pointer(exc: SimFault, fn: str, args: list[Any], texts: tuple[str, ...]) -> None:
    """Say which argument a primitive found bad: "set_ptes(start_pte): ..."."""
    if exc.kind not in _POINTER_KINDS or exc.named:
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
            exc.named = True
            return


# What a primitive raises when the C hands it values it has no model for
# (a number where it reads a folio, say): the run is "not modelled", with
# the argument types; any other exception is the simulator's own error.
ARGUMENT_ERRORS = (TypeError, AttributeError, ValueError, OverflowError)


def outside_model(name: str, args: list[Any], exc: Exception) -> NotModelled:
    log.debug("%s() given values outside the model", name, exc_info=exc)
    types = ", ".join(type(a).__name__ for a in args)
    return NotModelled(f"{name}() of ({types}): {type(exc).__name__}: {exc}"[:200])


# A lazy primitive's run: given the machine, the caller's frame, the
# arguments' texts and their closures (it evaluates what it needs).
LazyRun = Callable[["Machine", Frame, tuple[str, ...], tuple[Expr, ...]], Any]


def _wrong_arity(name: str, nargs: int, prim: Primitive) -> LazyRun:
    """A primitive called with a number of arguments it does not take."""
    what = (
        f"signature differs: {name}() called with {nargs} arguments, the model's {prim.signature()}"
    )

    def run(m: Machine, f: Frame, texts: tuple[str, ...], argfns: tuple[Expr, ...]) -> Any:
        for a in argfns:
            a(m, f)
        raise NotModelled(what)

    return run


def _lazy(name: str, fn: LazyRun) -> LazyRun:
    """A lazy primitive (a macro given its argument texts and closures)."""

    def run(m: Machine, f: Frame, texts: tuple[str, ...], argfns: tuple[Expr, ...]) -> Any:
        try:
            return fn(m, f, texts, argfns)
        except ARGUMENT_ERRORS as exc:
            raise outside_model(name, [], exc) from exc

    return run


def _bad_arity(callee: str) -> LazyRun:
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


class CallKind(Enum):
    """What a call site runs, decided on its first execution
    (``Program.resolve``) and fixed from then on: a call site belongs to one
    CompiledFunction, which belongs to one Program."""

    SOURCE = "the tree's definition, interpreted"
    PRIMITIVE = "a primitive of the model, given the argument values"
    LAZY = "a lazy primitive (a macro), given the argument texts and closures"
    REFUSED = "not modelled: the call's arity does not fit the callee"


def call_kind(callee: Callee, nargs: int) -> CallKind:
    if isinstance(callee, CompiledFunction):
        return CallKind.SOURCE if nargs == len(callee.params) else CallKind.REFUSED
    if callee.lazy:
        return CallKind.LAZY if callee.accepts(nargs) else CallKind.REFUSED
    return CallKind.PRIMITIVE if callee.accepts(nargs) else CallKind.REFUSED


def _source_call(target: CompiledFunction, argfns: tuple[Expr, ...]) -> Expr:
    """CallKind.SOURCE: the callee's body on a new frame, with one argument
    or two (most calls) read without building a list."""
    if len(argfns) == 1:
        ((p0, c0),) = target.params
        (a0,) = argfns

        def source1(m: Machine, f: Frame) -> Any:
            v = a0(m, f)
            frame = _new_frame(Frame)
            frame.vars = {p0: v if c0 is None else c0(v)}
            return _run_body(m, target, frame)

        return source1
    if len(argfns) == 2:
        (p0, c0), (p1, c1) = target.params
        a0, a1 = argfns

        def source2(m: Machine, f: Frame) -> Any:
            v0, v1 = a0(m, f), a1(m, f)
            frame = _new_frame(Frame)
            frame.vars = {p0: v0 if c0 is None else c0(v0), p1: v1 if c1 is None else c1(v1)}
            return _run_body(m, target, frame)

        return source2

    def source(m: Machine, f: Frame) -> Any:
        return m.enter(target, *[a(m, f) for a in argfns])

    return source


def _run_body(m: Machine, target: CompiledFunction, frame: Frame) -> Any:
    """Machine.enter() for a call whose frame is already built."""
    m.depth += 1
    if m.depth > m.max_depth:
        m.too_deep(target)
    sig = target.body(m, frame)
    m.depth -= 1
    if type(sig) is Return:
        return sig.value
    return m.fell_off(target, sig)


def _primitive_call(
    name: str, prim: Primitive, argfns: tuple[Expr, ...], texts: tuple[str, ...]
) -> Expr:
    """CallKind.PRIMITIVE: the arguments' values, then one step, then the
    model's function; a C truth value comes back as 1 or 0."""
    fn = prim.fn

    def apply(m: Machine, args: list[Any]) -> Any:
        m.charged += 1  # a primitive is a step (checked at the next statement)
        m.room -= 1
        try:
            result = fn(m, *args)
        except SimFault as exc:
            _name_the_pointer(exc, name, args, texts)
            raise
        except ARGUMENT_ERRORS as exc:
            raise outside_model(name, args, exc) from exc
        if result is True:
            return 1
        if result is False:
            return 0
        return result

    if len(argfns) == 2:  # the commonest: no list comprehension to build
        a0, a1 = argfns

        def primitive2(m: Machine, f: Frame) -> Any:
            return apply(m, [a0(m, f), a1(m, f)])

        return primitive2

    def primitive(m: Machine, f: Frame) -> Any:
        return apply(m, [a(m, f) for a in argfns])

    return primitive


def _unevaluated_call(run: LazyRun, argfns: tuple[Expr, ...], texts: tuple[str, ...]) -> Expr:
    """CallKind.LAZY and CallKind.REFUSED: one step, then ``run`` given the
    arguments unevaluated (it evaluates what it needs)."""

    def unevaluated(m: Machine, f: Frame) -> Any:
        m.charged += 1
        m.room -= 1
        return run(m, f, texts, argfns)

    return unevaluated


def _call_for(name: str, callee: Callee, argfns: tuple[Expr, ...], texts: tuple[str, ...]) -> Expr:
    """The closure a call site runs, by its CallKind."""
    nargs = len(argfns)
    kind = call_kind(callee, nargs)
    if kind is CallKind.SOURCE:
        assert isinstance(callee, CompiledFunction)
        return _source_call(callee, argfns)
    if kind is CallKind.PRIMITIVE:
        assert isinstance(callee, Primitive)
        return _primitive_call(name, callee, argfns, texts)
    if kind is CallKind.LAZY:
        assert isinstance(callee, Primitive)
        return _unevaluated_call(_lazy(name, callee.fn), argfns, texts)
    refusal = (
        _bad_arity(callee.name)
        if isinstance(callee, CompiledFunction)
        else _wrong_arity(name, nargs, callee)
    )
    return _unevaluated_call(refusal, argfns, texts)


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
    bound = ec.program.bound_primitive(name) if ec.program is not None else None
    if bound is not None and not bound.lazy and len(argfns) == 1 and bound.accepts(1):
        return _primitive1(name, bound.fn, argfns[0], arg_texts)
    # Resolved on the first execution (the callee may be the tree's source,
    # compiled on demand), then fixed for the Program that resolved it.
    program: Program | None = None
    run: Expr | None = None

    def call(m: Machine, f: Frame) -> Any:
        nonlocal program, run
        if program is not m.program or run is None:
            run = _call_for(name, m.program.resolve(name), argfns, arg_texts)
            program = m.program
        return run(m, f)

    return call
