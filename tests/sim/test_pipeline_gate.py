"""Which entries the check pipeline simulates: those whose execution on the
base runs a function the series changes (measured, then remembered)."""

from __future__ import annotations

from pathlib import Path

from reviewbot.pipeline import simulate as sim
from sim.tree import DirectoryTree


def test_each_entry_runs_only_for_what_it_executes(kernel_tree: Path) -> None:
    tree = DirectoryTree(kernel_tree)
    assert sim.simulated_entries()[0] == "do_swap_page"
    # swap_pte_batch() runs in the swap-in fault, the zap and MADV_FREE walks
    assert sim.entries_touched(tree, {"swap_pte_batch"}) == [
        "do_swap_page",
        "madvise_free_pte_range",
        "zap_pte_range",
    ]
    assert sim.entries_touched(tree, {"madvise_free_pte_range"}) == ["madvise_free_pte_range"]
    assert sim.entries_touched(tree, {"change_pte_range"}) == ["change_pte_range"]
    # defined in mm/swapfile.c, which no entry executes: no measuring at all
    assert sim.entries_touched(tree, {"swap_free_nr"}) == []
    # do_swap_page's file defines it, but no scenario reaches it
    assert "do_swap_page" not in sim.entries_touched(tree, {"do_wp_page"})
    assert sim.entries_touched(tree, set()) == []
