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
from typing import TYPE_CHECKING, Any

from sim.interp.ctypes import converter_for
from sim.interp.statements import Return
from sim.model.mm import PTRS_PER_PTE, PtePtr
from sim.model.pte import Pte

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


def _fits(program: Program, texts: dict[str, str]) -> dict[str, Any] | None:
    """The compiled helpers and primitives a twin stands for, or None when
    the tree's text or the primitives are not the ones it was written for."""
    for name, digest in texts.items():
        unit = program.unit(name)
        if unit is None or fingerprint(unit.text(unit.node)) != digest:
            return None
    prims: dict[str, Any] = {}
    for name in _PRIMITIVES:
        prim = program.bound_primitive(name)
        if prim is None or prim.lazy or prim.is_source:
            return None
        prims[name] = prim.fn
    return prims


def _swap_pte_batch(program: Program, fn: CompiledFunction) -> Any:
    prims = _fits(program, SWAP_PTE_BATCH)
    move_fn = program.function("pte_move_swp_offset")
    next_fn = program.function("pte_next_swp_offset")
    if prims is None or move_fn is None or next_fn is None:
        return None
    general = fn.body
    p = prims
    to_entry, swp_type, swp_offset = p["pte_to_swp_entry"], p["swp_type"], p["swp_offset"]
    make_entry, entry_to_pte = p["__swp_entry"], p["__swp_entry_to_pte"]
    soft_dirty, mk_soft_dirty = p["pte_swp_soft_dirty"], p["pte_swp_mksoft_dirty"]
    exclusive, mk_exclusive = p["pte_swp_exclusive"], p["pte_swp_mkexclusive"]
    uffd_wp, mk_uffd_wp = p["pte_swp_uffd_wp"], p["pte_swp_mkuffd_wp"]
    is_swap_pte, non_swap_entry = p["is_swap_pte"], p["non_swap_entry"]
    lookup = p["lookup_swap_cgroup_id"]
    # ptep_get() and pte_same() of well-formed values are read inline below:
    # a live in-bounds entry of the table, and tuple equality.

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

    def next_offset(m: Machine, pte: Any, log: list[Any]) -> tuple[Any, int]:
        """pte_next_swp_offset(pte) as interpreted: (value, primitives called)."""
        log.append(n_ret)
        log.append(m_entry)
        entry = to_entry(m, pte)
        log.append(m_new)
        new = entry_to_pte(m, make_entry(m, swp_type(m, entry), swp_offset(m, entry) + 1))
        calls = 8
        log.append(m_if_sd)
        if soft_dirty(m, pte):
            log.append(m_sd)
            new = mk_soft_dirty(m, new)
            calls += 1
        log.append(m_if_ex)
        if exclusive(m, pte):
            log.append(m_ex)
            new = mk_exclusive(m, new)
            calls += 1
        log.append(m_if_uw)
        if uffd_wp(m, pte):
            log.append(m_uw)
            new = mk_uffd_wp(m, new)
            calls += 1
        log.append(m_ret)
        return new, calls

    def fast(m: Machine, f: Frame) -> Any:
        start, max_nr, pte = (f.vars.get(k) for k in ("start_ptep", "max_nr", "pte"))
        if type(start) is not PtePtr or type(max_nr) is not int or type(pte) is not Pte:
            return None
        handle = start.handle
        table = handle.table
        if not handle.live or table.freed or m.depth + 2 > m.max_depth or pte[0] != "swap":
            return None
        log: list[Any] = [b_expected]
        expected, calls = next_offset(m, pte, log)
        log += (b_end, b_entry)
        entry = to_entry(m, pte)
        log += (b_ptep, b_warn_nr, b_warn_swap, b_warn_entry)
        calls += 6
        if max_nr < 1 or not is_swap_pte(m, pte) or non_swap_entry(m, entry):
            return None  # a warning fires: the general path says where
        log += (b_cgroup, b_while)
        cgroup_id = _u16(lookup(m, entry))
        calls += 1
        index, end = start.index + 1, start.index + max_nr
        entries = table.entries
        while index < end:
            if not 0 <= index < PTRS_PER_PTE:
                return None  # out of bounds: the general path faults
            calls += 3  # the loop's tick, ptep_get() and pte_same()
            log += (b_get, b_if_same)
            current = entries[index]
            if current != expected:
                log.append(b_break_same)
                break
            calls += 2
            log.append(b_if_cg)
            if lookup(m, to_entry(m, current)) != cgroup_id:
                log.append(b_break_cg)
                break
            log.append(b_next)
            expected, more = next_offset(m, expected, log)
            calls += more
            log.append(b_inc)
            index += 1
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
