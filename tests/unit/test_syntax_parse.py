"""The spec language's syntax: every construct parses to the tree written out here by hand.

Trees compare without their spans (``compare=False``), so the expectations say only what was
written; a few tests check spans explicitly.
"""

from __future__ import annotations

import re
from dataclasses import fields
from enum import Enum
from pathlib import Path

import pytest

from vmxspec.codes import BY_ID
from vmxspec.diagnostics import Span, render
from vmxspec.syntax import SpecSyntaxError, parse, parse_bytes, try_parse, try_parse_bytes
from vmxspec.syntax import ast as A
from vmxspec.syntax.literals import LiteralError, bdf_value, format_number, number_value
from vmxspec.syntax.parser import _machine
from vmxspec.syntax.printer import print as print_spec
from vmxspec.syntax.printer import print_expr

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "specs").rglob("*.vmx"))

N = A.Name


def num(value: int) -> A.Number:
    return A.Number(value)


def rng(low: int, high: int, inclusive: bool = False) -> A.Range:
    return A.Range(num(low), num(high), inclusive)


def bor(*terms: A.Expr) -> A.Expr:
    """``a | b | c`` as the parser nests it (to the left)."""
    out = terms[0]
    for t in terms[1:]:
        out = A.Binary(A.BinaryOp.BIT_OR, out, t)
    return out


def items(text: str) -> tuple[A.TopItem, ...]:
    return parse(text).items


def only(text: str) -> A.TopItem:
    (item,) = items(text)
    return item


def vm_items(body: str) -> tuple[A.VmItem, ...]:
    item = only(f"vm g {{ {body} }}")
    assert isinstance(item, A.Vm)
    return item.items


def vmcs_items(body: str) -> tuple[A.VmcsItem, ...]:
    (vmcs,) = vm_items(f"vmcs {{ {body} }}")
    assert isinstance(vmcs, A.Vmcs)
    return vmcs.items


def ept_items(body: str) -> tuple[A.PagingItem, ...]:
    (ept,) = vm_items(f"ept {{ {body} }}")
    assert isinstance(ept, A.Ept)
    return ept.items


def expr(text: str) -> A.Expr:
    item = only(f"assume {text}")
    assert isinstance(item, A.Assume)
    return item.condition


def value(text: str) -> A.Expr:
    (setting,) = vmcs_items(f"X = {text}")
    assert isinstance(setting, A.Setting)
    return setting.value


# ---- top level ----


def test_empty_and_comment_only_files() -> None:
    assert parse("") == A.SpecFile()
    spec = parse("# nothing here\n\n   # or here\n")
    assert spec.items == ()
    assert spec.comments == (A.Comment("# nothing here"), A.Comment("# or here"))


def test_import() -> None:
    assert only('import "lib/platforms.vmx"') == A.Import("lib/platforms.vmx")


def test_platform_preset_alone_and_with_overrides() -> None:
    assert only("platform icelake_server") == A.Platform(N("icelake_server"))
    assert only("""
        platform skylake_server {
          IA32_VMX_PROCBASED_CTLS2 = 0x00ff_ffff_0000_0000
          0x48c = any
          IA32_VMX_EPT_VPID_CAP -= pdpte_1g
          IA32_VMX_MISC += activity_hlt
          MAXPHYADDR = 46
        }
    """) == A.Platform(N("skylake_server"), (
        A.Setting(N("IA32_VMX_PROCBASED_CTLS2"), A.AssignOp.SET, num(0x00FF_FFFF_0000_0000)),
        A.Setting(num(0x48C), A.AssignOp.SET, A.AnyValue()),
        A.Setting(N("IA32_VMX_EPT_VPID_CAP"), A.AssignOp.REMOVE, N("pdpte_1g")),
        A.Setting(N("IA32_VMX_MISC"), A.AssignOp.ADD, N("activity_hlt")),
        A.Setting(N("MAXPHYADDR"), A.AssignOp.SET, num(46)),
    ))


def test_statements_need_no_separators_or_newlines() -> None:
    assert items("platform p vm a { } prove x") == (
        A.Platform(N("p")), A.Vm(N("a")), A.Prove(N("x")),
    )


# ---- vm, ram, ept ----


def test_vm_ram_at_host_address_and_sizes() -> None:
    assert vm_items("ram 0x0 .. 2G at 0x1_0000_0000  ram 4G .. 5G at any") == (
        A.Ram(rng(0, 2 << 30), num(1 << 32)),
        A.Ram(rng(4 << 30, 5 << 30), A.AnyValue()),
    )


