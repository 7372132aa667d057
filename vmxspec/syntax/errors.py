"""Turning lark's parse errors into diagnostics a person can act on.

lark reports what the LALR table allows in terminal names (``__ANON_2``, ``RBRACE``). Here that
becomes words: "unexpected name 'proc'; expected ')'", or, when the file ends or a
top-level keyword appears with a block still open, "expected '}' to close 'vm guest1' opened at
line 3". The set of acceptable tokens is computed by simulating the parse table from the failed
state (what lark's interactive parser does), without running the builder's callbacks.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

from lark import Token
from lark.exceptions import UnexpectedToken
from lark.parsers.lalr_analysis import Shift

from vmxspec.diagnostics import Diagnostic, Note, Span
from vmxspec.syntax.ast import Name

#: Keywords that are reserved everywhere (the statements that only stand at the top level, and
#: ``assume``/``prove``): seeing one inside a block means a '}' is missing.
RESERVED = ("IMPORT", "PLATFORM", "VM", "IOMMU", "HYPERVISOR", "NESTED", "ASSUME", "PROVE")
#: Every keyword that starts a top-level statement. ``shared`` is not reserved (it came after specs
#: could use it as a name), but seen where nothing else fits it too means a '}' is missing.
STARTERS = (*RESERVED, "SHARED")

_WORDS = {"NAME": "a name", "NUMBER": "a number", "BDF": "a PCI address (like 0000:03:00.0)",
          "STRING": "a quoted path", "$END": "end of file"}
_EXPR_START = {"NAME", "NUMBER", "LPAR", "LBRACE", "TILDE", "NOT", "FORALL", "EXISTS", "PLATFORM",
               "HYPERVISOR"}
_BINARY = {"VBAR", "CIRCUMFLEX", "AMPERSAND", "SHL", "SHR", "PLUS", "MINUS", "STAR", "EQ", "NE", "LT",
           "LE", "GT", "GE", "AND", "OR", "IMPLIES", "IN"}
_POSTFIX = {"DOT", "LPAR", "LSQB"}
_CLOSERS = {"RBRACE": "}", "RPAR": ")", "RSQB": "]"}
_PAIRS = {"{": "}", "(": ")", "[": "]"}

#: Where a statement keyword belongs, for "'map' belongs inside 'ept { ... }'".
_BELONGS = {
    **dict.fromkeys(("map", "hole", "tables", "root", "entry", "pml5e", "pml4e", "pdpte", "pde", "pte"),
                    "'ept { ... }' (or an IOMMU 'domain N { ... }')"),
    **dict.fromkeys(("ram", "ept", "vmcs", "devices"), "'vm NAME { ... }'"),
    **dict.fromkeys(("device", "domain", "group", "root_entry", "context_entry"), "'iommu NAME { ... }'"),
    "memory": "'hypervisor { ... }'",
    "intercept": "'vmcs { ... }' (as 'msr_bitmap intercept ...')",
}
#: First words of the block statements, to name an open block after its header ('vm guest1').
_BLOCK_WORDS = {"platform", "vm", "ept", "vmcs", "devices", "iommu", "device", "domain", "group",
                "hypervisor", "shared", "nested", "prove"}
#: Lower-case words that the language uses as keywords somewhere: shown as 'at', not name 'at'.
_KEYWORD_LIKE = re.compile(
    r"all|and|any|assume|at|context_entry|device|devices|domain|entry|ept|except|exists|forall|group|"
    r"hole|hypervisor|implies|import|in|intercept|iommu|map|memory|nested|not|on|or|passthrough|pde|"
    r"pdpte|platform|pml4e|pml5e|prove|pte|ram|root|root_entry|tables|uses|vm|vmcs|width|within|without")
#: An exception mnemonic written as a list item ('{ #PF', ', #UD'), which is really a comment.
_EXCEPTION_MNEMONIC = re.compile(r"[{,][ \t]*(#(DE|DB|BP|OF|BR|UD|NM|DF|TS|NP|SS|GP|PF|MF|AC|MC|XM|VE|CP))\b")


def diagnose(exc: UnexpectedToken, text: str, path: str, literals: Mapping[str, str]) -> Diagnostic:
    """The diagnostic for a token the grammar does not allow. ``literals``: terminal -> spelling."""
    return _unexpected_token(exc, text, path, literals)


# ---- characters that start no token ----


def bad_character(text: str, path: str, pos: int, line: int, column: int) -> Diagnostic:
    """The diagnostic for ``text[pos]``, which starts no token."""
    ch = text[pos]
    if ch == '"':
        end = text.find("\n", pos)
        length = (end if end >= 0 else len(text)) - pos
        span = Span(path, line, column, line, column + max(length, 1))
        return Diagnostic.error("syntax-unterminated-string",
                                "unterminated string: a string must end on the line it starts on", span)
    span = Span(path, line, column, line, column + 1)
    message = f"unexpected character {_describe_char(ch)}"
    if ch == ";":
        message += "; statements need no ';' between them"
    elif ch == "'":
        message += "; strings use double quotes"
    elif ch.isalpha() or ch.isdigit():
        message += "; names use ASCII letters, digits and '_'"
    return Diagnostic.error("syntax-unexpected-character", message, span)


def _describe_char(ch: str) -> str:
    if ch.isascii() and ch.isprintable():
        return f"'{ch}'"
    code = f"U+{ord(ch):04X}"
    name = unicodedata.name(ch, "")
    if name:
        code += f" {name}"
    return f"'{ch}' ({code})" if ch.isprintable() else code


# ---- tokens the grammar does not allow here ----


@dataclass(frozen=True, slots=True)
class _Open:
    char: str
    offset: int
    line: int
    column: int
    what: str


def _unexpected_token(exc: UnexpectedToken, text: str, path: str,
                      literals: Mapping[str, str]) -> Diagnostic:
    token = exc.token
    acceptable = _acceptable(exc)
    expected = _expected_words(acceptable, literals)
    at_end = token.type == "$END"
    if at_end:
        offset = len(text)
        line, column = _end_position(text, token)
        span = Span.point(path, line, column)
    else:
        offset = token.start_pos or 0
        span = Span(path, token.line or 0, token.column or 0, token.end_line or 0, token.end_column or 0)
    opens = _open_brackets(text, offset)
    notes: list[Note] = []
    if opens and (at_end or token.type in STARTERS):
        top = opens[-1]
        closer = _PAIRS[top.char]
        opener_span = Span(path, top.line, top.column, top.line, top.column + 1)
        notes.append(Note(f"{top.what} opened here", opener_span))
        if m := _EXCEPTION_MNEMONIC.search(text, top.offset, offset):
            notes.append(Note(f"'#' starts a comment: write the exception as {m.group(2)}, not {m.group(1)}",
                              _span_at(text, path, m.start(1))))
        if _closer_name(closer) in acceptable:
            where = "" if at_end else f" before {_describe_token(token)}"
            message = f"expected '{closer}' to close {top.what} opened at line {top.line}{where}"
        else:
            message = (f"unexpected {_describe_token(token)} inside {top.what} opened at line {top.line}; "
                       f"expected {expected}")
        return Diagnostic.error("syntax-unclosed-block", message, span, tuple(notes))
    if token.type in _CLOSERS and not any(_PAIRS[o.char] == _CLOSERS[token.type] for o in opens):
        message = f"unexpected '{_CLOSERS[token.type]}': nothing is open here for it to close"
        return Diagnostic.error("syntax-unexpected-token", message, span)
    message = f"unexpected {_describe_token(token)}"
    if expected:
        message += f"; expected {expected}"
    if token.type == "EQUAL" and "EQ" in acceptable:
        notes.append(Note("to compare two values, write '=='"))
    if opens and opens[-1].what.startswith("'shared") and "NAME" in acceptable:
        notes.append(Note("each party of a shared region is a VM or 'hypervisor' followed by its rights: "
                          "'vm1 rw', 'hypervisor r'"))
    elif opens and _previous_name(exc) == "shared":
        notes.append(Note("'shared' starts a top-level statement: is a '}' missing before it?"))
    word = str(token.value) if token.type != "$END" else ""
    for candidate in (word, _previous_name(exc)):
        where = _BELONGS.get(candidate, "")
        if where and candidate.upper() not in acceptable:
            notes.append(Note(f"'{candidate}' belongs inside {where}"))
            break
    return Diagnostic.error("syntax-unexpected-token", message, span, tuple(notes))


def _acceptable(exc: UnexpectedToken) -> set[str]:
    """The terminals that would let the parse go on from the failed state."""
    state = exc.state
    if state is None:
        return {str(t) for t in exc.expected}
    states = state.parse_conf.states
    end_state = state.parse_conf.end_state
    return {term for term in states[state.position]
            if term.isupper() and accepts(states, end_state, list(state.state_stack), term)}


def accepts(states: Mapping[object, Mapping[str, tuple[object, object]]], end_state: object,
             stack: list[object], term: str) -> bool:
    """Simulate reductions on lookahead ``term`` until it shifts (True) or has no action (False)."""
    while True:
        action = states[stack[-1]].get(term)
        if action is None:
            return False
        kind, rule = action
        if kind is Shift:
            return True
        size = len(rule.expansion)  # type: ignore[attr-defined]
        if size:
            del stack[-size:]
        _, target = states[stack[-1]][rule.origin.name]  # type: ignore[attr-defined]
        stack.append(target)
        if term == "$END" and target == end_state:
            return True


def _expected_words(acceptable: set[str], literals: Mapping[str, str]) -> str:
    rest = set(acceptable)
    words: list[str] = []
    if {"NAME", "NUMBER", "LPAR"} <= rest:
        words.append("a value" if "ANY" in rest else "an expression")
        rest -= _EXPR_START | {"ANY"}
    if set(RESERVED) <= rest:
        words.append("a new statement")
        rest -= set(STARTERS)
    binary = rest & _BINARY
    postfix = rest & _POSTFIX
    core = rest - binary - postfix
    if words or core:
        shown = sorted(core, key=lambda t: _order(t, literals))
        items = words + [_describe_terminal(t, literals) for t in shown if t != "$END"]
        if binary:
            items.append("an operator")
        if "$END" in core:
            items.append("end of file")
    else:
        items = [_describe_terminal(t, literals) for t in sorted(binary | postfix, key=lambda t: _order(t, literals))]
    return _join(items)


def _order(term: str, literals: Mapping[str, str]) -> tuple[int, str]:
    if term in _WORDS:
        return (0, term)
    spelling = literals.get(term, term)
    if spelling[:1].isalpha():
        return (1, spelling)
    if term in _CLOSERS:
        return (3, spelling)
    return (2, spelling)


def _describe_terminal(term: str, literals: Mapping[str, str]) -> str:
    if term in _WORDS:
        return _WORDS[term]
    return f"'{literals.get(term, term)}'"


def _describe_token(token: object) -> str:
    kind = getattr(token, "type", "")
    value = str(token)
    shown = value if len(value) <= 40 else value[:37] + "..."
    if kind == "$END":
        return "end of file"
    if kind == "NAME" and not _KEYWORD_LIKE.fullmatch(value):
        return f"name '{shown}'"
    if kind == "NUMBER":
        return f"number '{shown}'"
    if kind == "BDF":
        return f"PCI address '{shown}'"
    if kind == "STRING":
        return f"string {shown}"
    return f"'{shown}'"


def _closer_name(closer: str) -> str:
    return next(name for name, char in _CLOSERS.items() if char == closer)


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


# ---- source scanning for context ----

_BRACKETS = re.compile(r'"[^"\n]*"|#[^\n]*|[{}()\[\]]')


def _open_brackets(text: str, offset: int) -> list[_Open]:
    """The brackets still open at ``offset``, outermost first (strings and comments skipped)."""
    stack: list[tuple[str, int]] = []
    for m in _BRACKETS.finditer(text, 0, offset):
        ch = m.group(0)
        if ch in _PAIRS:
            stack.append((ch, m.start()))
        elif ch in ("}", ")", "]") and stack and _PAIRS[stack[-1][0]] == ch:
            stack.pop()
    return [_describe_open(text, ch, pos) for ch, pos in stack]


def _describe_open(text: str, ch: str, pos: int) -> _Open:
    line_start = text.rfind("\n", 0, pos) + 1
    line = text.count("\n", 0, pos) + 1
    column = pos - line_start + 1
    what = f"the '{ch}'"
    if ch == "{":
        header = text[line_start:pos].split()
        if not header and line_start > 0:  # '{' alone on its line: the header is the line before
            before = text[: line_start - 1].rstrip().rsplit("\n", 1)[-1]
            header = before.split("#", 1)[0].split()
        if header and header[0] in _BLOCK_WORDS:
            shown = " ".join(header[:6])
            what = f"'{shown if len(shown) <= 50 else shown[:47] + '...'}'"
    return _Open(ch, pos, line, column, what)


def _previous_name(exc: UnexpectedToken) -> str:
    """The word just before the error when it was read as a name (a keyword out of its block)."""
    values = exc.state.value_stack if exc.state is not None else []
    last = values[-1] if values else None
    if isinstance(last, Token) and last.type == "NAME":
        return str(last)
    if isinstance(last, Name):
        return last.name
    return ""


def _end_position(text: str, token: object) -> tuple[int, int]:
    """Where "end of file" is reported: just after the last token (not after trailing comments)."""
    end_line = getattr(token, "end_line", None)
    end_column = getattr(token, "end_column", None)
    if end_line and end_column:
        return end_line, end_column
    return text.count("\n") + 1, len(text) - (text.rfind("\n") + 1) + 1


def _span_at(text: str, path: str, pos: int) -> Span:
    line = text.count("\n", 0, pos) + 1
    column = pos - (text.rfind("\n", 0, pos) + 1) + 1
    return Span.point(path, line, column)
