"""VT-d DMA translation: every rule, passing and failing, on tables written out by hand.

The tables below are laid out word by word (not with the builder) and every expected address, domain
and fault reason was worked out by hand from the VT-d specification's entry formats and its
fault-condition table, so that these tests check the interpreter against the specification and not
against itself.

Legacy baseline (HAW 46, CAP: SAGAW = 39/48-bit, MGAW 48, SLLPS 2M|1G; ECAP: PT):
  RTADDR 0x10000 -> root entry for bus 3 at 0x10030 -> context table 0x20000
  context entry 03:00.0 at 0x20000: SLPTPTR 0x30000, TT 00b, AW 2 (4-level), domain 5
  IOVA 0x12345678: PML4 index 0, PDPT index 0, PD index 0x91, PT index 0x145
  PML4E 0x30000 -> 0x31000, PDPE 0x31000 -> 0x32000, PDE 0x32488 -> 0x33000, PTE 0x33A28 -> 0xABCDE000
  so the read translates to 0xABCDE678.

Scalable baseline: the same second-level tables; RTADDR 0x10400 (TTM 01b); root entry lower half
-> 0x20000, upper half -> 0x21000; context entry 03:00.0: PASID directory 0x40000 (PDTS 0), PASIDE
= 1, RID_PASID 0; directory entry 0 at 0x40000 -> PASID table 0x41000; PASID 0 (0x41000):
second-level, AW 2, SLPTPTR 0x30000, domain 7; PASID 5 (0x41140): first-level, FLPTPTR 0x50000,
domain 9; PASID 6 (0x41180): nested, FLPTPTR GPA 0x1000, SLPTPTR 0x60000, domain 11.
First-level tables: PML4E 0x50000 -> 0x51000 -> PDE 0x52488 -> 0x53000 -> PTE 0x53A28 -> 0xABCDE000
(P, R/W, U/S). Nested second level: 0x60000 -> 0x61000, whose entry 0 is a 1-GiB page GPA 0 ->
HPA 0x40000000; the first-level tables live at GPA 0x1000-0x4FFF (HPA 0x40001000-0x40004FFF).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from vmxspec.arch.rules import Stage, rules_for
from vmxspec.arch.rules.vtd import FAULT_OF, RULES
from vmxspec.interp.vtd import DmaOutcome, parse_device, parse_source_id, select_unit, translate_dma
from vmxspec.state import IommuUnit, State, StateError, load_state

IOVA = 0x1234_5678
SID = 0x0300  # 03:00.0

CAP = 0x0000_000C_002F_0600       # SAGAW bits 1, 2; MGAW field 47; SLLPS bits 34, 35
CAP_NO_SLLPS = 0x0000_0000_002F_0600
CAP_2M = 0x0000_0004_002F_0600
CAP_MGAW39 = 0x0000_000C_0026_0600
CAP_FL5LP = CAP | 1 << 60
CAP_FL1GP = CAP | 1 << 56
ECAP = 0x40                        # PT
ECAP_SM = 0x0000_C900_0000_0040    # PT, PASID (40), SMTS (43), SLTS (46), FLTS (47)
HAW = 46


@dataclass
class Env:
    mem: dict[int, int] = field(default_factory=dict)
    cap: int = CAP
    ecap: int = ECAP
    rtaddr: int = 0x10000
    haw: int = HAW
    scope: tuple[str, ...] = ()

    def state(self) -> State:
        return State(memory=dict(self.mem), iommus=[IommuUnit(self.cap, self.ecap, self.rtaddr, self.haw, 0,
                                                              self.scope)])


def _second_level(mem: dict[int, int]) -> None:
    mem[0x30000] = 0x31003
    mem[0x31000] = 0x32003
    mem[0x32488] = 0x33003
    mem[0x33A28] = 0xABCDE003


def legacy() -> Env:
    env = Env()
    env.mem[0x10030] = 0x20001
    env.mem[0x20000] = 0x30001
    env.mem[0x20008] = 0x502
    _second_level(env.mem)
    return env


def scalable() -> Env:
    env = Env(ecap=ECAP_SM, rtaddr=0x10400)
    m = env.mem
    m[0x10030] = 0x20001
    m[0x10038] = 0x21001
    m[0x20000] = 0x40009          # PASID directory 0x40000, PDTS 0, PASIDE, P
    m[0x40000] = 0x41001
    m[0x41000] = 0x30089          # SLPTPTR 0x30000, PGTT 010b, AW 2, P
    m[0x41008] = 7
    m[0x41140] = 0x41             # PGTT 001b, P
    m[0x41148] = 9
    m[0x41150] = 0x50000          # FLPTPTR, FLPM 0
    m[0x41180] = 0x600C9          # SLPTPTR 0x60000, PGTT 011b, AW 2, P
    m[0x41188] = 11
    m[0x41190] = 0x1000           # FLPTPTR (guest-physical)
    _second_level(m)
    m[0x50000] = 0x51007
    m[0x51000] = 0x52007
    m[0x52488] = 0x53007
    m[0x53A28] = 0xABCDE007
    m[0x60000] = 0x61003
    m[0x61000] = 0x4000_0083      # 1-GiB page: GPA 0 -> HPA 0x40000000
    m[0x4000_1000] = 0x2007       # first-level tables at GPA 0x1000.. (HPA 0x40001000..)
    m[0x4000_2000] = 0x3007
    m[0x4000_3488] = 0x4007
    m[0x4000_4A28] = 0xABC007     # output GPA 0xABC000
    return env


NEST = 1 << 26
ECAP_NESTED = ECAP_SM | NEST


def run(env: Env, sid: int = SID, iova: int = IOVA, access: str = "read", pasid: int | None = None,
        at: str = "untranslated", privileged: bool = False) -> DmaOutcome:
    return translate_dma(env.state(), sid, iova, access, pasid, at, privileged=privileged)


# -- the cases ---------------------------------------------------------------------------------------

Setup = Callable[[], Env]
Ok = tuple[str, int, int | None]  # ("ok", hpa, domain)


@dataclass(frozen=True)
class Case:
    rule: str
    fails: bool          # True: the rule decides the outcome; False: its condition holds
    name: str
    setup: Setup
    query: dict[str, object]
    expect: tuple[object, ...]


def _set(base: Setup, **words: int) -> Setup:
    def make() -> Env:
        env = base()
        for key, value in words.items():
            if key in ("cap", "ecap", "rtaddr", "haw"):
                setattr(env, key, value)
            else:
                env.mem[int(key[1:], 16)] = value
        return env
    return make


def _env(base: Setup, **attrs: object) -> Setup:
    def make() -> Env:
        env = base()
        for key, value in attrs.items():
            setattr(env, key, value)
        return env
    return make


def ok(hpa: int, did: int | None) -> tuple[object, ...]:
    return ("ok", hpa, did)


def fault(code: int, rule: str) -> tuple[object, ...]:
    return ("fault", code, rule)


L, S = legacy, scalable
HPA = 0xABCDE678
GOOD_L, GOOD_S = ok(HPA, 5), ok(HPA, 7)

CASES: list[Case] = [
    # unit selection and the interrupt window
    Case("DMA-UNIT-SELECT", False, "scope lists the device", _env(L, scope=("03:00.0",)), {}, GOOD_L),
    Case("DMA-UNIT-SELECT", False, "bus scope", _env(L, scope=("0000:03:*",)), {}, GOOD_L),
    Case("DMA-UNIT-SELECT", True, "no unit covers the device", _env(L, scope=("04:00.0", "04-05:*", "03:00.1")), {},
         ("ok", IOVA, None)),
    Case("DMA-INTR-WINDOW", True, "0xFEE00000 without PASID", L, {"iova": 0xFEE0_0000, "access": "write"},
         ("interrupt", "DMA-INTR-WINDOW")),
    Case("DMA-INTR-WINDOW", True, "0xFEEFFFFF read", L, {"iova": 0xFEEF_FFFF}, ("interrupt", "DMA-INTR-WINDOW")),
    Case("DMA-INTR-WINDOW", False, "0xFEDFFFFF is DMA", L, {"iova": 0xFEDF_FFFF}, fault(0x6, "DMA-SL-READ")),
    Case("DMA-INTR-WINDOW", False, "0xFEF00000 is DMA", L, {"iova": 0xFEF0_0000}, fault(0x6, "DMA-SL-READ")),
    # RTADDR_REG
    Case("DMA-RTADDR-TTM", True, "TTM 11b", _set(L, rtaddr=0x10C00), {}, fault(0x30, "DMA-RTADDR-TTM")),
    Case("DMA-RTADDR-TTM", True, "TTM 01b without SMTS", _set(L, rtaddr=0x10400), {}, fault(0x30, "DMA-RTADDR-TTM")),
    Case("DMA-RTADDR-TTM", True, "TTM 10b without ADMS", _set(L, rtaddr=0x10800), {}, fault(0x30, "DMA-RTADDR-TTM")),
    Case("DMA-RTADDR-TTM", False, "TTM 00b, bits 9:0 ignored", _set(L, rtaddr=0x103FF), {}, GOOD_L),
    Case("DMA-ABORT-MODE", True, "TTM 10b with ADMS", _set(L, rtaddr=0x10800, ecap=ECAP | 1 << 52), {},
         ("blocked", "DMA-ABORT-MODE")),
    Case("DMA-ABORT-MODE", False, "ADMS alone does nothing", _set(L, ecap=ECAP | 1 << 52), {}, GOOD_L),
    Case("DMA-PASID-LEGACY", True, "PASID in legacy mode", L, {"pasid": 1}, fault(0x31, "DMA-PASID-LEGACY")),
    Case("DMA-PASID-LEGACY", False, "no PASID", L, {}, GOOD_L),
    # legacy root entry
    Case("DMA-ROOT-ACCESS", True, "RTA bit 46", _set(L, rtaddr=1 << 46 | 0x10000), {},
         fault(0x8, "DMA-ROOT-ACCESS")),
    Case("DMA-ROOT-ACCESS", False, "RTA below HAW", L, {}, GOOD_L),
    Case("DMA-ROOT-NOT-PRESENT", True, "P = 0", _set(L, m10030=0x20000), {}, fault(0x1, "DMA-ROOT-NOT-PRESENT")),
    Case("DMA-ROOT-NOT-PRESENT", True, "P = 0 before reserved", _set(L, m10030=0x20002, m10038=1), {},
         fault(0x1, "DMA-ROOT-NOT-PRESENT")),
    Case("DMA-ROOT-NOT-PRESENT", True, "other bus absent", L, {"sid": 0x0400}, fault(0x1, "DMA-ROOT-NOT-PRESENT")),
    Case("DMA-ROOT-NOT-PRESENT", False, "present", L, {}, GOOD_L),
    Case("DMA-ROOT-RSVD", True, "bit 1", _set(L, m10030=0x20003), {}, fault(0xA, "DMA-ROOT-RSVD")),
    Case("DMA-ROOT-RSVD", True, "bit 11", _set(L, m10030=0x20801), {}, fault(0xA, "DMA-ROOT-RSVD")),
    Case("DMA-ROOT-RSVD", True, "high qword", _set(L, m10038=1 << 63), {}, fault(0xA, "DMA-ROOT-RSVD")),
    Case("DMA-ROOT-RSVD", True, "CTP bit 46", _set(L, m10030=1 << 46 | 0x20001), {}, fault(0xA, "DMA-ROOT-RSVD")),
    Case("DMA-ROOT-RSVD", False, "CTP bit 45 is an address", _set(L, m10030=1 << 45 | 0x20001), {},
         fault(0x2, "DMA-CTX-NOT-PRESENT")),
    # legacy context entry
    Case("DMA-CTX-NOT-PRESENT", True, "P = 0", _set(L, m20000=0x30000), {}, fault(0x2, "DMA-CTX-NOT-PRESENT")),
    Case("DMA-CTX-NOT-PRESENT", True, "other function", L, {"sid": 0x0301}, fault(0x2, "DMA-CTX-NOT-PRESENT")),
    Case("DMA-CTX-NOT-PRESENT", False, "present", L, {}, GOOD_L),
    Case("DMA-CTX-RSVD", True, "bit 4", _set(L, m20000=0x30011), {}, fault(0xB, "DMA-CTX-RSVD")),
    Case("DMA-CTX-RSVD", True, "bit 71", _set(L, m20008=0x582), {}, fault(0xB, "DMA-CTX-RSVD")),
    Case("DMA-CTX-RSVD", True, "bit 88", _set(L, m20008=1 << 24 | 0x502), {}, fault(0xB, "DMA-CTX-RSVD")),
    Case("DMA-CTX-RSVD", True, "SLPTPTR bit 46", _set(L, m20000=1 << 46 | 0x30001), {},
         fault(0xB, "DMA-CTX-RSVD")),
    Case("DMA-CTX-RSVD", False, "AVAIL bits 70:67 ignored", _set(L, m20008=0x57A), {}, GOOD_L),
    Case("DMA-CTX-RSVD", False, "SLPTPTR ignored with TT 10b", _set(L, m20000=1 << 46 | 0x30009), {},
         ok(IOVA, 5)),
    Case("DMA-CTX-TT", True, "TT 11b", _set(L, m20000=0x3000D), {}, fault(0x3, "DMA-CTX-TT")),
    Case("DMA-CTX-TT", True, "TT 01b without DT", _set(L, m20000=0x30005), {}, fault(0x3, "DMA-CTX-TT")),
    Case("DMA-CTX-TT", True, "TT 10b without PT", _set(L, m20000=0x30009, ecap=0), {}, fault(0x3, "DMA-CTX-TT")),
    Case("DMA-CTX-TT", False, "TT 01b with DT", _set(L, m20000=0x30005, ecap=0x44), {}, GOOD_L),
    Case("DMA-CTX-AT-BLOCKED", True, "translated, TT 00b", L, {"at": "translated"},
         fault(0xD, "DMA-CTX-AT-BLOCKED")),
    Case("DMA-CTX-AT-BLOCKED", True, "translated, TT 10b", _set(L, m20000=0x30009), {"at": "translated"},
         fault(0xD, "DMA-CTX-AT-BLOCKED")),
    Case("DMA-CTX-AT-BLOCKED", False, "translated, TT 01b", _set(L, m20000=0x30005, ecap=0x44),
         {"at": "translated"}, ok(IOVA, 5)),
    Case("DMA-ATS-TRANSLATED", True, "address used as is", _set(L, m20000=0x30005, ecap=0x44),
         {"at": "translated", "iova": 0x7000_0123, "access": "write"}, ok(0x7000_0123, 5)),
    Case("DMA-ATS-TRANSLATED", False, "untranslated through TT 01b is walked", _set(L, m20000=0x30005, ecap=0x44),
         {}, GOOD_L),
    Case("DMA-ATS-INTR", True, "translated to 0xFEE01000", _set(L, m20000=0x30005, ecap=0x44),
         {"at": "translated", "iova": 0xFEE0_1000}, ("blocked", "DMA-ATS-INTR")),
    Case("DMA-ATS-INTR", False, "translated to 0xFEF00000", _set(L, m20000=0x30005, ecap=0x44),
         {"at": "translated", "iova": 0xFEF0_0000}, ok(0xFEF0_0000, 5)),
    Case("DMA-CTX-AW", True, "AW 0", _set(L, m20008=0x500), {}, fault(0x3, "DMA-CTX-AW")),
    Case("DMA-CTX-AW", True, "AW 3 not in SAGAW", _set(L, m20008=0x503), {}, fault(0x3, "DMA-CTX-AW")),
    Case("DMA-CTX-AW", True, "AW 4 even with SAGAW bit 4", _set(L, m20008=0x504, cap=CAP | 0x1000), {},
         fault(0x3, "DMA-CTX-AW")),
    Case("DMA-CTX-AW", False, "AW 1: 3-level walk from 0x30000", _set(L, m20008=0x501), {},
         fault(0x6, "DMA-SL-READ")),
    Case("DMA-CTX-AW", False, "AW 3 with SAGAW bit 3", _set(L, m20008=0x503, cap=CAP | 0x800), {},
         fault(0x6, "DMA-SL-READ")),
    Case("DMA-PT-AW", True, "AW 1 below the largest (2)", _set(L, m20000=0x30009, m20008=0x501), {},
         fault(0x4, "DMA-PT-AW")),
    Case("DMA-PT-AW", True, "AW 3 not supported", _set(L, m20000=0x30009, m20008=0x503), {},
         fault(0x4, "DMA-PT-AW")),
    Case("DMA-PT-AW", False, "AW 2 is the largest", _set(L, m20000=0x30009), {}, ok(IOVA, 5)),
    Case("DMA-PT", True, "pass-through write", _set(L, m20000=0x30009), {"access": "write", "iova": 0x1234},
         ok(0x1234, 5)),
    Case("DMA-PT", False, "TT 00b is walked", L, {"iova": 0x1234}, fault(0x6, "DMA-SL-READ")),
    Case("DMA-ADDR-WIDTH", True, "IOVA 2^48", L, {"iova": 1 << 48}, fault(0x4, "DMA-ADDR-WIDTH")),
    Case("DMA-ADDR-WIDTH", False, "IOVA 2^48 - 8 is walked", L, {"iova": (1 << 48) - 8},
         fault(0x6, "DMA-SL-READ")),
    Case("DMA-ADDR-WIDTH", True, "MGAW 39", _set(L, cap=CAP_MGAW39), {"iova": 1 << 39},
         fault(0x4, "DMA-ADDR-WIDTH")),
    Case("DMA-ADDR-WIDTH", True, "AW 1 (39-bit)", _set(L, m20008=0x501), {"iova": 1 << 39},
         fault(0x4, "DMA-ADDR-WIDTH")),
    Case("DMA-ADDR-WIDTH", True, "pass-through", _set(L, m20000=0x30009), {"iova": 1 << 48},
         fault(0x4, "DMA-ADDR-WIDTH")),
    # legacy second level
    Case("DMA-SL-READ", True, "PTE W only", _set(L, m33A28=0xABCDE002), {}, fault(0x6, "DMA-SL-READ")),
    Case("DMA-SL-READ", True, "PDE W only", _set(L, m32488=0x33002), {}, fault(0x6, "DMA-SL-READ")),
    Case("DMA-SL-READ", True, "PTE not present", _set(L, m33A28=0), {}, fault(0x6, "DMA-SL-READ")),
    Case("DMA-SL-READ", True, "permission before reserved", _set(L, m33A28=0xABCDE802), {},
         fault(0x6, "DMA-SL-READ")),
    Case("DMA-SL-READ", False, "PTE R only", _set(L, m33A28=0xABCDE001), {}, GOOD_L),
    Case("DMA-SL-WRITE", True, "PTE R only", _set(L, m33A28=0xABCDE001), {"access": "write"},
         fault(0x5, "DMA-SL-WRITE")),
    Case("DMA-SL-WRITE", True, "PML4E R only", _set(L, m30000=0x31001), {"access": "write"},
         fault(0x5, "DMA-SL-WRITE")),
    Case("DMA-SL-WRITE", True, "PTE not present", _set(L, m33A28=0), {"access": "write"},
         fault(0x5, "DMA-SL-WRITE")),
    Case("DMA-SL-WRITE", False, "PTE W only", _set(L, m33A28=0xABCDE002), {"access": "write"}, GOOD_L),
    Case("DMA-SL-RSVD", True, "PTE bit 11 without SC", _set(L, m33A28=0xABCDE803), {}, fault(0xC, "DMA-SL-RSVD")),
    Case("DMA-SL-RSVD", False, "PTE bit 11 with SC", _set(L, m33A28=0xABCDE803, ecap=0xC0), {}, GOOD_L),
    Case("DMA-SL-RSVD", True, "PDE bit 11 even with SC", _set(L, m32488=0x33803, ecap=0xC0), {},
         fault(0xC, "DMA-SL-RSVD")),
    Case("DMA-SL-RSVD", True, "PTE bit 62", _set(L, m33A28=1 << 62 | 0xABCDE003), {}, fault(0xC, "DMA-SL-RSVD")),
    Case("DMA-SL-RSVD", True, "PTE bit 46 (HAW 46)", _set(L, m33A28=1 << 46 | 0xABCDE003), {},
         fault(0xC, "DMA-SL-RSVD")),
    Case("DMA-SL-RSVD", False, "PTE bit 45 is an address", _set(L, m33A28=1 << 45 | 0xABCDE003), {},
         ok(1 << 45 | HPA, 5)),
    Case("DMA-SL-RSVD", False, "bits 61:52 and 63 ignored", _set(L, m33A28=0xBFF0_0000_ABCD_E303), {}, GOOD_L),
    Case("DMA-SL-RSVD", False, "2-MiB leaf", _set(L, m32488=0xABC0_0083), {}, ok(0xABD4_5678, 5)),
    Case("DMA-SL-RSVD", True, "2-MiB leaf without SLLPS", _set(L, m32488=0xABC0_0083, cap=CAP_NO_SLLPS), {},
         fault(0xC, "DMA-SL-RSVD")),
    Case("DMA-SL-RSVD", True, "2-MiB leaf bit 12", _set(L, m32488=0xABC0_1083), {}, fault(0xC, "DMA-SL-RSVD")),
    Case("DMA-SL-RSVD", False, "1-GiB leaf", _set(L, m31000=0xC000_0083), {}, ok(0xD234_5678, 5)),
    Case("DMA-SL-RSVD", True, "1-GiB leaf with SLLPS 2M only", _set(L, m31000=0xC000_0083, cap=CAP_2M), {},
         fault(0xC, "DMA-SL-RSVD")),
    Case("DMA-SL-RSVD", True, "1-GiB leaf bit 29", _set(L, m31000=0xE000_0083), {}, fault(0xC, "DMA-SL-RSVD")),
    Case("DMA-SL-RSVD", True, "PS in a PML4E", _set(L, m30000=0x31083), {}, fault(0xC, "DMA-SL-RSVD")),
    Case("DMA-OUT-INTR", True, "leaf to 0xFEE00000", _set(L, m33A28=0xFEE0_0003), {}, fault(0xE, "DMA-OUT-INTR")),
    Case("DMA-OUT-INTR", False, "leaf to 0xFED00000", _set(L, m33A28=0xFED0_0003), {}, ok(0xFED0_0678, 5)),
    Case("DMA-OUT-INTR", False, "1-GiB page over the range, address outside", _set(L, m31000=0xC000_0083), {},
         ok(0xD234_5678, 5)),
    # scalable root and context entries
    Case("DMA-SM-ROOT-ACCESS", True, "RTA bit 46", _set(S, rtaddr=1 << 46 | 0x10400), {},
         fault(0x38, "DMA-SM-ROOT-ACCESS")),
    Case("DMA-SM-ROOT-ACCESS", False, "RTA below HAW", S, {}, GOOD_S),
    Case("DMA-SM-ROOT-NOT-PRESENT", True, "lower half P = 0", _set(S, m10030=0x20000), {},
         fault(0x39, "DMA-SM-ROOT-NOT-PRESENT")),
    Case("DMA-SM-ROOT-NOT-PRESENT", True, "upper half P = 0", _set(S, m10038=0x21000), {"sid": 0x0380},
         fault(0x39, "DMA-SM-ROOT-NOT-PRESENT")),
    Case("DMA-SM-ROOT-NOT-PRESENT", False, "upper half present", S, {"sid": 0x0380},
         fault(0x41, "DMA-SM-CTX-NOT-PRESENT")),
    Case("DMA-SM-ROOT-NOT-PRESENT", False, "upper half absent, lower used", _set(S, m10038=0), {}, GOOD_S),
    Case("DMA-SM-ROOT-RSVD", True, "lower bit 1", _set(S, m10030=0x20003), {}, fault(0x3A, "DMA-SM-ROOT-RSVD")),
    Case("DMA-SM-ROOT-RSVD", True, "upper pointer bit 46", _set(S, m10038=1 << 46 | 0x21001), {"sid": 0x0380},
         fault(0x3A, "DMA-SM-ROOT-RSVD")),
    Case("DMA-SM-ROOT-RSVD", False, "the unused half is not checked", _set(S, m10038=0x21003), {}, GOOD_S),
    Case("DMA-SM-CTX-NOT-PRESENT", True, "P = 0", _set(S, m20000=0x40008), {}, fault(0x41, "DMA-SM-CTX-NOT-PRESENT")),
    Case("DMA-SM-CTX-NOT-PRESENT", False, "present", S, {}, GOOD_S),
    Case("DMA-SM-CTX-RSVD", True, "bit 5", _set(S, m20000=0x40029), {}, fault(0x42, "DMA-SM-CTX-RSVD")),
    Case("DMA-SM-CTX-RSVD", True, "bit 128", _set(S, m20010=1), {}, fault(0x42, "DMA-SM-CTX-RSVD")),
    Case("DMA-SM-CTX-RSVD", True, "bit 85", _set(S, m20008=1 << 21), {}, fault(0x42, "DMA-SM-CTX-RSVD")),
    Case("DMA-SM-CTX-RSVD", True, "DTE without ECAP.DT", _set(S, m20000=0x4000D), {}, fault(0x42, "DMA-SM-CTX-RSVD")),
    Case("DMA-SM-CTX-RSVD", False, "DTE with ECAP.DT", _set(S, m20000=0x4000D, ecap=ECAP_SM | 4), {}, GOOD_S),
    Case("DMA-SM-CTX-RSVD", True, "RID_PASID without ECAP.RPS", _set(S, m20008=5), {},
         fault(0x42, "DMA-SM-CTX-RSVD")),
    Case("DMA-SM-CTX-RSVD", True, "RID_PRIV without ECAP.RPRIVS", _set(S, m20008=1 << 20), {},
         fault(0x42, "DMA-SM-CTX-RSVD")),
    Case("DMA-SM-CTX-RSVD", True, "pointer bit 46", _set(S, m20000=1 << 46 | 0x40009), {},
         fault(0x42, "DMA-SM-CTX-RSVD")),
    Case("DMA-SM-CTX-DTE", True, "translated with DTE 0", S, {"at": "translated"}, fault(0x44, "DMA-SM-CTX-DTE")),
    Case("DMA-SM-CTX-DTE", False, "translated with DTE 1", _set(S, m20000=0x4000D, ecap=ECAP_SM | 4),
         {"at": "translated"}, ok(IOVA, None)),
    Case("DMA-SM-CTX-PASIDE", True, "PASID with PASIDE 0", _set(S, m20000=0x40001), {"pasid": 5},
         fault(0x45, "DMA-SM-CTX-PASIDE")),
    Case("DMA-SM-CTX-PASIDE", False, "no PASID, PASIDE 0", _set(S, m20000=0x40001), {}, GOOD_S),
    Case("DMA-SM-PASID-RANGE", True, "PASID 0x2000 with PDTS 0", S, {"pasid": 0x2000},
         fault(0x46, "DMA-SM-PASID-RANGE")),
    Case("DMA-SM-PASID-RANGE", False, "PASID 0x1FFF with PDTS 0", S, {"pasid": 0x1FFF},
         fault(0x51, "DMA-SM-PDIR-NOT-PRESENT")),
    Case("DMA-SM-PASID-RANGE", False, "PASID 0x2000 with PDTS 1", _set(S, m20000=0x40209), {"pasid": 0x2000},
         fault(0x51, "DMA-SM-PDIR-NOT-PRESENT")),
    Case("DMA-SM-RID-PASID", True, "RID_PASID 0x2000", _set(S, m20008=0x2000, ecap=ECAP_SM | 1 << 49), {},
         fault(0x48, "DMA-SM-RID-PASID")),
    Case("DMA-SM-RID-PASID", False, "RID_PASID 5 selects PASID 5", _set(S, m20008=5, ecap=ECAP_SM | 1 << 49), {},
         ok(HPA, 9)),
    # PASID directory and table
    Case("DMA-SM-PDIR-NOT-PRESENT", True, "P = 0", _set(S, m40000=0x41000), {},
         fault(0x51, "DMA-SM-PDIR-NOT-PRESENT")),
    Case("DMA-SM-PDIR-NOT-PRESENT", False, "present", S, {}, GOOD_S),
    Case("DMA-SM-PDIR-RSVD", True, "bit 2", _set(S, m40000=0x41005), {}, fault(0x52, "DMA-SM-PDIR-RSVD")),
    Case("DMA-SM-PDIR-RSVD", True, "pointer bit 46", _set(S, m40000=1 << 46 | 0x41001), {},
         fault(0x52, "DMA-SM-PDIR-RSVD")),
    Case("DMA-SM-PDIR-RSVD", False, "FPD is not reserved", _set(S, m40000=0x41003), {}, GOOD_S),
    Case("DMA-SM-PASID-NOT-PRESENT", True, "P = 0", _set(S, m41000=0x30088), {},
         fault(0x59, "DMA-SM-PASID-NOT-PRESENT")),
    Case("DMA-SM-PASID-NOT-PRESENT", True, "all zero", _set(S, m41000=0, m41008=0), {},
         fault(0x59, "DMA-SM-PASID-NOT-PRESENT")),
    Case("DMA-SM-PASID-NOT-PRESENT", True, "unused PASID", S, {"pasid": 7},
         fault(0x59, "DMA-SM-PASID-NOT-PRESENT")),
    Case("DMA-SM-PASID-NOT-PRESENT", False, "present", S, {"pasid": 5}, ok(HPA, 9)),
    Case("DMA-SM-PASID-RSVD", True, "bit 10", _set(S, m41000=0x30489), {}, fault(0x5A, "DMA-SM-PASID-RSVD")),
    Case("DMA-SM-PASID-RSVD", True, "bit 80", _set(S, m41008=1 << 16 | 7), {}, fault(0x5A, "DMA-SM-PASID-RSVD")),
    Case("DMA-SM-PASID-RSVD", True, "PAT without MTS", _set(S, m41008=1 << 32 | 7), {},
         fault(0x5A, "DMA-SM-PASID-RSVD")),
    Case("DMA-SM-PASID-RSVD", False, "PAT with MTS", _set(S, m41008=1 << 32 | 7, ecap=ECAP_SM | 1 << 25), {},
         GOOD_S),
    Case("DMA-SM-PASID-RSVD", True, "SLEE without ERS", _set(S, m41000=0x300A9), {},
         fault(0x5A, "DMA-SM-PASID-RSVD")),
    Case("DMA-SM-PASID-RSVD", True, "bit 192", _set(S, m41018=1), {}, fault(0x5A, "DMA-SM-PASID-RSVD")),
    Case("DMA-SM-PASID-RSVD", True, "SLPTPTR bit 46 with PGTT 010b", _set(S, m41000=1 << 46 | 0x30089), {},
         fault(0x5A, "DMA-SM-PASID-RSVD")),
    Case("DMA-SM-PASID-RSVD", False, "FLPTPTR ignored with PGTT 010b", _set(S, m41010=1 << 46), {}, GOOD_S),
    Case("DMA-SM-PASID-RSVD", True, "SRE without SRS", _set(S, m41150=0x50001), {"pasid": 5},
         fault(0x5A, "DMA-SM-PASID-RSVD")),
    Case("DMA-SM-PASID-PGTT", True, "PGTT 000b", _set(S, m41000=0x30009), {}, fault(0x5B, "DMA-SM-PASID-PGTT")),
    Case("DMA-SM-PASID-PGTT", True, "PGTT 101b", _set(S, m41000=0x30149), {}, fault(0x5B, "DMA-SM-PASID-PGTT")),
    Case("DMA-SM-PASID-PGTT", True, "nested without NEST", S, {"pasid": 6}, fault(0x5B, "DMA-SM-PASID-PGTT")),
    Case("DMA-SM-PASID-PGTT", True, "second-level without SLTS", _set(S, ecap=ECAP_SM & ~(1 << 46)), {},
         fault(0x5B, "DMA-SM-PASID-PGTT")),
    Case("DMA-SM-PASID-PGTT", True, "pass-through without PT", _set(S, m41000=0x101, ecap=ECAP_SM & ~0x40), {},
         fault(0x5B, "DMA-SM-PASID-PGTT")),
    Case("DMA-SM-PASID-PGTT", False, "first-level with FLTS", S, {"pasid": 5}, ok(HPA, 9)),
    Case("DMA-SM-PASID-AW", True, "AW 3 not in SAGAW", _set(S, m41000=0x3008D), {}, fault(0x5B, "DMA-SM-PASID-AW")),
    Case("DMA-SM-PASID-AW", True, "AW 0", _set(S, m41000=0x30081), {}, fault(0x5B, "DMA-SM-PASID-AW")),
    Case("DMA-SM-PASID-AW", False, "AW ignored for first-level", _set(S, m41140=0x5D), {"pasid": 5}, ok(HPA, 9)),
    Case("DMA-SM-PASID-FLPM", True, "FLPM 01b without FL5LP", _set(S, m41150=0x50004), {"pasid": 5},
         fault(0x5B, "DMA-SM-PASID-FLPM")),
    Case("DMA-SM-PASID-FLPM", True, "FLPM 10b", _set(S, m41150=0x50008, cap=CAP_FL5LP), {"pasid": 5},
         fault(0x5B, "DMA-SM-PASID-FLPM")),
    Case("DMA-SM-PASID-FLPM", False, "FLPM 01b with FL5LP: 5-level walk", _set(S, m41150=0x50004, cap=CAP_FL5LP),
         {"pasid": 5}, fault(0x71, "DMA-FL-NOT-PRESENT")),
    Case("DMA-SM-PASID-SRE", True, "RID_PRIV, SRE 0",
         _set(S, m20008=1 << 20, ecap=ECAP_SM | 1 << 53), {}, fault(0x5D, "DMA-SM-PASID-SRE")),
    Case("DMA-SM-PASID-SRE", True, "privileged request, SRE 0", S, {"pasid": 5, "privileged": True},
         fault(0x5D, "DMA-SM-PASID-SRE")),
    Case("DMA-SM-PASID-SRE", False, "privileged request, SRE 1", _set(S, m41150=0x50001, ecap=ECAP_SM | 1 << 31),
         {"pasid": 5, "privileged": True}, ok(HPA, 9)),
    Case("DMA-SM-PASID-SRE", False, "user request, SRE 0", S, {}, GOOD_S),
    # scalable pass-through and second level
    Case("DMA-SM-PT", True, "PGTT 100b", _set(S, m41000=0x101), {"access": "write", "iova": 0x1234},
         ok(0x1234, 7)),
    Case("DMA-SM-PT", False, "PGTT 010b is walked", S, {"iova": 0x1234}, fault(0x79, "DMA-SM-SL-NOT-PRESENT")),
    Case("DMA-SM-PT-ADDR", True, "2^46", _set(S, m41000=0x101), {"iova": 1 << 46}, fault(0x83, "DMA-SM-PT-ADDR")),
    Case("DMA-SM-PT-ADDR", False, "2^46 - 8", _set(S, m41000=0x101), {"iova": (1 << 46) - 8},
         ok((1 << 46) - 8, 7)),
    Case("DMA-SM-OUT-INTR", True, "pass-through with PASID to 0xFEE00000", _set(S, m41140=0x101),
         {"pasid": 5, "iova": 0xFEE0_0000}, fault(0x87, "DMA-SM-OUT-INTR")),
    Case("DMA-SM-OUT-INTR", True, "leaf to 0xFEE00000", _set(S, m33A28=0xFEE0_0003), {},
         fault(0x87, "DMA-SM-OUT-INTR")),
    Case("DMA-SM-OUT-INTR", False, "pass-through with PASID to 0xFEF00000", _set(S, m41140=0x101),
         {"pasid": 5, "iova": 0xFEF0_0000}, ok(0xFEF0_0000, 9)),
    Case("DMA-SM-ADDR-WIDTH", True, "2^48", S, {"iova": 1 << 48}, fault(0x84, "DMA-SM-ADDR-WIDTH")),
    Case("DMA-SM-ADDR-WIDTH", False, "2^48 - 8", S, {"iova": (1 << 48) - 8}, fault(0x79, "DMA-SM-SL-NOT-PRESENT")),
    Case("DMA-SM-SL-NOT-PRESENT", True, "PTE 0, read", _set(S, m33A28=0), {}, fault(0x79, "DMA-SM-SL-NOT-PRESENT")),
    Case("DMA-SM-SL-NOT-PRESENT", True, "PDE 0, write", _set(S, m32488=0), {"access": "write"},
         fault(0x79, "DMA-SM-SL-NOT-PRESENT")),
    Case("DMA-SM-SL-NOT-PRESENT", False, "PTE W only, write", _set(S, m33A28=0xABCDE002), {"access": "write"},
         GOOD_S),
    Case("DMA-SM-SL-READ", True, "PTE W only", _set(S, m33A28=0xABCDE002), {}, fault(0x86, "DMA-SM-SL-READ")),
    Case("DMA-SM-SL-READ", False, "PTE R only", _set(S, m33A28=0xABCDE001), {}, GOOD_S),
    Case("DMA-SM-SL-WRITE", True, "PTE R only", _set(S, m33A28=0xABCDE001), {"access": "write"},
         fault(0x85, "DMA-SM-SL-WRITE")),
    Case("DMA-SM-SL-WRITE", False, "PTE R and W", S, {"access": "write"}, GOOD_S),
    Case("DMA-SM-SL-RSVD", False, "leaf bit 11 ignored", _set(S, m33A28=0xABCDE803), {}, GOOD_S),
    Case("DMA-SM-SL-RSVD", True, "PDE bit 11", _set(S, m32488=0x33803), {}, fault(0x7A, "DMA-SM-SL-RSVD")),
    Case("DMA-SM-SL-RSVD", True, "PTE bit 62", _set(S, m33A28=1 << 62 | 0xABCDE003), {},
         fault(0x7A, "DMA-SM-SL-RSVD")),
    Case("DMA-SM-SL-RSVD", True, "2-MiB leaf without SLLPS", _set(S, m32488=0xABC0_0083, cap=CAP_NO_SLLPS), {},
         fault(0x7A, "DMA-SM-SL-RSVD")),
    # first level
    Case("DMA-FL-CANONICAL", True, "bit 47 alone", S, {"pasid": 5, "iova": 1 << 47}, fault(0x80, "DMA-FL-CANONICAL")),
    Case("DMA-FL-CANONICAL", True, "bit 63 alone", S, {"pasid": 5, "iova": 1 << 63}, fault(0x80, "DMA-FL-CANONICAL")),
    Case("DMA-FL-CANONICAL", False, "upper half", S, {"pasid": 5, "iova": 0xFFFF_8000_0000_0000},
         fault(0x71, "DMA-FL-NOT-PRESENT")),
    Case("DMA-FL-CANONICAL", False, "bit 47 with 5-level paging", _set(S, m41150=0x50004, cap=CAP_FL5LP),
         {"pasid": 5, "iova": 1 << 47}, fault(0x71, "DMA-FL-NOT-PRESENT")),
    Case("DMA-FL-NOT-PRESENT", True, "PTE P = 0", _set(S, m53A28=0xABCDE006), {"pasid": 5},
         fault(0x71, "DMA-FL-NOT-PRESENT")),
    Case("DMA-FL-NOT-PRESENT", False, "present", S, {"pasid": 5}, ok(HPA, 9)),
    Case("DMA-FL-RSVD", True, "PS in PML4E", _set(S, m50000=0x51087), {"pasid": 5}, fault(0x72, "DMA-FL-RSVD")),
    Case("DMA-FL-RSVD", True, "PTE bit 46", _set(S, m53A28=1 << 46 | 0xABCDE007), {"pasid": 5},
         fault(0x72, "DMA-FL-RSVD")),
    Case("DMA-FL-RSVD", False, "XD and bits 62:52 ignored", _set(S, m53A28=0xFFF0_0000_ABCD_E007), {"pasid": 5},
         ok(HPA, 9)),
    Case("DMA-FL-RSVD", False, "2-MiB leaf with PAT", _set(S, m52488=0xABC0_1087), {"pasid": 5},
         ok(0xABD4_5678, 9)),
    Case("DMA-FL-RSVD", True, "2-MiB leaf bit 13", _set(S, m52488=0xABC0_2087), {"pasid": 5},
         fault(0x72, "DMA-FL-RSVD")),
    Case("DMA-FL-RSVD", True, "1-GiB leaf without FL1GP", _set(S, m51000=0xC000_0087), {"pasid": 5},
         fault(0x72, "DMA-FL-RSVD")),
    Case("DMA-FL-RSVD", False, "1-GiB leaf with FL1GP", _set(S, m51000=0xC000_0087, cap=CAP_FL1GP), {"pasid": 5},
         ok(0xD234_5678, 9)),
    Case("DMA-FL-RSVD", False, "not present wins over reserved", _set(S, m53A28=1 << 46 | 0xABCDE006),
         {"pasid": 5}, fault(0x71, "DMA-FL-NOT-PRESENT")),
    Case("DMA-FL-USER", True, "PDE U/S 0", _set(S, m52488=0x53003), {"pasid": 5}, fault(0x81, "DMA-FL-USER")),
    Case("DMA-FL-USER", False, "a lower not-present entry wins over U/S 0",
         _set(S, m52488=0x53003, m53A28=0), {"pasid": 5}, fault(0x71, "DMA-FL-NOT-PRESENT")),
    Case("DMA-FL-USER", False, "supervisor request", _set(S, m52488=0x53003, m41150=0x50001, ecap=ECAP_SM | 1 << 31),
         {"pasid": 5, "privileged": True}, ok(HPA, 9)),
    Case("DMA-FL-WRITE", True, "PTE R/W 0", _set(S, m53A28=0xABCDE005), {"pasid": 5, "access": "write"},
         fault(0x85, "DMA-FL-WRITE")),
    Case("DMA-FL-WRITE", False, "PTE R/W 0, read", _set(S, m53A28=0xABCDE005), {"pasid": 5}, ok(HPA, 9)),
    Case("DMA-FL-WRITE", False, "supervisor, WPE 0", _set(S, m53A28=0xABCDE005, m41150=0x50001,
                                                          ecap=ECAP_SM | 1 << 31),
         {"pasid": 5, "access": "write", "privileged": True}, ok(HPA, 9)),
    Case("DMA-FL-WRITE", True, "supervisor, WPE 1", _set(S, m53A28=0xABCDE005, m41150=0x50011,
                                                         ecap=ECAP_SM | 1 << 31),
         {"pasid": 5, "access": "write", "privileged": True}, fault(0x85, "DMA-FL-WRITE")),
    # nested
    Case("DMA-NESTED-ADDR", False, "nested translation", _set(S, ecap=ECAP_NESTED), {"pasid": 6},
         ok(0x40AB_C678, 11)),
    Case("DMA-NESTED-ADDR", True, "first-level table above 2^39", _set(S, ecap=ECAP_NESTED, cap=CAP_MGAW39,
                                                                        m41190=1 << 40),
         {"pasid": 6}, fault(0x74, "DMA-NESTED-ADDR")),
    Case("DMA-NESTED-TOP-READ", True, "second level denies reads of the PML4", _set(S, ecap=ECAP_NESTED,
                                                                                    m61000=0x4000_0082),
         {"pasid": 6}, fault(0x75, "DMA-NESTED-TOP-READ")),
    Case("DMA-NESTED-TOP-READ", False, "read-only second level", _set(S, ecap=ECAP_NESTED, m61000=0x4000_0081,
                                                                      m40001000=0x2027, m40002000=0x3027,
                                                                      m40003488=0x4027, m40004A28=0xABC027),
         {"pasid": 6}, ok(0x40AB_C678, 11)),
    Case("DMA-NESTED-FL-READ", True, "PDPT at an unmapped GPA", _set(S, ecap=ECAP_NESTED, m40001000=0x4000_0007),
         {"pasid": 6}, fault(0x76, "DMA-NESTED-FL-READ")),
    Case("DMA-NESTED-FL-READ", False, "PDPT mapped", _set(S, ecap=ECAP_NESTED), {"pasid": 6}, ok(0x40AB_C678, 11)),
    Case("DMA-NESTED-FL-WRITE", True, "accessed flag needs a write", _set(S, ecap=ECAP_NESTED, m61000=0x4000_0081),
         {"pasid": 6}, fault(0x77, "DMA-NESTED-FL-WRITE")),
    Case("DMA-NESTED-FL-WRITE", True, "dirty flag needs a write", _set(S, ecap=ECAP_NESTED, m61000=0x4000_0081,
                                                                       m40001000=0x2027, m40002000=0x3027,
                                                                       m40003488=0x4027, m40004A28=0xABC027),
         {"pasid": 6, "access": "write"}, fault(0x77, "DMA-NESTED-FL-WRITE")),
    Case("DMA-NESTED-FL-WRITE", False, "flags already set: output write checked", _set(
        S, ecap=ECAP_NESTED, m61000=0x4000_0081, m40001000=0x2027, m40002000=0x3027, m40003488=0x4027,
        m40004A28=0xABC067), {"pasid": 6, "access": "write"}, fault(0x85, "DMA-SM-SL-WRITE")),
    Case("DMA-SM-ADDR-WIDTH", True, "nested output beyond 2^39", _set(S, ecap=ECAP_NESTED, cap=CAP_MGAW39,
                                                                      m40004A28=1 << 40 | 0x7),
         {"pasid": 6}, fault(0x84, "DMA-SM-ADDR-WIDTH")),
]

# the fault-processing-disable cases: the outcome is a fault, and whether it is recorded
FPD_CASES: list[tuple[str, Setup, dict[str, object], int, bool]] = [
    ("context FPD, context not present (qualified)", _set(L, m20000=0x30002), {}, 0x2, False),
    ("context FPD, PTE read denied (qualified)", _set(L, m20000=0x30003, m33A28=0), {}, 0x6, False),
    ("context FPD, reserved bit (not qualified)", _set(L, m20000=0x30013), {}, 0xB, True),
    ("no FPD, PTE read denied", _set(L, m33A28=0), {}, 0x6, True),
    ("root not present is never qualified", _set(L, m10030=0x20000, m20000=0x30003), {}, 0x1, True),
    ("PASID-directory FPD, SL not present", _set(S, m40000=0x41003, m33A28=0), {}, 0x79, False),
    ("PASID-entry FPD, PASID entry not present", _set(S, m41000=0x3008A), {}, 0x59, False),
    ("PASID-entry FPD, PASID entry reserved (not qualified)", _set(S, m41000=0x3048B), {}, 0x5A, True),
    ("PASID-directory FPD, directory reserved (not qualified)", _set(S, m40000=0x41007), {}, 0x52, True),
    ("scalable context FPD, context not present", _set(S, m20000=0x4000A), {}, 0x41, False),
]


def _ids(case: Case) -> str:
    return f"{case.rule}:{'fail' if case.fails else 'pass'}:{case.name}"


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_case(case: Case) -> None:
    outcome = run(case.setup(), **case.query)  # type: ignore[arg-type]
    kind = case.expect[0]
    assert outcome.result == kind, (outcome.to_json(), case.expect)
    if kind == "ok":
        assert (outcome.hpa, outcome.domain_id) == case.expect[1:], outcome.to_json()
    elif kind == "fault":
        assert (outcome.fault_reason, outcome.rule) == case.expect[1:], outcome.to_json()
        assert FAULT_OF[outcome.rule or ""] == outcome.fault_reason
    else:
        assert outcome.rule == case.expect[1]
    if case.fails and kind != "fault":
        assert outcome.rule == case.rule
    if not case.fails:
        assert outcome.rule != case.rule


@pytest.mark.parametrize(("name", "setup", "query", "code", "recorded"), FPD_CASES, ids=[c[0] for c in FPD_CASES])
def test_fault_processing_disable(name: str, setup: Setup, query: dict[str, object], code: int,
                                  recorded: bool) -> None:
    outcome = run(setup(), **query)  # type: ignore[arg-type]
    assert (outcome.result, outcome.fault_reason, outcome.recorded) == ("fault", code, recorded)
    assert outcome.to_json()["recorded"] is recorded


def test_every_rule_has_a_failing_and_a_passing_case() -> None:
    failing = {c.rule for c in CASES if c.fails} | {"DMA-FPD"}
    passing = {c.rule for c in CASES if not c.fails} | {"DMA-FPD"}
    ids = {r.id for r in RULES}
    assert ids - failing == set()
    assert ids - passing == set()
    assert {c.rule for c in CASES} <= ids


def test_every_fault_rule_is_reached_by_a_case() -> None:
    reached = {c.expect[2] for c in CASES if c.expect[0] == "fault"}
    fault_rules = {rule for rule, code in FAULT_OF.items() if code is not None}
    assert fault_rules - reached == set()


def test_rule_catalogue_is_in_the_dma_stage() -> None:
    assert {r.id for r in rules_for(Stage.DMA)} == {r.id for r in RULES}
    assert all(r.section and r.condition for r in RULES)
    assert all(f"fault:{FAULT_OF[r.id]:#x}" in r.tags for r in RULES if FAULT_OF[r.id] is not None)


# -- answers, accessed/dirty flags, steps -------------------------------------------------------------

def test_ok_answer_has_the_documented_keys() -> None:
    answer = run(legacy()).to_json()
    assert answer["result"] == "ok" and answer["hpa"] == "0xabcde678" and answer["domain_id"] == 5
    assert answer["page_size"] == 4096 and answer["permissions"] == "rw"


def test_fault_answer_has_the_documented_keys() -> None:
    answer = run(_set(L, m33A28=0xABCDE001)(), access="write").to_json()
    assert answer["result"] == "fault" and answer["fault_reason"] == "0x5" and answer["rule"] == "DMA-SL-WRITE"
    assert answer["recorded"] is True


def test_permissions_are_the_and_of_the_walk() -> None:
    assert run(_set(L, m32488=0x33001)()).permissions == "r"
    assert run(_set(L, m33A28=0xABCDE002)(), access="write").permissions == "w"


def test_first_level_sets_accessed_and_dirty() -> None:
    read = run(scalable(), pasid=5)
    assert read.ad_updates == {0x50000: 0x51027, 0x51000: 0x52027, 0x52488: 0x53027, 0x53A28: 0xABCDE027}
    write = run(scalable(), pasid=5, access="write")
    assert write.ad_updates[0x53A28] == 0xABCDE067
    assert write.to_json()["ad_updates"] == {"0x50000": "0x51027", "0x51000": "0x52027", "0x52488": "0x53027",
                                             "0x53a28": "0xabcde067"}


def test_first_level_extended_accessed_flag_with_eafe() -> None:
    env = _set(S, m41150=0x50080, ecap=ECAP_SM | 1 << 34)()
    assert run(env, pasid=5).ad_updates[0x53A28] == 0xABCDE427


def test_second_level_accessed_dirty_only_with_slade() -> None:
    assert run(scalable()).ad_updates == {}
    env = _set(S, m41000=0x30289, ecap=ECAP_SM | 1 << 45)()
    write = run(env, access="write")
    assert write.ad_updates == {0x30000: 0x31103, 0x31000: 0x32103, 0x32488: 0x33103, 0x33A28: 0xABCDE303}


def test_slade_without_slads_is_reserved() -> None:
    assert run(_set(S, m41000=0x30289)()).fault_reason == 0x5A


def test_nested_page_size_is_the_smaller_of_both_levels() -> None:
    outcome = run(_set(S, ecap=ECAP_NESTED)(), pasid=6)
    assert outcome.page_size == 4096 and outcome.translation == "nested"


def test_steps_name_every_entry_read() -> None:
    outcome = run(legacy())
    tables = [s.table for s in outcome.steps]
    assert tables == ["unit selection", "root table", "context table", "second-level PML4E", "second-level PDPE",
                      "second-level PDE", "second-level PTE"]
    assert [s.address for s in outcome.steps[1:]] == [0x10030, 0x20000, 0x30000, 0x31000, 0x32488, 0x33A28]
    assert outcome.steps[2].values == (0x30001, 0x502)
    fault_steps = run(_set(L, m33A28=0)()).steps_json()
    assert fault_steps[-1]["table"] == "fault" and "0x6" in str(fault_steps[-1]["decision"])


def test_mode_pasid_and_unit_are_reported() -> None:
    outcome = run(_set(S, m20008=5, ecap=ECAP_SM | 1 << 49)())
    assert (outcome.mode, outcome.pasid, outcome.unit) == ("scalable", 5, 0)


# -- units, scopes, questions ---------------------------------------------------------------------------

def test_the_unit_listing_the_device_wins_over_the_catch_all() -> None:
    env = legacy()
    state = State(memory=env.mem, iommus=[IommuUnit(CAP, ECAP, 0x90000, HAW, 0, ()),
                                          IommuUnit(CAP, ECAP, 0x10000, HAW, 0, ("03:00.0",))])
    assert select_unit(state, 0, SID) == 1
    assert select_unit(state, 0, 0x0400) == 0
    assert select_unit(state, 1, SID) is None
    assert translate_dma(state, SID, IOVA, "read").hpa == HPA
    assert translate_dma(state, 0x0400, IOVA, "read").fault_reason == 0x1


def test_segments_pick_their_own_units() -> None:
    env = legacy()
    state = State(memory=env.mem, iommus=[IommuUnit(CAP, ECAP, 0x90000, HAW, 0, ()),
                                          IommuUnit(CAP, ECAP, 0x10000, HAW, 1, ())])
    assert translate_dma(state, SID, IOVA, "read", segment=1).hpa == HPA
    assert translate_dma(state, SID, IOVA, "read").fault_reason == 0x1
    assert translate_dma(state, SID, IOVA, "read", segment=2).translation == "none"


@pytest.mark.parametrize("scope", ["03:00", "3:20.0", "zz:00.0", "03-04:00.0", "03:00.8"])
def test_bad_scope_strings_are_state_errors(scope: str) -> None:
    with pytest.raises(StateError) as e:
        run(_env(L, scope=(scope,))())
    assert e.value.code == "bad-shape" and e.value.path == "iommu.scope[0]"


def test_scope_segment_must_match_the_unit() -> None:
    with pytest.raises(StateError):
        run(_env(L, scope=("0001:03:00.0",))())


def test_a_state_without_an_iommu_is_missing_a_field() -> None:
    with pytest.raises(StateError) as e:
        translate_dma(State(), SID, 0, "read")
    assert e.value.code == "missing-field"


def test_host_address_width_defaults_to_maxphyaddr() -> None:
    env = legacy()
    state = State(memory=env.mem, maxphyaddr=46, iommus=[IommuUnit(CAP, ECAP, 0x10000)])
    assert translate_dma(state, SID, IOVA, "read").hpa == HPA
    with pytest.raises(StateError) as e:
        translate_dma(State(memory=env.mem, iommus=[IommuUnit(CAP, ECAP, 0x10000)]), SID, IOVA, "read")
    assert e.value.code == "missing-field" and e.value.path == "iommu.haw"


@pytest.mark.parametrize(("kwargs", "path"), [
    ({"access": "fetch"}, "query.access"), ({"at": "translation"}, "query.at"), ({"pasid": 1 << 20}, "query.pasid"),
    ({"iova": -1}, "query.iova"), ({"iova": 1 << 64}, "query.iova"), ({"source_id": 0x10000}, "query.source_id"),
    ({"privileged": True}, "query.privileged"),
])
def test_malformed_questions(kwargs: dict[str, object], path: str) -> None:
    args: dict[str, object] = {"source_id": SID, "iova": IOVA, "access": "read", **kwargs}
    with pytest.raises(StateError) as e:
        translate_dma(legacy().state(), **args)  # type: ignore[arg-type]
    assert e.value.code == "bad-query" and e.value.path == path


@pytest.mark.parametrize(("value", "sid"), [
    ("03:00.0", 0x0300), ("00:1f.7", 0x00FF), ("ff:1F.7", 0xFFFF), ({"bus": 3, "devfn": 8}, 0x0308),
    ({"bus": "0x3", "devfn": "0x8"}, 0x0308), (0x0308, 0x0308), ("0000:03:01.0", 0x0308),
])
def test_parse_source_id(value: object, sid: int) -> None:
    assert parse_source_id(value) == sid


@pytest.mark.parametrize("value", ["03:00", "03:20.0", "3.0", "", "100:00.0.0", {"bus": 3}, {"bus": 256, "devfn": 0},
                                   {"bus": 3, "devfn": 8, "dev": 1}, [3, 8], None, True, 0x10000, "0001:03:00.0"])
def test_parse_source_id_rejects(value: object) -> None:
    with pytest.raises(StateError) as e:
        parse_source_id(value)
    assert e.value.code == "bad-query"


def test_parse_device_keeps_the_segment() -> None:
    assert parse_device("0001:03:01.2") == (1, 0x030A)
    assert parse_device({"segment": 2, "bus": 0, "devfn": 0}) == (2, 0)


def test_loaded_state_translates() -> None:
    env = legacy()
    doc = {"memory": {hex(a): hex(v) for a, v in env.mem.items()},
           "iommu": {"cap": hex(CAP), "ecap": hex(ECAP), "rtaddr": "0x10000", "haw": 46}}
    assert translate_dma(load_state(doc), parse_source_id("03:00.0"), IOVA, "read").to_json() == {
        "result": "ok", "hpa": "0xabcde678", "domain_id": 5, "page_size": 4096, "permissions": "rw",
        "translation": "second-level"}