def test_ept_map_hole_and_attributes() -> None:
    assert ept_items("""
        map 0x0 .. 0x8000_0000 -> 0x1_0000_0000 rwx wb page 2M
        map 0xfec0_0000 ..= 0xfec0_0fff -> 0x2_0000_0000 rw uc suppress_ve
        map 0 .. 4K -> any in 8G .. 9G r
        hole 0xfee0_0000 .. 0xfef0_0000
    """) == (
        A.Map(rng(0, 0x8000_0000), num(1 << 32),
              (A.Attr(N("rwx")), A.Attr(N("wb")), A.Attr(N("page"), num(2 << 20)))),
        A.Map(rng(0xFEC0_0000, 0xFEC0_0FFF, inclusive=True), num(0x2_0000_0000),
              (A.Attr(N("rw")), A.Attr(N("uc")), A.Attr(N("suppress_ve")))),
        A.Map(rng(0, 4096), A.AnyValue(domain=rng(8 << 30, 9 << 30)), (A.Attr(N("r")),)),
        A.Hole(rng(0xFEE0_0000, 0xFEF0_0000)),
    )


def test_ept_raw_entries_root_and_tables() -> None:
    assert ept_items("""
        tables in 0x3000_0000 .. 0x3010_0000
        root at 0x3000_0000
        pml4e at 0x3000_0000 = 0x3000_1007
        pdpte at 0x3000_1000 = 0x4000_0000 | 0x87
        pde at 0x3000_2008 = any
        pte at 0x3000_3000 = 0
        pml5e at 0x3000_4000 = 0x7
        entry at 0x1000_0000 = 0x1000_1007
    """) == (
        A.Tables(rng(0x3000_0000, 0x3010_0000)),
        A.Root(num(0x3000_0000)),
        A.RawEntry(A.EntryKind.PML4E, num(0x3000_0000), num(0x3000_1007)),
        A.RawEntry(A.EntryKind.PDPTE, num(0x3000_1000), bor(num(0x4000_0000), num(0x87))),
        A.RawEntry(A.EntryKind.PDE, num(0x3000_2008), A.AnyValue()),
        A.RawEntry(A.EntryKind.PTE, num(0x3000_3000), num(0)),
        A.RawEntry(A.EntryKind.PML5E, num(0x3000_4000), num(7)),
        A.RawEntry(A.EntryKind.ENTRY, num(0x1000_0000), num(0x1000_1007)),
    )


def test_map_with_computed_bounds_needs_parentheses() -> None:
    (m,) = ept_items("map (base + 4K) .. (base + 8K) -> host.base rx")
    assert m == A.Map(
        A.Range(A.Binary(A.BinaryOp.ADD, N("base"), num(4096)), A.Binary(A.BinaryOp.ADD, N("base"), num(8192))),
        A.Attribute(N("host"), N("base")), (A.Attr(N("rx")),),
    )


def test_map_fast_path_and_grammar_path_build_the_same_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    # One line of literals takes the driver's fast path; a comment inside forces the grammar.
    fast = ept_items("map 0x1000 .. 2M -> 0x1_0000_0000 rwx wb page 4K\nhole 0 .. 4K")
    slow = ept_items("map 0x1000 .. # split\n 2M -> 0x1_0000_0000 rwx wb page 4K\nhole 0 .. 4K")
    assert fast == slow
    # Spans too: the same text with the fast path switched off.
    text = "vm g { ept {\n  map 1 .. 0x2 -> 3 rw page 4K   # c\n  map 5 ..= 6 -> 7\n} }"
    with_fast = [(n, n.span) for n in A.walk(parse(text))]
    monkeypatch.setattr(_machine().driver, "fast_map", re.compile(r"(?!)"))
    assert [(n, n.span) for n in A.walk(parse(text))] == with_fast
    assert [n.span for n in A.walk(parse(text)) if isinstance(n, A.Attr)][1] == Span("<input>", 2, 24, 2, 31)


# ---- vmcs ----


def test_vmcs_controls_fields_and_assignment_operators() -> None:
    assert vmcs_items("""
        pin   = external_interrupt_exiting | nmi_exiting | virtual_nmis
        proc2 = enable_ept | enable_vpid
        proc += cr8_load_exiting
        proc -= hlt_exiting
        entry = ia32e_mode_guest
        exit = host_address_space_size
        vpid = 1
        GUEST_RIP = 0xffff_ffff_8100_0000
        0x681e = any width 48
        cr0_mask = PG | PE
    """) == (
        A.Setting(N("pin"), A.AssignOp.SET, bor(N("external_interrupt_exiting"), N("nmi_exiting"), N("virtual_nmis"))),
        A.Setting(N("proc2"), A.AssignOp.SET, bor(N("enable_ept"), N("enable_vpid"))),
        A.Setting(N("proc"), A.AssignOp.ADD, N("cr8_load_exiting")),
        A.Setting(N("proc"), A.AssignOp.REMOVE, N("hlt_exiting")),
        A.Setting(N("entry"), A.AssignOp.SET, N("ia32e_mode_guest")),
        A.Setting(N("exit"), A.AssignOp.SET, N("host_address_space_size")),
        A.Setting(N("vpid"), A.AssignOp.SET, num(1)),
        A.Setting(N("GUEST_RIP"), A.AssignOp.SET, num(0xFFFF_FFFF_8100_0000)),
        A.Setting(num(0x681E), A.AssignOp.SET, A.AnyValue(width=num(48))),
        A.Setting(N("cr0_mask"), A.AssignOp.SET, bor(N("PG"), N("PE"))),
    )


