"""The bundled sample: deterministic base tree, mboxes that apply, answer key that holds."""

from __future__ import annotations

import email.utils
import importlib.util
import itertools
import mailbox
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from checkers.frontend import parse
from reviewbot import sample
from reviewbot.errors import UsageError
from reviewbot.git import run_text

BUG_CLASSES = {
    "stale-pointer",
    "unchecked-null-pte",
    "batch-bit-uniformity",
    "incomplete-batch-conversion",
    "batch-bounds",
    "ptep-naming",
}
SENT_DAY = {1: "2026-11-02", 2: "2026-11-09", 3: "2026-11-16"}
PATCH_SUBJECTS = (
    "mm: swap: add swap_pte_batch() to find a run of swap entries",
    "mm: swap: introduce swap_free_nr()",
    "mm: swap: map the whole large folio on a swap cache hit",
)


def _git(cwd: Path, *args: str) -> str:
    env = sample.git_env()
    env.update(GIT_COMMITTER_NAME="Tester", GIT_COMMITTER_EMAIL="tester@example.org")
    env.update(GIT_AUTHOR_NAME="Tester", GIT_AUTHOR_EMAIL="tester@example.org")
    return run_text(cwd, *args, env=env).strip()


@pytest.fixture(scope="module")
def expected() -> dict[str, Any]:
    return sample.load_expected()


@pytest.fixture(scope="module")
def base_repo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    dest = tmp_path_factory.mktemp("sample") / "tree"
    return dest, sample.build_sample_tree(dest)


