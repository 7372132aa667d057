"""Symbolic encoding of the VM-entry MSR-load checks (SDM "Loading MSRs").

The area holds ``VM_ENTRY_MSR_LOAD_COUNT`` 16-byte entries at ``VM_ENTRY_MSR_LOAD_ADDR``; both
fields may be open, memory is concrete. A rule is violated when *some* entry that VM entry
processes violates it; the entries processed are the first min(count, 512 * (N + 1)) (the
catalogue caps reads at the recommended maximum, N = IA32_VMX_MISC[27:25]). Which entry fails first
(the exit qualification) is not encoded.

How a symbolic count and address stay cheap: an entry made only of zero bytes (MSR 0, data 0)
never fails any rule (MSR 0 is not in vmxspec's table, so nothing is known to refuse it). So only
entries that overlap a non-zero memory word can fail, and those entries start at one of a small,
concrete set of addresses (within 15 bytes below to 7 bytes above each non-zero word). Each such
candidate entry is read and judged in Python; what reaches Z3 is only "this candidate is one of the
entries processed" (its offset from the area's address is a multiple of 16 below 16 times the
effective count, see ``Area``) for the candidates that violate the rule, merged into runs of
consecutive entries (``entry_runs``). No SMT array, no per-index unrolling up to the 4096-entry cap.

The count bounds the candidates too: when it folds to a constant, at most that many entries are
processed, so with a concrete address no candidate past it is read, and with 0 there is no
candidate at all, wherever the area is. That is the nested merge whose vmcs02 takes vmcs01's count
0 and vmcs01's unset (so symbolic) address: judging every start near every non-zero word of L1's
memory gave some 20,000 candidates, one term each for Z3 to refute (before runs), and entry_safe
ran out of its limits for an answer that is "no entry is processed".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import z3

from vmxspec.arch import msrs
from vmxspec.arch.capabilities import MISC
from vmxspec.arch.controls import ControlField
from vmxspec.arch.registers import CR0_PG, EFER_LME, PAT_VALID_TYPES, S_CET_SUPPRESS, S_CET_TRACKER
from vmxspec.symbolic.state import BV
from vmxspec.symbolic.vmentry.common import FALSE, Bool, Enc, any_set, or_all

_MASK64 = (1 << 64) - 1
_ENTRY = msrs.MSR_ENTRY_SIZE

RULE_IDS = ("MSRLOAD-RSVD", "MSRLOAD-FS-GS-BASE", "MSRLOAD-X2APIC", "MSRLOAD-SMM-ONLY", "MSRLOAD-MODEL-SPECIFIC",
            "MSRLOAD-WRMSR-GP", "MSRLOAD-EFER-LME")


@dataclass(frozen=True, slots=True)
class Entry:
    """One 16-byte MSR-load entry read from concrete memory at ``start``."""

    start: int
    index: int
    reserved: int
    data: int


def max_entries(e: Enc) -> int:
    """The recommended maximum 512 * (N + 1): VM entry reads no entry beyond it."""
    return msrs.MSR_LIST_UNIT * (MISC["msr_list_size"].get(e.cap("IA32_VMX_MISC")) + 1)


def _read_entry(e: Enc, start: int) -> Entry:
    low = e.sym.concrete_u64(start)
    return Entry(start, low & msrs.MSR_ENTRY_INDEX, low >> 32, e.sym.concrete_u64(start + 8))


def _count_bound(count: BV, limit: int) -> int:
    """The most entries VM entry can process: ``min(count, limit)`` when the count folds to a
    constant, else ``limit`` (the recommended maximum, beyond which nothing is read)."""
    folded = z3.simplify(count)
    return min(folded.as_long(), limit) if z3.is_bv_value(folded) else limit


def _candidate_starts(e: Enc, at: int | None, bound: int) -> Iterator[int]:
    """Start addresses of every entry that may hold a non-zero byte and be one of the first
    ``bound`` entries of the area at ``at`` (None: an address that may be anywhere), in ascending
    order; none when ``bound`` is 0."""
    if bound <= 0:
        return iter(())
    starts: set[int] = set()
    for word, _value in e.sym.nonzero_words:
        lo, hi = max(word - (_ENTRY - 1), 0), min(word + 7, _MASK64)
        if at is not None:
            first = max(0, -(-(lo - at) // _ENTRY))
            last = min(bound - 1, (hi - at) // _ENTRY)
            starts.update(at + _ENTRY * i for i in range(first, last + 1))
        else:
            starts.update(range(lo, hi + 1))
    return iter(sorted(starts))


@dataclass(frozen=True, slots=True)
class Area:
    """The processed part of the MSR-load area, as terms shared by every candidate entry.

    With the area at ``a = 16 * q + r`` (r = a[3:0]), the entry starting at ``s = 16 * Q + R`` is
    entry number ``Q - q`` exactly when ``R = r`` and ``q <= Q``; it is processed when that number is
    below the effective count, i.e. ``Q < q + count``. Written so, each candidate costs Z3 only
    comparisons of shared terms with constants, no per-candidate subtraction.
    """

    low: BV    # a[3:0]
    first: BV  # q = a[63:4], widened by one bit
    end: BV    # q + effective count, in the same width (no wrap)

    @classmethod
    def of(cls, address: BV, count: BV) -> Area:
        first = z3.ZeroExt(1, z3.Extract(63, 4, address))
        return cls(z3.Extract(3, 0, address), first, first + z3.ZeroExt(61 - 32, count))

    def processed(self, start: int) -> Bool:
        """The entry at ``start`` is one of the entries VM entry processes."""
        return self.processed_run(start & 0xF, start >> 4, start >> 4)

    def processed_run(self, low: int, a: int, b: int) -> Bool:
        """One of the entries at ``16 * Q + low``, ``a <= Q <= b``, is processed: the processed
        numbers ``[q, end)`` meet ``[a, b]``, i.e. ``q <= b``, ``a < end`` and ``q < end``
        (the last is implied when ``a == b``)."""
        out = [self.low == low, z3.ULE(self.first, z3.BitVecVal(b, 61)), z3.ULT(z3.BitVecVal(a, 61), self.end)]
        if a != b:
            out.append(z3.ULT(self.first, self.end))
        return z3.And(*out)


def entry_runs(starts: Iterable[int]) -> Iterator[tuple[int, int, int]]:
    """``starts`` as runs ``(low, a, b)``: every ``16 * Q + low`` with ``a <= Q <= b`` is in
    ``starts``. Entries that fail a rule come in long runs (every misaligned start in a page of
    non-zero words fails MSRLOAD-RSVD, say): tens of thousands of candidates make a few dozen runs,
    and Z3 gets one term per run instead of one per candidate."""
    by_low: dict[int, list[int]] = {}
    for start in sorted(set(starts)):
        by_low.setdefault(start & 0xF, []).append(start >> 4)
    for low, numbers in sorted(by_low.items()):
        a = previous = numbers[0]
        for q in numbers[1:]:
            if q != previous + 1:
                yield low, a, previous
                a = q
            previous = q
        yield low, a, previous


def _canonical(value: int, width: int) -> bool:
    top = value >> (width - 1)
    return top in (0, _MASK64 >> (width - 1))


def _wrmsr_faults(entry: Entry, msr: msrs.Msr, linear_width: int) -> bool:
    """WRMSR at CPL 0 of ``entry.data`` to ``msr`` raises #GP (the facts in ``arch/msrs.py``)."""
    data = entry.data
    if msr.read_only or data & msr.reserved:
        return True
    if msr.canonical and not _canonical(data, linear_width):
        return True
    if msr.pat_types and any((data >> (8 * i)) & 0xFF not in PAT_VALID_TYPES for i in range(8)):
        return True
    both = S_CET_SUPPRESS | S_CET_TRACKER
    return msr.cet_control and data & both == both


