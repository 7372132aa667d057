"""Rules: loading MSRs from the VM-entry MSR-load area (VM-entry failure, exit reason 34).

Condition wording follows the SDM section "Loading MSRs" of "VM Entries". The area holds
VM_ENTRY_MSR_LOAD_COUNT entries of 16 bytes at VM_ENTRY_MSR_LOAD_ADDR (bits 31:0 MSR index, 63:32
reserved, 127:64 data), processed in order as WRMSR would. Processing stops at the first entry that
fails, and the exit qualification is that entry's 1-based index; vmxspec reports every failing
entry, each with its own index, and the result's qualification is the smallest.

Implementation locations: KVM ``arch/x86/kvm/vmx/nested.c`` (nested_vmx_load_msr,
nested_vmx_load_msr_check, nested_vmx_msr_check_common), Bochs ``bochs/cpu/vmx.cc`` (LoadMSRs) and
kvm-unit-tests ``x86/vmx_tests.c``.
"""

from __future__ import annotations

from vmxspec.arch.rules import SECTION_MSR_LOAD, Rule, Stage

_M = Stage.MSR_LOAD
_KVM = "KVM"
_BX = "Bochs"
_KUT = "kvm-unit-tests"


def _r(id: str, condition: str, fields: tuple[str, ...] = (), caps: tuple[str, ...] = (),
       kvm: str = "", bochs: str = "", kut: str = "", divergence: str = "") -> Rule:
    impls = tuple((who, where) for who, where in ((_KVM, kvm), (_BX, bochs), (_KUT, kut)) if where)
    return Rule(id, _M, SECTION_MSR_LOAD, condition, (*_AREA, *fields), caps, impls, divergence)


_AREA = ("VM_ENTRY_MSR_LOAD_COUNT", "VM_ENTRY_MSR_LOAD_ADDR")
_BX_LOAD = "vmx.cc:LoadMSRs"

RULES: tuple[Rule, ...] = (
    _r("MSRLOAD-RSVD",
       "Bits 63:32 of each entry in the VM-entry MSR-load area must be 0.",
       kvm="nested.c:nested_vmx_msr_check_common", bochs=_BX_LOAD),
    _r("MSRLOAD-FS-GS-BASE",
       "An entry must not load IA32_FS_BASE (C0000100H) or IA32_GS_BASE (C0000101H); VM entry loads those "
       "from the guest FS and GS base-address fields.",
       kvm="nested.c:nested_vmx_load_msr_check", bochs=_BX_LOAD,
       kut="vmx_tests.c:msr_switch (entry failure, qualification 1)"),
    _r("MSRLOAD-X2APIC",
       "An entry must not load an MSR whose index has bits 31:8 equal to 000008H (800H-8FFH, the MSRs that "
       "access APIC registers in x2APIC mode), whatever the APIC mode.",
       kvm="nested.c:nested_vmx_msr_check_common", bochs=_BX_LOAD,
       divergence="KVM rejects these indices only while the vCPU's local APIC is in x2APIC mode; the SDM and "
                  "Bochs reject them always."),
    _r("MSRLOAD-SMM-ONLY",
       "An entry must not load an MSR that can be written only in SMM (IA32_SMM_MONITOR_CTL, 9BH) unless VM "
       "entry starts in SMM (state key cpu.in_smm, default false).",
       kvm="nested.c:nested_vmx_load_msr_check",
       divergence="KVM has no SMM support for nested VMX and rejects IA32_SMM_MONITOR_CTL even in SMM; Bochs "
                  "does not implement the MSR, so its WRMSR fails (MSRLOAD-WRMSR-GP's outcome)."),
    _r("MSRLOAD-MODEL-SPECIFIC",
       "An entry must not load an MSR that the processor refuses to load on VM entry for model-specific "
       "reasons. The SDM (Volume 4, and \"Implementation Specific Behavior on Writing to Certain MSRs\") "
       "names IA32_BIOS_UPDT_TRIG (79H, microcode update trigger) and IA32_BIOS_SIGN_ID (8BH): a processor "
       "may prevent loading them. Since software cannot rely on either outcome, vmxspec reports them.",
       kvm="nested.c:nested_vmx_msr_check_common",
       divergence="The SDM says \"may\": some processors load these MSRs. KVM always refuses both, as "
                  "vmxspec does."),
    _r("MSRLOAD-WRMSR-GP",
       "Writing the entry's data (bits 127:64) to the MSR it names must not cause a general-protection "
       "exception if done by WRMSR at CPL 0: for the architectural MSRs in vmxspec's table "
       "(vmxspec/arch/msrs.py) the value must not set reserved bits, must be canonical where the MSR holds "
       "a linear address, must hold valid memory types in IA32_PAT, must not set both SUPPRESS and TRACKER "
       "in IA32_S_CET/IA32_U_CET, and the MSR must not be read-only (e.g. the VMX capability MSRs). An MSR "
       "number that is not in the table is model-specific: vmxspec cannot know what WRMSR does with it and "
       "does not report it.",
       caps=("MAXLINADDR",),
       kvm="nested.c:nested_vmx_load_msr (kvm_set_msr)", bochs=f"{_BX_LOAD} (wrmsr)",
       divergence="KVM and Bochs fail every MSR their CPU model does not implement, and reserve feature bits "
                  "by CPUID. Both require a canonical IA32_CSTAR, which the SDM's WRMSR page does not list. "
                  "Bochs writes only bits 31:0 of IA32_TSC_AUX and IA32_FMASK and so accepts their reserved "
                  "bits 63:32; KVM rejects IA32_TSC_AUX[63:32] on Intel, as the SDM does."),
    _r("MSRLOAD-EFER-LME",
       "An entry that loads IA32_EFER must not change its LME bit while CR0.PG = 1: WRMSR raises #GP then. "
       "The MSR-load area is processed after the guest state is loaded, so CR0 is the guest CR0 field and "
       "the LME bit being changed is the guest's (the IA32_EFER field if \"load IA32_EFER\" is 1, else the "
       "\"IA-32e mode guest\" control); no earlier entry can have changed either. The SDM warns about this "
       "case in a footnote to \"Loading MSRs\".",
       ("VM_ENTRY_CONTROLS", "GUEST_CR0", "GUEST_IA32_EFER"),
       kvm="nested.c:nested_vmx_load_msr (kvm_set_msr, set_efer)", bochs=f"{_BX_LOAD} (SetEFER)"),
    _r("MSRLOAD-COUNT-MAX",
       "The VM-entry MSR-load count should not exceed the recommended maximum 512 * (N + 1), N = "
       "IA32_VMX_MISC[27:25]. The SDM leaves exceeding it undefined (possibly a machine check during VM "
       "entry); vmxspec reports it as a failed entry at the first entry beyond the maximum (exit "
       "qualification 512 * (N + 1) + 1) and does not check the entries beyond it.",
       caps=("IA32_VMX_MISC",),
       kvm="nested.c:nested_vmx_load_msr", kut="vmx_tests.c:atomic_switch_overflow_msrs_test",
       divergence="SDM: undefined behaviour, not a defined failure. KVM fails the entry with exit reason 34 "
                  "and that qualification, which vmxspec follows; Bochs does not check the count."),
)
