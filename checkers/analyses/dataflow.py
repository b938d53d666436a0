"""A forward "may" dataflow framework over the CFG.

A state is a frozenset of facts (hashable tuples chosen by the analysis);
states meet by union, so a fact holds at a point when it holds on *some* path
to it.  Path sensitivity comes from the condition edges: an analysis refines
the state on the true and false edges of each condition atom (``if (!pte)``
kills "pte may be NULL" on the edge where pte is known non-NULL).  Facts
carry the CFG node that created them, which bounds the state to the facts a
function can create and lets a finding name where its story started.

Must-alias copies (``a = b = f()``) are the analyses' business: they give
every alias a fact with the same origin, and a check through any alias kills
every fact of that origin.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from checkers.analyses.cfg import Cfg, CfgNode

Fact = tuple[object, ...]
State = frozenset[Fact]
Transfer = Callable[[CfgNode, State], State]
Refine = Callable[[CfgNode, bool, State], State]

MAX_VISITS = 200_000
MAX_SECONDS = 2.0  # per function and analysis: a review must not hang on one function


class DataflowLimit(Exception):
    """The fixpoint did not converge within the visit budget."""


@dataclass(frozen=True)
class Solution:
    before: list[State]  # state on entry to each node
    after: list[State]  # state after each node's own effects (before edge refinement)


def solve(
    cfg: Cfg, transfer: Transfer, refine: Refine | None = None, initial: State = frozenset()
) -> Solution:
    n = len(cfg.nodes)
    before: list[State] = [frozenset()] * n
    after: list[State] = [frozenset()] * n
    reached = [False] * n
    before[cfg.entry] = initial
    reached[cfg.entry] = True
    work = [cfg.entry]
    queued = [False] * n
    queued[cfg.entry] = True
    visits = 0
    deadline = time.monotonic() + MAX_SECONDS
    while work:
        i = work.pop()
        queued[i] = False
        visits += 1
        if visits > MAX_VISITS:
            raise DataflowLimit("dataflow did not converge")
        if visits % 1024 == 0 and time.monotonic() > deadline:
            raise DataflowLimit(f"dataflow took longer than {MAX_SECONDS:.0f} s")
        node = cfg.nodes[i]
        out = transfer(node, before[i]) if node.ast is not None else before[i]
        after[i] = out
        for target, label in node.succ:
            edge_state = out
            if label is not None and refine is not None:
                edge_state = refine(node, label, out)
            merged = before[target] | edge_state if reached[target] else edge_state
            if not reached[target] or merged != before[target]:
                reached[target] = True
                before[target] = merged
                if not queued[target]:
                    queued[target] = True
                    work.append(target)
    return Solution(before, after)
