"""An ``ExitProblem`` from IR: the spec's open values and assumptions, as lowered by the property.

The property lowers what sema resolved (``any`` domains, ``assume`` conditions) to IR terms over
IR variables, one per open value; this module encodes them with the shared IR encoder
(``vmxspec.symbolic.ir_to_z3``) into the same Z3 context the exit encoders use, so an open VMCS
field is one Z3 constant in both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import z3

from vmxspec.ir.terms import Term, Var
from vmxspec.state.model import State
from vmxspec.symbolic.exits.check import ExitProblem
from vmxspec.symbolic.exits.vmcs import Fact
from vmxspec.symbolic.ir_to_z3 import Encoder


def problem_from_ir(state: State, open_fields: Mapping[str, Var], constraints: Sequence[Term],
                    named: Mapping[str, Var] | None = None, untrusted: Mapping[str, str] | None = None,
                    fixed: Mapping[Var, int] | None = None, labels: Mapping[int, str] | None = None,
                    defaults: Mapping[str, int] | None = None, pins: Mapping[Fact, Term] | None = None) -> ExitProblem:
    """``open_fields`` maps the VM's open VMCS fields to their IR variables (of the field's width);
    ``constraints`` are boolean IR terms (domains and assumptions); ``named`` every open value to
    report; ``fixed`` open values pinned to a value (those the built state already depends on).
    For ``--explain``: ``labels`` names the constraints (by index) that stand for a spec line,
    ``defaults`` each open field's default value, ``pins`` the equalities that pin the
    ``free.NAME`` variables of given fields the constraints were lowered with."""
    encoder = Encoder(z3.main_ctx())
    open_vars = {name: encoder.constant(var) for name, var in open_fields.items()}
    encoded = [encoder.encode(term) for term in constraints]
    for var, value in (fixed or {}).items():
        const = encoder.constant(var)
        encoded.append(const == z3.BitVecVal(value, const.size()))
    reported = {name: encoder.constant(var) for name, var in (named or {}).items()}
    encoded_pins = {fact: encoder.encode(term) for fact, term in (pins or {}).items()}
    return ExitProblem(state, open_vars, tuple(encoded), reported, dict(untrusted or {}), dict(labels or {}),
                       dict(defaults or {}), encoded_pins)
