"""``reviewbot serve`` as a user runs it: a real process on a loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from reviewbot.storage.db import dispose_engine, open_db
from reviewbot.storage.record import record_review
from tests.storage.factory import sample_review

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["XDG_DATA_HOME"] = str(tmp_path / "xdg")
    env.pop("REVIEWBOT_DATABASE_URL", None)
    env["PYTHONPATH"] = str(ROOT)
    return env


def test_serve_shows_the_recorded_series(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    with open_db(url)() as s:
        record_review(s, sample_review(1))
        s.commit()
    dispose_engine(url)
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "reviewbot", "serve", "--port", str(port), "--database", url],
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    body = r.read().decode()
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
                assert time.monotonic() < deadline, "server did not come up"
                time.sleep(0.1)
        assert "mm: swap: map large folios found in the swap cache in one fault" in body
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout:
            proc.stdout.close()


def test_serve_on_a_busy_port_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "reviewbot",
                "serve",
                "--port",
                str(port),
                "--database",
                f"sqlite:///{tmp_path / 'r.db'}",
            ],
            env=_env(tmp_path),
            check=False,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
        )
    assert done.returncode == 2
    assert "cannot listen on 127.0.0.1" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_with_a_bad_database_is_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "reviewbot", "serve", "--port", "1", "--database", "nonsense"],
        env=_env(tmp_path),
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 2 and "bad database URL" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_on_a_port_out_of_range_is_one_line(tmp_path: Path) -> None:
    # 99999 used to be wrapped to 34463 by getaddrinfo() and served there.
    done = subprocess.run(
        [sys.executable, "-m", "reviewbot", "serve", "--port", "99999"],
        env=_env(tmp_path),
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 2
    assert done.stderr == "reviewbot: --port 99999: not a TCP port (0 to 65535)\n"


def test_serve_reads_the_database_of_reviewbot_config(tmp_path: Path) -> None:
    # The systemd unit gives the web app only REVIEWBOT_CONFIG: serve used to
    # ignore it and show the (empty) XDG SQLite file instead of the watcher's.
    config = tmp_path / "reviewbot.toml"
    config.write_text('database = "nonsense"\n')
    env = _env(tmp_path)
    env["REVIEWBOT_CONFIG"] = str(config)
    done = subprocess.run(
        [sys.executable, "-m", "reviewbot", "serve", "--port", "1"],
        env=env,
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 2 and "'nonsense'" in done.stderr
    assert "Traceback" not in done.stderr
