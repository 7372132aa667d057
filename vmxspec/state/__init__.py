"""Concrete machine state in the public ``vmxspec-state/1`` format (see STATE_FORMAT.md)."""

from vmxspec.state.errors import StateError
from vmxspec.state.load import load_state
from vmxspec.state.model import CpuState, IommuUnit, State

__all__ = ["CpuState", "IommuUnit", "State", "StateError", "load_state"]
