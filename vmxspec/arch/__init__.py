"""Facts from the Intel SDM and the VT-d specification, as typed data.

Both semantics (the reference interpreter and the symbolic encoder) read these tables; neither
owns them. Nothing here decides anything: a module in ``arch`` states a layout, a number or a
rule's wording, and the code that applies it lives elsewhere.
"""
