"""Integer widths: C conversions applied where a value is stored.

Python ints do not wrap; C's do.  The interpreter converts on every store
to a typed local, parameter or return value and on casts, which is where
the wrap becomes observable (``unsigned long idx`` holding ``-1``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Converter = Callable[[Any], Any]

# (bits, signed) for the integer types do_swap_page and its helpers use
# (x86-64 LP64).
_INT_TYPES: dict[str, tuple[int, bool]] = {
    "char": (8, True),
    "signed char": (8, True),
    "unsigned char": (8, False),
    "short": (16, True),
    "unsigned short": (16, False),
    "int": (32, True),
    "signed int": (32, True),
    "unsigned": (32, False),
    "unsigned int": (32, False),
    "long": (64, True),
    "long int": (64, True),
    "long long": (64, True),
    "unsigned long": (64, False),
    "unsigned long int": (64, False),
    "unsigned long long": (64, False),
    "u8": (8, False),
    "u16": (16, False),
    "u32": (32, False),
    "u64": (64, False),
    "s8": (8, True),
    "s16": (16, True),
    "s32": (32, True),
    "s64": (64, True),
    "size_t": (64, False),
    "ssize_t": (64, True),
    "pgoff_t": (64, False),
    "vm_fault_t": (32, False),
    "rmap_t": (32, True),
    "gfp_t": (32, False),
    "fpi_t": (32, False),
    "vm_flags_t": (64, False),
    "atomic_t": (32, True),
    "swp_entry_val": (64, False),
    "long unsigned int": (64, False),
    "long long int": (64, True),
    "unsigned long long int": (64, False),
    "short int": (16, True),
    "unsigned short int": (16, False),
    "__u8": (8, False),
    "__u16": (16, False),
    "__u32": (32, False),
    "__u64": (64, False),
    "__s8": (8, True),
    "__s16": (16, True),
    "__s32": (32, True),
    "__s64": (64, True),
    "uint8_t": (8, False),
    "uint16_t": (16, False),
    "uint32_t": (32, False),
    "uint64_t": (64, False),
    "int8_t": (8, True),
    "int16_t": (16, True),
    "int32_t": (32, True),
    "int64_t": (64, True),
    "uintptr_t": (64, False),
    "phys_addr_t": (64, False),
    "resource_size_t": (64, False),
    "loff_t": (64, True),
    "sector_t": (64, False),
    "atomic_long_t": (64, True),
    "pteval_t": (64, False),
}

SIZEOF: dict[str, int] = {
    "pte_t": 8,
    "pmd_t": 8,
    "pud_t": 8,
    "swp_entry_t": 8,
    "void *": 8,
    "bool": 1,
    **{name: bits // 8 for name, (bits, _) in _INT_TYPES.items()},
}


def _wrap(bits: int, signed: bool) -> Converter:
    mask = (1 << bits) - 1
    top = 1 << (bits - 1)

    if signed:

        def conv(v: Any) -> Any:
            if type(v) is int:
                v &= mask
                return v - (1 << bits) if v & top else v
            return v

    else:

        def conv(v: Any) -> Any:
            return v & mask if type(v) is int else v

    return conv


def _to_bool(v: Any) -> Any:
    if type(v) is int:
        return 1 if v else 0
    return 1 if v else 0


def normalise_type(text: str) -> str:
    words = [
        w
        for w in text.replace("\n", " ").split()
        if w not in ("const", "volatile", "static", "register", "inline", "__always_inline")
    ]
    return " ".join(words)


def converter_for(type_text: str, is_pointer: bool) -> Converter | None:
    """The store conversion for a declared type, or None (no conversion)."""
    if is_pointer:
        return None
    name = normalise_type(type_text)
    if name in ("bool", "_Bool"):
        return _to_bool
    spec = _INT_TYPES.get(name)
    if spec is None and name.startswith("signed "):
        spec = _INT_TYPES.get(name[len("signed ") :])
    if spec is None:
        return None
    return _wrap(*spec)


def sizeof(type_text: str) -> int | None:
    name = normalise_type(type_text)
    if name.endswith("*"):
        return 8
    if name.startswith("struct ") and name.endswith("*"):
        return 8
    return SIZEOF.get(name)


def c_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def c_mod(a: int, b: int) -> int:
    return a - b * c_div(a, b)
