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


def test_a_usage_error_is_one_line_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    # psycopg2's "connection refused" spans three lines; the contract is one.
    from reviewbot.cli import main

    url = "postgresql+psycopg2://nobody@127.0.0.1:1/none"
    assert main(["link", "--database", url, "a@b", "c@d"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"reviewbot: cannot open database {url}: ")
    assert err.count("\n") == 1 and "Connection refused" in err
