"""Feeds spec text to lark's LALR tables through a scanner of our own.

lark's contextual lexer is exact for most grammars but costs most of the parse time on large specs,
and LALR's merged lookaheads make it offer some keywords where only a name fits. So the driver
scans with one regular expression per token and asks the parse table directly:

* a soft keyword (``map``, ``entry``, ``all``...) is a keyword only if the table accepts it from
  the current state; otherwise it is the name it looks like (``entry = ia32e_mode_guest``);
* the reserved keywords (``RESERVED``: ``vm``, ``prove``...) are keywords everywhere;
* a PCI address (``0000:03:00.0``) is only scanned where the table accepts one, so ``x[7:0]``
  stays a bit slice.

The token patterns themselves come from ``grammar.lark``; only their combination lives here.

One statement has a fast path: a ``map`` written on one line with literal numbers (as generated
specs write hundreds of thousands of them) is matched by one regular expression and its ``Map``
node is pushed as the parser's ``map`` nonterminal, exactly as if the rule had been reduced. It is
taken only where the statement provably ends (the next word starts another paging statement or is
the closing '}'), so it cannot read the text differently from the grammar; a property test checks
that both paths build equal trees.
"""

from __future__ import annotations

import re
from typing import Any

from lark import Lark, Token
from lark.parsers.lalr_analysis import Shift

from vmxspec.syntax.errors import RESERVED, accepts

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: The keywords that start a statement inside ``ept { }`` or a domain's tables.
_PAGING_STARTERS = ("map", "hole", "entry", "pml5e", "pml4e", "pdpte", "pde", "pte", "root_entry",
                    "context_entry", "root", "tables")


class BadCharacter(Exception):
    """A character that starts no token, at ``pos`` (``line``/``column`` 1-based)."""

    def __init__(self, pos: int, line: int, column: int) -> None:
        super().__init__(f"bad character at {line}:{column}")
        self.pos = pos
        self.line = line
        self.column = column


