"""Compile a call: the callee is resolved by name on first execution.

Resolution order (``Program.resolve``): a primitive marked ``prefer``; the
revision's own source of the function, if it is defined in one of the files
the simulator reads (so a patched helper runs as patched); any other
primitive; otherwise "not modelled: NAME".  Calls through function pointers
are not modelled.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tree_sitter import Node

from sim.faults import Kind, NotModelled, SimFault
from sim.interp.expressions import Expr, _raise
from sim.interp.values import NullPtr
from sim.model.mm import PtePtr

if TYPE_CHECKING:
    from sim.interp.expressions import ExpressionCompiler
    from sim.interp.machine import Frame, Machine


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
    cache: list[Any] = [None, None]  # program, target

    def target_of(m: Machine) -> Any:
        if cache[0] is not m.program:
            cache[1] = m.program.resolve(name)
            cache[0] = m.program
        return cache[1]

    def finish(target: Any, m: Machine, args: list[Any]) -> Any:
        if target.is_source:
            return m.invoke(target, args)
        try:
            result = target.fn(m, *args)
        except SimFault as exc:
            _name_the_pointer(exc, name, args, arg_texts)
            raise
        if result is True:
            return 1
        if result is False:
            return 0
        return result

    # Arity-specialised closures: calls are the interpreter's hottest node.
    if len(argfns) == 1:
        (a0,) = argfns

        def call1(m: Machine, f: Frame) -> Any:
            target = cache[1] if cache[0] is m.program else target_of(m)
            if target.lazy:
                return target.fn(m, f, arg_texts, argfns)
            return finish(target, m, [a0(m, f)])

        return call1
    if len(argfns) == 2:
        a0, a1 = argfns

        def call2(m: Machine, f: Frame) -> Any:
            target = cache[1] if cache[0] is m.program else target_of(m)
            if target.lazy:
                return target.fn(m, f, arg_texts, argfns)
            return finish(target, m, [a0(m, f), a1(m, f)])

        return call2

    def call(m: Machine, f: Frame) -> Any:
        target = cache[1] if cache[0] is m.program else target_of(m)
        if target.lazy:
            return target.fn(m, f, arg_texts, argfns)
        return finish(target, m, [a(m, f) for a in argfns])

    return call
