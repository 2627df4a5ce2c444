"""`make bench` (the quick suite): every entry names a runnable module and options it really has."""

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def bench_entries() -> list[list[str]]:
    """The Makefile's BENCH list, each entry split into module + arguments."""
    text = (ROOT / "Makefile").read_text()
    block = re.search(r"^BENCH \?= (.*?)\nbench:", text, re.S | re.M).group(1)
    return [shlex.split(entry) for entry in re.findall(r'"([^"]+)"', block)]


def test_the_quick_suite_needs_no_finished_run():
    entries = bench_entries()
    assert len(entries) >= 5
    modules = [e[0] for e in entries]
    assert "studies.demo_quality" not in modules and "studies.int8_denylist" not in modules
    assert all(m.startswith(("studies.", "benchmarks.")) for m in modules)


@pytest.mark.parametrize("entry", bench_entries(), ids=lambda e: e[0])
def test_every_entry_has_the_options_it_passes(entry):
    module, *args = entry
    out = subprocess.run([sys.executable, "-m", module, "--help"], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    for option in (a for a in args if a.startswith("--")):
        assert option in out.stdout, f"{module} has no {option}"
