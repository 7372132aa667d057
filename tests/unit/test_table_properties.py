"""The translation properties on small hand-written specs: each proved on a correct configuration
and violated on a broken one, every violation replayed through the reference interpreter."""

from __future__ import annotations

from pathlib import Path

import pytest

from vmxspec.check.driver import check_spec
from vmxspec.check.replay import replay
from vmxspec.check.results import CheckOptions, Result, Verdict, unique_lines
from vmxspec.diagnostics import NOWHERE, Span
from vmxspec.symbolic.reach.open_values import OPEN_REASON

HEAD = """platform skylake_server

hypervisor {
  memory 0x0 .. 0x1_0000_0000
}
"""

#: CAP_REG: SAGAW = 0b00100 (4-level only), 2 MiB and 1 GiB second-level pages; ECAP_REG: PT, SC.
IOMMU_REGS = """  cap  = 0x00d2_008c_4066_0462
  ecap = 0x00f0_50da
"""


def vm(name: str, host: int, tables: int, maps: str = "", extra: str = "", size: str = "1G") -> str:
    body = maps or f"    map 0x0 .. {size} -> {host:#x} rwx wb\n"
    return (f"vm {name} {{\n  ram 0x0 .. {size} at {host:#x}\n  ept {{\n"
            f"    tables in {tables:#x} .. {tables + 0x10_0000:#x}\n{body}  }}\n{extra}}}\n")


def run(tmp_path: Path, text: str, options: CheckOptions | None = None) -> dict[str, Result]:
    path = tmp_path / "spec.vmx"
    path.write_text(text)
    report = check_spec(str(path), options or CheckOptions(), bundle_dir=str(tmp_path / "bundles"))
    assert not report.had_errors, [d.headline() for d in report.diagnostics]
    return {r.title: r for r in report.results}


def proved(result: Result) -> None:
    assert result.verdict is Verdict.PROVED, (result.outcome.message, result.outcome.reason)


def violated(outcome_of: Result, **match: object) -> dict[str, object]:
    """Assert a violation whose counterexample replays; return the interpreter's answer."""
    assert outcome_of.verdict is Verdict.VIOLATED, (outcome_of.outcome.verdict, outcome_of.outcome.message)
    cex = outcome_of.outcome.counterexample
    assert cex is not None and cex.explanation
    replayed = replay(cex.state, cex.query, cex.expect)
    assert replayed.confirmed, replayed.why
    for key, value in match.items():
        assert replayed.answer.get(key) == value, (key, replayed.answer)
    return replayed.answer


# -- no_misconfig(VM.ept) ------------------------------------------------------------------------------

def test_no_misconfig_ept_proved_on_a_plain_map(tmp_path: Path) -> None:
    results = run(tmp_path, HEAD + vm("g", 0x1_0000_0000, 0x8000_0000) + "prove no_misconfig(g.ept)\n")
    proved(results["no_misconfig(g.ept)"])


def test_no_misconfig_ept_write_only(tmp_path: Path) -> None:
    maps = "    map 0x0 .. 2M -> 0x1_0000_0000 w wb\n"
    results = run(tmp_path, HEAD + vm("g", 0x1_0000_0000, 0x8000_0000, maps, size="2M") + "prove no_misconfig(g)\n")
    answer = violated(results["no_misconfig(g)"], result="ept_misconfig", level=2)
    assert answer["rule"] == "EPT-MISCONFIG-W-NO-R"


RAW = """vm r {
  ram 0x0 .. 2M at 0x1_0000_0000
  ept {
    tables in 0x4000_0000 .. 0x4000_4000
    root at 0x4000_0000
    pml4e at 0x4000_0000 = 0x4000_1007
    pdpte at 0x4000_1000 = 0x4000_2007
    pde at 0x4000_2000 = PDE
    entry at 0x4000_3000 = 0x2  # W without R, in a page no entry references
  }
}
prove no_misconfig(r.ept)
"""


@pytest.mark.parametrize(("pde", "rule"), [
    ("0x1_0000_00b7", None),                              # 2 MiB, WB, RWX
    ("0x1_0000_0097", "EPT-MISCONFIG-MEMTYPE"),           # memory type 2
    ("0x1_0010_00b7", "EPT-MISCONFIG-RSVD-2M-ALIGN"),     # frame not 2 MiB aligned
    ("0x4001_0000_00b7", "EPT-MISCONFIG-RSVD-PHYS"),      # bit 46, beyond MAXPHYADDR 46
    ("0x4000_0000_0000_00b7", None),                      # bit 62: ignored (bits 63:52 are not reserved)
    ("0x1_0000_00b4", None),                              # execute-only: the platform allows it
])
def test_no_misconfig_ept_raw_entries(tmp_path: Path, pde: str, rule: str | None) -> None:
    results = run(tmp_path, HEAD + RAW.replace("PDE", pde))
    result = results["no_misconfig(r.ept)"]
    if rule is None:
        proved(result)  # the W-only word at 0x4000_3000 is never reached
    else:
        assert violated(result, result="ept_misconfig", entry="0x40002000")["rule"] == rule


