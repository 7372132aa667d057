"""Exceptions, interrupts, INIT, SIPI, task switches, the monitor trap flag, and what happens before
the first guest instruction after VM entry.

SDM "Other Causes of VM Exits", "Monitor Trap Flag", "VMX-Preemption Timer", "Posted-Interrupt
Processing" and, for ``after_vm_entry``, "Special Features of VM Entry" with its subsections
("Activity State", "VMX-Preemption Timer", "Interrupt-Window Exiting and Virtual-Interrupt Delivery",
"NMI-Window Exiting", "VM Exits Induced by the TPR Threshold", "Pending MTF VM Exits").

Timing choices, stated once: an event the SDM only delays (an external interrupt under blocking by
STI when external-interrupt exiting is 1) is reported as the exit it eventually causes; an event
that stays blocked until software changes something (an NMI under blocking by NMI, any event the
activity state blocks) is reported as no exit.
"""

from __future__ import annotations

from collections.abc import Callable

from vmxspec.arch import exits as A
from vmxspec.arch.controls import ControlField
from vmxspec.arch.events import EXCEPTION_MNEMONICS
from vmxspec.arch.registers import RFLAGS_IF
from vmxspec.interp.exits.context import ExitContext, rid
from vmxspec.interp.exits.outcome import ExitOutcome, Fault, exits, no_exit
from vmxspec.state import StateError

PIN, PROC, PROC2 = ControlField.PIN, ControlField.PROC, ControlField.PROC2
_EXT_INT = A.ctl(PIN, "external_interrupt_exiting")
_NMI_EXITING = A.ctl(PIN, "nmi_exiting")
_VIRTUAL_NMIS = A.ctl(PIN, "virtual_nmis")
_TIMER = A.ctl(PIN, "activate_vmx_preemption_timer")
_POSTED = A.ctl(PIN, "process_posted_interrupts")
_MTF = A.ctl(PROC, "monitor_trap_flag")
_INTR_WINDOW = A.ctl(PROC, "interrupt_window_exiting")
_NMI_WINDOW = A.ctl(PROC, "nmi_window_exiting")
_TPR_SHADOW = A.ctl(PROC, "use_tpr_shadow")
_VID = A.ctl(PROC2, "virtual_interrupt_delivery")
_STI, _MOV_SS, _BLOCK_NMI = A.BLOCKING_BY_STI, A.BLOCKING_BY_MOV_SS, A.BLOCKING_BY_NMI

R_BITMAP = rid("EXIT-EXCEPTION-BITMAP")
R_PF = rid("EXIT-PF-MASK-MATCH")
R_MTF = rid("EXIT-MTF")
R_SOFT = rid("EXIT-SOFTWARE-INTERRUPT")
R_EXTINT = rid("EXIT-EXTINT")
R_POSTED = rid("EXIT-POSTED-INTR")
R_NMI = rid("EXIT-NMI")
R_TRIPLE = rid("EXIT-TRIPLE-FAULT")
R_INIT = rid("EXIT-INIT")
R_SIPI = rid("EXIT-SIPI")
R_TASK = rid("EXIT-TASK-SWITCH")
R_ACTIVITY = rid("EXIT-ACTIVITY-BLOCKING")
R_TPR_ENTRY = rid("EXIT-TPR-THRESHOLD-ENTRY")
R_MTF_PENDING = rid("EXIT-MTF-PENDING")
R_TIMER = rid("EXIT-PREEMPTION-TIMER")
R_NMI_WINDOW = rid("EXIT-NMI-WINDOW")
R_INTR_WINDOW = rid("EXIT-INTR-WINDOW")
R_AFTER_ENTRY = rid("EXIT-AFTER-ENTRY")

#: Interruption types of the VM-entry interruption-information field that make an entry "vectoring".
_VECTORING_TYPES = frozenset({0, 2, 3, 4, 5, 6})
_TYPE_NMI, _TYPE_OTHER = 2, 7


def _exception_name(vector: int) -> str:
    return EXCEPTION_MNEMONICS.get(vector, f"exception {vector}")


# -- the monitor trap flag and faults raised instead of exits -----------------------------------------

def then_mtf(ctx: ExitContext, outcome: ExitOutcome, after: str) -> ExitOutcome:
    """An outcome without an exit, followed by the MTF VM exit if "monitor trap flag" is 1."""
    if not ctx.has(_MTF):
        return outcome
    return ExitOutcome(True, (*outcome.rules, R_MTF), f"{outcome.explanation}; \"monitor trap flag\" is 1, so an "
                       f"MTF VM exit follows {after}", 37, 0, outcome.guest_fault)


