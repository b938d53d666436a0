"""The span parser's reused trees are the trees a parse from scratch gives."""

from __future__ import annotations

from pathlib import Path

from checkers.frontend import parse
from reviewbot.pipeline.spans import SpanParser

MEMORY_C = Path(__file__).parent / "fixtures" / "tree" / "mm" / "memory.c"

EDITS = [
    ("\tint nr = 1;\n", "\tint nr = 1;\n\t/* a comment */\n"),  # inside a body
    (
        "static bool fault_pte_unchanged",
        "static int added(void)\n{\n}\n\nstatic bool fault_pte_unchanged",
    ),
    ("\treturn ret;\n\nout_nomap:", "\treturn ret;\n}\n\nout_nomap:"),  # an early "}": bodies move
    ("\treturn ret;\n}\n\nout_nomap:", "\treturn ret;\n\nout_nomap:"),  # and back
    ("add_mm_counter(mm, MM_ANONPAGES, nr);\n", ""),  # a line removed
]


def test_reused_trees_equal_fresh_parses() -> None:
    text = MEMORY_C.read_text()
    spans = SpanParser()
    spans.parse(text.encode(), "mm/memory.c")
    for old, new in EDITS:
        assert old in text
        text = text.replace(old, new, 1)
        data = text.encode()
        got, fresh = spans.parse(data, "mm/memory.c"), parse(data, "mm/memory.c")
        assert str(got.root) == str(fresh.root)
        assert {n: (v.start_point, v.end_point) for n, v in got.functions().items()} == {
            n: (v.start_point, v.end_point) for n, v in fresh.functions().items()
        }
    assert "added" in spans.parse(text.encode(), "mm/memory.c").functions()


def test_refused_input_has_no_functions_and_resets_the_path() -> None:
    spans = SpanParser()
    good = MEMORY_C.read_bytes()
    spans.parse(good, "mm/memory.c")
    assert spans.parse(b"\0" * 100, "mm/memory.c").refused
    again = spans.parse(good + b"\n", "mm/memory.c")
    assert str(again.root) == str(parse(good + b"\n", "mm/memory.c").root)
