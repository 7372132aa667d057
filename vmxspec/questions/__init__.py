"""Answers to interpreter questions (STATE_FORMAT.md "A question" / "An answer").

This is the machine interface behind ``vmxspec eval``: one JSON object in, one JSON object out,
and no input, however malformed, escapes as an exception. Each query kind has its own module.
"""

from vmxspec.questions.answer import answer_line, answer_question

__all__ = ["answer_line", "answer_question"]