def test_vmcs_intercept_lists() -> None:
    assert vmcs_items("""
        msr_bitmap intercept read write { IA32_EFER, IA32_LSTAR, 0xc000_0100 ..= 0xc000_0102 }
        io_bitmap intercept all except { 0x3f8 ..= 0x3ff, 0x80 }
        vmread_bitmap intercept all
        vmwrite_bitmap intercept { GUEST_RIP, }
        exception_bitmap intercept { PF, UD, 18 }
        msr_bitmap intercept write {}
    """) == (
        A.Intercept(N("msr_bitmap"), (N("read"), N("write")), False,
                    (N("IA32_EFER"), N("IA32_LSTAR"), rng(0xC000_0100, 0xC000_0102, inclusive=True))),
        A.Intercept(N("io_bitmap"), (), True, (rng(0x3F8, 0x3FF, inclusive=True), num(0x80))),
        A.Intercept(N("vmread_bitmap"), (), True, ()),
        A.Intercept(N("vmwrite_bitmap"), (), False, (N("GUEST_RIP"),)),
        A.Intercept(N("exception_bitmap"), (), False, (N("PF"), N("UD"), num(18))),
        A.Intercept(N("msr_bitmap"), (N("write"),), False, ()),
    )


def test_keywords_of_other_blocks_are_names_where_a_name_fits() -> None:
    # LALR merges the iommu's "setting, then raw 'entry'" state with the vmcs's; the driver
    # still reads 'entry' here as the entry-controls field.
    assert vmcs_items("exit = a | b\nentry = c\nmap = 1\nall = 2") == (
        A.Setting(N("exit"), A.AssignOp.SET, bor(N("a"), N("b"))),
        A.Setting(N("entry"), A.AssignOp.SET, N("c")),
        A.Setting(N("map"), A.AssignOp.SET, num(1)),
        A.Setting(N("all"), A.AssignOp.SET, num(2)),
    )
    assert only("vm map { }") == A.Vm(N("map"))


def test_devices_and_pci_addresses() -> None:
    assert vm_items("devices { 0000:03:00.0, 03:00.1, ffff:ff:1f.7, }") == (
        A.Devices((A.Bdf(0, 3, 0, 0), A.Bdf(None, 3, 0, 1), A.Bdf(0xFFFF, 0xFF, 0x1F, 7))),
    )
    assert vm_items("devices {}") == (A.Devices(),)


def test_bit_slices_are_not_pci_addresses() -> None:
    assert expr("x[7:0] == 0x12") == A.Binary(A.BinaryOp.EQ, A.Bits(N("x"), num(7), num(0)), num(0x12))
    assert expr("f(03:00.0, x[15:12])") == A.Call(N("f"), (A.Bdf(None, 3, 0, 0), A.Bits(N("x"), num(15), num(12))))


# ---- iommu, hypervisor ----


def test_iommu() -> None:
    assert only("""
        iommu dmar0 {
          cap = 0xd2008c40660462
          device 0000:03:00.0 -> domain 1 uses guest1.ept
          device 0000:04:00.0 -> domain 2
          device 05:00.0 -> domain 3 passthrough
          domain 2 { map 0 .. 1G -> 0x4000_0000 rw }
          domain 4 passthrough
          domain 5 uses guest2.ept
          group { 0000:06:00.0, 0000:06:00.1 }
          root at 0x5000_0000
          root_entry at 0x5000_0000 = 0x5000_1001
          context_entry at 0x5000_1000 = any
          tables in 0x5000_0000 .. 0x5010_0000
        }
    """) == A.Iommu(N("dmar0"), (
        A.Setting(N("cap"), A.AssignOp.SET, num(0xD2008C40660462)),
        A.DeviceAssignment(A.Bdf(0, 3, 0, 0), num(1), A.Uses(A.Attribute(N("guest1"), N("ept")))),
        A.DeviceAssignment(A.Bdf(0, 4, 0, 0), num(2)),
        A.DeviceAssignment(A.Bdf(None, 5, 0, 0), num(3), A.Passthrough()),
        A.Domain(num(2), A.DomainTables((A.Map(rng(0, 1 << 30), num(0x4000_0000), (A.Attr(N("rw")),)),))),
        A.Domain(num(4), A.Passthrough()),
        A.Domain(num(5), A.Uses(A.Attribute(N("guest2"), N("ept")))),
        A.Group((A.Bdf(0, 6, 0, 0), A.Bdf(0, 6, 0, 1))),
        A.Root(num(0x5000_0000)),
        A.RawEntry(A.EntryKind.ROOT_ENTRY, num(0x5000_0000), num(0x5000_1001)),
        A.RawEntry(A.EntryKind.CONTEXT_ENTRY, num(0x5000_1000), A.AnyValue()),
        A.Tables(rng(0x5000_0000, 0x5010_0000)),
    ))


