"""Basic VM-exit reasons (SDM Appendix C), with Linux's ``EXIT_REASON_*`` names.

Names are Linux's uapi names without the prefix where Linux has one; reasons Linux does not name
carry the SDM's title in the same style. Bit 31 of the full exit reason marks a VM-entry failure
(reasons 33, 34 and 41); bit 27 marks an exit from enclave mode.

Where the facts come from: Linux ``arch/x86/include/uapi/asm/vmx.h`` (``EXIT_REASON_*``,
``VMX_EXIT_REASONS_FAILED_VMENTRY``, ``VMX_EXIT_REASONS_SGX_ENCLAVE_MODE``) and Bochs
``bochs/cpu/vmx.h`` ``enum VMX_vmexit_reason`` at 783b58fd, which numbers every reason 0-85 and
names the ones Linux does not (IO_SMI, GETSEC, RSM, PCONFIG, SPP, LOADIWKEY, ENCLV,
ENQCMD(S)_PASID, SEAMCALL, RDMSRLIST, WRMSRLIST, URDMSR, UWRMSR, RDMSR_IMM, WRMSRNS). Numbers
35, 38, 42, 71, 82 and 83 are reserved (71 is disputed: an SGX branch of Linux used it).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ExitReason:
    number: int
    name: str
    title: str


EXIT_REASONS: tuple[ExitReason, ...] = tuple(ExitReason(n, name, title) for n, name, title in (
    (0, "EXCEPTION_NMI", "Exception or non-maskable interrupt (NMI)"),
    (1, "EXTERNAL_INTERRUPT", "External interrupt"),
    (2, "TRIPLE_FAULT", "Triple fault"),
    (3, "INIT_SIGNAL", "INIT signal"),
    (4, "SIPI_SIGNAL", "Start-up IPI (SIPI)"),
    (5, "IO_SMI", "I/O system-management interrupt (SMI)"),
    (6, "OTHER_SMI", "Other SMI"),
    (7, "INTERRUPT_WINDOW", "Interrupt window"),
    (8, "NMI_WINDOW", "NMI window"),
    (9, "TASK_SWITCH", "Task switch"),
    (10, "CPUID", "CPUID"),
    (11, "GETSEC", "GETSEC"),
    (12, "HLT", "HLT"),
    (13, "INVD", "INVD"),
    (14, "INVLPG", "INVLPG"),
    (15, "RDPMC", "RDPMC"),
    (16, "RDTSC", "RDTSC"),
    (17, "RSM", "RSM"),
    (18, "VMCALL", "VMCALL"),
    (19, "VMCLEAR", "VMCLEAR"),
    (20, "VMLAUNCH", "VMLAUNCH"),
    (21, "VMPTRLD", "VMPTRLD"),
    (22, "VMPTRST", "VMPTRST"),
    (23, "VMREAD", "VMREAD"),
    (24, "VMRESUME", "VMRESUME"),
    (25, "VMWRITE", "VMWRITE"),
    (26, "VMOFF", "VMXOFF"),
    (27, "VMON", "VMXON"),
    (28, "CR_ACCESS", "Control-register accesses"),
    (29, "DR_ACCESS", "MOV DR"),
    (30, "IO_INSTRUCTION", "I/O instruction"),
    (31, "MSR_READ", "RDMSR"),
    (32, "MSR_WRITE", "WRMSR"),
    (33, "INVALID_STATE", "VM-entry failure due to invalid guest state"),
    (34, "MSR_LOAD_FAIL", "VM-entry failure due to MSR loading"),
    (36, "MWAIT_INSTRUCTION", "MWAIT"),
    (37, "MONITOR_TRAP_FLAG", "Monitor trap flag"),
    (39, "MONITOR_INSTRUCTION", "MONITOR"),
    (40, "PAUSE_INSTRUCTION", "PAUSE"),
    (41, "MCE_DURING_VMENTRY", "VM-entry failure due to machine-check event"),
    (43, "TPR_BELOW_THRESHOLD", "TPR below threshold"),
    (44, "APIC_ACCESS", "APIC access"),
    (45, "EOI_INDUCED", "Virtualized EOI"),
    (46, "GDTR_IDTR", "Access to GDTR or IDTR"),
    (47, "LDTR_TR", "Access to LDTR or TR"),
    (48, "EPT_VIOLATION", "EPT violation"),
    (49, "EPT_MISCONFIG", "EPT misconfiguration"),
    (50, "INVEPT", "INVEPT"),
    (51, "RDTSCP", "RDTSCP"),
    (52, "PREEMPTION_TIMER", "VMX-preemption timer expired"),
    (53, "INVVPID", "INVVPID"),
    (54, "WBINVD", "WBINVD or WBNOINVD"),
    (55, "XSETBV", "XSETBV"),
    (56, "APIC_WRITE", "APIC write"),
    (57, "RDRAND", "RDRAND"),
    (58, "INVPCID", "INVPCID"),
    (59, "VMFUNC", "VMFUNC"),
    (60, "ENCLS", "ENCLS"),
    (61, "RDSEED", "RDSEED"),
    (62, "PML_FULL", "Page-modification log full"),
    (63, "XSAVES", "XSAVES"),
    (64, "XRSTORS", "XRSTORS"),
    (65, "PCONFIG", "PCONFIG"),
    (66, "SPP", "SPP-related event"),
    (67, "UMWAIT", "UMWAIT"),
    (68, "TPAUSE", "TPAUSE"),
    (69, "LOADIWKEY", "LOADIWKEY"),
    (70, "ENCLV", "ENCLV"),
    (72, "ENQCMD_PASID", "ENQCMD PASID translation failure"),
    (73, "ENQCMDS_PASID", "ENQCMDS PASID translation failure"),
    (74, "BUS_LOCK", "Bus lock"),
    (75, "NOTIFY", "Instruction timeout"),
    (76, "SEAMCALL", "SEAMCALL"),
    (77, "TDCALL", "TDCALL"),
    (78, "RDMSRLIST", "RDMSRLIST"),
    (79, "WRMSRLIST", "WRMSRLIST"),
    (80, "URDMSR", "URDMSR"),
    (81, "UWRMSR", "UWRMSR"),
    (84, "RDMSR_IMM", "RDMSR with an immediate MSR index"),
    (85, "WRMSRNS", "WRMSRNS with an immediate MSR index"),
))

BY_NUMBER: dict[int, ExitReason] = {r.number: r for r in EXIT_REASONS}
BY_NAME: dict[str, ExitReason] = {r.name: r for r in EXIT_REASONS}

EXIT_REASON_INVALID_GUEST_STATE = 33
EXIT_REASON_MSR_LOADING = 34
#: Bit 31 of the exit-reason field: VM-entry failure.
EXIT_REASON_FAILED_VMENTRY = 1 << 31
#: Bit 27 of the exit-reason field: the exit came from enclave mode.
EXIT_REASON_ENCLAVE_MODE = 1 << 27
