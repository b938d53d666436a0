"""What must hold after each simulated fault, whatever path it took.

Checked against a snapshot taken before the fault (re-taken after an
injected race, which is another CPU's doing, not the fault's).  The first
violated invariant is reported with its kind.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from itertools import compress, repeat
from operator import add, is_, is_not, itemgetter, lshift
from typing import Final

from sim.faults import Kind
from sim.kernel.constants import VM_FAULT_ERROR, VM_FAULT_RETRY, VM_WRITE
from sim.model.mm import MM_ANONPAGES, MM_SWAPENTS, PAGE_SHIFT, PMD_SHIFT, PTRS_PER_PTE, World
from sim.model.pte import PTE_NONE, Pte


class Snapshot:
    """The PTEs of every table (copies of their entry lists) and the mm counters."""

    __slots__ = ("counters", "tables")

    def __init__(self, tables: dict[int, list[Pte]], counters: dict[int, int]) -> None:
        self.tables = tables  # pmd index -> its 512 entries
        self.counters = counters

    def get(self, address: int, default: Pte = PTE_NONE) -> Pte:
        entries = self.tables.get(address >> PMD_SHIFT)
        if entries is None:
            return default
        pte = entries[(address >> PAGE_SHIFT) % PTRS_PER_PTE]
        return default if pte[0] == "none" else pte

    def values(self) -> list[Pte]:
        """Every entry that is not none."""
        return [pte for entries in self.tables.values() for pte in entries if pte[0] != "none"]

    @property
    def ptes(self) -> dict[int, Pte]:
        """address -> PTE, every entry that is not none."""
        return {
            (pmd << PMD_SHIFT) + (i << PAGE_SHIFT): pte
            for pmd, entries in self.tables.items()
            for i, pte in enumerate(entries)
            if pte[0] != "none"
        }


_NONE_TABLE = [PTE_NONE] * PTRS_PER_PTE
# Pte fields by position: these checks read them for every PTE of a table.
_KIND: Final = 0
_PFN: Final = 1
_TYPE: Final = 2
_OFFSET: Final = 3
_WRITE: Final = 4
_SOFT_DIRTY: Final = 7
_UFFD_WP: Final = 8
_EXCLUSIVE: Final = 9
assert Pte._fields[:5] == ("kind", "pfn", "swp_type", "swp_offset", "write")
assert Pte._fields[7:10] == ("soft_dirty", "uffd_wp", "exclusive")


@dataclass(frozen=True)
class Violation:
    kind: Kind
    message: str


def snapshot(world: World) -> Snapshot:
    return Snapshot(
        {pmd: list(table.entries) for pmd, table in world.tables.items()},
        dict(world.mm.counters),
    )


Change = tuple[int, Pte, Pte]  # address, PTE before, PTE after


def changes(before: Snapshot, after: Snapshot) -> list[Change]:
    """The PTEs that differ, by address: entries a fault did not touch are
    the same objects, so most compare equal at once."""
    out: list[Change] = []
    for pmd in sorted(after.tables):
        new = after.tables[pmd]
        old = before.tables.get(pmd, _NONE_TABLE)
        if old == new:
            continue
        # Up to 512 entries a table: compared, and the changes gathered, in C.
        touched = compress(range(len(new)), map(is_not, old, new))
        differ = [i for i in touched if old[i] != new[i]]
        addresses = map(add, repeat(pmd << PMD_SHIFT), map(lshift, differ, repeat(PAGE_SHIFT)))
        out.extend(
            zip(addresses, map(old.__getitem__, differ), map(new.__getitem__, differ), strict=True)
        )
    return out


@dataclass(frozen=True)
class Fault:
    """The fault that was simulated: where, what it returned, what happened."""

    address: int
    ret: int
    write: bool
    raced: bool  # another CPU changed the PTEs or freed the table


def check(world: World, before: Snapshot, fault: Fault) -> list[Violation]:
    """The first violation of each group of invariants, most telling first."""
    found = []
    after = snapshot(world)
    # The addresses whose PTE the fault changed, found once for every check.
    changed = changes(before, after)
    for v in (
        _locks(world, before, fault, after),
        _ptes(world, before, fault, after, changed),
        _counts(world, before, fault, after),
        _hook(world, before, after, changed, "flush_icache", "flushed from the icache", True),
        _hook(
            world,
            before,
            after,
            changed,
            "arch_do_swap_page",
            "given its arch metadata back",
            False,
        ),
    ):
        if v is not None:
            found.append(v)
    return found


def consistent(world: World) -> Violation | None:
    """The invariants that hold between faults, whatever came before."""
    snap = snapshot(world)
    idle = Fault(address=-1, ret=0, write=False, raced=True)
    return _locks(world, snap, idle, snap) or _counts(world, snap, idle, snap)


def _locks(world: World, before: Snapshot, fault: Fault, after: Snapshot) -> Violation | None:
    for table in world.tables.values():
        if table.ptl.held:
            return Violation(Kind.LOCK, f"returned with {table.ptl.name} held")
    for handle in world.handles:
        if handle.live:
            return Violation(Kind.LOCK, f"returned with the pte map of {handle.label} not unmapped")
    for folio in world.folios:
        if folio.f.locked and id(folio) not in world.locked_elsewhere:
            return Violation(Kind.LOCK, "returned with the folio still locked")
    if world.swap.refs:
        return Violation(Kind.LOCK, "returned without put_swap_device()")
    return None


def _ptes(
    world: World, before: Snapshot, fault: Fault, after: Snapshot, changed: list[Change]
) -> Violation | None:
    if len(changed) < _FEW or not plainly_mapped(world, fault, changed):
        bad = first_bad_change(world, fault, changed)
        if bad is not None:
            return bad
    # Every change passed: each mapped one swap PTE.
    return _mapped_counts(world, before, fault, after, len(changed))


_FEW = 16  # changes below which the fast path costs more than it saves
_ADDRESS, _OLD, _NEW = itemgetter(0), itemgetter(1), itemgetter(2)
_KIND_OF, _PFN_OF, _OFFSET_OF = itemgetter(_KIND), itemgetter(_PFN), itemgetter(_OFFSET)
_WRITE_OF, _EXCLUSIVE_OF = itemgetter(_WRITE), itemgetter(_EXCLUSIVE)
_SOFT_DIRTY_OF, _UFFD_WP_OF = itemgetter(_SOFT_DIRTY), itemgetter(_UFFD_WP)


def plainly_mapped(world: World, fault: Fault, changed: list[Change]) -> bool:
    """The fast path of first_bad_change(), for the common case: whether
    the changes are swap PTEs of one folio mapped to its own pages, inside the
    VMA and the faulting PMD, bits kept, nothing shared, so that
    first_bad_change() would find nothing.  Checked over whole columns in C
    (a 512-page fault maps 512 PTEs); False whenever in doubt, and then
    first_bad_change() looks change by change.
    tests/sim/test_invariants_fast_path.py checks the two agree."""
    if not changed:
        return True
    folios = [folio for folio in world.folios if folio.swap.type == world.swap.type]
    if len(folios) != 1:
        return False
    (folio,) = folios
    vma, fault_pmd = world.vma, fault.address >> PMD_SHIFT
    addresses = list(map(_ADDRESS, changed))
    lo, hi = min(addresses), max(addresses)
    if not (vma.vm_start <= lo and hi < vma.vm_end):
        return False
    if lo >> PMD_SHIFT != fault_pmd or hi >> PMD_SHIFT != fault_pmd:
        return False
    olds, news = list(map(_OLD, changed)), list(map(_NEW, changed))
    if set(map(_KIND_OF, olds)) != {"swap"} or set(map(_KIND_OF, news)) != {"present"}:
        return False
    offsets = list(map(_OFFSET_OF, olds))
    first = folio.swap.offset
    if min(offsets) < first or max(offsets) >= first + folio.nr:
        return False  # not all of this folio
    if list(map(_PFN_OF, news)) != list(map(add, offsets, repeat(folio.pfn - first))):
        return False  # a PTE maps another page than its swap entry's
    for bit in (_SOFT_DIRTY_OF, _UFFD_WP_OF):
        if list(map(bit, news)) != list(map(bit, olds)):
            return False
    shared = world.external_swap_refs or world.external_folio_refs.get(id(folio), 0)
    if shared and not all(map(_EXCLUSIVE_OF, olds)):
        return False
    return bool(world.vma.vm_flags & VM_WRITE) or not any(map(_WRITE_OF, news))


def first_bad_change(world: World, fault: Fault, changed: list[Change]) -> Violation | None:
    """The first change, by address, that is not a swap PTE of the fault's
    folio mapped to its own page as it should be."""
    address = fault.address
    vma = world.vma
    # The folios of this swap device, found once: a 512-page fault maps 512 PTEs.
    candidates = [
        (folio, folio.swap.offset, folio.nr)
        for folio in world.folios
        if folio.swap.type == world.swap.type
    ]
    vm_start, vm_end, fault_pmd = vma.vm_start, vma.vm_end, address >> PMD_SHIFT
    swap_refs, folio_refs = world.external_swap_refs, world.external_folio_refs
    for addr, old, new in changed:
        if not vm_start <= addr < vm_end:
            return Violation(Kind.OUTSIDE, f"the PTE at {addr:#x}, outside the VMA, was changed")
        if addr >> PMD_SHIFT != fault_pmd:
            return Violation(Kind.OUTSIDE, f"the PTE at {addr:#x}, under another PMD, was changed")
        if old[_KIND] != "swap" or new[_KIND] != "present":
            return Violation(
                Kind.WRONG_PAGE,
                f"the PTE at {addr:#x} went from {old.describe()} to {new.describe()}",
            )
        owner = None
        offset = old[_OFFSET]
        for folio, first, nr in candidates:
            if 0 <= offset - first < nr:
                owner = folio, offset - first
                break
        if owner is None or owner[0].pfn + owner[1] != new[_PFN]:
            return Violation(
                Kind.WRONG_PAGE,
                f"the PTE at {addr:#x} maps pfn {new.pfn:#x}, not the page of "
                f"its swap entry {old.swp_offset:#x}",
            )
        folio, idx = owner
        if new[_SOFT_DIRTY] != old[_SOFT_DIRTY] or new[_UFFD_WP] != old[_UFFD_WP]:
            return Violation(
                Kind.SMEARED_BIT,
                f"the PTE at {addr:#x}: soft-dirty/uffd-wp "
                f"{int(old.soft_dirty)}/{int(old.uffd_wp)} in the swap entry became "
                f"{int(new.soft_dirty)}/{int(new.uffd_wp)} (smeared from another PTE)",
            )
        if (
            (new[_WRITE] or folio.page_anon_exclusive[idx])
            and not old[_EXCLUSIVE]
            and (swap_refs.get(offset, 0) or folio_refs.get(id(folio), 0))
        ):
            return Violation(
                Kind.PERMISSION,
                f"the PTE at {addr:#x} mapped "
                f"{'writable' if new.write else 'exclusive'} although its swap "
                "entry was shared",
            )
        if new[_WRITE] and not vma.vm_flags & VM_WRITE:
            return Violation(Kind.PERMISSION, f"the PTE at {addr:#x} writable in a read-only VMA")
    return None


def _mapped_counts(
    world: World, before: Snapshot, fault: Fault, after: Snapshot, mapped: int
) -> Violation | None:
    """The rss counters moved by the PTEs mapped, and the fault, unless it
    failed or raced, left its address mapped."""
    address = fault.address
    d_anon = world.mm.counters[MM_ANONPAGES] - before.counters[MM_ANONPAGES]
    d_swap = world.mm.counters[MM_SWAPENTS] - before.counters[MM_SWAPENTS]
    if d_anon != mapped or d_swap != -mapped:
        return Violation(
            Kind.WRONG_COUNT,
            f"{mapped} PTEs mapped but MM_ANONPAGES moved by "
            f"{d_anon:+d} and MM_SWAPENTS by {d_swap:+d}",
        )
    failed = fault.ret & (VM_FAULT_ERROR | VM_FAULT_RETRY)
    fault_pte = after.get(address)
    was_swap = world.swap.type == before.get(address).swp_type
    if not fault.raced and not failed and fault_pte.kind != "present" and was_swap:
        return Violation(
            Kind.LOST_FAULT,
            f"returned {fault.ret:#x} but the faulting address "
            f"{address:#x} is still {fault_pte.describe()}",
        )
    # A write fault may end mapped read-only: the retried fault copies on write.
    return None


def _hook(  # noqa: PLR0917
    world: World,
    before: Snapshot,
    after: Snapshot,
    changed: list[Change],
    event: str,
    what: str,
    by_pfn: bool,
) -> Violation | None:
    """Every page mapped was flushed from the icache (flush_icache_pages()),
    or got its arch metadata back (arch_do_swap_page_nr())."""
    ranges: list[tuple[int, int]] = [
        data for name, data, _ in world.events if name == event and isinstance(data, tuple)
    ]
    if not ranges:
        return None  # this tree's code does not call the hook at all
    covered = [(start, start + n) for start, n in ranges]
    if one_call_covers(covered, changed, by_pfn):
        return None
    addr = first_uncovered(covered, changed, by_pfn)
    if addr is None:
        return None
    return Violation(
        Kind.WRONG_COUNT,
        f"the page mapped at {addr:#x} was not {what}: a single-page call in a batch",
    )


def one_call_covers(covered: list[tuple[int, int]], changed: list[Change], by_pfn: bool) -> bool:
    """The fast path of first_uncovered(), for the common case: one call
    for the whole batch, with every page mapped (its pfn, or its address)
    inside it.  False whenever in doubt (tests/sim/test_invariants_fast_path.py)."""
    if len(covered) != 1:
        return False
    keys = [pte[_PFN] if by_pfn else addr for addr, _, pte in changed if pte[0] == "present"]
    (lo, hi) = covered[0]
    return not keys or (lo <= min(keys) and max(keys) < hi)


def first_uncovered(
    covered: list[tuple[int, int]], changed: list[Change], by_pfn: bool
) -> int | None:
    """The address of the first page mapped that no call covered."""
    for addr, _, pte in changed:
        if pte[0] != "present":
            continue
        k = pte.pfn if by_pfn else addr
        if not any(lo <= k < hi for lo, hi in covered):
            return addr
    return None


def _first_difference(a: list[int], b: list[int]) -> int:
    return next(i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y)


def _counts(world: World, before: Snapshot, fault: Fault, after: Snapshot) -> Violation | None:
    si = world.swap
    swap_type = si.type
    ptes = after.values()
    # References to each swap entry of this device, and PTEs mapping each pfn.
    swap_refs = Counter([p[_OFFSET] for p in ptes if p[_KIND] == "swap" and p[_TYPE] == swap_type])
    pfn_maps = Counter([p[_PFN] for p in ptes if p[_KIND] == "present"])
    external = world.external_swap_refs
    for folio in world.folios:
        # Compared as whole lists, then searched only when they differ: a
        # 512-page folio would otherwise cost three look-ups a page.
        offsets = range(folio.swap.offset, folio.swap.offset + folio.nr)
        have = list(map(si.swap_map.get, offsets, repeat(0)))
        if external:
            want = [swap_refs.get(off, 0) + external.get(off, 0) for off in offsets]
        else:
            want = list(map(swap_refs.get, offsets, repeat(0)))
        if have != want:
            i = _first_difference(have, want)
            return Violation(
                Kind.WRONG_COUNT,
                f"swap_map of entry {offsets[i]:#x} is {have[i]} but {want[i]} references "
                "to it remain",
            )
        mapcounts = folio.page_mapcount
        pfns = range(folio.pfn, folio.pfn + len(mapcounts))
        mapped = list(map(pfn_maps.get, pfns, repeat(0)))
        if mapcounts != mapped:
            i = _first_difference(mapcounts, mapped)
            return Violation(
                Kind.WRONG_COUNT,
                f"mapcount of page {i} is {mapcounts[i]} but {mapped[i]} PTEs map it",
            )
        mapcounts_total = sum(mapcounts)
        want_ref = (
            (folio.nr if folio.f.swapcache else 0)
            + mapcounts_total
            + world.external_folio_refs.get(id(folio), 0)
        )
        if folio.refcount != want_ref:
            return Violation(
                Kind.WRONG_COUNT,
                f"folio refcount is {folio.refcount}, expected "
                f"{want_ref} (swap cache + mappings + others)",
            )
        cached = all(map(is_, map(si.cache.get, offsets), repeat(folio)))
        if folio.f.swapcache != cached:
            return Violation(Kind.WRONG_COUNT, "folio swapcache flag and the swap cache disagree")
    return None
