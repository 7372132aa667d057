"""The rule catalogue: every check vmxspec knows, with a stable id, its SDM section and wording.

A rule's id never changes once published: reports, SARIF files, suppressions and ``vmxspec
explain`` all key on it. The catalogue is data; the reference interpreter and the symbolic
encoder each implement every rule on their own, and a test asserts that both cover exactly the
rules listed here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Stage(Enum):
    """Which machinery a rule belongs to, which fixes how its outcome shows.

    The first four are the stages of VM entry; the others are the EPT walk, VT-d translation and
    VM-exit decisions.
    """

    CONTROLS = "controls"
    HOST = "host"
    GUEST = "guest"
    MSR_LOAD = "msr_load"
    EPT = "ept"
    DMA = "dma"
    EXIT = "exit"

    @property
    def failure(self) -> str:
        return {
            Stage.CONTROLS: "VMfailValid, VM-instruction error 7 (invalid control field)",
            Stage.HOST: "VMfailValid, VM-instruction error 8 (invalid host-state field)",
            Stage.GUEST: "VM-entry failure, exit reason 33 (invalid guest state)",
            Stage.MSR_LOAD: "VM-entry failure, exit reason 34 (MSR loading)",
            Stage.EPT: "EPT misconfiguration (exit reason 49) or EPT violation (exit reason 48)",
            Stage.DMA: "DMA-remapping fault, with the fault reason the VT-d specification assigns",
            Stage.EXIT: "Decides whether a guest event causes a VM exit",
        }[self]


@dataclass(frozen=True, slots=True)
class Rule:
    """One architectural check.

    ``condition`` states what must hold, in the SDM's terms; ``fields`` and ``caps`` name the VMCS
    fields and capability MSRs it reads; ``implementations`` says where public implementations
    check the same thing (KVM, Bochs, kvm-unit-tests), and ``divergence`` records where they
    depart from the SDM.
    """

    id: str
    stage: Stage
    section: str
    condition: str
    fields: tuple[str, ...] = ()
    caps: tuple[str, ...] = ()
    implementations: tuple[tuple[str, str], ...] = ()
    divergence: str = ""
    exit_qualification: int = 0
    tags: frozenset[str] = field(default_factory=frozenset)


SECTION_EXEC = "Checks on VMX Controls: VM-Execution Control Fields"
SECTION_EXIT = "Checks on VMX Controls: VM-Exit Control Fields"
SECTION_ENTRY = "Checks on VMX Controls: VM-Entry Control Fields"
SECTION_HOST_REGS = "Checks on Host Control Registers, MSRs, and SSP"
SECTION_HOST_SEGS = "Checks on Host Segment and Descriptor-Table Registers"
SECTION_HOST_ASSIZE = "Checks Related to Address-Space Size"
SECTION_GUEST_REGS = "Checks on Guest Control Registers, Debug Registers, and MSRs"
SECTION_GUEST_SEGS = "Checks on Guest Segment Registers"
SECTION_GUEST_DTR = "Checks on Guest Descriptor-Table Registers"
SECTION_GUEST_RIP = "Checks on Guest RIP, RFLAGS, and SSP"
SECTION_GUEST_NONREG = "Checks on Guest Non-Register State"
SECTION_GUEST_PDPTE = "Checks on Guest Page-Directory-Pointer-Table Entries"
SECTION_MSR_LOAD = "Loading MSRs"


def _collect() -> tuple[Rule, ...]:
    from vmxspec.arch.rules import ept, exits, vmentry_controls, vmentry_guest, vmentry_host, vmentry_msr_load, vtd

    return (
        *vmentry_controls.RULES,
        *vmentry_host.RULES,
        *vmentry_guest.RULES,
        *vmentry_msr_load.RULES,
        *ept.RULES,
        *vtd.RULES,
        *exits.RULES,
    )


RULES: tuple[Rule, ...] = _collect()
BY_ID: dict[str, Rule] = {r.id: r for r in RULES}


def rules_for(stage: Stage) -> tuple[Rule, ...]:
    return tuple(r for r in RULES if r.stage is stage)
