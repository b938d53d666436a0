"""unchecked-null-pte summarises a helper's body once: the memory of that
summary must follow the helper, not its caller.  A helper in another file
that a later tree state changes (from "tests for NULL" to "reads it") gives
a new answer, though the caller's file is the same bytes in both states."""

from __future__ import annotations

from pathlib import Path

from checkers.frontend import all_functions, parse
from checkers.registry import function_checkers
from checkers.treeview import DirectoryTreeView

CALLER = b"""// SPDX-License-Identifier: GPL-2.0
static int claim_slot(struct mm_struct *mm, pmd_t *pmd, unsigned long addr, pte_t entry)
{
	spinlock_t *ptl;
	pte_t *ptep = pte_offset_map_lock(mm, pmd, addr, &ptl);

	if (!slot_is_free(ptep))
		return -EBUSY;
	set_pte_at(mm, addr, ptep, entry);
	pte_unmap_unlock(ptep, ptl);
	return 0;
}
"""

CHECKS = b"""// SPDX-License-Identifier: GPL-2.0
bool slot_is_free(pte_t *ptep)
{
	if (!ptep)
		return false;
	return pte_none(ptep_get(ptep));
}
"""

READS = b"""// SPDX-License-Identifier: GPL-2.0
bool slot_is_free(pte_t *ptep)
{
	return pte_none(ptep_get(ptep));
}
"""


def _findings(root: Path, helper: bytes) -> list[str]:
    (root / "mm").mkdir(parents=True, exist_ok=True)
    (root / "mm" / "claim.c").write_bytes(CALLER)
    (root / "mm" / "slot.c").write_bytes(helper)
    view = DirectoryTreeView(root)
    pf = parse(CALLER, "mm/claim.c")
    view.add(pf)
    view.add(parse(helper, "mm/slot.c"))
    (checker,) = [c for c in function_checkers() if c.info.id == "unchecked-null-pte"]
    return [f.checker for u in all_functions(pf) for f in checker.check_function(u, view)]


def test_a_helper_changed_in_another_file_is_summarised_again(tmp_path: Path) -> None:
    assert _findings(tmp_path / "one", CHECKS) == []
    assert _findings(tmp_path / "two", READS) == ["unchecked-null-pte"]
    # and back: the answer is the helper's, whatever was asked before
    assert _findings(tmp_path / "three", CHECKS) == []
