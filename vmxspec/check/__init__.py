"""The checker's driver: spec -> obligations (one per ``prove``) -> solve -> replay -> results.

Properties live in ``vmxspec.properties``; this package runs them, times them, replays every
counterexample in the reference interpreter, and turns a disagreement between the two semantics
into an internal error with a reproduction bundle, never into a verdict.
"""
