"""Several loopback devices under faults with `--device all`; and SIGTERM during a device bench."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

if shutil.which("adb") is None:  # pragma: no cover - the Debian `adb` package is required
    pytest.skip("the adb client is not installed (apt-get install adb)", allow_module_level=True)

from android_harness.attach import loopback_adb
from benchmarks.result import BenchReport
from mbert_cli.cli.app import app
from mbert_cli.cli.bench import PARTIAL_FAILURE
from tests.android_harness.sandbox import run_dirs

ROOT = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MBERT_BENCHMARK_BINARY", raising=False)


def test_offline_full_and_slow_devices_among_healthy_ones(tiny_models, tmp_path):
    out = tmp_path / "all.json"
    faults = [{}, {"disconnect_mid_run": True}, {"storage_full": True}, {"slow": 0.3}]
    with loopback_adb(4, faults=faults) as setup:
        adb, serials = setup
        result = runner.invoke(app, ["bench", *map(str, tiny_models), "--device", "all", "--adb-port",
                                     str(adb.server_port), "--runs", "3", "--warmup", "1", "--out", str(out)],
                               env={"COLUMNS": "250"})
        left = [run_dirs(d) for d in setup.devices]
    healthy, offline, full, slow = serials
    assert result.exit_code == PARTIAL_FAILURE == 3, result.output
    report = BenchReport.from_json(out.read_text())
    # Every finished result is kept: both models on the healthy and on the slow device.
    assert sorted((r.runner.serial, r.model.name) for r in report.results) == sorted(
        (s, m) for s in (healthy, slow) for m in ("tiny-small", "tiny-large"))
    reasons = {f.target: f.message for f in report.failures}
    assert reasons[f"{offline} tiny-small"] == f"device {offline} disconnected during benchmark_model"
    assert reasons[f"{offline} tiny-large"].startswith("not run: device ")
    assert reasons[f"{full} tiny-small"].startswith(f"device {full} is out of storage")
    assert reasons[f"{full} tiny-large"].startswith("not run: ")
    # The table marks each failed device/model with its reason, beside the finished rows.
    table = result.stdout
    for serial in (offline, full):
        assert any(serial in ln and "FAILED" in ln for ln in table.splitlines()), table
    assert "disconnected during benchmark_model" in table and "out of storage" in table
    assert result.stderr.startswith("Error: 4 benchmark(s) failed; first: ")
    assert left[0] == left[3] == []  # finished devices cleaned up


def test_sigterm_during_a_device_bench_leaves_nothing_behind(tiny_models, tmp_path):
    with loopback_adb(1, faults=[{"slow": 0.5}]) as setup:
        adb, (serial,) = setup
        device = setup.devices[0]
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "mbert_cli.cli.app", "bench", *map(str, tiny_models * 3), "--device", serial,
             "--adb-port", str(adb.server_port), "--runs", "20", "--out", str(tmp_path / "out.json")],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None and not run_dirs(device):
            time.sleep(0.05)  # the run folder exists: models are being pushed or run
        assert proc.poll() is None, proc.communicate()
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
        left = run_dirs(device)
    assert proc.returncode == 143, out + err
    assert err.strip().splitlines()[-1] == "Terminated (SIGTERM): stopped cleanly; rerun the same command to resume."
    assert left == []  # no model left on the phone
    assert not (tmp_path / "out.json").exists() and not list(tmp_path.glob(".*tmp"))
