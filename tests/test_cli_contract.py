"""The CLI's flags are a contract: these names must not change."""

from __future__ import annotations

import pytest

from reviewbot.cli import build_parser


def test_check_accepts_the_documented_flags() -> None:
    args = build_parser().parse_args(
        [
            "check",
            "--tree",
            "/t",
            "--base",
            "HEAD~1",
            "-v",
            "2",
            "--format",
            "json",
            "--outbox",
            "/o",
            "--send",
            "some@msg.id",
        ]
    )
    assert (args.tree, args.base, args.version, args.format) == ("/t", "HEAD~1", 2, "json")
    assert args.send and args.outbox == "/o" and args.target == "some@msg.id"


def test_sources_are_mutually_exclusive() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["check", "--mbox", "a", "--range", "A..B"])


def test_simulate_defaults_to_do_swap_page() -> None:
    args = build_parser().parse_args(["simulate", "--tree", "/t"])
    assert args.entry == "do_swap_page" and args.target is None
