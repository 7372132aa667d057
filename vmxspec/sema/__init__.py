"""Semantic analysis: from a spec's syntax tree to a resolved, checked model.

``analyze(path_or_tree)`` reads a spec and its imports, resolves every name against
``vmxspec.arch`` (control bits, VMCS fields, MSRs, register bits, exceptions, instructions and
events, platform presets) and against the spec's own declarations (VMs, IOMMUs, domains), checks
widths, ranges, alignment and conflicts, and returns a ``Model`` (``sema.model``) with the
diagnostics, each with a stable code from ``vmxspec.codes``.
"""

from vmxspec.sema.analyze import analyze
from vmxspec.sema.intervals import IntervalSet
from vmxspec.sema.model import Model, Open

__all__ = ["IntervalSet", "Model", "Open", "analyze"]
