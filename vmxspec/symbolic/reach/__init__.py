"""The second semantics of translation: every reachable translation, read off concrete tables.

The reference interpreter (``vmxspec.interp``) answers one access at a time. The translation
properties need every access at once, so this package reads the tables whole, independently of
the interpreter and from the same facts (``vmxspec.arch``): an EPT pointer or a VT-d root table
becomes an interval map (input range -> output range, rights, the entries used, and the entries
that are misconfigured or carry reserved bits), and the properties are decided by interval sweeps
over those maps (DESIGN.md, "Encoding for speed": never page-table memory as an SMT array).
Concrete tables need no solver, so nothing here imports z3; what the spec leaves open in the
tables is enumerated when it ranges over a few values, and reported as not modelled otherwise.

* ``memory``: whole tables out of sparse memory;
* ``ept``, ``vtd`` (with ``vtd_maps``, its result types, and ``vtd_scope``, which source-ids a
  unit remaps): the traversals, written from the SDM's and the VT-d specification's formats;
* ``sweep``: interval sweeps;
* ``open_values``: which values a spec leaves open can change an answer, and their enumeration;
* ``world``: from a resolved spec to built states and who owns which host memory;
* ``decide_ept``, ``decide_dma``: the properties' decisions, with the evidence a violation carries
  for the interpreter to replay (``evidence``), and for a proof the spec statements it read
  (``explain``).
"""

from vmxspec.symbolic.reach.ept import EptMap, EptRun, extract_ept
from vmxspec.symbolic.reach.memory import TableMemory
from vmxspec.symbolic.reach.vtd import DmaRun, UnitMap, extract_unit

__all__ = ["DmaRun", "EptMap", "EptRun", "TableMemory", "UnitMap", "extract_ept", "extract_unit"]
