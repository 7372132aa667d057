"""The EPT walk: what one guest-physical access does under a given EPT pointer and host memory.

Read next to the SDM, Vol. 3C, "EPT Translation Mechanism", "EPT Misconfigurations", "EPT Violations",
"Accessed and Dirty Flags for EPT", "EPT and Memory Typing" and the table "Exit Qualification for EPT
Violations". The facts (layouts, masks, memory types) come from ``vmxspec.arch.ept``; the rule ids
from ``vmxspec.arch.rules.ept``. This module is the project's oracle for ``ept`` questions, so it
is written for a reader first and keeps every decision on one page.

What the answer assumes, and why (the question cannot say otherwise):

* The access comes from a linear address (qualification bit 7 = 1). The exceptions in the SDM, PDPTE
  loads for PAE paging by MOV to CR, are not expressible in a question.
* ``paging_structure`` with ``access = "write"`` is the CPU's update of a guest accessed/dirty flag,
  a read-modify-write: bit 1 is set, and bit 0, which the SDM calls implementation-specific, is
  reported set (as kvm-unit-tests observe on hardware) and listed in ``qualification_unknown``.
  An instruction fetch is never a paging-structure access: that combination is a bad query.
* Qualification bits 10 and 11 (advanced information: the guest R/W and XD of the linear address)
  depend on guest paging entries the question does not give: reported 0, listed unknown. Bit 9 is
  the question's ``user``. Without capability bit 22, or for a paging-structure access, bits 9-11
  are undefined: reported 0, listed unknown.
* Bit 12 (NMI unblocking due to IRET) depends on the instruction being executed: not modelled,
  reported 0, listed unknown. Bits 13-14 (shadow-stack accesses, CET) are 0: such accesses cannot
  be asked for. "EPT-violation #VE" is not modelled here: the walk reports the violation; whether it
  becomes a #VE is the exit decision's business.
* Memory type: the guest PAT type is taken to be WB (the question gives no guest PAT), so with IPAT
  = 0 the effective type is the EPT type, as with IPAT = 1. CR0.CD is read from ``state.cpu.cr0``
  when given (CD = 1 gives UC); when absent it is taken as 0. Both assumptions are listed in the
  outcome.
* Accessed/dirty flags are set only on a walk that succeeds (KVM and Bochs agree; the SDM leaves
  failing walks open). A/D bits are ignored for translation, so they never change a walk.

What the answer never assumes: MAXPHYADDR, IA32_VMX_EPT_VPID_CAP and the EPT pointer must be given
(StateError "missing-capability"/"missing-field"); the processor-based controls are read only when
mode-based execute control could change the answer (an entry with bit 10 set, or a user-mode
fetch), and then must be given. An EPT pointer that VM entry would reject, or a guest-physical
address no processor can produce (at or above 2^MAXPHYADDR, or beyond the walk's 48/57 bits), is a
bad query: the SDM defines no walk for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from vmxspec.arch import ept as A
from vmxspec.arch.capabilities import EPT_VPID_CAP
from vmxspec.arch.controls import ControlField, control_mask
from vmxspec.arch.rules import ept as rules
from vmxspec.state import State, StateError

ResultKind = Literal["ok", "ept_violation", "ept_misconfig"]
Decision = Literal["table", "page", "not-present", "misconfig"]

_ACTIVATE_SECONDARY = control_mask(ControlField.PROC, "activate_secondary_controls")
_MBEC = control_mask(ControlField.PROC2, "mode_based_execute_control")
_CAP_XONLY = EPT_VPID_CAP["execute_only"].mask
_CAP_ADVANCED = EPT_VPID_CAP["advanced_vmexit_info"].mask
_CAP_AD = EPT_VPID_CAP["ad_flags"].mask
_CAP_SSS = EPT_VPID_CAP["sss_control"].mask
_CR0_CD = 1 << 30
_EPTP_RESERVED_11_8 = A.EPTP["reserved_11_8"].mask
_EPTP_SSS = A.EPTP["sss_control"].mask
_FRAME = A.ENTRY["address"].mask


# -- the outcome ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class WalkStep:
    """One entry the walk read: where, what, and what the walk decided about it."""

    level: int
    table: int
    index: int
    address: int
    value: int
    decision: Decision
    #: The AND of the permission bits (0, 1, 2 and 10) of every entry read so far, this one included.
    permissions: int
    #: Why a misconfigured entry is misconfigured (empty otherwise).
    note: str = ""

    @property
    def name(self) -> str:
        return A.LEVEL_NAMES[self.level]

    def describe(self, mbec: bool = False) -> str:
        """A line for a person: ``PDE[3] at 0x102018 = 0x103007 (R W X): references ...``."""
        head = (f"{self.name}[{self.index}] at {self.address:#x} = {self.value:#x} "
                f"({A.permission_names(self.value & A.PERMISSION_BITS, mbec)})")
        if self.decision == "table":
            return f"{head}: references the {A.TABLE_NAMES[self.level - 1]} at {self.value & _FRAME:#x}"
        if self.decision == "page":
            size = A.PAGE_SIZE_NAMES[A.PAGE_SIZE_BY_LEVEL[self.level]]
            memtype = (self.value & A.MEMTYPE_MASK) >> A.MEMTYPE_SHIFT
            ipat = ", IPAT" if self.value & A.IPAT else ""
            return f"{head}: maps a {size} page, memory type {A.MEMTYPE_NAMES.get(memtype, memtype)}{ipat}"
        if self.decision == "not-present":
            return f"{head}: not present, the walk stops"
        return f"{head}: misconfigured ({self.note})"


@dataclass(slots=True)
class EptOutcome:
    """What an access to ``gpa`` does: a translation, an EPT violation or an EPT misconfiguration.

    ``level`` and ``entry_address`` name the last entry the walk read: the leaf for a translation or
    a permission violation, the not-present or misconfigured entry otherwise. ``qualification`` is
    exact except for the bits in ``qualification_unknown``, which the SDM leaves undefined or which
    depend on facts the question does not give; compare with ``q & ~qualification_unknown``.
    """

    result: ResultKind
    gpa: int
    access: str
    user: bool
    paging_structure: bool
    eptp: int
    #: The page-walk length (4 or 5).
    levels: int
    #: Whether mode-based execute control is on; None when the walk never needed to know.
    mbec: bool | None
    steps: list[WalkStep]
    level: int
    entry_address: int
    #: The rule that decided a violation or misconfiguration (None for a translation).
    rule: str | None = None
    #: The AND of the permission bits (0, 1, 2 and 10) of every entry read.
    permissions: int = 0
    hpa: int | None = None
    page_size: int | None = None
    #: The effective memory type (see the module docstring for the assumptions behind it).
    memtype: int | None = None
    ept_memtype: int | None = None
    ipat: bool | None = None
    #: Entry address -> new value, for each entry whose accessed or dirty flag the access sets.
    ad_updates: dict[int, int] = field(default_factory=dict)
    qualification: int | None = None
    qualification_unknown: int = 0
    #: Every misconfiguration condition the misconfigured entry meets, in the SDM's order; ``rule``
    #: is the first.
    misconfig_rules: tuple[str, ...] = ()
    #: For a permission violation: the levels whose entry lacks the permission the access needs.
    denied_at: tuple[int, ...] = ()
    #: What the answer took for granted (see the module docstring).
    assumptions: tuple[str, ...] = ()
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.result == "ok"

    def to_json(self) -> dict[str, object]:
        """The answer object of STATE_FORMAT.md for an ``ept`` question."""
        if self.result == "ok":
            assert self.hpa is not None and self.page_size is not None and self.memtype is not None
            return {"result": "ok", "hpa": f"{self.hpa:#x}", "page_size": self.page_size,
                    "memtype": self.memtype,
                    "ad_updates": {f"{a:#x}": f"{v:#x}" for a, v in self.ad_updates.items()}}
        if self.result == "ept_violation":
            assert self.qualification is not None
            return {"result": "ept_violation", "qualification": f"{self.qualification:#x}", "level": self.level}
        return {"result": "ept_misconfig", "entry": f"{self.entry_address:#x}", "level": self.level,
                "rule": self.rule}

    def message(self) -> str:
        """One sentence for a person: the outcome and the reason for it."""
        what = f"{self.access} of GPA {self.gpa:#x}"
        if self.paging_structure:
            what += " (a guest paging-structure access)"
        if self.result == "ok":
            assert self.hpa is not None and self.page_size is not None and self.memtype is not None
            size = A.PAGE_SIZE_NAMES[self.page_size]
            return (f"{what} translates to HPA {self.hpa:#x} through a {size} page mapped by the "
                    f"{A.LEVEL_NAMES[self.level]} at {self.entry_address:#x}; memory type "
                    f"{A.MEMTYPE_NAMES.get(self.memtype, str(self.memtype))}")
        kind = "EPT violation" if self.result == "ept_violation" else "EPT misconfiguration"
        return f"{what}: {kind} [{self.rule}]: {self.detail}"


# -- inputs the walk needs ----------------------------------------------------------------------------

def _require_inputs(state: State, eptp: int | None) -> tuple[int, int, int, str]:
    """(MAXPHYADDR, IA32_VMX_EPT_VPID_CAP, EPTP, where the EPTP came from); never assumed."""
    maxphyaddr = state.maxphyaddr
    if maxphyaddr is None:
        raise StateError("missing-capability", "an EPT walk needs MAXPHYADDR (the physical-address width): "
                         "it decides which entry bits are reserved", "caps.MAXPHYADDR")
    cap = state.caps.get("IA32_VMX_EPT_VPID_CAP")
    if cap is None:
        raise StateError("missing-capability", "an EPT walk needs IA32_VMX_EPT_VPID_CAP: it decides whether "
                         "execute-only entries and 2-MByte/1-GByte pages are allowed",
                         "caps.IA32_VMX_EPT_VPID_CAP")
    if eptp is not None:
        return maxphyaddr, cap, eptp, "query.eptp"
    value = state.vmcs.get("EPT_POINTER")
    if value is None:
        raise StateError("missing-field", "an EPT walk needs the EPT pointer: give vmcs.EPT_POINTER or "
                         "query.eptp", "vmcs.EPT_POINTER")
    return maxphyaddr, cap, value, "vmcs.EPT_POINTER"


def eptp_problems(eptp: int, cap: int, maxphyaddr: int) -> list[str]:
    """Why VM entry would reject ``eptp`` (SDM "VM-Execution Control Fields", the EPTP checks), with the
    VM-entry rule ids; empty when it is acceptable. The SDM defines no walk for a rejected EPTP."""
    problems = []
    memtype = A.EPTP["memtype"].get(eptp)
    allowed_mt = A.EPTP_MEMTYPE_CAPS.get(memtype)
    if allowed_mt is None or not allowed_mt.get(cap):
        problems.append(f"memory type {memtype} in bits 2:0 is not one IA32_VMX_EPT_VPID_CAP allows "
                        "(CTL-EPTP-MT)")
    pwl = A.EPTP["pwl_minus_1"].get(eptp)
    allowed_pwl = A.EPTP_PWL_CAPS.get(pwl)
    if allowed_pwl is None or not allowed_pwl.get(cap):
        problems.append(f"bits 5:3 = {pwl} ask for a {pwl + 1}-level walk, which IA32_VMX_EPT_VPID_CAP does "
                        "not allow (CTL-EPTP-PWL)")
    if eptp & A.EPTP_AD and not cap & _CAP_AD:
        problems.append("bit 6 enables accessed and dirty flags but IA32_VMX_EPT_VPID_CAP[21] = 0 (CTL-EPTP-AD)")
    reserved = _EPTP_RESERVED_11_8 | (0 if cap & _CAP_SSS else _EPTP_SSS)
    if eptp & reserved:
        problems.append(f"reserved bits are set: {eptp & reserved:#x} (CTL-EPTP-RSVD)")
    if eptp >> maxphyaddr:
        problems.append(f"bits at or above MAXPHYADDR ({maxphyaddr}) are set (CTL-EPTP-MAXPHY)")
    return problems


def _mbec_if_known(state: State) -> bool | None:
    """Mode-based execute control, if the state says; the SDM reads the secondary controls only
    when "activate secondary controls" is 1."""
    proc = state.vmcs.get("CPU_BASED_VM_EXEC_CONTROL")
    if proc is None:
        return None
    if not proc & _ACTIVATE_SECONDARY:
        return False
    proc2 = state.vmcs.get("SECONDARY_VM_EXEC_CONTROL")
    if proc2 is None:
        return None
    return bool(proc2 & _MBEC)


def _require_mbec(state: State, why: str) -> bool:
    known = _mbec_if_known(state)
    if known is not None:
        return known
    name = ("CPU_BASED_VM_EXEC_CONTROL" if "CPU_BASED_VM_EXEC_CONTROL" not in state.vmcs
            else "SECONDARY_VM_EXEC_CONTROL")
    raise StateError("missing-field", f"{why}, so the walk needs to know whether mode-based execute control is "
                     f"on: give vmcs.{name}", f"vmcs.{name}")


# -- one entry ------------------------------------------------------------------------------------------

def _misconfigurations(level: int, value: int, cap: int, maxphyaddr: int) -> list[tuple[str, str]]:
    """The misconfiguration conditions a *present* entry meets, in the SDM's order, with the reason
    for each ("EPT Misconfigurations"). Usually empty."""
    found: list[tuple[str, str]] = []
    rwx = value & A.RWX
    if rwx & (A.R | A.W) == A.W:
        found.append((rules.MISCONFIG_W_NO_R, f"bits 2:0 = {rwx:03b}b: write without read"))
    elif not rwx & (A.R | A.W) and not cap & _CAP_XONLY:
        # Present with R = W = 0: X set, or (with MBEC) XU set.
        which = "execute-only" if rwx else "user-execute-only (bit 10 alone)"
        found.append((rules.MISCONFIG_XONLY, f"{which} entry but IA32_VMX_EPT_VPID_CAP[0] = 0"))
    phys = value & A.physical_reserved(maxphyaddr)
    if phys:
        found.append((rules.MISCONFIG_RSVD_PHYS,
                      f"bits {phys:#x} are set, beyond MAXPHYADDR ({maxphyaddr}) and below bit 52"))
    if level >= 4:
        if value & A.PAGE_SIZE_BIT:
            found.append((rules.MISCONFIG_PS_PML4E, f"bit 7 (page size) is set in a {A.LEVEL_NAMES[level]}"))
        if value & A.RESERVED_NONLEAF:
            found.append((rules.MISCONFIG_RSVD_NONLEAF, f"reserved bits 6:3 = {(value >> 3) & 0xF:04b}b"))
        return found
    if level == 1 or value & A.PAGE_SIZE_BIT:
        if level > 1 and not A.PAGE_SIZE_CAPS[level].get(cap):
            rule = rules.MISCONFIG_PS_1G if level == 3 else rules.MISCONFIG_PS_2M
            found.append((rule, f"bit 7 maps a {A.PAGE_SIZE_NAMES[A.PAGE_SIZE_BY_LEVEL[level]]} page but "
                                f"IA32_VMX_EPT_VPID_CAP[{A.PAGE_SIZE_CAPS[level].lsb}] = 0"))
            return found
        if level > 1 and value & A.RESERVED_ALIGN[level]:
            rule = rules.MISCONFIG_ALIGN_1G if level == 3 else rules.MISCONFIG_ALIGN_2M
            top = 29 if level == 3 else 20
            found.append((rule, f"bits {top}:12 of the page frame are not 0 ({value & A.RESERVED_ALIGN[level]:#x})"))
        memtype = (value & A.MEMTYPE_MASK) >> A.MEMTYPE_SHIFT
        if memtype in A.EPT_RESERVED_MEMTYPES:
            found.append((rules.MISCONFIG_MEMTYPE, f"memory type {memtype} in bits 5:3 is reserved"))
        return found
    if value & A.RESERVED_NONLEAF:
        found.append((rules.MISCONFIG_RSVD_NONLEAF, f"reserved bits 6:3 = {(value >> 3) & 0xF:04b}b in an entry "
                                                     "that references a table"))
    return found


# -- the walk -----------------------------------------------------------------------------------------

def translate_gpa(state: State, gpa: int, access: str, user: bool = False, paging_structure: bool = False,
                  eptp: int | None = None) -> EptOutcome:
    """Translate one guest-physical access through EPT, as the SDM's walk does.

    ``access`` is ``read``, ``write`` or ``fetch``; ``user`` says the linear address is a user-mode
    one (guest U/S = 1; it selects XU over X under mode-based execute control); ``paging_structure``
    says the access is the CPU's own access to a guest paging-structure entry. ``eptp`` overrides
    ``vmcs.EPT_POINTER``. Raises StateError for missing or impossible inputs, never otherwise.
    """
    if access not in A.ACCESSES:
        raise StateError("bad-query", f"access must be read, write or fetch, got {access!r}", "query.access")
    if paging_structure and access == "fetch":
        raise StateError("bad-query", "the CPU reads and writes guest paging structures; it never fetches "
                         "instructions from them: a paging-structure access is a read or a write",
                         "query.paging_structure")
    maxphyaddr, cap, eptp, eptp_path = _require_inputs(state, eptp)
    problems = eptp_problems(eptp, cap, maxphyaddr)
    if problems:
        raise StateError("bad-query", f"EPT pointer {eptp:#x} would fail VM entry, so no EPT walk uses it: "
                         f"{'; '.join(problems)}", eptp_path)
    levels = A.EPTP["pwl_minus_1"].get(eptp) + 1
    width = min(maxphyaddr, A.gpa_width(levels))
    if not 0 <= gpa < 1 << width:
        raise StateError("bad-query", f"GPA {gpa:#x} does not fit in {width} bits: no processor with "
                         f"MAXPHYADDR {maxphyaddr} and a {levels}-level EPT walk produces it", "query.gpa")

    memory = state.memory
    addr_mask = A.address_mask(maxphyaddr)
    mbec = _mbec_if_known(state)
    ad_enabled = bool(eptp & A.EPTP_AD)
    steps: list[WalkStep] = []
    perms = A.PERMISSION_BITS
    table = eptp & addr_mask
    level = levels
    while True:
        index = (gpa >> A.index_shift(level)) & 0x1FF
        address = table + 8 * index
        value = memory.get(address, 0)
        rwx = value & A.RWX
        if value & A.XU and not rwx and mbec is None:
            mbec = _require_mbec(state, f"the {A.LEVEL_NAMES[level]} at {address:#x} has only bit 10 (XU) set")
        perms &= value
        present = bool(rwx) or bool(mbec and value & A.XU)
        if not present:
            steps.append(WalkStep(level, table, index, address, value, "not-present", perms))
            return _violation(state, gpa, access, user, paging_structure, eptp, levels, mbec, cap, steps,
                              rules.VIOLATION_NOT_PRESENT, perms, (),
                              f"the {A.LEVEL_NAMES[level]} at {address:#x} is not present")
        found = _misconfigurations(level, value, cap, maxphyaddr)
        if found:
            note = "; ".join(why for _, why in found)
            steps.append(WalkStep(level, table, index, address, value, "misconfig", perms, note))
            return EptOutcome("ept_misconfig", gpa, access, user, paging_structure, eptp, levels, mbec, steps,
                              level, address, found[0][0], perms,
                              misconfig_rules=tuple(rule for rule, _ in found),
                              detail=f"the {A.LEVEL_NAMES[level]} at {address:#x} = {value:#x}: {note}")
        if level == 1 or (level <= 3 and value & A.PAGE_SIZE_BIT):
            steps.append(WalkStep(level, table, index, address, value, "page", perms))
            break
        steps.append(WalkStep(level, table, index, address, value, "table", perms))
        table = value & addr_mask
        level -= 1

    # The leaf is reached: compare the access with the permissions ANDed over the walk.
    if access == "fetch":
        if user and mbec is None:
            mbec = _require_mbec(state, "the access is an instruction fetch from a user-mode linear address")
        needed = A.XU if (user and mbec) else A.X
        rule = rules.VIOLATION_FETCH_USER if needed == A.XU else rules.VIOLATION_FETCH
    elif access == "write" or (paging_structure and ad_enabled):
        needed = A.W
        rule = rules.VIOLATION_WRITE if access == "write" else rules.VIOLATION_AD_PAGING
    else:
        needed = A.R
        rule = rules.VIOLATION_READ
    if not perms & needed:
        denied = tuple(s.level for s in steps if not s.value & needed)
        names = ", ".join(f"{A.LEVEL_NAMES[s.level]} at {s.address:#x}" for s in steps if not s.value & needed)
        bit = {A.R: "R (bit 0)", A.W: "W (bit 1)", A.X: "X (bit 2)", A.XU: "XU (bit 10)"}[needed]
        why = "the access needs " + bit
        if rule == rules.VIOLATION_AD_PAGING:
            why = "EPT A/D flags are on, so the guest paging-structure access is a write and needs W (bit 1)"
        return _violation(state, gpa, access, user, paging_structure, eptp, levels, mbec, cap, steps, rule,
                          perms, denied, f"{why}, which the {names} does not grant")

    leaf = steps[-1]
    page_size = A.PAGE_SIZE_BY_LEVEL[leaf.level]
    hpa = (leaf.value & addr_mask & ~(page_size - 1)) | (gpa & (page_size - 1))
    ept_memtype = (leaf.value & A.MEMTYPE_MASK) >> A.MEMTYPE_SHIFT
    ipat = bool(leaf.value & A.IPAT)
    cr0 = state.cpu.cr0
    assumptions: list[str] = []
    if cr0 is None:
        assumptions.append("CR0.CD = 0 (the state gives no cpu.cr0)")
    if not ipat:
        assumptions.append("guest PAT memory type WB (the question gives no guest PAT)")
    memtype = A.effective_memtype(ept_memtype, ipat, A.MemType.WB, bool(cr0 is not None and cr0 & _CR0_CD))

    # SDM "Accessed and Dirty Flags for EPT": A in every entry used; D in the leaf for a write. With
    # A/D on, the CPU's accesses to guest paging structures count as writes.
    ad_updates: dict[int, int] = {}
    if ad_enabled:
        dirty = access == "write" or paging_structure
        for step in steps:
            old = ad_updates.get(step.address, step.value)
            new = old | A.ACCESSED | (A.DIRTY if dirty and step is leaf else 0)
            if new != step.value:
                ad_updates[step.address] = new
    return EptOutcome("ok", gpa, access, user, paging_structure, eptp, levels, mbec, steps, leaf.level,
                      leaf.address, None, perms, hpa, page_size, memtype, ept_memtype, ipat, ad_updates,
                      assumptions=tuple(assumptions))


def _violation(state: State, gpa: int, access: str, user: bool, paging_structure: bool, eptp: int, levels: int,
               mbec: bool | None, cap: int, steps: list[WalkStep], rule: str, perms: int,
               denied: tuple[int, ...], detail: str) -> EptOutcome:
    """Build the violation outcome with its exit qualification (SDM table "Exit Qualification for EPT
    Violations")."""
    ad_enabled = bool(eptp & A.EPTP_AD)
    unknown = A.Q_NMI_UNBLOCKING
    q = A.ACCESSES[access]
    if paging_structure:
        if ad_enabled:
            # Treated as a write; the SDM sets both bit 0 and bit 1 (KVM, kvm-unit-tests agree).
            q |= A.Q_READ | A.Q_WRITE
        elif access == "write":
            # A guest A/D update is a read-modify-write: bit 1, and bit 0 implementation-specific.
            q |= A.Q_READ
            unknown |= A.Q_READ
    q |= (perms & A.RWX) << A.Q_PERMISSION_SHIFT
    if mbec is None and perms & A.XU:
        mbec = _require_mbec(state, "every entry of the violating walk has bit 10 set (qualification bit 6)")
    if mbec:
        if perms & A.XU:
            q |= A.Q_USER_EXECUTABLE
    else:
        unknown |= A.Q_USER_EXECUTABLE
    q |= A.Q_GLA_VALID
    if not paging_structure:
        q |= A.Q_GLA_TRANSLATION
    if cap & _CAP_ADVANCED and not paging_structure:
        if user:
            q |= A.Q_USER_LINEAR
        unknown |= A.Q_WRITABLE_LINEAR | A.Q_NX_LINEAR
    else:
        unknown |= A.Q_ADVANCED
    last = steps[-1]
    return EptOutcome("ept_violation", gpa, access, user, paging_structure, eptp, levels, mbec, steps, last.level,
                      last.address, rule, perms, qualification=q, qualification_unknown=unknown,
                      denied_at=denied, assumptions=("the access comes from a linear address (bit 7 = 1)",),
                      detail=detail)
