"""Differential tests: the symbolic VM-entry encoder against the reference interpreter.

The two were written independently from the rule catalogue and the SDM (DESIGN.md, "Two
semantics, one set of facts"); these tests hold them to the same verdicts:

* pinned: for random and mutated concrete states (every field concrete), ``z3.simplify`` of each
  rule's violation formula is the constant True exactly when the interpreter reports that rule;
* open: with some fields left open, a solver model that violates a rule replays in the
  interpreter to exactly the rules the model violates; when the solver says no value violates a
  rule, random values of the open fields do not make the interpreter report it;
* exhaustive at small widths: every value of a few small fields, from several base states;
* seeded bugs: one side's reading of one arch table (or one rule) changed by one bit or one unit;
  the pinned check must notice.

States come from the KVM-like baseline and the real-mode, virtual-8086 and 32-bit PAE guests of
``tests/unit/test_vmentry_guest.py``, mutated field by field.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
import z3
from hypothesis import HealthCheck, Phase, find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import NoSuchExample

from tests.states import baseline
from tests.unit.test_vmentry_guest import BASES
from vmxspec.arch import capabilities, vmcs_fields
from vmxspec.arch.controls import CONTROL_BITS
from vmxspec.arch.rules import BY_ID, RULES
from vmxspec.interp.vmentry import check_vm_entry
from vmxspec.state import State
from vmxspec.symbolic.state import SymState
from vmxspec.symbolic.vmentry import VMENTRY_STAGES, EntryEncoding, catalogue_ids, unevaluated, violations

VMENTRY_RULES = sorted(r.id for r in RULES if r.stage in VMENTRY_STAGES)
RULE_FIELDS = sorted({f for r in RULES if r.stage in VMENTRY_STAGES for f in r.fields})
CONTROL_FIELD_BITS = [(b.field.vmcs_field, b.bit) for b in CONTROL_BITS]
SEGMENTS = ("ES", "CS", "SS", "DS", "FS", "GS", "LDTR", "TR")
MSR_INDICES = (0x10, 0x17, 0x48, 0x79, 0x8B, 0x9B, 0x10B, 0x1D9, 0x277, 0x38F, 0x480, 0x491, 0x600, 0x6A0,
               0x6A2, 0x6A4, 0x6E1, 0xD90, 0xDA0, 0x800, 0x8FF, 0x900, 0x1234, 0xC000_0080, 0xC000_0081,
               0xC000_0082, 0xC000_0083, 0xC000_0084, 0xC000_0100, 0xC000_0101, 0xC000_0102, 0xC000_0103)
MSR_DATA = (0, 1, 0x100, 0x400, 0x500, 0x501, 0xD01, 0xC00, 0x0007_0406_0007_0406, 0x0007_0406_0002_0406,
            0xFFFF_8000_0000_0000, 0x0000_8000_0000_0000, 0x0000_7FFF_FFFF_F000, 0xC00, 0xFFFF_FFFF_0000_0000,
            (1 << 64) - 1)
MAXPHYADDRS = (None, 32, 36, 39, 46, 52)
#: Bits 63:52 of CR3 are reserved even when the state gives no MAXPHYADDR (found by this suite:
#: the interpreter once skipped them; see the test at the end).
CR3_RULES = frozenset({"HOST-CR3-MAXPHY", "GUEST-CR3-MAXPHY"})

_SPECIAL = (0, 1, 2, 3, 7, 8, 0xF, 0x10, 0x1F, 0x20, 0xFF, 0xF3, 0xFFF, 0x1000, 0xFFFF, 0x1_0000, 0xF_FFFF,
            0x10_0000, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF, 1 << 32, 1 << 46, 1 << 47, (1 << 47) - 1,
            0x0000_8000_0000_0000, 0xFFFF_8000_0000_0000, 0xFFFF_7FFF_FFFF_FFFF, 1 << 56, (1 << 56) - 1,
            0xFF00_0000_0000_0000, 0xFE00_0000_0000_0000, 1 << 63, (1 << 64) - 1)


def value(width: int) -> st.SearchStrategy[int]:
    """Values of a ``width``-bit field, biased to the boundaries the SDM's checks care about."""
    top = (1 << width) - 1
    return st.one_of(
        st.sampled_from(_SPECIAL).map(lambda v: v & top),
        st.integers(0, top),
        st.integers(0, width - 1).map(lambda b: 1 << b),
        st.integers(0, 16),
    )


