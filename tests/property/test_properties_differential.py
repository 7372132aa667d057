"""Property-level differential tests: the checker's verdict on random closed specs against a brute
force through the reference interpreter alone.

The component suites (``test_reach_differential``, ``test_vmentry_symbolic_differential``,
``test_exits_symbolic_differential``) hold each encoder part to the interpreter. What they cannot
see is a slip between the parts and a verdict: a sweep that compares the wrong sides, an ownership
rule read differently, a claim lowered to the wrong access. Here every built-in property and the
translation assertions are checked end to end, through ``check_spec`` on a spec file, on random
small specs with every value pinned (``spec_gen``), and each verdict is compared with the one the
property's definition in docs/language.md gives when every relevant access is simply asked of the
interpreter:

* **EPT** (``no_misconfig(VM.ept)``, ``isolated``, ``protects``, EPT assertions): every
  guest-physical address below 2^MAXPHYADDR is walked with ``translate_gpa``. A walk that stops at
  level L (not present, misconfigured, or a leaf) decides the whole range that entry covers, so the
  enumeration strides by it: exact, and a few thousand walks per VM. Each leaf is asked for a read,
  a write, a fetch (and a user fetch under mode-based execute control). The pages the walks read
  are the EPT's paging structures.
* **VT-d** (``no_misconfig(IOMMU)``, ``dma_isolated``, DMA assertions): every bus and every device
  function is asked with ``translate_dma``; each device with a context entry is strided over its
  whole input space the same way, with reads and writes, cutting blocks where the input or the
  output meets the interrupt range (0xFEEx_xxxx). The rules that name an invalid entry are the
  misconfigurations.
* **exits**: every operand of every listed event, in a handful of guest contexts (CPL 0 and 3,
  real, protected and virtual-8086 mode, IOPL, CR0.TS, CR4.TSD/PCE, both answers of the TSS
  I/O-permission bitmap) is asked of ``decide_exit``; an escape is "no exit and no fault first".
* **vmentry_valid**: ``check_vm_entry`` on the built state (host EFER as the live EFER).

Every walk and check reads one memory with every structure of the spec in it, as the machine does
(``Oracle``): here no pointer reaches another structure, ``test_properties_cross_structures`` sends
them there on purpose.

A violation must also come with a counterexample the driver has replayed: a replay the
interpreter refuses turns the verdict into ``error``, which never equals the expected one.

Seeded bugs: one bit of one table read wrongly by one side (the EPT extraction, the VT-d
extraction, the interpreter's EPT walk, the exits encoder's MSR-bitmap layout, the VM-entry
encoder's EFER reserved bits) must make this comparison fail on a fixed list of seeds.
"""

from __future__ import annotations

import importlib
import random
import tempfile
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.property import spec_gen as G
from tests.property.spec_gen import Claim, ExitEventClaim, GeneratedSpec
from vmxspec.arch import vtd as VTD_FACTS
from vmxspec.check.driver import check_spec
from vmxspec.check.results import CheckOptions, Result, Verdict
from vmxspec.interp.ept import EptOutcome, translate_gpa
from vmxspec.interp.exits import decide_exit
from vmxspec.interp.vmentry import EntryResult, check_vm_entry
from vmxspec.interp.vtd import DmaOutcome, Step, select_unit, translate_dma
from vmxspec.state import CpuState, State

