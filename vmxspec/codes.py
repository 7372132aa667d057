"""The one registry of diagnostic codes a user can see.

Every error or warning vmxspec prints carries one of these codes; ``vmxspec explain CODE`` reads
this table, and so will the SARIF rule list. Codes are stable: never reuse or rename one. Rule ids
(``CTL-PIN-RSVD`` ...) live in ``vmxspec.arch.rules`` and are a separate, upper-case namespace.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Severity(Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class Code:
    id: str
    severity: Severity
    summary: str
    explanation: str


_E = Severity.ERROR

CODES: tuple[Code, ...] = (
    Code("json-syntax", _E, "The input is not valid JSON",
         "A state file or a line of a question stream could not be parsed as JSON. In a question stream "
         "the bad line gets this error and the next line is still answered."),
    Code("bad-shape", _E, "A JSON value has the wrong type",
         "An object was expected and something else was given (for example a list where the state's "
         "'vmcs' object belongs), or a required key is absent."),
    Code("unknown-key", _E, "A key that the format does not define",
         "vmxspec-state/1 rejects unknown keys rather than ignoring them, because a misspelt key that is "
         "silently ignored produces a wrong verdict. Keys starting with 'x-' are for your own use and "
         "are ignored."),
    Code("bad-format", _E, "The 'format' key names another format or version",
         "A state declares its format as \"vmxspec-state/1\". Leave the key out or give exactly that "
         "string."),
    Code("bad-number", _E, "A value is not a number vmxspec can read",
         "Numbers are JSON integers or strings: \"0x1f\" (hex, '_' allowed between digits) or \"31\" "
         "(decimal). All values are unsigned."),
    Code("value-too-wide", _E, "A value does not fit the width of its field",
         "Values are never truncated: a 16-bit field holding 0x10000 is an error, not 0."),
    Code("unknown-field", _E, "Not a VMCS field vmxspec knows",
         "VMCS fields are named as in Linux's vmx.h (PIN_BASED_VM_EXEC_CONTROL, GUEST_CR0, ...) or given "
         "by their SDM encoding (\"0x4000\"). 64-bit fields are one key: there are no _HIGH halves."),
    Code("unknown-msr", _E, "Not a capability MSR vmxspec knows",
         "Capability MSRs are named IA32_VMX_BASIC ... IA32_VMX_EXIT_CTLS2, or given by number "
         "(\"0x480\"); MAXPHYADDR and MAXLINADDR give the CPUID address widths."),
    Code("bad-address", _E, "A memory address is not 8-byte aligned",
         "The 'memory' object maps 8-byte-aligned host-physical addresses to 64-bit little-endian words."),
    Code("missing-field", _E, "A check needs a VMCS field the state does not give",
         "Missing fields are never assumed to be 0. Add the field to the state, or restrict the question "
         "to the checks you have data for (\"checks\": [\"controls\"])."),
    Code("missing-capability", _E, "A check needs a capability MSR the state does not give",
         "A capability MSR may be left out only where the SDM says it does not exist (for example "
         "IA32_VMX_PROCBASED_CTLS2 when secondary controls cannot be activated). Otherwise give its value, "
         "or start from a platform preset."),
    Code("bad-query", _E, "The question's 'query' is malformed",
         "A query is an object with a 'kind' (vmentry, ept, dma or exit) and the keys that kind takes."),
    Code("unsupported-query", _E, "This kind of question is not answered yet",
         "vmxspec eval answers 'vmentry' questions today. EPT walks, DMA translation and exit decisions "
         "arrive with the interpreter for them; until then such a question gets this error and the "
         "stream goes on."),
    Code("unknown-preset", _E, "No platform preset by that name",
         "Platform presets are shipped capability sets; 'vmxspec explain --presets' lists them."),
    Code("io-error", _E, "A file could not be read", "The path does not exist or cannot be read."),
    Code("usage", _E, "The command line is not valid", "See 'vmxspec --help'."),
    Code("internal-error", _E, "A bug in vmxspec",
         "vmxspec hit a condition it does not expect. This is never a verdict about your input; please "
         "report it with the input that caused it."),
)

BY_ID: dict[str, Code] = {c.id: c for c in CODES}


def code(id: str) -> Code:
    """Look up a code; an unknown id is a programming error, caught by the registry test."""
    return BY_ID[id]