def field_value(name: str) -> st.SearchStrategy[int]:
    return value(vmcs_fields.BY_NAME[name].bits)


# -- mutations -------------------------------------------------------------------------------------

Mutation = Callable[[State], None]


def _set(name: str, v: int) -> Mutation:
    def apply(state: State) -> None:
        state.vmcs[name] = v
    return apply


def _xor(name: str, mask: int) -> Mutation:
    def apply(state: State) -> None:
        state.vmcs[name] = state.vmcs.get(name, 0) ^ mask
    return apply


def _drop(name: str) -> Mutation:
    def apply(state: State) -> None:
        state.vmcs.pop(name, None)
    return apply


def _many(*parts: Mutation) -> Mutation:
    def apply(state: State) -> None:
        for part in parts:
            part(state)
    return apply


def _memory(words: dict[int, int]) -> Mutation:
    def apply(state: State) -> None:
        state.memory.update(words)
    return apply


@st.composite
def _flip(draw: st.DrawFn) -> Mutation:
    name = draw(st.sampled_from(RULE_FIELDS))
    return _xor(name, 1 << draw(st.integers(0, vmcs_fields.BY_NAME[name].bits - 1)))


@st.composite
def _assign(draw: st.DrawFn) -> Mutation:
    name = draw(st.sampled_from(RULE_FIELDS))
    return _set(name, draw(field_value(name)))


@st.composite
def _toggle_control(draw: st.DrawFn) -> Mutation:
    name, bit = draw(st.sampled_from(CONTROL_FIELD_BITS))
    return _xor(name, 1 << bit)


@st.composite
def _injection(draw: st.DrawFn) -> Mutation:
    kind = draw(st.integers(0, 7))
    vector = draw(st.one_of(st.sampled_from((0, 1, 2, 3, 6, 8, 13, 14, 17, 18, 21, 31, 32, 0x80, 0xFF)),
                            st.integers(0, 255)))
    deliver = draw(st.booleans())
    reserved = draw(st.sampled_from((0, 0, 0, 1 << 12, 1 << 13, 1 << 30)))
    info = 1 << 31 | reserved | deliver << 11 | kind << 8 | vector
    return _many(_set("VM_ENTRY_INTR_INFO_FIELD", info),
                 _set("VM_ENTRY_EXCEPTION_ERROR_CODE", draw(st.sampled_from((0, 0xFFFF, 0x1_0000, 0xFFFF_FFFF)))),
                 _set("VM_ENTRY_INSTRUCTION_LEN", draw(st.sampled_from((0, 1, 2, 14, 15, 16, 0xFFFF_FFFF)))))


@st.composite
def _segment(draw: st.DrawFn) -> Mutation:
    seg = draw(st.sampled_from(SEGMENTS))
    ar = (draw(st.integers(0, 15)) | draw(st.booleans()) << 4 | draw(st.integers(0, 3)) << 5
          | draw(st.booleans()) << 7 | draw(st.booleans()) << 13 | draw(st.booleans()) << 14
          | draw(st.booleans()) << 15 | draw(st.sampled_from((0, 0, 0, 1))) << 16
          | draw(st.sampled_from((0, 0, 0, 0, 1 << 8, 1 << 12, 1 << 17, 1 << 31))))
    parts = [_set(f"GUEST_{seg}_AR_BYTES", ar)]
    if draw(st.booleans()):
        parts.append(_set(f"GUEST_{seg}_SELECTOR", draw(st.sampled_from((0, 3, 4, 8, 0x10, 0x13, 0x18, 0x1B)))))
    if draw(st.booleans()):
        parts.append(_set(f"GUEST_{seg}_LIMIT",
                          draw(st.sampled_from((0, 0x67, 0xFFF, 0xFFFF, 0xF_FFFF, 0x10_0FFF, 0xFFFF_FFFF)))))
    if draw(st.booleans()):
        parts.append(_set(f"GUEST_{seg}_BASE", draw(field_value(f"GUEST_{seg}_BASE"))))
    return _many(*parts)


