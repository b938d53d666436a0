"""The service configuration (``reviewbot.toml``): lists, paths, policy, SMTP, broker, database.

The watcher, the workers and the outbox sender all run from one file, so
that a deployment is described in one place (``deploy/reviewbot.example.toml``
documents every key).  Command-line flags and the environment
(``REVIEWBOT_CONFIG``, ``REVIEWBOT_DATABASE_URL``, ``REVIEWBOT_BROKER_URL``)
override it.  Every list is muted unless it opts in: a new deployment never
mails anyone by surprise.
"""

from __future__ import annotations

import enum
import math
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from reviewbot.errors import UsageError

# The swap/mm set: patches touching none of these are not reviewed.
DEFAULT_PATHS: tuple[str, ...] = (
    "mm/memory.c",
    "mm/swap*.c",
    "mm/swap*.h",
    "mm/swapfile.c",
    "mm/page_io.c",
    "mm/shmem.c",
    "mm/internal.h",
    "mm/zswap.c",
    "mm/vmscan.c",
    "mm/madvise.c",
    "mm/mprotect.c",  # change_pte_range(), a simulator entry
    "mm/rmap.c",  # try_to_unmap_one() and its batches
    "include/linux/swap*.h",
    "include/linux/pgtable.h",
    "include/linux/mm.h",
)


class PolicyMode(enum.Enum):
    MUTED = "muted"  # review and record, never mail
    HOLD = "hold"  # queue for a maintainer's approval (reviewbot outbox approve)
    SEND = "send"  # send after the delay


class CommandsDkim(enum.Enum):
    REQUIRED = "required"  # a command counts only from a DKIM-authenticated From:
    OFF = "off"  # From: is trusted unverified (anyone can write it)


class ReplyTo(enum.Enum):
    AUTHOR = "author"
    LIST = "list"
    BOTH = "both"  # To: the author, Cc: the list


@dataclass(frozen=True)
class ListPolicy:
    mode: PolicyMode = PolicyMode.MUTED
    reply_to: ReplyTo = ReplyTo.BOTH
    delay: float = 0.0  # seconds between the review and the first send attempt
    rate_per_hour: int = 30  # replies per list per hour
    max_series_size: int = 30  # larger series are reviewed but never mailed
    send_clean: bool = False  # also mail "no findings" replies
    max_commands: int = 10  # "reviewbot: invalid" lines counted per mail, at most
    max_recipients: int = 20  # addresses per reply (list, author, thread), at most
    commands_dkim: CommandsDkim = CommandsDkim.REQUIRED  # how a command's sender is believed


@dataclass(frozen=True)
class ListConfig:
    name: str
    inbox_url: str  # public-inbox base URL, e.g. https://lore.kernel.org/linux-mm
    address: str = ""  # the list's posting address (Cc of replies)
    paths: tuple[str, ...] = DEFAULT_PATHS
    policy: ListPolicy = ListPolicy()
    # Who may give reviewer commands for any series of the list (addresses);
    # a series' own author may for that series.
    maintainers: tuple[str, ...] = ()
    reviewers: tuple[str, ...] = ()


@dataclass(frozen=True)
class SmtpConfig:
    host: str = "127.0.0.1"
    port: int = 25
    sender: str = "reviewbot <reviewbot@localhost>"
    timeout: float = 30.0
    starttls: bool = False
    user: str = ""
    password_file: str = ""  # read at send time, never stored in the config


@dataclass(frozen=True)
class OutboxConfig:
    # a row claimed this long ago and still "sending" was never transmitted
    # (DATA starts only after the row is "delivering"): it is sent again
    lease: float = 300.0
    # a row "delivering" (DATA may have gone out) whose copy did not come back
    # from the list within this long becomes "unconfirmed", for a human
    unconfirmed_after: float = 86400.0


@dataclass(frozen=True)
class WatchConfig:
    interval: float = 60.0  # seconds between polls
    grace: float = 3600.0  # an incomplete series is reviewed after this long
    link_window_days: float = 120.0  # subject+author linking looks back this far
    backoff_max: float = 900.0  # longest wait after inbox errors
    requeue_after: float = 1800.0  # re-enqueue a review not finished by then
    backfill: bool = False  # first poll reads the whole archive instead of starting now


@dataclass(frozen=True)
class WorkerConfig:
    soft_time_limit: float = 600.0
    time_limit: float = 660.0  # must stay below visibility_timeout
    visibility_timeout: float = 900.0
    max_attempts: int = 5
    retry_backoff: float = 10.0
    restore_interval: float = 60.0  # kombu's scan for unacked messages of dead workers