def test_hypervisor_memory() -> None:
    assert only("hypervisor { memory 0 .. 256M  memory 0x3000_0000 .. 0x3100_0000 }") == A.Hypervisor((
        A.Memory(rng(0, 256 << 20)), A.Memory(rng(0x3000_0000, 0x3100_0000)),
    ))


def test_shared_regions_and_their_parties() -> None:
    assert only("""
        shared virtio_ring 0x2_0000_0000 .. 0x2_0010_0000 {
          vm1 rw
          vm2 r  hypervisor rwx
        }
    """) == A.Shared(N("virtio_ring"), rng(0x2_0000_0000, 0x2_0010_0000), (
        A.Party(N("vm1"), N("rw")), A.Party(N("vm2"), N("r")), A.Party(N("hypervisor"), N("rwx")),
    ))
    assert only("shared s 0 ..= 0xfff {}") == A.Shared(N("s"), rng(0, 0xFFF, inclusive=True))
    # Rights are read as a name whatever they say: sema checks the letters where they stand.
    assert only("shared s 0 .. 4K { a none }") == A.Shared(N("s"), rng(0, 4096), (A.Party(N("a"), N("none")),))


def test_shared_spans_point_at_each_part() -> None:
    text = "shared ring 0x1000 .. 0x2000 {\n  hypervisor rw\n  g r\n}\n"
    (shared,) = parse(text, "s.vmx").items
    assert isinstance(shared, A.Shared)
    assert shared.span == Span("s.vmx", 1, 1, 4, 2)
    assert shared.name.span == Span("s.vmx", 1, 8, 1, 12)
    assert shared.range.span == Span("s.vmx", 1, 13, 1, 29)
    hypervisor, g = shared.parties
    assert hypervisor.span == Span("s.vmx", 2, 3, 2, 16)
    assert hypervisor.party.span == Span("s.vmx", 2, 3, 2, 13) and hypervisor.rights.span == Span("s.vmx", 2, 14, 2, 16)
    assert g.rights.span == Span("s.vmx", 3, 5, 3, 6)


def test_shared_is_a_keyword_only_where_a_statement_starts() -> None:
    """Specs written before 'shared' existed may use it as a name anywhere else."""
    assert items("vm shared { vmcs { shared = 1 } } prove shared(shared) shared s 0 .. 1 { shared r }") == (
        A.Vm(N("shared"), (A.Vmcs((A.Setting(N("shared"), A.AssignOp.SET, num(1)),)),)),
        A.Prove(A.Call(N("shared"), (N("shared"),))),
        A.Shared(N("s"), rng(0, 1), (A.Party(N("shared"), N("r")),)),
    )


@pytest.mark.parametrize(("text", "message", "note"), [
    ("vm a {\n  ram 0 .. 1 at 2\nshared r 0 .. 4K { a r }", "expected '}' to close 'vm a' opened at line 1 before "
     "'shared'", "'vm a' opened here"),
    ("vm a { vmcs { x = 1\nshared r 0 .. 4K { a r }", "unexpected name 'r'", "is a '}' missing before it?"),
    ("shared r 0 .. 4K { a }", "unexpected '}'; expected a name", "followed by its rights: 'vm1 rw'"),
    ("shared r 0 .. 4K { a rw b }", "unexpected '}'; expected a name", "followed by its rights"),
    ("shared 0 .. 4K { a r }", "unexpected number '0'; expected a name", None),
])
def test_shared_syntax_errors(text: str, message: str, note: str | None) -> None:
    (d,) = try_parse(text).diagnostics
    assert message in d.message, d.message
    notes = [n.message for n in d.notes]
    if note is None:
        assert not notes, notes
    else:
        assert any(note in n for n in notes), notes


