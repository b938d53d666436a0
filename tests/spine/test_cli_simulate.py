"""``reviewbot simulate`` takes what ``check`` takes: a series with a patch missing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from reviewbot.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sample_git(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from reviewbot.sample import build_sample_tree

    dest = tmp_path_factory.mktemp("git") / "tree"
    build_sample_tree(dest)
    return dest


def test_a_series_with_a_missing_patch_is_simulated_as_far_as_it_lands(
    sample_git: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mails = re.split(rb"(?m)^(?=From [0-9a-f]{40} )", (ROOT / "sample/series/v2.mbox").read_bytes())
    kept = [m for m in mails if m and b"Subject: [PATCH v2 2/3]" not in m]
    assert len(kept) == len(mails) - 2  # the empty head, and patch 2
    path = tmp_path / "v2-without-2.mbox"
    path.write_bytes(b"".join(kept))
    argv = ["simulate", "--tree", str(sample_git), "--mbox", str(path), "--format", "json"]
    argv += ["--scenario", "table-freed", "--order", "2", "--index", "1"]
    assert main(argv) in (0, 1)
    out = json.loads(capsys.readouterr().out)
    assert [r["revision"] for r in out["runs"]] == ["base", "v2"]
    assert "v2: patch 2/3 missing (never received): simulated without it" in out["notes"]


def test_database_is_said_to_record_nothing(
    sample_git: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """simulate accepts --database (a flag shared with check) but records
    nothing: it says so rather than letting the user believe it was stored."""
    db = tmp_path / "r.db"
    argv = ["simulate", "--tree", str(sample_git), "--scenario", "extra-ref", "--database"]
    rc = main([*argv, f"sqlite:///{db}", "--order", "0", "--index", "0"])
    err = capsys.readouterr().err
    assert rc in (0, 1, 3), err
    assert "--database: simulate records nothing" in err
    assert not db.exists()
