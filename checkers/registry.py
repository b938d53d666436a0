"""Every checker, found by discovery: each module of ``checkers`` that
defines a FunctionChecker or PatchChecker subclass with an ``info`` registers
it.  Ids are permanent: two checkers with one id is an error.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import cache

import checkers
from checkers.base import FunctionChecker, PatchChecker

# Modules of the package that are infrastructure, not checkers.
_NOT_CHECKERS = {"base", "registry", "engine", "frontend", "normaliser", "docgen", "treeview"}


@cache
def all_checkers() -> tuple[FunctionChecker | PatchChecker, ...]:
    found: dict[str, FunctionChecker | PatchChecker] = {}
    for mod in pkgutil.iter_modules(checkers.__path__):
        if mod.ispkg or mod.name in _NOT_CHECKERS or mod.name.startswith("_"):
            continue
        module = importlib.import_module(f"checkers.{mod.name}")
        for obj in vars(module).values():
            if (
                isinstance(obj, type)
                and issubclass(obj, (FunctionChecker, PatchChecker))
                and obj not in (FunctionChecker, PatchChecker)
                and obj.__module__ == module.__name__
                and hasattr(obj, "info")
            ):
                if obj.info.id in found:
                    raise RuntimeError(f"checker id {obj.info.id} registered twice")
                found[obj.info.id] = obj()
    return tuple(found[k] for k in sorted(found))


def function_checkers() -> tuple[FunctionChecker, ...]:
    return tuple(c for c in all_checkers() if isinstance(c, FunctionChecker))


def patch_checkers() -> tuple[PatchChecker, ...]:
    return tuple(c for c in all_checkers() if isinstance(c, PatchChecker))


def by_id(checker_id: str) -> FunctionChecker | PatchChecker:
    for c in all_checkers():
        if c.info.id == checker_id:
            return c
    raise KeyError(checker_id)
