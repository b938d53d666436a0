"""Unpack Debian's linux-source-6.12 tarball into a scratch git repository.

Used by the kernel_tree tests and the benchmarks.  The tarball's name moves
with Debian's stable updates (6.12.95, 6.12.117, ...), so it is found by
pattern under /usr/src, never by a pinned name.
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
import tarfile
from pathlib import Path

from reviewbot.git import run_text


def find_tarball(src_dir: str = "/usr/src") -> Path | None:
    candidates = sorted(glob.glob(os.path.join(src_dir, "linux-source-6.12*.tar.*")))
    return Path(candidates[-1]) if candidates else None


def build(dest: Path) -> int:
    tarball = find_tarball()
    if tarball is None:
        print(
            "kernel_tree: no /usr/src/linux-source-6.12*.tar.* (apt-get install linux-source-6.12)",
            file=sys.stderr,
        )
        return 2
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(dest.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    with tarfile.open(tarball) as tf:
        tf.extractall(tmp, filter="data")
    (top,) = [p for p in tmp.iterdir() if p.is_dir()]
    top.rename(dest)
    shutil.rmtree(tmp)
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="reviewbot",
        GIT_AUTHOR_EMAIL="reviewbot@localhost",
        GIT_COMMITTER_NAME="reviewbot",
        GIT_COMMITTER_EMAIL="reviewbot@localhost",
        GIT_AUTHOR_DATE="2024-11-17T00:00:00Z",
        GIT_COMMITTER_DATE="2024-11-17T00:00:00Z",
    )

    def git(*args: str) -> None:
        run_text(dest, *args, env=env)

    git("init", "-q", "-b", "master")
    git("add", "-A", "-f", ".")  # Debian's .gitignore ignores the top level
    git("commit", "-q", "-m", f"Linux 6.12 from {tarball.name}")
    (dest / ".git" / "reviewbot-ready").write_text(tarball.name + "\n")
    print(f"kernel_tree: {dest} from {tarball.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(build(Path(sys.argv[1] if len(sys.argv) > 1 else ".cache/linux-6.12")))