def test_protects_takes_rights_as_a_second_argument() -> None:
    assert only("prove protects(0x8000_0000 .. 0x8100_0000, rw)") == A.Prove(
        A.Call(N("protects"), (rng(0x8000_0000, 0x8100_0000), N("rw"))))


# ---- assume, prove, nested ----


def test_prove_properties_and_exit_events() -> None:
    assert items("""
        prove vmentry_valid(guest1)
        prove isolated(guest1, hypervisor)
        prove exits(guest1) { CPUID, HLT, WRMSR IA32_EFER, OUT 0x20 ..= 0x21, EXCEPTION PF, }
        prove exits(guest1) {}
    """) == (
        A.Prove(A.Call(N("vmentry_valid"), (N("guest1"),))),
        A.Prove(A.Call(N("isolated"), (N("guest1"), N("hypervisor")))),
        A.Prove(A.Call(N("exits"), (N("guest1"),)), (
            A.Event(N("CPUID")), A.Event(N("HLT")), A.Event(N("WRMSR"), N("IA32_EFER")),
            A.Event(N("OUT"), rng(0x20, 0x21, inclusive=True)), A.Event(N("EXCEPTION"), N("PF")),
        )),
        A.Prove(A.Call(N("exits"), (N("guest1"),)), ()),
    )


def test_bounded_quantifiers() -> None:
    assert only("prove forall gpa in 0 .. 2G: translates(g.ept, gpa)") == A.Prove(A.Quantifier(
        A.QuantifierKind.FORALL, (A.Binding(N("gpa"), rng(0, 2 << 30)),),
        A.Call(N("translates"), (A.Attribute(N("g"), N("ept")), N("gpa"))),
    ))
    assert expr("exists m in { IA32_EFER, IA32_LSTAR }, p in ports: m == p") == A.Quantifier(
        A.QuantifierKind.EXISTS,
        (A.Binding(N("m"), A.SetLiteral((N("IA32_EFER"), N("IA32_LSTAR")))), A.Binding(N("p"), N("ports"))),
        A.Binary(A.BinaryOp.EQ, N("m"), N("p")),
    )


def test_assume_in_vm_and_at_top_level() -> None:
    assert vm_items("assume GUEST_CR3 & 0xfff == 0") == (A.Assume(A.Binary(
        A.BinaryOp.EQ, A.Binary(A.BinaryOp.BIT_AND, N("GUEST_CR3"), num(0xFFF)), num(0))),)
    assert only("assume g.vmcs.GUEST_RIP in 0x1000 .. 0x2000") == A.Assume(A.Member(
        A.Attribute(A.Attribute(N("g"), N("vmcs")), N("GUEST_RIP")), rng(0x1000, 0x2000)))


def test_nested() -> None:
    assert only("""
        nested l0 on guest1 {
          vmcs12 = any within platform without { enable_vm_functions }
          vmcs02.pin = vmcs01.pin | vmcs12.pin
          assume vmcs12.proc & hlt_exiting != 0
          prove honors_exits(vmcs12, vmcs02)
        }
    """) == A.Nested(N("l0"), N("guest1"), (
        A.Setting(N("vmcs12"), A.AssignOp.SET,
                  A.AnyValue(within=N("platform"), without=A.SetLiteral((N("enable_vm_functions"),)))),
        A.Setting(A.Attribute(N("vmcs02"), N("pin")), A.AssignOp.SET,
                  bor(A.Attribute(N("vmcs01"), N("pin")), A.Attribute(N("vmcs12"), N("pin")))),
        A.Assume(A.Binary(A.BinaryOp.NE, A.Binary(A.BinaryOp.BIT_AND, A.Attribute(N("vmcs12"), N("proc")),
                                                 N("hlt_exiting")), num(0))),
        A.Prove(A.Call(N("honors_exits"), (N("vmcs12"), N("vmcs02")))),
    ))


# ---- values and expressions ----


def test_any_values() -> None:
    assert value("any") == A.AnyValue()
    assert value("any width 16") == A.AnyValue(width=num(16))
    assert value("any in 0x1000 ..= 0x1fff") == A.AnyValue(domain=rng(0x1000, 0x1FFF, inclusive=True))
    assert value("any in { 1, 2, 4 }") == A.AnyValue(domain=A.SetLiteral((num(1), num(2), num(4))))
    assert value("any width 32 in 0 .. 10 within platform without { a }") == A.AnyValue(
        num(32), rng(0, 10), N("platform"), A.SetLiteral((N("a"),)))


