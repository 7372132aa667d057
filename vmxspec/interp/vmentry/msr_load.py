"""Placeholder module registering no checks yet (being written)."""
