"""What a new user meets: commands run as printed, nothing written into the
kernel tree, quiet pipes, NO_COLOR, help texts, safe sample mail, a README
that shows the real output."""

from __future__ import annotations

import argparse
import email.utils
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from reviewbot.cli import build_parser
from reviewbot.commands.check import use_colour
from tests.spine.conftest import Commit, git, make_series, replace_in
from tests.spine.test_cli_check import reviewbot

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_SERIES = ROOT / "sample" / "series"


@pytest.fixture
def user(mini_tree: Path, tmp_path: Path) -> Path:
    """A user's directory holding their kernel tree ("tree") and a series
    with a finding ("series.mbox"), both named relative to it."""
    mbox = make_series(
        mini_tree,
        [Commit("mm: demo: count two", replace_in("mm/memory.c", "int nr = 1;", "int nr = 2; "))],
    )
    (mini_tree.parent / "series.mbox").write_bytes(mbox)
    return mini_tree.parent


def _state_env(tmp_path: Path) -> dict[str, str]:
    return {"XDG_STATE_HOME": str(tmp_path / "state"), "REVIEWBOT_STATE_DIR": ""}


def test_the_reproduce_line_runs_as_printed(user: Path, tmp_path: Path) -> None:
    env = _state_env(tmp_path)
    out = reviewbot(
        "check", "--tree", "tree", "--mbox", "series.mbox", "--format", "email", cwd=user, env=env
    )
    assert out.returncode == 0, out.stderr
    (line,) = [ln for ln in out.stdout.splitlines() if ln.startswith("Reproduce: ")]
    argv = shlex.split(line.removeprefix("Reproduce: "))
    assert argv[:4] == ["reviewbot", "check", "--tree", "tree"] and "series.mbox" in argv
    again = reviewbot(*argv[1:], "--format", "email", cwd=user, env=env)
    assert again.returncode == out.returncode
    assert again.stdout == out.stdout


def test_the_default_outbox_is_a_state_directory_printed_once(user: Path, tmp_path: Path) -> None:
    env = _state_env(tmp_path)
    before = git(user / "tree", "status", "--porcelain", "--ignored")
    out = reviewbot(
        "check", "--mbox", "../series.mbox", "--format", "email", cwd=user / "tree", env=env
    )
    assert out.returncode == 0, out.stderr
    outbox = tmp_path / "state" / "reviewbot" / "outbox"
    assert len(list((outbox / "new").iterdir())) == 1
    assert out.stderr.count(str(outbox)) == 1
    # nothing in the kernel tree: no ./outbox, status unchanged
    assert git(user / "tree", "status", "--porcelain", "--ignored") == before
    assert not (user / "tree" / "outbox").exists()


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_text_and_json_write_no_outbox_unless_asked(user: Path, tmp_path: Path, fmt: str) -> None:
    env = _state_env(tmp_path)
    out = reviewbot(
        "check", "--tree", "tree", "--mbox", "series.mbox", "--format", fmt, cwd=user, env=env
    )
    assert out.returncode == 0, out.stderr
    assert not (tmp_path / "state").exists() and not (user / "outbox").exists()
    asked = reviewbot(
        "check",
        "--tree",
        "tree",
        "--mbox",
        "series.mbox",
        "--format",
        fmt,
        "--outbox",
        str(tmp_path / "o"),
        cwd=user,
        env=env,
    )
    assert asked.returncode == 0 and len(list((tmp_path / "o" / "new").iterdir())) == 1


def test_a_closed_pipe_ends_quietly(user: Path, tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "reviewbot", "check", "--tree", "tree", "--mbox", "series.mbox"],
        cwd=user,
        env=dict(os.environ, PYTHONPATH=str(ROOT), **_state_env(tmp_path)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # `| head` that read nothing and left
    err = proc.stderr.read().decode()
    proc.stderr.close()
    assert proc.wait() == 141
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err


def test_no_color(monkeypatch: pytest.MonkeyPatch) -> None:
    class Tty:
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stdout", Tty())
    monkeypatch.delenv("NO_COLOR", raising=False)
    assert use_colour()
    monkeypatch.setenv("NO_COLOR", "1")
    assert not use_colour()


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_every_option_has_help_with_its_default() -> None:
    for name, sub in _subparsers(build_parser()).items():
        # the series' source: one of MSGID|URL, --mbox, --range; no default to say
        sources = {a for g in sub._mutually_exclusive_groups for a in g._group_actions}
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction) or action in sources:
                continue
            what = f"{name} {'/'.join(action.option_strings) or action.dest}"
            assert action.help, f"{what}: no help text"
            if action.option_strings and action.default not in (None, False):
                assert f"default: {action.default}" in action.help, f"{what}: default unsaid"
            elif action.option_strings:
                assert "default" in action.help, f"{what}: default unsaid"


def test_simulate_help_lists_scenarios_and_serve_help_names_the_token() -> None:
    from sim.scenarios import all_scenarios

    out = reviewbot("simulate", "--help")
    assert out.returncode == 0
    listed = out.stdout.split("scenarios:\n", 1)[1].split()
    assert listed == sorted(all_scenarios()) and "table-freed" in listed
    serve = reviewbot("serve", "--help")
    assert "REVIEWBOT_WEB_TOKEN" in " ".join(serve.stdout.split())


def test_the_sample_mails_only_example_org() -> None:
    from reviewbot import mail

    for mbox in sorted(SAMPLE_SERIES.glob("*.mbox")):
        for msg in mail.split_mbox(mbox.read_bytes()):
            for header in ("From", "To", "Cc", "Reply-To"):
                for _, addr in email.utils.getaddresses([str(msg.get(header) or "")]):
                    if addr:
                        assert addr.endswith("example.org"), f"{mbox.name}: {header} {addr}"
            assert "kvack" not in str(msg.get("List-Id") or "")


def _readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    block = text.split("the patch.\n\n", 1)[1].split("\n\n(An excerpt", 1)[0]
    return "\n".join(ln[4:] for ln in block.splitlines())


def test_the_readme_example_reply_is_the_demo_output(tmp_path: Path) -> None:
    from reviewbot.sample import build_sample_tree

    # the demo's own command, run where `make demo` runs it
    build_sample_tree(tmp_path / ".cache" / "sample-tree")
    (tmp_path / "sample" / "series").mkdir(parents=True)
    shutil.copy(SAMPLE_SERIES / "v2.mbox", tmp_path / "sample" / "series" / "v2.mbox")
    makefile = (ROOT / "Makefile").read_text()
    assert "check --tree $(SAMPLE_TREE) --mbox sample/series/v2.mbox --format email" in makefile
    out = reviewbot(
        "check",
        "--tree",
        ".cache/sample-tree",
        "--mbox",
        "sample/series/v2.mbox",
        "--format",
        "email",
        "--outbox",
        str(tmp_path / "o"),
        cwd=tmp_path,
    )
    assert out.returncode == 1, out.stderr
    example = _readme_example()
    assert example.startswith("> +\t\tfolio_ptep = vmf->pte - idx;")
    assert example in out.stdout.replace("\r\n", "\n")


def test_the_readme_apt_line_updates_the_package_lists_first() -> None:
    text = (ROOT / "README.md").read_text()
    (line,) = [ln for ln in text.splitlines() if "apt-get install" in ln and ln.startswith("    ")]
    assert re.match(r"\s+apt-get update && apt-get install -y ", line)
    makefile = (ROOT / "Makefile").read_text()
    assert "apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install" in makefile
    quick = text.split("## Quick start", 1)[1].split("## Reviewing", 1)[0]
    assert "downloads and installs" in quick and "PyPI" in quick
