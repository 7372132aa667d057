"""Readers for the keys that several query kinds share: numbers, booleans, enumerations."""

from __future__ import annotations

from collections.abc import Mapping

from vmxspec.state import StateError
from vmxspec.state.numbers import describe, did_you_mean, parse_number


def check_keys(query: Mapping[str, object], allowed: tuple[str, ...]) -> None:
    for key in query:
        if key not in allowed and not key.startswith("x-"):
            raise StateError("unknown-key", f"unknown key '{key}'{did_you_mean(key, allowed)}", f"query.{key}")


def required(query: Mapping[str, object], key: str) -> object:
    if key not in query:
        raise StateError("bad-query", f"this query needs '{key}'", f"query.{key}")
    return query[key]


def number(query: Mapping[str, object], key: str, width: int = 64) -> int:
    return parse_number(required(query, key), f"query.{key}", width)


def choice(query: Mapping[str, object], key: str, options: tuple[str, ...], default: str | None = None) -> str:
    if key not in query and default is not None:
        return default
    value = required(query, key)
    if not isinstance(value, str) or value not in options:
        hint = did_you_mean(value, options) if isinstance(value, str) else ""
        shown = repr(value) if isinstance(value, str) else describe(value)
        raise StateError("bad-query", f"'{key}' must be one of {', '.join(options)}, got {shown}{hint}",
                         f"query.{key}")
    return value


def flag(query: Mapping[str, object], key: str) -> bool:
    value = query.get(key, False)
    if not isinstance(value, bool):
        raise StateError("bad-query", f"'{key}' must be true or false, got {describe(value)}", f"query.{key}")
    return value
