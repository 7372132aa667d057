"""Every VMCS field: Linux ``vmx.h`` name, SDM encoding (Appendix B), width and group.

Names follow Linux's ``enum vmcs_field`` where Linux has one; fields Linux does not name carry an
upper-case name built from the SDM's field title in the same style. 64-bit fields are one entry
(the ``_HIGH`` access encodings are ``encoding | 1`` and are not separate fields). Natural-width
fields are 64 bits wide: vmxspec models processors that support Intel 64.

The encoding packs the width (bits 14:13) and the type (bits 11:10); the declared width and group
must agree with them, which ``tests/unit/test_arch_tables.py`` checks for every row.

Where the facts come from (names and numbers only; checked row by row):

* Linux ``arch/x86/include/asm/vmx.h`` ``enum vmcs_field`` (mainline, e.g. the ``Kingxukai/linux``
  mirror at 9b44fff6) for every field Linux names, and the KVM CET series (``GUEST_S_CET`` ...
  ``HOST_INTR_SSP_TABLE``), and the KVM FRED series (Xin Li, v5 2025: ``GUEST_IA32_FRED_*``,
  ``HOST_IA32_FRED_*``, ``SECONDARY_VM_EXIT_CONTROLS``, ``INJECTED_EVENT_DATA``,
  ``ORIGINAL_EVENT_DATA``).
* Bochs ``bochs/cpu/vmx.h`` at 783b58fd (every encoding it defines; this table has all of them
  plus ``GUEST_IA32_LBR_CTL``). Fields only Bochs and the SDM define carry SDM-title names:
  ``VIRTUAL_TIMER_VECTOR``, ``GUEST_DEADLINE_SHADOW``, ``GUEST_DEADLINE`` (APIC-timer
  virtualization; a posted KVM series calls them ``GUEST_APIC_TIMER_VECTOR``,
  ``GUEST_DEADLINE_VIR``, ``GUEST_DEADLINE_PHY``), ``MSR_DATA`` (WRMSRLIST exits),
  ``GUEST_IA32_SPEC_CTRL`` / ``HOST_IA32_SPEC_CTRL`` and ``SEAM_GUEST_KEYID``.
* ``ia32-doc/ia32-doc`` ``yaml/Intel/VMX/VMCS.yml`` (generated from the SDM, January 2025) as a
  third, independent cross-check of the encodings up to 0x204C and of ``GUEST_IA32_LBR_CTL``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Width(Enum):
    """Field width as encoded in bits 14:13 of the encoding."""

    W16 = 0
    W64 = 1
    W32 = 2
    NATURAL = 3

    @property
    def bits(self) -> int:
        return {Width.W16: 16, Width.W64: 64, Width.W32: 32, Width.NATURAL: 64}[self]


class Group(Enum):
    """Field type as encoded in bits 11:10 of the encoding."""

    CONTROL = 0
    EXIT_INFO = 1
    GUEST = 2
    HOST = 3


@dataclass(frozen=True, slots=True)
class VmcsField:
    name: str
    encoding: int
    width: Width
    group: Group

    @property
    def bits(self) -> int:
        return self.width.bits

    @property
    def max_value(self) -> int:
        return (1 << self.width.bits) - 1


FIELDS: tuple[VmcsField, ...] = (
    VmcsField("VIRTUAL_PROCESSOR_ID", 0x0000, Width.W16, Group.CONTROL),
    VmcsField("POSTED_INTR_NV", 0x0002, Width.W16, Group.CONTROL),
    VmcsField("EPTP_INDEX", 0x0004, Width.W16, Group.CONTROL),
    VmcsField("HLAT_PREFIX_SIZE", 0x0006, Width.W16, Group.CONTROL),
    VmcsField("LAST_PID_POINTER_INDEX", 0x0008, Width.W16, Group.CONTROL),
    VmcsField("VIRTUAL_TIMER_VECTOR", 0x000a, Width.W16, Group.CONTROL),  # APIC-timer virtualization
    VmcsField("GUEST_ES_SELECTOR", 0x0800, Width.W16, Group.GUEST),
    VmcsField("GUEST_CS_SELECTOR", 0x0802, Width.W16, Group.GUEST),
    VmcsField("GUEST_SS_SELECTOR", 0x0804, Width.W16, Group.GUEST),
    VmcsField("GUEST_DS_SELECTOR", 0x0806, Width.W16, Group.GUEST),
    VmcsField("GUEST_FS_SELECTOR", 0x0808, Width.W16, Group.GUEST),
    VmcsField("GUEST_GS_SELECTOR", 0x080a, Width.W16, Group.GUEST),
    VmcsField("GUEST_LDTR_SELECTOR", 0x080c, Width.W16, Group.GUEST),
    VmcsField("GUEST_TR_SELECTOR", 0x080e, Width.W16, Group.GUEST),
    VmcsField("GUEST_INTR_STATUS", 0x0810, Width.W16, Group.GUEST),
    VmcsField("GUEST_PML_INDEX", 0x0812, Width.W16, Group.GUEST),
    VmcsField("GUEST_UINV", 0x0814, Width.W16, Group.GUEST),
    VmcsField("HOST_ES_SELECTOR", 0x0c00, Width.W16, Group.HOST),
    VmcsField("HOST_CS_SELECTOR", 0x0c02, Width.W16, Group.HOST),
    VmcsField("HOST_SS_SELECTOR", 0x0c04, Width.W16, Group.HOST),
    VmcsField("HOST_DS_SELECTOR", 0x0c06, Width.W16, Group.HOST),
    VmcsField("HOST_FS_SELECTOR", 0x0c08, Width.W16, Group.HOST),
    VmcsField("HOST_GS_SELECTOR", 0x0c0a, Width.W16, Group.HOST),
    VmcsField("HOST_TR_SELECTOR", 0x0c0c, Width.W16, Group.HOST),
    VmcsField("IO_BITMAP_A", 0x2000, Width.W64, Group.CONTROL),
    VmcsField("IO_BITMAP_B", 0x2002, Width.W64, Group.CONTROL),
    VmcsField("MSR_BITMAP", 0x2004, Width.W64, Group.CONTROL),
    VmcsField("VM_EXIT_MSR_STORE_ADDR", 0x2006, Width.W64, Group.CONTROL),
    VmcsField("VM_EXIT_MSR_LOAD_ADDR", 0x2008, Width.W64, Group.CONTROL),
    VmcsField("VM_ENTRY_MSR_LOAD_ADDR", 0x200a, Width.W64, Group.CONTROL),
    VmcsField("EXECUTIVE_VMCS_POINTER", 0x200c, Width.W64, Group.CONTROL),
    VmcsField("PML_ADDRESS", 0x200e, Width.W64, Group.CONTROL),
    VmcsField("TSC_OFFSET", 0x2010, Width.W64, Group.CONTROL),
    VmcsField("VIRTUAL_APIC_PAGE_ADDR", 0x2012, Width.W64, Group.CONTROL),
    VmcsField("APIC_ACCESS_ADDR", 0x2014, Width.W64, Group.CONTROL),
    VmcsField("POSTED_INTR_DESC_ADDR", 0x2016, Width.W64, Group.CONTROL),
    VmcsField("VM_FUNCTION_CONTROL", 0x2018, Width.W64, Group.CONTROL),
    VmcsField("EPT_POINTER", 0x201a, Width.W64, Group.CONTROL),
    VmcsField("EOI_EXIT_BITMAP0", 0x201c, Width.W64, Group.CONTROL),
    VmcsField("EOI_EXIT_BITMAP1", 0x201e, Width.W64, Group.CONTROL),
    VmcsField("EOI_EXIT_BITMAP2", 0x2020, Width.W64, Group.CONTROL),
    VmcsField("EOI_EXIT_BITMAP3", 0x2022, Width.W64, Group.CONTROL),
    VmcsField("EPTP_LIST_ADDRESS", 0x2024, Width.W64, Group.CONTROL),
    VmcsField("VMREAD_BITMAP", 0x2026, Width.W64, Group.CONTROL),
    VmcsField("VMWRITE_BITMAP", 0x2028, Width.W64, Group.CONTROL),
    VmcsField("VE_INFORMATION_ADDRESS", 0x202a, Width.W64, Group.CONTROL),
    VmcsField("XSS_EXIT_BITMAP", 0x202c, Width.W64, Group.CONTROL),
    VmcsField("ENCLS_EXITING_BITMAP", 0x202e, Width.W64, Group.CONTROL),
    VmcsField("SPPT_POINTER", 0x2030, Width.W64, Group.CONTROL),
    VmcsField("TSC_MULTIPLIER", 0x2032, Width.W64, Group.CONTROL),
    VmcsField("TERTIARY_VM_EXEC_CONTROL", 0x2034, Width.W64, Group.CONTROL),
    VmcsField("ENCLV_EXITING_BITMAP", 0x2036, Width.W64, Group.CONTROL),
    VmcsField("LOW_PASID_DIRECTORY_ADDRESS", 0x2038, Width.W64, Group.CONTROL),
    VmcsField("HIGH_PASID_DIRECTORY_ADDRESS", 0x203a, Width.W64, Group.CONTROL),
    VmcsField("SHARED_EPT_POINTER", 0x203c, Width.W64, Group.CONTROL),
    VmcsField("PCONFIG_EXITING_BITMAP", 0x203e, Width.W64, Group.CONTROL),
    VmcsField("HLAT_POINTER", 0x2040, Width.W64, Group.CONTROL),
    VmcsField("PID_POINTER_TABLE", 0x2042, Width.W64, Group.CONTROL),
    VmcsField("SECONDARY_VM_EXIT_CONTROLS", 0x2044, Width.W64, Group.CONTROL),
    VmcsField("IA32_SPEC_CTRL_MASK", 0x204a, Width.W64, Group.CONTROL),
    VmcsField("IA32_SPEC_CTRL_SHADOW", 0x204c, Width.W64, Group.CONTROL),
    VmcsField("GUEST_DEADLINE_SHADOW", 0x204e, Width.W64, Group.CONTROL),  # APIC-timer virtualization
    VmcsField("INJECTED_EVENT_DATA", 0x2052, Width.W64, Group.CONTROL),  # FRED
    VmcsField("GUEST_PHYSICAL_ADDRESS", 0x2400, Width.W64, Group.EXIT_INFO),
    VmcsField("MSR_DATA", 0x2402, Width.W64, Group.EXIT_INFO),  # WRMSRLIST exits
    VmcsField("ORIGINAL_EVENT_DATA", 0x2404, Width.W64, Group.EXIT_INFO),  # FRED
    VmcsField("VMCS_LINK_POINTER", 0x2800, Width.W64, Group.GUEST),
    VmcsField("GUEST_IA32_DEBUGCTL", 0x2802, Width.W64, Group.GUEST),
    VmcsField("GUEST_IA32_PAT", 0x2804, Width.W64, Group.GUEST),
    VmcsField("GUEST_IA32_EFER", 0x2806, Width.W64, Group.GUEST),
    VmcsField("GUEST_IA32_PERF_GLOBAL_CTRL", 0x2808, Width.W64, Group.GUEST),
    VmcsField("GUEST_PDPTR0", 0x280a, Width.W64, Group.GUEST),
    VmcsField("GUEST_PDPTR1", 0x280c, Width.W64, Group.GUEST),
    VmcsField("GUEST_PDPTR2", 0x280e, Width.W64, Group.GUEST),
    VmcsField("GUEST_PDPTR3", 0x2810, Width.W64, Group.GUEST),
    VmcsField("GUEST_BNDCFGS", 0x2812, Width.W64, Group.GUEST),
    VmcsField("GUEST_IA32_RTIT_CTL", 0x2814, Width.W64, Group.GUEST),
    VmcsField("GUEST_IA32_LBR_CTL", 0x2816, Width.W64, Group.GUEST),
    VmcsField("GUEST_IA32_PKRS", 0x2818, Width.W64, Group.GUEST),
    VmcsField("GUEST_IA32_FRED_CONFIG", 0x281a, Width.W64, Group.GUEST),
    VmcsField("GUEST_IA32_FRED_RSP1", 0x281c, Width.W64, Group.GUEST),
    VmcsField("GUEST_IA32_FRED_RSP2", 0x281e, Width.W64, Group.GUEST),
    VmcsField("GUEST_IA32_FRED_RSP3", 0x2820, Width.W64, Group.GUEST),
    VmcsField("GUEST_IA32_FRED_STKLVLS", 0x2822, Width.W64, Group.GUEST),
    VmcsField("GUEST_IA32_FRED_SSP1", 0x2824, Width.W64, Group.GUEST),
    VmcsField("GUEST_IA32_FRED_SSP2", 0x2826, Width.W64, Group.GUEST),
    VmcsField("GUEST_IA32_FRED_SSP3", 0x2828, Width.W64, Group.GUEST),
    VmcsField("GUEST_IA32_SPEC_CTRL", 0x282e, Width.W64, Group.GUEST),
    VmcsField("GUEST_DEADLINE", 0x2830, Width.W64, Group.GUEST),  # APIC-timer virtualization
    VmcsField("HOST_IA32_PAT", 0x2c00, Width.W64, Group.HOST),
    VmcsField("HOST_IA32_EFER", 0x2c02, Width.W64, Group.HOST),
    VmcsField("HOST_IA32_PERF_GLOBAL_CTRL", 0x2c04, Width.W64, Group.HOST),
    VmcsField("HOST_IA32_PKRS", 0x2c06, Width.W64, Group.HOST),
    VmcsField("HOST_IA32_FRED_CONFIG", 0x2c08, Width.W64, Group.HOST),
    VmcsField("HOST_IA32_FRED_RSP1", 0x2c0a, Width.W64, Group.HOST),
    VmcsField("HOST_IA32_FRED_RSP2", 0x2c0c, Width.W64, Group.HOST),
    VmcsField("HOST_IA32_FRED_RSP3", 0x2c0e, Width.W64, Group.HOST),
    VmcsField("HOST_IA32_FRED_STKLVLS", 0x2c10, Width.W64, Group.HOST),
    VmcsField("HOST_IA32_FRED_SSP1", 0x2c12, Width.W64, Group.HOST),
    VmcsField("HOST_IA32_FRED_SSP2", 0x2c14, Width.W64, Group.HOST),
    VmcsField("HOST_IA32_FRED_SSP3", 0x2c16, Width.W64, Group.HOST),
    VmcsField("HOST_IA32_SPEC_CTRL", 0x2c1a, Width.W64, Group.HOST),
    VmcsField("PIN_BASED_VM_EXEC_CONTROL", 0x4000, Width.W32, Group.CONTROL),
    VmcsField("CPU_BASED_VM_EXEC_CONTROL", 0x4002, Width.W32, Group.CONTROL),
    VmcsField("EXCEPTION_BITMAP", 0x4004, Width.W32, Group.CONTROL),
    VmcsField("PAGE_FAULT_ERROR_CODE_MASK", 0x4006, Width.W32, Group.CONTROL),
    VmcsField("PAGE_FAULT_ERROR_CODE_MATCH", 0x4008, Width.W32, Group.CONTROL),
    VmcsField("CR3_TARGET_COUNT", 0x400a, Width.W32, Group.CONTROL),
    VmcsField("VM_EXIT_CONTROLS", 0x400c, Width.W32, Group.CONTROL),
    VmcsField("VM_EXIT_MSR_STORE_COUNT", 0x400e, Width.W32, Group.CONTROL),
    VmcsField("VM_EXIT_MSR_LOAD_COUNT", 0x4010, Width.W32, Group.CONTROL),
    VmcsField("VM_ENTRY_CONTROLS", 0x4012, Width.W32, Group.CONTROL),
    VmcsField("VM_ENTRY_MSR_LOAD_COUNT", 0x4014, Width.W32, Group.CONTROL),
    VmcsField("VM_ENTRY_INTR_INFO_FIELD", 0x4016, Width.W32, Group.CONTROL),
    VmcsField("VM_ENTRY_EXCEPTION_ERROR_CODE", 0x4018, Width.W32, Group.CONTROL),
    VmcsField("VM_ENTRY_INSTRUCTION_LEN", 0x401a, Width.W32, Group.CONTROL),
    VmcsField("TPR_THRESHOLD", 0x401c, Width.W32, Group.CONTROL),
    VmcsField("SECONDARY_VM_EXEC_CONTROL", 0x401e, Width.W32, Group.CONTROL),
    VmcsField("PLE_GAP", 0x4020, Width.W32, Group.CONTROL),
    VmcsField("PLE_WINDOW", 0x4022, Width.W32, Group.CONTROL),
    VmcsField("NOTIFY_WINDOW", 0x4024, Width.W32, Group.CONTROL),
    VmcsField("SEAM_GUEST_KEYID", 0x4026, Width.W32, Group.CONTROL),
    VmcsField("VM_INSTRUCTION_ERROR", 0x4400, Width.W32, Group.EXIT_INFO),
    VmcsField("VM_EXIT_REASON", 0x4402, Width.W32, Group.EXIT_INFO),
    VmcsField("VM_EXIT_INTR_INFO", 0x4404, Width.W32, Group.EXIT_INFO),
    VmcsField("VM_EXIT_INTR_ERROR_CODE", 0x4406, Width.W32, Group.EXIT_INFO),
    VmcsField("IDT_VECTORING_INFO_FIELD", 0x4408, Width.W32, Group.EXIT_INFO),
    VmcsField("IDT_VECTORING_ERROR_CODE", 0x440a, Width.W32, Group.EXIT_INFO),
    VmcsField("VM_EXIT_INSTRUCTION_LEN", 0x440c, Width.W32, Group.EXIT_INFO),
    VmcsField("VMX_INSTRUCTION_INFO", 0x440e, Width.W32, Group.EXIT_INFO),
    VmcsField("GUEST_ES_LIMIT", 0x4800, Width.W32, Group.GUEST),
    VmcsField("GUEST_CS_LIMIT", 0x4802, Width.W32, Group.GUEST),
    VmcsField("GUEST_SS_LIMIT", 0x4804, Width.W32, Group.GUEST),
    VmcsField("GUEST_DS_LIMIT", 0x4806, Width.W32, Group.GUEST),
    VmcsField("GUEST_FS_LIMIT", 0x4808, Width.W32, Group.GUEST),
    VmcsField("GUEST_GS_LIMIT", 0x480a, Width.W32, Group.GUEST),
    VmcsField("GUEST_LDTR_LIMIT", 0x480c, Width.W32, Group.GUEST),
    VmcsField("GUEST_TR_LIMIT", 0x480e, Width.W32, Group.GUEST),
    VmcsField("GUEST_GDTR_LIMIT", 0x4810, Width.W32, Group.GUEST),
    VmcsField("GUEST_IDTR_LIMIT", 0x4812, Width.W32, Group.GUEST),
    VmcsField("GUEST_ES_AR_BYTES", 0x4814, Width.W32, Group.GUEST),
    VmcsField("GUEST_CS_AR_BYTES", 0x4816, Width.W32, Group.GUEST),
    VmcsField("GUEST_SS_AR_BYTES", 0x4818, Width.W32, Group.GUEST),
    VmcsField("GUEST_DS_AR_BYTES", 0x481a, Width.W32, Group.GUEST),
    VmcsField("GUEST_FS_AR_BYTES", 0x481c, Width.W32, Group.GUEST),
    VmcsField("GUEST_GS_AR_BYTES", 0x481e, Width.W32, Group.GUEST),
    VmcsField("GUEST_LDTR_AR_BYTES", 0x4820, Width.W32, Group.GUEST),
    VmcsField("GUEST_TR_AR_BYTES", 0x4822, Width.W32, Group.GUEST),
    VmcsField("GUEST_INTERRUPTIBILITY_INFO", 0x4824, Width.W32, Group.GUEST),
    VmcsField("GUEST_ACTIVITY_STATE", 0x4826, Width.W32, Group.GUEST),
    VmcsField("GUEST_SMBASE", 0x4828, Width.W32, Group.GUEST),
    VmcsField("GUEST_SYSENTER_CS", 0x482a, Width.W32, Group.GUEST),
    VmcsField("VMX_PREEMPTION_TIMER_VALUE", 0x482e, Width.W32, Group.GUEST),
    VmcsField("HOST_IA32_SYSENTER_CS", 0x4c00, Width.W32, Group.HOST),
    VmcsField("CR0_GUEST_HOST_MASK", 0x6000, Width.NATURAL, Group.CONTROL),
    VmcsField("CR4_GUEST_HOST_MASK", 0x6002, Width.NATURAL, Group.CONTROL),
    VmcsField("CR0_READ_SHADOW", 0x6004, Width.NATURAL, Group.CONTROL),
    VmcsField("CR4_READ_SHADOW", 0x6006, Width.NATURAL, Group.CONTROL),
    VmcsField("CR3_TARGET_VALUE0", 0x6008, Width.NATURAL, Group.CONTROL),
    VmcsField("CR3_TARGET_VALUE1", 0x600a, Width.NATURAL, Group.CONTROL),
    VmcsField("CR3_TARGET_VALUE2", 0x600c, Width.NATURAL, Group.CONTROL),
    VmcsField("CR3_TARGET_VALUE3", 0x600e, Width.NATURAL, Group.CONTROL),
    VmcsField("EXIT_QUALIFICATION", 0x6400, Width.NATURAL, Group.EXIT_INFO),
    VmcsField("EXIT_IO_RCX", 0x6402, Width.NATURAL, Group.EXIT_INFO),
    VmcsField("EXIT_IO_RSI", 0x6404, Width.NATURAL, Group.EXIT_INFO),
    VmcsField("EXIT_IO_RDI", 0x6406, Width.NATURAL, Group.EXIT_INFO),
    VmcsField("EXIT_IO_RIP", 0x6408, Width.NATURAL, Group.EXIT_INFO),
    VmcsField("GUEST_LINEAR_ADDRESS", 0x640a, Width.NATURAL, Group.EXIT_INFO),
    VmcsField("GUEST_CR0", 0x6800, Width.NATURAL, Group.GUEST),
    VmcsField("GUEST_CR3", 0x6802, Width.NATURAL, Group.GUEST),
    VmcsField("GUEST_CR4", 0x6804, Width.NATURAL, Group.GUEST),
    VmcsField("GUEST_ES_BASE", 0x6806, Width.NATURAL, Group.GUEST),
    VmcsField("GUEST_CS_BASE", 0x6808, Width.NATURAL, Group.GUEST),
    VmcsField("GUEST_SS_BASE", 0x680a, Width.NATURAL, Group.GUEST),
    VmcsField("GUEST_DS_BASE", 0x680c, Width.NATURAL, Group.GUEST),
    VmcsField("GUEST_FS_BASE", 0x680e, Width.NATURAL, Group.GUEST),
    VmcsField("GUEST_GS_BASE", 0x6810, Width.NATURAL, Group.GUEST),
    VmcsField("GUEST_LDTR_BASE", 0x6812, Width.NATURAL, Group.GUEST),
    VmcsField("GUEST_TR_BASE", 0x6814, Width.NATURAL, Group.GUEST),
    VmcsField("GUEST_GDTR_BASE", 0x6816, Width.NATURAL, Group.GUEST),
    VmcsField("GUEST_IDTR_BASE", 0x6818, Width.NATURAL, Group.GUEST),
    VmcsField("GUEST_DR7", 0x681a, Width.NATURAL, Group.GUEST),
    VmcsField("GUEST_RSP", 0x681c, Width.NATURAL, Group.GUEST),
    VmcsField("GUEST_RIP", 0x681e, Width.NATURAL, Group.GUEST),
    VmcsField("GUEST_RFLAGS", 0x6820, Width.NATURAL, Group.GUEST),
    VmcsField("GUEST_PENDING_DBG_EXCEPTIONS", 0x6822, Width.NATURAL, Group.GUEST),
    VmcsField("GUEST_SYSENTER_ESP", 0x6824, Width.NATURAL, Group.GUEST),
    VmcsField("GUEST_SYSENTER_EIP", 0x6826, Width.NATURAL, Group.GUEST),
    VmcsField("GUEST_S_CET", 0x6828, Width.NATURAL, Group.GUEST),
    VmcsField("GUEST_SSP", 0x682a, Width.NATURAL, Group.GUEST),
    VmcsField("GUEST_INTR_SSP_TABLE", 0x682c, Width.NATURAL, Group.GUEST),
    VmcsField("HOST_CR0", 0x6c00, Width.NATURAL, Group.HOST),
    VmcsField("HOST_CR3", 0x6c02, Width.NATURAL, Group.HOST),
    VmcsField("HOST_CR4", 0x6c04, Width.NATURAL, Group.HOST),
    VmcsField("HOST_FS_BASE", 0x6c06, Width.NATURAL, Group.HOST),
    VmcsField("HOST_GS_BASE", 0x6c08, Width.NATURAL, Group.HOST),
    VmcsField("HOST_TR_BASE", 0x6c0a, Width.NATURAL, Group.HOST),
    VmcsField("HOST_GDTR_BASE", 0x6c0c, Width.NATURAL, Group.HOST),
    VmcsField("HOST_IDTR_BASE", 0x6c0e, Width.NATURAL, Group.HOST),
    VmcsField("HOST_IA32_SYSENTER_ESP", 0x6c10, Width.NATURAL, Group.HOST),
    VmcsField("HOST_IA32_SYSENTER_EIP", 0x6c12, Width.NATURAL, Group.HOST),
    VmcsField("HOST_RSP", 0x6c14, Width.NATURAL, Group.HOST),
    VmcsField("HOST_RIP", 0x6c16, Width.NATURAL, Group.HOST),
    VmcsField("HOST_S_CET", 0x6c18, Width.NATURAL, Group.HOST),
    VmcsField("HOST_SSP", 0x6c1a, Width.NATURAL, Group.HOST),
    VmcsField("HOST_INTR_SSP_TABLE", 0x6c1c, Width.NATURAL, Group.HOST),
)

BY_NAME: dict[str, VmcsField] = {f.name: f for f in FIELDS}
BY_ENCODING: dict[int, VmcsField] = {f.encoding: f for f in FIELDS}

#: Segment registers in the order the guest-state area lists them.
GUEST_SEGMENTS: tuple[str, ...] = ("ES", "CS", "SS", "DS", "FS", "GS", "LDTR", "TR")
HOST_SELECTORS: tuple[str, ...] = ("ES", "CS", "SS", "DS", "FS", "GS", "TR")
