"""The swap-in simulator: a model of mm and an interpreter for do_swap_page."""
