"""What every pass of one analysis shares: the reporter, the evaluator, the platform, the names
declared so far, and the checks that depend on the platform (address widths, page sizes)."""

from __future__ import annotations

from dataclasses import dataclass, field

from vmxspec.arch import ept as ept_facts
from vmxspec.arch.capabilities import ALLOWED1_ONLY_MSRS, allowed0
from vmxspec.arch.controls import ControlField
from vmxspec.diagnostics import Span
from vmxspec.sema.constants import Constants
from vmxspec.sema.model import IommuUnit, Platform, SharedRegion, Vm
from vmxspec.sema.reporter import Reporter
from vmxspec.syntax import ast


@dataclass
class Context:
    reporter: Reporter
    consts: Constants
    platform: Platform | None = None
    #: Declarations by name, known before any is resolved, so references may come first.
    vm_nodes: dict[str, ast.Vm] = field(default_factory=dict)
    iommu_nodes: dict[str, ast.Iommu] = field(default_factory=dict)
    nested_nodes: dict[str, ast.Nested] = field(default_factory=dict)
    shared_nodes: dict[str, ast.Shared] = field(default_factory=dict)
    vms: dict[str, Vm] = field(default_factory=dict)
    iommus: dict[str, IommuUnit] = field(default_factory=dict)
    #: The shared regions that resolved, by name (a name in ``shared_nodes`` may be missing here).
    shared: dict[str, SharedRegion] = field(default_factory=dict)

    def report(self, code_id: str, message: str, span: Span) -> None:
        self.reporter.report(code_id, message, span)

    @property
    def maxphyaddr(self) -> int | None:
        return self.platform.maxphyaddr if self.platform is not None else None

    def host_range(self, start: int, end: int, span: Span, what: str) -> bool:
        """A host-physical range must end within MAXPHYADDR; False (reported) when it does not."""
        width = self.maxphyaddr
        if width is not None and end > 1 << width:
            self.report("sema-address", f"{what} ends at {end:#x}, beyond the {1 << width:#x} that MAXPHYADDR "
                        f"{width} can address", span)
            return False
        return True

    def guest_range(self, start: int, end: int, span: Span, what: str) -> bool:
        """A guest-physical range must end within what a 4-level EPT walk and MAXPHYADDR allow."""
        width = self.maxphyaddr
        if width is None:
            return True
        limit = 1 << min(width, ept_facts.gpa_width(4))
        if end > limit:
            self.report("sema-address", f"{what} ends at {end:#x}, beyond the {limit:#x} guest-physical addresses "
                        f"that a 4-level EPT walk with MAXPHYADDR {width} translates", span)
            return False
        return True

    def ept_page_sizes(self) -> frozenset[int] | None:
        """The EPT page sizes the platform allows (None without a platform)."""
        if self.platform is None:
            return None
        cap = self.platform.caps.get("IA32_VMX_EPT_VPID_CAP", 0)
        return frozenset({ept_facts.PAGE_4K} | {ept_facts.PAGE_SIZE_BY_LEVEL[level]
                                                for level, bit in ept_facts.PAGE_SIZE_CAPS.items() if bit.get(cap)})

    def fixed1(self, which: ControlField) -> int:
        """The control bits the platform requires to be 1: the allowed-0 settings of the TRUE capability
        MSR when IA32_VMX_BASIC[55] says it exists, else of the plain one (SDM A.2)."""
        if self.platform is None:
            return 0
        caps = self.platform.caps
        msr = which.capability_msr
        if which.true_capability_msr is not None and caps.get("IA32_VMX_BASIC", 0) >> 55 & 1:
            msr = which.true_capability_msr
        if msr in ALLOWED1_ONLY_MSRS or msr not in caps:
            return 0
        return allowed0(caps[msr])