def test_no_misconfig_ept_ignores_entries_beyond_maxphyaddr(tmp_path: Path) -> None:
    """With MAXPHYADDR 39 no GPA reaches PML4 entry 1 (it translates 2^39 ..): it may be garbage."""
    text = RAW.replace("PDE", "0x1_0000_00b7").replace("entry at 0x4000_3000 = 0x2", "entry at 0x4000_0008 = 0x2")
    head = HEAD.replace("platform skylake_server", "platform skylake_server {\n  MAXPHYADDR = 39\n}")
    proved(run(tmp_path, head + text)["no_misconfig(r.ept)"])
    reached = text.replace("0x4000_0008 = 0x2", "0x4000_1008 = 0x2")  # PDPT entry 1: GPA 1G .. 2G
    assert violated(run(tmp_path, head + reached)["no_misconfig(r.ept)"])["rule"] == "EPT-MISCONFIG-W-NO-R"


# -- no_misconfig(IOMMU) -------------------------------------------------------------------------------

def iommu(body: str) -> str:
    return f"iommu dmar0 {{\n{IOMMU_REGS}  tables in 0x9000_0000 .. 0x9010_0000\n  root at 0x9000_0000\n{body}}}\n"


def test_no_misconfig_iommu_proved(tmp_path: Path) -> None:
    text = (HEAD + vm("g", 0x1_0000_0000, 0x8000_0000, extra="  devices { 0000:03:00.0 }\n")
            + iommu("  device 0000:03:00.0 -> domain 1 uses g.ept\n") + "prove no_misconfig(dmar0)\n")
    proved(run(tmp_path, text)["no_misconfig(dmar0)"])


RAW_VTD = """  root_entry at 0x9000_0030 = ROOT
  context_entry at 0x9000_1000 = CONTEXT
  entry at 0x9000_2000 = 0x9000_3003
  entry at 0x9000_3000 = 0x9000_4003
  entry at 0x9000_4000 = PDE
"""


@pytest.mark.parametrize(("root", "context", "pde", "rule"), [
    ("0x9000_1001", "0x102 << 64 | 0x9000_2001", "0x1_0000_0083", None),
    ("0x9000_1011", "0x102 << 64 | 0x9000_2001", "0x1_0000_0083", "DMA-ROOT-RSVD"),
    ("0x9000_1001", "0x103 << 64 | 0x9000_2001", "0x1_0000_0083", "DMA-CTX-AW"),
    ("0x9000_1001", "0x102 << 64 | 0x9000_200d", "0x1_0000_0083", "DMA-CTX-TT"),  # TT = 11b
    ("0x9000_1001", "0x102 << 64 | 0x9000_2001", "0x4000_0000_0000_0083", "DMA-SL-RSVD"),  # bit 62 (TM)
    ("0x9000_1001", "0x102 << 64 | 0x9000_2001", "0x4000_0000_0000_0080", None),  # R = W = 0: never read
])
def test_no_misconfig_iommu_raw_entries(tmp_path: Path, root: str, context: str, pde: str, rule: str | None) -> None:
    body = RAW_VTD.replace("ROOT", root).replace("CONTEXT", context).replace("PDE", pde)
    text = HEAD + vm("g", 0x1_0000_0000, 0x8000_0000) + iommu(body) + "prove no_misconfig(dmar0)\n"
    result = run(tmp_path, text)["no_misconfig(dmar0)"]
    if rule is None:
        proved(result)
    else:
        assert violated(result, result="fault")["rule"] == rule


# -- isolated(A, B) ------------------------------------------------------------------------------------

def test_isolated_disjoint_and_overlapping(tmp_path: Path) -> None:
    text = (HEAD + vm("a", 0x1_0000_0000, 0x8000_0000) + vm("b", 0x1_4000_0000, 0x8010_0000)
            + "prove isolated(a, b)\nprove isolated(b, hypervisor)\n")
    results = run(tmp_path, text)
    proved(results["isolated(a, b)"])
    proved(results["isolated(b, hypervisor)"])
    overlap = "    map 0x0 .. 1G -> 0x1_2000_0000 rwx wb\n"
    results = run(tmp_path, HEAD + vm("a", 0x1_0000_0000, 0x8000_0000, overlap) + vm("b", 0x1_4000_0000, 0x8010_0000)
                  + "prove isolated(a, b)\n")
    answer = violated(results["isolated(a, b)"], result="ok")
    assert int(str(answer["hpa"]), 16) == 0x1_4000_0000


