"""EPT_VIOLATION: an access to a guest-physical address causes an EPT violation (or an EPT
misconfiguration, which is a VM exit too), for every access the guest can choose.

The EPT is concrete: it is swept once in Python from the EPT pointer (SDM "EPT Translation
Mechanism"), visiting only the entries whose guest-physical range meets the addresses the spec
asks about, into runs of guest-physical addresses that translate for each kind of access (read,
write, supervisor fetch, user fetch under mode-based execute control). An entry that is not
present or is misconfigured (SDM "EPT Misconfigurations": write without read, execute-only without
the capability, reserved bits, a large page the capability does not allow, a misaligned large
page, a reserved memory type) stops its subtree: every access below it exits. Z3 then only tests
the symbolic address against the runs.

What is not decided here (the event is reported unknown instead): EPT off or open (then nothing
causes an EPT violation, and no interpreter question can replay that), "EPT-violation #VE" on
(violations may become a #VE in the guest, depending on the #VE information area), an EPT pointer
that would fail VM entry, and open values in the EPT.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

import z3

from vmxspec.arch import ept as A
from vmxspec.arch.capabilities import EPT_VPID_CAP
from vmxspec.symbolic.exits.decision import Decision, Values
from vmxspec.symbolic.exits.env import PROC2, Env, ctl
from vmxspec.symbolic.exits.instructions import operand
from vmxspec.symbolic.exits.terms import Bool, Runs, bv, in_runs, is_false, is_true

_ENABLE_EPT = ctl(PROC2, "enable_ept")
_VE = ctl(PROC2, "ept_violation_ve")
_MBEC = ctl(PROC2, "mode_based_execute_control")
ACCESSES = ("read", "write", "fetch")


class EptUnsupported(Exception):
    """The event's decision is outside what this module decides; the message says why."""


@dataclass(frozen=True, slots=True)
class Leaf:
    """A translation: guest-physical ``[lo, hi)`` with the permission bits ANDed over the walk."""

    lo: int
    hi: int
    perms: int
    level: int
    address: int
    hpa: int


@dataclass(slots=True)
class Sweep:
    leaves: list[Leaf]
    width: int
    mbec: bool

    def runs(self, permission: int) -> Runs:
        out: list[list[int]] = []
        for leaf in self.leaves:
            if not leaf.perms & permission:
                continue
            if out and out[-1][1] == leaf.lo:
                out[-1][1] = leaf.hi
            else:
                out.append([leaf.lo, leaf.hi])
        return tuple((lo, hi) for lo, hi in out)

    def leaf_at(self, gpa: int) -> Leaf | None:
        i = bisect_right([leaf.lo for leaf in self.leaves], gpa) - 1
        return self.leaves[i] if i >= 0 and self.leaves[i].lo <= gpa < self.leaves[i].hi else None


def _eptp_ok(eptp: int, cap: int, maxphyaddr: int) -> bool:
    """SDM VM-entry checks on the EPT pointer: memory type and walk length the capability allows,
    A/D only with the capability, reserved bits 11:7 (7 is SSS with its capability) and above MAXPHYADDR."""
    memtype_cap = A.EPTP_MEMTYPE_CAPS.get(A.EPTP["memtype"].get(eptp))
    pwl_cap = A.EPTP_PWL_CAPS.get(A.EPTP["pwl_minus_1"].get(eptp))
    sss = 0 if EPT_VPID_CAP["sss_control"].get(cap) else A.EPTP["sss_control"].mask
    reserved = A.EPTP["reserved_11_8"].mask | sss
    return (memtype_cap is not None and bool(memtype_cap.get(cap)) and pwl_cap is not None and bool(pwl_cap.get(cap))
            and not (eptp & A.EPTP_AD and not EPT_VPID_CAP["ad_flags"].get(cap))
            and not eptp & reserved and not eptp >> maxphyaddr)


def misconfigured(level: int, value: int, leaf: bool, cap: int, maxphyaddr: int) -> bool:
    """SDM "EPT Misconfigurations" for a present entry."""
    if value & (A.R | A.W) == A.W:
        return True
    if not value & (A.R | A.W) and not EPT_VPID_CAP["execute_only"].get(cap):
        return True
    if leaf and level in A.PAGE_SIZE_CAPS and not A.PAGE_SIZE_CAPS[level].get(cap):
        return True
    if value & A.reserved_bits(level, leaf, maxphyaddr):
        return True
    return leaf and (value & A.MEMTYPE_MASK) >> A.MEMTYPE_SHIFT in A.EPT_RESERVED_MEMTYPES


