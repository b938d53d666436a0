"""Program (one tree's functions) and Machine (one execution's budgets).

A Program compiles each function of a revision once and resolves callees
by name; it is reused across runs.  A Machine is one simulated fault: the
model it acts on, the step and depth budgets, the trace of the last
statements executed and the statement lines covered.
"""

from __future__ import annotations

import hashlib
import resource
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from tree_sitter import Node

from checkers.frontend import FunctionUnit, ParsedFile, declarator_name, parse
from sim.faults import Kind, NotModelled, SimFault
from sim.interp.preprocess import configure
from sim.interp.statements import CompiledFunction, Return, pp_eval
from sim.kernel import Primitive, candidates
from sim.prototypes import Prototype, prototypes
from sim.values import NULL, Opaque

if TYPE_CHECKING:
    from sim.model.mm import World

# x86-64 defconfig-like choices for #if inside the executed functions.
DEFAULT_CONFIG: dict[str, int] = {
    "CONFIG_MMU": 1,
    "CONFIG_SMP": 1,
    "CONFIG_SWAP": 1,
    "CONFIG_64BIT": 1,
    "CONFIG_TRANSPARENT_HUGEPAGE": 1,
    "CONFIG_MEMCG": 1,
    "CONFIG_NUMA": 1,
    "CONFIG_USERFAULTFD": 1,
    "CONFIG_HAVE_ARCH_SOFT_DIRTY": 1,
    "CONFIG_MEM_SOFT_DIRTY": 1,
    "CONFIG_PTE_MARKER_UFFD_WP": 1,
    "CONFIG_ARCH_HAS_PTE_SPECIAL": 1,
    "CONFIG_PREEMPTION": 0,
    "CONFIG_HIGHPTE": 0,
    "CONFIG_DEBUG_VM": 1,
}

# Where the static helpers of do_swap_page live: executed from source.
SOURCE_FILES = ("mm/memory.c", "mm/internal.h", "mm/swap.h")


class SourceTree(Protocol):
    def read(self, path: str) -> bytes | None: ...


def configured_functions(pf: ParsedFile, config: dict[str, int]) -> dict[str, Node]:
    """Function definitions of a file that ``config`` compiles in.

    A header's ``#ifdef CONFIG_SWAP ... #else <stubs> #endif`` must give the
    real helpers, never the stubs; a condition that cannot be evaluated keeps
    both branches (the first definition wins).
    """
    found: dict[str, Node] = {}

    def branch(node: Node, skip: tuple[str, ...]) -> list[Node]:
        return [
            c
            for i, c in enumerate(node.children)
            if c.is_named and node.field_name_for_child(i) not in skip
        ]

    def walk(nodes: list[Node]) -> None:
        for node in nodes:
            t = node.type
            if t == "function_definition":
                decl = node.child_by_field_name("declarator")
                name = declarator_name(decl) if decl is not None else None
                if name:
                    found.setdefault(name, node)
            elif t in ("preproc_if", "preproc_ifdef", "preproc_elif", "preproc_elifdef"):
                alt = node.child_by_field_name("alternative")
                try:
                    taken: bool | None = _pp_taken(node, pf, config)
                except SimFault:
                    taken = None
                if taken is not False:
                    walk(branch(node, ("condition", "name", "alternative")))
                if taken is not True and alt is not None:
                    walk([alt])
            elif t == "preproc_else" or t in ("linkage_specification", "declaration_list"):
                walk(list(node.named_children))

    walk(list(pf.root.named_children))
    return found


def _pp_taken(node: Node, pf: ParsedFile, config: dict[str, int]) -> bool:
    if node.type in ("preproc_ifdef", "preproc_elifdef"):
        name = node.child_by_field_name("name")
        defined = name is not None and bool(config.get(pf.text(name), 0))
        negate = pf.text(node).startswith(("#ifndef", "#elifndef"))
        return defined != negate
    cond = node.child_by_field_name("condition")
    return cond is not None and bool(pp_eval(cond, pf.text, config))


def signature_differs(name: str, proto: Prototype, shapes: Sequence[Primitive]) -> Primitive:
    """A stand-in for a primitive written for another release: calling it
    ends the run as not modelled, naming both prototypes."""
    models = " or ".join(p.c_prototype() for p in shapes)
    what = f"signature differs: the tree has {proto}, the model has {models}"

    def differs(m: Any, f: Any, texts: Any, args: Any) -> None:
        raise NotModelled(what)

    return Primitive(name, differs, shapes[0].cites, lazy=True)


class Frame:
    __slots__ = ("vars",)

    def __init__(self) -> None:
        self.vars: dict[str, Any] = {}


# A call builds its frame's dict in one comprehension, so it skips __init__.
# (path, content digest, configuration) -> the file's prototypes: every
# Program of a review (one per entry and tree state) reads the same headers.
_PROTOTYPES: dict[tuple[str, bytes, tuple[tuple[str, int], ...]], dict[str, Prototype]] = {}