@st.composite
def _non_register(draw: st.DrawFn) -> Mutation:
    pending = 0
    for b in draw(st.sets(st.sampled_from((0, 1, 3, 4, 12, 13, 14, 16, 40)), max_size=3)):
        pending |= 1 << b
    return _many(_set("GUEST_ACTIVITY_STATE", draw(st.sampled_from((0, 0, 1, 2, 3, 4, 7)))),
                 _set("GUEST_INTERRUPTIBILITY_INFO", draw(st.one_of(st.integers(0, 31),
                                                                    st.sampled_from((1 << 5, 1 << 31))))),
                 _set("GUEST_PENDING_DBG_EXCEPTIONS", pending),
                 _xor("GUEST_RFLAGS", draw(st.sampled_from((0, 1 << 8, 1 << 9)))),
                 _set("GUEST_IA32_DEBUGCTL", draw(st.sampled_from((0, 2, 4, 1 << 16)))))


@st.composite
def _msr_area(draw: st.DrawFn) -> Mutation:
    address = draw(st.sampled_from((0x8000, 0x8008, 0x8004, 0x8001, 0x8_0000, 0xFFFF_FFFF_FFFF_FFF0,
                                    0xFFFF_FFFF_FFFF_FFE0)))
    entries = draw(st.integers(0, 4))
    count = draw(st.sampled_from((entries, entries, max(entries - 1, 0), entries + 2, 2049, 0xFFFF_FFFF)))
    words: dict[int, int] = {}
    base = address & ~7
    for i in range(entries):
        index = draw(st.sampled_from(MSR_INDICES)) | draw(st.sampled_from((0, 0, 0, 0, 1 << 40)))
        data = draw(st.one_of(st.sampled_from(MSR_DATA), st.integers(0, (1 << 64) - 1)))
        at = base + 16 * i
        if at + 8 < 1 << 64:
            words[at], words[at + 8] = index, data
    return _many(_set("VM_ENTRY_MSR_LOAD_ADDR", address), _set("VM_ENTRY_MSR_LOAD_COUNT", count), _memory(words))


@st.composite
def _link(draw: st.DrawFn) -> Mutation:
    pointer = draw(st.sampled_from((0x7000, 0x7000, 0x7008, 0x7000 | 1 << 50, (1 << 64) - 1)))
    header = draw(st.sampled_from((4, 0x8000_0004, 5, 0xFFFF_FFFF_0000_0004, 0)))
    return _many(_set("VMCS_LINK_POINTER", pointer), _memory({0x7000: header}))


@st.composite
def _vtpr(draw: st.DrawFn) -> Mutation:
    return _many(_set("TPR_THRESHOLD", draw(st.sampled_from((0, 1, 2, 4, 8, 15, 0x10, 0xFF)))),
                 _memory({0x1_0120_3080: draw(st.sampled_from((0, 0x10, 0x20, 0x80, 0xF0, 0x1234_5678_9ABC_DEF0)))}),
                 _xor("SECONDARY_VM_EXEC_CONTROL", draw(st.sampled_from((0, 1, 1 << 9)))))


@st.composite
def _pdptes(draw: st.DrawFn) -> Mutation:
    entries = [draw(st.sampled_from((0, 1, 0x4001, 0x4003, 0x4021, 1 | 1 << 46, 1 | 1 << 51, 1 << 60, 0x4000)))
               for _ in range(4)]
    table = draw(st.sampled_from((0x3000, 0x3020)))
    fields = {f"GUEST_PDPTR{i}": e for i, e in enumerate(entries)}
    return _many(*(_set(k, v) for k, v in fields.items()),
                 _memory({table + 8 * i: e for i, e in enumerate(entries)}))


@st.composite
def _platform(draw: st.DrawFn) -> Mutation:
    choice = draw(st.integers(0, 4))
    if choice == 0:
        cap = draw(st.sampled_from([c.name for c in capabilities.CAPABILITY_MSRS]))
        mask = 1 << draw(st.integers(0, 63))

        def flip(state: State) -> None:
            state.caps[cap] = state.caps.get(cap, 0) ^ mask
        return flip
    if choice == 1:
        cap = draw(st.sampled_from([c.name for c in capabilities.CAPABILITY_MSRS]))

        def drop(state: State) -> None:
            state.caps.pop(cap, None)
        return drop
    width = draw(st.sampled_from(MAXPHYADDRS))
    linear = draw(st.sampled_from((None, 48, 57)))
    efer = draw(st.sampled_from((None, 0, 0x500, 0x400, 0x100, 0xD01)))
    in_smm = draw(st.sampled_from((None, False, True)))

    def platform(state: State) -> None:
        state.maxphyaddr, state.maxlinaddr = width, linear
        state.cpu.efer, state.cpu.in_smm = efer, in_smm
    return platform


