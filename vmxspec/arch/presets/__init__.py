"""Shipped platform presets: complete, named VMX capability sets usable as ``platform <name>``.

A preset saves a user from typing eighteen capability MSRs and guarantees they are mutually
consistent (``consistency_problems`` states the SDM rules; the unit tests hold every shipped preset
to them). Each preset records in ``sources`` where every number comes from and which are modeled.
"""

from __future__ import annotations

import difflib

from vmxspec.arch.presets._model import FULL_WIDTH_MSRS, Preset, consistency_problems
from vmxspec.arch.presets.kvm_nested import KVM_NESTED_DEFAULT, derive_kvm_nested
from vmxspec.arch.presets.sapphire_rapids import SAPPHIRE_RAPIDS
from vmxspec.arch.presets.skylake_server import SKYLAKE_SERVER

PRESETS: dict[str, Preset] = {p.name: p for p in (SKYLAKE_SERVER, SAPPHIRE_RAPIDS, KVM_NESTED_DEFAULT)}


def preset(name: str) -> Preset:
    """The preset called ``name``; ``KeyError`` naming the closest preset when there is none."""
    try:
        return PRESETS[name]
    except KeyError:
        close = difflib.get_close_matches(name, list(PRESETS), n=1, cutoff=0.6)
        hint = f"; did you mean '{close[0]}'?" if close else f"; known presets: {', '.join(PRESETS)}"
        raise KeyError(f"no platform preset '{name}'{hint}") from None


__all__ = [
    "FULL_WIDTH_MSRS",
    "KVM_NESTED_DEFAULT",
    "PRESETS",
    "SAPPHIRE_RAPIDS",
    "SKYLAKE_SERVER",
    "Preset",
    "consistency_problems",
    "derive_kvm_nested",
    "preset",
]
