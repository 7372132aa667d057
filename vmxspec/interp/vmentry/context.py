"""What a VM-entry check sees: the state's fields and capabilities, and where it reports.

Reading a field the state lacks records it as missing (and yields 0 so the check can finish);
the driver then refuses to give a verdict built on made-up zeros. Capability MSRs the SDM allows
to be absent read as 0 ("not supported").
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vmxspec.arch import capabilities, vmcs_fields
from vmxspec.arch.capabilities import BASIC, DEFAULT_MAXLINADDR, MAXPHYADDR_RANGE
from vmxspec.arch.controls import ControlField, control_mask
from vmxspec.arch.rules import Rule
from vmxspec.state.model import State

_MASK64 = 0xFFFF_FFFF_FFFF_FFFF
_TRUE_CTLS = BASIC["true_ctls"].mask
_ACTIVATE_SECONDARY = control_mask(ControlField.PROC, "activate_secondary_controls")
_ACTIVATE_TERTIARY = control_mask(ControlField.PROC, "activate_tertiary_controls")
_ACTIVATE_EXIT2 = control_mask(ControlField.EXIT, "activate_secondary_controls")


class InternalError(Exception):
    """A bug in vmxspec itself (never a verdict about the input)."""


class Fields(dict[str, int]):
    """VMCS field values by Linux name; absent fields are recorded in ``missing`` and read as 0."""

    __slots__ = ("missing",)

    def __init__(self, values: dict[str, int]) -> None:
        super().__init__(values)
        self.missing: set[str] = set()

    def __missing__(self, key: str) -> int:
        if key not in vmcs_fields.BY_NAME:
            raise InternalError(f"a check reads '{key}', which is not a VMCS field in arch/")
        self.missing.add(key)
        return 0


@dataclass(slots=True)
class Violation:
    rule: Rule
    message: str
    fields: tuple[str, ...]
    details: dict[str, object] = field(default_factory=dict)
    exit_qualification: int | None = None


@dataclass(frozen=True, slots=True)
class Unevaluated:
    """A check that could not be evaluated because the state lacks live CPU state it needs.

    Not a violation and not missing VMCS data: the verdict holds for every other check, and this
    one is reported as open (``needs`` names the state key, e.g. ``"cpu.efer"``).
    """

    rule: Rule
    needs: str
    message: str


class EntryContext:
    """One VM-entry evaluation. Control-field values are read once, as the processor would."""

    def __init__(self, state: State) -> None:
        self.state = state
        self.f = Fields(state.vmcs)
        self.missing_caps: set[str] = set()
        self.violations: list[Violation] = []
        self.unevaluated: list[Unevaluated] = []
        f = self.f
        self.pin = f["PIN_BASED_VM_EXEC_CONTROL"]
        self.proc = f["CPU_BASED_VM_EXEC_CONTROL"]
        # SDM: with "activate secondary controls" 0 the processor behaves as if every secondary
        # control were 0, and does not read the field; likewise for the tertiary and secondary
        # VM-exit controls.
        self.proc2 = f["SECONDARY_VM_EXEC_CONTROL"] if self.proc & _ACTIVATE_SECONDARY else 0
        self.proc3 = f["TERTIARY_VM_EXEC_CONTROL"] if self.proc & _ACTIVATE_TERTIARY else 0
        self.exit = f["VM_EXIT_CONTROLS"]
        self.exit2 = f["SECONDARY_VM_EXIT_CONTROLS"] if self.exit & _ACTIVATE_EXIT2 else 0
        self.entry = f["VM_ENTRY_CONTROLS"]
        self.maxlinaddr = state.maxlinaddr or DEFAULT_MAXLINADDR

    # -- capabilities ---------------------------------------------------------------------------

    def cap(self, name: str) -> int:
        value = self.state.caps.get(name)
        if value is not None:
            return value
        msr = capabilities.BY_NAME[name]
        if msr.exists_if and not any(self.cap(c.msr) >> c.bit & 1 for c in msr.exists_if):
            return 0
        self.missing_caps.add(name)
        return 0

    def control_msr(self, field: ControlField) -> str:
        """The capability MSR that bounds ``field`` here (TRUE variant when BASIC[55] = 1)."""
        true_msr = field.true_capability_msr
        if true_msr is not None and self.cap("IA32_VMX_BASIC") & _TRUE_CTLS:
            return true_msr
        return field.capability_msr

    def allowed(self, field: ControlField) -> tuple[int, int]:
        """(bits that must be 1, bits that may be 1) for ``field``, per its capability MSR."""
        value = self.cap(self.control_msr(field))
        if field.width == 64:
            return 0, value
        return value & 0xFFFF_FFFF, value >> 32

    @property
    def maxphyaddr(self) -> int:
        width = self.state.maxphyaddr
        if width is None:
            self.missing_caps.add("MAXPHYADDR")
            return 64
        return width

    @property
    def cr3_width(self) -> int:
        """The width CR3 checks use: MAXPHYADDR, and never more than 52, since CR3 bits 63:52 are
        reserved on every processor (so they are reported even when the state lacks MAXPHYADDR)."""
        return min(self.maxphyaddr, MAXPHYADDR_RANGE[1])

    # -- address predicates the SDM uses over and over ----------------------------------------------

    def phys_ok(self, address: int) -> bool:
        """No bit set at or beyond the physical-address width."""
        return address >> self.maxphyaddr == 0

    def page_address_ok(self, address: int) -> bool:
        """4-KByte aligned and within the physical-address width."""
        return address & 0xFFF == 0 and self.phys_ok(address)

    def canonical(self, address: int) -> bool:
        """Bits 63:N-1 identical, N being the processor's linear-address width."""
        top = address >> (self.maxlinaddr - 1)
        return top == 0 or top == _MASK64 >> (self.maxlinaddr - 1)

    # -- reporting ------------------------------------------------------------------------------

    def fail(self, rule: Rule, message: str, fields: tuple[str, ...] | None = None,
             exit_qualification: int | None = None, **details: object) -> None:
        self.violations.append(Violation(rule, message, rule.fields if fields is None else fields,
                                         details, exit_qualification))

    def not_evaluated(self, rule: Rule, needs: str, message: str) -> None:
        """Record that ``rule`` (or one comparison of it) cannot be decided without ``needs``."""
        self.unevaluated.append(Unevaluated(rule, needs, message))
