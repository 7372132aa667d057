"""Rules: VM-exit decisions (SDM Vol. 3C "VMX Non-Root Operation", "VM Entries", "VM Exits").

Every decision of ``vmxspec.interp.exits`` names one of these ids. ``FAULT-*`` rules are the faults
the SDM gives priority over a VM exit ("Relative Priority of Faults and VM Exits"); ``EXIT-*`` rules
decide whether an event exits. Implementation locations come from ``shared/reference/exits.md``
and were re-read in Bochs (commit 783b58fd6d9b) and KVM's ``nested.c``: KVM's
``nested_vmx_l1_wants_exit`` evaluates the same predicate on vmcs12, Bochs's ``vmexit.cc`` and the
instruction handlers give the fault-versus-exit order.
"""

from __future__ import annotations

from vmxspec.arch.rules import Rule, Stage

_X = Stage.EXIT
_KVM, _BX, _KUT = "KVM", "Bochs", "kvm-unit-tests"

S_UNCOND = "Instructions That Cause VM Exits Unconditionally"
S_COND = "Instructions That Cause VM Exits Conditionally"
S_PRIORITY = "Relative Priority of Faults and VM Exits"
S_OTHER = "Other Causes of VM Exits"
S_CHANGES = "Changes to Instruction Behavior in VMX Non-Root Operation"
S_TIMER = "VMX-Preemption Timer"
S_MTF = "Monitor Trap Flag"
S_ACTIVITY = "Activity State"
S_INTR_WINDOW = "Interrupt-Window Exiting and Virtual-Interrupt Delivery"
S_NMI_WINDOW = "NMI-Window Exiting"
S_TPR_ENTRY = "VM Exits Induced by the TPR Threshold"
S_MTF_PENDING = "Pending MTF VM Exits"
S_SPECIAL = "Special Features of VM Entry"
S_TPR_VIRT = "TPR Virtualization"
S_POSTED = "Posted-Interrupt Processing"

PIN, PROC, PROC2 = "PIN_BASED_VM_EXEC_CONTROL", "CPU_BASED_VM_EXEC_CONTROL", "SECONDARY_VM_EXEC_CONTROL"


def _r(id: str, section: str, condition: str, fields: tuple[str, ...] = (), *, kvm: str = "", bochs: str = "",
       kut: str = "", divergence: str = "") -> Rule:
    impls = tuple((who, where) for who, where in ((_KVM, kvm), (_BX, bochs), (_KUT, kut)) if where)
    return Rule(id, _X, section, condition, fields, (), impls, divergence)


