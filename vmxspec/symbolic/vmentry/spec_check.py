"""``vmentry_valid`` over the open fields of a spec: the solver side of the property.

The property (``vmxspec.properties.vmentry_valid``) builds the concrete state with placeholder
values for the open fields; here those fields become variables again, restricted to their
``any`` domain and to the spec's assumptions (IR terms), and the solver answers two questions on
one solver: can the assumptions hold at all (vacuity), and can any rule be violated under them?
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import z3

from vmxspec import ir
from vmxspec.state import State
from vmxspec.symbolic.ir_to_z3 import Encoder
from vmxspec.symbolic.state import SymState
from vmxspec.symbolic.vmentry import EntryEncoding


@dataclass(frozen=True, slots=True)
class OpenField:
    """An open VMCS field: the bits the solver may choose and the value ranges it must stay in."""

    mask: int
    domain: tuple[tuple[int, int], ...] | None = None


@dataclass(frozen=True, slots=True)
class EntryVerdict:
    status: Literal["proved", "violated", "unknown", "vacuous"]
    values: dict[str, int]
    violated: tuple[str, ...] = ()
    reason: str = ""
    unevaluated: Mapping[str, str] | None = None
    smtlib: str = ""


def check_entry(state: State, open_fields: Mapping[str, OpenField], assumptions: Iterable[ir.Term],
                timeout_ms: int, rlimit: int) -> EntryVerdict:
    sym = SymState.from_state(state, {name: f.mask for name, f in open_fields.items()})
    encoding = EntryEncoding(sym, timeout_ms=timeout_ms, rlimit=rlimit)
    encoder = Encoder(z3.main_ctx())
    constraints: list[z3.BoolRef] = []
    for name, f in open_fields.items():
        if f.domain is not None:
            var = sym.field(name)
            constraints.append(z3.Or(False, *(z3.And(z3.UGE(var, lo), z3.ULT(var, hi)) if hi < 1 << var.size()
                                              else z3.UGE(var, lo) for lo, hi in f.domain)))
    constraints.extend(encoder.encode(term) for term in assumptions)
    smtlib = _smtlib(encoding, constraints)
    feasible = _satisfiable(constraints, timeout_ms, rlimit) if constraints else "sat"
    if feasible == "unsat":
        return EntryVerdict("vacuous", {}, reason="the open fields' domains and the assumptions cannot all hold",
                            smtlib=smtlib)
    answer = encoding.find_violation(None, constraints)
    if answer.status == "sat":
        assert answer.witness is not None
        return EntryVerdict("violated", dict(answer.witness.fields), answer.witness.violated, smtlib=smtlib)
    if answer.status == "unknown" or feasible == "unknown":
        return EntryVerdict("unknown", {}, reason=answer.reason or "the solver could not decide the assumptions",
                            smtlib=smtlib)
    return EntryVerdict("proved", {}, unevaluated=dict(encoding.unevaluated), smtlib=smtlib)


def _satisfiable(constraints: list[z3.BoolRef], timeout_ms: int, rlimit: int) -> str:
    solver = z3.Solver()
    solver.set("timeout", timeout_ms)
    solver.set("rlimit", rlimit)
    solver.add(*constraints)
    return str(solver.check())


def _smtlib(encoding: EntryEncoding, constraints: list[z3.BoolRef]) -> str:
    solver = z3.Solver()
    solver.add(*constraints)
    solver.add(z3.Not(encoding.ok))
    text: str = solver.to_smt2()
    return text