@pytest.mark.parametrize(("rights", "access"), [("r", "read"), ("x", "fetch"), ("rwx", "read")])
def test_isolated_counts_every_permission(tmp_path: Path, rights: str, access: str) -> None:
    maps = f"    map 0x0 .. 1G -> 0x1_0000_0000 rwx wb\n    map 1G .. (1G + 4K) -> 0x8100_0000 {rights} wb\n"
    text = HEAD + vm("a", 0x1_0000_0000, 0x8000_0000, maps) + "prove isolated(a, hypervisor)\n"
    result = run(tmp_path, text)["isolated(a, hypervisor)"]
    violated(result, result="ok", hpa="0x81000000")
    assert result.outcome.counterexample is not None
    assert result.outcome.counterexample.query["access"] == access


def test_isolated_without_ept_is_unknown(tmp_path: Path) -> None:
    text = HEAD + "vm s {\n  ram 0x0 .. 1G at 0x1_0000_0000\n}\nprove isolated(s, hypervisor)\n"
    assert run(tmp_path, text)["isolated(s, hypervisor)"].verdict is Verdict.UNKNOWN
    off = "  vmcs {\n    proc  = activate_secondary_controls\n    proc2 = enable_vpid\n  }\n"
    text = HEAD + vm("a", 0x1_0000_0000, 0x8000_0000, extra=off) + "prove isolated(a, hypervisor)\n"
    assert run(tmp_path, text)["isolated(a, hypervisor)"].verdict is Verdict.UNKNOWN


# -- isolated(A, B) with shared regions ----------------------------------------------------------------

#: The ring: 64 KiB of host memory at 8 GiB, mapped by both VMs at guest-physical 1 GiB.
RING = 0x2_0000_0000
RING_END = RING + 0x1_0000


def two_sharing(a_rights: str, b_rights: str, declared: str = "a rw\n  b r", a_size: str = "64K",
                b_size: str = "64K", b_target: int = RING) -> str:
    """Two VMs that each map the ring after their RAM; the shared block says ``declared``."""
    maps_a = f"    map 0x0 .. 1G -> 0x1_0000_0000 rwx wb\n    map 1G .. (1G + {a_size}) -> {RING:#x} {a_rights} wb\n"
    maps_b = (f"    map 0x0 .. 1G -> 0x1_4000_0000 rwx wb\n"
              f"    map 1G .. (1G + {b_size}) -> {b_target:#x} {b_rights} wb\n")
    return (HEAD + vm("a", 0x1_0000_0000, 0x8000_0000, maps_a) + vm("b", 0x1_4000_0000, 0x8010_0000, maps_b)
            + f"shared ring {RING:#x} .. {RING_END:#x} {{\n  {declared}\n}}\n")


def test_isolated_excuses_a_shared_region_used_within_its_rights(tmp_path: Path) -> None:
    text = two_sharing("rw", "r") + "prove isolated(a, b)\nprove isolated(b, a)\n"
    results = run(tmp_path, text)
    proved(results["isolated(a, b)"])
    proved(results["isolated(b, a)"])
    assert "'ring'" in results["isolated(a, b)"].outcome.message
    # Fewer rights than declared are fine too; without the declaration the same overlap is a violation.
    proved(run(tmp_path, two_sharing("r", "r") + "prove isolated(a, b)\n")["isolated(a, b)"])
    bare = text[:text.index("shared ring")] + "prove isolated(a, b)\n"
    answer = violated(run(tmp_path, bare)["isolated(a, b)"], result="ok")
    assert int(str(answer["hpa"]), 16) == RING


@pytest.mark.parametrize(("b_rights", "access", "user"), [("rw", "write", None), ("rx", "fetch", None),
                                                          ("rwx", "write", None)])
def test_isolated_refutes_rights_beyond_the_declared_ones(tmp_path: Path, b_rights: str, access: str,
                                                          user: object) -> None:
    result = run(tmp_path, two_sharing("rw", b_rights) + "prove isolated(a, b)\n")["isolated(a, b)"]
    answer = violated(result, result="ok", hpa=hex(RING))
    cex = result.outcome.counterexample
    assert cex is not None
    assert cex.query == {"kind": "ept", "gpa": hex(1 << 30), "access": access}  # b's GPA of the ring
    assert cex.expect["hpa_in"] == [[hex(RING), hex(RING_END)]]
    assert answer.get("user") == user
    assert "b may only read ('b r')" in cex.explanation
    assert f"b can {'execute' if access == 'fetch' else access} the shared region 'ring'" in result.outcome.message


def test_rights_are_checked_even_where_the_other_side_maps_nothing(tmp_path: Path) -> None:
    """The declaration is the contract: b writing the ring breaks it though a maps no byte of it."""
    text = two_sharing("rw", "rw", a_size="4K").replace(f"map 1G .. (1G + 4K) -> {RING:#x} rw wb\n", "")
    assert "4K" not in text.split("vm b")[0].split("ept")[1]  # a maps nothing of the ring now
    result = run(tmp_path, text + "prove isolated(a, b)\n")["isolated(a, b)"]
    violated(result, result="ok", hpa=hex(RING))


