"""End to end: `mbert bench --device pixel4` through the real adb client to loopback devices."""

from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

if shutil.which("adb") is None:  # pragma: no cover - the Debian `adb` package is required
    pytest.skip("the adb client is not installed (apt-get install adb)", allow_module_level=True)

from android_harness.attach import loopback_adb, write_stand_in_binary
from benchmarks.result import BenchReport
from mbert_cli.cli.app import app

pytestmark = pytest.mark.slow
runner = CliRunner()


@pytest.fixture
def binary(tmp_path):
    return write_stand_in_binary(tmp_path / "benchmark_model", abi="arm64-v8a")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    # Runs without --json write ./bench/...; keep them out of the checkout.
    monkeypatch.chdir(tmp_path)


def _bench(adb, *args):
    return runner.invoke(app, ["bench", *args, "--adb-port", str(adb.server_port), "--runs", "5", "--warmup", "1"])


def test_pixel4_loopback_end_to_end(tiny_models, binary, tmp_path):
    out = tmp_path / "r.json"
    with loopback_adb(1) as (adb, serials):
        result = _bench(adb, *map(str, tiny_models), "--device", "pixel4", "--benchmark-binary", str(binary),
                        "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "loopback" in result.stdout and "tiny-large" in result.stdout and "1.00x" in result.stdout
    report = BenchReport.from_json(out.read_text())
    assert [r.model.name for r in report.results] == ["tiny-small", "tiny-large"]
    for r in report.results:
        assert r.runner.loopback and r.runner.serial == serials[0] and r.runner.profile == "pixel4"
        assert r.settings.threads == 4 and r.inference.count >= 5 and r.inference.mean_ms > 0
        assert r.environment.device_model == "Pixel 4" and r.environment.abi == "arm64-v8a"
        assert "--num_threads=4" in r.command and "taskset f0" in r.command
        assert "battery_temp_c" in r.thermal_before


def test_two_loopback_devices_in_parallel(tiny_models, binary, tmp_path):
    out = tmp_path / "two.json"
    with loopback_adb(2) as (adb, serials):
        result = _bench(adb, str(tiny_models[0]), "--device", "all", "--benchmark-binary", str(binary),
                        "--threads", "1", "--out", str(out))
    assert result.exit_code == 0, result.output
    report = BenchReport.from_json(out.read_text())
    assert sorted(r.runner.serial for r in report.results) == sorted(serials)
    assert all(r.runner.loopback and r.settings.threads == 1 for r in report.results)


def test_wrong_abi_binary(tiny_models, tmp_path):
    x86 = write_stand_in_binary(tmp_path / "benchmark_model_x86", abi="x86_64")
    with loopback_adb(1) as (adb, _):
        result = _bench(adb, str(tiny_models[0]), "--device", "pixel4", "--benchmark-binary", str(x86))
    assert result.exit_code == 1
    line = result.stderr.splitlines()[0]
    assert line.startswith("Error: ") and "x86_64" in line and "arm64-v8a" in line, result.stderr


def test_one_faulty_device_keeps_the_other(tiny_models, binary, tmp_path):
    out = tmp_path / "partial.json"
    with loopback_adb(2, faults=[{}, {"missing_binary": True}]) as (adb, serials):
        result = _bench(adb, str(tiny_models[0]), "--device", "all", "--benchmark-binary", str(binary),
                        "--out", str(out))
    assert result.exit_code == 3, result.output  # partial failure
    report = BenchReport.from_json(out.read_text())
    assert [r.runner.serial for r in report.results] == [serials[0]]
    assert report.failures and report.failures[0].target.startswith(serials[1])
    assert "Error: 1 benchmark(s) failed" in result.stderr


def test_devices_lists_loopback(tmp_path):
    with loopback_adb(1) as (adb, serials):
        result = runner.invoke(app, ["devices", "--adb-port", str(adb.server_port), "--json"])
        table = runner.invoke(app, ["devices", "--adb-port", str(adb.server_port)])
    assert result.exit_code == 0, result.output
    import json

    (row,) = json.loads(result.stdout)
    assert row["serial"] == serials[0] and row["model"] == "Pixel 4" and row["abi"] == "arm64-v8a"
    assert row["profile"] == "pixel4" and row["loopback"] is True
    assert "Pixel 4 (loopback)" in table.stdout and "pixel4" in table.stdout


def test_unknown_profile_through_real_harness(tiny_models, binary):
    with loopback_adb(1) as (adb, _):
        result = _bench(adb, str(tiny_models[0]), "--device", "nexus9", "--benchmark-binary", str(binary))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: ") and "nexus9" in result.stderr.splitlines()[0], result.output


def test_no_device_attached(tiny_models, binary):
    with loopback_adb(0) as (adb, _):
        result = _bench(adb, str(tiny_models[0]), "--device", "pixel4", "--benchmark-binary", str(binary))
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: "), result.output


@pytest.mark.parametrize("fault", ["unauthorized", "storage_full", "disconnect_mid_run", "missing_binary"])
def test_fault_switches_give_one_clear_line(tiny_models, binary, tmp_path, fault):
    out = tmp_path / "f.json"
    with loopback_adb(1, faults=[{fault: True}]) as (adb, serials):
        result = _bench(adb, str(tiny_models[0]), "--device", "all", "--benchmark-binary", str(binary),
                        "--out", str(out))
    assert result.exit_code == 1, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert lines[0].startswith("Error: ") and "Traceback" not in result.output, result.output
    assert len(lines) <= 2 and (len(lines) == 1 or lines[1].startswith("Hint: "))


def test_cool_down_through_the_harness(tiny_models, binary):
    """The runner's cool-down is the harness's: a phone that cools is measured cool, one that stays hot fails."""
    from benchmarks.device import DeviceSettings, harness_backend, run_devices

    with loopback_adb(1) as setup:
        adb, (serial,) = setup
        tools = setup.devices[0].tools
        backend = harness_backend(adb=adb)
        tools.set_thermal(33.0)  # the loopback phone cools by one degree per reading
        cooled = run_devices(tiny_models[:1], serial, binary, DeviceSettings(
            runs=2, warmup=1, cool_down_temp=32.0, cool_down_timeout=60.0, cool_down_poll=0.05), backend=backend)
        tools.set_thermal(60.0)
        hot = run_devices(tiny_models, serial, binary, DeviceSettings(
            runs=2, warmup=1, cool_down_temp=35.0, cool_down_timeout=0.3, cool_down_poll=0.05), backend=backend)
    assert not cooled.failures, cooled.failures
    (r,) = cooled.results
    assert r.runner.loopback and r.thermal_before["battery_temp_c"] <= 32.0
    assert not any("cool-down" in w for w in r.warnings)
    assert not hot.results
    assert [f.target for f in hot.failures] == [f"{serial} tiny-small", f"{serial} tiny-large"]
    assert "still at" in hot.failures[0].message and "cool-down" in hot.failures[0].message
    assert hot.failures[1].message.startswith("not run: ")