MUTATIONS = st.one_of(_flip(), _assign(), _toggle_control(), _toggle_control(), _injection(), _segment(),
                      _non_register(), _msr_area(), _link(), _vtpr(), _pdptes(), _platform(),
                      st.sampled_from(RULE_FIELDS).map(_drop))


@st.composite
def states(draw: st.DrawFn) -> State:
    """A base guest state (x64, real, v86, pae-ept, pae) with a few random mutations."""
    fields, memory = BASES[draw(st.sampled_from(sorted(BASES)))]
    state = baseline(**fields)
    state.memory.update(memory)
    for mutation in draw(st.lists(MUTATIONS, max_size=6)):
        mutation(state)
    return state


# -- the checks --------------------------------------------------------------------------------------

def interpreter_ids(state: State) -> set[str]:
    return {v.rule.id for v in check_vm_entry(state, VMENTRY_STAGES).violations}


def disagreement(state: State) -> dict[str, str]:
    """Rule id -> which side alone reports it, with every field pinned; {} when the two agree."""
    formulas = violations(SymState.from_state(state))
    symbolic: set[str] = set()
    for rule, formula in formulas.items():
        assert z3.is_true(formula) or z3.is_false(formula), f"{rule} did not fold to a constant: {formula}"
        if z3.is_true(formula):
            symbolic.add(rule)
    interpreted = interpreter_ids(state)
    differ = symbolic ^ interpreted
    return {rule: "interpreter only" if rule in interpreted else "encoder only" for rule in sorted(differ)}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(states())
def test_pinned_formulas_equal_interpreter_verdicts(state: State) -> None:
    assert disagreement(state) == {}
    # Rules the interpreter cannot decide (HOST-ASSIZE-LMA without cpu.efer) are the ones the
    # encoder lists as unevaluated, and neither side reports them as violated.
    result = check_vm_entry(state, VMENTRY_STAGES)
    assert set(unevaluated(SymState.from_state(state))) == {u.rule.id for u in result.unevaluated}


@st.composite
def open_question(draw: st.DrawFn) -> tuple[State, str, list[str]]:
    """A state, a rule, and up to ten fields to open: some the rule reads, some at random."""
    state = draw(states())
    rule = draw(st.sampled_from(VMENTRY_RULES))
    own = list(BY_ID[rule].fields) or RULE_FIELDS
    opened = draw(st.lists(st.sampled_from(own), min_size=1, max_size=6, unique=True))
    opened += draw(st.lists(st.sampled_from(RULE_FIELDS), max_size=4, unique=True))
    return state, rule, sorted(set(opened))[:10]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(open_question(), st.data())
def test_open_fields_models_replay_and_unsat_holds(question: tuple[State, str, list[str]], data: Any) -> None:
    state, rule, opened = question
    sym = SymState.from_state(state, opened)
    answer = EntryEncoding(sym, timeout_ms=20_000).find_violation(rule)
    assert answer.status != "unknown", answer.reason
    if answer.status == "sat":
        assert answer.witness is not None
        replayed = interpreter_ids(sym.to_state(answer.witness.fields))
        assert rule in replayed
        assert set(answer.witness.violated) == replayed
        return
    for _ in range(10):
        values = {name: data.draw(field_value(name)) for name in opened}
        assert rule not in interpreter_ids(sym.to_state(values)), values


# -- memory reads at symbolic addresses ------------------------------------------------------------

_NEAR = (0, 8, 0x1000, 0x1008, 0x1FF8, 0xFFFF_FFFF_FFFF_FFF0, 0xFFFF_FFFF_FFFF_FFF8)


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(_NEAR), st.integers(0, (1 << 64) - 1), max_size=6),
       st.one_of(st.sampled_from(_NEAR), st.integers(0, (1 << 64) - 1)).flatmap(
           lambda a: st.sampled_from([a, a + 1, a + 3, a + 7, a - 1]).map(lambda x: x % (1 << 64))),
       st.sampled_from((1, 8, 4096)))