def test_overlap_just_outside_a_shared_region_is_refuted_at_the_boundary(tmp_path: Path) -> None:
    """Both map one page past the ring's end: the first byte outside it is reachable from both."""
    text = two_sharing("rw", "r", a_size="68K", b_size="68K") + "prove isolated(a, b)\n"
    result = run(tmp_path, text)["isolated(a, b)"]
    answer = violated(result, result="ok", hpa=hex(RING_END))
    cex = result.outcome.counterexample
    assert cex is not None and cex.expect["hpa_in"] == [[hex(RING_END), hex(RING_END + 0x1000)]]
    assert cex.query["gpa"] == hex((1 << 30) + 0x1_0000)  # a's GPA of the byte at the ring's end
    assert "outside every region declared shared by both" in cex.explanation
    assert answer["result"] == "ok"
    # One page below the ring's start: the overlap is the page that ends where the ring starts.
    below = two_sharing("rw", "r", a_size="68K", b_size="68K", b_target=RING - 0x1000).replace(
        f"(1G + 68K) -> {RING:#x} rw", f"(1G + 68K) -> {RING - 0x1000:#x} rw")
    result = run(tmp_path, below + "prove isolated(a, b)\n")["isolated(a, b)"]
    violated(result, result="ok", hpa=hex(RING - 0x1000))
    assert result.outcome.counterexample is not None
    assert result.outcome.counterexample.expect["hpa_in"] == [[hex(RING - 0x1000), hex(RING)]]


def test_a_region_excuses_only_the_parties_it_lists(tmp_path: Path) -> None:
    text = two_sharing("rw", "r", declared="a rw\n  hypervisor r") + "prove isolated(a, b)\n"
    result = run(tmp_path, text)["isolated(a, b)"]
    violated(result, result="ok", hpa=hex(RING))
    assert "share host memory" in result.outcome.message


def test_isolated_from_the_hypervisor_with_a_shared_page(tmp_path: Path) -> None:
    """A page of hypervisor memory shared with the guest read-only (paravirtual clock data)."""
    clock = 0x7F00_0000
    base = HEAD + vm("a", 0x1_0000_0000, 0x8000_0000,
                     f"    map 0x0 .. 1G -> 0x1_0000_0000 rwx wb\n    map 1G .. (1G + 4K) -> {clock:#x} RIGHTS wb\n")
    shared = f"shared clock {clock:#x} .. {clock + 0x1000:#x} {{\n  a r\n  hypervisor rw\n}}\n"
    proved(run(tmp_path, base.replace("RIGHTS", "r") + shared + "prove isolated(a, hypervisor)\n")
           ["isolated(a, hypervisor)"])
    result = run(tmp_path, base.replace("RIGHTS", "rw") + shared + "prove isolated(hypervisor, a)\n")
    violated(result["isolated(hypervisor, a)"], result="ok", hpa=hex(clock))
    assert "beyond its declared rights (r)" in result["isolated(hypervisor, a)"].outcome.message
    # Without the declaration, reading hypervisor memory is a violation as before.
    violated(run(tmp_path, base.replace("RIGHTS", "r") + "prove isolated(a, hypervisor)\n")
             ["isolated(a, hypervisor)"], result="ok", hpa=hex(clock))


MBEC_ON = ("  vmcs {\n    proc  = activate_secondary_controls\n    proc2 = enable_ept | mode_based_execute_control\n"
           "  }\n")
MBEC_OFF = "  vmcs {\n    proc  = activate_secondary_controls\n    proc2 = enable_ept\n  }\n"


@pytest.mark.parametrize(("controls", "verdict"), [("", Verdict.UNKNOWN), (MBEC_OFF, Verdict.PROVED),
                                                   (MBEC_ON, Verdict.VIOLATED)])
def test_user_execute_counts_as_execute_under_mode_based_execute_control(tmp_path: Path, controls: str,
                                                                         verdict: Verdict) -> None:
    """b maps the ring 'ru' (read, and user-mode execute through bit 10) where it may only read: an
    execute right exactly when MBEC is on, and unknown when the VMCS does not say."""
    text = two_sharing("rw", "ru")
    if controls:
        text = text.replace("vm b {\n", "vm b {\n" + controls).replace("vm a {\n", "vm a {\n" + MBEC_OFF)
    result = run(tmp_path, text + "prove isolated(a, b)\n")["isolated(a, b)"]
    assert result.verdict is verdict, result.outcome.message
    if verdict is Verdict.VIOLATED:
        violated(result, result="ok", hpa=hex(RING))
        assert result.outcome.counterexample is not None
        assert result.outcome.counterexample.query["user"] is True
        assert result.outcome.counterexample.query["access"] == "fetch"


# -- protects(REGION) ----------------------------------------------------------------------------------

