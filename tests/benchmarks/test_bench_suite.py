"""The performance suite scripts run to completion (exit 0) on given models."""

from __future__ import annotations

import shutil

import pytest


def test_host_latency_prints_ratios(tiny_models, capsys):
    from benchmarks.suite import host_latency

    assert host_latency.main([*map(str, tiny_models), "--runs", "5", "--warmup", "1", "--threads", "1,2"]) == 0
    out = capsys.readouterr().out
    assert out.count("threads=") == 2 and "1.00x" in out and "tiny-large" in out


def test_crosscheck_prints_verdict(tiny_models, capsys):
    from benchmarks.suite import crosscheck_litert

    assert crosscheck_litert.main([str(tiny_models[1]), "--runs", "5", "--warmup", "1", "--rounds", "1"]) == 0
    assert "tiny-large.tflite" in capsys.readouterr().out


@pytest.mark.slow
def test_adb_overhead_on_loopback(tiny_models, capsys):
    pytest.importorskip("android_harness.testing")
    if shutil.which("adb") is None:
        pytest.skip("adb client not installed")
    from benchmarks.suite import adb_overhead

    assert adb_overhead.main([str(tiny_models[1]), "--runs", "5", "--warmup", "1"]) == 0
    out = capsys.readouterr().out
    assert "tiny-large.tflite" in out and "failed" not in out


def test_scripts_need_models():
    from benchmarks.suite import host_latency

    with pytest.raises(SystemExit, match="--make-models"):
        host_latency.main([])
