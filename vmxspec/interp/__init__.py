"""The reference interpreter: the SDM's and the VT-d specification's rules over plain ints.

Written to be read next to the manuals, and independently of the symbolic encoder: the two share
only ``vmxspec.arch`` (the facts) and the IR. Every counterexample the checker reports is replayed
here first.
"""