class Driver:
    """The scanner and the parse loop for one lark grammar (shared; keeps no per-text state)."""

    def __init__(self, lark: Lark, literals: dict[str, str]) -> None:
        self.lark = lark
        patterns = {t.name: t.pattern.to_regexp() for t in lark.terminals}
        keywords = {value: name for name, value in literals.items() if _WORD.fullmatch(value)}
        punctuation = sorted((v for v in literals.values() if not _WORD.fullmatch(v)), key=len, reverse=True)
        self.keywords = keywords
        self.reserved = frozenset(RESERVED)
        self.punctuation = {v: name for name, v in literals.items() if v in punctuation}
        # Every piece is atomic (?>...): a regular expression would otherwise backtrack into a
        # comment or a name to find some match ('# only' as a comment '# onl' and a name 'y'),
        # where the grammar's lexer takes the longest token and never gives characters back.
        skip = f"(?>(?:{patterns['WS']}|{patterns['COMMENT']})*)"
        self.skip = re.compile(skip)
        self.token = re.compile(
            skip + "(?:"
            f"(?P<NUMBER>(?>{patterns['NUMBER']}))|(?P<NAME>(?>{patterns['NAME']}))"
            f"|(?P<STRING>{patterns['STRING']})|(?P<PUNCT>{'|'.join(re.escape(p) for p in punctuation)}))"
        )
        self.bdf = re.compile(patterns["BDF"])
        number, name, gap = f"(?>{patterns['NUMBER']})", f"(?>{patterns['NAME']})", "[ \\t]"
        not_keyword = "(?!(?:" + "|".join(sorted(keywords)) + r")\b)"
        statement_end = f"(?={skip}(?:(?:" + "|".join(_PAGING_STARTERS) + r")\b|\}))"
        self.fast_map = re.compile(
            f"map{gap}+({number}){gap}*(\\.\\.=?){gap}*({number}){gap}*->{gap}*({number})"
            f"((?>(?:{gap}+{not_keyword}{name}(?:{gap}+{number})?)*)){statement_end}"
        )
        self.fast_attr = re.compile(f"({name})(?:{gap}+({number}))?")
        #: (state stack, keyword) -> whether the table really accepts the keyword there. Stacks
        #: repeat from one statement to the next, so this stays small.
        self.keyword_cache: dict[tuple[tuple[Any, ...], str], bool] = {}

    def run(self, text: str, builder: Any) -> Any:
        """Parse ``text``; returns what the start rule's callback built.

        Raises lark's ``UnexpectedToken`` (with the parser state) or ``BadCharacter``.
        """
        state = self.lark.parse_interactive("").parser_state
        states = state.parse_conf.states
        stack = state.state_stack
        feed = state.feed_token
        match_token = self.token.match
        keywords = self.keywords
        reserved = self.reserved
        punctuation = self.punctuation
        pos, line, line_start = 0, 1, 0
        token: Token | None = None
        while True:
            m = match_token(text, pos)
            if m is None:
                end = self.skip.match(text, pos).end()  # type: ignore[union-attr]
                line, line_start = _advance(text, pos, end, line, line_start)
                if end >= len(text):
                    break
                raise BadCharacter(end, line, end - line_start + 1)
            kind: str = m.lastgroup  # type: ignore[assignment]  # one group always matched
            start = m.start(kind)
            if start != pos:
                line, line_start = _advance(text, pos, start, line, line_start)
            end = m.end()
            value = m.group(kind)
            if kind == "PUNCT":
                kind = punctuation[value]
            elif kind != "STRING":
                actions = states[stack[-1]]
                if "BDF" in actions and (b := self.bdf.match(text, start)) is not None:
                    kind, end, value = "BDF", b.end(), b.group()
                elif kind == "NAME" and value in keywords:
                    kind = keywords[value]
                    if kind not in reserved and not self._keyword_fits(actions, stack, kind, states, state):
                        kind = "NAME"
            column = start - line_start + 1
            if kind == "MAP" and (fast := self.fast_map.match(text, start)) is not None \
                    and self._reduce_before(state, "MAP"):
                end = fast.end()
                node = builder.fast_map(fast, self.fast_attr, line, line_start)
                stack.append(states[stack[-1]]["map"][1])
                state.value_stack.append(node)
                token = Token("MAP", value, start, line, column, line, column + (end - start), end)
                pos = end
                continue
            token = Token(kind, value, start, line, column, line, column + (end - start), end)
            feed(token)
            pos = end
        eof = Token("$END", "", 0, 1, 1, 1, 1, 0) if token is None else Token.new_borrow_pos("$END", "", token)
        return state.feed_token(eof, True)

    @staticmethod
    def _reduce_before(state: Any, term: str) -> bool:
        """Do the reductions the parser would do on lookahead ``term``, stopping before the shift.

        False (and nothing done) when ``term`` is not acceptable at all.
        """
        states = state.parse_conf.states
        if not accepts(states, state.parse_conf.end_state, list(state.state_stack), term):
            return False
        stack, values, callbacks = state.state_stack, state.value_stack, state.parse_conf.callbacks
        while True:
            action, rule = states[stack[-1]][term]
            if action is Shift:
                return True
            size = len(rule.expansion)
            children = values[-size:] if size else []
            if size:
                del stack[-size:]
                del values[-size:]
            values.append(callbacks[rule](children))
            stack.append(states[stack[-1]][rule.origin.name][1])

    def _keyword_fits(self, actions: dict[str, Any], stack: list[Any], kind: str, states: Any,
                      state: Any) -> bool:
        """Whether ``kind`` is read as the keyword here (else it is a name)."""
        action = actions.get(kind)
        if action is not None and (action[0] is Shift or "NAME" not in actions):
            return True
        if action is not None and self._accepts(stack, kind, states, state):
            return True
        # The keyword does not fit. Neither may the name (LALR offers NAME in some states where
        # only a reduction would take it, and then fails): then keep the keyword, so the error
        # names it and a top-level word like 'shared' can say that a '}' is missing before it.
        return "NAME" not in actions or not self._accepts(stack, "NAME", states, state)

    def _accepts(self, stack: list[Any], term: str, states: Any, state: Any) -> bool:
        """Whether the table really shifts ``term`` from ``stack`` (after reductions), cached."""
        key = (tuple(stack), term)
        fits = self.keyword_cache.get(key)
        if fits is None:
            if len(self.keyword_cache) > 50_000:
                self.keyword_cache.clear()
            fits = accepts(states, state.parse_conf.end_state, list(stack), term)
            self.keyword_cache[key] = fits
        return fits


def _advance(text: str, start: int, end: int, line: int, line_start: int) -> tuple[int, int]:
    """Line number and line start after skipping ``text[start:end]``."""
    newlines = text.count("\n", start, end)
    if newlines:
        return line + newlines, text.rfind("\n", start, end) + 1
    return line, line_start
