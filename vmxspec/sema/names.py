"""The names a spec may use, gathered from ``vmxspec.arch``, and "did you mean" over them.

A name means different things in different places: ``PG`` is a CR0 bit in ``GUEST_CR0 = PG | PE``
and nothing in ``pin = ...``; ``load_ia32_pat`` is a bit of both the VM-exit and the VM-entry
controls. So names are looked up in a *context* (``BitNames``: the names one field or list accepts)
and, when none applies, in every table at once, where a name that means two things is ambiguous.
When a lookup fails, ``elsewhere`` says what the name *is* (``hlt_exiting`` is a bit of proc, not
of pin), which is usually the fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from vmxspec.arch import capabilities, msrs, vmcs_fields
from vmxspec.arch import exits as exit_facts
from vmxspec.arch import vtd as vtd_facts
from vmxspec.arch.bitfields import Layout
from vmxspec.arch.controls import BITS_BY_FIELD, ControlField
from vmxspec.arch.events import EXCEPTION_MNEMONICS
from vmxspec.arch.registers import CR0, CR4, EFER, RFLAGS


@dataclass(frozen=True, slots=True)
class BitNames:
    """The names one value accepts, each with the number it stands for.

    ``title`` names the place in messages ("a bit of the pin-based VM-execution controls");
    ``code`` is the diagnostic for a name not in ``names``; ``universe`` bounds the values.
    """

    title: str
    names: Mapping[str, int]
    code: str
    universe: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "names", MappingProxyType(dict(self.names)))


def _layout_names(layout: Layout) -> dict[str, int]:
    return {f.name: f.mask for f in layout}


# ---- control fields -------------------------------------------------------------------------------

#: The short names of the control fields, as a vmcs block writes them.
CONTROL_ALIASES: dict[str, ControlField] = {f.value: f for f in ControlField}
CONTROL_BY_VMCS_FIELD: dict[str, ControlField] = {f.vmcs_field: f for f in ControlField}

CONTROL_BITS: dict[ControlField, BitNames] = {
    f: BitNames(f"a bit of the {f.title} ({f.value})", {n: b.mask for n, b in BITS_BY_FIELD[f].items()},
                "sema-unknown-control-bit", 1 << f.width)
    for f in ControlField
}

# ---- VMCS fields ----------------------------------------------------------------------------------

#: Short names for fields a vmcs block sets often (DESIGN.md's illustration writes ``vpid = 1``).
FIELD_ALIASES: dict[str, str] = {
    "vpid": "VIRTUAL_PROCESSOR_ID",
    "eptp": "EPT_POINTER",
    "cr0_mask": "CR0_GUEST_HOST_MASK",
    "cr4_mask": "CR4_GUEST_HOST_MASK",
    "cr0_shadow": "CR0_READ_SHADOW",
    "cr4_shadow": "CR4_READ_SHADOW",
}

REGISTER_BITS: dict[str, BitNames] = {
    layout.register: BitNames(f"a {layout.register} bit", _layout_names(layout), "sema-unknown-bit",
                              1 << layout.width)
    for layout in (CR0, CR4, EFER, RFLAGS)
}

#: Fields whose value is a register image, so register bit names may spell it.
FIELD_BITS: dict[str, BitNames] = {
    **{name: REGISTER_BITS["CR0"] for name in ("GUEST_CR0", "HOST_CR0", "CR0_GUEST_HOST_MASK", "CR0_READ_SHADOW")},
    **{name: REGISTER_BITS["CR4"] for name in ("GUEST_CR4", "HOST_CR4", "CR4_GUEST_HOST_MASK", "CR4_READ_SHADOW")},
    **{name: REGISTER_BITS["IA32_EFER"] for name in ("GUEST_IA32_EFER", "HOST_IA32_EFER")},
    "GUEST_RFLAGS": REGISTER_BITS["RFLAGS"],
    **{f.vmcs_field: CONTROL_BITS[f] for f in ControlField},
}


def field_by_name(name: str) -> vmcs_fields.VmcsField | None:
    """A VMCS field by Linux name or alias (control aliases are handled by the caller)."""
    return vmcs_fields.BY_NAME.get(FIELD_ALIASES.get(name, name))


#: Every word that may stand on the left of '=' in a vmcs block, for "did you mean".
VMCS_TARGETS: tuple[str, ...] = (*CONTROL_ALIASES, *FIELD_ALIASES, *vmcs_fields.BY_NAME)

# ---- capability MSRs ------------------------------------------------------------------------------

_CAP_LAYOUTS = {layout.register: layout for layout in (capabilities.BASIC, capabilities.MISC,
                                                        capabilities.EPT_VPID_CAP, capabilities.VMFUNC)}


def _cap_bits(msr: str) -> BitNames:
    """Names usable in a platform setting of ``msr``: its layout's fields, or, for a control
    capability MSR, the control bits (meaning their allowed-1 bit, or the bit itself for the
    MSRs that hold only allowed-1 settings)."""
    if msr in _CAP_LAYOUTS:
        return BitNames(f"a field of {msr}", _layout_names(_CAP_LAYOUTS[msr]), "sema-unknown-bit", 1 << 64)
    for f in ControlField:
        if msr in (f.capability_msr, f.true_capability_msr):
            shift = 0 if msr in capabilities.ALLOWED1_ONLY_MSRS else 32
            return BitNames(f"an allowed-1 control bit of {msr}",
                            {n: b.mask << shift for n, b in BITS_BY_FIELD[f].items()}, "sema-unknown-bit", 1 << 64)
    register = "CR0" if "CR0" in msr else "CR4" if "CR4" in msr else None
    if register is not None:
        return BitNames(f"a {register} bit", REGISTER_BITS[register].names, "sema-unknown-bit", 1 << 64)
    return BitNames(f"a bit of {msr}", {}, "sema-unknown-bit", 1 << 64)


CAP_BITS: dict[str, BitNames] = {m.name: _cap_bits(m.name) for m in capabilities.CAPABILITY_MSRS}
PLATFORM_WIDTHS: dict[str, tuple[int, int]] = {"MAXPHYADDR": capabilities.MAXPHYADDR_RANGE, "MAXLINADDR": (48, 57)}

# ---- VT-d registers -------------------------------------------------------------------------------

VTD_BITS: dict[str, BitNames] = {
    "cap": BitNames("a CAP_REG field", _layout_names(vtd_facts.CAP), "sema-unknown-bit", 1 << 64),
    "ecap": BitNames("an ECAP_REG field", _layout_names(vtd_facts.ECAP), "sema-unknown-bit", 1 << 64),
}
IOMMU_SETTINGS: tuple[str, ...] = ("cap", "ecap", "haw", "segment")

# ---- intercept lists ------------------------------------------------------------------------------

MSR_NAMES = BitNames("an MSR", {m.name: m.number for m in msrs.MSRS}, "sema-unknown-msr", 1 << 32)
#: Exception names as the SDM writes them without '#'. NMI (vector 2) is an interrupt, not an
#: exception: "NMI exiting" decides its exits, and bit 2 of the exception bitmap is never used.
EXCEPTIONS = BitNames("an exception", {m.lstrip("#"): v for v, m in EXCEPTION_MNEMONICS.items() if v != 2},
                      "sema-unknown-exception", 32)
PORTS = BitNames("an I/O port", {}, "sema-unknown-name", 1 << 16)
FIELD_ENCODINGS = BitNames("a VMCS field", {f.name: f.encoding for f in vmcs_fields.FIELDS}, "sema-unknown-field",
                           1 << 15)


@dataclass(frozen=True, slots=True)
class BitmapKind:
    """An intercept list: its sets (by ``Intercepts`` attribute) per mode, and what its items are."""

    name: str
    modes: Mapping[str, str]
    items: BitNames
    #: The control bit that makes the processor consult the bitmap (None: always consulted).
    control: tuple[ControlField, str] | None


BITMAPS: dict[str, BitmapKind] = {
    "msr_bitmap": BitmapKind("msr_bitmap", {"read": "msr_read", "write": "msr_write"}, MSR_NAMES,
                             (ControlField.PROC, "use_msr_bitmaps")),
    "io_bitmap": BitmapKind("io_bitmap", {"": "io"}, PORTS, (ControlField.PROC, "use_io_bitmaps")),
    "exception_bitmap": BitmapKind("exception_bitmap", {"": "exceptions"}, EXCEPTIONS, None),
    "vmread_bitmap": BitmapKind("vmread_bitmap", {"": "vmread"}, FIELD_ENCODINGS,
                                (ControlField.PROC2, "vmcs_shadowing")),
    "vmwrite_bitmap": BitmapKind("vmwrite_bitmap", {"": "vmwrite"}, FIELD_ENCODINGS,
                                 (ControlField.PROC2, "vmcs_shadowing")),
}

# ---- exit events ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class EventKind:
    """What ``prove exits(VM) { NAME arg }`` accepts for one NAME: the state format's event kind,
    the operand its argument gives, the names the argument may use, and the operand's width."""

    name: str
    kind: str
    operand: str | None = None
    names: BitNames | None = None
    width: int = 64