def exception_exits(ctx: ExitContext, vector: int, error_code: int | None) -> tuple[bool, str, str]:
    """(exits?, rule, why) for an exception: the exception bitmap, with the page-fault rule."""
    bitmap = ctx.field("EXCEPTION_BITMAP")
    bit = bitmap >> vector & 1
    if vector != A.PF_VECTOR:
        return bool(bit), R_BITMAP, f"bit {vector} of the exception bitmap is {bit}"
    assert error_code is not None
    mask = ctx.field("PAGE_FAULT_ERROR_CODE_MASK")
    match = ctx.field("PAGE_FAULT_ERROR_CODE_MATCH")
    equal = error_code & mask == match
    relation = "=" if equal else "!="
    follows = "so bit 14 is followed" if equal else "so the meaning of bit 14 is reversed"
    return equal == bool(bit), R_PF, (f"PFEC {error_code:#x} & PFEC_MASK {mask:#x} {relation} PFEC_MATCH {match:#x}, "
                                      f"{follows}, and bit 14 of the exception bitmap is {bit}")


def deliver_fault(ctx: ExitContext, fault: Fault) -> ExitOutcome:
    """A fault raised instead of an exit is an exception like any other: the exception bitmap
    decides whether it exits; if it does not, it is delivered through the guest IDT (and the
    monitor trap flag may then exit)."""
    vector, error_code = A.FAULT_VECTORS[fault.fault]
    exit_, rule, why = exception_exits(ctx, vector, error_code)
    if exit_:
        return ExitOutcome(True, (fault.rule, rule), f"{fault.why}; {why}, so the {fault.fault} causes a VM exit",
                           0, 0, fault.fault)
    delivered = ExitOutcome(False, (fault.rule,), f"{fault.why}; {why}, so the guest handles the {fault.fault}",
                            None, None, fault.fault)
    return then_mtf(ctx, delivered, "the delivery of the fault")


# -- events ------------------------------------------------------------------------------------------

def _exception(ctx: ExitContext, ops: dict[str, int]) -> ExitOutcome:
    vector = ops["vector"]
    name = _exception_name(vector)
    exit_, rule, why = exception_exits(ctx, vector, ops.get("error_code"))
    if exit_:
        qual = 0
        if vector == A.PF_VECTOR:
            qual = ops["linear_address"]
        elif vector == A.DB_VECTOR:
            qual = ops.get("dr6", 0) & A.DEBUG_QUAL_MASK
        return exits(0, qual, rule, f"{name} causes a VM exit: {why}")
    return then_mtf(ctx, no_exit(rule, f"{name} does not cause a VM exit: {why}, so it is delivered through the "
                                 "guest IDT"), "its delivery")


def _software_interrupt(ctx: ExitContext, ops: dict[str, int]) -> ExitOutcome:
    vector = ops["vector"]
    outcome = no_exit(R_SOFT, f"INT {vector:#x} does not cause a VM exit: a software interrupt is not an exception, "
                      "so the exception bitmap does not apply")
    return then_mtf(ctx, outcome, "its delivery")


def _blocked_by_activity(ctx: ExitContext, event: str, blocking: tuple[str, ...]) -> ExitOutcome | None:
    activity = ctx.activity()
    if activity in blocking:
        return no_exit(R_ACTIVITY, f"{event} does not cause a VM exit: the {activity.replace('_', '-')} activity "
                       "state blocks it")
    return None


def _external_interrupt(ctx: ExitContext, ops: dict[str, int]) -> ExitOutcome:
    vector = ops["vector"]
    event = f"external interrupt {vector:#x}"
    blocked = _blocked_by_activity(ctx, "An " + event, ("shutdown", "wait_for_sipi"))
    if blocked is not None:
        return blocked
    if ctx.has(_EXT_INT):
        if ctx.has(_POSTED) and vector == ctx.field("POSTED_INTR_NV"):
            return no_exit(R_POSTED, f"The {event} does not cause a VM exit: it is the posted-interrupt "
                           "notification vector and \"process posted interrupts\" is 1, so the processor processes "
                           "the posted interrupts")
        return exits(1, 0, R_EXTINT, f"The {event} causes a VM exit: \"external-interrupt exiting\" is 1 (RFLAGS.IF "
                     "does not block it)")
    outcome = no_exit(R_EXTINT, f"The {event} does not cause a VM exit: \"external-interrupt exiting\" is 0")
    if not ctx.has(_MTF):
        return outcome
    rflags, intr = ctx.cpu("rflags"), ctx.cpu("interruptibility")
    if rflags & RFLAGS_IF and not intr & (_STI | _MOV_SS):
        return then_mtf(ctx, no_exit(R_EXTINT, f"{outcome.explanation}; it is delivered through the guest IDT"),
                        "its delivery")
    return no_exit(R_EXTINT, f"{outcome.explanation}, and it stays pending (RFLAGS.IF = 0 or blocking by STI or "
                   "MOV SS)")


