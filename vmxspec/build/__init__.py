"""Builders: concrete machine structures laid out from high-level descriptions.

The spec language lowers ``ept { map ... }`` blocks through these, and tests and benchmarks use them
to make realistic states. A builder encodes exactly what it is asked for (a write-only mapping
becomes a write-only entry, for the checker to report); it refuses only requests that cannot be
laid out at all (overlaps, misalignment, addresses out of range, no room for tables).
"""

from vmxspec.build.ept_tables import (
    ALL_PAGE_SIZES,
    EptBuildError,
    EptMapping,
    EptTables,
    build_ept_tables,
    page_sizes_allowed,
)

__all__ = ["ALL_PAGE_SIZES", "EptBuildError", "EptMapping", "EptTables", "build_ept_tables",
           "page_sizes_allowed"]
