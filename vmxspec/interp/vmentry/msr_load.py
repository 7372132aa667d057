"""SDM "Loading MSRs" (VM entries): the VM-entry MSR-load area.

Each function is one rule of ``arch/rules/vmentry_msr_load.py``. The area holds
VM_ENTRY_MSR_LOAD_COUNT entries of 16 bytes at VM_ENTRY_MSR_LOAD_ADDR; entry i (1-based) is
processed as WRMSR would, and a failure is a VM-entry failure with exit reason 34 and exit
qualification i. Every failing entry is reported with its own index; the processor stops at the
smallest.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from vmxspec.arch import msrs
from vmxspec.arch.bitfields import bits_of
from vmxspec.arch.capabilities import MISC
from vmxspec.arch.controls import ControlField, control_mask
from vmxspec.arch.registers import CR0_PG, EFER_LME, S_CET_SUPPRESS, S_CET_TRACKER, pat_invalid_entries
from vmxspec.arch.rules import Rule
from vmxspec.interp.vmentry.context import EntryContext
from vmxspec.interp.vmentry.registry import check

ENTRY = ControlField.ENTRY
ENTRY_LOAD_EFER = control_mask(ENTRY, "load_ia32_efer")
IA32E_MODE_GUEST = control_mask(ENTRY, "ia32e_mode_guest")

AREA = ("VM_ENTRY_MSR_LOAD_COUNT", "VM_ENTRY_MSR_LOAD_ADDR")


@dataclass(frozen=True, slots=True)
class Entry:
    number: int  # 1-based: the exit qualification if this entry fails
    address: int
    low: int  # bits 63:0: MSR index in 31:0, reserved 63:32
    value: int  # bits 127:64

    @property
    def index(self) -> int:
        return self.low & msrs.MSR_ENTRY_INDEX

    @property
    def name(self) -> str:
        return msrs.msr_name(self.index)


def _max_entries(ctx: EntryContext) -> int:
    """The recommended maximum list length, 512 * (IA32_VMX_MISC[27:25] + 1)."""
    return msrs.MSR_LIST_UNIT * (MISC["msr_list_size"].get(ctx.cap("IA32_VMX_MISC")) + 1)


def _entries(ctx: EntryContext) -> Iterator[Entry]:
    """The entries VM entry processes, up to the recommended maximum (MSRLOAD-COUNT-MAX covers the rest)."""
    count = ctx.f["VM_ENTRY_MSR_LOAD_COUNT"]
    if count == 0:
        return
    base = ctx.f["VM_ENTRY_MSR_LOAD_ADDR"]
    for number in range(1, min(count, _max_entries(ctx)) + 1):
        address = base + msrs.MSR_ENTRY_SIZE * (number - 1)
        yield Entry(number, address, ctx.state.read_u64(address), ctx.state.read_u64(address + 8))


def _fail(ctx: EntryContext, rule: Rule, entry: Entry, what: str, fields: tuple[str, ...] = AREA) -> None:
    ctx.fail(rule, f"MSR-load entry {entry.number} (at {entry.address:#x}) {what}", fields,
             exit_qualification=entry.number, msr=entry.name, entry_address=entry.address)


@check("MSRLOAD-RSVD")
def _reserved(ctx: EntryContext, rule: Rule) -> None:
    for entry in _entries(ctx):
        if entry.low & msrs.MSR_ENTRY_RESERVED:
            _fail(ctx, rule, entry, f"has bits 63:32 = {entry.low >> 32:#x}; they must be 0")


@check("MSRLOAD-FS-GS-BASE")
def _fs_gs_base(ctx: EntryContext, rule: Rule) -> None:
    for entry in _entries(ctx):
        if entry.index in (msrs.IA32_FS_BASE, msrs.IA32_GS_BASE):
            _fail(ctx, rule, entry, f"loads {entry.name} ({entry.index:X}H), which VM entry loads from the "
                  "guest-state area and the MSR-load area may not name")


@check("MSRLOAD-X2APIC")
def _x2apic(ctx: EntryContext, rule: Rule) -> None:
    for entry in _entries(ctx):
        if msrs.X2APIC_MSR_FIRST <= entry.index <= msrs.X2APIC_MSR_LAST:
            _fail(ctx, rule, entry, f"loads MSR {entry.index:X}H, an x2APIC MSR (bits 31:8 = 000008H)")


@check("MSRLOAD-SMM-ONLY")
def _smm_only(ctx: EntryContext, rule: Rule) -> None:
    if ctx.state.cpu.in_smm:
        return
    for entry in _entries(ctx):
        msr = msrs.BY_NUMBER.get(entry.index)
        if msr is not None and msr.smm_only:
            _fail(ctx, rule, entry, f"loads {msr.name} ({msr.number:X}H), which can be written only in SMM, "
                  "and VM entry does not start in SMM (cpu.in_smm is false)")


@check("MSRLOAD-MODEL-SPECIFIC")
def _model_specific(ctx: EntryContext, rule: Rule) -> None:
    for entry in _entries(ctx):
        msr = msrs.BY_NUMBER.get(entry.index)
        if msr is not None and msr.vmentry_may_refuse:
            _fail(ctx, rule, entry, f"loads {msr.name} ({msr.number:X}H), which a processor may refuse to load "
                  "on VM entry (SDM Volume 4)")


def _wrmsr_faults(ctx: EntryContext, msr: msrs.Msr, value: int) -> list[str]:
    """Why WRMSR at CPL 0 would raise #GP writing ``value`` to ``msr`` (empty: it would not)."""
    why = []
    if msr.read_only:
        why.append(f"{msr.name} is read-only")
    if value & msr.reserved:
        found = bits_of(value & msr.reserved)
        why.append(f"bit{'s' if len(found) > 1 else ''} {', '.join(map(str, found))} "
                   f"{'are' if len(found) > 1 else 'is'} reserved in {msr.name}")
    if msr.canonical and not ctx.canonical(value):
        why.append(f"{msr.name} needs a canonical address ({ctx.maxlinaddr}-bit linear addresses)")
    if msr.pat_types:
        bad = pat_invalid_entries(value)
        if bad:
            why.append(f"{', '.join(f'PA{i} = {t}' for i, t in bad)}: not valid memory types "
                       "(valid: 0, 1, 4, 5, 6, 7)")
    if msr.cet_control and value & S_CET_SUPPRESS and value & S_CET_TRACKER:
        why.append("SUPPRESS (bit 10) and TRACKER (bit 11) are both 1")
    return why