def test_symbolic_memory_read_equals_concrete_read(memory: dict[int, int], address: int, align: int) -> None:
    """If-chain reads at a symbolic address, pinned afterwards, equal the state format's reads."""
    sym = SymState.from_dicts({}, memory=memory)
    concrete = State(memory=dict(memory))
    var = z3.BitVec("address", 64)
    pin = (var, z3.BitVecVal(address, 64))
    if address % align:
        return  # the align promise does not hold: the value is unspecified
    assert z3.simplify(z3.substitute(sym.read_u64(var, align), pin)).as_long() == concrete.read_u64(address)
    assert z3.simplify(z3.substitute(sym.read_u32(var, align), pin)).as_long() == concrete.read_u32(address)
    assert z3.simplify(z3.substitute(sym.read_u8(var, align), pin)).as_long() == concrete.read_u8(address)


# -- exhaustive at small widths -------------------------------------------------------------------

def _sweep(state: State, name: str, values: range | list[int]) -> list[tuple[int, dict[str, str]]]:
    """Encode once with ``name`` open, then compare every value by substitution with the interpreter."""
    sym = SymState.from_state(state, [name])
    formulas = violations(sym)
    always = {r for r, f in formulas.items() if z3.is_true(f)}
    live = {r: f for r, f in formulas.items() if not z3.is_true(f) and not z3.is_false(f)}
    var = sym.variables[name]
    bad = []
    for v in values:
        pin = (var, z3.BitVecVal(v, var.size()))
        symbolic = always | {r for r, f in live.items() if z3.is_true(z3.simplify(z3.substitute(f, pin)))}
        interpreted = interpreter_ids(sym.to_state({name: v}))
        if symbolic != interpreted:
            bad.append((v, {r: "interpreter only" if r in interpreted else "encoder only"
                            for r in symbolic ^ interpreted}))
    return bad


_AREA = {0x8000: 0xC000_0082, 0x8008: 0xFFFF_FFFF_8100_0000, 0x8010: 0x1D9, 0x8018: 0x1,
         0x8020: 0xC000_0100, 0x8028: 0}
_SOFTWARE_INT = 0x8000_0480
_NO_APIC_ACCESSES = 0x001010AB & ~1

#: (base state, the field swept, other fields, memory words, every value tried)
SWEEPS: list[tuple[str, str, dict[str, int], dict[int, int], list[int]]] = [
    ("x64", "VM_ENTRY_INTR_INFO_FIELD", {}, {}, [1 << 31 | x for x in range(0x1000)]),
    ("x64", "VM_ENTRY_INTR_INFO_FIELD", {"GUEST_ACTIVITY_STATE": 1, "GUEST_SS_AR_BYTES": 0xC093}, {},
     [1 << 31 | x for x in range(0x800)]),
    ("real", "VM_ENTRY_INTR_INFO_FIELD", {}, {}, [1 << 31 | x for x in range(0x1000)]),
    ("x64", "VM_ENTRY_INSTRUCTION_LEN", {"VM_ENTRY_INTR_INFO_FIELD": _SOFTWARE_INT}, {}, [*range(40), 0xFFFF_FFFF]),
    ("x64", "GUEST_INTERRUPTIBILITY_INFO", {"VM_ENTRY_INTR_INFO_FIELD": 0x8000_0202}, {}, list(range(64))),
    ("x64", "GUEST_ACTIVITY_STATE", {"VM_ENTRY_INTR_INFO_FIELD": 0x8000_0312}, {}, list(range(8))),
    ("x64", "GUEST_CS_AR_BYTES", {}, {}, [x | y << 12 for x in range(0x100) for y in range(0x20)]),
    ("v86", "GUEST_SS_AR_BYTES", {}, {}, [x | y << 12 for x in range(0x100) for y in range(0x20)]),
    ("pae", "GUEST_TR_AR_BYTES", {}, {}, [x | y << 12 for x in range(0x100) for y in range(0x20)]),
    ("x64", "GUEST_PENDING_DBG_EXCEPTIONS", {"GUEST_INTERRUPTIBILITY_INFO": 1, "GUEST_RFLAGS": 0x302}, {},
     [x | y << 12 for x in range(0x10) for y in range(0x20)]),
    ("x64", "CR3_TARGET_COUNT", {}, {}, [*range(20), 0x1FF, 0x200, 0xFFFF_FFFF]),
    ("x64", "TPR_THRESHOLD", {"SECONDARY_VM_EXEC_CONTROL": _NO_APIC_ACCESSES}, {0x1_0120_3080: 0x50},
     [*range(0x40), 0xFFFF_FFFF]),
    ("x64", "VM_ENTRY_MSR_LOAD_COUNT", {"VM_ENTRY_MSR_LOAD_ADDR": 0x8000}, _AREA,
     [*range(6), 2047, 2048, 2049, 0xFFFF_FFFF]),
    ("x64", "VM_ENTRY_MSR_LOAD_ADDR", {"VM_ENTRY_MSR_LOAD_COUNT": 2}, _AREA, list(range(0x7FD0, 0x8040))),
]


