# ruff: noqa: E101, E501, PLR0917  (kernel C in strings is tab-indented)
"""Reviews built by hand from reviewbot.models, as the pipeline would make them.

The sample series mirrors the bundled one ("mm: swap: map large folios found
in the swap cache in one fault", Ada Swapwright, v1..v3).  The C below is
written for these tests in kernel style; it is not kernel code.  Diffs are
produced with difflib so that hunk headers are always consistent.
"""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import replace

from reviewbot.models import (
    ApplyResult,
    ApplyStatus,
    Evidence,
    Finding,
    Patch,
    PatchApply,
    Review,
    Revision,
    Series,
    Severity,
    SimRun,
    SimulationResult,
)

AUTHOR = "Ada Swapwright <ada@swapwright.example>"
TITLE = "mm: swap: map large folios found in the swap cache in one fault"
CHANGE_ID = "20261102-swapin-batch-ada"
LIST_ID = "linux-mm.kvack.org"

INTERNAL_H = """\
/* SPDX-License-Identifier: GPL-2.0 */
#ifndef __MM_INTERNAL_H
#define __MM_INTERNAL_H

#include <linux/mm.h>
#include <linux/swapops.h>

static inline pte_t pte_next_swp_offset(pte_t pte)
{
	swp_entry_t entry = pte_to_swp_entry(pte);

	return swp_entry_to_pte(swp_entry(swp_type(entry),
					  swp_offset(entry) + 1));
}

#endif /* __MM_INTERNAL_H */
"""

BATCH_HELPER_V1 = """\
/*
 * swap_pte_batch - count consecutive swap ptes that follow @start_ptep
 * with increasing offsets, up to @max_nr.
 */
static inline int swap_pte_batch(pte_t *start_ptep, int max_nr, pte_t pte)
{
	pte_t expected = pte_next_swp_offset(pte);
	pte_t *ptep = start_ptep + 1;
	int nr = 1;

	while (nr < max_nr) {
		pte = ptep_get(ptep);
		if (pte_to_swp_entry(pte).val != pte_to_swp_entry(expected).val)
			break;
		expected = pte_next_swp_offset(expected);
		ptep++;
		nr++;
	}
	return nr;
}
"""

BATCH_HELPER_V2 = BATCH_HELPER_V1.replace(
    "\t\tif (pte_to_swp_entry(pte).val != pte_to_swp_entry(expected).val)\n",
    "\t\tif (!pte_same(pte, expected))\n",
).replace(" * with increasing offsets", " * with increasing offsets and the same swap pte bits")

MEMORY_C = """\
// SPDX-License-Identifier: GPL-2.0-only
#include <linux/mm.h>
#include <linux/swap.h>
#include "internal.h"

vm_fault_t do_swap_page(struct vm_fault *vmf)
{
	struct vm_area_struct *vma = vmf->vma;
	struct folio *folio = NULL;
	swp_entry_t entry;
	pte_t pte;
	vm_fault_t ret = 0;

	if (!pte_unmap_same(vmf))
		goto out;

	entry = pte_to_swp_entry(vmf->orig_pte);
	folio = swap_cache_get_folio(entry, vma, vmf->address);
	if (!folio)
		return VM_FAULT_OOM;

	vmf->pte = pte_offset_map_lock(vma->vm_mm, vmf->pmd, vmf->address,
				       &vmf->ptl);
	if (unlikely(!vmf->pte || !pte_same(ptep_get(vmf->pte), vmf->orig_pte)))
		goto out_nomap;

	pte = mk_pte(&folio->page, vma->vm_page_prot);
	swap_free(entry);
	flush_icache_page(vma, &folio->page);
	set_pte_at(vma->vm_mm, vmf->address, vmf->pte, pte);
	arch_do_swap_page(vma->vm_mm, vma, vmf->address, pte, vmf->orig_pte);
	pte_unmap_unlock(vmf->pte, vmf->ptl);
out:
	return ret;
out_nomap:
	if (vmf->pte)
		pte_unmap_unlock(vmf->pte, vmf->ptl);
	return ret;
}
"""


