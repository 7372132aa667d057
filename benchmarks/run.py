"""Run every benchmark and print its figures: ``python -m benchmarks.run [--quick] [NAME ...]``.

Benchmarks run in this one process on one core; the figures are what the issues' targets refer to.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from benchmarks.figures import Figure

BENCHMARKS = ("bench_vmentry", "bench_ept", "bench_dma", "bench_exits", "bench_spec", "bench_isolation",
              "bench_exits_property")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run")
    parser.add_argument("names", nargs="*", help=f"subset of {', '.join(BENCHMARKS)}")
    parser.add_argument("--quick", action="store_true", help="smaller inputs, shorter timing")
    args = parser.parse_args(argv)
    figures: list[Figure] = []
    for name in args.names or BENCHMARKS:
        module = importlib.import_module(f"benchmarks.{name}")
        figures.extend(module.run(args.quick))
    width = max(len(f.name) for f in figures)
    for f in figures:
        verdict = "" if f.meets_target is None else ("  meets target" if f.meets_target else "  BELOW TARGET")
        target = f" (target {f.target:,.0f})" if f.target is not None else ""
        value = f"{f.value:>14,.0f}" if f.value >= 100 else f"{f.value:>14,.2f}"
        print(f"{f.name:<{width}}  {value} {f.unit}{target}{verdict}")
    return 0 if all(f.meets_target is not False for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
