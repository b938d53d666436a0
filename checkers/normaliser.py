"""Length-preserving rewrite of kernel C shapes that tree-sitter-c misreads.

Each rule replaces bytes with bytes of the same length (usually spaces), so
every offset and line number of the parse is the original one.
"""

from __future__ import annotations

import re

# Annotation words in declarators: "static int __init foo(void)".
_ANNOTATIONS = re.compile(
    rb"\b(__init|__exit|__read_mostly|__always_inline|__ro_after_init|__ref|"
    rb"__meminit|__initdata|__cold|__maybe_unused|__must_check|noinline|"
    rb"__weak|__latent_entropy|__noreturn|__user|__rcu|__iomem|__percpu)\b"
)


def _blank(match: re.Match[bytes]) -> bytes:
    return b" " * (match.end() - match.start())


def normalise(source: bytes) -> bytes:
    out = _ANNOTATIONS.sub(_blank, source)
    assert len(out) == len(source)
    return out