_VALUE = BitNames("a value", {}, "sema-unknown-name", 1 << 64)


def _instruction_events() -> dict[str, EventKind]:
    special: dict[str, tuple[str, BitNames, int]] = {
        "RDMSR": ("ecx", MSR_NAMES, 32), "WRMSR": ("ecx", MSR_NAMES, 32),
        "IN": ("port", PORTS, 16), "OUT": ("port", PORTS, 16), "INS": ("port", PORTS, 16), "OUTS": ("port", PORTS, 16),
        "VMREAD": ("field", FIELD_ENCODINGS, 64), "VMWRITE": ("field", FIELD_ENCODINGS, 64),
        "MOV_TO_CR0": ("value", REGISTER_BITS["CR0"], 64), "MOV_TO_CR4": ("value", REGISTER_BITS["CR4"], 64),
        "MOV_TO_CR3": ("value", _VALUE, 64), "MOV_TO_CR8": ("value", _VALUE, 64),
        "LMSW": ("value", REGISTER_BITS["CR0"], 16), "INVLPG": ("linear_address", _VALUE, 64),
        "MOV_TO_DR": ("dr", _VALUE, 3), "MOV_FROM_DR": ("dr", _VALUE, 3), "ENCLS": ("eax", _VALUE, 32),
    }
    out: dict[str, EventKind] = {}
    for mnemonic in exit_facts.INSTRUCTIONS:
        found = special.get(mnemonic)
        if found is None:
            out[mnemonic] = EventKind(mnemonic, "instruction")
        else:
            out[mnemonic] = EventKind(mnemonic, "instruction", *found)
    return out


