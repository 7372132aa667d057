"""Reading ``query.event`` (STATE_FORMAT.md "A question"): one guest event, checked key by key.

A malformed event is a StateError "bad-query" whose path names the offending key, with a "did you
mean" for a misspelt kind, mnemonic or operand: an operand that is silently ignored would give an
answer about a different instruction. Operands are stored as ints: booleans as 0/1, the ``operand``
encoding as 0 (DX, register) or 1 (immediate, memory).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from vmxspec.arch import exits as A
from vmxspec.state import StateError
from vmxspec.state.numbers import describe, did_you_mean, parse_number

EVENT_KINDS: tuple[str, ...] = ("instruction", "exception", "external_interrupt", "nmi", "software_interrupt",
                                "triple_fault", "init_signal", "sipi", "task_switch", "after_vm_entry")

#: For each non-instruction kind: (required keys, optional keys), besides "kind".
_EVENT_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "exception": (("vector",), ("error_code", "linear_address", "dr6")),
    "external_interrupt": (("vector",), ()),
    "nmi": ((), ()),
    "software_interrupt": (("vector",), ()),
    "triple_fault": ((), ()),
    "init_signal": ((), ()),
    "sipi": (("vector",), ()),
    "task_switch": (("initiator", "tss_selector"), ()),
    "after_vm_entry": ((), ("preemption_timer_value",)),
}
_EVENT_WIDTHS = {"vector": 8, "error_code": 32, "linear_address": 64, "dr6": 64, "tss_selector": 16,
                 "preemption_timer_value": 32}
_OPERAND_CODES = {"IN": ("dx", "imm"), "OUT": ("dx", "imm"), "INS": ("dx",), "OUTS": ("dx",),
                  "LMSW": ("reg", "mem"), "SMSW": ("reg", "mem")}
_WHAT = {"ecx": "the MSR index", "port": "the I/O port", "size": "the access size in bytes (1, 2 or 4)",
         "operand": "how the port is given: \"dx\" or \"imm\"", "value": "the source operand",
         "gpr": "the general-purpose register (0-15 or a name such as \"rax\")", "dr": "the debug register (0-7)",
         "field": "the VMCS field encoding in the register operand", "linear_address": "the linear-address operand",
         "eax": "EAX", "vector": "the vector", "initiator": "what starts the task switch (call, iret, jmp, idt)",
         "tss_selector": "the TSS selector", "error_code": "the page-fault error code"}


@dataclass(frozen=True, slots=True)
class Event:
    kind: str
    insn: A.InstructionFacts | None
    ops: dict[str, int]


def _path(key: str) -> str:
    return f"query.event.{key}"


def parse_event(doc: object) -> Event:
    if not isinstance(doc, Mapping):
        raise StateError("bad-query", "'event' is an object such as {\"kind\": \"instruction\", \"insn\": "
                         f"\"CPUID\"}}, got {describe(doc)}", "query.event")
    kind = doc.get("kind")
    if not isinstance(kind, str) or kind not in EVENT_KINDS:
        shown = repr(kind) if isinstance(kind, str) else describe(kind)
        hint = did_you_mean(kind, EVENT_KINDS) if isinstance(kind, str) else ""
        raise StateError("bad-query", f"event kind must be one of {', '.join(EVENT_KINDS)}, got {shown}{hint}",
                         _path("kind"))
    if kind == "instruction":
        return _instruction(doc)
    required, optional = _EVENT_KEYS[kind]
    _check_keys(doc, ("kind", *required, *optional), kind)
    ops: dict[str, int] = {}
    for key in (*required, *optional):
        if key not in doc:
            if key in required:
                raise StateError("bad-query", f"a{'n' if kind[0] in 'aeio' else ''} {kind} event needs "
                                 f"'{key}' ({_WHAT.get(key, key)})", _path(key))
            continue
        if key == "initiator":
            ops[key] = _initiator(doc[key])
        else:
            ops[key] = parse_number(doc[key], _path(key), _EVENT_WIDTHS[key])
    if kind == "exception":
        _exception(ops)
    return Event(kind, None, ops)


def _check_keys(doc: Mapping[str, object], allowed: tuple[str, ...], what: str) -> None:
    for key in doc:
        if key in allowed or key.startswith("x-"):
            continue
        raise StateError("bad-query", f"unknown key '{key}' for {what}{did_you_mean(key, allowed)} "
                         f"(it takes {', '.join(allowed)})", _path(key))


def _initiator(value: object) -> int:
    if not isinstance(value, str) or value not in A.TASK_SWITCH_SOURCES:
        hint = did_you_mean(value, tuple(A.TASK_SWITCH_SOURCES)) if isinstance(value, str) else ""
        raise StateError("bad-query", f"initiator must be one of {', '.join(A.TASK_SWITCH_SOURCES)}, got "
                         f"{value!r}{hint}", _path("initiator"))
    return A.TASK_SWITCH_SOURCES[value]


def _exception(ops: dict[str, int]) -> None:
    vector = ops["vector"]
    if vector > 31:
        raise StateError("bad-query", f"exception vectors are 0-31, got {vector}; an interrupt with a higher "
                         "vector is an external_interrupt or software_interrupt event", _path("vector"))
    if vector == A.NMI_VECTOR:
        raise StateError("bad-query", "vector 2 is the NMI, not an exception: ask with kind \"nmi\"", _path("vector"))
    if vector == A.PF_VECTOR:
        for key in ("error_code", "linear_address"):
            if key not in ops:
                what = "the page-fault error code" if key == "error_code" else \
                    "the faulting linear address, which becomes the exit qualification"
                raise StateError("bad-query", f"a page fault needs '{key}' ({what})", _path(key))
    elif "linear_address" in ops:
        raise StateError("bad-query", "'linear_address' belongs to page faults (vector 14) only",
                         _path("linear_address"))
    if "dr6" in ops and vector != A.DB_VECTOR:
        raise StateError("bad-query", "'dr6' belongs to debug exceptions (vector 1) only", _path("dr6"))


def _instruction(doc: Mapping[str, object]) -> Event:
    raw = doc.get("insn")
    if not isinstance(raw, str):
        raise StateError("bad-query", f"an instruction event needs 'insn', the mnemonic (\"RDMSR\", \"MOV_TO_CR0\", "
                         f"...), got {describe(raw)}", _path("insn"))
    mnemonic = raw.strip().upper()
    if mnemonic in A.NOT_MODELLED:
        raise StateError("unsupported-query", f"vmxspec does not model VM exits of {mnemonic}: "
                         f"{A.NOT_MODELLED[mnemonic]}", _path("insn"))
    facts = A.INSTRUCTIONS.get(mnemonic)
    if facts is None:
        known = (*A.INSTRUCTIONS, *A.NOT_MODELLED)
        raise StateError("bad-query", f"unknown instruction '{raw}'{did_you_mean(mnemonic, known)}", _path("insn"))
    _check_keys(doc, ("kind", "insn", *facts.required, *facts.optional), mnemonic)
    ops: dict[str, int] = {}
    for key in facts.required:
        if key not in doc:
            raise StateError("bad-query", f"{mnemonic} needs '{key}' ({_WHAT.get(key, key)})", _path(key))
    for key in (*facts.required, *facts.optional):
        if key in doc:
            ops[key] = _operand(mnemonic, key, doc[key])
    _consistency(facts, ops)
    return Event("instruction", facts, ops)


def _operand(mnemonic: str, key: str, value: object) -> int:
    path = _path(key)
    width = A.OPERAND_WIDTHS.get(key)
    if width is not None:
        return parse_number(value, path, 16 if mnemonic == "LMSW" and key == "value" else width)
    if key in A.BOOL_OPERANDS:
        if not isinstance(value, bool):
            raise StateError("bad-query", f"'{key}' is true or false, got {describe(value)}", path)
        return int(value)
    if key == "size":
        size = parse_number(value, path, 8)
        if size not in A.IO_SIZES:
            raise StateError("bad-query", f"an I/O access is 1, 2 or 4 bytes, got {size}", path)
        return size
    if key == "gpr":
        if isinstance(value, str) and value.strip().lower() in A.GPR_NUMBERS:
            return A.GPR_NUMBERS[value.strip().lower()]
        if isinstance(value, str) and not value.strip()[:1].isdigit():
            raise StateError("bad-query", f"unknown register '{value}'{did_you_mean(value.lower(), A.GPR_NAMES)}",
                             path)
        number = parse_number(value, path, 8)
        if number > 15:
            raise StateError("bad-query", f"general-purpose registers are numbered 0-15, got {number}", path)
        return number
    if key == "dr":
        number = parse_number(value, path, 8)
        if number > 7:
            raise StateError("bad-query", f"debug registers are DR0-DR7, got {number}", path)
        return number
    if key == "operand":
        codes = _OPERAND_CODES[mnemonic]
        if not isinstance(value, str) or value not in codes:
            hint = did_you_mean(value, codes) if isinstance(value, str) else ""
            raise StateError("bad-query", f"'operand' of {mnemonic} is {' or '.join(repr(c) for c in codes)}, "
                             f"got {value!r}{hint}", path)
        return codes.index(value)
    raise AssertionError(f"operand '{key}' has no reader")


def _consistency(facts: A.InstructionFacts, ops: dict[str, int]) -> None:
    """Operand combinations no instruction encoding can produce."""
    if facts.mnemonic in ("IN", "OUT") and ops.get("operand") == 1 and ops["port"] > 0xFF:
        raise StateError("bad-query", f"{facts.mnemonic} with an immediate port takes ports 0-0xff, got "
                         f"{ops['port']:#x}", _path("port"))
    if facts.decider is A.Decider.XSS:
        if "edx_eax" in ops and ("eax" in ops or "edx" in ops):
            raise StateError("bad-query", f"give EDX:EAX of {facts.mnemonic} either as 'edx_eax' or as 'eax' and "
                             "'edx', not both", _path("edx_eax"))
        if "edx_eax" not in ops and not ("eax" in ops and "edx" in ops):
            raise StateError("bad-query", f"{facts.mnemonic} needs its requested-feature bitmap EDX:EAX "
                             "('edx_eax', or 'eax' and 'edx')", _path("edx_eax"))
        if "edx_eax" not in ops:
            ops["edx_eax"] = ops["edx"] << 32 | ops["eax"]
    if "since_loop_start" in ops and "since_last_pause" not in ops:
        raise StateError("bad-query", "'since_loop_start' needs 'since_last_pause': without it the PAUSE is the "
                         "first at CPL 0 after VM entry", _path("since_loop_start"))
    if "since_loop_start" in ops and ops["since_loop_start"] < ops["since_last_pause"]:
        raise StateError("bad-query", "the first PAUSE of a loop cannot be more recent than the previous PAUSE: "
                         "since_loop_start must be at least since_last_pause", _path("since_loop_start"))
