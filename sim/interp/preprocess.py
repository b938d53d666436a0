"""``#if`` evaluated under the simulator's configuration, before parsing.

The shared front end (``checkers.normaliser``) keeps the first branch of
every ``#if`` inside a function: right for a checker reading one coherent
function, wrong for a simulator that claims to run an x86-64 configuration.
So the simulator first blanks, with spaces (lines and offsets unchanged),
every branch its configuration does not compile, and the directives of the
groups it decided.  A group whose condition names anything but ``CONFIG_*``
symbols and numbers (a header guard, a macro defined in the file) is left
as it is, for the front end to read as before.
"""

from __future__ import annotations

import re

_DIRECTIVE = re.compile(rb"^[ \t]*#[ \t]*(if|ifdef|ifndef|elif|else|endif)\b(.*)$")
_TOKEN = re.compile(r"\s*(defined|IS_ENABLED|IS_BUILTIN|\w+|&&|\|\||[!=<>]=|[()!<>])")


class Undecided(Exception):
    """A condition the configuration alone cannot decide."""


def _blank(line: bytes) -> bytes:
    return b" " * len(line)


def evaluate(condition: str, config: dict[str, int]) -> bool:
    """An ``#if`` condition over CONFIG_* symbols (undefined ones are 0)."""
    text = condition.split("/*", 1)[0].split("//", 1)[0].strip()
    tokens: list[str] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            if text[pos:].strip():
                raise Undecided(text)
            break
        tokens.append(m.group(1))
        pos = m.end()
    value, rest = _or(tokens, config)
    if rest:
        raise Undecided(text)
    return bool(value)


def _or(t: list[str], c: dict[str, int]) -> tuple[int, list[str]]:
    v, t = _and(t, c)
    while t and t[0] == "||":
        w, t = _and(t[1:], c)
        v = int(bool(v) or bool(w))
    return v, t


def _and(t: list[str], c: dict[str, int]) -> tuple[int, list[str]]:
    v, t = _cmp(t, c)
    while t and t[0] == "&&":
        w, t = _cmp(t[1:], c)
        v = int(bool(v) and bool(w))
    return v, t


def _cmp(t: list[str], c: dict[str, int]) -> tuple[int, list[str]]:
    v, t = _unary(t, c)
    if t and t[0] in ("==", "!=", "<", ">", "<=", ">="):
        op = t[0]
        w, t = _unary(t[1:], c)
        v = int(
            {"==": v == w, "!=": v != w, "<": v < w, ">": v > w, "<=": v <= w, ">=": v >= w}[op]
        )
    return v, t


def _unary(t: list[str], c: dict[str, int]) -> tuple[int, list[str]]:
    if not t:
        raise Undecided("")
    head, rest = t[0], t[1:]
    if head == "!":
        v, rest = _unary(rest, c)
        return int(not v), rest
    if head == "(":
        v, rest = _or(rest, c)
        if not rest or rest[0] != ")":
            raise Undecided("(")
        return v, rest[1:]
    if head in ("defined", "IS_ENABLED", "IS_BUILTIN"):
        paren = bool(rest) and rest[0] == "("
        if paren:
            rest = rest[1:]
        if not rest:
            raise Undecided(head)
        name, rest = rest[0], rest[1:]
        if paren:
            if not rest or rest[0] != ")":
                raise Undecided(head)
            rest = rest[1:]
        return _symbol(name, c, defined=True), rest
    if head.isdigit() or (head[:2] in ("0x", "0X") and len(head) > 2):
        return int(head.rstrip("uUlL"), 0), rest
    return _symbol(head, c, defined=False), rest


def _symbol(name: str, config: dict[str, int], defined: bool) -> int:
    if not name.startswith("CONFIG_"):
        raise Undecided(name)
    value = config.get(name, 0)
    return int(bool(value)) if defined else value


def configure(source: bytes, config: dict[str, int]) -> bytes:
    """``source`` with the branches ``config`` does not compile blanked."""
    if b"#" not in source:
        return source
    lines = source.split(b"\n")
    # One frame per open group: (decided, some branch taken, this branch live).
    stack: list[list[bool]] = []
    out: list[bytes] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        # A directive continued with backslashes is one logical line.
        j = i
        while lines[j].endswith(b"\\") and j + 1 < len(lines):
            j += 1
        group = lines[i : j + 1]
        live = all(frame[2] for frame in stack)
        m = _DIRECTIVE.match(line)
        if m is None:
            out.extend(group if live else [_blank(x) for x in group])
            i = j + 1
            continue
        word = m.group(1).decode()
        cond = b" ".join(x.rstrip(b"\\") for x in [m.group(2), *group[1:]]).decode(
            "utf-8", "replace"
        )
        blank = True
        if word in ("if", "ifdef", "ifndef"):
            try:
                taken = _opening(word, cond, config)
                stack.append([True, taken, taken])
            except Undecided:
                stack.append([False, True, True])
                blank = False
        elif not stack:
            blank = False  # a stray directive: left to the front end
        elif word == "elif":
            frame = stack[-1]
            if not frame[0]:
                blank = False
            else:
                try:
                    taken = not frame[1] and evaluate(cond, config)
                except Undecided:
                    # Cannot tell whether this or a later branch is the one:
                    # keep it and the rest as the front end would.
                    frame[0], taken, blank = False, not frame[1], False
                frame[1], frame[2] = frame[1] or taken, taken
        elif word == "else":
            frame = stack[-1]
            if frame[0]:
                frame[2] = not frame[1]
                frame[1] = True
            else:
                blank = False
        else:  # endif
            frame = stack.pop()
            blank = frame[0]
        if blank or not live:
            out.extend(_blank(x) for x in group)
        else:
            out.extend(group)
        i = j + 1
    return b"\n".join(out)


def _opening(word: str, cond: str, config: dict[str, int]) -> bool:
    if word == "if":
        return evaluate(cond, config)
    name = cond.strip().split()[0] if cond.strip() else ""
    if not name.startswith("CONFIG_"):
        raise Undecided(name)
    defined = bool(config.get(name, 0))
    return defined if word == "ifdef" else not defined
