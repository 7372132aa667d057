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
    Code("unsupported-query", _E, "The interpreter does not model what this question asks",
         "A few cases fall outside what the reference interpreter models (for example VMFUNC or ENCLV exit "
         "decisions, or the interrupt window after a VM entry that injects an event); the message names "
         "the case. The interpreter says so rather than guess an answer, and the stream goes on."),
    Code("unknown-preset", _E, "No platform preset by that name",
         "Platform presets are shipped capability sets; 'vmxspec explain --presets' lists them."),
    Code("io-error", _E, "A file could not be read", "The path does not exist or cannot be read."),
    Code("usage", _E, "The command line is not valid", "See 'vmxspec --help'."),
    Code("internal-error", _E, "A bug in vmxspec",
         "vmxspec hit a condition it does not expect. This is never a verdict about your input; please "
         "report it with the input that caused it."),
    # ---- spec syntax (vmxspec.syntax) ----
    Code("syntax-unexpected-token", _E, "A word or symbol that cannot stand here in a spec",
         "The parser names what it found and what could have come instead. Statements need no "
         "separator; a block's statements are listed in docs/language.md."),
    Code("syntax-unclosed-block", _E, "A '{', '(' or '[' is never closed",
         "The file ended, or a top-level statement (vm, iommu, prove, ...) began, while a block was "
         "still open. The note points at the opening bracket. '#' starts a comment, so '#PF' hides "
         "the rest of its line: write exceptions as PF, GP, UD."),
    Code("syntax-unexpected-character", _E, "A character that starts no word of the language",
         "Names are ASCII letters, digits and '_'; strings use double quotes; statements need no ';'."),
    Code("syntax-unterminated-string", _E, "A string has no closing '\"' on its line",
         "Strings (import paths) are written in double quotes and end on the line they start on."),
    Code("syntax-bad-number", _E, "A number literal is malformed or wider than 64 bits",
         "Numbers are decimal (4096), hexadecimal (0x1000) or binary (0b1010), with '_' allowed between "
         "digits (0x8000_0000), or sizes with an upper-case binary suffix: 4K, 2M, 1G, 1T."),
    Code("syntax-bad-bdf", _E, "A PCI address is malformed",
         "PCI devices are written segment:bus:device.function in hexadecimal, as lspci prints them: "
         "0000:03:00.0, or 03:00.0 for segment 0. The device is 00-1f and the function 0-7."),
    Code("syntax-encoding", _E, "The spec file is not UTF-8",
         "Spec files are read as UTF-8 (a leading byte-order mark is allowed). The message gives the "
         "offset of the first byte that does not decode."),
    Code("syntax-too-deep", _E, "An expression is nested more than 128 levels deep",
         "The limit keeps every later stage within Python's recursion limit. Real specs stay far below "
         "it; split the expression, or OR fewer terms in one line."),
)

BY_ID: dict[str, Code] = {c.id: c for c in CODES}


def code(id: str) -> Code:
    """Look up a code; an unknown id is a programming error, caught by the registry test."""
    return BY_ID[id]