OPTIONS = CheckOptions(timeout_ms=20_000)
#: About 0.1 s a world (a spec of ten or so claims, checked and brute-forced): the whole file stays
#: well under the 40 s budget of the suite (CI=true derandomizes the draw).
SETTINGS = settings(max_examples=60, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
Span = tuple[int, int]


# -- intervals ----------------------------------------------------------------------------------------

def _merge(spans: list[Span]) -> list[Span]:
    out: list[Span] = []
    for lo, hi in sorted(s for s in spans if s[0] < s[1]):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def _overlap(a: list[Span], b: list[Span]) -> bool:
    return any(lo < e and s < hi for lo, hi in a for s, e in b)


def _inside(a: list[Span], b: list[Span]) -> bool:
    """Every point of ``a`` lies in ``b``."""
    merged = _merge(b)
    return all(any(s <= lo and hi <= e for s, e in merged) for lo, hi in _merge(a))


def _past_zeros(memory: dict[int, int], entry: int, level: int, point: int) -> int:
    """The end of the input range from ``point`` that the all-zero ``entry`` at ``level`` and the
    all-zero entries after it in its table decide: each of them stops a walk as it does."""
    table, index = entry & ~0xFFF, (entry & 0xFFF) >> 3
    following = next((i for i in range(index + 1, 512) if memory.get(table + 8 * i, 0)), 512)
    span = _span_of_level(level)
    return (point & ~(512 * span - 1)) + following * span


def _span_of_level(level: int) -> int:
    """Bytes of input one entry at ``level`` decides (SDM: bits 47:39, 38:30, 29:21, 20:12 index the
    four levels; VT-d second-level tables are laid out the same way)."""
    return 1 << 12 + 9 * (level - 1)


# -- EPT by brute force ---------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class EptBlock:
    """Guest-physical ``[start, end)``, where every address behaves alike: the outcome at ``start``
    of each access, by name ("read", "write", "fetch", "user-fetch")."""

    start: int
    end: int
    outcomes: dict[str, EptOutcome]

    def ok(self, access: str) -> bool:
        o = self.outcomes.get(access)
        return o is not None and o.ok

    def hpa(self) -> int | None:
        return next((o.hpa for o in self.outcomes.values() if o.ok), None)

    @property
    def any_ok(self) -> bool:
        return self.hpa() is not None


@dataclass(slots=True)
class EptWalks:
    blocks: list[EptBlock] = field(default_factory=list)
    tables: set[int] = field(default_factory=set)

    @property
    def misconfigured(self) -> bool:
        return any(b.outcomes["read"].result == "ept_misconfig" for b in self.blocks)

    def reach(self, access: str | None = None) -> list[Span]:
        """Host ranges reached with ``access`` (any access: None)."""
        out = []
        for b in self.blocks:
            hpa = b.hpa()
            if hpa is not None and (b.ok(access) if access else True):
                out.append((hpa, hpa + b.end - b.start))
        return _merge(out)

    def within(self, lo: int, hi: int) -> Iterator[EptBlock]:
        return (b for b in self.blocks if b.start < hi and lo < b.end)


def walk_ept(state: State, mbec: bool) -> EptWalks:
    """Every guest-physical address of ``state``'s EPT, strided by what each walk decided."""
    limit = 1 << min(state.maxphyaddr or 52, 48)
    accesses = [("write", "write", False), ("fetch", "fetch", False)] + ([("user-fetch", "fetch", True)] if mbec
                                                                         else [])
    out = EptWalks()
    gpa = 0
    while gpa < limit:
        first = translate_gpa(state, gpa, "read")
        out.tables |= {s.table for s in first.steps}
        last = first.steps[-1]
        end = min((gpa | _span_of_level(last.level) - 1) + 1, limit)
        if last.value == 0:
            end = min(_past_zeros(state.memory, last.address, last.level, gpa), limit)
        outcomes = {"read": first}
        if last.decision == "page":
            for name, access, user in accesses:
                outcomes[name] = translate_gpa(state, gpa, access, user=user)
        out.blocks.append(EptBlock(gpa, end, outcomes))
        gpa = end
    return out


# -- VT-d by brute force ----------------------------------------------------------------------------------

#: Requests without PASID to 0xFEEx_xxxx are interrupt messages, not DMA (docs/language.md).
INTR_START, INTR_END = 0xFEE0_0000, 0xFEF0_0000
#: The rules of a request that meets an invalid entry or register rather than a missing one, a
#: permission or an address out of range: what ``no_misconfig(IOMMU)`` forbids.
DMA_MISCONFIG = frozenset({"DMA-ROOT-RSVD", "DMA-CTX-RSVD", "DMA-CTX-TT", "DMA-CTX-AW", "DMA-PT-AW", "DMA-SL-RSVD",
                           "DMA-ROOT-ACCESS", "DMA-RTADDR-TTM"})
_SL_LEVELS = {f"second-level {name}": level for level, name in VTD_FACTS.LEVEL_NAMES.items()}


@dataclass(frozen=True, slots=True)
class DmaBlock:
    start: int
    end: int
    outcomes: dict[str, DmaOutcome]

    def ok(self, access: str) -> bool:
        return self.outcomes[access].ok if access in self.outcomes else False

    def hpa(self) -> int | None:
        return next((o.hpa for o in self.outcomes.values() if o.ok), None)


@dataclass(slots=True)
class Device:
    sid: int
    #: The domain id of a context entry the walk goes past (None: no usable context entry).
    did: int | None = None
    blocks: list[DmaBlock] = field(default_factory=list)

    def reach(self) -> list[Span]:
        out = []
        for b in self.blocks:
            hpa = b.hpa()
            if hpa is not None:
                out.append((hpa, hpa + b.end - b.start))
        return _merge(out)

    def covered(self, lo: int, hi: int, fn: str) -> bool:
        """Every IOVA of ``[lo, hi)`` translates, with the permission ``fn`` asks for."""
        def good(b: DmaBlock) -> bool:
            if fn == "translates":
                return b.ok("read") or b.ok("write")
            return b.ok("read" if fn == "readable" else "write")
        return _inside([(lo, hi)], [(b.start, b.end) for b in self.blocks if good(b)])


@dataclass(slots=True)
class DmaWalks:
    devices: dict[int, Device] = field(default_factory=dict)
    tables: set[int] = field(default_factory=set)
    misconfigured: bool = False
    #: The blocks walked below each context entry's value: past the context entry a request depends
    #: on nothing else (VT-d "Context Entry"), so devices of one domain are walked once.
    below: dict[tuple[int, ...], list[DmaBlock]] = field(default_factory=dict)

    def note(self, o: DmaOutcome) -> None:
        self.tables |= {s.address & ~0xFFF for s in o.steps if s.address is not None}
        self.misconfigured |= o.result == "fault" and o.rule in DMA_MISCONFIG


def _sl_level(o: DmaOutcome) -> int | None:
    levels = [_SL_LEVELS[s.table] for s in o.steps if s.table in _SL_LEVELS]
    return levels[-1] if levels else None


def _width_limit(state: State, sid: int) -> int:
    """The first power of two the unit refuses as beyond its address width, found by asking."""
    for k in range(21, 65):
        o = translate_dma(state, sid, 1 << k, "read") if k < 64 else None
        if o is None or (o.result == "fault" and o.rule == "DMA-ADDR-WIDTH"):
            return 1 << k
    raise AssertionError("unreachable")


def _zero_stop(o: DmaOutcome) -> Step | None:
    """The all-zero second-level entry a walk stopped at (None: it did not stop at one)."""
    last = o.steps[-2] if len(o.steps) > 1 else None
    return last if last is not None and last.table in _SL_LEVELS and last.values == (0,) else None


def _decided_until(memory: dict[int, int], o: DmaOutcome, iova: int) -> int:
    """The end of the IOVA range from ``iova`` that goes as ``o`` went: past the all-zero entries from
    the one it stopped at, else to the end of what its last second-level entry covers. (A write
    through a page of all-zero entries that the read is refused above would otherwise be asked
    4 KiB at a time.)"""
    zero = _zero_stop(o)
    level = _sl_level(o)
    assert level is not None
    if zero is not None:
        assert zero.address is not None
        return _past_zeros(memory, zero.address, _SL_LEVELS[zero.table], iova)
    return (iova | _span_of_level(level) - 1) + 1


def walk_device(state: State, sid: int, out: DmaWalks) -> None:
    first = translate_dma(state, sid, 0, "read")
    out.note(first)
    context = next((s for s in first.steps if s.table == "context table"), None)
    if context is None or (first.result == "fault" and _sl_level(first) is None
                           and first.rule != "DMA-OUT-INTR"):
        return  # refused at the root or context entry: every request of the device is
    device = out.devices[sid] = Device(sid, VTD_FACTS.CONTEXT_HI["did"].get(context.values[1]))
    if context.values in out.below:
        device.blocks = out.below[context.values]
        return
    out.below[context.values] = device.blocks
    iova = 0
    while iova < 1 << 64:
        if INTR_START <= iova < INTR_END:
            assert translate_dma(state, sid, iova, "read").result == "interrupt"
            iova = INTR_END
            continue
        outcomes = {"read": translate_dma(state, sid, iova, "read")}
        if _zero_stop(outcomes["read"]) is None:  # a read that stops at an all-zero entry tells what a write
            outcomes["write"] = translate_dma(state, sid, iova, "write")  # does: it stops there too
        for o in outcomes.values():
            out.note(o)
        if any(o.result == "fault" and o.rule == "DMA-ADDR-WIDTH" for o in outcomes.values()):
            assert all(o.rule == "DMA-ADDR-WIDTH" for o in outcomes.values()), outcomes
            return
        levels = [_sl_level(o) for o in outcomes.values()]
        if all(level is None for level in levels):  # pass-through: the identity up to the width
            assert all(o.ok and o.translation == "pass-through" for o in outcomes.values()), outcomes
            end = _width_limit(state, sid)
        else:
            end = min(_decided_until(state.memory, o, iova) for o in outcomes.values() if _sl_level(o) is not None)
        if iova < INTR_START < end:
            end = INTR_START
        for o in outcomes.values():
            if o.ok:
                assert o.hpa is not None
                for edge in (INTR_START, INTR_END):
                    if o.hpa < edge < o.hpa + end - iova:
                        end = iova + edge - o.hpa
            elif o.rule == "DMA-OUT-INTR":
                end = min(end, (iova | 0xFFF) + 1)
        device.blocks.append(DmaBlock(iova, end, outcomes))
        iova = end


def _scope_sids(scope: tuple[str, ...]) -> list[int]:
    """The source ids of a unit's device scope, as the builder writes it ("BB:DD.F" endpoints)."""
    out = []
    for entry in scope:
        bus, _, rest = entry.partition(":")
        device, _, function = rest.partition(".")
        out.append(int(bus, 16) << 8 | int(device, 16) << 3 | int(function))
    return out


def walk_unit(state: State, index: int = 0) -> DmaWalks:
    """Every request of every device that unit ``index`` remaps, every IOVA: the devices of its
    scope; for a unit without scope (it remaps what no other unit claims), every bus and every
    device function of a bus whose root entry is usable."""
    out = DmaWalks()
    unit = state.iommus[index]
    if unit.scope:
        for sid in _scope_sids(unit.scope):
            walk_device(state, sid, out)
        return out
    claimed = {sid for other in state.iommus if other is not unit for sid in _scope_sids(other.scope)}
    for bus in range(256):
        mine = [devfn for devfn in range(256) if bus << 8 | devfn not in claimed]
        if not mine:
            continue
        probe = translate_dma(state, bus << 8 | mine[0], 0, "read")
        out.note(probe)
        if not any(s.table == "context table" for s in probe.steps):
            continue  # the root entry (or the unit) refuses every request on this bus
        for devfn in mine:
            walk_device(state, bus << 8 | devfn, out)
    return out


# -- exits by brute force ----------------------------------------------------------------------------------

_PE, _TS, _NE, _PG = 1, 1 << 3, 1 << 5, 1 << 31
CONTEXTS = (
    CpuState(cpl=0, cr0=_PG | _NE | _PE, cr4=0, rflags=0x2),
    CpuState(cpl=3, cr0=_PG | _NE | _PE, cr4=0, rflags=0x3002),  # IOPL 3
    CpuState(cpl=3, cr0=_PG | _NE | _TS | _PE, cr4=1 << 2 | 1 << 8, rflags=0x2),  # TS, TSD, PCE
    CpuState(cpl=0, cr0=_NE, cr4=0, rflags=0x2),  # real-address mode
    CpuState(cpl=3, cr0=_NE | _PE, cr4=0, rflags=0x2_0002),  # virtual-8086 mode
)


def _events(e: ExitEventClaim) -> Iterator[dict[str, Any]]:
    base: dict[str, Any] = {"kind": "instruction", "insn": e.name}
    if e.name in ("RDMSR", "WRMSR"):
        for v in e.values or ():
            yield {**base, "ecx": v}
    elif e.name in ("IN", "OUT", "INS", "OUTS"):
        for port in e.values or ():
            for size in (1, 2, 4):
                for permitted in (False, True):
                    yield {**base, "port": port, "size": size, "operand": "dx", "io_permitted": permitted}
    elif e.name == "EXCEPTION":
        for vector in e.values or ():
            if vector == 14:  # the #PF filter reads only bits 4:0 here (mask and match < 32)
                for code in range(32):
                    yield {"kind": "exception", "vector": 14, "error_code": code, "linear_address": 0}
            else:
                yield {"kind": "exception", "vector": vector}
    elif e.name.startswith("MOV_TO_CR"):
        for v in e.values or ():
            yield {**base, "value": v, "gpr": 0}
    elif e.name == "INVLPG":
        for address in (0, 0x1000, 1 << 47, (1 << 64) - 1):
            yield {**base, "linear_address": address}
    else:
        yield base


def escapes(state: State, e: ExitEventClaim) -> bool:
    """Some operand, in some context, runs without a VM exit and without a fault ordered before it."""
    for cpu in CONTEXTS:
        state.cpu = CpuState(cpl=cpu.cpl, cr0=cpu.cr0, cr4=cpu.cr4, rflags=cpu.rflags, ia32_xss=0, interruptibility=0,
                             activity_state="active", in_smm=False)
        for event in _events(e):
            o = decide_exit(state, event)
            if not o.exit and o.guest_fault is None:
                return True
    return False


# -- the oracle -----------------------------------------------------------------------------------------

class Oracle:
    """The verdict of every claim of a generated spec, from its definition and interpreter answers.

    Every walk reads the machine's memory: each VM's build (its EPT, bitmaps and raw entries) and
    the IOMMUs' tables merged into one (``spec_gen.machine_state``), since an EPT or VT-d entry, an
    MSR-load area or a VMCS pointer may point at a page another structure occupies, and the
    processor reads what is there (``test_properties_cross_structures`` generates such specs).
    ``spec_gen.Unlayable`` when two structures write one word differently."""

    def __init__(self, world: GeneratedSpec) -> None:
        self.world = world
        self.model = G.analyzed(world.text)
        self._builds: dict[str | None, State] | None = None
        self._machine: State | None = None
        self._ept: dict[str, EptWalks] = {}
        self._dma: dict[str, DmaWalks] = {}

    def builds(self) -> dict[str | None, State]:
        if self._builds is None:
            self._builds = G.builds(self.model)
        return self._builds

    def machine(self) -> State:
        if self._machine is None:
            self._machine = G.machine_state(self.model, self.builds())
        return self._machine

    def state(self, vm: str) -> State:
        """The VM's VMCS over the machine's memory and IOMMUs."""
        machine = self.machine()
        return replace(self.builds()[vm], memory=machine.memory, iommus=machine.iommus)

    def ept(self, vm: str) -> EptWalks:
        if vm not in self._ept:
            state = self.state(vm)
            proc2 = state.vmcs.get("SECONDARY_VM_EXEC_CONTROL", 0)
            self._ept[vm] = walk_ept(state, bool(proc2 & 1 << 22))
        return self._ept[vm]

    def unit_index(self, unit: str) -> int:
        return list(self.model.iommus).index(unit)

    def dma(self, unit: str = "dmar0") -> DmaWalks:
        if unit not in self._dma:
            self._dma[unit] = walk_unit(self.machine(), self.unit_index(unit))
        return self._dma[unit]

    def remaps(self, unit: str, sid: int) -> bool:
        return select_unit(self.machine(), 0, sid) == self.unit_index(unit)

    def structures(self) -> list[Span]:
        """The pages VMCS fields point at: the bitmaps and the shadow VMCS (docs/language.md,
        ``dma_isolated``: "a VMCS or a bitmap"). The generators set no other pointer field."""
        out = []
        for vm in self.world.vms:
            vmcs = self.builds()[vm].vmcs
            assert not set(vmcs) & {"EPTP_LIST_ADDRESS", "PML_ADDRESS", "POSTED_INTR_DESC_ADDR"}, vmcs
            for name in G.VMCS_PAGES:
                address = vmcs.get(name)
                if address is not None and address != G.NO_LINK:
                    out.append((address & ~0xFFF, (address & ~0xFFF) + 4096))
        return out

    def ram(self, vm: str) -> list[Span]:
        out = []
        for r in self.model.vms[vm].ram:
            assert isinstance(r.host, int)
            out.append((r.host, r.host + r.end - r.start))
        return out

    def verdict(self, claim: Claim) -> Verdict:
        holds = getattr(self, "_" + claim.kind)(*claim.args)
        if isinstance(holds, Verdict):
            return holds
        return Verdict.PROVED if holds else Verdict.VIOLATED

    # -- EPT: docs/language.md "no_misconfig", "isolated", "protects", "User assertions" --

    def _no_misconfig_ept(self, vm: str) -> bool:
        return not self.ept(vm).misconfigured

    def _isolated(self, a: str, b: str | None) -> bool:
        other = list(self.world.hypervisor) if b is None else self.ept(b).reach()
        return not _overlap(self.ept(a).reach(), other)

    def _protects(self, *regions: Span) -> bool:
        return not any(_overlap(self.ept(vm).reach("write"), list(regions)) for vm in self.world.vms)

    def _assert_ept(self, vm: str, lo: int, hi: int, fn: str, negate: bool) -> bool:
        access = {"readable": "read", "writable": "write", "executable": "fetch"}.get(fn)
        for b in self.ept(vm).within(lo, hi):
            value = b.any_ok if access is None else b.ok(access)
            if value == negate:
                return False
        return True

    def _assert_ept_target(self, vm: str, lo: int, hi: int, offset: int) -> bool:
        for b in self.ept(vm).within(lo, hi):
            hpa = b.hpa()
            if hpa is not None and (hpa - b.start - offset) % (1 << 64):
                return False
        return True

    # -- VT-d: "no_misconfig", "dma_isolated", the IOMMU forms of the assertion functions --

    def _no_misconfig_iommu(self, unit: str = "dmar0") -> bool:
        return not self.dma(unit).misconfigured

    def _assert_dma(self, sid: int, lo: int, hi: int, fn: str, unit: str = "dmar0") -> bool:
        device = self.dma(unit).devices.get(sid)
        return device is not None and device.covered(lo, hi, fn)

    def _dma_isolated(self, unit: str = "dmar0") -> bool:
        walks, vms = self.dma(unit), self.world.vms
        owners: dict[int, list[str]] = {}
        for vm in vms:
            for sid in self.world.devices[vm]:
                if self.remaps(unit, sid):
                    owners.setdefault(sid, []).append(vm)
        rams = {vm: self.ram(vm) for vm in vms}
        everyone_ram = [s for spans in rams.values() for s in spans]
        tables = walks.tables.union(*(self.dma(other).tables for other in self.model.iommus if other != unit),
                                    *(self.ept(vm).tables for vm in vms))
        forbidden = [(p, p + 4096) for p in tables] + self.structures() + list(self.world.hypervisor)
        for sid, device in walks.devices.items():
            reach = device.reach()
            mine = owners.get(sid, [])
            if _overlap(reach, forbidden):
                return False
            if len(mine) != 1 and _overlap(reach, everyone_ram):
                return False
            if len(mine) == 1 and not _inside(reach, rams[mine[0]]):
                return False

        def owned(sid: int) -> set[str]:
            found = walks.devices.get(sid)
            return set(owners.get(sid, [])) or ({"host"} if found is not None and found.reach() else set())

        groups = [[b.source_id for b in g] for g in self.model.iommus[unit].groups]
        together = [[s for s in g if self.remaps(unit, s)] for g in groups] + [[sid] for sid in owners]
        by_did: dict[int, list[int]] = {}
        for sid, device in walks.devices.items():
            if device.did is not None:
                by_did.setdefault(device.did, []).append(sid)
        together += [sids for sids in by_did.values() if len(sids) > 1]
        return all(len(set().union(*(owned(s) for s in members))) <= 1 for members in together)

    # -- exits and VM entry --

    def _exits(self, *events: ExitEventClaim) -> bool:
        return not any(escapes(self.state("g"), e) for e in events)

    def entry(self, vm: str) -> EntryResult:
        """The VM-entry checks on the VM's VMCS over the machine's memory (the MSR-load area, VTPR,
        the linked VMCS and the PDPTEs are read from whatever occupies their pages), run by a
        processor whose EFER is the one the host state restores (docs/language.md, ``vmentry_valid``)."""
        state = self.state(vm)
        state.cpu = replace(state.cpu, efer=state.vmcs["HOST_IA32_EFER"])
        return check_vm_entry(state)

    def _vmentry_valid(self, vm: str) -> Verdict:
        result = self.entry(vm)
        if result.missing_fields or result.missing_caps:
            return Verdict.ERROR
        if result.violations:
            return Verdict.VIOLATED
        return Verdict.UNKNOWN if result.unevaluated else Verdict.PROVED


# -- the comparison ----------------------------------------------------------------------------------------

def check(world: GeneratedSpec, directory: Path) -> dict[int, Result]:
    path = directory / "spec.vmx"
    path.write_text(world.text)
    report = check_spec(str(path), OPTIONS, bundle_dir=str(directory / "bundles"))
    errors = [d.headline() for d in report.diagnostics if d.severity.value == "error"]
    assert not errors, errors
    return {r.span.line: r for r in report.results}


def disagreements(world: GeneratedSpec) -> list[str]:
    """Every claim whose checked verdict differs from the brute-force one, or whose violation comes
    without a counterexample."""
    with tempfile.TemporaryDirectory() as tmp:
        results = check(world, Path(tmp))
    oracle = Oracle(world)
    out = []
    assert sorted(results) == sorted(world.claims), (sorted(results), sorted(world.claims))
    for line, claim in world.claims.items():
        result = results[line]
        want = oracle.verdict(claim)
        if result.verdict is not want:
            out.append(f"line {line}: prove {claim.text}: checker {result.verdict.value} ({result.outcome.message}), "
                       f"interpreter {want.value}")
        elif want is Verdict.VIOLATED and result.outcome.counterexample is None:
            out.append(f"line {line}: prove {claim.text}: violated without a counterexample")
        elif want is Verdict.VIOLATED and claim.kind == "vmentry_valid":
            rules = {v.rule.id for v in oracle.entry(claim.text[len("vmentry_valid("):-1]).violations}
            found = set(result.outcome.details.get("violated", ()))  # type: ignore[call-overload]
            if found != rules:
                out.append(f"line {line}: prove {claim.text}: the checker's failed rules {sorted(found)}, the "
                           f"interpreter's {sorted(rules)}")
    return out


def verdicts(world: GeneratedSpec) -> list[Verdict]:
    oracle = Oracle(world)
    return [oracle.verdict(c) for c in world.claims.values()]


seeds = st.integers(0, 2**32 - 1)


def _report(world: GeneratedSpec, found: list[str]) -> str:
    return "\n".join(found) + "\n\n" + world.text


@SETTINGS
@given(seeds)
def test_translation_properties_agree_with_the_interpreter(seed: int) -> None:
    world = G.translation_world(random.Random(seed))
    found = disagreements(world)
    assert not found, _report(world, found)


@SETTINGS
@given(seeds)
def test_exits_agrees_with_the_interpreter(seed: int) -> None:
    world = G.exits_world(random.Random(seed))
    found = disagreements(world)
    assert not found, _report(world, found)


@SETTINGS
@given(seeds)
def test_vmentry_valid_agrees_with_the_interpreter(seed: int) -> None:
    world = G.vmentry_world(random.Random(seed))
    found = disagreements(world)
    assert not found, _report(world, found)


# -- the generators reach both verdicts -----------------------------------------------------------------------

SANITY_SEEDS = range(12)


@pytest.mark.parametrize("generator", [G.translation_world, G.exits_world, G.vmentry_world],
                         ids=["translation", "exits", "vmentry"])
def test_generators_produce_both_verdicts(generator: Any) -> None:
    """Without both verdicts in good proportion, the comparison above could not fail: every claim
    kind must be proved somewhere and violated somewhere on a few fixed seeds."""
    seen: dict[str, set[Verdict]] = {}
    for seed in SANITY_SEEDS:
        world = generator(random.Random(seed))
        for claim, verdict in zip(world.claims.values(), verdicts(world), strict=True):
            seen.setdefault(claim.kind, set()).add(verdict)
    lacking = {kind: v for kind, v in seen.items() if not {Verdict.PROVED, Verdict.VIOLATED} <= v}
    assert not lacking, lacking


# -- seeded bugs: one bit of one table read wrongly by one side ---------------------------------------------------

def _misread(module: types.ModuleType, **override: int) -> types.SimpleNamespace:
    """The facts module with one fact read wrongly."""
    facts = {name: getattr(module, name) for name in dir(module) if not name.startswith("__")}
    facts.update(override)
    return types.SimpleNamespace(**facts)


def _swap_msr_rows(layout: dict[tuple[bool, bool], tuple[int, int, str]]) -> dict[tuple[bool, bool], Any]:
    """The read bitmap for high MSRs read at the write-low offset (a swapped row of the table)."""
    out = dict(layout)
    read_high, write_low = out[(False, True)], out[(True, False)]
    out[(False, True)] = (write_low[0], read_high[1], read_high[2])
    return out


SEEDED_BUGS: list[tuple[str, Any, str, str, Callable[[Any], Any]]] = [
    # the EPT extraction reads the write right from bit 2 (execute)
    ("ept-extraction-W-from-bit-2", G.translation_world, "vmxspec.symbolic.reach.ept", "A",
     lambda facts: _misread(facts, W=1 << 2)),
    # the EPT extraction reads the page-size bit from bit 8 (accessed)
    ("ept-extraction-PS-from-bit-8", G.translation_world, "vmxspec.symbolic.reach.ept", "A",
     lambda facts: _misread(facts, PAGE_SIZE_BIT=1 << 8)),
    # the interpreter's EPT walk reads the page-size bit from bit 8: bit 7 is never seen
    ("interpreter-walk-PS-from-bit-8", G.translation_world, "vmxspec.interp.ept", "A",
     lambda facts: _misread(facts, PAGE_SIZE_BIT=1 << 8)),
    # the VT-d extraction reads a second-level entry's page-size bit from bit 8
    ("vtd-extraction-PS-from-bit-8", G.translation_world, "vmxspec.symbolic.reach.vtd", "V",
     lambda facts: _misread(facts, SL_PS=1 << 8)),
    # the reference interpreter's VT-d walk reads a second-level entry's page-size bit from bit 8
    ("interpreter-dma-PS-from-bit-8", G.translation_world, "vmxspec.interp.vtd", "vtd",
     lambda facts: _misread(facts, SL_PS=1 << 8)),
    # the exits encoder reads the read bitmap for high MSRs at the write-low offset
    ("exits-msr-layout-row-swapped", G.exits_world, "vmxspec.symbolic.exits.msr_io", "MSR_LAYOUT", _swap_msr_rows),
    # the exits encoder reads the read bitmap for low MSRs one byte (eight MSRs) too far on
    ("exits-msr-read-low-one-byte-off", G.exits_world, "vmxspec.symbolic.exits.msr_io", "MSR_LAYOUT",
     lambda layout: {**layout, (False, False): (layout[(False, False)][0] + 1, *layout[(False, False)][1:])}),
    # the VM-entry encoder reads IA32_EFER's reserved bits with LMA (bit 10) flipped
    ("vmentry-efer-reserved-LMA", G.vmentry_world, "vmxspec.symbolic.vmentry.host", "EFER_RESERVED",
     lambda v: v ^ 1 << 10),
]
SEEDED_SEEDS = range(40)


@pytest.mark.parametrize(("name", "generator", "target", "attribute", "corrupt"), SEEDED_BUGS,
                         ids=[b[0] for b in SEEDED_BUGS])
def test_a_seeded_bug_makes_the_comparison_fail(monkeypatch: pytest.MonkeyPatch, name: str,
                                                generator: Callable[[random.Random], GeneratedSpec], target: str,
                                                attribute: str, corrupt: Callable[[Any], Any]) -> None:
    """Over a fixed list of seeds, some world must make the corrupted side disagree with the other,
    and that world must agree again once the corruption is undone: it is the bug that is caught."""
    module = importlib.import_module(target)
    with monkeypatch.context() as patch:
        patch.setattr(module, attribute, corrupt(getattr(module, attribute)))
        caught = next((seed for seed in SEEDED_SEEDS if disagreements(generator(random.Random(seed)))), None)
    assert caught is not None, f"{name}: no disagreement on seeds {SEEDED_SEEDS}"
    assert disagreements(generator(random.Random(caught))) == []


# -- disagreements found by this suite --------------------------------------------------------------------------

WALK_INTO_IOMMU = """platform skylake_server

vm v {
  ept {
    tables in 0x8000_0000 .. 0x8000_1000
    root at 0x8000_0000
    pml4e at 0x8000_0000 = 0x8080_0007  # PML4[0] -> the IOMMU's root table, walked as a PDPT
  }

  vmcs {
    proc  = activate_secondary_controls
    proc2 = enable_ept
  }
}

iommu dmar0 {
  cap  = 0x00d2_008c_4066_0462
  ecap = 0x00f0_50da
  tables in 0x8080_0000 .. 0x8090_0000
  root at 0x8080_0000
  device 0000:00:01.0 -> domain 1 {
    map 0x0 .. 0x1000 -> 0x1_0000_0000 rw
  }
}
"""


def test_an_ept_walk_into_the_iommu_tables_reads_them() -> None:
    """PML4[0] points at the IOMMU's root table. The walk then reads the root entry of bus 0 as a
    PDPTE (context table, R), the context entry of 00:01.0 as PDE 16 (its second-level table, R)
    and the high half of that context entry (domain 1, AW 2: 0x102) as PDE 17: W without R, an EPT
    misconfiguration for GPA 0x220_0000 .. 0x240_0000."""
    world = GeneratedSpec(WALK_INTO_IOMMU, {}, ("v",), (), {"v": ()}, (), True).with_claims(
        [Claim("no_misconfig(v.ept)", "no_misconfig_ept", ("v",))])
    assert Oracle(world).verdict(next(iter(world.claims.values()))) is Verdict.VIOLATED
    assert disagreements(world) == []