def _memory_v1() -> str:
    s = MEMORY_C.replace(
        "\tvm_fault_t ret = 0;\n",
        "\tvm_fault_t ret = 0;\n"
        "\tint nr_pages = 1;\n"
        "\tunsigned long address = vmf->address;\n"
        "\tpte_t *start_pte = vmf->pte;\n",
    )
    s = s.replace(
        "\t\t\t\t       &vmf->ptl);\n",
        "\t\t\t\t       &vmf->ptl);\n"
        "\n"
        "\t/* a large folio in the swap cache: map all of it at once */\n"
        "\tif (folio_test_large(folio)) {\n"
        "\t\tint idx = folio_page_idx(folio, folio_file_page(folio, swp_offset(entry)));\n"
        "\t\tpte_t *first = vmf->pte - idx;\n"
        "\t\tint nr = folio_nr_pages(folio);\n"
        "\n"
        "\t\tif (swap_pte_batch(first, nr, ptep_get(first)) == nr) {\n"
        "\t\t\taddress = vmf->address - idx * PAGE_SIZE;\n"
        "\t\t\tstart_pte = first;\n"
        "\t\t\tnr_pages = nr;\n"
        "\t\t}\n"
        "\t}\n",
    )
    s = s.replace(
        "\tset_pte_at(vma->vm_mm, vmf->address, vmf->pte, pte);\n",
        "\tset_ptes(vma->vm_mm, address, start_pte, pte, nr_pages);\n",
    )
    return s


def _memory_v2() -> str:
    s = _memory_v1().replace("start_pte", "start_ptep")
    s = s.replace(
        "\t\tif (swap_pte_batch(first, nr, ptep_get(first)) == nr) {\n",
        "\t\tunsigned long start = vmf->address - idx * PAGE_SIZE;\n"
        "\n"
        "\t\tif (start >= vma->vm_start && start + nr * PAGE_SIZE <= vma->vm_end &&\n"
        "\t\t    swap_pte_batch(first, nr, ptep_get(first)) == nr) {\n",
    )
    s = s.replace("\tswap_free(entry);\n", "\tswap_free_nr(entry, nr_pages);\n")
    s = s.replace(
        "\tarch_do_swap_page(vma->vm_mm, vma, vmf->address, pte, vmf->orig_pte);\n",
        "\tif (nr_pages == 1)\n"
        "\t\tarch_do_swap_page(vma->vm_mm, vma, vmf->address, pte, vmf->orig_pte);\n",
    )
    return s


def _memory_v3() -> str:
    s = _memory_v2()
    # the copy is taken after the re-map and the NULL check comes first
    s = s.replace("\tpte_t *start_ptep = vmf->pte;\n", "\tpte_t *start_ptep;\n")
    s = s.replace(
        "\t\t\t\t       &vmf->ptl);\n\n\t/* a large folio",
        "\t\t\t\t       &vmf->ptl);\n"
        "\tif (unlikely(!vmf->pte || !pte_same(ptep_get(vmf->pte), vmf->orig_pte)))\n"
        "\t\tgoto out_nomap;\n"
        "\tstart_ptep = vmf->pte;\n\n\t/* a large folio",
    )
    s = s.replace(
        "\tflush_icache_page(vma, &folio->page);\n",
        "\tflush_icache_pages(vma, &folio->page, nr_pages);\n",
    )
    s = s.replace(
        "\tif (nr_pages == 1)\n\t\tarch_do_swap_page(",
        "\tarch_swap_restore_nr(folio, nr_pages);\n\tif (nr_pages == 1)\n\t\tarch_do_swap_page(",
    )
    return s


def make_diff(path: str, old: str, new: str) -> str:
    """A git-style diff of one file (index line included, as git mails it)."""
    body = difflib.unified_diff(
        old.splitlines(keepends=True), new.splitlines(keepends=True), f"a/{path}", f"b/{path}", n=3
    )
    lines = list(body)
    head = f"diff --git a/{path} b/{path}\nindex 3a1f0c2..9be4d71 100644\n"
    # difflib puts a trailing space-less header; git has none after the names
    return head + "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def _internal(helper: str) -> str:
    return INTERNAL_H.replace("\n#endif", "\n" + helper + "\n#endif")


def _patch(version: int, index: int, total: int, subject: str, diff: str, day: int) -> Patch:
    return Patch(
        index=index,
        total=total,
        subject=subject,
        message_id=f"20261{version}0{day}093000.4711-{index}-ada@swapwright.example",
        author=AUTHOR,
        date=f"Mon, {day} Nov 2026 09:30:0{index} +0000",
        diff_text=diff,
        body=f"{subject}\n\nSigned-off-by: {AUTHOR}\n",
        raw_subject=f"[PATCH v{version} {index}/{total}] {subject}",
    )


