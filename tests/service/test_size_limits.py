"""Size and scale: files over the limit are refused unread, one git reader per
review, and a series over the maximum is said too large instead of reviewed."""

from __future__ import annotations

import base64
import dataclasses
import os
import resource
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from sqlalchemy import select

from reviewbot.config import LimitsConfig
from reviewbot.devtools.mails import series_mails
from reviewbot.git import BlobReader, BlobTooLarge, Overlay, Repo, binary_result_sizes, run_text
from reviewbot.storage.models import ReviewRow
from reviewbot.storage.sessions import sessions_for
from reviewbot.watch.mail import parse_mail
from reviewbot.watch.series import group_pending, store_message
from tests.service.conftest import make_config
from tests.service.fakepipe import FakePipeline
from workers import jobs

ROOT = Path(__file__).resolve().parents[2]
GB = 1024**3


def _git(repo: Path, *args: str, data: bytes | None = None) -> str:
    env = dict(os.environ, GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@example.org")
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    return run_text(repo, *args, input=data, env=env)


@pytest.fixture
def small_repo(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "mm").mkdir()
    (repo / "mm" / "small.c").write_text("int f(void)\n{\n\treturn 0;\n}\n")
    (repo / "mm" / "big.bin").write_bytes(os.urandom(3 * 1024 * 1024))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    return repo


def test_the_batch_reader_refuses_big_blobs_unread_and_stays_in_step(small_repo: Path) -> None:
    reader = BlobReader(small_repo, dict(os.environ), limit=1024 * 1024)
    try:
        assert reader.read("HEAD", "mm/small.c") == (small_repo / "mm" / "small.c").read_bytes()
        with pytest.raises(BlobTooLarge) as exc:
            reader.read("HEAD", "mm/big.bin")
        assert exc.value.size == 3 * 1024 * 1024
        assert reader.read("HEAD", "mm/none.c") is None
        assert reader.read("HEAD", "mm") is None  # a tree, not a blob
        assert reader.read("HEAD", "mm/no such.c") is None  # "HEAD:mm/no such.c missing"
        assert reader.read("HEAD", "mm/small.c").startswith(b"int f")  # still in step
    finally:
        reader.close()


def test_a_review_reads_files_through_one_git_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reviewbot.pipeline import fetch, review_revision
    from reviewbot.sample import build_sample_tree, series_mbox

    tree = tmp_path / "tree"
    build_sample_tree(tree)
    got = fetch.run(fetch.FetchRequest(mbox=Path(series_mbox(2))))
    calls: list[list[str]] = []
    real_popen = subprocess.Popen.__init__

    def counting(self: subprocess.Popen[bytes], args: list[str], *a: object, **kw: object) -> None:
        calls.append([str(x) for x in args])
        real_popen(self, args, *a, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(subprocess.Popen, "__init__", counting)
    review = review_revision(got.series, got.revision, tree, base=got.base, simulate=False)
    assert review.findings  # the sample's known bugs: the files were read
    cat_files = [c for c in calls if "cat-file" in c]
    assert cat_files == [["git", "-C", str(tree.resolve()), "cat-file", "--batch-command"]]


def _zeros_literal(size: int) -> list[str]:
    """A GIT binary patch literal of ``size`` zero bytes, deflated as git does."""
    deflate = zlib.compressobj(9)
    chunk = bytes(16 * 1024 * 1024)
    parts = [deflate.compress(chunk) for _ in range(size // len(chunk))]
    parts += [deflate.compress(bytes(size % len(chunk))), deflate.flush()]
    data = b"".join(parts)
    lines = []
    for i in range(0, len(data), 52):
        piece = data[i : i + 52]
        n = len(piece)
        letter = chr(ord("A") + n - 1) if n <= 26 else chr(ord("a") + n - 27)
        lines.append(letter + base64.b85encode(piece, pad=True).decode())
    return lines


@pytest.mark.slow
def test_binary_patches_growing_files_to_gigabytes_are_refused_in_bounded_memory(
    small_repo: Path, tmp_path: Path
) -> None:
    size = int(1.9 * GB)
    base = _git(small_repo, "rev-parse", "HEAD").strip()
    literal = "\n".join(_zeros_literal(size))
    diffs = []
    for name in ("huge1.bin", "huge2.bin"):
        diffs.append(
            f"diff --git a/mm/{name} b/mm/{name}\nnew file mode 100644\nindex 0000000..1111111\n"
            f"GIT binary patch\nliteral {size}\n{literal}\n\nliteral 0\nHcmV?d00001\n\n"
        )
    assert [s for _, s in binary_result_sizes("".join(diffs))] == [size, size]
    mail = (
        "From: Eve <eve@example.org>\nTo: linux-mm@kvack.org\n"
        "Subject: [PATCH] mm: add two blobs\nDate: Fri, 20 Nov 2026 10:00:00 +0000\n"
        "Message-Id: <huge-1@example.org>\n\nBig.\n\nSigned-off-by: Eve <eve@example.org>\n"
        "---\n" + "".join(diffs) + f"base-commit: {base}\n"
    )
    mbox = tmp_path / "huge.mbox"
    mbox.write_text("From mboxrd@z Thu Jan  1 00:00:00 1970\n" + mail)
    env = dict(os.environ, PYTHONPATH=str(ROOT))

    def limit_memory() -> None:  # 1.5 GB of address space for reviewbot and its git
        resource.setrlimit(resource.RLIMIT_AS, (1536 * 1024 * 1024, 1536 * 1024 * 1024))

    argv = [sys.executable, "-m", "reviewbot", "check", "--tree", str(small_repo)]
    argv += ["--mbox", str(mbox), "--format", "json", "--no-simulate"]
    argv += ["--outbox", str(tmp_path / "out")]
    proc = subprocess.run(
        argv,
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=limit_memory,
        check=False,
    )
    assert proc.returncode in (0, 1), proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert "over the limit" in proc.stdout and str(size) in proc.stdout


def test_series_over_the_maximum_is_said_too_large(tmp_path: Path) -> None:
    from reviewbot.sample import build_sample_tree, series_mbox

    tree = tmp_path / "tree"
    build_sample_tree(tree)
    env = dict(os.environ, PYTHONPATH=str(ROOT), REVIEWBOT_MAX_PATCHES="2")
    argv = [sys.executable, "-m", "reviewbot", "check", "--tree", str(tree)]
    argv += ["--mbox", series_mbox(1), "--outbox", str(tmp_path / "out")]
    proc = subprocess.run(
        argv,
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "reviewbot: v1 has 3 patches, over the maximum of 2 ($REVIEWBOT_MAX_PATCHES): "
        "too large, not reviewed"
    ]


def test_the_service_says_a_series_is_too_large_and_runs_nothing(
    tmp_path: Path, db_url: str
) -> None:
    cfg = make_config(tmp_path, db_url)
    cfg = dataclasses.replace(cfg, limits=LimitsConfig(max_patches=2))
    sessions = sessions_for(cfg.database)
    lst = cfg.lists[0]
    with sessions.begin() as s:
        for m in series_mails("big", n=3, flagged=(1, 2, 3)):
            store_message(s, lst.inbox_url, m.encode(), parse_mail(m.encode()))
        (rid,) = group_pending(s, lst, series_mails_date(), 3600, 120)

    class Exploding(FakePipeline):
        def review(self, *a: object, **kw: object) -> object:  # type: ignore[override]
            raise AssertionError("a series over the maximum must not be reviewed")

    assert jobs.review_revision(cfg, sessions, Exploding(), rid) is jobs.JobResult.REVIEWED
    with sessions() as s:
        review = s.scalars(select(ReviewRow)).one()
        assert review.findings == [] and any("too large" in n for n in review.notes)


def series_mails_date() -> object:
    import datetime as dt

    return dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def test_overlay_names_files_it_would_not_read(small_repo: Path) -> None:
    os.environ["REVIEWBOT_MAX_BLOB_BYTES"] = str(1024 * 1024)
    try:
        with Overlay(Repo(small_repo)) as overlay:
            assert overlay.read_blob("HEAD", "mm/big.bin") is None
            assert overlay.too_large == {"mm/big.bin": 3 * 1024 * 1024}
    finally:
        del os.environ["REVIEWBOT_MAX_BLOB_BYTES"]


def test_files_not_read_are_not_called_fully_reviewed(tmp_path: Path) -> None:
    """A patch whose files were over the size limit applied, but was not
    reviewed whole: the summary and the 'Not reviewed:' list say so."""
    from reviewbot.pipeline import coverage, review_revision
    from reviewbot.pipeline.fetch import from_mbox_bytes
    from reviewbot.sample import build_sample_tree, series_mbox

    tree = tmp_path / "tree"
    build_sample_tree(tree)
    fetched = from_mbox_bytes(Path(series_mbox(2)).read_bytes())
    os.environ["REVIEWBOT_MAX_BLOB_BYTES"] = "100"
    try:
        review = review_revision(fetched.series, fetched.revision, tree, simulate=False)
    finally:
        del os.environ["REVIEWBOT_MAX_BLOB_BYTES"]
    assert any(f.checker == "size-limit" for f in review.findings)
    assert coverage.tally(review).startswith("0 of 3 patches fully reviewed, 3 with files not read")
    gaps = coverage.gaps(review)
    assert "patch 3/3 was reviewed in part: mm/memory.c was not read (over the size limit)." in gaps
    # the JSON contract says the same, per patch and for the series
    from reviewbot.report_json import review_to_json

    data = review_to_json(review)
    patches = data["patches"]
    assert isinstance(patches, list)
    by_index = {p["index"]: p for p in patches}
    assert by_index[3]["files_not_read"] == ["mm/memory.c"]
    assert data["not_reviewed"] == gaps
    # simulate=False: the simulator did not run, and the JSON says so
    assert data["simulation"] is None and data["simulation_not_run"]