def _file_prototypes(data: bytes | None, path: str, config: dict[str, int]) -> dict[str, Prototype]:
    if not data:
        return {}
    key = (path, hashlib.blake2b(data, digest_size=16).digest(), tuple(sorted(config.items())))
    found = _PROTOTYPES.get(key)
    if found is None:
        if len(_PROTOTYPES) > 256:
            _PROTOTYPES.clear()
        found = _PROTOTYPES[key] = prototypes(parse(configure(data, config), path))
    return found


_new_frame = object.__new__


class Program:
    """The functions of one tree state, compiled on demand."""

    def __init__(
        self,
        tree: SourceTree,
        files: Sequence[str] = SOURCE_FILES,
        config: dict[str, int] | None = None,
        twins: bool = True,
    ) -> None:
        self.tree = tree
        self.twins = twins  # fast paths for known helpers (sim/interp/twins.py)
        self.files = tuple(files)
        self.config = dict(DEFAULT_CONFIG if config is None else config)
        self._compiled: dict[str, CompiledFunction | None] = {}
        self._units: dict[str, FunctionUnit] | None = None
        self._chosen: dict[str, Primitive | None] = {}
        self._prototypes: dict[str, dict[str, Prototype]] = {}

    def _index(self) -> dict[str, FunctionUnit]:
        if self._units is None:
            units: dict[str, FunctionUnit] = {}
            # Later files must not shadow the entry's own file: read it last.
            for path in reversed(self.files):
                data = self.tree.read(path)
                if data is None:
                    continue
                pf = parse(configure(data, self.config), path)
                for name, node in configured_functions(pf, self.config).items():
                    units[name] = FunctionUnit(pf, name, node)
            self._units = units
        return self._units

    def unit(self, name: str) -> FunctionUnit | None:
        return self._index().get(name)

    def function(self, name: str) -> CompiledFunction | None:
        if name not in self._compiled:
            unit = self.unit(name)
            compiled = CompiledFunction(unit, self.config, self) if unit is not None else None
            self._compiled[name] = compiled
            if compiled is not None and self.twins:
                from sim.interp.twins import install

                install(self, compiled)
        return self._compiled[name]

    def prototype(self, name: str, cited: str = "") -> Prototype | None:
        """The tree's prototype of ``name``: from the files the simulator
        reads, else from the file a primitive cites; None if neither has it."""
        for path in (*self.files, cited):
            if not path:
                continue
            if path not in self._prototypes:
                self._prototypes[path] = _file_prototypes(self.tree.read(path), path, self.config)
            found = self._prototypes[path].get(name)
            if found is not None:
                return found
        return None

    def primitive_for(self, name: str) -> Primitive | None:
        """The primitive standing for ``name`` in this tree: the shape that
        fits the tree's prototype, or one that says the signature differs."""
        if name in self._chosen:
            return self._chosen[name]
        shapes = candidates(name)
        chosen = shapes[0] if shapes else None
        if shapes:
            proto = self.prototype(name, shapes[0].cited_file)
            if proto is not None:
                fitting = [p for p in shapes if p.fits(proto)]
                chosen = fitting[0] if fitting else signature_differs(name, proto, shapes)
        self._chosen[name] = chosen
        return chosen

    def bound_primitive(self, name: str) -> Primitive | None:
        """The primitive ``resolve(name)`` will return, or None if it will not
        return one (the tree's source, or nothing: decided when executed)."""
        prim = self.primitive_for(name)
        if prim is None or prim.prefer:
            return prim
        return None if self.unit(name) is not None else prim

    def resolve(self, name: str) -> CompiledFunction | Primitive:
        prim = self.primitive_for(name)
        if prim is not None and prim.prefer:
            return prim
        fn = self.function(name)
        if fn is not None:
            return fn
        if prim is not None:
            return prim
        raise NotModelled(f"{name}() is unknown")


# Every this many steps a run looks at its clock and its memory.
CHECKPOINT_STEPS = 5_000
MAX_SECONDS = 5.0  # wall clock per case
MAX_MEMORY = 512 << 20  # bytes of peak memory a case may add


