"""deploy/: the units and the compose file run commands that exist, with flags that exist."""

from __future__ import annotations

import configparser
import re
import shlex
from pathlib import Path

import pytest

from reviewbot.cli import build_parser

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _parses(argv: list[str]) -> None:
    build_parser().parse_args(argv)  # SystemExit on an unknown command or flag


@pytest.mark.parametrize(
    "unit", sorted((DEPLOY / "systemd").glob("*.service")), ids=lambda p: p.name
)
def test_systemd_units_run_real_subcommands(unit: Path) -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(unit)
    exec_start = parser["Service"]["ExecStart"]
    argv = shlex.split(exec_start)
    assert argv[0].endswith("/reviewbot")
    _parses(argv[1:])
    assert "REVIEWBOT_CONFIG=" in parser["Service"]["Environment"]


def test_compose_has_every_service_and_valid_commands() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    services = re.findall(
        r"^  (\w+):\n", text.split("\nservices:\n", 1)[1].split("\nvolumes:")[0], re.MULTILINE
    )
    assert services == ["redis", "postgres", "watcher", "worker", "web"]
    for cmd in re.findall(r'command: \["reviewbot", (.*)\]', text):
        _parses([c.strip().strip('"') for c in cmd.split(",")])
