"""Everything reviewbot asks of git, in one place: no other module runs git.

The user's kernel tree is read, never changed: no checkout, no branch, no
write to their index or object store.  Series are applied in an *overlay*:
a temporary index holding only the files the series touches (so a full
kernel tree costs no 80,000-file checkout) and a temporary object directory
that borrows the user's objects as alternates (so even the blobs and trees
we write vanish with the overlay).
"""

from __future__ import annotations

import atexit
import base64
import functools
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import zlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import git as gitpython

from reviewbot.errors import TreeError

_SHA_RE = re.compile(r"^[0-9a-f]{7,64}$")
# "@@ -4416,0 +4417,2 @@" in a -U0 diff: counts are optional (1 when absent)
_HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass
class LineChange:
    """One file's changed lines between two trees (paths without a/ b/)."""

    old_path: str | None
    new_path: str | None
    removed: set[int]  # lines of the old file
    added: set[int]  # lines of the new file


class GitError(Exception):
    """A git command failed; ``stderr`` says why."""

    def __init__(self, args: Sequence[str], code: int, stderr: str):
        super().__init__(f"git {' '.join(args)}: exit {code}: {stderr.strip()}")
        self.stderr = stderr
        self.code = code


def _run(
    repo: Path,
    args: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    input: bytes | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[bytes]:
    proc = subprocess.run(
        ["git", "-C", str(repo), *args],
        input=input,
        capture_output=True,
        env=env,
        check=False,
    )
    if check and proc.returncode != 0:
        raise GitError(args, proc.returncode, proc.stderr.decode(errors="replace"))
    return proc


@dataclass(frozen=True)
class TreeSnapshot:
    """What must be identical before and after a review of the user's tree."""

    head: str
    branch: str | None
    status: str
    worktrees: str
    index_mtime: float | None


class Repo:
    """A user's git tree, opened read-only."""

    def __init__(self, path: Path | str):
        self.path = Path(path).resolve()
        if not self.path.exists():
            raise TreeError(f"tree {path}: no such directory")
        try:
            repo = gitpython.Repo(self.path, search_parent_directories=False)
        except (gitpython.InvalidGitRepositoryError, gitpython.NoSuchPathError):
            raise TreeError(f"tree {path}: not a git repository") from None
        self.git_dir = Path(repo.git_dir)
        common = _run(self.path, ["rev-parse", "--git-common-dir"]).stdout.decode().strip()
        common_path = Path(common) if os.path.isabs(common) else self.path / common
        self.objects_dir = (common_path / "objects").resolve()
        repo.close()
        self._small: bool | None = None

    def git(self, *args: str, input: bytes | None = None) -> bytes:
        return _run(self.path, args, input=input).stdout

    def resolve(self, rev: str) -> str | None:
        """The commit a revision names, or None when the tree lacks it."""
        proc = _run(
            self.path, ["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], check=False
        )
        return proc.stdout.decode().strip() or None if proc.returncode == 0 else None

    def head(self) -> str:
        sha = self.resolve("HEAD")
        if sha is None:
            raise TreeError(f"tree {self.path}: has no commit (empty repository)")
        return sha

    def format_patch(self, git_range: str) -> bytes:
        """The commits of A..B as an mbox, the way the author would mail them."""
        if ".." not in git_range:
            raise TreeError(f"--range {git_range}: expected A..B")
        start = git_range.split("..", 1)[0] or "HEAD"
        if self.resolve(start) is None:
            raise TreeError(f"--range {git_range}: {start} is not a commit of {self.path}")
        try:
            out = self.git(
                "format-patch",
                "--stdout",
                "--no-signature",
                "--thread=shallow",
                "--numbered",
                "--full-index",
                "--binary",
                git_range,
            )
        except GitError as exc:
            raise TreeError(f"--range {git_range}: {exc.stderr.strip()}") from None
        return out

    def snapshot(self) -> TreeSnapshot:
        """The state a review must leave exactly as it found it."""
        branch = _run(self.path, ["symbolic-ref", "-q", "HEAD"], check=False).stdout
        index = self.git_dir / "index"
        return TreeSnapshot(
            head=self.resolve("HEAD") or "",
            branch=branch.decode().strip() or None,
            # GIT_OPTIONAL_LOCKS=0: status must not refresh (rewrite) the index
            status=_run(
                self.path,
                ["status", "--porcelain=v1", "--untracked-files=all"],
                env=dict(os.environ, GIT_OPTIONAL_LOCKS="0"),
            ).stdout.decode(),
            worktrees=self.git("worktree", "list", "--porcelain").decode(),
            index_mtime=index.stat().st_mtime if index.exists() else None,
        )

    def find_base(self, pre_images: dict[str, str], limit: int = 500) -> str | None:
        """The newest commit (HEAD, then first-parent history) whose files
        have the given blobs, as b4's guess-base does from a diff's ``index``
        lines.  ``pre_images``: path -> blob id or its prefix ("" for a file
        the series creates, which must be absent).  Only the last ``limit``
        commits that touch those files, of the last three years, are looked at.
        """
        paths = sorted(pre_images)
        if not paths:
            return None
        head = self.resolve("HEAD")
        if head is None:
            return None
        state: dict[str, str] = {}
        out = self.git("ls-tree", "-r", "-z", "--full-tree", head, "--", *paths)
        for rec in out.split(b"\0"):
            if rec:
                meta, path = rec.split(b"\t", 1)
                state[path.decode()] = meta.decode().split()[2]

        def matches() -> bool:
            return all(
                state.get(p, "").startswith(blob) if blob else p not in state
                for p, blob in pre_images.items()
            )

        if matches():
            return head
        log = self.git(
            "log",
            "--first-parent",
            "--no-renames",
            "--raw",
            "--no-abbrev",
            "--format=>%H",
            f"-n{limit}",
            # a file the history rarely touches must not walk all of it
            "--since=3.years.ago",
            head,
            "--",
            *paths,
        ).decode("utf-8", "replace")
        commit = ""
        for line in [*log.splitlines(), ">"]:
            if line.startswith(">"):
                if commit and matches():
                    return self.resolve(f"{commit}^")
                commit = line[1:]
            elif line.startswith(":") and "\t" in line:
                raw, changed = line.split("\t", 1)
                old = raw.split()[2]
                if set(old) == {"0"}:
                    state.pop(changed, None)
                else:
                    state[changed] = old
        return None

    def is_small(self) -> bool:
        """Whether a whole-tree ``git grep`` is cheap (not a full kernel)."""
        if self._small is None:
            head = self.resolve("HEAD")
            if head is None:
                self._small = True
            else:
                out = self.git("ls-tree", "-r", "--name-only", head)
                self._small = out.count(b"\n") < 20000
        return self._small


DEFAULT_MAX_BLOB = 64 * 1024 * 1024


def max_blob_bytes() -> int:
    """The largest file a review reads (``REVIEWBOT_MAX_BLOB_BYTES``; limits.max_blob_bytes)."""
    try:
        return int(os.environ.get("REVIEWBOT_MAX_BLOB_BYTES", "")) or DEFAULT_MAX_BLOB
    except ValueError:
        return DEFAULT_MAX_BLOB


class BlobTooLarge(Exception):
    def __init__(self, spec: str, size: int, limit: int):
        super().__init__(f"{spec}: {size} bytes, over the limit of {limit}")
        self.size = size
        self.limit = limit


class BlobReader:
    """Files of any tree state through one ``git cat-file --batch-command``.

    One process per overlay instead of one per file per tree state (a
    500-patch series read 1,500 files).  Each object's size is asked first
    (``info``) and a blob over ``limit`` is refused before a byte of it is
    read: a patch can grow a file to gigabytes.
    """

    def __init__(self, repo: Path, env: dict[str, str], limit: int):
        self.repo = repo
        self.env = env
        self.limit = limit
        self._proc: subprocess.Popen[bytes] | None = None

    def _process(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                ["git", "-C", str(self.repo), "cat-file", "--batch-command"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=self.env,
            )
        return self._proc

    def _ask(self, command: str) -> tuple[str, int] | None:
        proc = self._process()
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(command.encode() + b"\n")
        proc.stdin.flush()
        header = proc.stdout.readline().decode(errors="replace").split()
        # "<oid> <type> <size>"; else "<name> missing", "<name> ambiguous" (a
        # name may hold spaces: "mm/a b.c missing" is three words), or git died
        if len(header) != 3 or not header[2].isdigit():
            return None
        return header[1], int(header[2])

    def read(self, treeish: str, path: str) -> bytes | None:
        """The blob at ``treeish:path``; None when there is none.  BlobTooLarge over the limit."""
        spec = f"{treeish}:{path}"
        if "\n" in spec or "\r" in spec:
            return None  # the batch protocol is line based: no such path in a review
        info = self._ask(f"info {spec}")
        if info is None or info[0] != "blob":
            return None
        if info[1] > self.limit:
            raise BlobTooLarge(spec, info[1], self.limit)
        got = self._ask(f"contents {spec}")
        proc = self._process()
        assert proc.stdout is not None
        if got is None:
            return None
        data = proc.stdout.read(got[1])
        proc.stdout.read(1)  # the newline after the contents
        return data

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            if proc.stdin is not None:
                proc.stdin.close()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


_BINARY_PATH_RE = re.compile(r"^diff --git a/(\S+) b/(\S+)$")


def _b85_line(line: str) -> bytes:
    """One line of a GIT binary patch: a length letter, then base85 (git's alphabet)."""
    if not line:
        return b""
    c = line[0]
    n = ord(c) - ord("A") + 1 if "A" <= c <= "Z" else ord(c) - ord("a") + 27
    return base64.b85decode(line[1:])[:n]


def _varint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while at < len(data):
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at
    raise ValueError("truncated size")


def binary_result_sizes(diff: str) -> list[tuple[str, int]]:
    """(path, size of the file it produces) for each ``GIT binary patch`` of a diff.

    ``literal N`` says N; a ``delta`` carries the result size at its start,
    read by inflating only its first bytes (a small mail can inflate to GBs).
    """
    out: list[tuple[str, int]] = []
    path = ""
    lines = diff.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if m := _BINARY_PATH_RE.match(line):
            path = m.group(2)
        elif line == "GIT binary patch" and i + 1 < len(lines):
            kind, _, size = lines[i + 1].partition(" ")
            if kind == "literal" and size.isdigit():
                out.append((path, int(size)))
            elif kind == "delta":
                try:
                    out.append((path, _delta_result_size(lines, i + 2)))
                except (ValueError, zlib.error):
                    out.append((path, 0))  # git will refuse a corrupt delta itself
            i += 2
            continue
        i += 1
    return out


def _delta_result_size(lines: list[str], start: int) -> int:
    inflate = zlib.decompressobj()
    head = b""
    for line in lines[start : start + 64]:
        if not line:
            break
        head += inflate.decompress(_b85_line(line), 64 - len(head))
        if len(head) >= 20:
            break
    _src, at = _varint(head, 0)
    return _varint(head, at)[0]


_BLOB_CACHE = 256
OVERLAY_PREFIX = "reviewbot-apply-"
_ORPHAN_AGE = 6 * 3600.0  # an overlay without an owner file (older reviewbot) is gone after this


def _start_time(pid: int) -> str | None:
    """The process's start time (/proc/PID/stat field 22): a pid may be reused."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def _owner_alive(name: str) -> bool | None:
    """Whether the process named in an overlay's name still runs (None: no owner in it)."""
    owner = name[len(OVERLAY_PREFIX) :].split("-", 1)[0]
    pid_s, _, start = owner.partition(".")
    if not pid_s.isdigit() or not start.isdigit():
        return None
    return _start_time(int(pid_s)) == start


def sweep_stale_overlays(root: Path | None = None) -> list[Path]:
    """Remove the overlays of processes that died without cleaning up (SIGKILL,
    a Celery hard time limit, a machine crash); returns what was removed."""
    base = root or Path(tempfile.gettempdir())
    removed = []
    for d in base.glob(f"{OVERLAY_PREFIX}*"):
        alive = _owner_alive(d.name)
        if alive is None:  # made by an older reviewbot: gone once surely finished
            try:
                alive = time.time() - d.stat().st_mtime < _ORPHAN_AGE
            except OSError:
                continue
        if not alive:
            shutil.rmtree(d, ignore_errors=True)
            removed.append(d)
    return removed


@functools.cache
def _sweep_once() -> None:
    sweep_stale_overlays()
    atexit.register(_remove_live)


_LIVE: set[Path] = set()  # this process's overlays


def _remove_live() -> None:
    for d in list(_LIVE):
        shutil.rmtree(d, ignore_errors=True)
        _LIVE.discard(d)


class Overlay:
    """A temporary index and object store layered over a Repo.

    Writes (blobs, trees, index) go to a temporary directory; reads fall
    through to the user's objects.  Use as a context manager: the directory
    is removed on every exit path (SIGTERM included: the CLI turns it into
    SystemExit).  The directory names its owner process, so that the first
    overlay of a later process removes those a killed one left behind
    (``reviewbot-apply-<pid>.<start time>-XXXX``).
    """

    def __init__(self, repo: Repo):
        _sweep_once()
        self.repo = repo
        # The owner is in the name (atomic: a SIGKILL cannot leave a nameless one),
        # and SIGTERM waits until the directory is registered for removal at exit.
        owner = f"{os.getpid()}.{_start_time(os.getpid())}"
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
        try:
            self.dir = Path(tempfile.mkdtemp(prefix=f"{OVERLAY_PREFIX}{owner}-"))
            _LIVE.add(self.dir)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
        (self.dir / "objects").mkdir()
        self.env = dict(
            os.environ,
            GIT_INDEX_FILE=str(self.dir / "index"),
            GIT_OBJECT_DIRECTORY=str(self.dir / "objects"),
            GIT_ALTERNATE_OBJECT_DIRECTORIES=str(repo.objects_dir),
            GIT_OPTIONAL_LOCKS="0",
        )
        self._blobs: dict[tuple[str, str], bytes | None] = {}
        self.reader = BlobReader(repo.path, self.env, max_blob_bytes())
        # (path, size) of the files not read because they are over the limit
        self.too_large: dict[str, int] = {}
        self._grep_cache: dict[tuple[str, str, tuple[str, ...]], list[str]] = {}

    def __enter__(self) -> Overlay:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.reader.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        _LIVE.discard(self.dir)

    def _git(
        self,
        *args: str,
        input: bytes | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess[bytes]:
        return _run(self.repo.path, args, env=self.env, input=input, check=check)

    # -- the index ---------------------------------------------------------
    def entries(self, commit: str, paths: Iterable[str]) -> dict[str, tuple[str, str]]:
        """path -> (mode, sha) in ``commit`` for the paths that exist there."""
        wanted = sorted(set(paths))
        if not wanted:
            return {}
        out = self._git("ls-tree", "-z", "--full-tree", commit, "--", *wanted).stdout
        found: dict[str, tuple[str, str]] = {}
        for rec in out.split(b"\0"):
            if not rec:
                continue
            meta, path = rec.split(b"\t", 1)
            mode, _kind, sha = meta.decode().split()
            found[path.decode()] = (mode, sha)
        return found

    def load(self, commit: str, paths: Iterable[str]) -> None:
        """Make the index hold exactly ``paths`` as they are in ``commit``."""
        index = self.dir / "index"
        if index.exists():
            index.unlink()
        info = "".join(
            f"{mode} {sha}\t{path}\n" for path, (mode, sha) in self.entries(commit, paths).items()
        )
        self._git("update-index", "--index-info", input=info.encode())

    def apply(
        self,
        diff: str,
        *,
        reverse: bool = False,
        check_only: bool = False,
    ) -> tuple[bool, str]:
        """``git apply --cached`` one patch; (applied, git's message)."""
        limit = self.reader.limit
        for path, size in binary_result_sizes(diff) if "GIT binary patch" in diff else []:
            if size > limit:
                return False, (
                    f"error: {path}: the binary patch makes it {size} bytes, over the limit "
                    f"of {limit} (limits.max_blob_bytes): not applied, not reviewed\n"
                )
        flags = [*(["-R"] if reverse else []), *(["--check"] if check_only else [])]
        proc = self._git(
            "apply",
            "--cached",
            "--verbose",
            "--whitespace=nowarn",
            *flags,
            "-",
            input=diff.encode(),
            check=False,
        )
        return proc.returncode == 0, proc.stderr.decode(errors="replace")

    def write_tree(self) -> str:
        return self._git("write-tree").stdout.decode().strip()

    def changed_lines(self, old_tree: str, new_tree: str) -> list[LineChange]:
        """What changed between two trees of the overlay, line by line.

        The overlay's trees hold only the files the series touches, so this
        is one small ``git diff-tree``; its line numbers are where the
        hunks really landed (offset or not), never the mail's ``@@``.
        """
        out = self._git(
            "diff-tree", "-r", "-p", "-U0", "-M", "--no-color", "--no-ext-diff", old_tree, new_tree
        ).stdout.decode("utf-8", "replace")
        changes: list[LineChange] = []
        for line in out.splitlines():
            if line.startswith("diff --git "):
                changes.append(LineChange(None, None, set(), set()))
            elif not changes:
                continue
            elif line.startswith("--- "):
                changes[-1].old_path = None if line == "--- /dev/null" else line[6:]
            elif line.startswith("+++ "):
                changes[-1].new_path = None if line == "+++ /dev/null" else line[6:]
            elif m := _HUNK_RE.match(line):
                old_start, old_len = int(m.group(1)), int(m.group(2) or 1)
                new_start, new_len = int(m.group(3)), int(m.group(4) or 1)
                changes[-1].removed.update(range(old_start, old_start + old_len))
                changes[-1].added.update(range(new_start, new_start + new_len))
        return changes

    def read_index_file(self, path: str) -> bytes | None:
        """A file as the temporary index holds it now (not cached: it moves)."""
        proc = self._git("cat-file", "blob", f":{path}", check=False)
        return proc.stdout if proc.returncode == 0 else None

    def entries_in_index(self) -> dict[str, tuple[str, str]]:
        """path -> (mode, sha) of the temporary index."""
        if not (self.dir / "index").exists():
            return {}
        out = self._git("ls-files", "-s", "-z").stdout
        found: dict[str, tuple[str, str]] = {}
        for rec in out.split(b"\0"):
            if rec:
                meta, path = rec.split(b"\t", 1)
                mode, sha, _stage = meta.decode().split()
                found[path.decode()] = (mode, sha)
        return found

    # -- reading -----------------------------------------------------------
    def read_blob(self, treeish: str, path: str) -> bytes | None:
        """A file of a tree state (one batch process for all); None when absent or
        over the size limit (then ``too_large`` names it, for a finding)."""
        key = (treeish, path)
        if key not in self._blobs:
            try:
                self._blobs[key] = self.reader.read(treeish, path)
            except BlobTooLarge as exc:
                self.too_large[path] = max(self.too_large.get(path, 0), exc.size)
                self._blobs[key] = None
            if len(self._blobs) > _BLOB_CACHE:  # a long series must not keep every state
                del self._blobs[next(iter(self._blobs))]
        return self._blobs[key]

    def grep_definitions(self, commit: str, name: str, pathspecs: Sequence[str]) -> list[str]:
        """Files of ``commit`` with a line that looks like ``name``'s definition.

        Kernel definitions start in column 0, with the return type or the
        name itself: ``static inline int swap_pte_batch(pte_t *start_ptep,``
        or ``swap_pte_batch(pte_t *start_ptep,`` after a ``static int`` line.
        A fixed-string grep and a Python filter: git's own regex engine takes
        ~5 s per search over mm/ and include/, the fixed string ~0.25 s.
        Results are cached per overlay: every tree state shares the base.
        """
        if not re.fullmatch(r"[A-Za-z_]\w*", name):
            return []
        key = (commit, name, tuple(pathspecs))
        if key not in self._grep_cache:
            proc = self._git(
                "grep", "-n", "-F", "-e", f"{name}(", commit, "--", *pathspecs, check=False
            )
            shape = re.compile(rf"^[A-Za-z_][\w \t*]*\b{name}\(")
            files: list[str] = []
            for line in proc.stdout.decode(errors="replace").splitlines():
                # "<commit>:<path>:<lineno>:<text>"
                parts = line.split(":", 3)
                if len(parts) == 4 and shape.match(parts[3]) and parts[1] not in files:
                    files.append(parts[1])
            self._grep_cache[key] = files
        return self._grep_cache[key]

    def commit_files(
        self, parent: str, files: dict[str, bytes], message: str, env: dict[str, str]
    ) -> str:
        """A commit on ``parent`` with ``files`` replaced, in the overlay only.

        Used to make series for tests and benchmarks on a tree we must not
        touch; the full index is read, so this costs a read-tree.
        """
        self._git("read-tree", parent)
        for path, data in files.items():
            self.update_entry(path, self.hash_blob(data))
        tree = self.write_tree()
        return self.commit_tree(tree, parent, message, env)

    def hash_blob(self, data: bytes) -> str:
        return self._git("hash-object", "-w", "--stdin", input=data).stdout.decode().strip()

    def update_entry(self, path: str, sha: str, mode: str = "100644") -> None:
        self._git("update-index", "--add", "--cacheinfo", f"{mode},{sha},{path}")

    def commit_tree(self, tree: str, parent: str, message: str, env: dict[str, str]) -> str:
        proc = _run(
            self.repo.path,
            ["commit-tree", tree, "-p", parent, "-m", message],
            env={**self.env, **env},
        )
        return proc.stdout.decode().strip()

    def format_patch(self, base: str, tip: str, *extra: str) -> bytes:
        return self._git(
            "format-patch", "--stdout", "--no-signature", "--numbered", *extra, f"{base}..{tip}"
        ).stdout


def is_sha(text: str) -> bool:
    return bool(_SHA_RE.match(text))


# -- repositories reviewbot makes itself (sample tree, kernel tree, series) ------


def isolated_env() -> dict[str, str]:
    """An environment in which git ignores the user's and the system's config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_TERMINAL_PROMPT="0",
        LC_ALL="C",
        TZ="UTC",
    )
    return env


def run_bytes(
    cwd: Path, *args: str, input: bytes | None = None, env: dict[str, str] | None = None
) -> bytes:
    """``git args`` in ``cwd`` (a repository reviewbot builds), its stdout as bytes.

    Raises GitError when git fails, TreeError when git is not installed.
    """
    try:
        proc = subprocess.run(
            ["git", *args], cwd=cwd, input=input, capture_output=True, env=env, check=False
        )
    except FileNotFoundError as exc:
        raise TreeError("git is not installed") from exc
    if proc.returncode != 0:
        raise GitError(args, proc.returncode, proc.stderr.decode(errors="replace"))
    return proc.stdout


def run_text(
    cwd: Path, *args: str, input: bytes | None = None, env: dict[str, str] | None = None
) -> str:
    """``run_bytes`` with its stdout as text."""
    return run_bytes(cwd, *args, input=input, env=env).decode(errors="replace")


# -- mirrors (the watcher's public-inbox epochs) -------------------------------


class Mirror:
    """A local ``--mirror`` clone of a remote repository, read commit by commit."""

    def __init__(self, path: Path, url: str):
        self.path = path
        self.url = url

    def update(self) -> None:
        """Clone or fetch; GitError when that fails."""
        fetching = (self.path / "HEAD").exists()
        try:
            if fetching:
                gitpython.Repo(self.path).git.fetch("--quiet", "--prune", "origin")
            else:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                gitpython.Repo.clone_from(self.url, self.path, mirror=True, quiet=True)
        except gitpython.GitCommandError as exc:
            status = exc.status if isinstance(exc.status, int) else 1
            args = ["fetch", "origin"] if fetching else ["clone", "--mirror", self.url]
            raise GitError(args, status, str(exc.stderr or exc)) from None

    def head(self) -> str | None:
        """HEAD's commit; None before the first clone or in an empty repository."""
        if not (self.path / "HEAD").exists():
            return None
        try:
            repo = gitpython.Repo(self.path)
            sha: str = repo.git.rev_parse("--verify", "--quiet", "HEAD^{commit}")
        except gitpython.GitCommandError:
            return None
        return sha or None

    def commits_after(self, cursor: str | None, head: str) -> list[str]:
        """Commits after ``cursor`` up to ``head``, oldest first; all of them when
        ``cursor`` is not an ancestor of ``head`` (the remote rewrote its history)."""
        repo = gitpython.Repo(self.path)
        spec = head
        if cursor:
            try:
                repo.git.merge_base("--is-ancestor", cursor, head)
                spec = f"{cursor}..{head}"
            except gitpython.GitCommandError:
                spec = head
        out: str = repo.git.rev_list("--reverse", spec)
        return out.split()

    def blobs(self, commits: Sequence[str], name: str) -> Iterator[tuple[str, bytes]]:
        """(commit, content of file ``name`` at its top level); commits without it are skipped.

        GitPython keeps one ``cat-file --batch`` process per repo: no fork per commit.
        """
        repo = gitpython.Repo(self.path)
        for sha in commits:
            try:
                blob = repo.commit(sha).tree / name
            except KeyError:
                continue
            yield sha, blob.data_stream.read()
