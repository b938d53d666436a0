"""``git patch-id --stable`` in Python, over stored diff text.

Storage keys "this patch did not change between v2 and v3" on the git
patch-id, and must compute it where no git tree exists (the web, a worker
holding only the mail).  This follows builtin/patch-id.c: whitespace is
dropped, ``index`` lines and hunk line numbers are ignored, each file is
hashed on its own and the SHA-1s are summed byte-wise with carry, so the
order of files does not matter.  A test compares it with git itself.
"""

from __future__ import annotations

import hashlib
import re

_HUNK = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")
_LONG_MAX = 2**63 - 1


def _atoi(digits: str) -> int:
    """A hunk count as git reads it: atoi(), strtol() clamped then cut to a C int
    (int() itself refuses 4300 digits)."""
    digits = digits.lstrip("0") or "0"
    value = min(int(digits), _LONG_MAX) if len(digits) <= 19 else _LONG_MAX
    value &= 0xFFFFFFFF
    return value - 2**32 if value >= 2**31 else value


_WS = re.compile(rb"[ \t\n\v\f\r]+")  # C isspace(), not Unicode spaces


def _add(total: bytearray, digest: bytes) -> None:
    carry = 0
    for i, byte in enumerate(digest):
        carry += total[i] + byte
        total[i] = carry & 0xFF
        carry >>= 8


def patch_id(diff: str) -> str | None:
    """The stable patch-id of one patch's diff, or None when it has no diff."""
    total = bytearray(20)
    ctx = hashlib.sha1()
    patchlen = 0
    before = after = -1
    is_binary = False
    pre_oid = post_oid = ""
    for raw in diff.splitlines(keepends=True):
        line = raw
        if line.startswith("\\ ") and len(line) > 12:
            continue  # "\ No newline at end of file"
        if not patchlen and not line.startswith("diff "):
            continue
        if before == -1:
            if line.startswith(("GIT binary patch", "Binary files")):
                is_binary = True
                before = 0
                ctx.update(pre_oid.encode() + post_oid.encode())
                _add(total, ctx.digest())
                ctx = hashlib.sha1()
                continue
            if line.startswith("index "):
                rest = line[len("index ") :].rstrip("\n")
                if ".." in rest:
                    pre_oid, _, tail = rest.partition("..")
                    post_oid = tail.split(" ", 1)[0]
                continue
            if line.startswith("--- "):
                before = after = 1
            elif not line[:1].isalpha():
                break
        if is_binary:
            # git skips the next file's "diff" line too: keep its quirk.
            if line.startswith("diff "):
                is_binary = False
                before = -1
            continue
        if before == 0 and after == 0:
            m = _HUNK.match(line)
            if m:
                before = _atoi(m.group(1)) if m.group(1) is not None else 1
                after = _atoi(m.group(2)) if m.group(2) is not None else 1
                continue
            if not line.startswith("diff "):
                break
            _add(total, ctx.digest())
            ctx = hashlib.sha1()
            before = after = -1
        if line[:1] in ("-", " "):
            before -= 1
        if line[:1] in ("+", " "):
            after -= 1
        squeezed = _WS.sub(b"", line.encode("utf-8", "surrogateescape"))
        patchlen += len(squeezed)
        ctx.update(squeezed)
    if not patchlen:
        return None
    _add(total, ctx.digest())
    return total.hex()
