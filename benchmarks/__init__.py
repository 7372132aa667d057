"""Benchmarks: generators of inputs and a runner that prints figures (``python -m benchmarks.run``).

Speed is measured here, never in timed tests. Each module exposes ``run(quick: bool) -> list[Figure]``.
"""
