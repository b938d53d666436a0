"""Fast paths beside the general interpreter, for the hottest helpers.

A 512-page swap-in spends nine tenths of its time in one loop:
``swap_pte_batch()`` walking the folio's PTEs, with ``pte_next_swp_offset()``
and ``pte_move_swp_offset()`` called for each.  Interpreting it costs
thirty steps a PTE.  A *twin* is hand-written Python that does what the
interpreter would do for that function, with the same primitives: the same
value, the same steps recorded in the same order (so trace and coverage are
the same), the same primitive calls charged.

A twin is used only when the tree's text of the function and of every
helper it stands for is, token for token, the text it was written for (its
fingerprint): a patched ``swap_pte_batch()`` runs interpreted, as patched.
Nothing is generated or executed from the tree.  And a twin only takes the
well-formed path: whenever a check could fire (a stale or out-of-bounds
pointer, a warning, a budget that would run out, a depth limit), it steps
aside before changing anything and the general interpreter runs the call.
``tests/sim/test_twins.py`` checks the two agree on values, steps, trace,
coverage and faults.
"""

from __future__ import annotations

import hashlib
from itertools import repeat
from operator import eq, itemgetter
from typing import TYPE_CHECKING, Any

from sim.interp.ctypes import converter_for
from sim.interp.statements import Return
from sim.kernel import PRIMITIVES
from sim.model.mm import PTRS_PER_PTE, PtePtr
from sim.model.pte import MAX_SWAPFILES, Pte

if TYPE_CHECKING:
    from sim.interp.machine import Frame, Machine, Program
    from sim.interp.statements import CompiledFunction


def fingerprint(text: str) -> str:
    """sha1 of a function's text with whitespace collapsed."""
    return hashlib.sha1(" ".join(text.split()).encode()).hexdigest()


# Linux 6.12 mm/internal.h (also 6.10, 6.11): the texts the twin below does.
SWAP_PTE_BATCH = {
    "swap_pte_batch": "e336e71844d26b58a5b5493d2ad4499db95c90c5",
    "pte_next_swp_offset": "a12d934e36249efe311dd78801c2539790537774",
    "pte_move_swp_offset": "29471ae377cdb411477a6f844c635164840739d5",
}
_PRIMITIVES = (
    "pte_to_swp_entry",
    "swp_type",
    "swp_offset",
    "__swp_entry",
    "__swp_entry_to_pte",
    "pte_swp_soft_dirty",
    "pte_swp_mksoft_dirty",
    "pte_swp_exclusive",
    "pte_swp_mkexclusive",
    "pte_swp_uffd_wp",
    "pte_swp_mkuffd_wp",
    "is_swap_pte",
    "non_swap_entry",
    "VM_WARN_ON",
    "lookup_swap_cgroup_id",
    "ptep_get",
    "pte_same",
)
_U16 = converter_for("unsigned short", False)
_I32 = converter_for("int", False)
assert _U16 is not None and _I32 is not None
_u16, _i32 = _U16, _I32


def install(program: Program, fn: CompiledFunction) -> None:
    """Give ``fn`` its twin's body, if it has one that fits this tree."""
    if fn.name == "swap_pte_batch":
        twin = _swap_pte_batch(program, fn)
        if twin is not None:
            fn.general_body = fn.body
            fn.body = twin


def _fits(program: Program, texts: dict[str, str]) -> bool:
    """Whether the tree's text of each function is the one the twin was
    written for, and each primitive it calls is the model's own (not the
    tree's source, not another release's variant)."""
    for name, digest in texts.items():
        unit = program.unit(name)
        if unit is None or fingerprint(unit.text(unit.node)) != digest:
            return False
    return all(program.bound_primitive(name) is PRIMITIVES.get(name) for name in _PRIMITIVES)


# Pte fields the swap-offset helpers read and write (sim.model.pte.Pte).
_SWP_OFFSET, _SOFT_DIRTY, _UFFD_WP, _EXCLUSIVE = (
    Pte._fields.index(f) for f in ("swp_offset", "soft_dirty", "uffd_wp", "exclusive")
)
_OFFSET_OF = itemgetter(_SWP_OFFSET)
_ALL_BUT_OFFSET = itemgetter(*(i for i in range(len(Pte._fields)) if i != _SWP_OFFSET))
_make = tuple.__new__


