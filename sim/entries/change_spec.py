"""A change_pte_range() case (mprotect(), uffd-wp protect/resolve) as plain
data, the world it builds, and the invariants the walk must keep.

One PTE per page of ``layout`` from ``first`` inside PMD 1, in blocks of
``nr`` pages, each block one folio (its P and M pages); a page outside the
model sits just below and just above the layout and must never change.

    P present page    S swap entry    M writable migration entry
    W uffd-wp marker  - none

``action`` is what the caller asked, as change_protection() passes it:

    read-only        mprotect(PROT_READ): newprot read-only, VM_WRITE cleared
    writable         mprotect(PROT_READ|PROT_WRITE): MM_CP_TRY_CHANGE_WRITABLE
                     (a shared shmem mapping gets a writable newprot instead)
    uffd-wp          UFFDIO_WRITEPROTECT on: MM_CP_UFFD_WP
    uffd-wp-resolve  UFFDIO_WRITEPROTECT off: MM_CP_UFFD_WP_RESOLVE | TRY_CHANGE_WRITABLE
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.entries.common import Violation, unreleased
from sim.entries.layout import (
    BASE,
    FOLIO_PFN,
    OTHER_PFN,
    SWAP_BASE,
    SWAP_TYPE,
    PageLayout,
    check_layout,
    place,
    runs,
)
from sim.faults import Kind
from sim.interp.machine import Machine
from sim.kernel.constants import VM_MAYWRITE, VM_READ, VM_SHARED, VM_SOFTDIRTY, VM_UFFD_WP, VM_WRITE
from sim.kernel.mprotect import (
    MM_CP_TRY_CHANGE_WRITABLE,
    MM_CP_UFFD_WP,
    MM_CP_UFFD_WP_RESOLVE,
    SWP_MIGRATION_READ,
    SWP_MIGRATION_READ_EXCLUSIVE,
    SWP_MIGRATION_WRITE,
    PgProt,
)
from sim.kernel.zap import PTE_MARKER_UFFD_WP
from sim.model.mm import (
    MM_ANONPAGES,
    MM_SHMEMPAGES,
    MM_SWAPENTS,
    PAGE_SHIFT,
    PAGE_SIZE,
    PMD_SHIFT,
    PMD_SIZE,
    PTRS_PER_PTE,
    Folio,
    Mm,
    Pmd,
    SwapDevice,
)
from sim.model.pte import PTE_NONE, SWP_PTE_MARKER, Pte, SwapEntry
from sim.model.tlb import FileVma, MmuGather, VmOps, ZapWorld
from sim.values import NULL

CODES = "PSMW-"
ACTIONS = ("read-only", "writable", "uffd-wp", "uffd-wp-resolve")
MAX_ORDER = 8
EAGAIN = 11
MARKER = Pte.swap(SwapEntry(SWP_PTE_MARKER, PTE_MARKER_UFFD_WP))


@dataclass(frozen=True)
class ChangeSpec(PageLayout):
    order: int = 4  # pages per folio / block
    index: int = 0  # the page the scenario singles out
    layout: str = ""  # one code per page; "" = one folio of present pages
    action: str = "read-only"
    vma: str = "anon"  # anon (private) | shmem (MAP_SHARED shmem: VM_SHARED, vm_ops)
    uffd: bool = False  # the VMA is registered for uffd-wp
    wp: str = ""  # per page "1" where the PTE has uffd-wp
    dirty: bool = True  # present PTEs dirty
    shared_pages: bool = False  # anon pages also mapped by a child: not exclusive
    soft_dirty_tracking: bool = False  # VM_SOFTDIRTY clear: clean-of-soft-dirty PTEs fault
    start: int = 0
    stop: int = 0
    race: str = ""  # "" | table-freed

    def describe(self) -> str:
        return describe(self)


@dataclass
class ChangeBuilt:
    spec: ChangeSpec
    world: ZapWorld
    vma: FileVma
    tlb: MmuGather
    pmd: Pmd
    first: int
    addr: int
    end: int
    newprot: PgProt
    cp_flags: int
    folios: dict[int, Folio] = field(default_factory=dict)


def build(spec: ChangeSpec) -> ChangeBuilt:
    n = check_layout(spec, CODES, MAX_ORDER)
    pages = spec.pages
    if spec.action not in ACTIONS:
        raise ValueError(f"action {spec.action!r}: one of {', '.join(ACTIONS)}")
    if spec.wp and len(spec.wp) != n:
        raise ValueError("wp: one flag per page")
    nr = spec.nr
    first, at = place(spec, n)
    shmem = spec.vma == "shmem"
    flags = VM_READ | VM_MAYWRITE
    if spec.action != "read-only":
        flags |= VM_WRITE
    if shmem:
        flags |= VM_SHARED
    if spec.uffd:
        flags |= VM_UFFD_WP
    if not spec.soft_dirty_tracking:
        flags |= VM_SOFTDIRTY
    mm = Mm()
    vma = FileVma(mm, BASE, BASE + 3 * PMD_SIZE, flags)
    vma.vm_ops = VmOps() if shmem else NULL
    world = ZapWorld(mm=mm, vma=vma, swap=SwapDevice(SWAP_TYPE, 3))
    # What change_protection() passes for the action (mm/mprotect.c,
    # mm/userfaultfd.c: uffd_wp_range()): vm_page_prot is writable only for
    # a shared mapping that wants no write notification (mm/mmap.c:
    # vma_wants_writenotify(): soft-dirty tracking and uffd-wp want them);
    # otherwise PTEs are upgraded one by one (MM_CP_TRY_CHANGE_WRITABLE).
    notify = not shmem or spec.uffd or spec.soft_dirty_tracking
    upgrade = spec.action in ("writable", "uffd-wp-resolve")
    try_writable = MM_CP_TRY_CHANGE_WRITABLE if upgrade and notify else 0
    cp_flags = {
        "read-only": 0,
        "writable": try_writable,
        "uffd-wp": MM_CP_UFFD_WP,
        "uffd-wp-resolve": MM_CP_UFFD_WP_RESOLVE | try_writable,
    }[spec.action]
    newprot = PgProt(write=upgrade and not notify)
    pmd = Pmd(first >> PMD_SHIFT)
    built = ChangeBuilt(
        spec,
        world,
        vma,
        MmuGather(mm),
        pmd,
        first,
        first + spec.start * PAGE_SIZE,
        first + spec.stop_page() * PAGE_SIZE,
        newprot,
        cp_flags,
    )
    entries = world.table(pmd.index).entries
    entries[at - 1] = Pte.present(OTHER_PFN, young=True, write=True)
    entries[at + n] = Pte.present(OTHER_PFN + 1, young=True, write=True)
    writable_before = spec.action in ("read-only", "uffd-wp")
    for block in range(0, n, nr):
        codes = pages[block : block + nr]
        if "P" not in codes and "M" not in codes:
            continue
        folio = Folio(FOLIO_PFN + block, spec.order)
        folio.refcount = 0
        folio.f.anon = not shmem
        if "M" in codes:
            folio.f.locked = True  # migration holds the lock
            world.locked_elsewhere.add(id(folio))
        built.folios[block // nr] = folio
        world.folios.append(folio)
    for i, code in enumerate(pages):
        wp = bool(spec.wp) and spec.wp[i] == "1"
        if code == "P":
            page = built.folios[i // nr].page_at(i % nr)
            page.mapcount = 1
            page.anon_exclusive = not shmem and not spec.shared_pages
            page.folio.refcount += 1
            mm.counters[MM_SHMEMPAGES if shmem else MM_ANONPAGES] += 1
            pte = Pte.present(
                page.pfn, young=True, dirty=spec.dirty, write=writable_before and not wp, uffd_wp=wp
            )
        elif code == "S":
            off = SWAP_BASE + i
            world.swap.swap_map[off] = 1
            mm.counters[MM_SWAPENTS] += 1
            pte = Pte.swap(SwapEntry(SWAP_TYPE, off), exclusive=True, uffd_wp=wp, soft_dirty=True)
        elif code == "M":
            pte = Pte.swap(SwapEntry(SWP_MIGRATION_WRITE, FOLIO_PFN + i), soft_dirty=True)
        elif code == "W":
            pte = MARKER
        else:
            continue
        entries[at + i] = pte
    if spec.race == "table-freed":
        world.races.table_freed_at_map = 1
    elif spec.race:
        raise ValueError(f"race {spec.race!r}: '' or table-freed")
    return built


def describe(spec: ChangeSpec) -> str:
    words = {"P": "present", "S": "swap", "M": "writable migration", "W": "uffd-wp marker"}
    words["-"] = "none"
    kind = "a private anonymous VMA" if spec.vma == "anon" else "a shared shmem VMA"
    parts = [f"{runs(spec.pages, words)} PTEs ({spec.nr}-page folios) in {kind}", spec.action]
    if spec.uffd:
        parts.append("registered for uffd-wp")
    if spec.wp and "1" in spec.wp:
        parts.append(f"uffd-wp on {spec.wp.count('1')} pages")
    if not spec.dirty:
        parts.append("clean")
    if spec.shared_pages:
        parts.append("pages shared with a child (not exclusive)")
    if spec.soft_dirty_tracking:
        parts.append("soft-dirty tracking on")
    if spec.start or spec.stop:
        parts.append(f"changing pages {spec.start} to {spec.stop_page() - 1}")
    if spec.race == "table-freed":
        parts.append("page table freed concurrently")
    return ", ".join(parts)


# --- invariants ---------------------------------------------------------------
def may_be_writable(built: ChangeBuilt, new: Pte, i: int) -> tuple[bool, str]:
    """(may the PTE of page ``i`` be writable after the change, why not)."""
    spec = built.spec
    if built.newprot.write:
        if spec.uffd and new.uffd_wp:
            return False, "it has uffd-wp"
        return True, ""
    if not built.cp_flags & MM_CP_TRY_CHANGE_WRITABLE:
        return False, "the new protection is read-only"
    if not built.vma.vm_flags & VM_WRITE:
        return False, "the VMA is not writable"
    if spec.soft_dirty_tracking and not new.soft_dirty:
        return False, "soft-dirty tracking needs its write fault"
    if spec.uffd and new.uffd_wp:
        return False, "it has uffd-wp"
    if spec.vma == "anon":
        page = built.folios[i // spec.nr].page_at(i % spec.nr)
        if not page.anon_exclusive:
            return False, "its anonymous page is shared (not PageAnonExclusive)"
        return True, ""
    return (True, "") if new.dirty else (False, "it is clean in a shared mapping")


def expected(built: ChangeBuilt, i: int, old: Pte) -> tuple[Pte, int]:
    """(the PTE page ``i`` must hold, minus its write bit for present ones;
    what it adds to the count change_pte_range() returns)."""
    spec = built.spec
    code = spec.pages[i]
    wp_on, wp_off = spec.action == "uffd-wp", spec.action == "uffd-wp-resolve"
    if code == "P":
        want = old._replace(uffd_wp=True if wp_on else False if wp_off else old.uffd_wp)
        return want, 1
    if code in "SM":
        new = old
        if code == "M":
            kind = SWP_MIGRATION_READ_EXCLUSIVE if spec.vma == "anon" else SWP_MIGRATION_READ
            new = Pte.swap(SwapEntry(kind, old.swp_offset), soft_dirty=old.soft_dirty)
        new = new._replace(uffd_wp=True if wp_on else False if wp_off else new.uffd_wp)
        return new, int(new != old)
    if code == "W":
        return (PTE_NONE, 1) if wp_off else (old, 0)
    markers = spec.uffd and spec.vma != "anon"  # userfaultfd_wp_use_markers()
    return (MARKER, 1) if wp_on and markers else (old, 0)


def check_change(built: ChangeBuilt, before: list[Pte], ret: int, m: Machine) -> list[Violation]:
    world = built.world
    held = unreleased(world)
    if held:
        return held
    table = world.table(built.pmd.index)
    raced = built.spec.race == "table-freed"
    if raced and ret != -EAGAIN:
        return [Violation(Kind.WRONG_COUNT, f"returned {ret} for a table it could not map")]
    count = 0
    base = table.address(0)
    for idx in range(PTRS_PER_PTE):
        old, new = before[idx], table.entries[idx]
        a = base + (idx << PAGE_SHIFT)
        if raced or not built.addr <= a < built.end:
            if old != new:
                return [
                    Violation(
                        Kind.OUTSIDE,
                        f"the PTE at {a:#x}, outside the range changed "
                        f"[{built.addr:#x}, {built.end:#x}), went from {old.describe()} "
                        f"to {new.describe()}",
                        a,
                    )
                ]
            continue
        i = (a - built.first) >> PAGE_SHIFT
        want, counted = expected(built, i, old)
        count += counted
        got = new._replace(write=False) if new.kind == "present" else new
        if got != want._replace(write=False) if want.kind == "present" else got != want:
            kind = (
                Kind.SMEARED_BIT
                if got._replace(uffd_wp=want.uffd_wp) == want._replace(write=False)
                or (got.kind == want.kind == "swap" and got.uffd_wp != want.uffd_wp)
                else (Kind.WRONG_PAGE)
            )
            return [
                Violation(
                    kind,
                    f"the PTE at {a:#x} went from {old.describe()} to {new.describe()}, "
                    f"expected {want.describe()}",
                    a,
                )
            ]
        if new.kind == "present" and new.write:
            ok, why = may_be_writable(built, new, i)
            if not ok:
                return [
                    Violation(
                        Kind.PERMISSION,
                        f"the PTE at {a:#x} ({new.describe()}) is writable although {why}",
                        a,
                    )
                ]
    if not raced and ret != count:
        return [
            Violation(
                Kind.WRONG_COUNT,
                f"returned {ret} pages changed, but the PTEs show {count}",
            )
        ]
    return []
