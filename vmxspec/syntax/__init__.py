"""The spec language's syntax: grammar, parser, syntax tree and formatter.

This is the only package that imports lark; nothing lark-typed leaves it.
"""

from vmxspec.syntax.parser import (
    ParseResult,
    SpecSyntaxError,
    parse,
    parse_bytes,
    try_parse,
    try_parse_bytes,
)

__all__ = ["ParseResult", "SpecSyntaxError", "parse", "parse_bytes", "try_parse", "try_parse_bytes"]
