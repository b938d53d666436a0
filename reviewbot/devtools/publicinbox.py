"""A real public-inbox (v2, full index) served on loopback, for tests and benchmarks.

No mock of lore: messages are imported with public-inbox's own Perl
writer and served by ``public-inbox-httpd`` on a socket we bind first and
hand over systemd-style (LISTEN_FDS), so there is no free-port race.
Everything lives under the test's temporary directory (PI_CONFIG,
PI_EMERGENCY, the inbox itself).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

from reviewbot.git import run_text

_IMPORT_PL = r"""
use strict;
use PublicInbox::Config;
use PublicInbox::InboxWritable;
my ($name, $path) = @ARGV;
my $cfg = PublicInbox::Config->new($ENV{PI_CONFIG});
my $ibx = $cfg->lookup_name($name) or die "no inbox $name\n";
$ibx = PublicInbox::InboxWritable->new($ibx);
open(my $fh, '<', $path) or die "open $path: $!\n";
$ibx->import_mbox($fh, 'mboxrd');
"""


class PublicInbox:
    """One v2 inbox and, once ``serve()`` is called, its HTTP server."""

    def __init__(self, root: Path, name: str = "linux-mm", address: str = "linux-mm@kvack.org"):
        self.root = root
        self.name = name
        self.address = address
        self.inbox_dir = root / name
        self.config = root / "pi-config"
        self.proc: subprocess.Popen[bytes] | None = None
        self.port: int | None = None
        self.env = dict(
            os.environ,
            PI_CONFIG=str(self.config),
            PI_EMERGENCY=str(root / "pi-emergency"),
            HOME=str(root / "home"),
        )
        (root / "home").mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "public-inbox-init",
                "-V2",
                "-L",
                "full",
                name,
                str(self.inbox_dir),
                f"http://127.0.0.1/{name}",
                address,
            ],
            env=self.env,
            check=True,
            capture_output=True,
        )
        self._git_config(f"publicinbox.{name}.listid", address.replace("@", "."))
        self._git_config("publicinboxmda.spamcheck", "none")

    def _git_config(self, key: str, value: str) -> None:
        run_text(self.root, "config", "-f", str(self.config), key, value, env=self.env)

    # -- content ----------------------------------------------------------
    def import_mbox(self, mbox: Path | bytes) -> None:
        """Append every message of an mbox (a file or its bytes)."""
        if isinstance(mbox, bytes):
            path = self.root / f"import-{time.monotonic_ns()}.mbox"
            path.write_bytes(mbox)
        else:
            path = mbox
        subprocess.run(
            ["perl", "-e", _IMPORT_PL, self.name, str(path)],
            env=self.env,
            check=True,
            capture_output=True,
        )
        if self.proc is not None:  # let the server see new epochs
            self.proc.send_signal(signal.SIGHUP)

    # -- serving ----------------------------------------------------------
    @property
    def url(self) -> str:
        """Base URL of the inbox, e.g. http://127.0.0.1:PORT/linux-mm"""
        assert self.port is not None, "serve() first"
        return f"http://127.0.0.1:{self.port}/{self.name}"

    def serve(self, timeout: float = 15.0) -> str:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port or 0))
        sock.listen(64)
        self.port = sock.getsockname()[1]
        fd = sock.fileno()
        # $$ is the shell's pid, kept by exec: what LISTEN_PID must name.
        move = "" if fd == 3 else f" 3<&{fd} {fd}<&-"  # it may already be fd 3
        cmd = f"LISTEN_PID=$$ LISTEN_FDS=1 exec public-inbox-httpd -W0{move}"
        with open(self.root / "httpd.log", "ab") as log:
            self.proc = subprocess.Popen(
                ["bash", "-c", cmd],
                env=self.env,
                pass_fds=(fd,),
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        sock.close()
        deadline = time.monotonic() + timeout
        probe = f"{self.url}/_/text/config/raw"
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(probe, timeout=2) as resp:
                    if resp.status == 200:
                        return self.url
            except (urllib.error.URLError, ConnectionError, OSError):
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        text = (self.root / "httpd.log").read_text(errors="replace")
        raise RuntimeError(f"public-inbox-httpd did not start: {text[-2000:]}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def b4_env(self, cache_dir: Path) -> dict[str, str]:
        """Environment that points b4 at this server, attestation off, own cache."""
        assert self.port is not None, "serve() first"
        settings = {
            "b4.midmask": f"{self.url}/%s",
            "b4.linkmask": f"{self.url}/%s",
            "b4.attestation-policy": "off",
            "b4.cache-expire": "0",
        }
        env = dict(os.environ, XDG_CACHE_HOME=str(cache_dir), GIT_CONFIG_COUNT=str(len(settings)))
        for i, (k, v) in enumerate(settings.items()):
            env[f"GIT_CONFIG_KEY_{i}"] = k
            env[f"GIT_CONFIG_VALUE_{i}"] = v
        return env