@pytest.mark.parametrize(("base", "name", "fields", "memory", "values"), SWEEPS,
                         ids=[f"{b}-{n}-{i}" for i, (b, n, _, _, _) in enumerate(SWEEPS)])
def test_exhaustive_small_fields(base: str, name: str, fields: dict[str, int], memory: dict[int, int],
                                 values: list[int]) -> None:
    assert _sweep(_sweep_state(base, fields, memory), name, values) == []


def _sweep_state(base: str, fields: dict[str, int], memory: dict[int, int]) -> State:
    base_fields, base_memory = BASES[base]
    state = baseline(**{**base_fields, **fields})
    state.memory.update(base_memory)
    state.memory.update(memory)
    return state


# -- coverage -----------------------------------------------------------------------------------------

def test_encoder_covers_exactly_the_catalogues_vmentry_rules() -> None:
    assert set(violations(SymState.from_state(baseline()))) == set(VMENTRY_RULES) == catalogue_ids()


# -- seeded bugs: the differential check must notice ------------------------------------------------

SEEDED_BUGS = [
    # the encoder reads IA32_EFER's reserved bits with NXE (bit 11) flipped
    ("vmxspec.symbolic.vmentry.host.EFER_RESERVED", lambda v: v ^ (1 << 11)),
    # the encoder's v86 segment limit is off by one
    ("vmxspec.symbolic.vmentry.guest.V86_LIMIT", lambda v: v - 1),
    # an off-by-one in one encoder rule: injected software events of length 15 refused
    ("vmxspec.symbolic.vmentry.controls.MAX_INSTRUCTION_LENGTH", lambda v: v - 1),
    # the interpreter reads the access-rights reserved bits with G (bit 15) flipped
    ("vmxspec.interp.vmentry.guest.AR_RESERVED", lambda v: v ^ (1 << 15)),
    # the interpreter forgets that #PF (14) pushes an error code
    ("vmxspec.interp.vmentry.controls.ERROR_CODE_VECTORS", lambda v: v - {14}),
]


@pytest.mark.parametrize(("target", "corrupt"), SEEDED_BUGS, ids=[t for t, _ in SEEDED_BUGS])
def test_seeded_bug_is_caught(monkeypatch: pytest.MonkeyPatch, target: str, corrupt: Callable[[Any], Any]) -> None:
    module_name, attribute = target.rsplit(".", 1)
    module = __import__(module_name, fromlist=[attribute])
    monkeypatch.setattr(module, attribute, corrupt(getattr(module, attribute)))
    assert differential_suite_notices()


def differential_suite_notices() -> bool:
    """Whether the checks above find any disagreement: random pinned states first (no shrinking,
    deterministic), then the exhaustive sweeps, which reach the rare corners random states miss."""
    try:
        find(states(), lambda s: disagreement(s) != {},
             settings=settings(max_examples=100, database=None, derandomize=True, deadline=None,
                               phases=[Phase.generate], suppress_health_check=list(HealthCheck)))
        return True
    except NoSuchExample:
        pass
    return any(_sweep(_sweep_state(base, fields, memory), name, values)
               for base, name, fields, memory, values in SWEEPS)


def test_unseeded_suite_notices_nothing() -> None:
    """The control for the seeded bugs: without one, the same search finds no disagreement."""
    assert not differential_suite_notices()


# -- a divergence the differential tests once found in the interpreter ---------------------------------------

def test_cr3_bits_63_52_are_reserved_without_maxphyaddr() -> None:
    state = baseline(HOST_CR3=1 << 60 | 0x10A000, GUEST_CR3=1 << 60 | 0x1000)
    state.maxphyaddr = None
    formulas = violations(SymState.from_state(state))
    assert z3.is_true(formulas["HOST-CR3-MAXPHY"]) and z3.is_true(formulas["GUEST-CR3-MAXPHY"])
    assert interpreter_ids(state) >= CR3_RULES