def test_precedence_is_pythons() -> None:
    B = A.BinaryOp
    # Bit operators bind tighter than comparisons, which bind tighter than not/and/or/implies.
    assert expr("a | b & c == d ^ e") == A.Binary(
        B.EQ, A.Binary(B.BIT_OR, N("a"), A.Binary(B.BIT_AND, N("b"), N("c"))), A.Binary(B.BIT_XOR, N("d"), N("e")))
    assert expr("not a and b or c implies d implies e") == A.Binary(
        B.IMPLIES,
        A.Binary(B.OR, A.Binary(B.AND, A.Unary(A.UnaryOp.NOT, N("a")), N("b")), N("c")),
        A.Binary(B.IMPLIES, N("d"), N("e")),
    )
    assert expr("1 << 4 + 2 * 3 - ~x") == A.Binary(
        B.SHL, num(1), A.Binary(B.SUB, A.Binary(B.ADD, num(4), A.Binary(B.MUL, num(2), num(3))),
                                A.Unary(A.UnaryOp.INVERT, N("x"))))
    assert expr("(a | b) & c") == A.Binary(B.BIT_AND, A.Binary(B.BIT_OR, N("a"), N("b")), N("c"))
    assert expr("a < b and c >= d and e != f and g <= h and i > j") is not None


def test_postfix_chains() -> None:
    assert expr("g.vmcs.fields(1)[63:32].x") == A.Attribute(
        A.Bits(A.Call(A.Attribute(A.Attribute(N("g"), N("vmcs")), N("fields")), (num(1),)), num(63), num(32)),
        N("x"))
    assert expr("cr0[31]") == A.Bits(N("cr0"), num(31))
    assert expr("f()") == A.Call(N("f"), ())


@pytest.mark.parametrize(("text", "expected"), [
    ("0", 0), ("42", 42), ("1_000_000", 1_000_000), ("0x1f", 0x1F), ("0X1F", 0x1F),
    ("0x8000_0000", 0x8000_0000), ("0b1010", 10), ("0b1_0000", 16), ("4K", 4096), ("2M", 2 << 20),
    ("1G", 1 << 30), ("1T", 1 << 40), ("0xffff_ffff_ffff_ffff", (1 << 64) - 1), ("007", 7),
])
def test_numbers(text: str, expected: int) -> None:
    assert number_value(text) == expected
    assert value(text) == num(expected)


@pytest.mark.parametrize(("text", "why"), [
    ("0x12g4", "'g' is not a hexadecimal digit"), ("0x", "no digits"), ("0x_1", "'_' may only"),
    ("1__0", "'_' may only"), ("4k", "upper case"), ("4KB", "write sizes as '4K'"),
    ("12abc", "hexadecimal numbers start with '0x'"), ("12z", "'z' cannot follow"),
    ("0x1_0000_0000_0000_0000", "does not fit in 64 bits"), ("9" * 30, "does not fit"),
    ("9" * 10_000, "does not fit"), ("0b102", "'2' is not a binary digit"),
])
def test_bad_numbers(text: str, why: str) -> None:
    with pytest.raises(LiteralError, match=re.escape(why)):
        number_value(text)


@pytest.mark.parametrize(("text", "why"), [
    ("03:20.0", "00-1f"), ("03:00.8", "0-7"), ("3:00.0", "bus"), ("03:00", "function number is missing"),
    ("000:03:00.0", "segment"), ("03:0g.1", "device"), ("a:b:c:d", "write segment:bus"),
])
def test_bad_pci_addresses(text: str, why: str) -> None:
    with pytest.raises(LiteralError, match=re.escape(why)):
        bdf_value(text)


def test_number_spelling_is_kept_for_the_formatter_but_not_compared() -> None:
    n = value("0x0001_0000")
    assert isinstance(n, A.Number)
    assert n.text == "0x0001_0000" and n == num(0x10000)
    assert format_number(0x10000, n.text) == "0x0001_0000"
    assert format_number(0x10000, "garbage") == "0x1_0000"
    assert format_number(7) == "7"


# ---- spans, comments ----


def test_spans_cover_the_written_text() -> None:
    text = "vm guest1 {\n  ept {\n    hole 1 .. 2\n  }\n}\nprove f(guest1, 0x10)\n"
    spec = parse(text, "s.vmx")
    vm, prove = spec.items
    assert vm.span == Span("s.vmx", 1, 1, 5, 2)
    assert isinstance(vm, A.Vm) and vm.name.span == Span("s.vmx", 1, 4, 1, 10)
    assert vm.items[0].span == Span("s.vmx", 2, 3, 4, 4)
    assert isinstance(prove, A.Prove) and prove.span == Span("s.vmx", 6, 1, 6, 22)
    assert isinstance(prove.claim, A.Call) and prove.claim.args[1].span == Span("s.vmx", 6, 17, 6, 21)
    assert spec.span.path == "s.vmx"
    assert parse("assume (a | b)").items[0].span == Span("<input>", 1, 1, 1, 15)


