"""DeviceSession on the loopback device: binary cache, model push, benchmark_model runs,
thermals, device resolution, cleanup; and two devices in parallel."""

from __future__ import annotations

import re
import shutil
import threading
import time

import pytest

from android_harness.attach import loopback_adb, private_adb, write_stand_in_binary
from android_harness.device import LOOPBACK_PROP, DeviceSession, is_loopback, list_devices, resolve_devices
from android_harness.profiles import get_profile
from mbert_cli.errors import MbertError
from tests.android_harness.sandbox import run_dirs, sandbox_files

pytestmark = [
    pytest.mark.timeout(180),  # a hung adb call must fail, not stall the suite
    pytest.mark.skipif(shutil.which("adb") is None, reason="needs the adb client (make adb)"),
]

FAST = ["--min_secs=0", "--warmup_min_secs=0"]  # the real tool's flags: keep runs short
TIMINGS = re.compile(r"Inference timings in us: Init: \d+, First inference: \d+, "
                     r"Warmup \(avg\): [\d.e+]+, Inference \(avg\): [\d.e+]+")
COUNT = re.compile(r"count=(\d+) first=\d+ curr=\d+ min=\d+ max=\d+ avg=[\d.e+]+ std=\d+")


def test_binary_cached_by_sha256(loopback, fake_binary, tmp_path):
    adb, (serial,) = loopback
    with DeviceSession(adb, serial, get_profile("pixel4")) as session:
        remote = session.prepare_binary(fake_binary)
        assert session.binary_pushed
        assert re.fullmatch(r"/data/local/tmp/mbert/bin/[0-9a-f]{64}/benchmark_model", remote)
        assert adb.shell(serial, ["ls", "-l", remote]).stdout.startswith("-rwxr-xr-x")
        assert session.prepare_binary(fake_binary) == remote
        assert not session.binary_pushed  # second time: found by sha256, not pushed
    with DeviceSession(adb, serial, get_profile("pixel4")) as again:  # survives sessions
        again.prepare_binary(fake_binary)
        assert not again.binary_pushed
        other = write_stand_in_binary(tmp_path / "other" / "benchmark_model", size=8192)
        assert again.prepare_binary(other) != remote and again.binary_pushed
    # The device keeps the real bytes: pulling the binary back gives what was pushed.
    back = tmp_path / "back"
    assert adb.run(["-s", serial, "pull", remote, str(back)]).returncode == 0
    assert back.read_bytes() == fake_binary.read_bytes()


def test_wrong_abi_and_missing_binary_are_refused(loopback, tmp_path):
    adb, (serial,) = loopback
    with DeviceSession(adb, serial, get_profile("pixel4")) as session:
        x86 = write_stand_in_binary(tmp_path / "x86" / "benchmark_model", abi="x86_64")
        with pytest.raises(MbertError, match="built for x86_64 but device .* runs arm64-v8a"):
            session.prepare_binary(x86)
        with pytest.raises(MbertError, match="binary not found"):
            session.prepare_binary(tmp_path / "nope" / "benchmark_model")
    assert sandbox_files(loopback.devices[0]) == ["benchmark_model"]  # only the one the device offers


def test_run_benchmark_model(loopback, fake_binary, tiny_tflite):
    adb, (serial,) = loopback
    device = loopback.devices[0]
    with DeviceSession(adb, serial, get_profile("pixel4")) as session:
        assert session.is_loopback()
        binary = session.prepare_binary(fake_binary)
        model = session.push_model(tiny_tflite)
        assert model == f"{session.run_dir}/tiny.tflite"
        run = session.run_benchmark_model(binary, model, threads=2, warmup_runs=3, num_runs=7,
                                          extra_flags=FAST)
        assert run.command[:2] == ["taskset", "f0"]
        assert run.command[2:] == [binary, f"--graph={model}", "--num_threads=2",
                                   "--warmup_runs=3", "--num_runs=7", "--use_xnnpack=true",
                                   "--report_peak_memory_footprint=true", *FAST]
        assert run.exit_code == 0, run.stderr
        out = run.stdout + run.stderr  # the tool logs to stdout, the runtime to stderr
        assert TIMINGS.search(run.stdout) and "Replacing" in run.stderr
        assert f"INFO: Loaded model {model}" in out  # device paths, not sandbox paths
        assert str(device.sandbox) not in out
        assert [int(n) for n in COUNT.findall(out)] == [3, 7]
        assert TIMINGS.search(out)
        assert re.search(r"Initialized session in [\d.]+ms\.", out)
        assert "The input model file size (MB): 0.00" in out
        assert re.search(r"Overall peak memory footprint \(MB\) via periodic monitoring: [\d.]+", out)
        assert re.search(r"Replacing (\d+) out of \1 node\(s\) with delegate "
                         r"\(TfLiteXNNPackDelegate\) node, yielding 1 partitions", out)
        assert run.thermal_before["battery_temp_c"] is not None
        assert run.thermal_after["thermal_status"] == 0
        assert run_dirs(device) == [f"run-{session.run_id}"]
    assert run_dirs(device) == []  # cleaned up, binary cache kept
    assert [f for f in sandbox_files(device) if "run-" in f] == []


