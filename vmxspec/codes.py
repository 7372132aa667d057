"""The one registry of diagnostic codes a user can see.

Every error or warning vmxspec prints carries one of these codes; ``vmxspec explain CODE`` reads
this table, and so will the SARIF rule list. Codes are stable: never reuse or rename one. Rule ids
(``CTL-PIN-RSVD`` ...) live in ``vmxspec.arch.rules`` and are a separate, upper-case namespace.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Severity(Enum):
    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True, slots=True)
class Code:
    id: str
    severity: Severity
    summary: str
    explanation: str


_E = Severity.ERROR

CODES: tuple[Code, ...] = (
    Code("json-syntax", _E, "The input is not valid JSON",
         "A state file or a line of a question stream could not be parsed as JSON. In a question stream "
         "the bad line gets this error and the next line is still answered."),
    Code("bad-shape", _E, "A JSON value has the wrong type",
         "An object was expected and something else was given (for example a list where the state's "
         "'vmcs' object belongs), or a required key is absent."),
    Code("unknown-key", _E, "A key that the format does not define",
         "vmxspec-state/1 rejects unknown keys rather than ignoring them, because a misspelt key that is "
         "silently ignored produces a wrong verdict. Keys starting with 'x-' are for your own use and "
         "are ignored."),
    Code("bad-format", _E, "The 'format' key names another format or version",
         "A state declares its format as \"vmxspec-state/1\". Leave the key out or give exactly that "
         "string."),
    Code("bad-number", _E, "A value is not a number vmxspec can read",
         "Numbers are JSON integers or strings: \"0x1f\" (hex, '_' allowed between digits) or \"31\" "
         "(decimal). All values are unsigned."),
    Code("value-too-wide", _E, "A value does not fit the width of its field",
         "Values are never truncated: a 16-bit field holding 0x10000 is an error, not 0."),
    Code("unknown-field", _E, "Not a VMCS field vmxspec knows",
         "VMCS fields are named as in Linux's vmx.h (PIN_BASED_VM_EXEC_CONTROL, GUEST_CR0, ...) or given "
         "by their SDM encoding (\"0x4000\"). 64-bit fields are one key: there are no _HIGH halves."),
    Code("unknown-msr", _E, "Not a capability MSR vmxspec knows",
         "Capability MSRs are named IA32_VMX_BASIC ... IA32_VMX_EXIT_CTLS2, or given by number "
         "(\"0x480\"); MAXPHYADDR and MAXLINADDR give the CPUID address widths."),
    Code("bad-address", _E, "A memory address is not 8-byte aligned",
         "The 'memory' object maps 8-byte-aligned host-physical addresses to 64-bit little-endian words."),
    Code("missing-field", _E, "A check needs a VMCS field the state does not give",
         "Missing fields are never assumed to be 0. Add the field to the state, or restrict the question "
         "to the checks you have data for (\"checks\": [\"controls\"])."),
    Code("missing-capability", _E, "A check needs a capability MSR the state does not give",
         "A capability MSR may be left out only where the SDM says it does not exist (for example "
         "IA32_VMX_PROCBASED_CTLS2 when secondary controls cannot be activated). Otherwise give its value, "
         "or start from a platform preset."),
    Code("bad-query", _E, "The question's 'query' is malformed",
         "A query is an object with a 'kind' (vmentry, ept, dma, exit or assertion) and the keys that kind "
         "takes. An assertion query carries a claim as vmxspec writes it in counterexamples."),
    Code("unsupported-query", _E, "The interpreter does not model what this question asks",
         "A few cases fall outside what the reference interpreter models (for example VMFUNC or ENCLV exit "
         "decisions, or the interrupt window after a VM entry that injects an event); the message names "
         "the case. The interpreter says so rather than guess an answer, and the stream goes on."),
    Code("unknown-preset", _E, "No platform preset by that name",
         "Platform presets are shipped capability sets; 'vmxspec explain --presets' lists them."),
    Code("io-error", _E, "A file could not be read", "The path does not exist or cannot be read."),
    Code("usage", _E, "The command line is not valid", "See 'vmxspec --help'."),
    Code("internal-error", _E, "A bug in vmxspec",
         "vmxspec hit a condition it does not expect. This is never a verdict about your input; please "
         "report it with the input that caused it."),
    # ---- spec syntax (vmxspec.syntax) ----
    Code("syntax-unexpected-token", _E, "A word or symbol that cannot stand here in a spec",
         "The parser names what it found and what could have come instead. Statements need no "
         "separator; a block's statements are listed in docs/language.md."),
    Code("syntax-unclosed-block", _E, "A '{', '(' or '[' is never closed",
         "The file ended, or a top-level statement (vm, iommu, prove, ...) began, while a block was "
         "still open. The note points at the opening bracket. '#' starts a comment, so '#PF' hides "
         "the rest of its line: write exceptions as PF, GP, UD."),
    Code("syntax-unexpected-character", _E, "A character that starts no word of the language",
         "Names are ASCII letters, digits and '_'; strings use double quotes; statements need no ';'."),
    Code("syntax-unterminated-string", _E, "A string has no closing '\"' on its line",
         "Strings (import paths) are written in double quotes and end on the line they start on."),
    Code("syntax-bad-number", _E, "A number literal is malformed or wider than 64 bits",
         "Numbers are decimal (4096), hexadecimal (0x1000) or binary (0b1010), with '_' allowed between "
         "digits (0x8000_0000), or sizes with an upper-case binary suffix: 4K, 2M, 1G, 1T."),
    Code("syntax-bad-bdf", _E, "A PCI address is malformed",
         "PCI devices are written segment:bus:device.function in hexadecimal, as lspci prints them: "
         "0000:03:00.0, or 03:00.0 for segment 0. The device is 00-1f and the function 0-7."),
    Code("syntax-encoding", _E, "The spec file is not UTF-8",
         "Spec files are read as UTF-8 (a leading byte-order mark is allowed). The message gives the "
         "offset of the first byte that does not decode."),
    Code("syntax-too-deep", _E, "An expression is nested more than 128 levels deep",
         "The limit keeps every later stage within Python's recursion limit. Real specs stay far below "
         "it; split the expression, or OR fewer terms in one line."),
    # ---- spec semantics (vmxspec.sema) and the state builder (vmxspec.build.from_model) ----
    Code("sema-import-missing", _E, "An imported file cannot be read",
         "An import names a file relative to the importing file's directory; the file does not exist or cannot "
         "be read. Its own syntax errors, if it has any, are reported with their syntax-* codes."),
    Code("sema-import-escape", _E, "An import leaves the spec's root directory",
         "Imports are relative paths that stay in or below the directory of the spec being analysed (its root "
         "directory), so that a spec tree can be checked out and checked on its own. Absolute paths and paths "
         "that climb above the root with '..' are refused."),
    Code("sema-import-cycle", _E, "Files import each other in a cycle",
         "A file imports itself, directly or through other files. The message gives the whole chain; break it "
         "by moving what both files need into a third file that both import."),
    Code("sema-unknown-name", _E, "A name that means nothing where it is used",
         "Names are resolved against the spec's own VMs, IOMMUs and nested blocks, against variables bound by "
         "quantifiers, and, inside a VM, against its VMCS fields. The message says what a close or misplaced "
         "name would mean ('did you mean ...?')."),
    Code("sema-unknown-preset", _E, "No platform preset by that name",
         "'platform NAME' and 'within NAME' take a shipped preset (skylake_server, sapphire_rapids, "
         "kvm_nested_default)."),
    Code("sema-unknown-control-bit", _E, "Not a bit of this control field",
         "Control fields are written as sets of the SDM's control names in snake case (hlt_exiting, "
         "enable_ept, ...), each belonging to one field: pin, proc, proc2, proc3, exit, exit2 or entry. The "
         "message says which field a misplaced bit belongs to."),
    Code("sema-unknown-field", _E, "Not a VMCS field",
         "VMCS fields are named as in Linux's vmx.h (GUEST_CR0, VIRTUAL_PROCESSOR_ID, ...), with the short "
         "forms vpid, eptp, cr0_mask, cr4_mask, cr0_shadow and cr4_shadow, or given by SDM encoding (0x681e). "
         "64-bit fields are one field: there are no _HIGH halves."),
    Code("sema-unknown-msr", _E, "Not an MSR vmxspec knows here",
         "Intercept lists and events name MSRs architecturally (IA32_EFER, IA32_LSTAR, ...) or by number; a "
         "platform block sets only the VMX capability MSRs (IA32_VMX_*), MAXPHYADDR and MAXLINADDR."),
    Code("sema-unknown-bit", _E, "Not a named bit of this register",
         "CR0, CR4, IA32_EFER and RFLAGS images (GUEST_CR0, CR4_GUEST_HOST_MASK, ...) may be written with "
         "their bit names (PG, PE, VMXE, LME, ...); capability MSRs with their fields (pwl5, pde_2m, ...) or "
         "control bits; VT-d cap and ecap with their fields (sagaw, pt, ...)."),
    Code("sema-unknown-exception", _E, "Not an exception name",
         "Exceptions are named as the SDM writes them, without '#': DE, DB, BP, OF, BR, UD, NM, DF, TS, NP, "
         "SS, GP, PF, MF, AC, MC, XM, VE, CP, or given as vectors 0-31. NMI is not an exception: 'nmi_exiting' "
         "decides its exits."),
    Code("sema-unknown-event", _E, "Not an event vmxspec can decide exits for",
         "The events of 'prove exits(VM) { ... }' are instruction mnemonics (CPUID, WRMSR, MOV_TO_CR3, ...) "
         "and event kinds (EXCEPTION, EXTERNAL_INTERRUPT, NMI, SIPI, INIT_SIGNAL, TRIPLE_FAULT, TASK_SWITCH, "
         "EPT_VIOLATION). A few instructions are known but their exits are not modelled; the message says why."),
    Code("sema-unknown-attribute", _E, "Not an attribute of a map",
         "A map takes permissions (r, rw, rx, rwx; x alone; u for user-execute under mode-based execute "
         "control), for EPT a memory type (uc, wc, wt, wp, wb, default wb), 'page 4K|2M|1G', 'ipat' and "
         "'suppress_ve'. An IOMMU domain's maps take r, w or rw and 'page'."),
    Code("sema-unknown-property", _E, "No property or function by that name",
         "'prove' takes a built-in property (vmentry_valid, no_misconfig, isolated, dma_isolated, protects, "
         "exits; in nested blocks preserves_exits, honors_exits, entry_safe) or a condition, which may call "
         "translates, readable, writable, executable and target."),
    Code("sema-ambiguous-name", _E, "A name that means different things, with nothing to choose between them",
         "Some names belong to several tables: load_ia32_pat is a bit of both the VM-exit and the VM-entry "
         "controls. Where the other side of an operator does not say which (GUEST_CR0 & PG does), qualify it: "
         "exit.load_ia32_pat."),
    Code("sema-type", _E, "A value of the wrong kind for its place",
         "A range where a number belongs, 'any' where the value must be concrete (platform capabilities, "
         "addresses), a number where a condition belongs, a statement that belongs to another block. The "
         "message says what the place takes."),
    Code("sema-arguments", _E, "A property, function or event given the wrong arguments",
         "Properties and functions take a fixed number of arguments of fixed kinds (a VM, an EPT, an IOMMU, "
         "'hypervisor', a VMCS of a nested block, a number); only 'exits' takes a list of events, and "
         "events take an operand only where the instruction has one (WRMSR takes an MSR, CPUID nothing)."),
    Code("sema-width", _E, "A value does not fit its field or allowed range",
         "Values are never truncated: a 16-bit field given 0x10000 is an error, as are a vector above 31 in "
         "an exception list, arithmetic that goes negative or past 64 bits, and MAXPHYADDR outside 32-52."),
    Code("sema-bad-range", _E, "A range that ends before it starts, or is empty",
         "'a .. b' excludes b and 'a ..= b' includes it; 'a .. a' is therefore empty. A bit slice is written "
         "high:low."),
    Code("sema-address", _E, "An address beyond what the platform can address",
         "Host addresses must lie below 2^MAXPHYADDR; guest-physical addresses below what a 4-level EPT walk "
         "and MAXPHYADDR translate (2^min(48, MAXPHYADDR)); IOVAs below the domain's address width."),
    Code("sema-alignment", _E, "An address or size is not aligned as it must be",
         "Maps, holes, RAM and table regions are whole 4 KiB pages; a map with a pinned page size must start, "
         "end and target on that size; paging-structure entries are 8-byte aligned; root tables 4 KiB aligned."),
    Code("sema-page-size", _E, "A page size that does not exist or that the platform does not allow",
         "Pages are 4K, 2M or 1G. EPT 2 MiB and 1 GiB pages need IA32_VMX_EPT_VPID_CAP bits 16 and 17; an "
         "IOMMU domain's large pages need CAP_REG.SLLPS. Without 'page', builders choose the largest size "
         "allowed."),
    Code("sema-duplicate", _E, "Something that exists once is defined twice",
         "Two VMs (or an IOMMU and a VM) with one name, two platforms, two ept or vmcs blocks in one VM, a "
         "root table or table region placed twice. The note points at the first definition."),
    Code("sema-conflict", _E, "Two statements that cannot both hold",
         "A field set twice to different values, a control bit both set and cleared, two maps that overlap "
         "and translate differently, a hole over a map, an intercepted item that another list excepts, a "
         "device attached to two domains. The note points at the other statement."),
    Code("sema-incomplete", _E, "Something needed is missing",
         "A spec with VMs or IOMMUs needs a platform; a map needs permissions; a domain that devices use "
         "needs a translation; a field needs a value before bits are added to it; 'uses VM.ept' needs a VM "
         "with an ept block."),
    Code("sema-redundant", Severity.WARNING, "The same thing is said twice",
         "A field set twice to the same value, a map repeating (part of) another with the same translation, a "
         "device listed twice. Harmless, but often a copy-paste slip where something else was meant."),
    Code("sema-inconsistent-platform", Severity.WARNING, "Overridden capabilities contradict each other",
         "The platform's overrides make its capability MSRs break the SDM's rules (Appendix A): an MSR present "
         "without its existence condition, default1 bits not reported, a TRUE MSR disagreeing with its plain "
         "one. Real firmware can report odd values, so this is legal, but verdicts about such a platform may "
         "surprise."),
    Code("sema-device-shared", Severity.WARNING, "A device is assigned to two VMs",
         "Both VMs can program the device, and its DMA reaches whatever its IOMMU domain maps: one VM can "
         "read or corrupt the other through it."),
    Code("sema-device-untranslated", Severity.WARNING, "An assigned device that no IOMMU translates",
         "The VM owns the device, but no iommu block attaches it to a domain, so nothing the spec says limits "
         "its DMA: it can reach all host memory."),
    Code("sema-ram-unmapped", Severity.WARNING, "Guest RAM that the EPT does not map",
         "Part of a ram range is neither mapped nor declared a hole: guest accesses there cause EPT "
         "violations. Declare a 'hole' if that is intended."),
    Code("sema-unowned-host-memory", Severity.WARNING, "A translation into host memory nobody owns",
         "A map's host range lies outside every VM's RAM and outside the hypervisor's declared memory: the "
         "spec does not say whose memory it is (device MMIO, another guest's?), so isolation proofs cannot "
         "account for it. Declare it as RAM, in 'hypervisor { memory ... }', or, for memory several "
         "parties may reach, in a 'shared' region that lists them with their rights."),
    Code("sema-inactive-controls", Severity.WARNING, "Controls set where the processor ignores them",
         "Secondary processor-based controls count only with 'activate_secondary_controls' in proc, tertiary "
         "ones with 'activate_tertiary_controls', secondary VM-exit controls with exit's "
         "'activate_secondary_controls'; otherwise the processor treats them as 0."),
    Code("sema-control-mismatch", Severity.WARNING, "A structure and the control that enables it disagree",
         "An intercept list whose bitmap is not enabled (use_msr_bitmaps, use_io_bitmaps, vmcs_shadowing), so "
         "the list does not decide what exits; an enabling control without the structure; an ept block "
         "without enable_ept, or enable_ept without an EPT."),
    Code("sema-always-exits", Severity.WARNING, "An excepted MSR that always exits",
         "The MSR bitmap covers MSRs 0-0x1fff and 0xc0000000-0xc0001fff only; RDMSR and WRMSR of any other "
         "MSR always exit, so excepting it from 'intercept all' has no effect."),
    Code("sema-access", _E, "Not a set of access rights",
         "Access rights are one word of the letters r (read), w (write) and x (execute, any instruction fetch), "
         "each at most once, in any order: r, rw, rx, rwx. They follow each party of a 'shared' region "
         "('vm1 rw') and may follow the region of 'protects' ('protects(R, rw)' forbids reads and writes). A "
         "party that may do nothing is simply left out."),
    Code("sema-shared-party", _E, "A party of a shared region that is not a VM or the hypervisor, or is "
         "listed twice",
         "A 'shared' region lists the VMs (by name) and 'hypervisor' that may reach it, each once with its "
         "rights. IOMMUs, nested blocks and other shared regions cannot be parties: what devices reach is "
         "dma_isolated's business. Unknown names are sema-unknown-name."),
    Code("sema-shared-overlap", _E, "Two shared regions overlap",
         "Each host byte belongs to at most one 'shared' region, so that which parties may reach it, and with "
         "which rights, has one answer. Merge the two declarations, or split them where they meet."),
    Code("sema-shared-alone", Severity.WARNING, "A shared region with fewer than two parties",
         "A 'shared' region excuses 'isolated(A, B)' only where A and B are both parties; with one party (or "
         "none) it excuses nothing. List every VM, or 'hypervisor', that may reach the region."),
    Code("build-open-value", _E, "The spec leaves a value open, so no single state follows from it",
         "'vmxspec state' writes one concrete state; every 'any' (a field, a map target, a RAM address, a raw "
         "entry) must be replaced by a number first. The message lists each open value and where it is."),
    Code("build-layout", _E, "The builder cannot lay out the tables or bitmaps",
         "Paging structures and bitmaps go in a declared table region ('tables in A .. B', in an ept or iommu "
         "block) or at addresses the VMCS pins (MSR_BITMAP = ...). The region may be missing or too small, or a "
         "pinned page may collide with a table."),
)

BY_ID: dict[str, Code] = {c.id: c for c in CODES}


def code(id: str) -> Code:
    """Look up a code; an unknown id is a programming error, caught by the registry test."""
    return BY_ID[id]
