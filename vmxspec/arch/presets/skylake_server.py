"""``skylake_server``: the modeled Skylake/Ice Lake-server-like host of the reference baseline.

This preset is, by definition, exactly the ``caps`` of ``examples/states/kvm-baseline.json``; that
state passes every VM-entry check, so the two must never drift apart (a unit test compares them).
"""

from __future__ import annotations

from vmxspec.arch.presets._model import Preset

SOURCES = """\
Every value is the one in the reference fact sheet vmentry-checks.md section 7.1 ("Capability set,
modeled Skylake/Ice Lake-server-like host"), plus the CR0/CR4 fixed MSRs and VMCS_ENUM that the
baseline state adds. The set is MODELED from documented bit layouts, not dumped from one part. It
agrees with public VirtualBox logs of Skylake-generation hosts (myspaghetti/macos-virtualbox#357:
BASIC 0xda040000000004, PROCBASED_CTLS 0xfff9fffe0401e172; #135: MISC 0x7004c1e7, VMCS_ENUM 0x2e,
EPT_VPID_CAP 0xf0106734141, TRUE_PROCBASED_CTLS 0xfff9fffe04006172) except for the allowed-1 bits
for IA32_RTIT_CTL (exit bit 25, entry bit 18), which those hosts do not report and this set does.

IA32_VMX_BASIC 0x00da040000000004: revision 4; VMCS size 0x400 (44:32); dual-monitor (49); WB
  memory type 6 (53:50); INS/OUTS information (54); TRUE controls (55); bit 56 = 0 (no CET).
PINBASED / TRUE_PINBASED 0x000000ff00000016: allowed-0 = default1 0x16 (Linux
  PIN_BASED_ALWAYSON_WITHOUT_TRUE_MSR, Bochs VMX_MSR_VMX_PINBASED_CTRLS_LO); allowed-1 bits 0-7.
PROCBASED 0xfff9fffe0401e172 / TRUE 0xfff9fffe04006172: allowed-0 0x0401e172 (Linux
  CPU_BASED_ALWAYSON_WITHOUT_TRUE_MSR), TRUE drops CR3-load/store exiting (Bochs
  VMX_MSR_VMX_TRUE_PROCBASED_CTRLS_LO 0x04006172); allowed-1 every bit except 0, 17 (no tertiary
  controls) and 18.
EXIT 0x03ffffff00036dff / TRUE 0x03ffffff00036dfb: default1 0x36dff, TRUE drops bit 2; allowed-1
  bits 0-25 (no CET, PKRS or secondary exit controls).
ENTRY 0x0007ffff000011ff / TRUE 0x0007ffff000011fb: default1 0x11ff, TRUE drops bit 2; allowed-1
  bits 0-18.
MISC 0x7004c1e7: timer rate 7, store LMA, HLT/shutdown/wait-for-SIPI, PT in VMX, RDMSR SMBASE,
  4 CR3 targets, 512-MSR lists, SMM_MONITOR_CTL[2], VMWRITE to any field, zero-length injection.
CR0_FIXED0 0x80000021 (PE, NE, PG), CR0_FIXED1 0xffffffff, CR4_FIXED0 0x2000 (VMXE) - the same
  constants as Bochs VMX_MSR_CR0_FIXED0/1 and VMX_MSR_CR4_FIXED0; CR4_FIXED1 0x7767ff (CR4 bits
  0-10, 13, 14, 16-18, 20-22: no UMIP, LA57, CET or PKS, as on Skylake-SP).
VMCS_ENUM 0x2e: highest field index 0x17 (as the Skylake VirtualBox logs report).
PROCBASED_CTLS2 0x035fffff00000000: allowed-1 bits 0-20, 22 (MBEC), 24 (PT uses GPA), 25 (TSC
  scaling); no PASID translation, SPP, user wait/pause, bus-lock or notify exiting.
EPT_VPID_CAP 0x00000f0106734141: execute-only, 4-level walks, UC and WB, 2M and 1G pages, INVEPT
  (single and all context), A/D flags, advanced EPT-violation information; no 5-level walks;
  INVVPID with all four types.
VMFUNC 0x1: EPTP switching. PROCBASED_CTLS3 and EXIT_CTLS2 absent (their existence bits are 0).
MAXPHYADDR 46 (Skylake-SP); MAXLINADDR 48 (no 5-level paging; the state format's default).
"""

SKYLAKE_SERVER = Preset(
    name="skylake_server",
    title="Skylake/Ice Lake-server-like host (the reference baseline's capabilities)",
    description=(
        "A 2017-2019 Xeon-class host: EPT (4-level, WB, A/D), VPID, unrestricted guest, APICv "
        "and posted interrupts, PML, VMCS shadowing, TSC scaling; TRUE capability MSRs; no "
        "tertiary controls, no CET, no 5-level EPT. MAXPHYADDR 46."
    ),
    sources=SOURCES,
    caps={
        "IA32_VMX_BASIC": 0x00DA_0400_0000_0004,
        "IA32_VMX_PINBASED_CTLS": 0x0000_00FF_0000_0016,
        "IA32_VMX_PROCBASED_CTLS": 0xFFF9_FFFE_0401_E172,
        "IA32_VMX_EXIT_CTLS": 0x03FF_FFFF_0003_6DFF,
        "IA32_VMX_ENTRY_CTLS": 0x0007_FFFF_0000_11FF,
        "IA32_VMX_MISC": 0x0000_0000_7004_C1E7,
        "IA32_VMX_CR0_FIXED0": 0x8000_0021,
        "IA32_VMX_CR0_FIXED1": 0xFFFF_FFFF,
        "IA32_VMX_CR4_FIXED0": 0x2000,
        "IA32_VMX_CR4_FIXED1": 0x77_67FF,
        "IA32_VMX_VMCS_ENUM": 0x2E,
        "IA32_VMX_PROCBASED_CTLS2": 0x035F_FFFF_0000_0000,
        "IA32_VMX_EPT_VPID_CAP": 0x0000_0F01_0673_4141,
        "IA32_VMX_TRUE_PINBASED_CTLS": 0x0000_00FF_0000_0016,
        "IA32_VMX_TRUE_PROCBASED_CTLS": 0xFFF9_FFFE_0400_6172,
        "IA32_VMX_TRUE_EXIT_CTLS": 0x03FF_FFFF_0003_6DFB,
        "IA32_VMX_TRUE_ENTRY_CTLS": 0x0007_FFFF_0000_11FB,
        "IA32_VMX_VMFUNC": 0x1,
    },
    maxphyaddr=46,
)