@dataclass(frozen=True)
class CommandsConfig:
    """How the sender of a reviewer command is authenticated (DKIM)."""

    # A file of pinned DKIM keys, "selector._domainkey.domain. <TXT record>" a
    # line: names found there are answered from it, never from DNS; "" = DNS only.
    dkim_keys: str = ""
    dns_timeout: float = 5.0  # seconds per DKIM key lookup in DNS


@dataclass(frozen=True)
class LimitsConfig:
    max_patches: int = 1000  # larger series are said too large and not reviewed
    max_blob_bytes: int = 64 * 1024 * 1024  # a file bigger than this is not read whole
    review_timeout: float = 1800.0  # seconds, a review run by the watcher itself (no broker)
    review_memory_mb: int = 4096  # address space of that review's process


def limit_from_env(name: str, default: int) -> int:
    """``REVIEWBOT_<NAME>`` for commands run without a config file (``check``)."""
    value = os.environ.get(f"REVIEWBOT_{name.upper()}", "")
    return int(value) if value.isascii() and value.isdecimal() else default


@dataclass(frozen=True)
class Config:
    database: str = "sqlite:///reviewbot.db"
    broker: str | None = None  # None: every task runs in-process
    tree: Path = Path(".")
    state_dir: Path = Path("state")  # inbox mirrors
    message_domain: str = "reviewbot.localhost"  # Message-Ids of our own mails
    pipeline: str = ""  # module:object of a pipeline adapter; empty = the real one
    simulate: bool = True
    smtp: SmtpConfig = SmtpConfig()
    outbox: OutboxConfig = OutboxConfig()
    watch: WatchConfig = WatchConfig()
    worker: WorkerConfig = WorkerConfig()
    limits: LimitsConfig = LimitsConfig()
    commands: CommandsConfig = CommandsConfig()
    lists: tuple[ListConfig, ...] = field(default_factory=tuple)

    def list_named(self, name: str | None) -> ListConfig | None:
        return next((lst for lst in self.lists if lst.name == name), None)


