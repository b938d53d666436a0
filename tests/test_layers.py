"""Which part of the code may import which: read from the source, not from a run.

The ground floor is ``reviewbot/models.py``, the shared vocabulary (Finding,
Evidence, Severity, Reproducer, the simulator's results): it imports nothing
of the project.  checkers/ and sim/ take only that from reviewbot/.  In sim/,
the model, the run-time values and the kernel primitives sit below the
interpreter, which alone may import them all.  Storage sits below the web,
the watcher and the workers; the web reads storage and never runs the
pipeline.  And each package imports alone (``python -c "import X"``).
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ("reviewbot", "checkers", "sim", "workers", "benchmarks", "tests")

# module prefix -> prefixes of the project it must not import (itself excepted)
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "reviewbot.models": PROJECT,
    "checkers": ("reviewbot", "sim", "workers", "benchmarks", "tests"),
    "sim": ("reviewbot", "workers", "benchmarks", "tests"),
    "sim.model": ("sim.interp", "sim.kernel", "sim.scenarios", "sim.runner", "sim.suite"),
    "sim.values": ("sim.interp", "sim.kernel", "sim.model", "sim.runner", "sim.suite"),
    "sim.faults": ("sim.interp", "sim.kernel", "sim.model", "sim.values"),
    "sim.kernel": ("sim.interp", "sim.runner", "sim.suite", "sim.scenarios"),
    "sim.interp": ("sim.runner", "sim.suite", "sim.scenarios"),
    "reviewbot.storage": (
        "reviewbot.web",
        "reviewbot.watch",
        "reviewbot.commands",
        "reviewbot.cli",
        "reviewbot.outbox",
        "workers",
    ),
    "reviewbot.pipeline": (
        "reviewbot.storage",
        "reviewbot.web",
        "reviewbot.watch",
        "reviewbot.commands",
        "workers",
    ),
    "reviewbot.web": (
        "reviewbot.pipeline",
        "reviewbot.watch",
        "reviewbot.commands",
        "reviewbot.git",
        "checkers",
        "sim",
        "workers",
    ),
    "reviewbot.watch": ("reviewbot.web", "reviewbot.commands", "workers"),
    "workers": ("reviewbot.web", "reviewbot.commands", "reviewbot.cli"),
    "benchmarks": ("tests",),
}
# what checkers/ and sim/ may take from reviewbot/: the vocabulary only
ALLOWED_FROM_REVIEWBOT = {"checkers": {"reviewbot.models"}, "sim": {"reviewbot.models"}}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Every module ``path`` imports, at its top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def _under(module: str, prefix: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _sources() -> list[tuple[str, Path]]:
    return [
        (_module_name(path), path)
        for package in PROJECT[:-1]
        for path in sorted((ROOT / package).rglob("*.py"))
    ]


def violations() -> list[str]:
    out = []
    for module, path in _sources():
        imported = imported_modules(path)
        for layer, banned in FORBIDDEN.items():
            if not _under(module, layer):
                continue
            out += [
                f"{module} imports {name} ({layer} must not import {prefix})"
                for name in sorted(imported)
                for prefix in banned
                if _under(name, prefix) and not _under(name, layer)
                if not any(_under(name, ok) for ok in ALLOWED_FROM_REVIEWBOT.get(layer, ()))
            ]
    return out


def test_the_import_directions_hold() -> None:
    assert violations() == []


def test_the_rule_sees_a_wrong_direction(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "sim" / "kernel"
    fake.mkdir(parents=True)
    (fake / "loop.py").write_text("def f():\n    from sim.interp.machine import Program\n")
    (tmp_path / "checkers").mkdir()
    (tmp_path / "checkers" / "x.py").write_text("from reviewbot.models import Finding\n")
    (tmp_path / "checkers" / "y.py").write_text("from reviewbot.storage import db\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    assert violations() == [
        "checkers.y imports reviewbot.storage (checkers must not import reviewbot)",
        "sim.kernel.loop imports sim.interp.machine (sim.kernel must not import sim.interp)",
    ]


PACKAGES = [
    "reviewbot.models",
    "checkers",
    "sim",
    "sim.values",
    "sim.model",
    "sim.kernel",
    "sim.interp",
    "sim.interp.machine",
    "reviewbot.storage",
    "reviewbot.pipeline",
    "reviewbot.watch",
    "reviewbot.web",
    "workers",
]


def test_each_package_imports_alone() -> None:
    """A fresh interpreter per package: an import loop fails whichever side comes first."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    failed = {}
    for name in PACKAGES:
        proc = subprocess.run(
            [sys.executable, "-c", f"import {name}"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            failed[name] = proc.stderr.strip().splitlines()[-1:]
    assert failed == {}