def test_protects_read_only_view_and_writable_map(tmp_path: Path) -> None:
    view = "    map 0x0 .. 1G -> 0x1_0000_0000 rwx wb\n    map 1G .. (1G + 4K) -> 0x8100_2000 r wb\n"
    text = HEAD + vm("g", 0x1_0000_0000, 0x8000_0000, view) + "prove protects(0x8100_0000 .. 0x8200_0000)\n"
    proved(run(tmp_path, text)["protects(0x8100_0000 .. 0x8200_0000)"])
    text = text.replace("0x8100_2000 r wb", "0x8100_2000 rw wb").replace("0x8100_0000 .. 0x8200_0000",
                                                                          "hypervisor")
    result = run(tmp_path, text)["protects(hypervisor)"]
    violated(result, result="ok", hpa="0x81002000")
    assert result.outcome.counterexample is not None
    assert result.outcome.counterexample.query["access"] == "write"


@pytest.mark.parametrize(("mapped", "forbidden", "refuted_by"), [
    ("r", "rw", "read"),  # a read-only mapping refutes protects(R, rw)
    ("r", "w", None),
    ("r", "x", None),
    ("rx", "x", "fetch"),
    ("rw", "r", "read"),
    ("rw", "x", None),
    ("rwx", "wx", "write"),  # the write is shown first
    ("x", "r", None),
    ("x", "rwx", "fetch"),
])
def test_protects_forbids_the_rights_it_is_given(tmp_path: Path, mapped: str, forbidden: str,
                                                  refuted_by: str | None) -> None:
    maps = f"    map 0x0 .. 1G -> 0x1_0000_0000 rwx wb\n    map 1G .. (1G + 4K) -> 0x8100_2000 {mapped} wb\n"
    claim = f"protects(0x8100_0000 .. 0x8200_0000, {forbidden})"
    result = run(tmp_path, HEAD + vm("g", 0x1_0000_0000, 0x8000_0000, maps) + f"prove {claim}\n")[claim]
    if refuted_by is None:
        proved(result)
        return
    violated(result, result="ok", hpa="0x81002000")
    assert result.outcome.counterexample is not None
    assert result.outcome.counterexample.query == {"kind": "ept", "gpa": hex(1 << 30), "access": refuted_by}


def test_protects_a_shared_region_by_name(tmp_path: Path) -> None:
    text = two_sharing("rw", "r") + "prove protects(ring, x)\nprove protects(ring)\n"
    results = run(tmp_path, text)
    proved(results["protects(ring, x)"])
    violated(results["protects(ring)"], result="ok", hpa=hex(RING))  # a may write it: shared is not protected
    assert "shared region 'ring'" in results["protects(ring)"].outcome.message


# -- --explain: what a proof depended on -----------------------------------------------------------------

def _lines(result: Result) -> list[int]:
    assert result.verdict is Verdict.PROVED, result.outcome.message
    return [s.line for s in result.outcome.depends_on]


def test_explain_lists_the_statements_an_isolation_proof_read(tmp_path: Path) -> None:
    text = two_sharing("rw", "r") + "prove isolated(a, b)\nprove isolated(a, hypervisor)\n"
    numbered = {line.strip(): i for i, line in enumerate(text.splitlines(), 1)}
    explain = CheckOptions(explain=True)
    results = run(tmp_path, text, explain)
    maps = [i for line, i in numbered.items() if line.startswith("map ")]
    ring, a_rw, b_r = numbered[f"shared ring {RING:#x} .. {RING_END:#x} {{"], numbered["a rw"], numbered["b r"]
    assert _lines(results["isolated(a, b)"]) == sorted([*maps, ring, a_rw, b_r])
    # a and the hypervisor share nothing: a's two maps and the hypervisor's memory, no shared region.
    memory = numbered["memory 0x0 .. 0x1_0000_0000"]
    assert _lines(results["isolated(a, hypervisor)"]) == sorted([memory, *maps[:2]])
    # Only with --explain.
    assert run(tmp_path, text)["isolated(a, b)"].outcome.depends_on == ()


