"""The simulator reads trees through the checkers' DirectoryTreeView.

Only ``read()`` is needed: the simulator indexes the functions of the few
files it executes from itself (``sim.interp.machine.SOURCE_FILES``).
"""

from __future__ import annotations

from checkers.treeview import DirectoryTreeView as DirectoryTree

__all__ = ["DirectoryTree"]