def _swap_pte_batch(program: Program, fn: CompiledFunction) -> Any:
    move_fn = program.function("pte_move_swp_offset")
    next_fn = program.function("pte_next_swp_offset")
    if not _fits(program, SWAP_PTE_BATCH) or move_fn is None or next_fn is None:
        return None
    general = fn.body

    def at(f: CompiledFunction, offset: int) -> tuple[str, str, int, str]:
        return f.infos[f.unit.node.start_point[0] + 1 + offset]

    # The steps each statement records, by its line in the known text.
    m_entry, m_new, m_if_sd, m_sd, m_if_ex, m_ex, m_if_uw, m_uw, m_ret = (
        at(move_fn, k) for k in (2, 3, 6, 7, 8, 9, 10, 11, 13)
    )
    n_ret = at(next_fn, 2)
    b_expected, b_end, b_entry, b_ptep = (at(fn, k) for k in (2, 3, 4, 5))
    b_warn_nr, b_warn_swap, b_warn_entry, b_cgroup, b_while = (
        at(fn, k) for k in (8, 9, 10, 12, 13)
    )
    b_get, b_if_same, b_break_same, b_if_cg, b_break_cg, b_next, b_inc = (
        at(fn, k) for k in (14, 16, 17, 18, 19, 20, 21)
    )
    b_ret = at(fn, 24)

    # pte_next_swp_offset(pte) as interpreted, by the pte's three swp bits
    # (soft-dirty, exclusive, uffd-wp): the steps it records, and the
    # primitives it calls (eight, and one more per bit set).
    next_steps: dict[tuple[bool, bool, bool], tuple[Any, ...]] = {}
    for sd in (False, True):
        for ex in (False, True):
            for uw in (False, True):
                next_steps[sd, ex, uw] = (
                    n_ret,
                    m_entry,
                    m_new,
                    m_if_sd,
                    *((m_sd,) if sd else ()),
                    m_if_ex,
                    *((m_ex,) if ex else ()),
                    m_if_uw,
                    *((m_uw,) if uw else ()),
                    m_ret,
                )
    # One whole iteration of the loop that goes on to the next PTE.
    iteration = {
        bits: (b_get, b_if_same, b_if_cg, b_next, *steps, b_inc)
        for bits, steps in next_steps.items()
    }

    def next_offset(pte: Pte) -> tuple[Pte, tuple[bool, bool, bool]]:
        """pte_move_swp_offset(pte, 1) of the model's primitives: the swap
        entry one further, soft-dirty, exclusive and uffd-wp carried over."""
        sd, uw, ex = bool(pte[_SOFT_DIRTY]), bool(pte[_UFFD_WP]), bool(pte[_EXCLUSIVE])
        new = _make(Pte, ("swap", 0, pte[2], pte[3] + 1, False, False, False, sd, uw, ex))
        return new, (sd, ex, uw)

    def fast(m: Machine, f: Frame) -> Any:
        start, max_nr, pte = (f.vars.get(k) for k in ("start_ptep", "max_nr", "pte"))
        if type(start) is not PtePtr or type(max_nr) is not int or type(pte) is not Pte:
            return None
        handle = start.handle
        table = handle.table
        if not handle.live or table.freed or m.depth + 2 > m.max_depth or pte[0] != "swap":
            return None
        if max_nr < 1 or pte[2] >= MAX_SWAPFILES:
            return None  # a warning fires: the general path says where
        expected, bits = next_offset(pte)
        log: list[Any] = [b_expected, *next_steps[bits]]
        calls = 8 + sum(bits)
        log += (b_end, b_entry, b_ptep, b_warn_nr, b_warn_swap, b_warn_entry, b_cgroup, b_while)
        calls += 7  # pte_to_swp_entry, 3 x VM_WARN_ON, is_swap_pte, non_swap_entry, lookup
        cgroups = m.world.swap_cgroup
        cgroup_id = _u16(int(cgroups.get(pte.swp_offset, 0)))
        entries = table.entries
        index, end = start.index + 1, start.index + max_nr
        if index < end and index < 0:
            return None  # out of bounds: the general path faults
        # The PTEs the loop would go past if each equals the expected one (so
        # each carries the first PTE's bits, and each iteration records the
        # same steps), up to the end of the table: the expected PTEs differ
        # from the first only by their swap offset, so the run is compared
        # field by field in C, without building it.
        stop = min(end, PTRS_PER_PTE)
        window = entries[index:stop] if index < stop else []
        first_offset, rest = expected.swp_offset, _ALL_BUT_OFFSET(expected)
        offsets = range(first_offset, first_offset + len(window))
        went = len(window)  # iterations that go on to the next PTE
        tail: tuple[Any, ...] = ()
        if list(map(_OFFSET_OF, window)) != list(offsets) or not all(
            map(eq, map(_ALL_BUT_OFFSET, window), repeat(rest))
        ):
            went = next(
                k
                for k, current in enumerate(window)
                if current[_SWP_OFFSET] != offsets[k] or _ALL_BUT_OFFSET(current) != rest
            )
            tail, tail_calls = (b_get, b_if_same, b_break_same), 3  # tick, ptep_get, pte_same
        elif stop < end:
            return None  # the loop goes on out of bounds: the general path faults
        if cgroups:
            for k in range(went):
                if int(cgroups.get(offsets[k], 0)) != cgroup_id:
                    went, tail = k, (b_get, b_if_same, b_if_cg, b_break_cg)
                    tail_calls = 5  # and pte_to_swp_entry(), lookup_swap_cgroup_id()
                    break
        if tail:
            calls += tail_calls
        index += went
        log += iteration[bits] * went
        calls += (13 + sum(bits)) * went
        log += tail
        log.append(b_ret)
        if m.steps + len(log) + calls > m.max_steps:
            return None  # the budget runs out inside: the general path says where
        m.log += log
        m.charged += calls
        m.room -= calls
        if len(m.log) > m.room:
            m.exhausted()  # a checkpoint: the clock and memory are looked at
        return Return(_i32(index - start.index))

    def twin(m: Machine, f: Frame) -> Any:
        result = fast(m, f)
        return general(m, f) if result is None else result

    return twin
