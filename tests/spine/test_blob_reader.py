"""The batched blob reader answers None for what is not there, whatever the
name holds, and stays in step with git for the next read."""

from __future__ import annotations

import os
from pathlib import Path

from reviewbot.git import BlobReader, run_text

ENV = dict(
    os.environ,
    GIT_AUTHOR_NAME="t",
    GIT_AUTHOR_EMAIL="t@example.org",
    GIT_COMMITTER_NAME="t",
    GIT_COMMITTER_EMAIL="t@example.org",
)


def test_missing_names_with_spaces_read_as_none_and_the_reader_stays_in_step(
    tmp_path: Path,
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    run_text(repo, "init", "-q", env=ENV)
    (repo / "a.c").write_text("int a;\n")
    run_text(repo, "add", "a.c", env=ENV)
    run_text(repo, "commit", "-q", "-m", "a", env=ENV)
    reader = BlobReader(repo, ENV, limit=1 << 20)
    try:
        assert reader.read("HEAD", "a.c") == b"int a;\n"
        # "HEAD:mm/x.h (since 6.10) missing": more words than a real answer
        assert reader.read("HEAD", "mm/x.h (since") is None
        assert reader.read("HEAD", "two words") is None
        assert reader.read("HEAD", "no-such-file.c") is None
        assert reader.read("HEAD", "a.c") == b"int a;\n"
    finally:
        reader.close()