def _peak_memory() -> int:
    """The process's peak resident memory in bytes (Linux: ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class Machine:
    """One execution: budgets, trace and coverage over one World.

    Budgets: statements executed, loop iterations and primitive calls share
    the step budget (a primitive that walks ``nr`` entries charges ``nr``);
    the call depth; and, looked at every CHECKPOINT_STEPS steps, a
    wall-clock and a memory budget.  Each ends the run as ``budget``.
    """

    def __init__(
        self,
        program: Program,
        world: World,
        max_steps: int = 100_000,
        max_depth: int = 48,
        trace_len: int = 12,
        *,
        max_seconds: float = MAX_SECONDS,
        max_memory: int = MAX_MEMORY,
    ) -> None:
        self.program = program
        self.world = world
        self.max_steps = max_steps
        self.max_depth = max_depth
        self.max_seconds = max_seconds
        self.max_memory = max_memory
        self.charged = 0  # loop iterations and primitive work
        # Statements still allowed before the next checkpoint, less what
        # was charged: a statement checks ``len(log) > room``, one comparison.
        self.room = min(max_steps, CHECKPOINT_STEPS)
        self.started = time.monotonic()
        self.memory_at_start = _peak_memory()
        self.depth = 0
        self.trace_len = trace_len
        # Every statement executed, in order: the trace is its tail and the
        # coverage its set (one list append per step is the cheapest record).
        self.log: list[tuple[str, str, int, str]] = []
        self.globals: dict[str, Any] = {
            "current": Opaque("current task"),
            "swapcache_wq": Opaque("swapcache_wq"),
        }

    @property
    def ticks(self) -> int:
        """Loop iterations and primitive work charged so far."""
        return self.charged

    @property
    def steps(self) -> int:
        return len(self.log) + self.charged

    @property
    def trace(self) -> list[tuple[str, str, int, str]]:
        return self.log[-self.trace_len :]

    @property
    def covered(self) -> set[tuple[str, str, int, str]]:
        return set(self.log)

    def step(self, info: tuple[str, str, int, str]) -> None:
        log = self.log
        log.append(info)
        if len(log) > self.room:
            self.exhausted()

    def exhausted(self) -> None:
        """Past ``room``: the step budget is spent, or a checkpoint is due."""
        if self.steps > self.max_steps:
            raise SimFault(
                Kind.BUDGET,
                f"step budget of {self.max_steps} statements exhausted (an endless loop?)",
            )
        elapsed = time.monotonic() - self.started
        if elapsed > self.max_seconds:
            raise SimFault(
                Kind.BUDGET,
                f"time budget of {self.max_seconds:g} s exhausted after {self.steps} steps",
            )
        grown = _peak_memory() - self.memory_at_start
        if grown > self.max_memory:
            raise SimFault(
                Kind.BUDGET,
                f"memory budget of {self.max_memory >> 20} MB exhausted "
                f"({grown >> 20} MB) after {self.steps} steps",
            )
        # Next checkpoint: room is compared with len(log) and already less the charges.
        self.room = len(self.log) + min(CHECKPOINT_STEPS, self.max_steps - self.steps)

    def charge(self, work: int) -> None:
        """Count ``work`` steps done inside a primitive (``nr`` entries walked)."""
        if work > 0:
            self.charged += work
            self.room -= work
            if len(self.log) > self.room:
                self.exhausted()

    def note(self, event: str, data: object) -> None:
        """Record a model event with the C statement that caused it."""
        where = self.log[-1] if self.log else None
        self.world.events.append((event, data, where))

    def tick(self) -> None:
        """One loop iteration: counts against the budget even with an empty body."""
        self.charged += 1
        self.room -= 1
        if len(self.log) > self.room:
            self.exhausted()

    def invoke(self, fn: CompiledFunction, args: Sequence[Any]) -> Any:
        if len(args) != len(fn.params):
            raise NotModelled(f"call of {fn.name} with {len(args)} arguments")
        return self.enter(fn, *args)

    def enter(self, fn: CompiledFunction, *args: Any) -> Any:
        """Call ``fn`` with arguments already counted against its parameters."""
        self.depth += 1
        if self.depth > self.max_depth:
            self.too_deep(fn)
        frame = _new_frame(Frame)
        frame.vars = {
            name: value if conv is None else conv(value)
            for (name, conv), value in zip(fn.params, args, strict=True)
        }
        sig = fn.body(self, frame)
        self.depth -= 1
        if type(sig) is Return:
            return sig.value
        return self.fell_off(fn, sig)

    def too_deep(self, fn: CompiledFunction) -> None:
        self.depth = 0
        raise SimFault(Kind.BUDGET, f"call depth budget of {self.max_depth} exceeded in {fn.name}")

    @staticmethod
    def fell_off(fn: CompiledFunction, sig: Any) -> None:
        """The value of a body that ended without ``return``."""
        if sig is not None:
            raise NotModelled(f"goto or break out of {fn.name}")

    def run(self, name: str, args: Sequence[Any]) -> Any:
        fn = self.program.function(name)
        if fn is None:
            raise NotModelled(f"entry function {name} (not found in the tree)")
        return self.invoke(fn, args)

    def global_value(self, name: str) -> Any:
        from sim.kernel.constants import CONSTANTS

        value = CONSTANTS.get(name)
        if value is not None:
            return value
        if name == "NULL":
            return NULL
        if name in self.globals:
            return self.globals[name]
        raise NotModelled(f"identifier {name}")

    def global_address(self, name: str) -> Any:
        if name in self.globals:
            return self.globals[name]
        raise NotModelled(f"address of {name}")
