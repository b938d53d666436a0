"""State of the simulated mm: page tables, PTEs, swap, folios, the VMA.

State only: nothing here knows about C or about do_swap_page.  The kernel
primitives (``sim.kernel``) change this state; the invariants
(``sim.invariants``) read it.
"""
