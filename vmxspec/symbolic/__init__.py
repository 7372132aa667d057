"""The symbolic side: IR to Z3, and the solver driver. The only package that imports z3.

Written in expression style (``If``, ``And``, ``Extract``), never by running the interpreter on Z3
values: Python's ``if`` on a Z3 term decides nothing (DESIGN.md, "Two semantics, one set of facts").
"""
