"""The in-memory form of a vmxspec-state/1 document.

Values are plain ints keyed by canonical names (Linux VMCS names, capability MSR names), so the
interpreter reads like the SDM. Memory is sparse: words not listed read as 0, as the format says.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class CpuState:
    """The live context at the moment of an event or a VMX instruction; absent keys are None."""

    cpl: int | None = None
    cr0: int | None = None
    cr3: int | None = None
    cr4: int | None = None
    rflags: int | None = None
    efer: int | None = None
    ia32_xss: int | None = None
    interruptibility: int | None = None
    activity_state: str | None = None
    in_smm: bool | None = None


@dataclass(slots=True)
class IommuUnit:
    cap: int
    ecap: int
    rtaddr: int
    haw: int | None = None
    segment: int = 0
    scope: tuple[str, ...] = ()


@dataclass(slots=True)
class State:
    caps: dict[str, int] = field(default_factory=dict)
    maxphyaddr: int | None = None
    maxlinaddr: int | None = None
    vmcs: dict[str, int] = field(default_factory=dict)
    memory: dict[int, int] = field(default_factory=dict)
    iommus: list[IommuUnit] = field(default_factory=list)
    cpu: CpuState = field(default_factory=CpuState)

    def read_u64(self, address: int) -> int:
        """The 64-bit little-endian value at ``address`` (any alignment)."""
        offset = address & 7
        if offset == 0:
            return self.memory.get(address, 0)
        base = address - offset
        low = self.memory.get(base, 0) >> (8 * offset)
        high = self.memory.get(base + 8, 0) << (64 - 8 * offset)
        return (low | high) & 0xFFFF_FFFF_FFFF_FFFF

    def read_u32(self, address: int) -> int:
        return self.read_u64(address) & 0xFFFF_FFFF

    def read_u8(self, address: int) -> int:
        return self.read_u64(address) & 0xFF
