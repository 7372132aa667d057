"""The translation properties on small hand-written specs: each proved on a correct configuration
and violated on a broken one, every violation replayed through the reference interpreter."""

from __future__ import annotations

from pathlib import Path

import pytest

from vmxspec.check.driver import check_spec
from vmxspec.check.replay import replay
from vmxspec.check.results import CheckOptions, Result, Verdict
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


def run(tmp_path: Path, text: str) -> dict[str, Result]:
    path = tmp_path / "spec.vmx"
    path.write_text(text)
    report = check_spec(str(path), CheckOptions(), bundle_dir=str(tmp_path / "bundles"))
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