def test_every_node_read_from_a_file_has_a_span() -> None:
    for path in EXAMPLES:
        spec = parse(path.read_text(), str(path))
        for node in A.walk(spec):
            assert node.span.path == str(path) and node.span.line >= 1, node


def test_comments_are_collected_in_order_and_strings_are_not_comments() -> None:
    spec = parse('import "a#b.vmx"  # first\n# second\nvm x { }  # third   \n')
    assert spec.items == (A.Import("a#b.vmx"), A.Vm(N("x")))
    assert spec.comments == (A.Comment("# first"), A.Comment("# second"), A.Comment("# third"))
    assert spec.comments[0].span == Span("<input>", 1, 19, 1, 26)


# ---- bytes, errors ----


def test_parse_bytes_accepts_a_byte_order_mark_and_rejects_bad_utf8() -> None:
    assert parse_bytes(b"\xef\xbb\xbfvm a { }") == A.SpecFile((A.Vm(N("a")),))
    result = try_parse_bytes(b"vm a {\n  # caf\xe9\n}\n", "bad.vmx")
    (d,) = result.diagnostics
    assert d.code == "syntax-encoding" and d.span == Span("bad.vmx", 2, 8, 2, 9)
    assert "byte e9 at offset 14" in d.message


def test_errors_raise_with_diagnostics_and_render_with_a_caret() -> None:
    with pytest.raises(SpecSyntaxError) as info:
        parse("vm guest1 {\n  ram 0 .. 1 at 2\n", "g.vmx")
    (d,) = info.value.diagnostics
    assert d.code == "syntax-unclosed-block"
    assert info.value.render() == (
        "g.vmx:2:18: error: expected '}' to close 'vm guest1' opened at line 1 [syntax-unclosed-block]\n"
        "    ram 0 .. 1 at 2\n"
        "                   ^\n"
        "g.vmx:1:11: note: 'vm guest1' opened here"
    )


def test_render_lines_up_the_caret_under_tabs_and_cuts_long_lines() -> None:
    d = try_parse("vm a {\n\tram 0 .. 1 @\n}").diagnostics[0]
    assert render(d, "vm a {\n\tram 0 .. 1 @\n}").splitlines()[1:] == ["  \tram 0 .. 1 @", "  \t           ^"]
    long = "assume " + " + ".join(["x"] * 100) + " $"
    d = try_parse(long).diagnostics[0]
    shown, caret = render(d, long).splitlines()[1:]
    assert shown.startswith("  ...") and len(shown) < 120 and caret.endswith("^")
    assert shown[caret.index("^")] == "$"


def test_all_syntax_codes_are_registered() -> None:
    used = {"syntax-unexpected-token", "syntax-unclosed-block", "syntax-unexpected-character",
            "syntax-unterminated-string", "syntax-bad-number", "syntax-bad-bdf", "syntax-encoding",
            "syntax-too-deep"}
    assert used <= set(BY_ID)


def test_deep_nesting_is_a_diagnostic_and_parentheses_alone_are_free() -> None:
    assert parse("assume " + "(" * 5000 + "x" + ")" * 5000) == parse("assume x")
    (d,) = try_parse("assume " + " | ".join(["x"] * 200)).diagnostics
    assert d.code == "syntax-too-deep"
    assert try_parse("assume " + " | ".join(["x"] * 120)).ok


def test_strict_grammar_loads() -> None:
    """strict=True: lark rejects any shift/reduce conflict or terminal collision in the grammar."""
    pytest.importorskip("interegular", reason="lark's strict mode needs lark[interegular]")
    from lark import Lark

    from vmxspec.syntax.parser import GRAMMAR_PATH
    Lark(GRAMMAR_PATH.read_text(), parser="lalr", strict=True)


def test_only_the_syntax_package_imports_lark() -> None:
    pattern = re.compile(r"^\s*(import lark|from lark\b)", re.M)
    offenders = [p for p in (ROOT / "vmxspec").rglob("*.py")
                 if "syntax" not in p.relative_to(ROOT / "vmxspec").parts[:1] and pattern.search(p.read_text())]
    assert offenders == []


def test_every_rule_builds_a_node() -> None:
    """No lark object leaks: every field of every node is a node, a tuple of nodes or plain data."""
    plain = (str, int, bool, type(None), Enum, Span)
    for path in EXAMPLES:
        for node in A.walk(parse(path.read_text())):
            for f in fields(node):
                value = getattr(node, f.name)
                values = value if isinstance(value, tuple) else (value,)
                assert all(isinstance(v, (A.Node, *plain)) for v in values), (node, f.name)
                assert not any(type(v).__module__.startswith("lark") for v in values)


