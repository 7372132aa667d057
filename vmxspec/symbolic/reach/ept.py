"""Every translation an EPT can make, read off its tables in one traversal.

This is the checker's own reading of EPT, written from ``vmxspec.arch.ept`` (the SDM's entry
formats) and independent of the reference interpreter, which later replays what this finds. Instead
of walking one guest-physical address at a time it traverses every table reachable from the EPT
pointer, and returns:

* ``runs``: the guest-physical ranges that translate, each with its host-physical start, the AND
  of the permission bits over the walk (SDM "EPT Translation Mechanism": an access needs its bit in
  every entry used) and the leaf entries that map it. Adjacent leaves of one table that map
  adjacent host pages with the same rights and memory type are one run, so a table of 512 4-KiB
  pages over contiguous memory is one run;
* ``findings``: every *present* entry a walk reaches that is misconfigured (SDM "EPT
  Misconfigurations": write without read, execute-only without the capability, a reserved bit, a
  page size the processor lacks, a reserved memory type), with the guest-physical range whose
  walks reach it;
* ``undetermined``: entries whose presence depends on mode-based execute control when the VMCS
  does not say whether it is on (only bit 10 set);
* ``tables``: the host pages read as paging structures, with the level of each table.

A table reached from several entries (aliasing) is decoded once and its result reused, shifted to
each place it is reached from, so the cost is the number of distinct tables, not of paths.
Only guest-physical addresses a processor can produce (below 2^min(MAXPHYADDR, 48 or 57)) count:
an entry that only such addresses would reach is unreachable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from vmxspec.arch import ept as A
from vmxspec.arch.capabilities import EPT_VPID_CAP
from vmxspec.arch.rules import ept as rules
from vmxspec.symbolic.reach.memory import TableMemory

_CAP_XONLY = EPT_VPID_CAP["execute_only"].mask
_CAP_AD = EPT_VPID_CAP["ad_flags"].mask
_CAP_SSS = EPT_VPID_CAP["sss_control"].mask
#: Bits of a leaf that say how the page is mapped (everything but the frame): runs merge only
#: when these agree.
_ATTR_BITS = A.PERMISSION_BITS | A.MEMTYPE_MASK | A.IPAT


class EptRun(NamedTuple):
    """GPAs ``[start, end)`` translate to ``hpa + (gpa - start)``.

    ``perms`` is the AND of bits 0, 1, 2 and 10 over the walk; ``level`` the leaf's level; the
    page of ``gpa`` is mapped by the leaf at ``entry + 8 * ((gpa - start) >> index_shift(level))``;
    ``attrs`` are the leaf's permission, memory-type and IPAT bits.
    """

    start: int
    end: int
    hpa: int
    perms: int
    level: int
    entry: int
    attrs: int

    @property
    def hpa_end(self) -> int:
        return self.hpa + self.end - self.start

    def leaf_at(self, gpa: int) -> int:
        """The address of the leaf entry that maps ``gpa``."""
        return self.entry + 8 * ((gpa - self.start) >> A.index_shift(self.level))

    def hpa_of(self, gpa: int) -> int:
        return self.hpa + gpa - self.start


class EptFinding(NamedTuple):
    """A present entry that is misconfigured; walks of GPAs ``[start, end)`` reach it.

    ``problems`` lists ``(rule id, why)`` in the order the SDM lists the conditions."""

    start: int
    end: int
    level: int
    entry: int
    value: int
    problems: tuple[tuple[str, str], ...]

    @property
    def rule(self) -> str:
        return self.problems[0][0]


class Undetermined(NamedTuple):
    """An entry with only bit 10 (XU) of bits 0-2, 10 set: present iff mode-based execute control
    is on, which the VMCS does not say. Walks of ``[start, end)`` reach it."""

    start: int
    end: int
    level: int
    entry: int
    value: int


@dataclass(slots=True)
class EptMap:
    """What one EPT pointer makes reachable (see the module docstring)."""

    eptp: int
    levels: int
    #: Guest-physical addresses at or above this cannot be produced by the processor.
    limit: int
    mbec: bool | None
    runs: list[EptRun] = field(default_factory=list)
    findings: list[EptFinding] = field(default_factory=list)
    undetermined: list[Undetermined] = field(default_factory=list)
    #: Table address -> the level of its entries (4 = a PML4 table, 1 = a page table).
    tables: dict[int, int] = field(default_factory=dict)
    #: Why VM entry would reject the EPT pointer (then no walk uses it and nothing is reachable).
    eptp_problems: tuple[str, ...] = ()

    def accessible(self, run: EptRun) -> bool | None:
        """Whether some access through the run succeeds: a read (R), a fetch (X), or, with
        mode-based execute control on, a user-mode fetch (XU). None when that hinges on MBEC."""
        if run.perms & (A.R | A.X):
            return True
        if run.perms & A.XU:
            return self.mbec
        return False

    def reachable(self) -> list[EptRun]:
        """The runs some access can use (writes need W and, W without R being a misconfiguration,
        R too, so every writable run is readable)."""
        return [r for r in self.runs if self.accessible(r)]

    def run_at(self, gpa: int) -> EptRun | None:
        for run in self.runs:
            if run.start <= gpa < run.end:
                return run
        return None


def eptp_problems(eptp: int, cap: int, maxphyaddr: int) -> tuple[str, ...]:
    """Why VM entry would reject this EPT pointer (SDM "VM-Execution Control Fields", EPTP)."""
    out = []
    memtype = A.EPTP["memtype"].get(eptp)
    cap_bit = A.EPTP_MEMTYPE_CAPS.get(memtype)
    if cap_bit is None or not cap_bit.get(cap):
        out.append(f"memory type {memtype} (bits 2:0) is not one IA32_VMX_EPT_VPID_CAP allows")
    pwl = A.EPTP["pwl_minus_1"].get(eptp)
    cap_bit = A.EPTP_PWL_CAPS.get(pwl)
    if cap_bit is None or not cap_bit.get(cap):
        out.append(f"a {pwl + 1}-level walk (bits 5:3 = {pwl}) is not one IA32_VMX_EPT_VPID_CAP allows")
    if eptp & A.EPTP_AD and not cap & _CAP_AD:
        out.append("accessed/dirty flags (bit 6) without the capability")
    reserved = A.EPTP["reserved_11_8"].mask | (0 if cap & _CAP_SSS else A.EPTP["sss_control"].mask)
    if eptp & reserved:
        out.append(f"reserved bits {eptp & reserved:#x}")
    if eptp >> maxphyaddr:
        out.append(f"bits at or above MAXPHYADDR ({maxphyaddr})")
    return tuple(out)


def misconfigurations(level: int, value: int, cap: int, maxphyaddr: int) -> tuple[tuple[str, str], ...]:
    """The misconfiguration conditions a present entry meets, in the order of the SDM's list in
    "EPT Misconfigurations": permissions, then reserved bits (physical-address bits, the bits a
    level reserves, page-size support, frame alignment), then the leaf's memory type."""
    out: list[tuple[str, str]] = []
    read, write = value & A.R, value & A.W
    if write and not read:
        out.append((rules.MISCONFIG_W_NO_R, "bit 1 (write) is set and bit 0 (read) is clear"))
    elif not read and not write and not cap & _CAP_XONLY:
        what = "execute-only (bit 2 without bits 0 and 1)" if value & A.X else "user-execute-only (bit 10 alone)"
        out.append((rules.MISCONFIG_XONLY, f"{what} but IA32_VMX_EPT_VPID_CAP[0] = 0"))
    beyond = value & A.physical_reserved(maxphyaddr)
    if beyond:
        out.append((rules.MISCONFIG_RSVD_PHYS, f"bits {beyond:#x} (51:{maxphyaddr}) are set, beyond MAXPHYADDR"))
    if level >= 4:
        if value & A.PAGE_SIZE_BIT:
            out.append((rules.MISCONFIG_PS_PML4E, f"bit 7 is reserved in a {A.LEVEL_NAMES[level]}"))
        if value & A.RESERVED_NONLEAF:
            out.append((rules.MISCONFIG_RSVD_NONLEAF, f"bits 6:3 are reserved in a {A.LEVEL_NAMES[level]}"))
        return tuple(out)
    if level == 1 or value & A.PAGE_SIZE_BIT:
        if level > 1 and not A.PAGE_SIZE_CAPS[level].get(cap):
            rule = rules.MISCONFIG_PS_1G if level == 3 else rules.MISCONFIG_PS_2M
            size = A.PAGE_SIZE_NAMES[A.PAGE_SIZE_BY_LEVEL[level]]
            out.append((rule, f"bit 7 asks for a {size} page, which IA32_VMX_EPT_VPID_CAP does not offer"))
            return tuple(out)
        if level > 1 and value & A.RESERVED_ALIGN[level]:
            rule = rules.MISCONFIG_ALIGN_1G if level == 3 else rules.MISCONFIG_ALIGN_2M
            out.append((rule, f"the page frame is not aligned to the page (bits {29 if level == 3 else 20}:12 "
                              f"= {value & A.RESERVED_ALIGN[level]:#x})"))
        memtype = (value & A.MEMTYPE_MASK) >> A.MEMTYPE_SHIFT
        if memtype in A.EPT_RESERVED_MEMTYPES:
            out.append((rules.MISCONFIG_MEMTYPE, f"memory type {memtype} (bits 5:3) is reserved"))
        return tuple(out)
    if value & A.RESERVED_NONLEAF:
        out.append((rules.MISCONFIG_RSVD_NONLEAF, "bits 6:3 are reserved in an entry that references a table"))
    return tuple(out)


