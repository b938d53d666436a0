"""A directory as a SourceTree (read-only), until checkers.treeview lands.

Only ``read()`` is needed by the simulator: it indexes the functions of the
few files it executes from itself (``sim.interp.machine.SOURCE_FILES``).
"""

from __future__ import annotations

from pathlib import Path

from checkers.frontend import FunctionUnit, find_function, parse


class DirectoryTree:
    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def read(self, path: str) -> bytes | None:
        target = (self.root / path).resolve()
        if self.root.resolve() not in target.parents or not target.is_file():
            return None
        return target.read_bytes()

    def find_function(self, name: str) -> FunctionUnit | None:
        for path in ("mm/memory.c", "mm/internal.h", "mm/swap.h"):
            data = self.read(path)
            if data is not None:
                unit = find_function(parse(data, path), name)
                if unit is not None:
                    return unit
        return None
