"""Macros and assertions: likely(), max(), ALIGN_DOWN(), BUG_ON(), WARN_ON()."""

from __future__ import annotations

from typing import Any

from sim.faults import Kind, NotModelled, SimFault
from sim.kernel import primitive
from sim.values import ErrPtr, Opaque, truth


def _identity(name: str, cites: str) -> None:
    primitive(name, cites)(lambda m, v: v)


for _name in ("likely", "unlikely", "data_race", "READ_ONCE"):
    _identity(_name, f"include/linux/compiler.h: {_name}()")


@primitive("max", "include/linux/minmax.h: max()")
def max_(m: Any, a: int, b: int) -> int:
    return a if a > b else b


@primitive("min", "include/linux/minmax.h: min()")
def min_(m: Any, a: int, b: int) -> int:
    return a if a < b else b


@primitive("max_t", "include/linux/minmax.h: max_t()", lazy=True, nargs=3)
def max_t(m: Any, f: Any, texts: Any, args: Any) -> int:
    a, b = args[1](m, f), args[2](m, f)
    return int(a if a > b else b)


@primitive("min_t", "include/linux/minmax.h: min_t()", lazy=True, nargs=3)
def min_t(m: Any, f: Any, texts: Any, args: Any) -> int:
    a, b = args[1](m, f), args[2](m, f)
    return int(a if a < b else b)


@primitive("ALIGN_DOWN", "include/linux/align.h: ALIGN_DOWN()")
def align_down(m: Any, x: int, a: int) -> int:
    return x & ~(a - 1)


@primitive("ALIGN", "include/linux/align.h: ALIGN()")
def align(m: Any, x: int, a: int) -> int:
    return (x + a - 1) & ~(a - 1)


@primitive("IS_ALIGNED", "include/linux/align.h: IS_ALIGNED()")
def is_aligned(m: Any, x: int, a: int) -> bool:
    return x & (a - 1) == 0


@primitive("IS_ENABLED", "include/linux/kconfig.h: IS_ENABLED()", lazy=True, nargs=1)
def is_enabled(m: Any, f: Any, texts: Any, args: Any) -> int:
    return 1 if m.program.config.get(texts[0].strip(), 0) else 0


@primitive("ERR_PTR", "include/linux/err.h: ERR_PTR()")
def err_ptr(m: Any, err: int) -> ErrPtr:
    return ErrPtr(err)


@primitive("IS_ERR", "include/linux/err.h: IS_ERR()")
def is_err(m: Any, p: Any) -> bool:
    return isinstance(p, ErrPtr)


@primitive("PTR_ERR", "include/linux/err.h: PTR_ERR()")
def ptr_err(m: Any, p: Any) -> int:
    return p.err if isinstance(p, ErrPtr) else 0


@primitive("DECLARE_WAITQUEUE", "include/linux/wait.h: DECLARE_WAITQUEUE()", lazy=True, nargs=2)
def declare_waitqueue(m: Any, f: Any, texts: Any, args: Any) -> None:
    f.vars[texts[0].strip()] = Opaque("wait_queue_entry " + texts[0].strip())


def _bug(name: str) -> None:
    def fire(m: Any, cond: Any) -> None:
        if truth(cond):
            raise SimFault(Kind.BUG_ON, f"{name}() fired")

    primitive(name, f"include/asm-generic/bug.h: {name}()")(fire)


for _name in ("BUG_ON", "VM_BUG_ON"):
    _bug(_name)


def _warn(name: str) -> None:
    # A warning is a bug report from the kernel itself: the run fails.
    def fire(m: Any, cond: Any, *rest: Any) -> int:
        if truth(cond):
            raise SimFault(Kind.BUG_ON, f"{name}() fired")
        return 0

    primitive(name, f"include/linux/mmdebug.h: {name}()")(fire)


for _name in (
    "WARN_ON",
    "WARN_ON_ONCE",
    "VM_WARN_ON",
    "VM_WARN_ON_ONCE",
    "VM_WARN_ON_FOLIO",
    "VM_BUG_ON_FOLIO",
    "VM_WARN_ON_ONCE_FOLIO",
    "VM_BUG_ON_PAGE",
):
    _warn(_name)


@primitive("BUG", "include/asm-generic/bug.h: BUG()")
def bug(m: Any) -> None:
    raise SimFault(Kind.BUG_ON, "BUG() reached")


@primitive("pfn_swap_entry_to_page", "include/linux/swapops.h: pfn_swap_entry_to_page()")
def pfn_swap_entry_to_page(m: Any, entry: Any) -> Any:
    raise NotModelled("device memory (pfn_swap_entry_to_page)")


@primitive("round_down", "include/linux/math.h: round_down()")
def round_down(m: Any, x: int, y: int) -> int:
    return x & ~(y - 1)


@primitive("round_up", "include/linux/math.h: round_up()")
def round_up(m: Any, x: int, y: int) -> int:
    return ((x - 1) | (y - 1)) + 1


@primitive("BIT", "include/vdso/bits.h: BIT()")
def bit(m: Any, n: int) -> int:
    return 1 << n


@primitive("PFN_DOWN", "include/linux/pfn.h: PFN_DOWN()")
def pfn_down(m: Any, x: int) -> int:
    return x >> 12


@primitive("PFN_UP", "include/linux/pfn.h: PFN_UP()")
def pfn_up(m: Any, x: int) -> int:
    return (x + 4095) >> 12


@primitive("memset", "include/linux/string.h: memset()")
def memset(m: Any, dest: Any, c: int, size: int) -> Any:
    # Local arrays of int (init_rss_vec()): whole cells only.
    from sim.values import ArrayPtr

    if not isinstance(dest, ArrayPtr) or size % 4:
        raise NotModelled(f"memset() of {type(dest).__name__}, {size} bytes")
    for i in range(size // 4):
        dest.moved(i).store(c)
    return dest