def _make_series() -> ModuleType:
    path = sample.SAMPLE_DIR / "make_series.py"
    spec = importlib.util.spec_from_file_location("sample_make_series", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


# --- the base tree --------------------------------------------------------------


def test_base_tree_has_the_expected_hash(
    base_repo: tuple[Path, str], expected: dict[str, Any]
) -> None:
    dest, commit = base_repo
    assert commit == expected["series"]["base_commit"]
    assert commit == sample.sample_base_commit()
    assert _git(dest, "rev-parse", "HEAD") == commit
    assert _git(dest, "log", "--format=%an <%ae> %ad", "--date=iso-strict") == (
        "Sample Tree <sample-tree@example.org> 2026-11-01T12:00:00+00:00"
    )
    assert _git(dest, "status", "--porcelain") == ""
    files = set(_git(dest, "ls-files").splitlines())
    assert {"mm/memory.c", "mm/internal.h", "mm/swapfile.c", "include/linux/swapops.h"} <= files
    assert commit in (sample.SAMPLE_DIR / "README.md").read_text()


def test_existing_sample_tree_is_reused(tmp_path: Path) -> None:
    dest = tmp_path / "tree"
    first = sample.build_sample_tree(dest)
    keep = dest / "untracked-note"
    keep.write_text("left by the user\n")
    assert sample.build_sample_tree(dest) == first
    assert keep.exists(), "a reusable tree was rebuilt"


def test_stale_sample_tree_is_rebuilt(tmp_path: Path) -> None:
    dest = tmp_path / "tree"
    first = sample.build_sample_tree(dest)
    (dest / "mm" / "memory.c").write_text("/* edited */\n")
    _git(dest, "commit", "-qam", "local edit")
    assert _git(dest, "rev-parse", "HEAD") != first
    assert sample.build_sample_tree(dest) == first
    assert _git(dest, "rev-parse", "HEAD") == first
    assert "do_swap_page" in (dest / "mm" / "memory.c").read_text()


def test_foreign_directory_is_never_touched(tmp_path: Path) -> None:
    dest = tmp_path / "mine"
    dest.mkdir()
    (dest / "notes.txt").write_text("mine\n")
    with pytest.raises(UsageError, match="not the sample tree"):
        sample.build_sample_tree(dest)
    assert sorted(p.name for p in dest.iterdir()) == ["notes.txt"]


def test_module_entry_point(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert sample.main([str(tmp_path / "t")]) == 0
    assert capsys.readouterr().out.strip() == sample.sample_base_commit()
    with pytest.raises(SystemExit) as exc:
        sample.main([])
    assert exc.value.code == 2
    assert "usage" in capsys.readouterr().err
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "x").write_text("x")
    assert sample.main([str(tmp_path / "busy")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_revision_tree_is_deterministic_and_reused(tmp_path: Path) -> None:
    base = sample.sample_base_commit()
    heads = {}
    for version in sample.VERSIONS:
        dest = tmp_path / f"v{version}"
        heads[version] = sample.build_revision_tree(dest, version)
        assert _git(dest, "rev-parse", "HEAD~3") == base
        post = sample.REVISIONS_DIR / f"v{version}" / "mm" / "memory.c"
        assert (dest / "mm" / "memory.c").read_text() == post.read_text()
    assert len(set(heads.values())) == 3
    again = tmp_path / "again"
    assert sample.build_revision_tree(again, 2) == heads[2], "hash depends on the machine"
    keep = again / "untracked-note"
    keep.write_text("x")
    assert sample.build_revision_tree(again, 2) == heads[2]
    assert keep.exists(), "a reusable revision tree was rebuilt"
    # Asking for another revision in the same place rebuilds it.
    assert sample.build_revision_tree(again, 3) == heads[3]
    assert sample.build_sample_tree(again) == base


def test_series_mbox_paths() -> None:
    assert sample.series_mbox(2) == sample.SAMPLE_DIR / "series" / "v2.mbox"
    with pytest.raises(UsageError):
        sample.series_mbox(4)


# --- the mboxes ---------------------------------------------------------------------


def _messages(version: int) -> list[mailbox.mboxMessage]:
    box = mailbox.mbox(sample.series_mbox(version), create=False)
    try:
        return list(box)
    finally:
        box.close()


@pytest.mark.parametrize("version", sample.VERSIONS)
def test_mbox_headers_and_threading(version: int, expected: dict[str, Any]) -> None:
    msgs = _messages(version)
    assert len(msgs) == 4
    prefix = "[PATCH" + (f" v{version}" if version > 1 else "")
    ids = [m["Message-Id"] for m in msgs]
    keys = expected[f"v{version}"]
    assert ids[0] == f"<{keys['cover_message_id']}>"
    assert ids[1:] == [f"<{mid}>" for mid in keys["patch_message_ids"]]
    assert len(set(ids)) == 4
    assert all(re.fullmatch(r"<\d{14}\.\d+-[1-4]-ada@example\.org>", i) for i in ids)
    dates = [email.utils.parsedate_to_datetime(m["Date"]) for m in msgs]
    assert dates == sorted(dates) and len(set(dates)) == 4
    assert all(d.astimezone(UTC).date().isoformat() == SENT_DAY[version] for d in dates)
    for n, msg in enumerate(msgs):
        subject = " ".join(str(msg["Subject"]).split())
        assert subject.startswith(f"{prefix} {n}/3] ")
        if n:
            assert subject.endswith(PATCH_SUBJECTS[n - 1])
            assert msg["In-Reply-To"] == ids[0]
            assert msg["References"] == ids[0]
        else:
            assert subject.endswith(expected["series"]["title"])
            assert msg["In-Reply-To"] is None
        assert msg["From"] == "Ada Swapwright <ada@example.org>"
        assert msg["To"] == "linux-mm@lists.example.org"
        assert "morgan@example.org" in str(msg["Cc"])
        assert msg["List-Id"] == "<linux-mm.lists.example.org>"
    cover = msgs[0].get_payload()
    assert isinstance(cover, str)
    assert f"base-commit: {expected['series']['base_commit']}\n" in cover
    assert f"change-id: {expected['series']['change_id']}\n" in cover
    assert ("Changes since v1:" in cover) == (version > 1)
    assert ("Changes since v2:" in cover) == (version > 2)


def test_revisions_are_dated_a_week_apart() -> None:
    firsts = [email.utils.parsedate_to_datetime(_messages(v)[0]["Date"]) for v in sample.VERSIONS]
    assert firsts[0] == datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    assert all(b > a for a, b in itertools.pairwise(firsts))


@pytest.mark.parametrize("version", sample.VERSIONS)
def test_mbox_applies_with_git_am(
    version: int, base_repo: tuple[Path, str], tmp_path: Path
) -> None:
    src, commit = base_repo
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", str(src), str(clone))
    # git am would stop at the cover letter, which has no diff: drop it.
    _git(clone, "am", "-q", "--empty=drop", str(sample.series_mbox(version)))
    subjects = _git(clone, "log", "--format=%s", f"{commit}..HEAD").splitlines()
    assert subjects == list(reversed(PATCH_SUBJECTS))
    post = sample.REVISIONS_DIR / f"v{version}"
    for path in post.rglob("*.[ch]"):
        rel = path.relative_to(post)
        assert (clone / rel).read_bytes() == path.read_bytes(), f"v{version} {rel}"
    assert _git(clone, "diff", "--stat", commit, "HEAD", "--", "mm/swapfile.c")


def test_revisions_are_derived_from_the_base_tree() -> None:
    path = sample.SAMPLE_DIR / "derive_revisions.py"
    spec = importlib.util.spec_from_file_location("sample_derive_revisions", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for version in sample.VERSIONS:
        for rel, content in module.derive(version).items():
            post = sample.REVISIONS_DIR / f"v{version}" / rel
            assert post.read_text() == content, f"{post} is stale: run sample/derive_revisions.py"


def test_regenerated_mboxes_are_identical() -> None:
    make_series = _make_series()
    generated = make_series.outputs()
    assert set(generated) >= {sample.series_mbox(v) for v in sample.VERSIONS}
    for path, content in generated.items():
        assert path.read_text() == content, f"{path} is stale: run python sample/make_series.py"


# --- the answer key -------------------------------------------------------------------


def _bug_classes(version: int) -> list[str]:
    return sorted(b.bug for b in sample.expected_bugs(version))


def test_expected_bug_classes_per_revision() -> None:
    assert _bug_classes(1) == sorted(
        [
            "stale-pointer",
            "unchecked-null-pte",
            "batch-bit-uniformity",
            "incomplete-batch-conversion",
            "incomplete-batch-conversion",
            "batch-bounds",
            "ptep-naming",
        ]
    )
    assert _bug_classes(2) == sorted(
        [
            "stale-pointer",
            "unchecked-null-pte",
            "batch-bit-uniformity",
            "incomplete-batch-conversion",
            "incomplete-batch-conversion",
        ]
    )
    assert _bug_classes(3) == []


@pytest.mark.parametrize("version", sample.VERSIONS)
def test_expected_lines_point_at_their_text(version: int) -> None:
    post = sample.REVISIONS_DIR / f"v{version}"
    for bug in sample.expected_bugs(version):
        assert bug.bug in BUG_CLASSES
        assert (bug.patch, bug.file, bug.function) == (3, "mm/memory.c", "do_swap_page")
        lines = (post / bug.file).read_text().splitlines()
        assert bug.text in lines[bug.line - 1], (version, bug.bug, bug.line)
        body = _function_lines(post / bug.file, bug.function)
        assert body[0] <= bug.line <= body[1]
        for file, line, text, _role in bug.evidence:
            assert text in (post / file).read_text().splitlines()[line - 1], (version, text)


def _function_lines(path: Path, name: str) -> tuple[int, int]:
    node = parse(path.read_bytes(), str(path)).functions()[name]
    return node.start_point[0] + 1, node.end_point[0] + 1


def test_seeded_shapes_are_where_the_key_says() -> None:
    """The bugs are really in the code, and really gone from v3."""
    v1, v2, v3 = (
        (sample.REVISIONS_DIR / f"v{v}" / "mm" / "memory.c").read_text() for v in sample.VERSIONS
    )
    h1, h3 = ((sample.REVISIONS_DIR / f"v{v}" / "mm" / "internal.h").read_text() for v in (1, 3))
    assert "pte_t *start_pte = vmf->pte;" in v1
    assert "pte_t *start_ptep = vmf->pte;" in v2 and "start_pte " not in v2
    assert "arch_do_swap_page_nr(" in v1 and "arch_do_swap_page_nr(" not in v2
    assert "swap_free(entry);" in v1 and "swap_free_nr(entry, nr_pages);" in v2
    assert "pmd_addr_end(" not in v1 and "pmd_addr_end(" in v2
    assert "pte_swp_clear_soft_dirty(cur_pte)" in h1 and "pte_swp_clear" not in h3
    assert "pte_next_swp_offset(" in h3
    remap = v3.index("vmf->pte = pte_offset_map_lock(vma->vm_mm, vmf->pmd, vmf->address,")
    check = v3.index("if (unlikely(!vmf->pte || !pte_same(")
    assert remap < check < v3.index("folio_ptep = vmf->pte - idx;")
    assert v3.index("start_ptep = vmf->pte;") > check
    assert "flush_icache_page(" not in v3 and "swap_free(" not in v3
    assert "arch_do_swap_page(" not in v3
    for rev in (v1, v2, v3):
        body = rev[rev.index("vm_fault_t do_swap_page(") :]
        assert not re.search(r"\b(for|while)\s*\(", body), "do_swap_page must stay loop-free"


# --- the C itself --------------------------------------------------------------------------


def _c_files() -> list[Path]:
    roots = [sample.TREE_DIR, *(sample.REVISIONS_DIR / f"v{v}" for v in sample.VERSIONS)]
    return sorted(p for root in roots for p in root.rglob("*") if p.suffix in (".c", ".h"))


def test_every_c_file_parses_without_errors() -> None:
    files = _c_files()
    assert len(files) > 20
    for path in files:
        pf = parse(path.read_bytes(), str(path))
        assert not pf.root.has_error, f"{path}: ERROR or MISSING node"
        text = path.read_text()
        assert text.startswith(
            ("// SPDX-License-Identifier: GPL-2.0", "/* SPDX-License-Identifier: GPL-2.0")
        )
    swap = parse((sample.TREE_DIR / "mm" / "memory.c").read_bytes())
    assert "do_swap_page" in swap.functions()


def _revision_tree(version: int | None, dest: Path) -> Path:
    shutil.copytree(sample.TREE_DIR, dest)
    if version is not None:
        shutil.copytree(sample.REVISIONS_DIR / f"v{version}", dest, dirs_exist_ok=True)
    return dest


@pytest.mark.skipif(shutil.which("gcc") is None, reason="gcc not installed")
@pytest.mark.parametrize("version", [None, *sample.VERSIONS])
def test_compiles_cleanly_with_gcc(version: int | None, tmp_path: Path) -> None:
    """Nothing but the seeded bugs: not even a compiler warning."""
    tree = _revision_tree(version, tmp_path / "tree")
    for debug in ([], ["-DCONFIG_DEBUG_VM"]):
        for unit in ("mm/memory.c", "mm/swapfile.c"):
            proc = subprocess.run(
                [
                    "gcc", "-fsyntax-only", "-Wall", "-Wextra", "-Wno-unused-parameter",
                    "-Werror", "-nostdinc", "-D__noreturn=__attribute__((noreturn))",
                    "-Iinclude", *debug, unit,
                ],
                cwd=tree, capture_output=True, text=True, check=False,
            )  # fmt: skip
            assert proc.returncode == 0, f"v{version} {unit} {debug}: {proc.stderr}"