def _nmi(ctx: ExitContext, ops: dict[str, int]) -> ExitOutcome:
    blocked = _blocked_by_activity(ctx, "An NMI", ("wait_for_sipi",))
    if blocked is not None:
        return blocked
    if ctx.has(_NMI_EXITING):
        if not ctx.has(_VIRTUAL_NMIS) and ctx.cpu("interruptibility") & _BLOCK_NMI:
            return no_exit(R_NMI, "An NMI does not cause a VM exit: blocking by NMI is in effect and, with \"NMI "
                           "exiting\" 1 and \"virtual NMIs\" 0, stays in effect for the rest of VMX non-root operation")
        return exits(0, 0, R_NMI, "An NMI causes a VM exit (exception or NMI, vector 2): \"NMI exiting\" is 1")
    outcome = no_exit(R_NMI, "An NMI does not cause a VM exit: \"NMI exiting\" is 0")
    if not ctx.has(_MTF):
        return outcome
    if ctx.cpu("interruptibility") & (_BLOCK_NMI | _MOV_SS | _STI):
        return no_exit(R_NMI, f"{outcome.explanation}, and blocking by NMI, MOV SS or STI holds it pending")
    return then_mtf(ctx, no_exit(R_NMI, f"{outcome.explanation}; it is delivered through the guest IDT"),
                    "its delivery")


def _triple_fault(ctx: ExitContext, ops: dict[str, int]) -> ExitOutcome:
    return exits(2, 0, R_TRIPLE, "A triple fault always causes a VM exit")


def _init_signal(ctx: ExitContext, ops: dict[str, int]) -> ExitOutcome:
    blocked = _blocked_by_activity(ctx, "An INIT signal", ("wait_for_sipi",))
    if blocked is not None:
        return blocked
    return exits(3, 0, R_INIT, "An INIT signal causes a VM exit in VMX non-root operation outside the wait-for-SIPI "
                 "state")


def _sipi(ctx: ExitContext, ops: dict[str, int]) -> ExitOutcome:
    vector = ops["vector"]
    activity = ctx.activity()
    if activity == "wait_for_sipi":
        return exits(4, vector, R_SIPI, f"A SIPI with vector {vector:#x} causes a VM exit: the logical processor is in "
                     "the wait-for-SIPI state")
    return no_exit(R_SIPI, f"A SIPI does not cause a VM exit: outside the wait-for-SIPI state (here {activity}) SIPIs "
                   "are discarded")


def _task_switch(ctx: ExitContext, ops: dict[str, int]) -> ExitOutcome:
    selector, source = ops["tss_selector"], ops["initiator"]
    q = A.TASK_SWITCH_QUAL
    qual = q["source"].put(q["selector"].put(0, selector), source)
    initiator = next(name for name, code in A.TASK_SWITCH_SOURCES.items() if code == source)
    how = "a task gate in the IDT" if initiator == "idt" else initiator.upper()
    return exits(9, qual, R_TASK, f"A task switch to TSS selector {selector:#x} through {how} causes a VM exit: task "
                 "switches always do in VMX non-root operation")


