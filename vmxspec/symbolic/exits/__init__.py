"""The second semantics of VM-exit decisions, in Z3 expression style, for ``prove exits(VM)``.

For one event of an ``exits`` list, over a *symbolic* operand (MSR index, port and size, CR value,
vector and error code, VMCS field, guest-physical address ...) and the *concrete* VMCS, bitmaps and
EPT of the built state (with the spec's open fields as variables), ``check_event`` either proves
that every operand in the spec's set causes a VM exit in every guest context, or finds an escape and
turns it into an interpreter question. Written from the SDM and the shared facts in
``vmxspec.arch`` independently of ``vmxspec.interp.exits``; ``concrete_exit`` gives the decision for
one concrete event, which the differential tests hold equal to the interpreter's.

Decisions (each documented where it is made):

* Guest context (``guest``): CPL, CR0, CR4, RFLAGS, interruptibility, activity state, SMM and
  IA32_XSS are free: "every guest state it can reach" is over-approximated by every state.
* Escape (``decision``): the event takes effect without its own VM exit. Faults with priority over
  the exit, and faults raised instead of executing (MOV DR's #UD/#GP, MOV to CR8's reserved-bit
  #GP), are no escape; an MTF VM exit after the event does not count as its exit.
* Operands (``events``, ``msr_io``): exceptions are the architecturally defined vectors; a #PF
  error code has only its defined bits (7:0, 15); I/O covers sizes 1, 2 and 4, immediate ports
  only up to FFH; every other operand ranges over its whole width.
* Fields (``vmcs``): unset fields are free variables, never 0; bitmaps are read only at concrete
  addresses, as interval sets (``bitmaps``), never as arrays.
* EPT (``ept``): a concrete sweep from the EPT pointer; EPT off, EPT-violation #VE and open EPT
  values are "unknown".
* Nested (``nested``): vmcs12's fields are variables and its bitmaps uninterpreted predicates,
  vmcs02 is built from the nested block's definitions; an event that exits by its own rule under
  vmcs01 (or vmcs12) must not escape under vmcs02. For CR0/CR4 writes, LMSW and CLTS under vmcs01
  the comparison is by ownership (L1's read shadow means nothing to L2).
* The VMCS is not assumed to pass VM entry (``vmentry_valid`` says whether it does), except that
  a nested vmcs12 passes the checks on the VMX controls against the capabilities L1 sees.
"""

from __future__ import annotations

from collections.abc import Mapping

import z3

from vmxspec.state.model import State
from vmxspec.symbolic.exits.check import EventResult, ExitProblem, Witness, check_event
from vmxspec.symbolic.exits.encode import EVENT_KINDS, EventQuery, UnknownEvent, build
from vmxspec.symbolic.exits.env import Env
from vmxspec.symbolic.exits.guest import Guest
from vmxspec.symbolic.exits.vmcs import VmcsView

#: Operand keys of the state format that stand for a boolean operand of an encoder.
_FLAG_OPERANDS = {"immediate": "operand", "rep": "rep", "io_permitted": "io_permitted"}


def concrete_exit(state: State, kind: str, name: str, ops: Mapping[str, int]) -> bool:
    """The ``exit`` bit for one concrete event: ``kind`` is the state format's event kind, ``name``
    the mnemonic for instructions, ``ops`` the operands as ints (booleans and the I/O ``operand``
    encoding as 0/1, as the interpreter parses them). Operands, guest context and unset fields
    the decision does not need may be absent: they are pinned to 0."""
    view = VmcsView(state)
    guest = Guest()
    decision = build(Env(view, guest), EventQuery(name if kind == "instruction" else kind.upper(), kind))
    pins: list[tuple[z3.ExprRef, z3.ExprRef]] = list(guest.pins(state.cpu))
    for key, term in decision.operands.items():
        if z3.is_bool(term):
            if key == "has_last_pause":
                value = "since_last_pause" in ops
            elif key == "has_loop_start":
                value = "since_loop_start" in ops
            else:
                value = bool(ops.get(_FLAG_OPERANDS.get(key, key), 0))
            pins.append((term, z3.BoolVal(value)))
        else:
            raw = ops.get(key, 0)
            if key == "edx_eax" and key not in ops:
                raw = ops.get("edx", 0) << 32 | ops.get("eax", 0)
            pins.append((term, z3.BitVecVal(raw & ((1 << term.size()) - 1), term.size())))
    pins += [(var, z3.BitVecVal(0, var.size())) for var in view.unset.values()]
    result = z3.simplify(z3.substitute(decision.exit, *pins))
    if not (z3.is_true(result) or z3.is_false(result)):
        raise AssertionError(f"the exit decision of {name} is not constant once pinned: {result}")
    return bool(z3.is_true(result))


def concrete_ept_translates(state: State, gpa: int, access: str, user: bool = False) -> bool:
    """Whether one guest-physical access translates (no EPT violation or misconfiguration) by the
    swept EPT of ``state``: the escape condition of EPT_VIOLATION with its operands pinned."""
    view = VmcsView(state)
    decision = build(Env(view, Guest()), EventQuery("EPT_VIOLATION", "ept_violation", "gpa", ((gpa, gpa + 1),)))
    ops = decision.operands
    code = ("read", "write", "fetch").index(access)
    pins = [(ops["gpa"], z3.BitVecVal(gpa, 64)), (ops["access"], z3.BitVecVal(code, 2)),
            (ops["user"], z3.BoolVal(user))]
    result = z3.simplify(z3.substitute(z3.And(decision.valid, decision.escape), *pins))
    return bool(z3.is_true(result))


__all__ = ["EVENT_KINDS", "EventQuery", "EventResult", "ExitProblem", "UnknownEvent", "Witness", "build",
           "check_event", "concrete_ept_translates", "concrete_exit"]
