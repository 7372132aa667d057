"""Rules (being written)."""

from vmxspec.arch.rules import Rule

RULES: tuple[Rule, ...] = ()