_VECTOR = BitNames("a vector", {}, "sema-unknown-name", 256)

EVENTS: dict[str, EventKind] = {
    **_instruction_events(),
    "EXCEPTION": EventKind("EXCEPTION", "exception", "vector", EXCEPTIONS, 5),
    "EXTERNAL_INTERRUPT": EventKind("EXTERNAL_INTERRUPT", "external_interrupt", "vector", _VECTOR, 8),
    "SOFTWARE_INTERRUPT": EventKind("SOFTWARE_INTERRUPT", "software_interrupt", "vector", _VECTOR, 8),
    "SIPI": EventKind("SIPI", "sipi", "vector", _VECTOR, 8),
    "NMI": EventKind("NMI", "nmi"),
    "TRIPLE_FAULT": EventKind("TRIPLE_FAULT", "triple_fault"),
    "INIT_SIGNAL": EventKind("INIT_SIGNAL", "init_signal"),
    "TASK_SWITCH": EventKind("TASK_SWITCH", "task_switch"),
    "EPT_VIOLATION": EventKind("EPT_VIOLATION", "ept_violation", "gpa", _VALUE, 64),
}
NOT_MODELLED_EVENTS: Mapping[str, str] = exit_facts.NOT_MODELLED

# ---- map attributes -------------------------------------------------------------------------------

MEMTYPES: dict[str, int] = {"uc": 0, "wc": 1, "wt": 4, "wp": 5, "wb": 6}
PAGE_SIZES: dict[int, str] = {1 << 12: "4K", 1 << 21: "2M", 1 << 30: "1G"}
MAP_FLAGS: tuple[str, ...] = ("ipat", "ignore_pat", "suppress_ve")
MAP_ATTRIBUTES: tuple[str, ...] = ("r", "rw", "rx", "rwx", "x", "rwxu", "rxu", *MEMTYPES, "page", *MAP_FLAGS)


def permissions(word: str) -> tuple[bool, bool, bool, bool] | None:
    """``rwx``-style letters (``u`` = user-execute under MBEC): (r, w, x, xu), or None if not one."""
    if not word or any(c not in "rwxu" for c in word) or len(set(word)) != len(word):
        return None
    return "r" in word, "w" in word, "x" in word, "u" in word


_RIGHTS = {"r": 1, "w": 2, "x": 4}  # the EPT permission bits (model.READ, WRITE, EXECUTE)


def rights(word: str) -> int | None:
    """Access rights written as letters of ``r``, ``w``, ``x`` (any order, each once, at least
    one): their EPT permission bits, or None if the word is not one."""
    if not word or any(c not in _RIGHTS for c in word) or len(set(word)) != len(word):
        return None
    return sum(_RIGHTS[c] for c in word)