def test_explain_for_protects_no_misconfig_and_dma(tmp_path: Path) -> None:
    text = (TWO_VMS + iommu("  device 0000:03:00.0 -> domain 1 uses a.ept\n  device 0000:04:00.0 -> domain 2 {\n"
                             "    map 0x0 .. 1G -> 0x1_4000_0000 rw\n  }\n")
            + "prove protects(hypervisor, rw)\nprove no_misconfig(a.ept)\nprove no_misconfig(dmar0)\n"
              "prove dma_isolated(dmar0)\n")
    lines = text.splitlines()
    results = run(tmp_path, text, CheckOptions(explain=True))

    def shown(result: Result) -> list[str]:
        return [lines[n - 1].strip() for n in _lines(result)]

    assert shown(results["protects(hypervisor, rw)"]) == [
        "memory 0x0 .. 0x1_0000_0000", "map 0x0 .. 1G -> 0x100000000 rwx wb", "map 0x0 .. 1G -> 0x140000000 rwx wb"]
    assert shown(results["no_misconfig(a.ept)"]) == ["platform skylake_server", "map 0x0 .. 1G -> 0x100000000 rwx wb"]
    unit = shown(results["no_misconfig(dmar0)"])
    assert unit[0] == "platform skylake_server" and "cap  = 0x00d2_008c_4066_0462" in unit
    assert "device 0000:03:00.0 -> domain 1 uses a.ept" in unit and "map 0x0 .. 1G -> 0x1_4000_0000 rw" in unit
    assert "map 0x0 .. 1G -> 0x100000000 rwx wb" in unit  # the VM map domain 1 mirrors
    dma = shown(results["dma_isolated(dmar0)"])
    assert {"devices { 0000:03:00.0 }", "devices { 0000:04:00.0 }", "ram 0x0 .. 1G at 0x100000000",
            "ram 0x0 .. 1G at 0x140000000", "memory 0x0 .. 0x1_0000_0000"} <= set(dma)
    assert "tables in 0x80000000 .. 0x80100000" in dma  # where a's EPT tables (which no device may reach) are


def test_explain_lists_each_line_once(tmp_path: Path) -> None:
    """``device D -> domain N uses VM.ept`` is two statements on one line (the device's attachment
    and the domain it makes), and a group's line names its devices too: the traversals read both,
    and the proof lists the line once, at its first column."""
    text = (TWO_VMS + iommu("  device 0000:03:00.0 -> domain 1 uses a.ept\n"
                            "  device 0000:04:00.0 -> domain 2 uses b.ept\n"
                            "  group { 0000:04:00.0, 0000:04:00.1 }\n")
            + "prove no_misconfig(dmar0)\nprove dma_isolated(dmar0)\nprove isolated(a, b)\n"
              "prove protects(hypervisor)\nprove no_misconfig(a.ept)\n")
    numbered = {line.strip(): i for i, line in enumerate(text.splitlines(), 1)}
    results = run(tmp_path, text, CheckOptions(explain=True))
    for title in ("no_misconfig(dmar0)", "dma_isolated(dmar0)", "isolated(a, b)", "protects(hypervisor)",
                  "no_misconfig(a.ept)"):
        spans = results[title].outcome.depends_on
        lines = _lines(results[title])
        assert lines == sorted(set(lines)), (title, lines)
        assert all(s.path == spans[0].path for s in spans), title
    for title in ("no_misconfig(dmar0)", "dma_isolated(dmar0)"):
        by_line = {s.line: s for s in results[title].outcome.depends_on}
        for device in ("device 0000:03:00.0 -> domain 1 uses a.ept", "device 0000:04:00.0 -> domain 2 uses b.ept"):
            assert by_line[numbered[device]].column == 3, (title, device)  # the statement's start


def test_unique_lines_keeps_the_first_span_of_each_line_in_file_order() -> None:
    first, same_line, earlier = Span("s.vmx", 7, 30, 7, 40), Span("s.vmx", 7, 3, 7, 20), Span("s.vmx", 2, 1, 2, 9)
    other_file = Span("a.vmx", 9, 1, 9, 4)
    assert unique_lines([first, None, NOWHERE, same_line, earlier, other_file, Span("s.vmx", 0, 0, 0, 0)]) == (
        other_file, earlier, first)


def test_explain_lists_only_the_raw_entries_a_walk_read(tmp_path: Path) -> None:
    """Raw entries count where the traversal read them: the PT entry over the map's only leaf does,
    a word in a page no entry references does not."""
    maps = ("    map 0x0 .. 4K -> 0x1_0000_0000 rwx wb\n    root at 0x8000_0000\n    pte at 0x8000_3000 = 0\n"
            "    entry at 0x8000_5000 = 0x2\n")
    text = HEAD + vm("g", 0x1_0000_0000, 0x8000_0000, maps, size="4K") + "prove no_misconfig(g.ept)\n"
    results = run(tmp_path, text, CheckOptions(explain=True))
    shown = [text.splitlines()[n - 1].strip() for n in _lines(results["no_misconfig(g.ept)"])]
    assert shown == ["platform skylake_server", "map 0x0 .. 4K -> 0x1_0000_0000 rwx wb", "root at 0x8000_0000",
                     "pte at 0x8000_3000 = 0"]
    assert "0 runs" in results["no_misconfig(g.ept)"].outcome.message  # the raw PTE replaced the only leaf


# -- dma_isolated(IOMMU) -------------------------------------------------------------------------------

TWO_VMS = (HEAD + vm("a", 0x1_0000_0000, 0x8000_0000, extra="  devices { 0000:03:00.0 }\n")
           + vm("b", 0x1_4000_0000, 0x8010_0000, extra="  devices { 0000:04:00.0 }\n"))


