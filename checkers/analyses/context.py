"""Per-function analysis results, computed once and shared by the checkers.

Several checkers need the CFG of the same function; building it once per
function (and only for functions whose text mentions something a checker
cares about) is what keeps a run over all of mm/ within a few seconds.
"""

from __future__ import annotations

from collections import OrderedDict

from checkers.analyses.cfg import Cfg, build_cfg
from checkers.frontend import FunctionUnit
from reviewbot.models import Evidence

_CACHE_SIZE = 64
_cfgs: OrderedDict[tuple[int, bytes, int], Cfg] = OrderedDict()


def cfg_of(unit: FunctionUnit) -> Cfg:
    """The function's CFG (cached by file content and position)."""
    k = (id(unit.file.tree), unit.file.source, unit.node.start_byte)
    cfg = _cfgs.get(k)
    if cfg is None:
        cfg = build_cfg(unit.node)
        _cfgs[k] = cfg
        if len(_cfgs) > _CACHE_SIZE:
            _cfgs.popitem(last=False)
    else:
        _cfgs.move_to_end(k)
    return cfg


def source_line(unit: FunctionUnit, line: int) -> str:
    """Whitespace-normalised text of a 1-based line of the unit's file."""
    lines = _lines(unit)
    if 1 <= line <= len(lines):
        return " ".join(lines[line - 1].decode("utf-8", "replace").split())
    return ""


_line_cache: dict[int, tuple[bytes, list[bytes]]] = {}


def _lines(unit: FunctionUnit) -> list[bytes]:
    src = unit.file.source
    hit = _line_cache.get(id(src))
    if hit is None or hit[0] is not src:
        if len(_line_cache) > 64:
            _line_cache.clear()
        hit = (src, src.split(b"\n"))
        _line_cache[id(src)] = hit
    return hit[1]


def evidence(unit: FunctionUnit, line: int, role: str) -> Evidence:
    return Evidence(line=line, role=role, text=source_line(unit, line))
