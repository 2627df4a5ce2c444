"""The stand-in benchmark_model on its own: the real tool's flags, lines and failures."""

from __future__ import annotations

import re

import pytest

from android_harness.loopback.benchmark_model import main
from android_harness.loopback.device import normalize_faults


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out + out.err


def test_success_lines(capsys, tiny_tflite):
    code, out = run(capsys, f"--graph={tiny_tflite}", "--num_threads=1", "--warmup_runs=2",
                    "--num_runs=4", "--min_secs=0", "--warmup_min_secs=0",
                    "--report_peak_memory_footprint=true", "--enable_op_profiling=true",
                    "--max_delegated_partitions=2")
    assert code == 0
    assert "WARNING: Unconsumed cmdline flags: --max_delegated_partitions=2" in out
    assert f"INFO: Graph: [{tiny_tflite}]" in out and "INFO: Num threads: [1]" in out
    assert re.search(r"INFO: count=2 first=\d+ curr=\d+ min=\d+ max=\d+ avg=[\d.e+-]+ std=\d+", out)
    assert re.search(r"INFO: count=4 ", out)
    assert re.search(r"Memory footprint delta from the start of the tool \(MB\): "
                     r"init=[\d.e+-]+ overall=[\d.e+-]+", out)
    assert "not a phone" in out  # the stand-in says what it is


@pytest.mark.parametrize("content", [b"", b"not a model at all", "truncated"])
def test_bad_models_fail_like_the_real_tool(capsys, tmp_path, tiny_tflite, content):
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(tiny_tflite.read_bytes()[:200] if content == "truncated" else content)
    code, out = run(capsys, f"--graph={bad}")
    assert code == 1
    assert f"ERROR: Failed to mmap model {bad}" in out and "ERROR: Benchmarking failed." in out


def test_missing_graph_and_file(capsys, tmp_path):
    code, out = run(capsys)
    assert code == 1 and "Please specify the name of your TF Lite input file with --graph" in out
    code, out = run(capsys, f"--graph={tmp_path / 'nope.tflite'}")
    assert code == 1 and f"Could not open '{tmp_path / 'nope.tflite'}'." in out


def test_missing_binary_fault_message(capsys, monkeypatch):
    monkeypatch.setenv("MBERT_LOOPBACK_FAULTS", "missing_binary")
    monkeypatch.setenv("MBERT_ARGV0", "/data/local/tmp/mbert/bin/x/benchmark_model")
    code, out = run(capsys, "--graph=x")
    assert code == 127
    assert out == "/system/bin/sh: /data/local/tmp/mbert/bin/x/benchmark_model: not found\n"


def test_fault_switch_parsing():
    assert normalize_faults(["slow=0.5", "unauthorized"]) == {"slow": 0.5, "unauthorized": 1.0}
    assert normalize_faults({"slow": True, "storage_full": False}) == {"slow": 2.0}
    with pytest.raises(ValueError, match="unknown loopback fault"):
        normalize_faults(["nope"])