# ---- the formatter ----


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_round_trip_through_the_formatter(path: Path) -> None:
    spec = parse(path.read_text(), str(path))
    text = print_spec(spec)
    again = parse(text)
    assert again == spec
    assert print_spec(again) == text


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_are_in_canonical_form(path: Path) -> None:
    text = path.read_text()
    assert print_spec(parse(text)) == text, f"{path.name} is not formatted: print it with the formatter"


def test_formatter_canonical_layout() -> None:
    source = """
platform p
vm g {   # the guest
ram 0..2G at 4G
  ept{map 0..4K->8K rwx page 4K
  hole 1..2}
  vmcs { pin = a|b
   proc2 += c
   GUEST_CR0 = 0x80000033
   msr_bitmap intercept read { IA32_EFER }   }


  devices{03:00.0}
}
prove exits(g){CPUID,WRMSR IA32_EFER}
"""
    assert print_spec(parse(source)) == """platform p

vm g {  # the guest
  ram 0 .. 2G at 4G
  ept {
    map 0 .. 4K -> 8K rwx page 4K
    hole 1 .. 2
  }
  vmcs {
    pin        = a | b
    proc2     += c
    GUEST_CR0  = 0x80000033
    msr_bitmap intercept read { IA32_EFER }
  }

  devices { 03:00.0 }
}

prove exits(g) { CPUID, WRMSR IA32_EFER }
"""


@pytest.mark.parametrize("text", [
    "(a | b) & c", "a | b & c", "a - (b - c)", "a - b - c", "(a implies b) implies c", "a implies b implies c",
    "not (a and b)", "not a == b", "(a == b) == c", "~(a | b)", "~~a", "(a + b).x", "f(x)(y)[3:0]",
    "x in 0 .. 10", "(x in s) == (y in t)", "(forall x in 0 .. 1: x) and y", "a and (forall x in s: x)",
    "forall x in s, y in { 1, 2 ..= 3 }: x < y", "{}", "f(a .. b, 03:00.0, forall z in s: z)",
    "(not a) == b", "a | (b == c)",
])
def test_formatter_keeps_meaning_with_fewest_parentheses(text: str) -> None:
    e = expr(text)
    printed = print_expr(e)
    assert expr(printed) == e
    assert printed == text


def test_formatter_breaks_long_lists_and_or_chains() -> None:
    bits = " | ".join(f"control_bit_number_{i}" for i in range(8))
    msrs = ", ".join(f"MSR_NUMBER_{i}" for i in range(12))
    text = print_spec(parse(f"vm g {{ vmcs {{ proc = {bits}\n msr_bitmap intercept read {{ {msrs} }} }} }}"))
    lines = text.splitlines()
    assert all(len(line) <= 100 for line in lines)
    assert lines[3].startswith("         | control_bit_number_")  # under the "="
    assert lines[5:8] == ["      MSR_NUMBER_0,", "      MSR_NUMBER_1,", "      MSR_NUMBER_2,"]
    assert parse(text) == parse(f"vm g {{ vmcs {{ proc = {bits}\n msr_bitmap intercept read {{ {msrs} }} }} }}")


def test_formatter_lays_out_shared_blocks() -> None:
    source = "shared ring 0x2_0000_0000..0x2_0010_0000{vm1 rw hypervisor r  # the host reads it\n}prove x"
    out = print_spec(parse(source))
    assert out == ("shared ring 0x2_0000_0000 .. 0x2_0010_0000 {\n  vm1 rw\n  hypervisor r  # the host reads it\n}\n"
                   "\nprove x\n")
    assert parse(out) == parse(source) and print_spec(parse(out)) == out
    assert print_spec(parse("shared s 0 .. 4K {}")) == "shared s 0 .. 4K {}\n"


def test_formatter_keeps_comments_and_single_blank_lines() -> None:
    source = ("# header\n\n\n\nvm a {  # opener\n\n  # about ram\n  ram 0 .. 1 at 2  # why\n"
              "  ram 3 .. 4 at 5\n  # closing\n}  # end\nprove x\n# tail\n")
    out = print_spec(parse(source))
    assert out == ("# header\n\nvm a {  # opener\n\n  # about ram\n  ram 0 .. 1 at 2  # why\n"
                   "  ram 3 .. 4 at 5\n  # closing\n}  # end\n\nprove x\n# tail\n")
    assert print_spec(parse(out)) == out
    moved = print_spec(parse("assume { a,  # inside\n b }\n"))
    assert moved == "# inside\nassume { a, b }\n"
