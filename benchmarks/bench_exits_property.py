"""``prove exits(VM)`` over every MSR index and every I/O port, for one VM with realistic bitmaps.

The VM is programmed the way KVM programs a 64-bit guest: every MSR read and write intercepted but
the handful it passes through (FS/GS bases, SYSENTER, TSC_AUX, SPEC_CTRL reads...), every port
intercepted but the POST port 0x80 and a pass-through UART. Four proofs are timed end to end
(parse, sema, build, solve, replay), each in its own ``check_spec`` run:

* RDMSR and WRMSR over all 2^32 indices except the pass-through ones: proved;
* IN and OUT over all 65,536 ports (every access size) except the pass-through ones: proved;
* the same four events over *every* index and port: violated (a counterexample found, explained
  and replayed in the reference interpreter).

For scale, the naive baseline asks the reference interpreter about every port, size and direction
(393,216 questions), and about the MSRs (2^32 x 2 questions, extrapolated from a sample).
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

from benchmarks.figures import Figure
from vmxspec.build.from_model import build_state
from vmxspec.check.driver import check_spec
from vmxspec.check.results import CheckOptions, Verdict
from vmxspec.interp.exits import decide_exit
from vmxspec.sema.analyze import analyze

#: Pass-through MSRs: FS/GS/kernel-GS base, SYSENTER CS/ESP/EIP, TSC_AUX; reads also of the TSC,
#: SPEC_CTRL and MISC_ENABLE. Pass-through ports: the POST port and COM2.
PASS_WRITE = (0x174, 0x175, 0x176, 0xC000_0100, 0xC000_0101, 0xC000_0102, 0xC000_0103)
PASS_READ = (*PASS_WRITE, 0x10, 0x48, 0x1A0)
PASS_PORTS = (0x80, *range(0x2F8, 0x300))


def _listing(values: tuple[int, ...]) -> str:
    return ", ".join(f"{v:#x}" for v in sorted(values))


def _others(values: tuple[int, ...], universe: int) -> str:
    """Every value of ``[0, universe)`` but ``values``, as a spec set of inclusive ranges."""
    out: list[str] = []
    start = 0
    for v in [*sorted(set(values)), universe]:
        if v > start:
            out.append(f"{start:#x} ..= {v - 1:#x}")
        start = v + 1
    return "{ " + ", ".join(out) + " }"


SPEC = f"""platform skylake_server

vm guest {{
  ram 0x0 .. 2G at 0x1_0000_0000

  ept {{
    tables in 0x8000_0000 .. 0x8020_0000
    map 0x0 .. 2G -> 0x1_0000_0000 rwx wb
  }}

  vmcs {{
    pin   = external_interrupt_exiting | nmi_exiting | virtual_nmis
    proc  = hlt_exiting | use_io_bitmaps | use_msr_bitmaps | activate_secondary_controls
    proc2 = enable_ept | enable_vpid | unrestricted_guest
    msr_bitmap intercept write all except {{ {_listing(PASS_WRITE)} }}
    msr_bitmap intercept read all except {{ {_listing(PASS_READ)} }}
    io_bitmap intercept all except {{ {_listing(PASS_PORTS)} }}
  }}
}}

"""

PROOFS = {
    "msr_proved": f"prove exits(guest) {{\n  RDMSR {_others(PASS_READ, 1 << 32)},\n"
                  f"  WRMSR {_others(PASS_WRITE, 1 << 32)},\n}}\n",
    "io_proved": f"prove exits(guest) {{ IN {_others(PASS_PORTS, 1 << 16)}, OUT {_others(PASS_PORTS, 1 << 16)} }}\n",
    "all_violated": "prove exits(guest) { RDMSR, WRMSR, IN, OUT }\n",
}


def _check(directory: Path, name: str, runs: int) -> tuple[float, Verdict]:
    """Best of ``runs`` end-to-end ``check_spec`` times (after one warm-up run), and the verdict."""
    path = directory / f"{name}.vmx"
    path.write_text(SPEC + PROOFS[name])
    best = float("inf")
    verdict = Verdict.ERROR
    for attempt in range(runs + 1):
        started = time.perf_counter()
        report = check_spec(str(path), CheckOptions(), bundle_dir=str(directory / "bundles"))
        elapsed = time.perf_counter() - started
        assert len(report.results) == 1, [d.headline() for d in report.diagnostics]
        verdict = report.results[0].verdict
        if attempt:
            best = min(best, elapsed)
    return best, verdict


def _interpreter_ports(directory: Path) -> float:
    path = directory / "state.vmx"
    path.write_text(SPEC)
    model, _ = analyze(str(path))
    assert model is not None
    state = build_state(model, "guest").state
    state.cpu.cpl = 0
    started = time.perf_counter()
    for insn in ("IN", "OUT"):
        for size in (1, 2, 4):
            for port in range(0x10000):
                decide_exit(state, {"kind": "instruction", "insn": insn, "port": port, "size": size, "operand": "dx"})
    return time.perf_counter() - started


def _interpreter_msrs(directory: Path, sample: int) -> float:
    """Seconds the interpreter would need for every MSR index, read and write (from a sample)."""
    path = directory / "state.vmx"
    model, _ = analyze(str(path))
    assert model is not None
    state = build_state(model, "guest").state
    state.cpu.cpl = 0
    rng = random.Random(7)
    started = time.perf_counter()
    for _ in range(sample):
        decide_exit(state, {"kind": "instruction", "insn": rng.choice(("RDMSR", "WRMSR")), "ecx": rng.getrandbits(32)})
    return (time.perf_counter() - started) / sample * 2 * 2**32


def run(quick: bool = False) -> list[Figure]:
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        for name, what in (("msr_proved", "exits proof, RDMSR+WRMSR over all 2^32 MSRs (proved)"),
                           ("io_proved", "exits proof, IN+OUT over all 65,536 ports, sizes 1/2/4 (proved)"),
                           ("all_violated", "exits refutation, all MSRs and ports (violated, replayed)")):
            seconds, verdict = _check(directory, name, 1 if quick else 3)
            expected = Verdict.VIOLATED if name == "all_violated" else Verdict.PROVED
            assert verdict is expected, (name, verdict)
            figures.append(Figure(what, seconds, "s", higher_is_better=False))
        if not quick:
            figures.append(Figure("naive baseline: interpreter over every port, size, IN/OUT",
                                  _interpreter_ports(directory), "s", higher_is_better=False))
        figures.append(Figure("naive baseline: interpreter over every MSR, read+write (extrapolated)",
                              _interpreter_msrs(directory, 2_000 if quick else 20_000), "s", higher_is_better=False))
    return figures


if __name__ == "__main__":
    for figure in run():
        print(f"{figure.name}: {figure.value:,.3f} {figure.unit}")
