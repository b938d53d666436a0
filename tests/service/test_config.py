"""The TOML config: defaults, every section, and clear errors for bad keys."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from reviewbot.config import DEFAULT_PATHS, PolicyMode, ReplyTo, load_config
from reviewbot.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]


def test_defaults_are_muted_and_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REVIEWBOT_CONFIG", raising=False)
    monkeypatch.delenv("REVIEWBOT_BROKER_URL", raising=False)
    path = tmp_path / "c.toml"
    path.write_text('[[lists]]\nname = "mm"\ninbox_url = "https://lore.kernel.org/linux-mm/"\n')
    cfg = load_config(path)
    assert cfg.broker is None
    (lst,) = cfg.lists
    assert lst.inbox_url == "https://lore.kernel.org/linux-mm"
    assert lst.policy.mode is PolicyMode.MUTED
    assert lst.paths == DEFAULT_PATHS


def test_example_config_parses_with_every_key() -> None:
    cfg = load_config(ROOT / "deploy" / "reviewbot.example.toml")
    assert cfg.broker and cfg.broker.startswith("redis://")
    assert cfg.lists[0].policy.reply_to is ReplyTo.BOTH
    assert cfg.worker.time_limit < cfg.worker.visibility_timeout


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("databse = 'x'\n", "unknown key databse"),
        ("[watch]\ninterval = 'soon'\n", "watch.interval must be a number"),
        ("[[lists]]\nname='a'\ninbox_url='u'\n[lists.policy]\nmode='loud'\n", "must be one of"),
        ("[worker]\ntime_limit = 900\nvisibility_timeout = 900\n", "below worker.visibility"),
        ("[[lists]]\nname = 'a'\n", "needs a name and an inbox_url"),
        ("x = [", "config"),
        # values that were tracebacks, or a watcher that never waits
        ("[watch]\ninterval = nan\n", "watch.interval must be a finite number"),
        ("[watch]\ninterval = -1\n", "watch.interval must be a finite number"),
        ("[watch]\ninterval = 0\n", "watch.interval must be above 0"),
        ("[watch]\ngrace = inf\n", "watch.grace must be a finite number"),
        ("[smtp]\nport = 70000\n", "smtp.port 70000 is not a TCP port"),
        ("[worker]\nmax_attempts = -3\n", "worker.max_attempts must be between"),
        ("tree = 5\n", "tree must be a path"),
        ("smtp = 3\n", r"\[smtp\] must be a table"),
        ("[[lists]]\nname='a'\ninbox_url='http://x'\npolicy = 'loud'\n", "policy must be a table"),
        ("[[lists]]\nname='a'\ninbox_url='http://x'\nmaintainers = 'me'\n", "list of strings"),
        ("[limits]\nmax_patches = 1.5\n", "limits.max_patches must be an integer"),
        ("[outbox]\nlease = 'long'\n", "outbox.lease must be a number"),
        ("[outbox]\nlease = 10\n", "outbox.lease must be at least smtp.timeout"),
        ("[outbox]\nlease = nan\n", "outbox.lease must be a finite number"),
        ("[outbox]\nunconfirmed_after = 0\n", "outbox.unconfirmed_after must be above 0"),
        ("[outbox]\nleese = 300\n", "unknown key outbox.leese"),
        (
            "[[lists]]\nname='a'\ninbox_url='http://x'\n[lists.policy]\nmax_recipients = 1\n",
            "lists.a.policy.max_recipients must be at least 2",
        ),
    ],
)
def test_bad_config_is_a_usage_error(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(UsageError, match=message):
        load_config(path)


def test_environment_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWBOT_DATABASE_URL", "sqlite:///x.db")
    monkeypatch.setenv("REVIEWBOT_BROKER_URL", "redis://127.0.0.1:1/0")
    monkeypatch.delenv("REVIEWBOT_CONFIG", raising=False)
    cfg = load_config(None)
    assert (cfg.database, cfg.broker) == ("sqlite:///x.db", "redis://127.0.0.1:1/0")


def test_binary_config_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_bytes(b"\xff\xfe\x00junk")  # used to be a UnicodeDecodeError traceback
    with pytest.raises(UsageError, match="not UTF-8 text"):
        load_config(path)


def test_default_database_is_the_dashboards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # `reviewbot link`/`outbox` used ./reviewbot.db while `serve` used the XDG file.
    from reviewbot.storage.db import database_url

    monkeypatch.delenv("REVIEWBOT_DATABASE_URL", raising=False)
    monkeypatch.delenv("REVIEWBOT_CONFIG", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert load_config(None).database == database_url(None)
    path = tmp_path / "c.toml"
    path.write_text("database = 'sqlite:///elsewhere.db'\n")
    assert load_config(path).database == "sqlite:///elsewhere.db"


def test_example_config_documents_every_key() -> None:
    import dataclasses

    from reviewbot.config import (
        CommandsConfig,
        Config,
        LimitsConfig,
        ListConfig,
        ListPolicy,
        OutboxConfig,
        SmtpConfig,
        WatchConfig,
        WorkerConfig,
    )

    text = (ROOT / "deploy" / "reviewbot.example.toml").read_text()
    keys = set(re.findall(r"^([a-z_]+)\s*=", text, re.MULTILINE))
    for cls in (
        Config,
        ListConfig,
        ListPolicy,
        SmtpConfig,
        WatchConfig,
        WorkerConfig,
        LimitsConfig,
        CommandsConfig,
        OutboxConfig,
    ):
        for f in dataclasses.fields(cls):
            if f.name not in (
                "smtp",
                "watch",
                "worker",
                "lists",
                "policy",
                "limits",
                "commands",
                "outbox",
            ):
                assert f.name in keys, f"{cls.__name__}.{f.name} is not in the example config"


def test_inbox_url_that_is_no_url_is_a_usage_error(tmp_path: Path) -> None:
    # used to pass, then kill the watcher's first poll with a urllib traceback
    path = tmp_path / "c.toml"
    path.write_text("[[lists]]\nname = 'mm'\ninbox_url = 'lore/linux-mm'\n")
    with pytest.raises(UsageError, match=r"lists\.mm\.inbox_url 'lore/linux-mm' is not an http"):
        load_config(path)


def test_worker_with_an_unknown_broker_transport_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Celery used to die with two chained KeyError tracebacks.
    from reviewbot.cli import main

    monkeypatch.delenv("REVIEWBOT_BROKER_URL", raising=False)
    monkeypatch.delenv("REVIEWBOT_CONFIG", raising=False)
    path = tmp_path / "c.toml"
    path.write_text(f"broker = 'nonsense://x'\ndatabase = 'sqlite:///{tmp_path}/db'\n")
    assert main(["worker", "--config", str(path)]) == 2
    assert capsys.readouterr().err == (
        "reviewbot: broker 'nonsense://x': No such transport: nonsense\n"
    )
