"""vmxspec: a formal model checker for Intel VMX, EPT and VT-d configurations."""

__version__ = "0.1.0"
