"""Parse unpreprocessed kernel C with tree-sitter.

Shared by the checkers and the simulator.  Kernel source is parsed as it is
written, without a configured build; shapes that tree-sitter-c cannot read
(annotations such as ``__init``, iterator macros followed by a block, type
arguments to macros) are rewritten first by a *length-preserving* normaliser
so that byte offsets and line numbers stay exact.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache

import tree_sitter_c
from tree_sitter import Language, Node, Parser, Tree

C_LANGUAGE = Language(tree_sitter_c.language())


def normalise(source: bytes) -> bytes:
    """Rewrite kernel-only shapes into plain C of exactly the same length."""
    from checkers.normaliser import normalise as _normalise

    return _normalise(source)


@dataclass(frozen=True)
class ParsedFile:
    path: str
    source: bytes  # the original text
    normalised: bytes  # what tree-sitter parsed (same length)
    tree: Tree
    # Why the file was not parsed (too large, binary, absurdly nested): then the
    # tree is empty and the file has no functions.  Callers turn it into a note.
    refused: str | None = None

    @property
    def root(self) -> Node:
        return self.tree.root_node

    def text(self, node: Node) -> str:
        """Original (not normalised) text of a node."""
        return self.source[node.start_byte : node.end_byte].decode("utf-8", "replace")

    def functions(self) -> dict[str, Node]:
        """Function definitions of the file by name (the longest of duplicates)."""
        return self._index

    @cached_property
    def _index(self) -> dict[str, Node]:
        return _function_index(self)

    @cached_property
    def _definitions(self) -> tuple[tuple[str, Node], ...]:
        return _definitions(self.root)


@dataclass(frozen=True)
class FunctionUnit:
    """One function definition: what a checker or the simulator works on."""

    file: ParsedFile
    name: str
    node: Node

    @property
    def start_line(self) -> int:  # 1-based
        return self.node.start_point[0] + 1

    @property
    def end_line(self) -> int:
        return self.node.end_point[0] + 1

    @property
    def has_error(self) -> bool:
        return self.node.has_error

    def text(self, node: Node | None = None) -> str:
        return self.file.text(node if node is not None else self.node)

    def line_of(self, node: Node) -> int:
        return node.start_point[0] + 1


MAX_SOURCE_BYTES = 4 * 1024 * 1024  # mm/memory.c is 200 KB; the largest kernel .c ~1 MB
MAX_PAREN_NESTING = 200
_CONTROL = bytes(range(0, 9)) + bytes(range(14, 32)) + b"\x7f"
_DEEP = re.compile(rb"(?:\(\s*){%d}" % MAX_PAREN_NESTING)


def unanalysable(data: bytes) -> str | None:
    """Why this input cannot be analysed in bounded time and memory, or None.

    Checked before parsing: a huge file, binary junk and absurd nesting give a
    "could not analyse" note instead of a slow or crashing analysis."""
    if len(data) > MAX_SOURCE_BYTES:
        return f"file too large ({len(data)} bytes, limit {MAX_SOURCE_BYTES})"
    head = data[:65536]
    if b"\0" in head or len(head) - len(head.translate(None, _CONTROL)) > len(head) // 100:
        return "binary data, not C source"
    if b"(" * 16 in data and _DEEP.search(data) is not None:
        return f"expressions nested deeper than {MAX_PAREN_NESTING} parentheses"
    return None


def _parser() -> Parser:
    return Parser(C_LANGUAGE)


@lru_cache(maxsize=64)
def _parse_cached(digest: str, path: str, source: bytes) -> ParsedFile:
    refused = unanalysable(source)
    if refused is not None:
        return ParsedFile(path, source, b"", _parser().parse(b""), refused)
    normalised = normalise(source)
    tree = _parser().parse(normalised)
    return ParsedFile(path=path, source=source, normalised=normalised, tree=tree)


def parse(source: bytes | str, path: str = "<memory>") -> ParsedFile:
    """Parse one file; results are cached per content (per git blob).

    Never raises on bad input: a file that cannot be analysed in bounded time
    and memory comes back with ``refused`` set and no functions."""
    data = source.encode() if isinstance(source, str) else source
    digest = hashlib.sha1(data).hexdigest()
    return _parse_cached(digest, path, data)


def declarator_name(node: Node) -> str | None:
    """The identifier a (possibly nested) declarator declares."""
    while node is not None:
        if node.type in ("identifier", "field_identifier"):
            return node.text.decode() if node.text is not None else None
        inner = node.child_by_field_name("declarator")
        if inner is None:
            return None
        node = inner
    return None


def _definitions(root: Node) -> tuple[tuple[str, Node], ...]:
    """(name, function_definition) in source order; one walk per file."""
    out: list[tuple[str, Node]] = []
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "function_definition":
            decl = node.child_by_field_name("declarator")
            name = declarator_name(decl) if decl is not None else None
            if name:
                out.append((name, node))
            continue
        if node.type in _LEAF_TOPLEVEL:
            continue
        stack.extend(reversed(node.children))
    return tuple(out)


# Top-level shapes that cannot contain a function definition: not walked.
_LEAF_TOPLEVEL = frozenset(
    {
        "declaration",
        "preproc_def",
        "preproc_function_def",
        "preproc_include",
        "comment",
        "type_definition",
        "expression_statement",
        "preproc_call",
    }
)


def _function_index(pf: ParsedFile) -> dict[str, Node]:
    """By name; of two definitions (``#ifdef`` real one, ``#else`` stub) the
    longer body wins: the stub is rarely what a patch or a checker means."""
    out: dict[str, Node] = {}
    for name, node in pf._definitions:
        prev = out.get(name)
        if prev is None or node.end_byte - node.start_byte > prev.end_byte - prev.start_byte:
            out[name] = node
    return out


def find_function(pf: ParsedFile, name: str) -> FunctionUnit | None:
    node = pf.functions().get(name)
    return FunctionUnit(pf, name, node) if node is not None else None


def functions_in_lines(pf: ParsedFile, lines: set[int]) -> list[FunctionUnit]:
    """Functions whose line span contains any of ``lines`` (1-based)."""
    found = []
    for name, node in pf.functions().items():
        start, end = node.start_point[0] + 1, node.end_point[0] + 1
        if any(start <= ln <= end for ln in lines):
            found.append(FunctionUnit(pf, name, node))
    return found


def all_functions(pf: ParsedFile) -> list[FunctionUnit]:
    """Every function definition of the file in source order (duplicates kept:
    an ``#ifdef``'d pair of definitions gives two units)."""
    return [FunctionUnit(pf, name, node) for name, node in pf._definitions]