def _judge(e: Enc, entry: Entry, guest_lme: Bool, guest_paging: Bool) -> dict[str, Bool | bool]:
    """Which rules this one (concrete) entry violates; only the EFER rule depends on open fields."""
    msr = msrs.BY_NUMBER.get(entry.index)
    efer_lme: Bool | bool = False
    if entry.index == msrs.IA32_EFER:
        efer_lme = z3.And(guest_paging, z3.Xor(z3.BoolVal(bool(entry.data & EFER_LME)), guest_lme))
    return {
        "MSRLOAD-RSVD": entry.reserved != 0,
        "MSRLOAD-FS-GS-BASE": entry.index in (msrs.IA32_FS_BASE, msrs.IA32_GS_BASE),
        "MSRLOAD-X2APIC": msrs.X2APIC_MSR_FIRST <= entry.index <= msrs.X2APIC_MSR_LAST,
        "MSRLOAD-SMM-ONLY": msr is not None and msr.smm_only and not e.sym.in_smm,
        "MSRLOAD-MODEL-SPECIFIC": msr is not None and msr.vmentry_may_refuse,
        "MSRLOAD-WRMSR-GP": msr is not None and _wrmsr_faults(entry, msr, e.sym.linear_width),
        "MSRLOAD-EFER-LME": efer_lme,
    }


