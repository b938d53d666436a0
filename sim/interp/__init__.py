"""An interpreter for the C that do_swap_page and its helpers are written in.

The revision's own source is compiled, once per function, from the
tree-sitter AST into Python closures (one small compile method per node
type, as byterun has one method per opcode) and run against ``sim.model``.
Nothing from a patch ever runs on the host: the only effects the C can have
are on the model, through ``sim.kernel`` primitives, within step and depth
budgets.
"""
