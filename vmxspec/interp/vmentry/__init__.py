"""The SDM's VM-entry checks, over a concrete state.

``check_vm_entry`` runs every check of the requested stages and reports *every* violation: the SDM
lets hardware check in any order, so the first one a processor happens to hit is not the only one
a developer needs to fix.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from vmxspec.arch.errors import VMX_ERROR_INVALID_CONTROL_FIELD, VMX_ERROR_INVALID_HOST_STATE_FIELD
from vmxspec.arch.exit_reasons import EXIT_REASON_INVALID_GUEST_STATE, EXIT_REASON_MSR_LOADING
from vmxspec.arch.rules import Stage
from vmxspec.interp.vmentry import controls, guest, host, msr_load  # noqa: F401  (they register checks)
from vmxspec.interp.vmentry.context import EntryContext, InternalError, Unevaluated, Violation
from vmxspec.interp.vmentry.registry import CHECKS
from vmxspec.state.model import State

ALL_STAGES: tuple[Stage, ...] = (Stage.CONTROLS, Stage.HOST, Stage.GUEST, Stage.MSR_LOAD)

_BY_STAGE = {stage: tuple((rule, fn) for rule, fn in CHECKS.values() if rule.stage is stage)
             for stage in ALL_STAGES}


@dataclass(slots=True)
class EntryResult:
    violations: list[Violation]
    missing_fields: list[str]
    missing_caps: list[str]
    #: Checks that could not be decided for want of live CPU state (e.g. ``cpu.efer``): neither
    #: violations nor missing data. ``passed`` and ``complete`` do not count them; a report must.
    unevaluated: list[Unevaluated] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        """False when a check needed data the state does not have: then there is no verdict."""
        return not self.missing_fields and not self.missing_caps

    @property
    def passed(self) -> bool:
        return not self.violations

    def stages_failed(self) -> set[Stage]:
        return {v.rule.stage for v in self.violations}

    @property
    def vm_instruction_error(self) -> int | None:
        """VMfailValid's error number, when control or host-state checks fail.

        The SDM lets control and host-state checks run in any order, so with failures in both a
        processor may report either number; vmxspec reports the control error, as KVM and Bochs
        do, and lists both in ``possible_errors``.
        """
        failed = self.stages_failed()
        if Stage.CONTROLS in failed:
            return VMX_ERROR_INVALID_CONTROL_FIELD
        if Stage.HOST in failed:
            return VMX_ERROR_INVALID_HOST_STATE_FIELD
        return None

    @property
    def possible_errors(self) -> list[int]:
        failed = self.stages_failed()
        out = []
        if Stage.CONTROLS in failed:
            out.append(VMX_ERROR_INVALID_CONTROL_FIELD)
        if Stage.HOST in failed:
            out.append(VMX_ERROR_INVALID_HOST_STATE_FIELD)
        return out

    @property
    def exit_reason(self) -> int | None:
        """Basic exit reason of a failed VM entry (reported with bit 31 set), if guest state or MSR
        loading is what fails; None when VMfailValid happens first or the entry passes."""
        if self.vm_instruction_error is not None:
            return None
        failed = self.stages_failed()
        if Stage.GUEST in failed:
            return EXIT_REASON_INVALID_GUEST_STATE
        if Stage.MSR_LOAD in failed:
            return EXIT_REASON_MSR_LOADING
        return None

    @property
    def exit_qualification(self) -> int | None:
        reason = self.exit_reason
        if reason is None:
            return None
        stage = Stage.GUEST if reason == EXIT_REASON_INVALID_GUEST_STATE else Stage.MSR_LOAD
        quals = [v.exit_qualification if v.exit_qualification is not None else v.rule.exit_qualification
                 for v in self.violations if v.rule.stage is stage]
        if stage is Stage.MSR_LOAD:
            return min(quals)
        # Guest-state failures with a specific qualification (PDPTEs, the VMCS link pointer) are
        # reported as such only when they are the only kind that fails.
        specific = {q for q in quals if q}
        return specific.pop() if len(specific) == 1 and 0 not in quals else 0


def check_vm_entry(state: State, stages: Iterable[Stage] = ALL_STAGES) -> EntryResult:
    ctx = EntryContext(state)
    for stage in ALL_STAGES:
        if stage not in stages:
            continue
        for rule, fn in _BY_STAGE[stage]:
            fn(ctx, rule)
    return EntryResult(ctx.violations, sorted(ctx.f.missing), sorted(ctx.missing_caps), ctx.unevaluated)


__all__ = ["ALL_STAGES", "EntryResult", "InternalError", "Unevaluated", "Violation", "check_vm_entry"]
