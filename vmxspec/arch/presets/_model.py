"""What a platform preset is, how it prints as state-format ``caps``, and what makes one consistent.

A preset is a complete set of VMX capability MSRs plus the two CPUID address widths the checks
read. Presets are data; the consistency rules here are SDM facts about how capability MSRs relate
to each other (Appendix A), written once so that every shipped preset, and any preset a user
writes, can be checked by the same code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from vmxspec.arch import capabilities
from vmxspec.arch.capabilities import (
    ALLOWED1_ONLY_MSRS,
    DEFAULT_MAXLINADDR,
    MAXLINADDR_VALUES,
    MAXPHYADDR_RANGE,
    allowed0,
    allowed1,
)
from vmxspec.arch.controls import ControlField

#: Capability MSRs whose two 32-bit halves mean different things (allowed-0 / allowed-1 settings,
#: or BASIC / MISC / EPT_VPID_CAP, whose high halves carry separate fields). The state format
#: writes them with all 16 hex digits so the halves stay readable; other MSRs are written short.
FULL_WIDTH_MSRS: frozenset[str] = frozenset({
    "IA32_VMX_BASIC", "IA32_VMX_MISC", "IA32_VMX_EPT_VPID_CAP",
    "IA32_VMX_PINBASED_CTLS", "IA32_VMX_PROCBASED_CTLS", "IA32_VMX_EXIT_CTLS", "IA32_VMX_ENTRY_CTLS",
    "IA32_VMX_TRUE_PINBASED_CTLS", "IA32_VMX_TRUE_PROCBASED_CTLS", "IA32_VMX_TRUE_EXIT_CTLS",
    "IA32_VMX_TRUE_ENTRY_CTLS", "IA32_VMX_PROCBASED_CTLS2",
})

#: The four control fields that have a TRUE capability MSR, with their non-TRUE/TRUE MSR names.
TRUE_PAIRS: tuple[tuple[ControlField, str, str], ...] = tuple(
    (f, f.capability_msr, f.true_capability_msr)
    for f in ControlField if f.true_capability_msr is not None
)


@dataclass(frozen=True, slots=True)
class Preset:
    """A named platform: capability MSRs by architectural name, MAXPHYADDR and MAXLINADDR.

    ``sources`` says, number by number, where each value comes from and which values are modeled
    rather than read from a real part, because a preset is only as trustworthy as that account.
    """

    name: str
    title: str
    description: str
    sources: str
    caps: Mapping[str, int] = field(hash=False)
    maxphyaddr: int
    maxlinaddr: int = DEFAULT_MAXLINADDR

    def __post_init__(self) -> None:
        # Freeze the mapping: presets are shared module-level data that nothing may edit.
        object.__setattr__(self, "caps", MappingProxyType(dict(self.caps)))

    def to_state_caps(self) -> dict[str, str | int]:
        """The preset as the ``caps`` object of a vmxspec-state/1 document.

        MSR values are hex strings (16 digits for the MSRs in ``FULL_WIDTH_MSRS``); MAXPHYADDR is an
        integer; MAXLINADDR is written only when it differs from the format's default of 48, so
        that a state built from a 4-level-paging preset reads exactly like a hand-written one.
        """
        out: dict[str, str | int] = {}
        for msr in capabilities.CAPABILITY_MSRS:
            if msr.name in self.caps:
                value = self.caps[msr.name]
                out[msr.name] = f"{value:#018x}" if msr.name in FULL_WIDTH_MSRS else f"{value:#x}"
        out["MAXPHYADDR"] = self.maxphyaddr
        if self.maxlinaddr != DEFAULT_MAXLINADDR:
            out["MAXLINADDR"] = self.maxlinaddr
        return out


def _bit(caps: Mapping[str, int], msr: str, bit: int) -> bool:
    return bool(caps.get(msr, 0) >> bit & 1)


def consistency_problems(preset: Preset) -> list[str]:
    """Every way ``preset`` contradicts the SDM's rules for capability MSRs (empty when consistent).

    Checked: names are known and values fit 64 bits; an MSR is present exactly when its SDM
    existence condition holds; allowed-0 bits are allowed-1; the non-TRUE MSR reports every
    default1 bit as fixed to 1; where TRUE MSRs exist, non-TRUE low half == TRUE low half | default1
    and the high halves are equal; CR0/CR4 fixed-0 bits are allowed by fixed-1; the address widths
    are in range.
    """
    caps = preset.caps
    problems: list[str] = []
    for name, value in caps.items():
        if name not in capabilities.BY_NAME:
            problems.append(f"unknown capability MSR {name}")
        elif not 0 <= value < 1 << 64:
            problems.append(f"{name} = {value:#x} does not fit 64 bits")
    for msr in capabilities.CAPABILITY_MSRS:
        if not msr.exists_if:
            if msr.name not in caps:
                problems.append(f"{msr.name} missing (it exists on every VMX processor)")
            continue
        should_exist = any(_bit(caps, c.msr, c.bit) for c in msr.exists_if)
        if should_exist and msr.name not in caps:
            problems.append(f"{msr.name} missing although its existence condition holds")
        if not should_exist and msr.name in caps:
            problems.append(f"{msr.name} present although its existence condition does not hold")
    for fld in ControlField:
        for msr_name in (fld.capability_msr, fld.true_capability_msr):
            if msr_name is None or msr_name not in caps or msr_name in ALLOWED1_ONLY_MSRS:
                continue
            value = caps[msr_name]
            if allowed0(value) & ~allowed1(value):
                problems.append(f"{msr_name}: bits {allowed0(value) & ~allowed1(value):#x} must be 1 "
                                "but are not allowed to be 1")
        non_true = caps.get(fld.capability_msr)
        if non_true is not None and fld.capability_msr not in ALLOWED1_ONLY_MSRS:
            missing = fld.default1 & ~allowed0(non_true)
            if missing:
                problems.append(f"{fld.capability_msr}: default1 bits {missing:#x} not reported as fixed to 1")
    for fld, plain, true in TRUE_PAIRS:
        if plain in caps and true in caps:
            lo_plain, lo_true = allowed0(caps[plain]), allowed0(caps[true])
            if lo_plain != lo_true | fld.default1:
                problems.append(f"{plain} allowed-0 {lo_plain:#x} != {true} allowed-0 | default1 "
                                f"{lo_true | fld.default1:#x}")
            if allowed1(caps[plain]) != allowed1(caps[true]):
                problems.append(f"{plain} and {true} differ in their allowed-1 halves")
    for reg in ("CR0", "CR4"):
        fixed0, fixed1 = caps.get(f"IA32_VMX_{reg}_FIXED0"), caps.get(f"IA32_VMX_{reg}_FIXED1")
        if fixed0 is not None and fixed1 is not None and fixed0 & ~fixed1:
            problems.append(f"{reg} bits {fixed0 & ~fixed1:#x} fixed to 1 but not allowed to be 1")
    lo, hi = MAXPHYADDR_RANGE
    if not lo <= preset.maxphyaddr <= hi:
        problems.append(f"MAXPHYADDR {preset.maxphyaddr} outside {lo}..{hi}")
    if preset.maxlinaddr not in MAXLINADDR_VALUES:
        problems.append(f"MAXLINADDR {preset.maxlinaddr} not one of {MAXLINADDR_VALUES}")
    return problems
