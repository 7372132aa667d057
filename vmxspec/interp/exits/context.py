"""What an exit decision reads: VMCS fields, the live guest context (``cpu``), memory bitmaps.

Everything is read on demand, so a question needs only the fields its decision actually depends
on (CPUID needs none; RDMSR of an MSR outside both bitmap ranges does not need the MSR-bitmap
address). A field or ``cpu`` key the decision needs but the state lacks is a StateError
"missing-field", never a made-up zero.
"""

from __future__ import annotations

from vmxspec.arch.controls import ControlBit, ControlField, control_mask
from vmxspec.arch.exits import ACTIVITY_STATES
from vmxspec.arch.rules import BY_ID
from vmxspec.state import State, StateError

PIN_FIELD, PROC_FIELD, PROC2_FIELD = ("PIN_BASED_VM_EXEC_CONTROL", "CPU_BASED_VM_EXEC_CONTROL",
                                      "SECONDARY_VM_EXEC_CONTROL")
_ACTIVATE_SECONDARY = control_mask(ControlField.PROC, "activate_secondary_controls")

#: Every rule id the interpreter names, registered at import through ``rid``.
USED_RULES: set[str] = set()


def rid(rule_id: str) -> str:
    """A rule id the interpreter uses; an id missing from the catalogue fails at import time."""
    if rule_id not in BY_ID:
        raise AssertionError(f"the exit interpreter names '{rule_id}', which is not in the rule catalogue")
    USED_RULES.add(rule_id)
    return rule_id


def quoted(bit: ControlBit) -> str:
    """A control's name as the SDM writes it in running text: “use MSR bitmaps”, “HLT exiting”."""
    title = bit.title
    if not title[:2].isupper():
        title = title[0].lower() + title[1:]
    return f"\"{title}\""


class ExitContext:
    """One decision's view of the state. Control fields are read once and kept."""

    __slots__ = ("_cpu", "_pin", "_proc", "_proc2", "_vmcs", "state")

    def __init__(self, state: State) -> None:
        self.state = state
        self._vmcs = state.vmcs
        self._cpu = state.cpu
        self._pin = -1
        self._proc = -1
        self._proc2 = -1

    # -- VMCS ---------------------------------------------------------------------------------------

    def field(self, name: str) -> int:
        value = self._vmcs.get(name)
        if value is None:
            raise StateError("missing-field", f"this exit decision needs the VMCS field {name}, which the state "
                             "does not give", f"vmcs.{name}")
        return value

    def pin(self) -> int:
        if self._pin < 0:
            self._pin = self.field(PIN_FIELD)
        return self._pin

    def proc(self) -> int:
        if self._proc < 0:
            self._proc = self.field(PROC_FIELD)
        return self._proc

    def proc2(self) -> int:
        """The secondary controls in effect: all 0 when "activate secondary controls" is 0 (the
        processor then does not read the field, so the state need not give it)."""
        if self._proc2 < 0:
            self._proc2 = self.field(PROC2_FIELD) if self.proc() & _ACTIVATE_SECONDARY else 0
        return self._proc2

    def has(self, bit: ControlBit) -> bool:
        if bit.field is ControlField.PROC:
            return bool(self.proc() & bit.mask)
        if bit.field is ControlField.PROC2:
            return bool(self.proc2() & bit.mask)
        if bit.field is ControlField.PIN:
            return bool(self.pin() & bit.mask)
        raise AssertionError(f"exit decisions read no {bit.field.title}")

    def setting(self, bit: ControlBit) -> str:
        """The control's setting in SDM words, saying why a secondary control counts as 0."""
        if bit.field is ControlField.PROC2 and not self.proc() & _ACTIVATE_SECONDARY:
            return f"{quoted(bit)} is treated as 0 (\"activate secondary controls\" is 0)"
        return f"{quoted(bit)} is {int(self.has(bit))}"

    def bitmap_bit(self, address_field: str, bit: int) -> bool:
        """Bit ``bit`` of the 4-KByte bitmap whose address the VMCS field holds."""
        base = self.field(address_field)
        return bool(self.state.read_u8(base + (bit >> 3)) >> (bit & 7) & 1)

    # -- live guest context ---------------------------------------------------------------------------

    def cpu(self, key: str) -> int:
        value: int | None = getattr(self._cpu, key)
        if value is None:
            raise StateError("missing-field", f"this exit decision needs the guest's live {key} (cpu.{key}), "
                             "which the state does not give", f"cpu.{key}")
        return value

    def activity(self) -> str:
        value = self._cpu.activity_state
        if value is None:
            raise StateError("missing-field", "this exit decision needs the guest's activity state "
                             f"(cpu.activity_state: {', '.join(ACTIVITY_STATES)}), which the state does not give",
                             "cpu.activity_state")
        return value

    def in_smm(self) -> bool:
        value = self._cpu.in_smm
        if value is None:
            raise StateError("missing-field", "this exit decision needs to know whether the guest is in "
                             "system-management mode (cpu.in_smm), which the state does not give", "cpu.in_smm")
        return value
