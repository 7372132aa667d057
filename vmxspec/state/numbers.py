"""Reading the numbers of vmxspec-state/1: JSON integers, ``"0x1f"`` or ``"31"``, never negative."""

from __future__ import annotations

import difflib
import re

from vmxspec.state.errors import StateError

_HEX = re.compile(r"0[xX][0-9a-fA-F]+(?:_[0-9a-fA-F]+)*")
_DEC = re.compile(r"[0-9]+(?:_[0-9]+)*")


def parse_number(value: object, path: str, width: int | None = None) -> int:
    """An unsigned integer that fits in ``width`` bits (when given), or a StateError."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise StateError("bad-number", f"expected a number, got {_kind(value)}", path)
    if isinstance(value, int):
        n = value
        if n < 0:
            raise StateError("bad-number", f"values are unsigned, got {n}", path)
    else:
        s = value.strip()
        if _HEX.fullmatch(s):
            n = int(s[2:].replace("_", ""), 16)
        elif _DEC.fullmatch(s):
            n = int(s.replace("_", ""), 10)
        else:
            raise StateError("bad-number", f"{value!r} is not a number (write \"0x1f\" or \"31\")", path)
    if width is not None and n >> width:
        raise StateError("value-too-wide", f"{n:#x} does not fit in {width} bits", path)
    return n


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, float):
        return "a floating-point number"
    return type(value).__name__


def describe(value: object) -> str:
    return _kind(value)


def did_you_mean(name: str, candidates: list[str] | tuple[str, ...]) -> str:
    """A ``; did you mean 'X'?`` suffix, or empty when nothing is close."""
    upper = {c.upper(): c for c in candidates}
    close = difflib.get_close_matches(name.upper(), list(upper), n=1, cutoff=0.6)
    return f"; did you mean '{upper[close[0]]}'?" if close else ""
