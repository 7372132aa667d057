"""``vmxspec fmt``: printing, checking and rewriting specs in canonical form, and its exit codes.

The formatter itself (layout, comments, round trip) is tested in ``test_syntax_parse.py``; these
tests are about the command: which files it reads, what it prints where, what it changes on disk,
and that a file it cannot parse is reported with diagnostics and never touched.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vmxspec.cli import main

ROOT = Path(__file__).resolve().parents[2]

MESSY = "vm g{ram 0..2G at 4G   # low RAM\n}\n"
CANONICAL = "vm g {\n  ram 0 .. 2G at 4G  # low RAM\n}\n"
BROKEN = "vm g {\n  ram 0 .. @\n}\n"


def _tree(tmp_path: Path) -> dict[str, Path]:
    """A small spec directory: formatted, unformatted, nested, and a file that is not a spec."""
    files = {
        "good": tmp_path / "good.vmx",
        "messy": tmp_path / "sub" / "deeper" / "messy.vmx",
        "other": tmp_path / "sub" / "notes.txt",
    }
    for key, path in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text({"good": CANONICAL, "messy": MESSY, "other": "not a spec {"}[key])
    return files


def test_prints_the_canonical_form_and_changes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "g.vmx"
    path.write_text(MESSY)
    assert main(["fmt", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out == CANONICAL
    assert err == ""
    assert path.read_text() == MESSY


def test_several_files_print_one_after_another(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = tmp_path / "a.vmx", tmp_path / "b.vmx"
    a.write_text(MESSY)
    b.write_text("prove   vmentry_valid( g )")
    assert main(["fmt", str(a), str(b)]) == 0
    assert capsys.readouterr().out == CANONICAL + "prove vmentry_valid(g)\n"


def test_check_passes_on_canonical_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "g.vmx"
    path.write_text(CANONICAL)
    assert main(["fmt", "--check", str(path)]) == 0
    assert capsys.readouterr() == ("", "")


def test_check_lists_unformatted_files_and_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = _tree(tmp_path)
    assert main(["fmt", "--check", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [str(files["messy"])]
    assert err == ""
    assert files["messy"].read_text() == MESSY  # --check writes nothing


def test_directories_are_walked_recursively_for_vmx_files_only(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    files = _tree(tmp_path)
    assert main(["fmt", str(tmp_path)]) == 0
    # good.vmx, then sub/deeper/messy.vmx (sorted paths); notes.txt is not read.
    assert capsys.readouterr().out == CANONICAL + CANONICAL
    assert files["other"].read_text() == "not a spec {"


def test_an_explicit_file_is_formatted_whatever_its_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "spec.txt"
    path.write_text(MESSY)
    assert main(["fmt", "--check", str(path)]) == 1
    assert capsys.readouterr().out == f"{path}\n"


def test_write_rewrites_in_place_and_lists_what_changed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = _tree(tmp_path)
    os.chmod(files["messy"], 0o640)
    before = files["good"].stat().st_mtime_ns
    assert main(["fmt", "--write", str(tmp_path)]) == 0
    assert capsys.readouterr().out.splitlines() == [str(files["messy"])]
    assert files["messy"].read_text() == CANONICAL
    assert files["messy"].stat().st_mode & 0o777 == 0o640  # the file keeps its permissions
    assert files["good"].stat().st_mtime_ns == before  # canonical files are not rewritten
    assert sorted(p.name for p in files["messy"].parent.iterdir()) == ["messy.vmx"]  # no temporary left
    assert main(["fmt", "--check", str(tmp_path)]) == 0


def test_write_is_idempotent_and_keeps_comments(tmp_path: Path) -> None:
    path = tmp_path / "c.vmx"
    path.write_text("# header\n\nvm g {   # the guest\n ram 0..4K at 8K # one page\n\n\n # end\n}\n")
    assert main(["fmt", "--write", str(path)]) == 0
    once = path.read_text()
    # Trailing comments of consecutive lines line up; blank-line runs collapse to one.
    assert once == "# header\n\nvm g {               # the guest\n  ram 0 .. 4K at 8K  # one page\n\n  # end\n}\n"
    assert main(["fmt", "--write", str(path)]) == 0
    assert path.read_text() == once


def test_syntax_errors_print_diagnostics_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.vmx"
    bad.write_text(BROKEN)
    messy = tmp_path / "messy.vmx"
    messy.write_text(MESSY)
    assert main(["fmt", "--check", str(tmp_path)]) == 2  # 2 wins over 1
    out, err = capsys.readouterr()
    assert out.splitlines() == [str(messy)]  # the other files are still checked
    assert err.splitlines() == [
        f"{bad}:2:12: error: unexpected character '@' [syntax-unexpected-character]",
        "    ram 0 .. @",
        "             ^",
    ]


@pytest.mark.parametrize("mode", [[], ["--check"], ["--write"]])
def test_a_file_that_does_not_parse_is_never_touched(tmp_path: Path, mode: list[str],
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.vmx"
    bad.write_text(BROKEN)
    assert main(["fmt", *mode, str(bad)]) == 2
    assert capsys.readouterr().out == ""
    assert bad.read_text() == BROKEN


def test_bad_encoding_is_a_diagnostic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "latin1.vmx"
    bad.write_bytes(b"vm g {\n  # caf\xe9\n}\n")
    assert main(["fmt", str(bad)]) == 2
    assert "[syntax-encoding]" in capsys.readouterr().err


def test_byte_order_mark_and_crlf_are_not_canonical(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "w.vmx"
    path.write_bytes(b"\xef\xbb\xbf" + CANONICAL.replace("\n", "\r\n").encode())
    assert main(["fmt", "--check", str(path)]) == 1
    assert main(["fmt", "--write", str(path)]) == 0
    assert path.read_bytes() == CANONICAL.encode()
    capsys.readouterr()


def test_missing_path_is_an_error_but_the_rest_is_done(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = tmp_path / "g.vmx"
    good.write_text(CANONICAL)
    missing = tmp_path / "nope.vmx"
    assert main(["fmt", str(missing), str(good)]) == 2
    out, err = capsys.readouterr()
    assert out == CANONICAL
    assert err.strip() == f"{missing}: error: no such file or directory [io-error]"


def test_an_empty_directory_is_fine(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fmt", "--check", str(tmp_path)]) == 0
    assert capsys.readouterr() == ("", "")


def test_standard_input(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(MESSY.encode())))
    assert main(["fmt", "-"]) == 0
    assert capsys.readouterr().out == CANONICAL
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(MESSY.encode())))
    assert main(["fmt", "--check", "-"]) == 1
    assert capsys.readouterr().out == "-\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(BROKEN.encode())))
    assert main(["fmt", "-"]) == 2
    assert capsys.readouterr().err.startswith("<stdin>:2:12: error: unexpected character '@'")


def test_write_refuses_standard_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fmt", "--write", "-"]) == 2
    assert "[usage]" in capsys.readouterr().err


def test_check_and_write_exclude_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["fmt", "--check", "--write", "x.vmx"])
    assert info.value.code == 2
    assert "not allowed with argument" in capsys.readouterr().err


def test_the_shipped_specs_are_canonical_through_the_installed_command() -> None:
    done = subprocess.run([sys.executable, "-m", "vmxspec", "fmt", "--check", str(ROOT / "specs")],
                          capture_output=True, text=True, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
