"""Event-injection formats (SDM "VM-Entry Controls for Event Injection").

The VM-entry interruption-information field, its interruption types, and the exception vectors
that deliver an error code.
"""

from __future__ import annotations

from enum import IntEnum

from vmxspec.arch.bitfields import BitField, Layout, mask

INTR_INFO = Layout("VM-entry interruption-information", 32, (
    BitField("vector", 0, 8, "Vector of interrupt or exception"),
    BitField("type", 8, 3, "Interruption type"),
    BitField("deliver_error_code", 11, 1, "Deliver error code"),
    BitField("valid", 31, 1, "Valid"),
))
INTR_INFO_VALID = 1 << 31
INTR_INFO_DELIVER_ERROR_CODE = 1 << 11
#: Bits 30:12 are reserved at VM entry (bit 13 becomes "nested exception" with FRED).
INTR_INFO_RESERVED = mask(12, 30)


class InterruptionType(IntEnum):
    EXTERNAL_INTERRUPT = 0
    RESERVED = 1
    NMI = 2
    HARDWARE_EXCEPTION = 3
    SOFTWARE_INTERRUPT = 4
    PRIVILEGED_SOFTWARE_EXCEPTION = 5
    SOFTWARE_EXCEPTION = 6
    OTHER_EVENT = 7


#: Types for which VM entry uses VM_ENTRY_INSTRUCTION_LEN.
SOFTWARE_EVENT_TYPES = frozenset({
    InterruptionType.SOFTWARE_INTERRUPT,
    InterruptionType.PRIVILEGED_SOFTWARE_EXCEPTION,
    InterruptionType.SOFTWARE_EXCEPTION,
})

#: Exceptions that push an error code: #DF, #TS, #NP, #SS, #GP, #PF, #AC (SDM "Exception and
#: Interrupt Reference"). #CP (21) also does on processors with CET.
ERROR_CODE_VECTORS = frozenset({8, 10, 11, 12, 13, 14, 17})
CET_ERROR_CODE_VECTOR = 21

NMI_VECTOR = 2
DEBUG_VECTOR = 1
MACHINE_CHECK_VECTOR = 18
MAX_INSTRUCTION_LENGTH = 15

EXCEPTION_MNEMONICS: dict[int, str] = {
    0: "#DE", 1: "#DB", 2: "NMI", 3: "#BP", 4: "#OF", 5: "#BR", 6: "#UD", 7: "#NM", 8: "#DF",
    10: "#TS", 11: "#NP", 12: "#SS", 13: "#GP", 14: "#PF", 16: "#MF", 17: "#AC", 18: "#MC",
    19: "#XM", 20: "#VE", 21: "#CP",
}
