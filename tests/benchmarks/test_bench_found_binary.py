"""`mbert bench --device ...` without --benchmark-binary: the device's own benchmark_model, on loopback devices."""

from __future__ import annotations

import contextlib
import shutil

import pytest
from typer.testing import CliRunner

if shutil.which("adb") is None:  # pragma: no cover - the Debian `adb` package is required
    pytest.skip("the adb client is not installed (apt-get install adb)", allow_module_level=True)

from android_harness.attach import (
    loopback_adb,
    private_adb,
    wait_for_states,
    write_stand_in_binary,
)
from android_harness.device import BINARY_PLACES, DeviceSession
from android_harness.loopback.device import LoopbackDevice
from android_harness.profiles import get_profile
from benchmarks.result import BenchReport
from mbert_cli.cli.app import app
from mbert_cli.errors import MbertError
from tests.android_harness.sandbox import run_dirs

runner = CliRunner()


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # runs without --json write ./bench/...
    monkeypatch.delenv("MBERT_BENCHMARK_BINARY", raising=False)
    monkeypatch.delenv("MBERT_BENCHMARK_PLACES", raising=False)


@contextlib.contextmanager
def _bare_device():
    """One loopback device that has no benchmark_model, attached to a private adb server."""
    with contextlib.ExitStack() as stack:
        device = LoopbackDevice(benchmark_model=False).start()
        stack.callback(device.stop)
        adb = stack.enter_context(private_adb())
        adb.connect(device.address)
        wait_for_states(adb, {device.address: "device"}, 20)
        yield adb, device


def _bench(adb, *args):
    return runner.invoke(app, ["bench", *args, "--adb-port", str(adb.server_port), "--runs", "3", "--warmup", "1"])


def test_bench_without_binary_uses_the_one_on_the_device(tiny_models, tmp_path):
    out = tmp_path / "r.json"
    with loopback_adb(1) as setup:
        adb, (serial,) = setup
        result = _bench(adb, str(tiny_models[0]), "--device", "pixel4", "--out", str(out))
        assert result.exit_code == 0, result.output
        assert run_dirs(setup.devices[0]) == []  # models removed; the device's own binary stays
        assert (setup.devices[0].sandbox / "benchmark_model").is_file()
    assert (f"note: {serial}: ran the benchmark_model found on the device at /data/local/tmp/benchmark_model "
            "(arm64-v8a, sha256 ") in result.stdout
    report = BenchReport.from_json(out.read_text())
    (r,) = report.results
    assert r.command.startswith("taskset f0 /data/local/tmp/benchmark_model --graph=")
    assert r.environment.runtime_version.startswith("/data/local/tmp/benchmark_model sha256:")
    assert r.inference.count >= 3 and report.notes and "found on the device" in report.notes[0]


def test_places_are_searched_in_order_and_abi_is_checked(tmp_path):
    with _bare_device() as (adb, device):
        with DeviceSession(adb, device.address, get_profile("pixel4")) as session:
            with pytest.raises(MbertError, match=r"no benchmark_model given and none on device .* \(looked in "
                                                 r"/data/local/tmp/benchmark_model, ") as err:
                session.find_binary()
            assert "--benchmark-binary" in err.value.hint
            # A wrong-ABI binary first in the list is refused as a pushed one would be, and the next place used.
            x86 = write_stand_in_binary(tmp_path / "x86", abi="x86_64")
            arm = write_stand_in_binary(tmp_path / "arm", abi="arm64-v8a", size=5000)
            adb.push(device.address, x86, "/data/local/tmp/bm_x86")
            with pytest.raises(MbertError, match="/data/local/tmp/bm_x86 on the device is built for x86_64 but device"):
                session.find_binary(["/data/local/tmp/bm_x86"])
            adb.push(device.address, arm, "/data/local/tmp/tools/benchmark_model")
            found = session.find_binary(["/data/local/tmp/missing", "/data/local/tmp/bm_x86",
                                         "/data/local/tmp/tools/benchmark_model"])
            assert (found.path, found.abi) == ("/data/local/tmp/tools/benchmark_model", "arm64-v8a")
    assert BINARY_PLACES[0] == "/data/local/tmp/benchmark_model"


def test_bench_cli_without_binary_on_a_bare_device_is_one_line(tiny_models, tmp_path, monkeypatch):
    monkeypatch.setenv("MBERT_BENCHMARK_PLACES", "/data/local/tmp/bm:/vendor/bin/bm")
    with _bare_device() as (adb, device):
        result = _bench(adb, str(tiny_models[0]), "--device", device.address)
    assert result.exit_code == 1
    assert (f"Error: {device.address}: no benchmark_model given and none on device {device.address} "
            "(looked in /data/local/tmp/bm, /vendor/bin/bm)") in result.output


def test_unknown_device_with_nothing_attached_names_it(tiny_models):
    with private_adb() as adb:
        result = _bench(adb, str(tiny_models[0]), "--device", "pixel9")
    assert result.exit_code == 1
    assert "Error: no Android device attached (asked for --device pixel9)" in result.output