def dma(tmp_path: Path, body: str, head: str = TWO_VMS) -> Result:
    return run(tmp_path, head + iommu(body) + "prove dma_isolated(dmar0)\n")["dma_isolated(dmar0)"]


def test_dma_isolated_proved(tmp_path: Path) -> None:
    proved(dma(tmp_path, "  device 0000:03:00.0 -> domain 1 uses a.ept\n  device 0000:04:00.0 -> domain 2 {\n"
                         "    map 0x0 .. 1G -> 0x1_4000_0000 rw\n  }\n  group { 0000:04:00.0, 0000:04:00.1 }\n"))


def test_dma_isolated_other_vms_ram(tmp_path: Path) -> None:
    result = dma(tmp_path, "  device 0000:03:00.0 -> domain 1 {\n    map 0x0 .. 2G -> 0x1_0000_0000 rw\n  }\n")
    violated(result, result="ok", hpa="0x140000000")
    assert "b's RAM" in result.outcome.message


def test_dma_isolated_passthrough_of_an_assigned_device(tmp_path: Path) -> None:
    result = dma(tmp_path, "  device 0000:03:00.0 -> domain 1 passthrough\n")
    violated(result, result="ok", translation="pass-through")
    assert result.outcome.counterexample is not None
    assert "pass-through" in result.outcome.counterexample.explanation


def test_dma_isolated_host_device_into_a_vm(tmp_path: Path) -> None:
    result = dma(tmp_path, "  device 0000:07:00.0 -> domain 9 {\n    map 0x0 .. 4K -> 0x1_4000_0000 r\n  }\n")
    violated(result, result="ok", hpa="0x140000000")
    assert "assigned to no VM" in result.outcome.message


def test_dma_isolated_bitmap_page(tmp_path: Path) -> None:
    """The builder puts a's MSR bitmap in the first free page of a's table region (after the PML4
    table and the page-directory-pointer table); no hypervisor block, so only the bitmap rule can
    catch a device mapped onto it."""
    head = ("platform skylake_server\n\n" + vm("a", 0x1_0000_0000, 0x8000_0000, extra=(
        "  vmcs {\n    proc = use_msr_bitmaps\n    msr_bitmap intercept read write all\n  }\n"
        "  devices { 0000:03:00.0 }\n")))
    result = dma(tmp_path, "  device 0000:03:00.0 -> domain 1 {\n    map 0x0 .. 4K -> 0x8000_2000 rw\n  }\n", head)
    violated(result, result="ok", hpa="0x80002000")
    assert "MSR bitmap" in result.outcome.message


def test_dma_isolated_own_tables(tmp_path: Path) -> None:
    result = dma(tmp_path, "  device 0000:03:00.0 -> domain 1 {\n    map 0x0 .. 2M -> 0x9000_0000 rw\n  }\n")
    violated(result, result="ok", hpa="0x90000000")
    assert "dmar0's root table" in result.outcome.message


def test_dma_isolated_group_with_two_owners(tmp_path: Path) -> None:
    result = dma(tmp_path, "  device 0000:03:00.0 -> domain 1 uses a.ept\n"
                           "  device 0000:04:00.0 -> domain 2 uses b.ept\n"
                           "  group { 0000:03:00.0, 0000:04:00.0 }\n")
    violated(result, result="ok")
    assert "group" in result.outcome.message


def test_dma_isolated_shared_domain(tmp_path: Path) -> None:
    """Two VMs' devices in one domain with no mapping at all: structurally two owners."""
    result = dma(tmp_path, "  device 0000:03:00.0 -> domain 1 {\n    hole 0x0 .. 4K\n  }\n"
                           "  device 0000:04:00.0 -> domain 1\n")
    violated(result, result="fault")
    assert "domain 1" in result.outcome.message


def test_dma_isolated_translated_requests(tmp_path: Path) -> None:
    """A legacy context entry with TT = 01b (ECAP.DT set) accepts translated (ATS) requests, whose
    addresses the unit does not translate: the device reaches every host address."""
    body = RAW_VTD.replace("ROOT", "0x9000_1001").replace("CONTEXT", "0x102 << 64 | 0x9000_2005").replace(
        "PDE", "0x1_0000_0083")
    head = HEAD + vm("g", 0x1_0000_0000, 0x8000_0000, extra="  devices { 0000:03:00.0 }\n")
    text = head + iommu(body).replace("0x00f0_50da", "0x00f0_50de") + "prove dma_isolated(dmar0)\n"
    result = run(tmp_path, text)["dma_isolated(dmar0)"]
    violated(result, result="ok", translation="translated")
    assert result.outcome.counterexample is not None
    assert result.outcome.counterexample.query["at"] == "translated"