@check("MSRLOAD-WRMSR-GP")
def _wrmsr_gp(ctx: EntryContext, rule: Rule) -> None:
    for entry in _entries(ctx):
        msr = msrs.BY_NUMBER.get(entry.index)
        if msr is None:
            continue  # model-specific: vmxspec cannot tell what WRMSR does with it
        why = _wrmsr_faults(ctx, msr, entry.value)
        if why:
            _fail(ctx, rule, entry, f"writes {entry.value:#x} to {msr.name} ({msr.number:X}H), which WRMSR "
                  f"would refuse with #GP: {'; '.join(why)}")


@check("MSRLOAD-EFER-LME")
def _efer_lme(ctx: EntryContext, rule: Rule) -> None:
    efer_entries = [e for e in _entries(ctx) if e.index == msrs.IA32_EFER]
    if not efer_entries:
        return
    cr0 = ctx.f["GUEST_CR0"]
    if not cr0 & CR0_PG:
        return
    if ctx.entry & ENTRY_LOAD_EFER:
        lme, source = bool(ctx.f["GUEST_IA32_EFER"] & EFER_LME), "GUEST_IA32_EFER"
    else:
        lme, source = bool(ctx.entry & IA32E_MODE_GUEST), "the \"IA-32e mode guest\" control"
    fields = (*AREA, "VM_ENTRY_CONTROLS", "GUEST_CR0", *(("GUEST_IA32_EFER",) if ctx.entry & ENTRY_LOAD_EFER else ()))
    # No entry can change LME while PG = 1 (and none can change CR0), so every IA32_EFER entry is
    # compared with the LME the guest state established.
    for entry in efer_entries:
        new = bool(entry.value & EFER_LME)
        if new != lme:
            _fail(ctx, rule, entry, f"writes IA32_EFER = {entry.value:#x} with LME = {int(new)}, but the guest's "
                  f"LME is {int(lme)} (from {source}) and GUEST_CR0 = {cr0:#x} has PG = 1: WRMSR raises #GP when "
                  "it would change LME while paging is enabled", fields)


@check("MSRLOAD-COUNT-MAX")
def _count_max(ctx: EntryContext, rule: Rule) -> None:
    count = ctx.f["VM_ENTRY_MSR_LOAD_COUNT"]
    if count == 0:
        return
    limit = _max_entries(ctx)
    if count > limit:
        ctx.fail(rule, f"VM_ENTRY_MSR_LOAD_COUNT = {count} exceeds the recommended maximum {limit} "
                 f"(512 * (IA32_VMX_MISC[27:25] + 1)); the SDM leaves the outcome undefined, vmxspec reports "
                 f"entry {limit + 1} as failing", ("VM_ENTRY_MSR_LOAD_COUNT",), exit_qualification=limit + 1,
                 maximum=limit)