def _build(cls: type[Any], data: dict[str, Any], where: str) -> Any:
    """Fill a frozen dataclass from a TOML table, refusing unknown keys."""
    if not isinstance(data, dict):
        raise UsageError(f"config: {where.rstrip('.') or 'top level'} must be a table")
    known = {f.name: f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in known:
            raise UsageError(f"config: unknown key {where}{key}")
        default = getattr(cls(), key)
        kwargs[key] = _coerce(default, value, f"{where}{key}")
    return cls(**kwargs)


def _coerce(default: Any, value: Any, where: str) -> Any:
    if isinstance(default, enum.Enum):
        try:
            return type(default)(value)
        except ValueError:
            choices = ", ".join(str(m.value) for m in type(default))
            raise UsageError(f"config: {where} must be one of {choices}") from None
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise UsageError(f"config: {where} must be true or false")
        return value
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise UsageError(f"config: {where} must be a number")
        # TOML has nan and inf; no setting here is negative, infinite or nan
        if not math.isfinite(value) or value < 0 or value > 1e12:
            raise UsageError(f"config: {where} must be a finite number >= 0")
        return float(value)
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise UsageError(f"config: {where} must be an integer")
        if not 0 <= value <= 2**31:
            raise UsageError(f"config: {where} must be between 0 and {2**31}")
        return value
    if isinstance(default, Path):
        if not isinstance(value, str) or not value or "\0" in value:
            raise UsageError(f"config: {where} must be a path")
        return Path(value)
    if isinstance(default, tuple):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise UsageError(f"config: {where} must be a list of strings")
        return tuple(value)
    if default is None or isinstance(default, str):
        if not isinstance(value, str):
            raise UsageError(f"config: {where} must be a string")
        return value
    raise UsageError(f"config: {where} has an unexpected value")


def parse_config(data: dict[str, Any]) -> Config:
    data = dict(data)
    sections: dict[str, Any] = {}
    for name, cls in (
        ("smtp", SmtpConfig),
        ("outbox", OutboxConfig),
        ("watch", WatchConfig),
        ("worker", WorkerConfig),
        ("limits", LimitsConfig),
        ("commands", CommandsConfig),
    ):
        table = data.pop(name, {})
        if not isinstance(table, dict):
            raise UsageError(f"config: [{name}] must be a table")
        sections[name] = _build(cls, table, f"{name}.")
    lists = []
    for i, raw_entry in enumerate(data.pop("lists", [])):
        if (
            not isinstance(raw_entry, dict)
            or "name" not in raw_entry
            or "inbox_url" not in raw_entry
        ):
            raise UsageError(f"config: [[lists]] #{i + 1} needs a name and an inbox_url")
        entry = dict(raw_entry)
        policy = _build(ListPolicy, entry.pop("policy", {}), f"lists.{entry['name']}.policy.")
        if policy.max_recipients < 2:
            # the author and the list are always mailed: a smaller cap would be a lie
            raise UsageError(
                f"config: lists.{entry['name']}.policy.max_recipients must be at least 2 "
                "(the author and the list)"
            )
        name, url = entry.pop("name"), entry.pop("inbox_url")
        if not isinstance(name, str) or not isinstance(url, str):
            raise UsageError(f"config: [[lists]] #{i + 1}: name and inbox_url are strings")
        if not url.startswith(("http://", "https://", "file://")):
            # the watcher would die on it with a urllib traceback at its first poll
            raise UsageError(f"config: lists.{name}.inbox_url {url!r} is not an http(s) URL")
        base = ListConfig(name=name, inbox_url=url.rstrip("/"), policy=policy)
        for key, value in entry.items():
            if key not in ("address", "paths", "maintainers", "reviewers"):
                raise UsageError(f"config: unknown key lists.{name}.{key}")
            base = replace(base, **{key: _coerce(getattr(base, key), value, f"lists.{key}")})
        lists.append(base)
    if len({lst.name for lst in lists}) != len(lists):
        raise UsageError("config: two [[lists]] have the same name")
    top = _build(Config, data, "")
    cfg: Config = replace(top, lists=tuple(lists), **sections)
    if not 0 < cfg.smtp.port < 65536:
        raise UsageError(f"config: smtp.port {cfg.smtp.port} is not a TCP port")
    if cfg.outbox.lease < max(cfg.smtp.timeout, 1.0):
        # shorter, a live sender's claim would be taken back while it still talks to SMTP
        raise UsageError("config: outbox.lease must be at least smtp.timeout (and 1 second)")
    if cfg.outbox.unconfirmed_after <= 0:
        raise UsageError("config: outbox.unconfirmed_after must be above 0")
    if cfg.watch.interval <= 0:
        raise UsageError("config: watch.interval must be above 0")
    if cfg.worker.time_limit >= cfg.worker.visibility_timeout:
        # A task running past the visibility timeout is delivered again while still running.
        raise UsageError("config: worker.time_limit must be below worker.visibility_timeout")
    if not 0 < cfg.commands.dns_timeout <= 60:
        raise UsageError("config: commands.dns_timeout must be above 0 and at most 60 seconds")
    if "\0" in cfg.commands.dkim_keys:
        raise UsageError("config: commands.dkim_keys must be a path")
    if cfg.worker.soft_time_limit > cfg.worker.time_limit:
        raise UsageError("config: worker.soft_time_limit must not exceed worker.time_limit")
    return cfg


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "__dataclass_fields__"):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    return value


def config_to_dict(cfg: Config) -> dict[str, Any]:
    """The config as parse_config reads it back (a review subprocess gets it as JSON)."""
    data = _plain(cfg)
    if data["broker"] is None:
        del data["broker"]
    return dict(data)


def load_config(path: str | Path | None = None) -> Config:
    """Read the config file (or ``$REVIEWBOT_CONFIG``), then apply the environment."""
    path = path or os.environ.get("REVIEWBOT_CONFIG")
    data: dict[str, Any] = {}
    if path:
        try:
            with open(path, "rb") as fh:
                data = tomllib.load(fh)
        except OSError as exc:
            raise UsageError(f"cannot read config {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"config {path}: {exc}") from None
        except UnicodeDecodeError:
            raise UsageError(f"config {path}: not UTF-8 text (a TOML file?)") from None
    cfg = parse_config(data)
    if url := os.environ.get("REVIEWBOT_DATABASE_URL"):
        cfg = replace(cfg, database=url)
    elif "database" not in data:
        # The same default as `check --database` and `serve` (the XDG file), so
        # that `link` or `outbox` without a config see what the dashboard shows.
        from reviewbot.storage.db import default_sqlite_path

        cfg = replace(cfg, database=f"sqlite:///{default_sqlite_path()}")
    if broker := os.environ.get("REVIEWBOT_BROKER_URL"):
        cfg = replace(cfg, broker=broker)
    return cfg