def _after_vm_entry(ctx: ExitContext, ops: dict[str, int]) -> ExitOutcome:
    """Before the first guest instruction, in the SDM's priority order. The guest context is what VM
    entry loads, so this reads the guest-state fields of the VMCS, not ``cpu``."""
    info = ctx.field("VM_ENTRY_INTR_INFO_FIELD")
    valid = bool(info >> 31 & 1)
    itype, vector = info >> 8 & 7, info & 0xFF
    vectoring = valid and itype in _VECTORING_TYPES
    activity_code = ctx.field("GUEST_ACTIVITY_STATE")
    if activity_code >= len(A.ACTIVITY_STATES):
        raise StateError("bad-query", f"GUEST_ACTIVITY_STATE = {activity_code} is not an activity state VM entry "
                         "accepts, so no guest runs after it", "vmcs.GUEST_ACTIVITY_STATE")
    activity = A.ACTIVITY_STATES[activity_code]
    inactive = activity in ("shutdown", "wait_for_sipi")
    injected = f"VM entry injects vector {vector} (type {itype}); " if vectoring else ""
    # 1. TPR threshold (priority over everything else after VM entry).
    if ctx.has(_TPR_SHADOW) and not ctx.has(_VID) and not inactive:
        threshold = ctx.field("TPR_THRESHOLD") & 0xF
        address = ctx.field("VIRTUAL_APIC_PAGE_ADDR") + A.VTPR_OFFSET
        vtpr = ctx.state.read_u8(address) >> 4
        if threshold > vtpr:
            return exits(43, 0, R_TPR_ENTRY, f"{injected}a VM exit (TPR below threshold) occurs right after VM entry: "
                         f"TPR_THRESHOLD[3:0] = {threshold} is greater than VTPR[7:4] = {vtpr} (byte {address:#x})")
    # 2. A pending MTF VM exit.
    pending_mtf = valid and itype == _TYPE_OTHER and vector == 0
    if (pending_mtf or (vectoring and ctx.has(_MTF))) and not inactive:
        why = "VM entry injects a pending MTF VM exit" if pending_mtf else \
            f"\"monitor trap flag\" is 1 and VM entry injects vector {vector} (type {itype}), so the MTF VM exit " \
            "follows its delivery"
        return exits(37, 0, R_MTF_PENDING, f"An MTF VM exit occurs before the first guest instruction: {why}")
    # 3. (Pending debug exceptions are not modelled.) 4. The VMX-preemption timer.
    if ctx.has(_TIMER) and activity != "wait_for_sipi":
        value = ops["preemption_timer_value"] if "preemption_timer_value" in ops else \
            ctx.field("VMX_PREEMPTION_TIMER_VALUE")
        if value == 0:
            return exits(52, 0, R_TIMER, f"{injected}the VMX-preemption timer expires before the first guest "
                         "instruction: it is active and its value is 0")
    intr = ctx.field("GUEST_INTERRUPTIBILITY_INFO")
    blocking = 0 if vectoring else intr & (_STI | _MOV_SS)
    # 5. NMI-window exiting.
    if ctx.has(_NMI_WINDOW) and activity != "wait_for_sipi":
        virtual_nmi_blocked = bool(intr & _BLOCK_NMI) or (vectoring and itype == _TYPE_NMI)
        if not virtual_nmi_blocked and not blocking:
            return exits(8, 0, R_NMI_WINDOW, f"{injected}an NMI-window VM exit occurs before the first guest "
                         "instruction: there is no virtual-NMI blocking and no blocking by STI or MOV SS")
    # 6. Interrupt-window exiting.
    if ctx.has(_INTR_WINDOW) and not inactive:
        if vectoring:
            raise StateError("unsupported-query", "after a vectoring VM entry the interrupt window depends on "
                             "RFLAGS.IF after the injected event is delivered through the guest IDT (an interrupt "
                             "gate clears IF, a trap gate does not); the state does not describe the guest IDT",
                             "vmcs.VM_ENTRY_INTR_INFO_FIELD")
        rflags = ctx.field("GUEST_RFLAGS")
        if rflags & RFLAGS_IF and not blocking:
            return exits(7, 0, R_INTR_WINDOW, "An interrupt-window VM exit occurs before the first guest instruction: "
                         "RFLAGS.IF = 1 and there is no blocking by STI or MOV SS")
    return no_exit(R_AFTER_ENTRY, f"{injected}no VM exit occurs before the first guest instruction (activity state "
                   f"{activity}): no TPR-threshold, pending MTF, preemption-timer, NMI-window or interrupt-window "
                   "exit applies")


EventHandler = Callable[[ExitContext, dict[str, int]], ExitOutcome]

HANDLERS: dict[str, EventHandler] = {
    "exception": _exception,
    "external_interrupt": _external_interrupt,
    "nmi": _nmi,
    "software_interrupt": _software_interrupt,
    "triple_fault": _triple_fault,
    "init_signal": _init_signal,
    "sipi": _sipi,
    "task_switch": _task_switch,
    "after_vm_entry": _after_vm_entry,
}