def rights_problem(word: str) -> str:
    """Why ``word`` is not a set of access rights (for a word ``rights`` rejects)."""
    if word in ("none", "no", "nothing", "_"):
        return "a party without rights is not a party (leave it out)"
    if "u" in word and all(c in "rwxu" for c in word):
        return "'x' covers every instruction fetch, user-mode ones too; there is no separate 'u' here"
    repeated = sorted({c for c in word if word.count(c) > 1})
    if repeated and all(c in _RIGHTS for c in word):
        return f"'{repeated[0]}' is written twice"
    return "rights are letters of r (read), w (write) and x (execute), each at most once: r, rw, rx, rwx ..."


# ---- properties and functions ---------------------------------------------------------------------

#: Argument kinds: vm, host (a VM or hypervisor), paging (VM, VM.ept or an IOMMU), iommu,
#: region (a host range, a shared region or hypervisor), vmcs (vmcs01/vmcs12/vmcs02, in a nested
#: block), value, rights (letters of r, w, x). A property's signatures are told apart by their
#: number of arguments.
PROPERTIES: dict[str, tuple[tuple[str, ...], ...]] = {
    "vmentry_valid": (("vm_or_vmcs",),),
    "no_misconfig": (("paging",),),
    "isolated": (("host", "host"),),
    "dma_isolated": (("iommu",),),
    "protects": (("region",), ("region", "rights")),
    "exits": (("vm",),),
    "preserves_exits": (("vmcs", "vmcs"),),
    "honors_exits": (("vmcs", "vmcs"),),
    "entry_safe": (("vmcs", "vmcs"),),
}
NESTED_PROPERTIES = frozenset({"preserves_exits", "honors_exits", "entry_safe"})
#: Functions usable in user assertions: their signatures (argument kinds, told apart by count),
#: and the result's kind. Through an EPT: (tables, guest-physical address); through an IOMMU:
#: (unit, requesting device, IOVA), because VT-d translation depends on the requester.
_ACCESS = (("ept", "value"), ("iommu", "device", "value"))
FUNCTIONS: dict[str, tuple[tuple[tuple[str, ...], ...], str]] = {
    "translates": (_ACCESS, "condition"),
    "readable": (_ACCESS, "condition"),
    "writable": (_ACCESS, "condition"),
    "executable": ((("ept", "value"),), "condition"),
    "target": (_ACCESS, "value"),
}

# ---- helpers --------------------------------------------------------------------------------------


def suggest(name: str, candidates: Iterable[str]) -> str:
    """``; did you mean 'X'?`` for the closest candidate (case-insensitive), or ``""``."""
    by_folded: dict[str, str] = {}
    for c in candidates:
        by_folded.setdefault(c.lower(), c)
    close = difflib.get_close_matches(name.lower(), list(by_folded), n=1, cutoff=0.6)
    return f"; did you mean '{by_folded[close[0]]}'?" if close else ""


#: Every constant table, for context-free lookups and for saying what a misplaced name is.
_CONSTANT_TABLES: tuple[BitNames, ...] = (
    *CONTROL_BITS.values(), *REGISTER_BITS.values(), MSR_NAMES, EXCEPTIONS,
)


def constants(name: str) -> list[tuple[BitNames, int]]:
    """Every table that defines ``name`` as a constant, with its value there."""
    return [(t, t.names[name]) for t in _CONSTANT_TABLES if name in t.names]


#: What some names that look like they belong somewhere actually are.
_NOT_WHAT_IT_SEEMS: dict[str, str] = {
    "NMI": "NMIs exit through 'nmi_exiting' (pin), not through the exception bitmap",
}


def elsewhere(name: str) -> str:
    """What ``name`` is, if anything vmxspec knows ("it is a bit of the ... (proc)")."""
    if name in _NOT_WHAT_IT_SEEMS:
        return f"; {_NOT_WHAT_IT_SEEMS[name]}"
    found = [t.title for t in _CONSTANT_TABLES if name in t.names]
    if field_by_name(name) is not None:
        found.append("a VMCS field")
    if name in CONTROL_ALIASES:
        found.append(f"a control field ({CONTROL_ALIASES[name].title})")
    if not found:
        return ""
    return f"; '{name}' is {' and '.join(found[:3])}"


def _unambiguous() -> BitNames:
    values: dict[str, set[int]] = {}
    for table in _CONSTANT_TABLES:
        for name, value in table.names.items():
            values.setdefault(name, set()).add(value)
    return BitNames("a named constant", {n: v.pop() for n, v in values.items() if len(v) == 1},
                    "sema-unknown-name", 1 << 64)


#: Every constant whose name means one value wherever it is defined: what a set literal with no
#: other context (``forall m in { IA32_EFER, IA32_LSTAR }``) may name.
UNAMBIGUOUS = _unambiguous()


def all_constant_names() -> list[str]:
    return sorted({n for t in _CONSTANT_TABLES for n in t.names})
