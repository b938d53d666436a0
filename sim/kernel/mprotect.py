"""mprotect() and uffd-wp protection changes on PTEs (pgtable.h, swapops.h,
userfaultfd_k.h).  change_pte_range() and can_change_pte_writable() run
from the tree.
"""

from __future__ import annotations

from typing import Any

from sim.kernel import MachineView, noop, primitive
from sim.kernel.constants import CONSTANTS
from sim.kernel.folio import _page
from sim.kernel.pgtable import _pte, set_ptes
from sim.kernel.zap import _clear
from sim.model.pte import SWP_MIGRATION, Pte, SwapEntry

# include/linux/swap.h: SWP_MIGRATION_READ, _READ_EXCLUSIVE, _WRITE in that order.
SWP_MIGRATION_READ = SWP_MIGRATION
SWP_MIGRATION_READ_EXCLUSIVE = SWP_MIGRATION + 1
SWP_MIGRATION_WRITE = SWP_MIGRATION + 2
MM_CP_TRY_CHANGE_WRITABLE = 1 << 0  # include/linux/mm.h
MM_CP_PROT_NUMA = 1 << 1
MM_CP_UFFD_WP = 1 << 2
MM_CP_UFFD_WP_RESOLVE = 1 << 3
CONSTANTS.update(
    {
        "MM_CP_TRY_CHANGE_WRITABLE": MM_CP_TRY_CHANGE_WRITABLE,
        "MM_CP_PROT_NUMA": MM_CP_PROT_NUMA,
        "MM_CP_UFFD_WP": MM_CP_UFFD_WP,
        "MM_CP_UFFD_WP_RESOLVE": MM_CP_UFFD_WP_RESOLVE,
        "NUMA_NO_NODE": -1,
    }
)


class PgProt:
    """``pgprot_t``: whether the protection lets a PTE be writable."""

    C_FIELDS: frozenset[str] = frozenset()

    def __init__(self, write: bool) -> None:
        self.write = write


@primitive("pte_modify", "arch/x86/include/asm/pgtable.h: pte_modify()")
def pte_modify(m: MachineView, pte: Any, newprot: Any) -> Pte:
    # _PAGE_CHG_MASK keeps pfn, accessed, dirty, soft-dirty and uffd-wp; the
    # protection bits (here: write) come from newprot.
    p = _pte(pte, "pte_modify")
    return p._replace(write=bool(newprot.write))


@primitive("ptep_modify_prot_start", "include/linux/pgtable.h: ptep_modify_prot_start()")
def ptep_modify_prot_start(m: MachineView, vma: object, addr: int, ptep: object) -> Pte:
    return _clear(m, ptep, addr, 1, "ptep_modify_prot_start")[0]


@primitive("ptep_modify_prot_commit", "include/linux/pgtable.h: ptep_modify_prot_commit()")
def ptep_modify_prot_commit(
    m: MachineView, vma: Any, addr: int, ptep: Any, old: Any, pte: Any
) -> None:
    set_ptes(m, vma.vm_mm, addr, ptep, pte, 1)


@primitive("pte_needs_flush", "arch/x86/include/asm/tlbflush.h: pte_needs_flush()")
def pte_needs_flush(m: MachineView, old: object, new: object) -> bool:
    return bool(_pte(old, "pte_needs_flush") != _pte(new, "pte_needs_flush"))


@primitive("PageAnon", "include/linux/page-flags.h: PageAnon()")
def page_anon(m: MachineView, page: object) -> bool:
    return bool(_page(page, "PageAnon").folio.f.anon)


@primitive("is_writable_migration_entry", "include/linux/swapops.h: is_writable_migration_entry()")
def is_writable_migration_entry(m: MachineView, entry: Any) -> bool:
    return bool(entry.type == SWP_MIGRATION_WRITE)


@primitive(
    "make_readable_migration_entry", "include/linux/swapops.h: make_readable_migration_entry()"
)
def make_readable_migration_entry(m: MachineView, offset: int) -> SwapEntry:
    return SwapEntry(SWP_MIGRATION_READ, offset)


@primitive(
    "make_readable_exclusive_migration_entry",
    "include/linux/swapops.h: make_readable_exclusive_migration_entry()",
)
def make_readable_exclusive_migration_entry(m: MachineView, offset: int) -> SwapEntry:
    return SwapEntry(SWP_MIGRATION_READ_EXCLUSIVE, offset)


noop(
    "pte_protnone",
    "is_writable_device_private_entry",
    "is_writable_device_exclusive_entry",
    cites="include/linux/pgtable.h, swapops.h: no PROT_NONE (NUMA hinting) PTEs, no "
    "device memory in the model",
    result=False,
)
noop(
    "userfaultfd_wp_unpopulated",
    cites="include/linux/userfaultfd_k.h: userfaultfd_wp_unpopulated(): "
    "UFFD_FEATURE_WP_UNPOPULATED off",
    result=False,
    prefer=True,
)
noop("tlb_flush_pte_range", cites="include/asm-generic/tlb.h: TLB flush, invisible to the model")
