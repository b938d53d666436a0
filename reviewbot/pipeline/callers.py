"""Callers of the functions a series changes, for the check stage.

A patch that changes what a helper guarantees (a batch helper that now
ignores uffd-wp, a lookup that may now return NULL) breaks its callers, which
the patch does not touch.  ``with_callers()`` adds them to the functions the
check stage checks in every tree state; the usual comparison with the base
then keeps what became wrong, located in the caller and attributed to the
patch after which it appears (the one that changed the helper).

Callers come from the reverse call index of the base commit
(checkers/analyses/callers.py), built once per commit and cached.
"""

from __future__ import annotations

from collections.abc import Iterator

from checkers.analyses.callers import INDEX_DIRS, CallerIndex, for_commit
from reviewbot.pipeline.apply import AppliedSeries

# A helper called from more places than this is too general for its callers
# to tell anything about this change (and would make the review slow).
MAX_CALLERS_PER_FUNCTION = 40
MAX_CALLERS = 120


def base_index(applied: AppliedSeries) -> CallerIndex | None:
    if not applied.states:
        return None
    view = applied.states[0].view
    repo = view.overlay.repo
    commit = view.base

    def list_files() -> list[str]:
        out = repo.git("ls-tree", "-r", "-z", "--name-only", commit, "--", *INDEX_DIRS)
        return [p for p in out.decode("utf-8", "replace").split("\0") if p]

    def read_files(paths: list[str]) -> Iterator[tuple[str, bytes]]:
        if not paths:
            return
        data = repo.git(
            "cat-file", "--batch", input="".join(f"{commit}:{p}\n" for p in paths).encode()
        )
        pos = 0
        for p in paths:
            eol = data.index(b"\n", pos)
            header = data[pos:eol].split()
            pos = eol + 1
            if len(header) != 3:
                continue  # "missing"
            size = int(header[2])
            yield p, data[pos : pos + size]
            pos += size + 1

    return for_commit(commit, list_files, read_files)


def with_callers(
    targets: dict[str, set[str]], applied: AppliedSeries
) -> tuple[dict[str, set[str]], list[str]]:
    """``targets`` (path -> function names) plus the callers of those
    functions, and notes on what was left out."""
    notes: list[str] = []
    try:
        index = base_index(applied)
    except Exception as exc:  # a tree the index cannot read: check what was touched
        return targets, [f"callers of the changed functions not checked: {exc!r}"]
    if index is None:
        return targets, notes
    out = {path: set(names) for path, names in targets.items()}
    changed = sorted({n for names in targets.values() for n in names})
    added = 0
    for name in changed:
        callers = [c for c in index.of(name) if c[1] not in changed]
        if len(callers) > MAX_CALLERS_PER_FUNCTION:
            notes.append(
                f"{name}() has {len(callers)} callers; reviewbot checked none of them for "
                "what the change to it may break"
            )
            continue
        for path, fn in callers:
            if added >= MAX_CALLERS:
                notes.append(
                    f"more than {MAX_CALLERS} callers of changed functions; not all checked"
                )
                return out, notes
            if fn not in out.setdefault(path, set()):
                out[path].add(fn)
                added += 1
    return out, notes