class _Sub(NamedTuple):
    """A table's contribution, with GPAs relative to the first address the table translates and
    permissions as the AND over the entries from this table down."""

    runs: list[EptRun]
    findings: list[EptFinding]
    undetermined: list[Undetermined]


class _Traversal:
    def __init__(self, memory: TableMemory, cap: int, maxphyaddr: int, mbec: bool | None) -> None:
        self.memory = memory
        self.cap = cap
        self.maxphyaddr = maxphyaddr
        self.mbec = mbec
        self.address_mask = A.address_mask(maxphyaddr)
        self.tables: dict[int, int] = {}
        self.memo: dict[tuple[int, int], _Sub] = {}
        # Entries with none of these bits set (and R, W as a legal pair) need no further check.
        self.suspect = {level: A.reserved_bits(level, False, maxphyaddr) | A.reserved_bits(level, True, maxphyaddr)
                        for level in range(1, 6)}

    def table(self, address: int, level: int, limit: int) -> _Sub:
        """The table at ``address`` of ``level``, for relative GPAs below ``limit``."""
        span = 1 << (A.index_shift(level) + 9)
        full = limit >= span
        if full and (address, level) in self.memo:
            return self.memo[(address, level)]
        self.tables.setdefault(address, level)
        sub = self._decode(address, level, min(limit, span))
        if full:
            self.memo[(address, level)] = sub
        return sub

    def _decode(self, address: int, level: int, limit: int) -> _Sub:
        shift = A.index_shift(level)
        size = 1 << shift
        runs: list[EptRun] = []
        findings: list[EptFinding] = []
        undetermined: list[Undetermined] = []
        cap, maxphyaddr, mbec = self.cap, self.maxphyaddr, self.mbec
        suspect = self.suspect[level]
        frame_mask = self.address_mask & ~(size - 1)
        good_memtype = [t not in A.EPT_RESERVED_MEMTYPES for t in range(8)]  # by bits 5:3 of a leaf
        xonly_ok = bool(cap & _CAP_XONLY)
        large_ok = level in A.PAGE_SIZE_CAPS and bool(A.PAGE_SIZE_CAPS[level].get(cap))
        can_be_leaf = level <= 3
        rwx, xu, ps_bit, w_bit = A.RWX, A.XU, A.PAGE_SIZE_BIT, A.W
        memtype_mask, memtype_shift = A.MEMTYPE_MASK, A.MEMTYPE_SHIFT
        # The run being extended: leaves of this table that map adjacent host pages alike.
        cur: list[int] | None = None  # [start, end, hpa, perms, entry, attrs]
        for entry, value in self.memory.words(address, address + 8 * ((limit - 1 >> shift) + 1)):
            start = (entry - address) >> 3 << shift
            if not value & rwx:
                if not value & xu or mbec is False:
                    continue  # not present: R = W = X = 0 (and XU = 0 or ignored)
                if mbec is None:
                    undetermined.append(Undetermined(start, start + size, level, entry, value))
                    continue
            leaf = level == 1 or (can_be_leaf and bool(value & ps_bit))
            rw = value & (A.R | w_bit)
            memtype_ok = good_memtype[(value & memtype_mask) >> memtype_shift]
            clean = (not value & suspect and rw != w_bit and (rw or xonly_ok)
                     and (not leaf or ((level == 1 or large_ok) and memtype_ok)))
            if not clean:
                problems = misconfigurations(level, value, cap, maxphyaddr)
                if problems:
                    findings.append(EptFinding(start, start + size, level, entry, value, problems))
                    continue
            if leaf:
                hpa = value & frame_mask
                attrs = value & _ATTR_BITS
                if cur is not None and cur[1] == start and cur[2] + start - cur[0] == hpa and cur[5] == attrs:
                    cur[1] = start + size
                    continue
                if cur is not None:
                    runs.append(EptRun(cur[0], cur[1], cur[2], cur[3], level, cur[4], cur[5]))
                cur = [start, start + size, hpa, value & A.PERMISSION_BITS, entry, attrs]
                continue
            if cur is not None:
                runs.append(EptRun(cur[0], cur[1], cur[2], cur[3], level, cur[4], cur[5]))
                cur = None
            perms = value & A.PERMISSION_BITS
            child = self.table(value & self.address_mask, level - 1, min(size, limit - start))
            for r in child.runs:
                runs.append(EptRun(r.start + start, r.end + start, r.hpa, r.perms & perms, r.level, r.entry, r.attrs))
            for f in child.findings:
                findings.append(f._replace(start=f.start + start, end=f.end + start))
            for u in child.undetermined:
                undetermined.append(u._replace(start=u.start + start, end=u.end + start))
        if cur is not None:
            runs.append(EptRun(cur[0], cur[1], cur[2], cur[3], level, cur[4], cur[5]))
        return _Sub(runs, findings, undetermined)


