"""VM-exit facts as data (SDM Vol. 3C "VMX Non-Root Operation" and "VM Exits").

What the reference interpreter (``vmxspec.interp.exits``) and the symbolic encoder both need to
know about which guest events cause VM exits, written once, as tables:

* ``INSTRUCTIONS``: every instruction vmxspec answers for, with its basic exit reason, the
  VM-execution controls that make it exit (or "unconditional"), the faults that the SDM gives
  priority over the exit ("Relative Priority of Faults and VM Exits"), in the order they are
  checked, and the operands an ``exit`` question must or may give.
* ``NOT_MODELLED``: instructions with exit semantics vmxspec does not model yet, and why; asking
  about one is an "unsupported-query", never a silent "no exit".
* The MSR-bitmap and I/O-bitmap layouts, and the exit-qualification layouts for control-register
  accesses, MOV DR, I/O instructions and task switches.

Facts follow the SDM; where Bochs or KVM differ, the rule catalogue (``arch/rules/exits.py``)
records the divergence.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from vmxspec.arch.bitfields import BitField, Layout
from vmxspec.arch.controls import BITS_BY_FIELD, ControlBit, ControlField

PIN, PROC, PROC2 = ControlField.PIN, ControlField.PROC, ControlField.PROC2


def ctl(field: ControlField, name: str) -> ControlBit:
    """The named control bit; a wrong name fails at import time, not at question time."""
    return BITS_BY_FIELD[field][name]


# -- faults that precede the exit ---------------------------------------------------------------

class Check(Enum):
    """A fault condition that the SDM gives priority over the VM exit (or, where noted, that is
    checked only when the instruction does not exit)."""

    #: #UD: CR0.PE = 0 or RFLAGS.VM = 1 (the instruction is not recognized in real-address or
    #: virtual-8086 mode).
    MODE = "mode"
    #: #UD: a CR4 bit that enables the instruction is 0.
    CR4_CLEAR = "cr4_clear"
    #: #UD: a VM-execution control that enables the instruction in VMX non-root operation is 0.
    CONTROL_CLEAR = "control_clear"
    #: #UD: executed outside system-management mode (RSM).
    NOT_IN_SMM = "not_in_smm"
    #: #UD: executed in system-management mode (ENCLS).
    IN_SMM = "in_smm"
    #: #NM: CR0.TS = 1 (a "fault from decoding the next instruction", above execution faults).
    CR0_TS = "cr0_ts"
    #: A privilege fault: CPL > 0.
    CPL = "cpl"
    #: #GP(0): CPL > 0 and a CR4 bit is 1 (CR4.TSD, CR4.UMIP).
    CPL_CR4_SET = "cpl_cr4_set"
    #: #GP(0): CPL > 0 and a CR4 bit is 0 (CR4.PCE).
    CPL_CR4_CLEAR = "cpl_cr4_clear"


@dataclass(frozen=True, slots=True)
class Precondition:
    """One fault check: the condition, the fault it raises, and the rule that says so."""

    check: Check
    fault: str
    rule: str
    cr4_bit: str = ""
    control: ControlBit | None = None


#: Exception vector and error code of each fault string the interpreter reports.
FAULT_VECTORS: dict[str, tuple[int, int | None]] = {"#UD": (6, None), "#NM": (7, None), "#GP(0)": (13, 0)}

UD_MODE = Precondition(Check.MODE, "#UD", "FAULT-UD-MODE")
CPL_GP = Precondition(Check.CPL, "#GP(0)", "FAULT-CPL")
CPL_UD = Precondition(Check.CPL, "#UD", "FAULT-CPL")
NM_TS = Precondition(Check.CR0_TS, "#NM", "FAULT-NM-TS")
TSD = Precondition(Check.CPL_CR4_SET, "#GP(0)", "FAULT-CPL-CR4", cr4_bit="TSD")
UMIP = Precondition(Check.CPL_CR4_SET, "#GP(0)", "FAULT-CPL-CR4", cr4_bit="UMIP")
PCE = Precondition(Check.CPL_CR4_CLEAR, "#GP(0)", "FAULT-CPL-CR4", cr4_bit="PCE")
NOT_IN_SMM = Precondition(Check.NOT_IN_SMM, "#UD", "FAULT-UD-SMM")
IN_SMM = Precondition(Check.IN_SMM, "#UD", "FAULT-UD-SMM")


def cr4_ud(bit: str) -> Precondition:
    return Precondition(Check.CR4_CLEAR, "#UD", "FAULT-UD-CR4", cr4_bit=bit)


def enable_ud(field: ControlField, name: str) -> Precondition:
    return Precondition(Check.CONTROL_CLEAR, "#UD", "FAULT-UD-CONTROL", control=ctl(field, name))


# -- instructions -------------------------------------------------------------------------------

class Decider(Enum):
    """How the exit decision is made once no fault has priority."""

    UNCONDITIONAL = "unconditional"
    #: Exits iff every control in ``exit_controls`` is 1.
    CONTROLS = "controls"
    #: Never exits by itself.
    NEVER = "never"
    PAUSE = "pause"
    VMCS_ACCESS = "vmcs_access"
    XSS = "xss"
    ENCLS = "encls"
    MSR = "msr"
    IO = "io"
    CR = "cr"
    DR = "dr"


class Qualification(Enum):
    """What the exit qualification holds when the instruction exits (SDM "Basic VM-Exit
    Information")."""

    ZERO = "zero"
    #: The displacement of the memory operand (0 for a register operand or none).
    DISPLACEMENT = "displacement"
    #: The linear-address operand (INVLPG).
    LINEAR_ADDRESS = "linear_address"
    #: 1 if address-range monitoring hardware is armed, else 0 (MWAIT).
    MONITOR_ARMED = "monitor_armed"
    #: Computed by the decider from a layout below (CR, DR, I/O).
    COMPUTED = "computed"


@dataclass(frozen=True, slots=True)
class InstructionFacts:
    mnemonic: str
    #: Basic exit reason when it exits; None for instructions that never exit.
    reason: int | None
    decider: Decider
    #: The rule that decides the exit (sub-rules such as EXIT-MSR-RANGE are chosen by the decider).
    rule: str
    #: Faults with priority over the exit, in the order they are checked.
    before: tuple[Precondition, ...] = ()
    exit_controls: tuple[ControlBit, ...] = ()
    #: Faults checked only when the instruction does not exit (the SDM orders them after the exit).
    after: tuple[Precondition, ...] = ()
    qualification: Qualification = Qualification.ZERO
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()


def _i(mnemonic: str, reason: int | None, decider: Decider, rule: str, *,
       before: tuple[Precondition, ...] = (), exit_controls: tuple[ControlBit, ...] = (),
       after: tuple[Precondition, ...] = (), qualification: Qualification = Qualification.ZERO,
       required: tuple[str, ...] = (), optional: tuple[str, ...] = ()) -> InstructionFacts:
    return InstructionFacts(mnemonic, reason, decider, rule, before, exit_controls, after, qualification,
                            required, optional)


_U, _C, _N = Decider.UNCONDITIONAL, Decider.CONTROLS, Decider.NEVER
_DISP = Qualification.DISPLACEMENT
_DESC = (ctl(PROC2, "descriptor_table_exiting"),)
_RDTSC = (ctl(PROC, "rdtsc_exiting"),)
_XSAVES_UD = (cr4_ud("OSXSAVE"), enable_ud(PROC2, "enable_xsaves_xrstors"), NM_TS, CPL_GP)
_CR = Decider.CR

_TABLE: tuple[InstructionFacts, ...] = (
    # "Instructions That Cause VM Exits Unconditionally"
    _i("CPUID", 10, _U, "EXIT-UNCOND", optional=("eax", "ecx")),
    _i("GETSEC", 11, _U, "EXIT-UNCOND", before=(cr4_ud("SMXE"),), optional=("eax",)),
    _i("INVD", 13, _U, "EXIT-UNCOND", before=(CPL_GP,)),
    _i("XSETBV", 55, _U, "EXIT-UNCOND", before=(cr4_ud("OSXSAVE"), CPL_GP), optional=("ecx", "edx_eax")),
    # The VMX instructions: CPL is checked only after the exit, so they exit at any CPL.
    _i("VMCALL", 18, _U, "EXIT-VMX-INSN"),
    _i("VMCLEAR", 19, _U, "EXIT-VMX-INSN", before=(UD_MODE,), qualification=_DISP, optional=("displacement",)),
    _i("VMLAUNCH", 20, _U, "EXIT-VMX-INSN", before=(UD_MODE,)),
    _i("VMPTRLD", 21, _U, "EXIT-VMX-INSN", before=(UD_MODE,), qualification=_DISP, optional=("displacement",)),
    _i("VMPTRST", 22, _U, "EXIT-VMX-INSN", before=(UD_MODE,), qualification=_DISP, optional=("displacement",)),
    _i("VMRESUME", 24, _U, "EXIT-VMX-INSN", before=(UD_MODE,)),
    _i("VMXOFF", 26, _U, "EXIT-VMX-INSN", before=(UD_MODE,)),
    _i("VMXON", 27, _U, "EXIT-VMX-INSN", before=(UD_MODE,), qualification=_DISP, optional=("displacement",)),
    _i("INVEPT", 50, _U, "EXIT-VMX-INSN", before=(UD_MODE,), qualification=_DISP,
       optional=("type", "displacement")),
    _i("INVVPID", 53, _U, "EXIT-VMX-INSN", before=(UD_MODE,), qualification=_DISP,
       optional=("type", "displacement")),
    _i("VMREAD", 23, Decider.VMCS_ACCESS, "EXIT-VMCS-SHADOW", before=(UD_MODE,), after=(CPL_GP,),
       qualification=_DISP, required=("field",), optional=("displacement",)),
    _i("VMWRITE", 25, Decider.VMCS_ACCESS, "EXIT-VMCS-SHADOW", before=(UD_MODE,), after=(CPL_GP,),
       qualification=_DISP, required=("field",), optional=("displacement", "value")),
    _i("RSM", 17, _U, "EXIT-RSM", before=(NOT_IN_SMM,)),
    # "Instructions That Cause VM Exits Conditionally"
    _i("HLT", 12, _C, "EXIT-HLT", before=(CPL_GP,), exit_controls=(ctl(PROC, "hlt_exiting"),)),
    _i("INVLPG", 14, _C, "EXIT-INVLPG", before=(CPL_GP,), exit_controls=(ctl(PROC, "invlpg_exiting"),),
       qualification=Qualification.LINEAR_ADDRESS, required=("linear_address",)),
    _i("INVPCID", 58, _C, "EXIT-INVPCID", before=(enable_ud(PROC2, "enable_invpcid"), CPL_GP),
       exit_controls=(ctl(PROC, "invlpg_exiting"),), qualification=_DISP, optional=("type", "displacement")),
    _i("MWAIT", 36, _C, "EXIT-MWAIT", before=(CPL_UD,), exit_controls=(ctl(PROC, "mwait_exiting"),),
       qualification=Qualification.MONITOR_ARMED, optional=("monitor_armed", "eax", "ecx")),
    _i("MONITOR", 39, _C, "EXIT-MONITOR", before=(CPL_UD,), exit_controls=(ctl(PROC, "monitor_exiting"),),
       optional=("eax", "ecx", "edx")),
    _i("RDPMC", 15, _C, "EXIT-RDPMC", before=(PCE,), exit_controls=(ctl(PROC, "rdpmc_exiting"),),
       optional=("ecx",)),
    _i("RDTSC", 16, _C, "EXIT-RDTSC", before=(TSD,), exit_controls=_RDTSC),
    _i("RDTSCP", 51, _C, "EXIT-RDTSCP", before=(enable_ud(PROC2, "enable_rdtscp"), TSD), exit_controls=_RDTSC),
    _i("RDRAND", 57, _C, "EXIT-RDRAND", exit_controls=(ctl(PROC2, "rdrand_exiting"),)),
    _i("RDSEED", 61, _C, "EXIT-RDSEED", exit_controls=(ctl(PROC2, "rdseed_exiting"),)),
    _i("PAUSE", 40, Decider.PAUSE, "EXIT-PAUSE", optional=("since_last_pause", "since_loop_start")),
    _i("WBINVD", 54, _C, "EXIT-WBINVD", before=(CPL_GP,), exit_controls=(ctl(PROC2, "wbinvd_exiting"),)),
    _i("WBNOINVD", 54, _C, "EXIT-WBINVD", before=(CPL_GP,), exit_controls=(ctl(PROC2, "wbinvd_exiting"),)),
    _i("LGDT", 46, _C, "EXIT-DESC-TABLE", before=(CPL_GP,), exit_controls=_DESC, qualification=_DISP,
       optional=("displacement",)),
    _i("LIDT", 46, _C, "EXIT-DESC-TABLE", before=(CPL_GP,), exit_controls=_DESC, qualification=_DISP,
       optional=("displacement",)),
    _i("SGDT", 46, _C, "EXIT-DESC-TABLE", before=(UMIP,), exit_controls=_DESC, qualification=_DISP,
       optional=("displacement",)),
    _i("SIDT", 46, _C, "EXIT-DESC-TABLE", before=(UMIP,), exit_controls=_DESC, qualification=_DISP,
       optional=("displacement",)),
    _i("LLDT", 47, _C, "EXIT-DESC-TABLE", before=(UD_MODE, CPL_GP), exit_controls=_DESC, qualification=_DISP,
       optional=("displacement",)),
    _i("LTR", 47, _C, "EXIT-DESC-TABLE", before=(UD_MODE, CPL_GP), exit_controls=_DESC, qualification=_DISP,
       optional=("displacement",)),
    _i("SLDT", 47, _C, "EXIT-DESC-TABLE", before=(UD_MODE, UMIP), exit_controls=_DESC, qualification=_DISP,
       optional=("displacement",)),
    _i("STR", 47, _C, "EXIT-DESC-TABLE", before=(UD_MODE, UMIP), exit_controls=_DESC, qualification=_DISP,
       optional=("displacement",)),
    _i("XSAVES", 63, Decider.XSS, "EXIT-XSS-BITMAP", before=_XSAVES_UD, qualification=_DISP,
       optional=("edx_eax", "eax", "edx", "displacement")),
    _i("XRSTORS", 64, Decider.XSS, "EXIT-XSS-BITMAP", before=_XSAVES_UD, qualification=_DISP,
       optional=("edx_eax", "eax", "edx", "displacement")),
    _i("ENCLS", 60, Decider.ENCLS, "EXIT-ENCLS", before=(UD_MODE, IN_SMM, CPL_UD), required=("eax",)),
    _i("UMWAIT", 67, _C, "EXIT-UMWAIT", before=(enable_ud(PROC2, "enable_user_wait_and_pause"), TSD),
       exit_controls=_RDTSC, optional=("ecx", "edx_eax")),
    _i("TPAUSE", 68, _C, "EXIT-UMWAIT", before=(enable_ud(PROC2, "enable_user_wait_and_pause"), TSD),
       exit_controls=_RDTSC, optional=("ecx", "edx_eax")),
    _i("UMONITOR", None, _N, "EXIT-NOT-LISTED", before=(enable_ud(PROC2, "enable_user_wait_and_pause"),),
       optional=("linear_address",)),
    _i("RDMSR", 31, Decider.MSR, "EXIT-MSR-BITMAP", before=(CPL_GP,), qualification=Qualification.ZERO,
       required=("ecx",)),
    _i("WRMSR", 32, Decider.MSR, "EXIT-MSR-BITMAP", before=(CPL_GP,), qualification=Qualification.ZERO,
       required=("ecx",), optional=("edx_eax", "value")),
    _i("IN", 30, Decider.IO, "EXIT-IO-BITMAP", qualification=Qualification.COMPUTED,
       required=("port", "size", "operand"), optional=("io_permitted",)),
    _i("OUT", 30, Decider.IO, "EXIT-IO-BITMAP", qualification=Qualification.COMPUTED,
       required=("port", "size", "operand"), optional=("io_permitted", "value")),
    _i("INS", 30, Decider.IO, "EXIT-IO-BITMAP", qualification=Qualification.COMPUTED,
       required=("port", "size"), optional=("rep", "operand", "io_permitted")),
    _i("OUTS", 30, Decider.IO, "EXIT-IO-BITMAP", qualification=Qualification.COMPUTED,
       required=("port", "size"), optional=("rep", "operand", "io_permitted")),
    _i("MOV_TO_CR0", 28, _CR, "EXIT-CR0-MASK", before=(CPL_GP,), qualification=Qualification.COMPUTED,
       required=("value", "gpr")),
    _i("MOV_TO_CR3", 28, _CR, "EXIT-CR3-LOAD", before=(CPL_GP,), qualification=Qualification.COMPUTED,
       required=("value", "gpr")),
    _i("MOV_TO_CR4", 28, _CR, "EXIT-CR4-MASK", before=(CPL_GP,), qualification=Qualification.COMPUTED,
       required=("value", "gpr")),
    _i("MOV_TO_CR8", 28, _CR, "EXIT-CR8-LOAD", before=(CPL_GP,), qualification=Qualification.COMPUTED,
       required=("value", "gpr")),
    _i("MOV_FROM_CR3", 28, _CR, "EXIT-CR3-STORE", before=(CPL_GP,), qualification=Qualification.COMPUTED,
       required=("gpr",)),
    _i("MOV_FROM_CR8", 28, _CR, "EXIT-CR8-STORE", before=(CPL_GP,), qualification=Qualification.COMPUTED,
       required=("gpr",)),
    _i("CLTS", 28, _CR, "EXIT-CLTS", before=(CPL_GP,), qualification=Qualification.COMPUTED),
    _i("LMSW", 28, _CR, "EXIT-LMSW", before=(CPL_GP,), qualification=Qualification.COMPUTED,
       required=("value",), optional=("operand",)),
    _i("MOV_FROM_CR0", None, _N, "EXIT-CR-READ-SHADOW", before=(CPL_GP,), optional=("gpr",)),
    _i("MOV_FROM_CR4", None, _N, "EXIT-CR-READ-SHADOW", before=(CPL_GP,), optional=("gpr",)),
    _i("SMSW", None, _N, "EXIT-CR-READ-SHADOW", before=(UMIP,), optional=("gpr", "operand")),
    _i("MOV_TO_CR2", None, _N, "EXIT-NOT-LISTED", before=(CPL_GP,), optional=("value", "gpr")),
    _i("MOV_FROM_CR2", None, _N, "EXIT-NOT-LISTED", before=(CPL_GP,), optional=("gpr",)),
    _i("MOV_TO_DR", 29, Decider.DR, "EXIT-MOV-DR", qualification=Qualification.COMPUTED,
       required=("dr", "gpr"), optional=("value",)),
    _i("MOV_FROM_DR", 29, Decider.DR, "EXIT-MOV-DR", qualification=Qualification.COMPUTED,
       required=("dr", "gpr")),
)

INSTRUCTIONS: dict[str, InstructionFacts] = {f.mnemonic: f for f in _TABLE}

#: Instructions with VM-exit semantics vmxspec does not model, and why. A question about one is
#: answered "unsupported-query": guessing "no exit" would be a wrong verdict.
NOT_MODELLED: dict[str, str] = {
    "VMFUNC": "VMFUNC exits depend on the VM-function controls and, for EPTP switching, on the validity of an "
              "entry of the EPTP list",
    "ENCLV": "ENCLV is enabled by \"enable ENCLV exiting\" and the ENCLV-exiting bitmap (SGX oversubscription)",
    "PCONFIG": "PCONFIG is enabled by \"enable PCONFIG\" and the PCONFIG-exiting bitmap",
    "LOADIWKEY": "LOADIWKEY exiting is a tertiary control",
    "RDMSRLIST": "the MSR-list instructions are enabled by a tertiary control",
    "WRMSRLIST": "the MSR-list instructions are enabled by a tertiary control",
    "WRMSRNS": "WRMSRNS shares WRMSR's bitmap rule but its exit qualification is processor-specific",
    "SEAMCALL": "SEAMCALL belongs to Intel TDX",
    "TDCALL": "TDCALL belongs to Intel TDX",
    "ENQCMD": "ENQCMD exits on PASID-translation failures (PASID translation)",
    "ENQCMDS": "ENQCMDS exits on PASID-translation failures (PASID translation)",
}

#: Operand keys of ``instruction`` events (STATE_FORMAT.md, plus the keys vmxspec adds): the
#: width of each numeric key, or a marker for the non-numeric ones.
OPERAND_WIDTHS: dict[str, int] = {
    "ecx": 32, "eax": 32, "edx": 32, "edx_eax": 64, "port": 16, "value": 64, "field": 64, "type": 64,
    "linear_address": 64, "displacement": 64, "since_last_pause": 64, "since_loop_start": 64,
}
BOOL_OPERANDS = frozenset({"rep", "monitor_armed", "io_permitted"})
#: ``size`` (1, 2 or 4), ``gpr`` (0-15 or a register name), ``dr`` (0-7) and ``operand`` are
#: checked on their own.
SPECIAL_OPERANDS = frozenset({"size", "gpr", "dr", "operand"})


# -- registers and event formats ----------------------------------------------------------------

#: General-purpose register numbers as the exit qualifications encode them (SDM Table "Exit
#: Qualification for Control-Register Accesses", bits 11:8).
GPR_NAMES: tuple[str, ...] = ("rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                              "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15")
GPR_NUMBERS: dict[str, int] = {name: n for n, name in enumerate(GPR_NAMES)}
GPR_NUMBERS.update({"e" + name[1:]: n for n, name in enumerate(GPR_NAMES[:8])})

#: Interruptibility-state bits (SDM Table "Format of Interruptibility State").
INTERRUPTIBILITY = Layout("interruptibility state", 32, (
    BitField("sti", 0, 1, "Blocking by STI"),
    BitField("mov_ss", 1, 1, "Blocking by MOV SS"),
    BitField("smi", 2, 1, "Blocking by SMI"),
    BitField("nmi", 3, 1, "Blocking by NMI"),
))
BLOCKING_BY_STI, BLOCKING_BY_MOV_SS, BLOCKING_BY_NMI = 1 << 0, 1 << 1, 1 << 3

#: Guest activity states: the VMCS encoding (SDM "Guest Non-Register State") and the names the
#: state format's ``cpu.activity_state`` uses.
ACTIVITY_STATES: tuple[str, ...] = ("active", "hlt", "shutdown", "wait_for_sipi")

#: Task-switch exit qualification: selector and the source of the task switch.
TASK_SWITCH_QUAL = Layout("exit qualification for task switches", 64, (
    BitField("selector", 0, 16, "Selector of the task-state segment to which the guest attempted to switch"),
    BitField("source", 30, 2, "Source of task switch initiation: 0 CALL, 1 IRET, 2 JMP, 3 task gate in IDT"),
))
TASK_SWITCH_SOURCES: dict[str, int] = {"call": 0, "iret": 1, "jmp": 2, "idt": 3}

#: Control-register accesses (SDM Table "Exit Qualification for Control-Register Accesses").
CR_QUAL = Layout("exit qualification for control-register accesses", 64, (
    BitField("cr", 0, 4, "Number of control register (0 for CLTS and LMSW)"),
    BitField("access_type", 4, 2, "Access type: 0 MOV to CR, 1 MOV from CR, 2 CLTS, 3 LMSW"),
    BitField("lmsw_memory", 6, 1, "LMSW operand type: 0 register, 1 memory"),
    BitField("gpr", 8, 4, "For MOV CR, the general-purpose register"),
    BitField("lmsw_source", 16, 16, "For LMSW, the LMSW source data"),
))
CR_MOV_TO, CR_MOV_FROM, CR_CLTS, CR_LMSW = 0, 1, 2, 3

#: MOV DR (SDM Table "Exit Qualification for MOV DR").
DR_QUAL = Layout("exit qualification for MOV DR", 64, (
    BitField("dr", 0, 3, "Number of debug register"),
    BitField("direction", 4, 1, "Direction of access: 0 MOV to DR, 1 MOV from DR"),
    BitField("gpr", 8, 4, "General-purpose register"),
))

#: I/O instructions (SDM Table "Exit Qualification for I/O Instructions").
IO_QUAL = Layout("exit qualification for I/O instructions", 64, (
    BitField("size", 0, 3, "Size of access: 0 1-byte, 1 2-byte, 3 4-byte"),
    BitField("direction", 3, 1, "Direction of the attempted access: 0 OUT, 1 IN"),
    BitField("string", 4, 1, "String instruction: 0 not string, 1 string"),
    BitField("rep", 5, 1, "REP prefixed: 0 not REP, 1 REP"),
    BitField("immediate", 6, 1, "Operand encoding: 0 DX, 1 immediate"),
    BitField("port", 16, 16, "Port number (as specified in DX or in an immediate operand)"),
))

#: The exit qualification of a debug exception that causes a VM exit: B3-B0 (bits 3:0), BD
#: (bit 13) and BS (bit 14), in the positions DR6 uses for them.
DEBUG_QUAL_MASK = 0x600F
PF_VECTOR, DB_VECTOR, BP_VECTOR, OF_VECTOR, NMI_VECTOR = 14, 1, 3, 4, 2


# -- bitmaps ------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class MsrRegion:
    """One 1-KByte quarter of the 4-KByte MSR-bitmap page (SDM "MSR-Bitmap Address")."""

    name: str
    offset: int
    first: int
    last: int
    write: bool


MSR_REGIONS: tuple[MsrRegion, ...] = (
    MsrRegion("read bitmap for low MSRs", 0x000, 0x0000_0000, 0x0000_1FFF, False),
    MsrRegion("read bitmap for high MSRs", 0x400, 0xC000_0000, 0xC000_1FFF, False),
    MsrRegion("write bitmap for low MSRs", 0x800, 0x0000_0000, 0x0000_1FFF, True),
    MsrRegion("write bitmap for high MSRs", 0xC00, 0xC000_0000, 0xC000_1FFF, True),
)


def msr_region(msr: int, write: bool) -> MsrRegion | None:
    """The region whose bit controls ``msr``; None for an MSR outside both ranges (always exits)."""
    for region in MSR_REGIONS:
        if region.write == write and region.first <= msr <= region.last:
            return region
    return None


@dataclass(frozen=True, slots=True)
class IoBitmap:
    """One 4-KByte I/O bitmap (SDM "I/O-Bitmap Addresses"): one bit per port."""

    field: str
    first: int
    last: int


IO_BITMAPS: tuple[IoBitmap, ...] = (
    IoBitmap("IO_BITMAP_A", 0x0000, 0x7FFF),
    IoBitmap("IO_BITMAP_B", 0x8000, 0xFFFF),
)
IO_SIZES = (1, 2, 4)

#: VMREAD/VMWRITE bitmaps: bit n of the 4-KByte bitmap is field encoding n; an encoding with any
#: of bits 63:15 set always exits.
VMCS_ACCESS_BITMAPS: dict[str, str] = {"VMREAD": "VMREAD_BITMAP", "VMWRITE": "VMWRITE_BITMAP"}
VMCS_FIELD_BITS = 15

#: ENCLS: a leaf number above 62 selects bit 63 of the ENCLS-exiting bitmap.
ENCLS_LAST_BIT = 63

#: The number of CR3-target values a VMCS holds; VM entry fails for a larger CR3_TARGET_COUNT.
CR3_TARGETS = 4
#: Byte offset of VTPR on the virtual-APIC page.
VTPR_OFFSET = 0x80