def sample_revision(version: int) -> Revision:
    helper = BATCH_HELPER_V1 if version == 1 else BATCH_HELPER_V2
    memory = {1: _memory_v1, 2: _memory_v2, 3: _memory_v3}[version]()
    day = {1: 2, 2: 9, 3: 16}[version]
    patches = (
        _patch(
            version,
            1,
            2,
            "mm: swap: add swap_pte_batch()",
            make_diff("mm/internal.h", INTERNAL_H, _internal(helper)),
            day,
        ),
        _patch(
            version,
            2,
            2,
            "mm: swap: map large folios found in the swap cache in one fault",
            make_diff("mm/memory.c", MEMORY_C, memory),
            day,
        ),
    )
    cover = Patch(
        index=0,
        total=2,
        subject=TITLE,
        message_id=f"20261{version}0{day}093000.4711-0-ada@swapwright.example",
        author=AUTHOR,
        date=f"Mon, {day} Nov 2026 09:30:00 +0000",
        diff_text="",
        raw_subject=f"[PATCH v{version} 0/2] {TITLE}",
    )
    return Revision(
        version=version, patches=patches, cover=cover, base_commit="1a2b3c4d5e6f", total=2
    )


def _line(rev: Revision, index: int, needle: str) -> int:
    """Post-image line number of the first added or context line containing needle."""
    from reviewbot.storage.diffs import hunks

    patch = next(p for p in rev.patches if p.index == index)
    for h in hunks(patch.diff_text):
        for dl in h.lines:
            if dl.new is not None and needle in dl.text:
                return dl.new
    raise AssertionError(f"{needle!r} not in v{rev.version} patch {index}")


def _finding(
    rev: Revision,
    checker: str,
    sev: Severity,
    file_patch: int,
    function: str,
    needle: str,
    message: str,
    evidence: list[tuple[str, str]],
    key: str = "",
) -> Finding:
    patch = next(p for p in rev.patches if p.index == file_patch)
    path = "mm/memory.c" if file_patch == 2 else "mm/internal.h"
    return Finding(
        checker=checker,
        severity=sev,
        file=path,
        line=_line(rev, file_patch, needle),
        function=function,
        message=message,
        evidence=tuple(
            Evidence(_line(rev, file_patch, text), role, text) for role, text in evidence
        ),
        patch_index=file_patch,
        patch_message_id=patch.message_id,
        key=key,
    )


def sample_findings(rev: Revision) -> tuple[Finding, ...]:
    v = rev.version
    ptr = "start_pte" if v == 1 else "start_ptep"
    out: list[Finding] = []
    if v in (1, 2):
        out.append(
            _finding(
                rev,
                "stale-pointer",
                Severity.POSSIBLE_BUG,
                2,
                "do_swap_page",
                f"pte_t *{ptr} = vmf->pte;",
                f"{ptr} is a copy of vmf->pte taken here, but vmf->pte is re-obtained by "
                "pte_offset_map_lock() and the copy is still used by set_ptes().",
                [("copied", "vmf->pte;"), ("re-obtained", "vmf->pte = pte_offset_map_lock(")],
                key="vmf->pte",
            )
        )
        out.append(
            _finding(
                rev,
                "unchecked-null-pte",
                Severity.BUG,
                2,
                "do_swap_page",
                "pte_t *first = vmf->pte - idx;",
                "vmf->pte may be NULL here: pte_offset_map_lock() can fail, and the NULL check "
                "only comes later.",
                [
                    ("re-obtained", "vmf->pte = pte_offset_map_lock("),
                    ("used", "pte_t *first = vmf->pte - idx;"),
                ],
            )
        )
        out.append(
            _finding(
                rev,
                "batch-bit-uniformity",
                Severity.POSSIBLE_BUG if v == 1 else Severity.QUESTION,
                2,
                "do_swap_page",
                "set_ptes(",
                "the soft-dirty and uffd-wp bits of the faulting entry are applied to all nr entries.",
                [("batched", "set_ptes(")],
            )
        )
        out.append(
            _finding(
                rev,
                "incomplete-batch-conversion",
                Severity.POSSIBLE_BUG,
                2,
                "do_swap_page",
                "flush_icache_page(",
                "flush_icache_page() handles one page in a batched path.",
                [("single", "flush_icache_page(")],
                key="flush_icache_page",
            )
        )
    if v == 1:
        out.append(
            _finding(
                rev,
                "incomplete-batch-conversion",
                Severity.POSSIBLE_BUG,
                2,
                "do_swap_page",
                "swap_free(entry);",
                "swap_free() frees one entry in a batched path: use swap_free_nr().",
                [("single", "swap_free(entry);")],
                key="swap_free",
            )
        )
        out.append(
            _finding(
                rev,
                "batch-bounds",
                Severity.BUG,
                2,
                "do_swap_page",
                "if (swap_pte_batch(first, nr, ptep_get(first)) == nr) {",
                "the batch may start before vma->vm_start or end after vma->vm_end.",
                [("batched", "pte_t *first = vmf->pte - idx;")],
            )
        )
        out.append(
            _finding(
                rev,
                "ptep-naming",
                Severity.NIT,
                2,
                "do_swap_page",
                "pte_t *start_pte = vmf->pte;",
                "start_pte is a pte_t *; start_ptep would say so.",
                [("declared", "pte_t *start_pte")],
            )
        )
    if v == 2:
        out.append(
            _finding(
                rev,
                "incomplete-batch-conversion",
                Severity.POSSIBLE_BUG,
                2,
                "do_swap_page",
                "arch_do_swap_page(",
                "arch_do_swap_page() restores one page only when nr_pages > 1.",
                [("single", "arch_do_swap_page(")],
                key="arch_do_swap_page",
            )
        )
    if v == 3:
        out.append(
            _finding(
                rev,
                "batch-bit-uniformity",
                Severity.NOTE,
                2,
                "do_swap_page",
                "set_ptes(",
                "the bits of the faulting entry are applied to all nr entries; safe: swap_pte_batch() "
                "compares each entry with pte_same().",
                [("checked", "set_ptes(")],
                key="safe",
            )
        )
    return tuple(out)