def encode(e: Enc) -> dict[str, Bool]:
    count = e.f("VM_ENTRY_MSR_LOAD_COUNT")
    area = e.f("VM_ENTRY_MSR_LOAD_ADDR")
    limit = max_entries(e)
    over = z3.UGT(count, limit)
    effective = z3.If(over, z3.BitVecVal(limit, 32), count)
    # The LME the guest will have before any entry is loaded: the IA32_EFER field with "load
    # IA32_EFER", else the "IA-32e mode guest" control (VM entry sets EFER.LME from it).
    guest_lme = z3.If(e.on(ControlField.ENTRY, "load_ia32_efer"), any_set(e.f("GUEST_IA32_EFER"), EFER_LME),
                      e.on(ControlField.ENTRY, "ia32e_mode_guest"))
    guest_paging = any_set(e.f("GUEST_CR0"), CR0_PG)

    bound = _count_bound(count, limit)
    hits: dict[str, list[Bool]] = {rule: [] for rule in RULE_IDS}
    folded = z3.simplify(area)
    at: int | None = folded.as_long() if z3.is_bv_value(folded) else None
    if bound > 0 and at is None:
        # Explain mode (SymState "anchored fields"): an area address that is concrete at the
        # anchored values reads the entries there; anywhere else, with a non-zero count, any rule
        # may fail.
        at = e.sym.anchored_value(area)
        if at is not None:
            elsewhere = z3.And(area != z3.BitVecVal(at, area.size()), effective != 0)
            for rule in RULE_IDS:
                hits[rule].append(z3.And(elsewhere, z3.FreshBool(f"{e.sym.prefix}elsewhere!{rule}")))
    processed_area = Area.of(area, effective)
    failing: dict[str, list[int]] = {rule: [] for rule in RULE_IDS}  # entries that fail the rule outright
    for start in _candidate_starts(e, at, bound):
        verdicts = _judge(e, _read_entry(e, start), guest_lme, guest_paging)
        for rule, verdict in verdicts.items():
            if verdict is True:
                failing[rule].append(start)
            elif verdict is not False:
                hits[rule].append(z3.And(processed_area.processed(start), verdict))
    for rule, starts in failing.items():
        hits[rule].extend(processed_area.processed_run(low, a, b) for low, a, b in entry_runs(starts))

    v: dict[str, Bool] = {rule: or_all(terms) if terms else FALSE for rule, terms in hits.items()}
    v["MSRLOAD-COUNT-MAX"] = over
    return v