def extract_ept(memory: TableMemory, eptp: int, cap: int, maxphyaddr: int, mbec: bool | None) -> EptMap:
    """The interval map of the EPT that ``eptp`` points to (see the module docstring).

    ``mbec`` says whether mode-based execute control is on (None: the VMCS does not say).
    """
    problems = eptp_problems(eptp, cap, maxphyaddr)
    levels = A.EPTP["pwl_minus_1"].get(eptp) + 1
    if problems or levels not in (4, 5):
        return EptMap(eptp, levels, 0, mbec, eptp_problems=problems or ("the page-walk length is not 4 or 5",))
    limit = 1 << min(maxphyaddr, A.gpa_width(levels))
    walk = _Traversal(memory, cap, maxphyaddr, mbec)
    root = eptp & A.address_mask(maxphyaddr)
    sub = walk.table(root, levels, limit)
    return EptMap(eptp, levels, limit, mbec, sub.runs, sub.findings, sub.undetermined, walk.tables)


def walk_path(memory: Mapping[int, int], eptp: int, maxphyaddr: int, gpa: int,
              levels: int) -> list[tuple[int, int, int]]:
    """``(level, entry address, value)`` of the entries a walk of ``gpa`` reads down to the leaf,
    for explanations (the caller knows the GPA translates)."""
    table = eptp & A.address_mask(maxphyaddr)
    out = []
    for level in range(levels, 0, -1):
        entry = table + 8 * (gpa >> A.index_shift(level) & 0x1FF)
        value = memory.get(entry, 0)
        out.append((level, entry, value))
        if level == 1 or (level <= 3 and value & A.PAGE_SIZE_BIT) or not value & (A.RWX | A.XU):
            break
        table = value & A.address_mask(maxphyaddr)
    return out
