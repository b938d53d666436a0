"""Run-time values the interpreter and the kernel primitives share besides
ints and model objects, and C's truth of a value.

Below both sim/interp (the engine) and sim/kernel (the primitives), so that
neither imports the other for them.
"""

from __future__ import annotations

from typing import Any

from sim.faults import Kind, SimFault


class NullPtr:
    """The NULL pointer: falsy, equal to 0, and fatal to dereference."""

    _instance: NullPtr | None = None

    def __new__(cls) -> NullPtr:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __eq__(self, other: object) -> bool:
        return other is self or (type(other) is int and other == 0)

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "NULL"


NULL = NullPtr()


class Uninit:
    """The value of a local declared without an initialiser."""

    def __repr__(self) -> str:
        return "<uninitialised>"


UNINIT = Uninit()


class ErrPtr:
    """``ERR_PTR(-E)``: a pointer-sized error code, truthy like the kernel's."""

    __slots__ = ("err",)

    def __init__(self, err: int) -> None:
        self.err = err

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ErrPtr) and other.err == self.err

    def __hash__(self) -> int:
        return hash(("err", self.err))

    def __repr__(self) -> str:
        return f"ERR_PTR({self.err})"


class VarRef:
    """``&local``: a pointer to a variable of a frame."""

    __slots__ = ("name", "vars")

    def __init__(self, vars_: dict[str, Any], name: str) -> None:
        self.vars = vars_
        self.name = name

    def load(self) -> Any:
        return self.vars[self.name]

    def store(self, value: Any) -> None:
        self.vars[self.name] = value


class FieldRef:
    """``&obj->field`` for a scalar field (``&vmf->ptl``)."""

    __slots__ = ("name", "obj")

    def __init__(self, obj: Any, name: str) -> None:
        self.obj = obj
        self.name = name

    def load(self) -> Any:
        return getattr(self.obj, self.name)

    def store(self, value: Any) -> None:
        setattr(self.obj, self.name, value)


class Opaque:
    """A kernel object the model does not look into (``current``, a wait queue)."""

    C_FIELDS: frozenset[str] = frozenset()

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<{self.name}>"


def truth(v: Any) -> bool:
    if type(v) is int:
        return v != 0
    if isinstance(v, Uninit):
        raise SimFault(Kind.UNINITIALISED, "use of an uninitialised value")
    return bool(v)


class ArrayPtr:
    """A local array (``int rss[NR_MM_COUNTERS]``) or a pointer into one:
    its cells and an index.  Reads and writes are bounds-checked."""

    __slots__ = ("cells", "index", "name")

    def __init__(self, cells: list[Any], index: int, name: str) -> None:
        self.cells = cells
        self.index = index
        self.name = name

    def moved(self, delta: int) -> ArrayPtr:
        return ArrayPtr(self.cells, self.index + delta, self.name)

    def _checked(self, what: str) -> int:
        if not 0 <= self.index < len(self.cells):
            raise SimFault(
                Kind.OUT_OF_BOUNDS,
                f"{what} of {self.name}[{self.index}], an array of {len(self.cells)}",
            )
        return self.index

    def load(self) -> Any:
        value = self.cells[self._checked("read")]
        if value is UNINIT:
            raise SimFault(Kind.UNINITIALISED, f"read of uninitialised {self.name}[{self.index}]")
        return value

    def store(self, value: Any) -> None:
        self.cells[self._checked("write")] = value

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ArrayPtr) and other.cells is self.cells and other.index == self.index
        )

    def __hash__(self) -> int:
        return hash((id(self.cells), self.index))

    def __repr__(self) -> str:
        return f"<{self.name} + {self.index}>"