def test_gpu_partial_delegation_cpu_and_bad_model(loopback, fake_binary, tiny_tflite, tmp_path):
    adb, (serial,) = loopback
    bad = tmp_path / "bad.tflite"
    bad.write_bytes(b"this is not a flatbuffer")
    with DeviceSession(adb, serial, get_profile("generic"), keep=True) as session:
        binary = session.prepare_binary(fake_binary)
        model = session.push_model(tiny_tflite)
        gpu = session.run_benchmark_model(binary, model, warmup_runs=1, num_runs=2,
                                          delegate="gpu", op_profiling=True, extra_flags=FAST)
        assert gpu.command[0] == binary  # generic profile: no taskset
        assert "--use_gpu=true" in gpu.command and "--enable_op_profiling=true" in gpu.command
        covered = re.search(r"Replacing (\d+) out of (\d+) node\(s\) with delegate "
                            r"\(TfLiteGpuDelegateV2\) node, yielding (\d+) partitions", gpu.stderr)
        assert covered and int(covered[1]) < int(covered[2])
        cpu = session.run_benchmark_model(binary, model, warmup_runs=1, num_runs=2,
                                          delegate="cpu", extra_flags=FAST)
        assert "--use_xnnpack=false" in cpu.command and "Replacing" not in cpu.stdout + cpu.stderr
        assert TIMINGS.search(cpu.stdout)
        failed = session.run_benchmark_model(binary, session.push_model(bad), extra_flags=FAST)
        assert failed.exit_code == 1
        assert "Failed to mmap model" in failed.stderr and "Benchmarking failed." in failed.stderr
        with pytest.raises(MbertError, match="unknown delegate 'tpu'"):
            session.run_benchmark_model(binary, model, delegate="tpu")
    assert run_dirs(loopback.devices[0]) == [f"run-{session.run_id}"]  # keep=True


def test_thermal_and_cool_down(loopback):
    adb, (serial,) = loopback
    tools = loopback.devices[0].tools
    with DeviceSession(adb, serial, get_profile("pixel4")) as session:
        tools.set_thermal(44.0, 2)
        t = session.thermal()
        assert (t["battery_temp_c"], t["thermal_status"], t["thermal_status_name"]) == \
            (44.0, 2, "moderate")
        reached = session.cool_down(max_temp_c=41.5, timeout_s=10, poll_s=0.05)  # idle phone cools
        assert reached is not None and 40.0 <= reached <= 41.5
        assert session.thermal()["battery_temp_c"] <= 41.5
        tools.set_thermal(60.0, 3)
        with pytest.raises(MbertError, match=r"still at .* °C after 0.3s of cool-down"):
            session.cool_down(max_temp_c=35, timeout_s=0.3, poll_s=0.1)


def test_loopback_is_told_by_its_property(loopback):
    adb, (serial,) = loopback
    (info,) = list_devices(adb)
    with DeviceSession(adb, serial, get_profile("pixel4")) as session:
        assert info.loopback and session.is_loopback()
    assert is_loopback({LOOPBACK_PROP: "1"})
    assert not is_loopback({LOOPBACK_PROP: "0"}) and not is_loopback({"ro.product.model": "Pixel 4"})


def test_resolve_devices(loopback):
    adb, (serial,) = loopback
    assert [(s, p.name) for s, p in resolve_devices(adb, "pixel4")] == [(serial, "pixel4")]
    assert [(s, p.name) for s, p in resolve_devices(adb, serial)] == [(serial, "pixel4")]
    assert [(s, p.name) for s, p in resolve_devices(adb, "all")] == [(serial, "pixel4")]
    assert [(s, p.name) for s, p in resolve_devices(adb, "generic")] == [(serial, "generic")]
    with pytest.raises(MbertError, match="unknown device or profile 'pixel9'") as err:
        resolve_devices(adb, "pixel9")
    assert "pixel4" in err.value.hint and serial in err.value.hint


def test_resolve_profile_without_matching_device():
    with loopback_adb(1, props=[{"ro.product.device": "coral",
                                 "ro.product.model": "Pixel 4 XL"}]) as (adb, serials):
        assert resolve_devices(adb, serials[0])[0][1].name == "generic"
        with pytest.raises(MbertError, match="no attached device matches profile 'pixel4'"):
            resolve_devices(adb, "pixel4")


def test_network_serial_is_connected_on_demand():
    from android_harness.loopback import LoopbackDevice

    with LoopbackDevice() as device, private_adb() as adb:
        assert adb.devices() == []
        ((serial, profile),) = resolve_devices(adb, device.address)
        assert (serial, profile.name) == (device.address, "pixel4")
        assert [d.state for d in adb.devices()] == ["device"]


def test_no_device_attached():
    with private_adb() as adb:
        with pytest.raises(MbertError, match="no Android device attached") as err:
            resolve_devices(adb, "pixel4")
        assert "android_harness.loopback" in err.value.hint


def test_two_devices_in_parallel(fake_binary, tiny_tflite):
    with loopback_adb(2) as (adb, serials):
        results, spans, errors = {}, {}, []

        def bench(serial):
            try:
                with DeviceSession(adb, serial, get_profile("pixel4")) as session:
                    binary = session.prepare_binary(fake_binary)
                    model = session.push_model(tiny_tflite)
                    start = time.monotonic()
                    results[serial] = session.run_benchmark_model(
                        binary, model, warmup_runs=1, num_runs=1,
                        extra_flags=["--min_secs=1.0", "--warmup_min_secs=0"])
                    spans[serial] = (start, time.monotonic())
            except Exception as exc:  # noqa: BLE001 - surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=bench, args=(s,)) for s in serials]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors
        assert sorted(results) == sorted(serials)
        assert all(r.exit_code == 0 and TIMINGS.search(r.stdout) for r in results.values())
        (a0, a1), (b0, b1) = spans.values()
        assert max(a0, b0) < min(a1, b1)  # the two runs overlapped in time
