"""Front end properties: the normaliser never moves a byte, the parse cache is
per content, and DirectoryTreeView finds helpers where kernel code keeps them."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from checkers.frontend import all_functions, parse
from checkers.normaliser import normalise
from checkers.treeview import DirectoryTreeView

# Kernel-ish fragments, so that the rules actually fire on generated input.
FRAGMENTS = [
    b"static int __init ",
    b"list_for_each_entry(p, &h, lru) {",
    b"min_t(unsigned long, a, b)",
    b"#ifdef CONFIG_X\n",
    b"#else\n",
    b"#endif\n",
    b"#if 0\n",
    b"__releases(x)",
    b"\t",
    b"\n",
    b" ",
    b"(",
    b")",
    b"{",
    b"}",
    b";",
    b"container_of(p, struct folio, lru)",
    b"scoped_guard(spinlock, &l) {",
    b"\tstatic DEFINE_SPINLOCK(l);",
    b"return (int)x;",
    b"foo",
    b"\\\n",
    b"\x00",
    b"\xff",
    b"/* c */",
]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=40), st.binary(max_size=40))
def test_normaliser_preserves_every_offset_and_line(parts: list[bytes], tail: bytes) -> None:
    src = b"".join(parts) + tail
    out = normalise(src)
    assert len(out) == len(src)
    assert [i for i, b in enumerate(src) if b == 0x0A] == [
        i for i, b in enumerate(out) if b == 0x0A
    ]


def test_parse_is_cached_per_content_and_keeps_original_text() -> None:
    src = b"static void __init setup(void)\n{\n\tfoo();\n}\n"
    a, b = parse(src, "a.c"), parse(src, "a.c")
    assert a is b
    (unit,) = all_functions(a)
    assert unit.text().startswith("static void __init setup")
    assert parse(src + b"\n", "a.c") is not a


def _write(root: Path, rel: str, text: str) -> None:
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)


def test_directory_tree_view_finds_helpers(tmp_path: Path) -> None:
    _write(tmp_path, "mm/internal.h", "static inline int helper_a(int x)\n{\n\treturn x;\n}\n")
    _write(
        tmp_path,
        "include/linux/swapops.h",
        "/* helper_b( mentioned in a comment */\nstatic inline int helper_b(void)\n"
        "{\n\treturn 1;\n}\n",
    )
    _write(tmp_path, "mm/memory.c", "int caller(void)\n{\n\treturn helper_a(1) + helper_b();\n}\n")
    view = DirectoryTreeView(tmp_path)
    a = view.find_function("helper_a")
    b = view.find_function("helper_b")
    assert a is not None and a.file.path == "mm/internal.h" and a.start_line == 1
    assert b is not None and b.file.path == "include/linux/swapops.h" and b.start_line == 2
    assert view.find_function("no_such_helper") is None
    assert view.find_function("helper_a") is a  # cached
    assert view.read("mm/memory.c") is not None
    assert view.read("../outside") is None


def test_parsed_files_are_searched_first(tmp_path: Path) -> None:
    _write(tmp_path, "mm/internal.h", "static inline int helper(void)\n{\n\treturn 0;\n}\n")
    view = DirectoryTreeView(tmp_path)
    applied = parse(b"static inline int helper(void)\n{\n\treturn 1;\n}\n", "mm/patched.h")
    view.add(applied)
    found = view.find_function("helper")
    assert found is not None and found.file.path == "mm/patched.h"