RULES: tuple[Rule, ...] = (
    # -- faults with priority over VM exits ------------------------------------------------------
    _r("FAULT-UD-MODE", S_PRIORITY,
       "Invalid-opcode exceptions have priority over VM exits. VMCLEAR, VMLAUNCH, VMPTRLD, VMPTRST, VMREAD, "
       "VMRESUME, VMWRITE, VMXOFF, VMXON, INVEPT and INVVPID, and LLDT, LTR, SLDT, STR and ENCLS, are not "
       "recognized in real-address mode (CR0.PE = 0) or virtual-8086 mode (RFLAGS.VM = 1): they raise #UD "
       "and do not exit. VMCALL has no such check before its exit.",
       bochs="vmx.cc:VMCLEAR/VMPTRLD/VMREAD_EdGd/INVEPT (#UD before VMexit); VMCALL (VMexit before the VM check)",
       divergence="Compatibility mode (IA32_EFER.LMA = 1 and CS.L = 0) also gives #UD; the state has no live "
                  "CS.L, so vmxspec does not model it."),
    _r("FAULT-UD-CR4", S_PRIORITY,
       "An instruction that a CR4 bit enables raises #UD, with priority over its VM exit, while that bit is 0: "
       "GETSEC needs CR4.SMXE, XSETBV, XSAVES and XRSTORS need CR4.OSXSAVE.",
       bochs="vmx.cc:GETSEC; xsave.cc:XSETBV (#UD before VMexit)"),
    _r("FAULT-UD-CONTROL", S_COND,
       "Some instructions are enabled in VMX non-root operation by a secondary VM-execution control and raise "
       "#UD while it is 0 (or while \"activate secondary controls\" is 0): RDTSCP (\"enable RDTSCP\"), INVPCID "
       "(\"enable INVPCID\"), XSAVES and XRSTORS (\"enable XSAVES/XRSTORS\"), UMONITOR, UMWAIT and TPAUSE "
       "(\"enable user wait and pause\"). The #UD has priority over every other fault of the instruction.",
       (PROC, PROC2),
       kvm="nested.c:nested_vmx_l1_wants_exit (INVPCID, XSAVES, UMWAIT)",
       bochs="proc_ctrl.cc:RDTSCP; vmx.cc:INVPCID; xsave.cc:XSAVEC/XRSTOR; mwait.cc:UMWAIT_Ed, UMONITOR_Eq",
       kut="vmx_tests.c:disable_rdtscp_main",
       divergence="For XSAVES and XRSTORS Bochs raises #NM (CR0.TS) and the CPL #GP before the \"enable "
                  "XSAVES/XRSTORS\" #UD; vmxspec follows the SDM's exception classes, where an opcode the "
                  "processor does not recognize (#UD) is a decode fault and precedes #NM and execution faults."),
    _r("FAULT-UD-SMM", S_PRIORITY,
       "RSM raises #UD outside system-management mode; ENCLS raises #UD in system-management mode. Both "
       "precede any VM exit.",
       bochs="smm.cc:RSM"),
    _r("FAULT-NM-TS", S_PRIORITY,
       "XSAVES and XRSTORS raise #NM when CR0.TS = 1. \"Coprocessor not available\" is a fault from decoding "
       "the instruction, which precedes privilege checks and the VM exit.",
       bochs="cpu.h:prepareXSAVE (#UD for CR4.OSXSAVE, then #NM for CR0.TS, before the CPL and VMX "
             "checks of XSAVEC/XRSTOR)"),
    _r("FAULT-CPL", S_PRIORITY,
       "Faults based on privilege level have priority over VM exits: a privileged instruction executed with "
       "CPL > 0 raises #GP(0) (#UD for MONITOR, MWAIT and ENCLS) instead of exiting; for example RDMSR at "
       "CPL 3 raises #GP and does not exit. The VMX instructions are the exception: they check CPL only after "
       "deciding the VM exit, so they exit at any CPL, and VMREAD/VMWRITE that VMCS shadowing lets through "
       "raise #GP(0) at CPL > 0. Without MOV-DR exiting, MOV DR at CPL > 0 raises #GP(0).",
       kvm="vmx.c:handle_dr (re-injects #GP when CPL > 0: the exit came first)",
       bochs="proc_ctrl.cc:HLT/INVD/WBINVD; msr.cc:RDMSR/WRMSR; crregs.cc:MOV_CR0Rq; vmx.cc:VMREAD_EdGd",
       divergence="Bochs takes the VM exit of XSETBV before its CPL check and that of INVPCID (with INVLPG "
                  "exiting) before its CPL check; KVM re-checks CPL in its XSETBV handler. vmxspec follows the "
                  "SDM's general rule (privilege faults first) for both."),
    _r("FAULT-CPL-CR4", S_PRIORITY,
       "CPL-dependent faults controlled by CR4 precede the VM exit: with CPL > 0, RDTSC, RDTSCP, UMWAIT and "
       "TPAUSE raise #GP(0) when CR4.TSD = 1; RDPMC raises #GP(0) when CR4.PCE = 0; SGDT, SIDT, SLDT, STR and "
       "SMSW raise #GP(0) when CR4.UMIP = 1.",
       bochs="proc_ctrl.cc:RDTSC/RDTSCP/RDPMC; mwait.cc:UMWAIT_Ed; protect_ctrl.cc:SGDT_Ms/SLDT_Ew; "
             "crregs.cc:SMSW_EwR"),
    _r("FAULT-IO-PERMISSION", S_PRIORITY,
       "General-protection exceptions based on the I/O permission bits in the TSS have priority over VM exits: "
       "when CPL > IOPL or in virtual-8086 mode, an I/O instruction whose ports the TSS I/O-permission bitmap "
       "does not allow raises #GP(0) and does not exit.",
       bochs="io.cc:allow_io (checked before VMexit_IO)"),
    _r("FAULT-UD-DR", S_COND,
       "When MOV-DR exiting is 0, MOV DR executes normally: with CR4.DE = 1 an access to DR4 or DR5 raises #UD "
       "(checked before the CPL #GP). With MOV-DR exiting 1 the VM exit takes priority over this #UD.",
       (PROC,),
       bochs="crregs.cc:MOV_DdRd/MOV_RdDd",
       divergence="A #DB because DR7.GD = 1 also precedes the CPL check; the state has no live DR7, so vmxspec "
                  "assumes DR7.GD = 0."),
    _r("FAULT-CR8-RESERVED", S_COND,
       "MOV to CR8 that does not exit because of CR8-load exiting raises #GP(0) when bits 63:4 of its source "
       "are not all 0, whether or not \"use TPR shadow\" is 1; no TPR virtualization happens then.",
       (PROC,),
       bochs="crregs.cc:WriteCR8 (CR8-load exit, then the reserved-bit #GP, then the TPR shadow)"),

    # -- instructions: unconditional ---------------------------------------------------------------
    _r("EXIT-UNCOND", S_UNCOND,
       "CPUID, GETSEC, INVD and XSETBV cause VM exits unconditionally in VMX non-root operation (after the "
       "faults that have priority over VM exits).",
       kvm="nested.c:nested_vmx_l1_wants_exit (CPUID, INVD, XSETBV: always)",
       bochs="proc_ctrl.cc:CPUID/INVD; vmx.cc:GETSEC; xsave.cc:XSETBV", kut="vmx_tests.c:insn_table"),
    _r("EXIT-VMX-INSN", S_UNCOND,
       "INVEPT, INVVPID, VMCALL, VMCLEAR, VMLAUNCH, VMPTRLD, VMPTRST, VMRESUME, VMXOFF and VMXON cause VM exits "
       "unconditionally. Their CPL check comes after the exit, so they exit at any CPL.",
       kvm="nested.c:nested_vmx_l1_wants_exit (VMX instructions: always)",
       bochs="vmx.cc:VMCALL/VMLAUNCH/VMPTRLD/VMXOFF/INVEPT", kut="vmx_tests.c:insn_table"),
    _r("EXIT-RSM", S_UNCOND,
       "RSM executed in system-management mode in VMX non-root operation (dual-monitor treatment) causes a "
       "VM exit.",
       bochs="smm.cc:RSM"),
    _r("EXIT-VMCS-SHADOW", S_COND,
       "VMREAD (VMWRITE) causes a VM exit unless \"VMCS shadowing\" is 1, the field encoding in the register "
       "operand has no bit set in 63:15, and the bit of the VMREAD (VMWRITE) bitmap selected by the encoding's "
       "bits 14:0 is 0.",
       (PROC, PROC2, "VMREAD_BITMAP", "VMWRITE_BITMAP"),
       kvm="nested.c:nested_vmx_exit_handled_vmcs_access", bochs="vmexit.cc:Vmexit_Vmread/Vmexit_Vmwrite",
       kut="vmx_tests.c:vmcs_shadow_test_field",
       divergence="Outside 64-bit mode the register operand is 32 bits wide; vmxspec takes the 'field' operand "
                  "as given, so give only 32 bits for such a guest."),

    # -- instructions: conditional -----------------------------------------------------------------
    _r("EXIT-HLT", S_COND, "HLT causes a VM exit if \"HLT exiting\" is 1.", (PROC,),
       kvm="nested.c:nested_vmx_l1_wants_exit (HLT)", bochs="proc_ctrl.cc:HLT", kut="vmx_tests.c:insn_table"),
    _r("EXIT-INVLPG", S_COND,
       "INVLPG causes a VM exit if \"INVLPG exiting\" is 1; the exit qualification is the linear-address operand.",
       (PROC,), kvm="nested.c:nested_vmx_l1_wants_exit (INVLPG)", bochs="paging.cc:INVLPG",
       kut="vmx_tests.c:insn_table"),
    _r("EXIT-INVPCID", S_COND,
       "With \"enable INVPCID\" 1, INVPCID causes a VM exit if \"INVLPG exiting\" is 1. (With \"enable INVPCID\" "
       "0 it raises #UD: FAULT-UD-CONTROL.)",
       (PROC, PROC2), kvm="nested.c:nested_vmx_l1_wants_exit (INVPCID: both bits)", bochs="vmx.cc:INVPCID"),
    _r("EXIT-MWAIT", S_COND,
       "MWAIT causes a VM exit if \"MWAIT exiting\" is 1. The exit qualification is 1 if address-range "
       "monitoring hardware is armed, else 0.",
       (PROC,), kvm="nested.c:nested_vmx_l1_wants_exit (MWAIT)", bochs="mwait.cc:MWAIT",
       kut="vmx_tests.c:insn_table"),
    _r("EXIT-MONITOR", S_COND, "MONITOR causes a VM exit if \"MONITOR exiting\" is 1.", (PROC,),
       kvm="nested.c:nested_vmx_l1_wants_exit (MONITOR)", bochs="mwait.cc:MONITOR", kut="vmx_tests.c:insn_table"),
    _r("EXIT-RDPMC", S_COND, "RDPMC causes a VM exit if \"RDPMC exiting\" is 1.", (PROC,),
       kvm="nested.c:nested_vmx_l1_wants_exit (RDPMC)", bochs="proc_ctrl.cc:RDPMC", kut="vmx_tests.c:insn_table"),
    _r("EXIT-RDTSC", S_COND, "RDTSC causes a VM exit if \"RDTSC exiting\" is 1.", (PROC,),
       kvm="nested.c:nested_vmx_l1_wants_exit (RDTSC)", bochs="proc_ctrl.cc:RDTSC", kut="vmx_tests.c:insn_table"),
    _r("EXIT-RDTSCP", S_COND,
       "With \"enable RDTSCP\" 1, RDTSCP causes a VM exit if \"RDTSC exiting\" is 1 (basic exit reason 51). "
       "With \"enable RDTSCP\" 0 it raises #UD even when RDTSC exiting is 1 (FAULT-UD-CONTROL).",
       (PROC, PROC2), kvm="nested.c:nested_vmx_l1_wants_exit (RDTSCP)", bochs="proc_ctrl.cc:RDTSCP",
       kut="vmx_tests.c:disable_rdtscp_main"),
    _r("EXIT-RDRAND", S_COND, "RDRAND causes a VM exit if \"RDRAND exiting\" is 1.", (PROC, PROC2),
       kvm="nested.c:nested_vmx_l1_wants_exit (RDRAND)", bochs="rdrand.cc:RDRAND_Ed"),
    _r("EXIT-RDSEED", S_COND, "RDSEED causes a VM exit if \"RDSEED exiting\" is 1.", (PROC, PROC2),
       kvm="nested.c:nested_vmx_l1_wants_exit (RDSEED)", bochs="rdrand.cc:RDSEED_Ed"),
    _r("EXIT-PAUSE", S_COND,
       "PAUSE causes a VM exit if \"PAUSE exiting\" is 1, at any CPL (\"PAUSE-loop exiting\" is then ignored). "
       "With \"PAUSE exiting\" 0 and CPL > 0, PAUSE executes normally.",
       (PROC,), kvm="nested.c:nested_vmx_l1_wants_exit (PAUSE)", bochs="vmexit.cc:VMexit_PAUSE",
       kut="vmx_tests.c:insn_table"),
    _r("EXIT-PAUSE-LOOP", S_COND,
       "With \"PAUSE exiting\" 0, \"PAUSE-loop exiting\" 1 and CPL = 0: a PAUSE whose distance from the previous "
       "CPL-0 PAUSE exceeds PLE_Gap (or the first PAUSE at CPL 0 after VM entry) starts a new loop and does not "
       "exit; otherwise it exits if the time since the first PAUSE of the loop exceeds PLE_Window. Time is "
       "counted in ticks of a counter running at the TSC rate. vmxspec takes both distances from the event "
       "(since_last_pause, since_loop_start); a PAUSE without since_last_pause is the first after VM entry.",
       (PROC, PROC2, "PLE_GAP", "PLE_WINDOW"),
       kvm="nested.c:nested_vmx_l1_wants_exit (PAUSE: PAUSE_EXITING || PAUSE_LOOP_EXITING)",
       bochs="vmexit.cc:VMexit_PAUSE",
       divergence="KVM reflects every PAUSE to L1 when PLE is on (no timing); Bochs implements gap and window."),
    _r("EXIT-WBINVD", S_COND, "WBINVD and WBNOINVD cause VM exits if \"WBINVD exiting\" is 1.", (PROC, PROC2),
       kvm="nested.c:nested_vmx_l1_wants_exit (WBINVD)", bochs="proc_ctrl.cc:WBINVD"),
    _r("EXIT-DESC-TABLE", S_COND,
       "LGDT, LIDT, SGDT and SIDT (basic exit reason 46) and LLDT, LTR, SLDT and STR (reason 47) cause VM exits "
       "if \"descriptor-table exiting\" is 1. The exit qualification is the memory operand's displacement.",
       (PROC, PROC2), kvm="nested.c:nested_vmx_l1_wants_exit (GDTR_IDTR, LDTR_TR)",
       bochs="protect_ctrl.cc:LGDT_Ms/SGDT_Ms/LLDT_Ew/STR_Ew"),
    _r("EXIT-XSS-BITMAP", S_COND,
       "With \"enable XSAVES/XRSTORS\" 1, XSAVES (XRSTORS) causes a VM exit if the logical AND of EDX:EAX, the "
       "IA32_XSS MSR and the XSS-exiting bitmap is not 0.",
       (PROC, PROC2, "XSS_EXIT_BITMAP"), bochs="xsave.cc:XRSTOR (XRSTORS), XSAVEC (XSAVES)",
       kvm="nested.c:nested_vmx_l1_wants_exit (XSAVES/XRSTORS)",
       divergence="KVM reflects every XSAVES/XRSTORS when the enable bit is set, relying on IA32_XSS being 0 "
                  "in L2."),
    _r("EXIT-ENCLS", S_COND,
       "ENCLS causes a VM exit if \"enable ENCLS exiting\" is 1 and the bit of the ENCLS-exiting bitmap selected "
       "by EAX is 1 (bit 63 for EAX > 62).",
       (PROC, PROC2, "ENCLS_EXITING_BITMAP"), kvm="nested.c:nested_vmx_exit_handled_encls"),
    _r("EXIT-UMWAIT", S_COND,
       "With \"enable user wait and pause\" 1, UMWAIT (reason 67) and TPAUSE (reason 68) cause VM exits if "
       "\"RDTSC exiting\" is 1.",
       (PROC, PROC2), bochs="mwait.cc:UMWAIT_Ed",
       kvm="nested.c:nested_vmx_l1_wants_exit (UMWAIT, TPAUSE)",
       divergence="KVM reflects them whenever the enable bit is set (vmcs02 never has L0's RDTSC exiting)."),
    _r("EXIT-NOT-LISTED", S_COND,
       "An instruction that the SDM does not list as causing VM exits (for example MOV to CR2, UMONITOR) never "
       "exits by itself; only the faults it raises can, through the exception bitmap."),

    # -- MSR bitmaps -----------------------------------------------------------------------------------
    _r("EXIT-MSR-NO-BITMAP", S_COND,
       "If \"use MSR bitmaps\" is 0, every execution of RDMSR (reason 31) and WRMSR (reason 32) causes a VM exit.",
       (PROC,), kvm="nested.c:nested_vmx_exit_handled_msr", bochs="vmexit.cc:VMexit_MSR"),
    _r("EXIT-MSR-RANGE", S_COND,
       "With \"use MSR bitmaps\" 1, RDMSR and WRMSR cause VM exits when ECX is in neither 00000000H-00001FFFH "
       "nor C0000000H-C0001FFFH.",
       (PROC,), kvm="nested.c:nested_vmx_exit_handled_msr", bochs="vmexit.cc:VMexit_MSR"),
    _r("EXIT-MSR-BITMAP", S_COND,
       "With \"use MSR bitmaps\" 1, RDMSR of an MSR in 00000000H-00001FFFH exits iff bit ECX of the read bitmap "
       "for low MSRs (bytes 0-1023 of the MSR-bitmap page) is 1; in C0000000H-C0001FFFH, iff bit ECX & 1FFFH of "
       "the read bitmap for high MSRs (bytes 1024-2047). WRMSR uses the write bitmaps for low MSRs (bytes "
       "2048-3071) and high MSRs (bytes 3072-4095).",
       (PROC, "MSR_BITMAP"), kvm="nested.c:nested_vmx_exit_handled_msr", bochs="vmexit.cc:VMexit_MSR"),

    # -- I/O -------------------------------------------------------------------------------------------
    _r("EXIT-IO-UNCOND", S_COND,
       "If \"use I/O bitmaps\" is 0, IN, INS, OUT and OUTS cause VM exits iff \"unconditional I/O exiting\" is 1.",
       (PROC,), kvm="nested.c:nested_vmx_exit_handled_io", bochs="vmexit.cc:VMexit_IO"),
    _r("EXIT-IO-WRAP", S_COND,
       "If \"use I/O bitmaps\" is 1 (\"unconditional I/O exiting\" is then ignored), an I/O instruction whose "
       "access wraps around past port FFFFH causes a VM exit whatever the bitmaps hold.",
       (PROC,), kvm="nested.c:nested_vmx_check_io_bitmaps", bochs="vmexit.cc:VMexit_IO"),
    _r("EXIT-IO-BITMAP", S_COND,
       "If \"use I/O bitmaps\" is 1, an I/O instruction causes a VM exit iff the bit of any port it accesses is 1: "
       "ports 0000H-7FFFH in I/O bitmap A, 8000H-FFFFH in I/O bitmap B (an access may consult both). String "
       "and REP forms are decided per execution of the instruction, with the same ports.",
       (PROC, "IO_BITMAP_A", "IO_BITMAP_B"), kvm="nested.c:nested_vmx_check_io_bitmaps",
       bochs="vmexit.cc:VMexit_IO"),

    # -- control registers ---------------------------------------------------------------------------
    _r("EXIT-CR0-MASK", S_COND,
       "MOV to CR0 causes a VM exit unless its source operand matches, at every bit set in the CR0 guest/host "
       "mask, the CR0 read shadow. With the mask 0 it never exits.",
       (PROC, "CR0_GUEST_HOST_MASK", "CR0_READ_SHADOW"), kvm="nested.c:nested_vmx_exit_handled_cr",
       bochs="vmexit.cc:VMexit_CR0_Write", kut="vmx_tests.c:cr_shadowing_main"),
    _r("EXIT-CR4-MASK", S_COND,
       "MOV to CR4 causes a VM exit unless its source operand matches, at every bit set in the CR4 guest/host "
       "mask, the CR4 read shadow.",
       ("CR4_GUEST_HOST_MASK", "CR4_READ_SHADOW"), kvm="nested.c:nested_vmx_exit_handled_cr",
       bochs="vmexit.cc:VMexit_CR4_Write", kut="vmx_tests.c:cr_shadowing_main"),
    _r("EXIT-CLTS", S_COND,
       "CLTS causes a VM exit iff bit 3 (TS) is 1 in both the CR0 guest/host mask and the CR0 read shadow.",
       ("CR0_GUEST_HOST_MASK", "CR0_READ_SHADOW"), kvm="nested.c:nested_vmx_exit_handled_cr",
       bochs="vmexit.cc:VMexit_CLTS"),
    _r("EXIT-LMSW", S_COND,
       "LMSW causes a VM exit if bit 0 (PE) is 1 in both the CR0 guest/host mask and the source operand and 0 "
       "in the CR0 read shadow, or if, for any bit in 3:1, the mask bit is 1 and the source and shadow bits "
       "differ. (LMSW never clears PE, and never writes bits above 3.)",
       ("CR0_GUEST_HOST_MASK", "CR0_READ_SHADOW"), kvm="nested.c:nested_vmx_exit_handled_cr",
       bochs="vmexit.cc:VMexit_LMSW"),
    _r("EXIT-CR3-LOAD", S_COND,
       "MOV to CR3 causes a VM exit unless \"CR3-load exiting\" is 0 or its source operand equals one of the "
       "first n CR3-target values, n being the CR3-target count (values beyond n are ignored).",
       (PROC, "CR3_TARGET_COUNT", "CR3_TARGET_VALUE0", "CR3_TARGET_VALUE1", "CR3_TARGET_VALUE2",
        "CR3_TARGET_VALUE3"),
       kvm="nested.c:nested_vmx_exit_handled_cr", bochs="vmexit.cc:VMexit_CR3_Write",
       kut="vmx_tests.c:cr_shadowing_main",
       divergence="KVM reflects every MOV to CR3 under CR3-load exiting, ignoring targets; consistent only "
                  "because it advertises 0 CR3 targets to L1."),
    _r("EXIT-CR3-STORE", S_COND, "MOV from CR3 causes a VM exit if \"CR3-store exiting\" is 1.", (PROC,),
       kvm="nested.c:nested_vmx_exit_handled_cr", bochs="vmexit.cc:VMexit_CR3_Read", kut="vmx_tests.c:insn_table"),
    _r("EXIT-CR8-LOAD", S_COND,
       "MOV to CR8 causes a VM exit if \"CR8-load exiting\" is 1, whatever \"use TPR shadow\" is. Otherwise, with "
       "\"use TPR shadow\" 1 it writes VTPR; with \"use TPR shadow\" 0 it writes the real TPR.",
       (PROC,), kvm="nested.c:nested_vmx_exit_handled_cr", bochs="vmexit.cc:VMexit_CR8_Write",
       kut="vmx_tests.c:insn_table"),
    _r("EXIT-CR8-STORE", S_COND,
       "MOV from CR8 causes a VM exit if \"CR8-store exiting\" is 1, whatever \"use TPR shadow\" is. Otherwise it "
       "reads VTPR[7:4] (\"use TPR shadow\" 1) or the real TPR.",
       (PROC,), kvm="nested.c:nested_vmx_exit_handled_cr", bochs="vmexit.cc:VMexit_CR8_Read",
       kut="vmx_tests.c:insn_table"),
    _r("EXIT-CR-READ-SHADOW", S_CHANGES,
       "MOV from CR0, MOV from CR4 and SMSW never cause VM exits: they return the read shadow at the bits set in "
       "the guest/host mask and the real register elsewhere.",
       ("CR0_GUEST_HOST_MASK", "CR0_READ_SHADOW", "CR4_GUEST_HOST_MASK", "CR4_READ_SHADOW"),
       bochs="crregs.cc:read_CR0/read_CR4", kut="vmx_tests.c:cr_shadowing_main"),
    _r("EXIT-TPR-THRESHOLD", S_TPR_VIRT,
       "With \"use TPR shadow\" 1 and \"virtual-interrupt delivery\" 0, a MOV to CR8 that does not exit writes "
       "VTPR and then causes a trap-like VM exit (\"TPR below threshold\", reason 43) if VTPR[7:4] is less "
       "than bits 3:0 of the TPR threshold.",
       (PROC, PROC2, "TPR_THRESHOLD"), bochs="crregs.cc:WriteCR8; vapic.cc:VMX_TPR_Virtualization"),

    # -- debug registers -------------------------------------------------------------------------------
    _r("EXIT-MOV-DR", S_COND,
       "MOV DR causes a VM exit if \"MOV-DR exiting\" is 1. This exit takes priority over the #GP for CPL > 0, "
       "the #UD for DR4/DR5 with CR4.DE = 1 and the #DB for DR7.GD = 1.",
       (PROC,), kvm="nested.c:nested_vmx_l1_wants_exit (DR_ACCESS); vmx.c:handle_dr",
       bochs="crregs.cc:MOV_DdRd/MOV_RdDd; vmexit.cc:VMexit_DR_Access", kut="vmx_tests.c:insn_table"),

    # -- exceptions and interrupts -------------------------------------------------------------------------
    _r("EXIT-EXCEPTION-BITMAP", S_OTHER,
       "An exception with vector v (0-31) other than 14 causes a VM exit iff bit v of the exception bitmap is 1, "
       "including #BP and #OF from INT3 and INTO, #BR from BOUND, #UD from UD2 and the faults an instruction "
       "raises instead of exiting. Otherwise it is delivered through the guest IDT.",
       ("EXCEPTION_BITMAP",), kvm="nested.c:nested_vmx_l1_wants_exit (EXCEPTION_NMI)",
       bochs="vmexit.cc:VMexit_Event", kut="vmx_tests.c:vmx_exception_test"),
    _r("EXIT-PF-MASK-MATCH", S_OTHER,
       "A page fault exits iff (PFEC & PFEC_MASK = PFEC_MATCH) equals bit 14 of the exception bitmap: with "
       "equality the bit is followed, with inequality its meaning is reversed.",
       ("EXCEPTION_BITMAP", "PAGE_FAULT_ERROR_CODE_MASK", "PAGE_FAULT_ERROR_CODE_MATCH"),
       kvm="nested.c:nested_vmx_is_page_fault_vmexit", bochs="vmexit.cc:VMexit_Event",
       divergence="KVM and Bochs compare only the low 16 bits of the error code; vmxspec uses all 32 bits, as "
                  "the SDM and the 32-bit mask and match fields do."),
    _r("EXIT-SOFTWARE-INTERRUPT", S_OTHER,
       "INT n (a software interrupt, interruption type 4) never causes a VM exit through the exception bitmap, "
       "whatever n is, INT 3 included; only INT3 (#BP) and INTO (#OF) are exceptions. Faults raised while "
       "delivering it are separate exception events.",
       bochs="soft_int.cc:INT_Ib; vmexit.cc:VMexit_Event (no VMEXIT on software interrupt)"),
    _r("EXIT-EXTINT", S_OTHER,
       "An external interrupt causes a VM exit (reason 1) if \"external-interrupt exiting\" is 1, even when "
       "RFLAGS.IF = 0 (whether blocking by STI or MOV SS delays it by an instruction is implementation-specific). "
       "Otherwise it is delivered through the guest IDT when RFLAGS.IF = 1 and nothing blocks it, and held "
       "pending otherwise.",
       (PIN,), kvm="nested.c:nested_exit_on_intr", bochs="vmexit.cc:VMexit_ExtInterrupt; event.cc",
       kut="vmx_tests.c:interrupt_main"),
    _r("EXIT-POSTED-INTR", S_POSTED,
       "With \"external-interrupt exiting\" and \"process posted interrupts\" both 1, an external interrupt whose "
       "vector is the posted-interrupt notification vector is acknowledged and processed as posted interrupts, "
       "without a VM exit.",
       (PIN, "POSTED_INTR_NV"), bochs="event.cc:HandleExtInterrupt (VMX_Posted_Interrupt_Processing)"),
    _r("EXIT-NMI", S_OTHER,
       "An NMI causes a VM exit (reason 0, vector 2) if \"NMI exiting\" is 1, unless NMIs are blocked: with "
       "\"virtual NMIs\" 0, blocking by NMI (interruptibility bit 3) stays in effect for all of VMX non-root "
       "operation; with \"virtual NMIs\" 1 that bit is virtual-NMI blocking and does not block NMIs. With \"NMI "
       "exiting\" 0 the NMI is delivered through the guest IDT.",
       (PIN,), kvm="nested.c:nested_exit_on_nmi", bochs="event.cc; vmexit.cc:VMexit_Event",
       kut="vmx_tests.c:nmi_hlt_main"),
    _r("EXIT-TRIPLE-FAULT", S_OTHER, "A triple fault always causes a VM exit (reason 2).",
       bochs="vmexit.cc:VMexit_TripleFault"),
    _r("EXIT-INIT", S_OTHER,
       "An INIT signal causes a VM exit (reason 3) unless the logical processor is in the wait-for-SIPI state, "
       "which blocks INIT.",
       bochs="event.cc (INIT: VMexit)", kut="vmx_tests.c:vmx_init_signal_test"),
    _r("EXIT-SIPI", S_OTHER,
       "A SIPI causes a VM exit (reason 4, exit qualification = the SIPI vector) only in the wait-for-SIPI "
       "state; in any other state it is discarded.",
       bochs="event.cc:deliver_SIPI", kut="vmx_tests.c:sipi_test_ap_thread"),
    _r("EXIT-TASK-SWITCH", S_OTHER,
       "Any attempt at a task switch in VMX non-root operation causes a VM exit (reason 9) after the task "
       "switch's initial checks; the exit qualification holds the TSS selector (bits 15:0) and the source "
       "(bits 31:30: 0 CALL, 1 IRET, 2 JMP, 3 task gate in the IDT).",
       bochs="tasking.cc:task_switch; vmexit.cc:VMexit_TaskSwitch"),
    _r("EXIT-ACTIVITY-BLOCKING", S_ACTIVITY,
       "The shutdown state blocks external interrupts and SIPIs; the wait-for-SIPI state blocks external "
       "interrupts, NMIs, INIT signals and SMIs; the active and HLT states block SIPIs. A blocked event causes "
       "no VM exit, whatever the pin-based controls say.",
       bochs="event.cc (activity states)"),
    _r("EXIT-MTF", S_MTF,
       "With \"monitor trap flag\" 1, an MTF VM exit (reason 37) occurs on the instruction boundary after an "
       "instruction that does not itself exit (after delivery of its fault, if it faults without exiting), and "
       "after delivery of an event through the guest IDT.",
       (PROC,), kvm="nested.c:nested_vmx_exit_handled_mtf", bochs="event.cc (MONITOR_TRAP_FLAG)"),

    # -- before the first guest instruction ----------------------------------------------------------
    _r("EXIT-TPR-THRESHOLD-ENTRY", S_TPR_ENTRY,
       "With \"use TPR shadow\" 1 and \"virtual-interrupt delivery\" 0, a VM exit (reason 43) occurs immediately "
       "after VM entry if bits 3:0 of the TPR threshold exceed VTPR[7:4]. It is not blocked by RFLAGS.IF or the "
       "interruptibility state, has priority over every other after-entry exit, wakes the HLT state and does "
       "not occur in the shutdown or wait-for-SIPI state.",
       (PROC, PROC2, "TPR_THRESHOLD", "VIRTUAL_APIC_PAGE_ADDR"), bochs="vapic.cc:VMX_TPR_Virtualization",
       divergence="Older SDM editions also require \"virtualize APIC accesses\"; without it VM entry already "
                  "requires TPR_THRESHOLD[3:0] <= VTPR[7:4] (CTL-TPR-VTPR), so the two readings agree on every "
                  "VMCS that passes VM entry."),
    _r("EXIT-MTF-PENDING", S_MTF_PENDING,
       "An MTF VM exit is pending before the first guest instruction if VM entry injects a pending MTF VM exit "
       "(interruption type 7, vector 0; even with \"monitor trap flag\" 0) or if \"monitor trap flag\" is 1 and "
       "VM entry injects a vectored event (the exit follows its delivery). SMIs and INIT take priority; MTF "
       "exits take priority over debug traps and the exits below; they are blocked in the shutdown and "
       "wait-for-SIPI states.",
       (PROC, "VM_ENTRY_INTR_INFO_FIELD"), bochs="vmx.cc:VMenterInjectEvents"),
    _r("EXIT-PREEMPTION-TIMER", S_TIMER,
       "With \"activate VMX-preemption timer\" 1 and a timer value of 0, a VM exit (reason 52) occurs before the "
       "first guest instruction, after event injection. Debug traps and higher-priority events come first; the "
       "timer has priority over NMI-window exits. The timer causes no VM exit in the wait-for-SIPI state.",
       (PIN, "VMX_PREEMPTION_TIMER_VALUE"), bochs="event.cc (VMX_PREEMPTION_TIMER_EXPIRED)",
       kut="vmx_tests.c:preemption_timer_main",
       divergence="Bochs also defers the timer exit while events are blocked by STI or MOV SS; the SDM does not "
                  "list that blocking, and vmxspec does not apply it."),
    _r("EXIT-NMI-WINDOW", S_NMI_WINDOW,
       "With \"NMI-window exiting\" 1, a VM exit (reason 8) occurs before an instruction if there is no virtual-NMI "
       "blocking and no blocking by MOV SS. The SDM lets a processor also hold it back while blocking by STI is "
       "in effect; vmxspec does (as KVM assumes). It wakes the HLT and shutdown states, not wait-for-SIPI.",
       (PROC, "GUEST_INTERRUPTIBILITY_INFO"), kvm="vmx.c:vmx_nmi_blocked", bochs="event.cc (VMX_VIRTUAL_NMI)",
       kut="vmx_tests.c:vmx_nmi_window_test"),
    _r("EXIT-INTR-WINDOW", S_INTR_WINDOW,
       "With \"interrupt-window exiting\" 1, a VM exit (reason 7) occurs before an instruction if RFLAGS.IF = 1 "
       "and there is no blocking by STI or MOV SS. NMIs and higher-priority events come first. It wakes the HLT "
       "state and does not occur in the shutdown or wait-for-SIPI state.",
       (PROC, "GUEST_RFLAGS", "GUEST_INTERRUPTIBILITY_INFO"), bochs="event.cc (INTERRUPT_WINDOW_EXITING)",
       kut="vmx_tests.c:vmx_intr_window_test"),
    _r("EXIT-AFTER-ENTRY", S_SPECIAL,
       "Before the first guest instruction, in priority order: a TPR-threshold exit, a pending MTF exit, "
       "(pending debug exceptions), the VMX-preemption timer, NMI-window exiting, interrupt-window exiting. "
       "If none applies, the guest executes its first instruction without a VM exit. A vectoring VM entry "
       "leaves no blocking by STI or MOV SS; injecting an NMI with \"virtual NMIs\" 1 sets virtual-NMI blocking.",
       ("VM_ENTRY_INTR_INFO_FIELD", "GUEST_ACTIVITY_STATE")),
)