def _indices(base: int, level: int, targets: Runs) -> list[int]:
    """Entry indices of the table at ``level`` (covering GPAs from ``base``) that meet ``targets``."""
    size = 1 << A.index_shift(level)
    end = base + A.ENTRIES_PER_TABLE * size
    out: set[int] = set()
    i = bisect_right([hi for _, hi in targets], base)
    while i < len(targets) and targets[i][0] < end:
        lo, hi = max(targets[i][0], base), min(targets[i][1], end)
        if lo < hi:
            out.update(range((lo - base) // size, (hi - 1 - base) // size + 1))
        i += 1
    return sorted(out)


def sweep(memory: dict[int, int], eptp: int, cap: int, maxphyaddr: int, mbec: bool, targets: Runs) -> Sweep:
    """Every translating leaf whose range meets ``targets`` (clipped to them), in GPA order."""
    levels = A.EPTP["pwl_minus_1"].get(eptp) + 1
    width = min(maxphyaddr, A.gpa_width(levels))
    clipped = tuple((lo, min(hi, 1 << width)) for lo, hi in targets if lo < 1 << width)
    addr_mask = A.address_mask(maxphyaddr)
    leaves: list[Leaf] = []
    # An explicit stack, GPA order: (table, level, base GPA, permissions so far).
    stack = [(eptp & addr_mask, levels, 0, A.PERMISSION_BITS)]
    while stack:
        table, level, base, perms = stack.pop()
        size = 1 << A.index_shift(level)
        children = []
        for index in _indices(base, level, clipped):
            address = table + 8 * index
            value = memory.get(address, 0)
            if not (value & A.RWX or (mbec and value & A.XU)):
                continue
            leaf = level == 1 or (level <= 3 and bool(value & A.PAGE_SIZE_BIT))
            if misconfigured(level, value, leaf, cap, maxphyaddr):
                continue
            gpa = base + index * size
            here = perms & value
            if leaf:
                page = A.PAGE_SIZE_BY_LEVEL[level]
                hpa = value & addr_mask & ~(page - 1)
                for lo, hi in clipped:
                    a, b = max(lo, gpa), min(hi, gpa + size)
                    if a < b:
                        leaves.append(Leaf(a, b, here, level, address, hpa + (a - gpa)))
            else:
                children.append((value & addr_mask, level - 1, gpa, here))
        stack.extend(reversed(children))
    leaves.sort(key=lambda leaf: leaf.lo)
    return Sweep(leaves, width, mbec)


def ept_violation(env: Env, targets: Runs | None) -> Decision:
    """The EPT_VIOLATION event over ``targets`` (None: every guest-physical address)."""
    view = env.view
    enabled = view.ctl(_ENABLE_EPT)
    if is_false(enabled):
        raise EptUnsupported("EPT is off (\"enable EPT\" is 0), so no access causes an EPT violation; no interpreter "
                             "question can replay that")
    if not is_true(enabled):
        raise EptUnsupported("whether EPT is on depends on open or unset controls")
    ve, mbec_term = view.ctl(_VE), view.ctl(_MBEC)
    if not is_false(ve):
        raise EptUnsupported("\"EPT-violation #VE\" may be 1: a violation may become a #VE in the guest, which "
                             "depends on the #VE information area (not modelled)")
    if not (is_true(mbec_term) or is_false(mbec_term)):
        raise EptUnsupported("whether mode-based execute control is on depends on open or unset controls")
    state = view.state
    eptp = view.concrete("EPT_POINTER")
    cap = state.caps.get("IA32_VMX_EPT_VPID_CAP")
    if eptp is None or cap is None or state.maxphyaddr is None:
        raise EptUnsupported("the EPT walk needs a concrete EPT_POINTER, IA32_VMX_EPT_VPID_CAP and MAXPHYADDR")
    if not _eptp_ok(eptp, cap, state.maxphyaddr):
        raise EptUnsupported(f"EPT pointer {eptp:#x} would fail VM entry, so no guest runs on this EPT")
    mbec = is_true(mbec_term)
    result = sweep(state.memory, eptp, cap, state.maxphyaddr, mbec, targets or ((0, 1 << 64),))
    gpa, access, user = operand("gpa", 64), operand("access", 2), z3.Bool("op.user")
    fetch_x = z3.Not(user) if mbec else z3.BoolVal(True)
    ok = z3.Or(z3.And(access == bv(0, 2), in_runs(gpa, result.runs(A.R))),
               z3.And(access == bv(1, 2), in_runs(gpa, result.runs(A.W))),
               z3.And(access == bv(2, 2), fetch_x, in_runs(gpa, result.runs(A.X))),
               z3.And(access == bv(2, 2), user, in_runs(gpa, result.runs(A.XU))) if mbec else z3.BoolVal(False))
    valid: Bool = z3.And(z3.ULE(access, bv(2, 2)), z3.ULT(gpa, bv(1 << result.width, 64)) if result.width < 64
                         else z3.BoolVal(True))

    def query(values: Values) -> dict[str, object]:
        return {"kind": "ept", "gpa": f"{values(gpa):#x}", "access": ACCESSES[values(access)],
                "user": values.flag(user)}

    def why(values: Values) -> str:
        a, kind = values(gpa), ACCESSES[values(access)]
        leaf = result.leaf_at(a)
        where = ""
        if leaf is not None:
            where = (f": the {A.LEVEL_NAMES[leaf.level]} at {leaf.address:#x} maps it to HPA "
                     f"{leaf.hpa + (a - leaf.lo):#x} ({A.permission_names(leaf.perms, mbec)})")
        return f"a {kind} of GPA {a:#x} causes no EPT violation or misconfiguration{where}"

    return Decision("EPT_VIOLATION", {"gpa": gpa, "access": access, "user": user}, z3.Not(ok), ok, query, why,
                    valid, prefer=[access == bv(0, 2), z3.Not(user)], question="ept")