def sample_simulation(rev: Revision) -> SimulationResult:
    tag = f"v{rev.version}"
    if rev.version == 3:
        runs = (
            SimRun("table-freed order=4 index=3", tag, "pass"),
            SimRun("large-hit order=2 index=0", tag, "pass"),
        )
    else:
        runs = (
            SimRun(
                "table-freed order=4 index=3",
                tag,
                "fail",
                "null-deref",
                "pointer arithmetic on NULL vmf->pte",
                (
                    "fault on page 3 of a 16-page folio",
                    "page table freed concurrently",
                    "pte_offset_map_lock() returned NULL",
                    "vmf->pte - idx evaluated",
                ),
            ),
            SimRun("large-hit order=2 index=0", tag, "pass"),
        )
    return SimulationResult(runs=runs, coverage={"lines": 0.8})


def sample_review(version: int, *, applied: bool = True) -> Review:
    rev = sample_revision(version)
    status = ApplyStatus.APPLIED if applied else ApplyStatus.FAILED
    apply = ApplyResult(
        base="1a2b3c4d5e6f",
        base_source="trailer",
        patches=tuple(
            PatchApply(p.index, status if p.index == 2 else ApplyStatus.APPLIED)
            for p in rev.patches
        ),
    )
    return Review(
        series=Series(TITLE, AUTHOR, CHANGE_ID),
        revision=rev,
        apply=apply,
        findings=sample_findings(rev),
        simulation=sample_simulation(rev),
    )


PAYLOAD = '<script>window.__pwned=1</script>"><img src=x onerror="window.__pwned=1">'
ATTR = '" onmouseover="window.__pwned=1" data-injected="1'


def hostile_review() -> Review:
    """A series whose subject, author, hunks and messages try to inject markup."""
    diff = make_diff(
        "mm/evil.c",
        "int x;\n",
        f'int x;\n/* {PAYLOAD} */\nchar *s = "{ATTR}";\n',
    )
    subject = f"mm: {PAYLOAD} {ATTR}"
    author = f"Mallory {ATTR} <m@{PAYLOAD}.example>"
    patch = Patch(
        index=1,
        total=1,
        subject=subject,
        message_id=f"evil-{ATTR}@example",
        author=author,
        date="Tue, 3 Nov 2026 10:00:00 +0000",
        diff_text=diff,
        raw_subject=f"[PATCH] {subject}",
    )
    rev = Revision(version=1, patches=(patch,), total=1)
    finding = Finding(
        checker="stale-pointer",
        severity=Severity.BUG,
        file="mm/evil.c",
        line=2,
        function=f"f{ATTR}",
        message=f"bad {PAYLOAD}",
        evidence=(Evidence(2, "used", PAYLOAD),),
        patch_index=1,
        patch_message_id=patch.message_id,
    )
    return Review(
        series=Series(subject, author, None),
        revision=rev,
        apply=ApplyResult("abc", "HEAD", (PatchApply(1, ApplyStatus.APPLIED),)),
        findings=(finding,),
        simulation=SimulationResult(
            (SimRun(f"s{PAYLOAD}", "v1", "fail", "k", PAYLOAD, (PAYLOAD,)),)
        ),
    )


def retitled(review: Review, title: str, author: str | None = None) -> Review:
    """The same review under another series identity (for filter tests)."""
    series = replace(
        review.series, title=title, author=author or review.series.author, change_id=None
    )
    rev = review.revision
    tag = hashlib.sha1(f"{title}\0{series.author}\0{rev.version}".encode()).hexdigest()[:12]
    patches = tuple(replace(p, message_id=f"{tag}-{p.index}@x") for p in rev.patches)
    cover = replace(rev.cover, message_id=f"{tag}-0@x") if rev.cover else None
    return replace(review, series=series, revision=replace(rev, patches=patches, cover=cover))
