"""Reading number and PCI-address literals, with a precise reason when one is malformed.

The lexer's NUMBER and BDF tokens are deliberately loose (``0x12g4`` is one token), so that a typo
in a literal gets one clear message here instead of "unexpected name 'g4'" from the parser.
"""

from __future__ import annotations

import re

#: Size suffixes, binary multiples as the SDM means them (a "2-MByte page" is 2 MiB).
SIZE_SUFFIXES = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}

#: Literals are 64-bit: nothing in VMX, EPT or VT-d is wider, and a longer literal is a typo.
MAX_BITS = 64

_HEX = re.compile(r"0[xX]([0-9a-fA-F]+(?:_[0-9a-fA-F]+)*)")
_BIN = re.compile(r"0[bB]([01]+(?:_[01]+)*)")
_DEC = re.compile(r"([0-9]+(?:_[0-9]+)*)([KMGT]?)")
_HEX_DIGIT = re.compile(r"[0-9a-fA-F_]")


class LiteralError(ValueError):
    """A malformed literal; the message says what is wrong, in the user's terms."""


def number_value(text: str) -> int:
    """The value of a NUMBER token: ``0x1f``, ``0b101``, ``31``, ``4K``, with ``_`` between digits."""
    if m := _HEX.fullmatch(text):
        return _fit(text, m.group(1), 16)
    if m := _BIN.fullmatch(text):
        return _fit(text, m.group(1), 2)
    if m := _DEC.fullmatch(text):
        return _fit(text, m.group(1), 10) * SIZE_SUFFIXES.get(m.group(2), 1)
    raise LiteralError(_why_not(text))


def _fit(text: str, digits: str, base: int) -> int:
    digits = digits.replace("_", "").lstrip("0") or "0"
    # Check the length before converting: int() of a huge decimal string is slow (and refused).
    limit = {16: MAX_BITS // 4, 2: MAX_BITS, 10: 20}[base]
    value = int(digits, base) if len(digits) <= limit else 1 << MAX_BITS
    if value >> MAX_BITS:
        raise LiteralError(f"'{_short(text)}' does not fit in {MAX_BITS} bits")
    return value


def _why_not(text: str) -> str:
    shown = _short(text)
    low = text.lower()
    if low.startswith(("0x", "0b")):
        kind, allowed = ("hexadecimal", "0123456789abcdefABCDEF") if low[1] == "x" else ("binary", "01")
        body = text[2:]
        if not body.replace("_", ""):
            return f"'{shown}' has no digits after '{text[:2]}'"
        for ch in body:
            if ch != "_" and ch not in allowed:
                return f"'{shown}' is not a number: '{ch}' is not a {kind} digit"
        return f"'{shown}' is not a number: '_' may only stand between two digits"
    digits = re.match(r"[0-9_]*", text)
    assert digits is not None
    rest = text[digits.end():]
    number = digits.group(0)
    if rest and rest[0] in "kmgt" and len(rest) == 1:
        return f"'{shown}' is not a number: size suffixes are upper case, write '{number}{rest.upper()}'"
    if rest[:1].upper() in SIZE_SUFFIXES and rest[1:].upper() in ("B", "IB"):
        return f"'{shown}' is not a number: write sizes as '{number}{rest[0].upper()}'"
    if not rest:
        return f"'{shown}' is not a number: '_' may only stand between two digits"
    if rest[:1].upper() in SIZE_SUFFIXES and rest[1:2] != "":
        return f"'{shown}' is not a number: a size suffix (K, M, G or T) ends the number"
    if _HEX_DIGIT.fullmatch(rest[0]) and all(_HEX_DIGIT.fullmatch(c) for c in rest):
        return f"'{shown}' is not a number: hexadecimal numbers start with '0x'"
    return f"'{shown}' is not a number: '{rest[0]}' cannot follow a decimal digit"


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."


_BDF = re.compile(r"(?:([0-9A-Za-z_]+):)?([0-9A-Za-z_]+):([0-9A-Za-z_]+)(?:\.([0-9A-Za-z_]*))?")


def bdf_value(text: str) -> tuple[int | None, int, int, int]:
    """``(segment, bus, device, function)`` of ``0000:03:00.0`` or ``03:00.0`` (segment None)."""
    shown = _short(text)
    m = _BDF.fullmatch(text)
    if m is None:
        raise LiteralError(f"'{shown}' is not a PCI address: write segment:bus:device.function, "
                           "like 0000:03:00.0")
    segment, bus, device, function = m.groups()
    if function is None:
        return _bdf_fail(shown, "the function number is missing (add '.0' through '.7')")
    if segment is not None and not _hex_digits(segment, 4):
        return _bdf_fail(shown, "the segment is 4 hexadecimal digits (0000-ffff)")
    if not _hex_digits(bus, 2):
        return _bdf_fail(shown, "the bus is 2 hexadecimal digits (00-ff)")
    if not _hex_digits(device, 2) or int(device, 16) > 0x1F:
        return _bdf_fail(shown, "the device is 2 hexadecimal digits, 00-1f")
    if len(function) != 1 or function not in "01234567":
        return _bdf_fail(shown, "the function is one digit, 0-7")
    return (int(segment, 16) if segment is not None else None, int(bus, 16), int(device, 16),
            int(function))


def _hex_digits(text: str, count: int) -> bool:
    return len(text) == count and all(c in "0123456789abcdefABCDEF" for c in text)


def _bdf_fail(shown: str, why: str) -> tuple[int | None, int, int, int]:
    raise LiteralError(f"'{shown}' is not a PCI address: {why}")


def format_bdf(segment: int | None, bus: int, device: int, function: int) -> str:
    """The canonical spelling: lower-case hex, zero-padded, segment only when it was given."""
    head = f"{segment:04x}:" if segment is not None else ""
    return f"{head}{bus:02x}:{device:02x}.{function}"


def format_number(value: int, text: str = "") -> str:
    """How the formatter spells a number: as written when that still reads ``value``, else canonical.

    The canonical form is decimal below 10 and hex otherwise, digits grouped by four with ``_``,
    which is how the SDM and most hypervisor sources write addresses.
    """
    if text:
        try:
            if number_value(text) == value:
                return text
        except LiteralError:
            pass
    if value < 10:
        return str(value)
    digits = f"{value:x}"
    groups = []
    while digits:
        groups.append(digits[-4:])
        digits = digits[:-4]
    return "0x" + "_".join(reversed(groups))
