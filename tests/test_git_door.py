"""git is run from reviewbot/git.py only: one door per outside thing.

A read of the source, not of a run: any module of the shipped code (not the
tests, which build their own repositories) that imports GitPython, or hands
``git`` to subprocess/os as the program to run, is named.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("reviewbot", "checkers", "sim", "workers", "benchmarks", "sample")
THE_DOOR = Path("reviewbot/git.py")
RUNNERS = {
    ("subprocess", "run"),
    ("subprocess", "Popen"),
    ("subprocess", "call"),
    ("subprocess", "check_call"),
    ("subprocess", "check_output"),
    ("os", "system"),
    ("os", "popen"),
    ("os", "execvp"),
    ("os", "execlp"),
    ("os", "spawnlp"),
}


def _is_git(node: ast.expr) -> bool:
    """``"git"``, ``"/usr/bin/git"``, ``"git log"``, or a list/tuple starting with one."""
    if isinstance(node, ast.List | ast.Tuple):
        return bool(node.elts) and _is_git(node.elts[0])
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        program = node.value.split(" ", 1)[0]
        return program.rsplit("/", 1)[-1] == "git"
    return False


def git_runs(source: str) -> list[int]:
    """Lines of ``source`` that import GitPython or run git through a subprocess."""
    lines: list[int] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            modules = [node.module or ""]
        else:
            modules = []
        if any(m.split(".")[0] == "git" for m in modules):
            lines.append(node.lineno)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            if (
                isinstance(owner, ast.Name)
                and (owner.id, node.func.attr) in RUNNERS
                and node.args
                and _is_git(node.args[0])
            ):
                lines.append(node.lineno)
    return lines


def test_the_rule_sees_each_way_of_running_git() -> None:
    assert git_runs("import git\n") == [1]
    assert git_runs("from git import Repo\n") == [1]
    assert git_runs("import subprocess\nsubprocess.run(['git', '-C', d, 'log'])\n") == [2]
    assert git_runs("import subprocess\nsubprocess.check_output(('/usr/bin/git', 'log'))\n") == [2]
    assert git_runs("import os\nos.system('git log')\n") == [2]
    assert git_runs("import subprocess\nsubprocess.run(['spatch', '--dir', 'git'])\n") == []
    assert git_runs("from reviewbot.git import Repo\n") == []


def test_git_runs_only_from_reviewbot_git() -> None:
    offenders = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT)
            if rel == THE_DOOR:
                continue
            offenders += [f"{rel}:{line}" for line in git_runs(path.read_text())]
    assert offenders == []
    assert git_runs((ROOT / THE_DOOR).read_text())  # the door itself is seen
