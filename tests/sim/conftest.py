"""Fixtures for the simulator tests: in-memory trees and mutated kernel copies."""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest

from sim.interp.machine import Machine, Program
from sim.model.mm import World
from sim.scenarios.spec import Spec, build

MUTATIONS = Path(__file__).resolve().parent.parent / "fixtures" / "sim-mutations"
# Every file an entry executes from (sim.entries: FILES).
KERNEL_FILES = (
    "mm/memory.c",
    "mm/internal.h",
    "mm/swap.h",
    "mm/madvise.c",
    "mm/mprotect.c",
    "include/linux/mm_inline.h",
    "include/linux/userfaultfd_k.h",
)


class MemTree:
    """A tree held in a dict: path -> C text."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files

    def read(self, path: str) -> bytes | None:
        text = self.files.get(path)
        return text.encode() if text is not None else None

    def find_function(self, name: str) -> Any:
        return None


def run_c(
    source: str, entry: str, *args: Any, world: World | None = None, max_steps: int = 20_000
) -> Any:
    """Run ``entry`` of a C snippet (as mm/memory.c) against a world."""
    program = Program(MemTree({"mm/memory.c": source}))
    world = world if world is not None else build(Spec()).world
    return Machine(program, world, max_steps=max_steps).run(entry, list(args))


def load_mutation(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text())


def apply_mutation(kernel: Path, mutation: dict[str, Any], dest: Path) -> Path:
    """Copy the files the simulator reads into dest and apply the edit spec."""
    for rel in KERNEL_FILES:
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(kernel / rel, dest / rel)
    target = dest / mutation["file"]
    text = target.read_text()
    edits = mutation.get("edits") or [[mutation["old"], mutation["new"]]]
    for old, new in edits:
        assert text.count(old) == 1, f"edit does not apply exactly once: {old!r}"
        text = text.replace(old, new)
    target.write_text(text)
    return dest


def assert_every_scenario_passes(kernel: Path, entry: str, *, runs: int = 0) -> None:
    """Every scenario of ``entry`` passes on the tree at ``kernel`` (``runs``
    cases at least), covering at least 60% of its statements (printed)."""
    from sim.suite import entry_cases, run_table
    from sim.tree import DirectoryTree

    result = run_table([("base", DirectoryTree(kernel))], entry_cases(entry), reference=False)
    bad = [r for r in result.runs if r.outcome != "pass"]
    assert not bad, "\n".join(f"{r.scenario}: {r.outcome} {r.message}" for r in bad)
    assert len(result.runs) >= runs
    share = result.coverage[entry]
    assert isinstance(share, float)
    print(f"\ncoverage of {entry} (6.12): {share:.1%}")
    for path in result.coverage["not_modelled"]:  # type: ignore[union-attr]
        print("  ", path)
    assert share >= 0.6


def assert_mutation_fails(  # noqa: PLR0917
    kernel: Path,
    mutation: dict[str, Any],
    dest: Path,
    case: tuple[str, int, int],
    entry: str,
    kind: str,
    text: str,
) -> tuple[Any, dict[str, Any]]:
    """``case`` of ``entry`` passes on the tree at ``kernel`` and fails with
    ``kind`` (its message holding ``text``, at a located line) once
    ``mutation`` is applied in ``dest``.  The result and its trees."""
    from sim.suite import one_case, run_table
    from sim.tree import DirectoryTree

    v1 = apply_mutation(kernel, mutation, dest)
    trees = {"base": DirectoryTree(kernel), "v1": DirectoryTree(v1)}
    result = run_table(list(trees.items()), [one_case(*case, entry=entry)])
    base, broken = result.runs[:2]
    assert base.outcome == "pass", base.message
    assert (broken.outcome, broken.kind) == ("fail", kind), broken.message
    assert text in broken.message
    assert broken.line > 0
    return result, trees


@pytest.fixture
def kernel_copy(kernel_tree: Path, tmp_path: Path) -> Path:
    """An unmodified copy of the simulated files of the 6.12 tree."""
    for rel in KERNEL_FILES:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(kernel_tree / rel, tmp_path / rel)
    return tmp_path


def sample_tree(dest: Path, version: int | None) -> Path:
    """The sample's base tree, with revision ``version``'s post-images laid over it."""
    from reviewbot.sample import REVISIONS_DIR, TREE_DIR

    shutil.copytree(TREE_DIR, dest)
    if version is not None:
        rev = REVISIONS_DIR / f"v{version}"
        for src in rev.rglob("*"):
            if src.is_file() and src.suffix in (".c", ".h"):
                target = dest / src.relative_to(rev)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, target)
    return dest


@pytest.fixture(scope="session")
def sample_result(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The whole scenario suite on the sample: base, v1, v2, v3."""
    from sim.suite import default_cases, run_table
    from sim.tree import DirectoryTree

    root = tmp_path_factory.mktemp("sample")
    dirs = {"base": sample_tree(root / "base", None)}
    for v in (1, 2, 3):
        dirs[f"v{v}"] = sample_tree(root / f"v{v}", v)
    trees = {name: DirectoryTree(path) for name, path in dirs.items()}
    return run_table(list(trees.items()), default_cases()), trees