def test_dma_isolated_per_unit_scope(tmp_path: Path) -> None:
    """With two units, each remaps the devices attached to it (the second is scoped to its
    device); a unit without attachments has no scope and remaps the rest of the segment."""
    second = ("iommu dmar1 {\n" + IOMMU_REGS + "  tables in 0x9100_0000 .. 0x9110_0000\n"
              "  device 0000:05:00.0 -> domain 3 uses g.ept\n}\n")
    body = RAW_VTD.replace("ROOT", "0x9000_1001").replace("CONTEXT", "0x102 << 64 | 0x9000_2001").replace(
        "PDE", "0x1_0000_0083")
    head = HEAD + vm("g", 0x1_0000_0000, 0x8000_0000, extra="  devices { 0000:03:00.0, 0000:05:00.0 }\n")
    results = run(tmp_path, head + iommu(body) + second + "prove dma_isolated(dmar0)\nprove dma_isolated(dmar1)\n"
                  "prove no_misconfig(dmar1)\n")
    proved(results["dma_isolated(dmar0)"])
    proved(results["dma_isolated(dmar1)"])
    proved(results["no_misconfig(dmar1)"])


# -- open values ------------------------------------------------------------------------------------

def test_open_entry_values_are_enumerated(tmp_path: Path) -> None:
    text = HEAD + RAW.replace("PDE", "any in { 0x0, 0x1_0000_00b7, 0x1_0000_0097 }")
    result = run(tmp_path, text)["no_misconfig(r.ept)"]
    violated(result, rule="EPT-MISCONFIG-MEMTYPE")
    assert result.outcome.counterexample is not None
    assert list(result.outcome.counterexample.open_values.values()) == [0x1_0000_0097]
    proved(run(tmp_path, HEAD + RAW.replace("PDE", "any in { 0x0, 0x1_0000_00b7 }"))["no_misconfig(r.ept)"])


def test_unbounded_open_values_are_unknown(tmp_path: Path) -> None:
    maps = "    map 0x0 .. 1G -> any rwx wb\n"
    result = run(tmp_path, HEAD + vm("g", 0x1_0000_0000, 0x8000_0000, maps) + "prove isolated(g, hypervisor)\n")
    assert result["isolated(g, hypervisor)"].verdict is Verdict.UNKNOWN
    assert result["isolated(g, hypervisor)"].outcome.reason == OPEN_REASON


def test_open_vmcs_fields_that_translation_never_reads_do_not_matter(tmp_path: Path) -> None:
    extra = "  vmcs {\n    GUEST_RIP = any\n    TSC_OFFSET = any\n  }\n"
    text = HEAD + vm("g", 0x1_0000_0000, 0x8000_0000, extra=extra) + "prove isolated(g, hypervisor)\n"
    proved(run(tmp_path, text)["isolated(g, hypervisor)"])


# -- the shipped specs, end to end ---------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
MINE = ("no_misconfig(", "isolated(", "dma_isolated(", "protects(")


def _spec_proofs(folder: str) -> list[tuple[str, str]]:
    out = []
    for path in sorted((ROOT / "specs" / folder).glob("*.vmx")):
        for line in path.read_text().splitlines():
            if line.startswith("prove ") and line[len("prove "):].startswith(MINE):
                out.append((path.name, line[len("prove "):].split("#")[0].strip()))
    return out


_REPORTS: dict[str, dict[str, Result]] = {}


def _shipped(folder: str, name: str, tmp_path: Path) -> dict[str, Result]:
    key = f"{folder}/{name}"
    if key not in _REPORTS:
        report = check_spec(str(ROOT / "specs" / folder / name), CheckOptions(), bundle_dir=str(tmp_path))
        _REPORTS[key] = {r.title: r for r in report.results}
    return _REPORTS[key]


@pytest.mark.parametrize(("name", "title"), _spec_proofs("examples"))
def test_example_specs_are_proved(name: str, title: str, tmp_path: Path) -> None:
    proved(_shipped("examples", name, tmp_path)[title])


@pytest.mark.parametrize(("name", "title"), _spec_proofs("bugs"))
def test_bug_specs_are_refuted(name: str, title: str, tmp_path: Path) -> None:
    violated(_shipped("bugs", name, tmp_path)[title])


def test_the_shipped_specs_exercise_every_translation_property() -> None:
    found = {t.split("(")[0] for _, t in _spec_proofs("examples") + _spec_proofs("bugs")}
    assert found == {"no_misconfig", "isolated", "dma_isolated", "protects"}


def test_contradictory_assumptions_make_a_proof_vacuous(tmp_path: Path) -> None:
    extra = "  vmcs {\n    GUEST_RIP = any\n  }\n  assume GUEST_RIP < 0x10\n  assume GUEST_RIP > 0x20\n"
    text = HEAD + vm("g", 0x1_0000_0000, 0x8000_0000, extra=extra) + "prove isolated(g, hypervisor)\n"
    assert run(tmp_path, text)["isolated(g, hypervisor)"].verdict is Verdict.VACUOUS
    proved(run(tmp_path, text.replace("GUEST_RIP > 0x20", "GUEST_RIP > 0x2"))["isolated(g, hypervisor)"])
