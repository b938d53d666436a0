"""Run every ``benchmarks/bench_*.py`` module's ``main()`` (``make bench``).

``python -m benchmarks NAME`` runs only the modules whose name contains NAME.
Each module's figures are framed by the machine's load average at its start
and end: on a shared machine wall times mean little without it.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

import benchmarks


def main(argv: list[str]) -> int:
    wanted = argv[1:]
    failed = 0
    for mod in sorted(pkgutil.iter_modules(benchmarks.__path__), key=lambda m: m.name):
        if not mod.name.startswith("bench_"):
            continue
        if wanted and not any(w in mod.name for w in wanted):
            continue
        print(f"== {mod.name} ({benchmarks.load_average()})", flush=True)
        t0 = time.perf_counter()
        try:
            importlib.import_module(f"benchmarks.{mod.name}").main()
        except Exception as exc:  # report and go on to the next benchmark
            failed += 1
            print(f"   {mod.name} failed: {exc!r}")
        took = time.perf_counter() - t0
        print(f"   ({took:.1f} s; {benchmarks.load_average()} at the end)\n", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
