"""What an unmap walk needs besides page tables: the mmu_gather, zap_details,
a VMA that may be file-backed, and a world that can ask to reschedule.

``struct mmu_gather`` (include/asm-generic/tlb.h) collects the pages whose
PTEs were cleared; they keep their references until the TLB is flushed
(``tlb_flush_mmu()``), and a dirty file page may keep its rmap until
``tlb_flush_rmaps()``, which must run before the PTL is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

from sim.model.mm import Page, Vma, World
from sim.values import NULL


class VmOps:
    """``struct vm_operations_struct`` of a shmem mapping: no special pages."""

    C_FIELDS = frozenset({"find_special_page"})

    def __init__(self) -> None:
        self.find_special_page = NULL


class FileVma(Vma):
    """A VMA that may have ``vm_ops`` (vma_is_anonymous() is ``!vma->vm_ops``)."""

    C_FIELDS = Vma.C_FIELDS | {"vm_ops"}
    vm_ops: object = NULL


class MmuGather:
    """``struct mmu_gather``: the pages gathered and the rmaps delayed."""

    C_FIELDS = frozenset({"mm", "fullmm", "delayed_rmap"})

    def __init__(self, mm: object, room: int = 0) -> None:
        self.mm = mm
        self.fullmm = 0
        self.delayed_rmap = 0
        self.room = room  # pages taken before asking for a flush; 0: unlimited
        self.gathered: list[tuple[Page, int, bool]] = []  # (page, nr, rmap delayed)
        self.taken = 0  # pages gathered since the last flush


class ZapDetails:
    """``struct zap_details``: which pages a truncation or hole punch keeps."""

    C_FIELDS = frozenset({"even_cows", "zap_flags", "single_folio"})

    def __init__(self, even_cows: bool, zap_flags: int) -> None:
        self.even_cows = int(even_cows)
        self.zap_flags = zap_flags
        self.single_folio = NULL


@dataclass
class ZapWorld(World):
    """A World with the walk's mmu_gather and a scheduler that may ask to yield."""

    tlb: MmuGather | None = None
    resched_at: int = 0  # need_resched() is true from this call on (0: never)
    resched_calls: int = 0
