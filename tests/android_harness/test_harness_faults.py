"""Every loopback fault switch ends in one clear MbertError and leaves no run files."""

from __future__ import annotations

import shutil

import pytest

from android_harness.attach import loopback_adb
from android_harness.device import DeviceSession, list_devices, resolve_devices
from android_harness.profiles import get_profile
from mbert_cli.errors import MbertError
from tests.android_harness.sandbox import run_dirs, sandbox_files

pytestmark = [
    pytest.mark.timeout(180),  # a hung adb call must fail, not stall the suite
    pytest.mark.skipif(shutil.which("adb") is None, reason="needs the adb client (make adb)"),
]

FAST = ["--min_secs=0", "--warmup_min_secs=0"]


def test_unauthorized():
    with loopback_adb(1, faults=[{"unauthorized": True}]) as (adb, (serial,)):
        assert [(d.serial, d.state) for d in adb.devices()] == [(serial, "unauthorized")]
        assert list_devices(adb)[0].state == "unauthorized"
        for spec in (serial, "pixel4", "all"):
            with pytest.raises(MbertError, match=f"device {serial} is unauthorized") as err:
                resolve_devices(adb, spec)
            assert "Allow USB debugging" in err.value.hint
        with pytest.raises(MbertError, match="unauthorized"):
            adb.shell(serial, ["true"])


def test_missing_binary(fake_binary, tiny_tflite):
    with loopback_adb(1, faults=[{"missing_binary": True}]) as setup:
        adb, (serial,) = setup
        with DeviceSession(adb, serial, get_profile("pixel4")) as session:
            binary = session.prepare_binary(fake_binary)
            model = session.push_model(tiny_tflite)
            with pytest.raises(MbertError, match=r"benchmark_model not found on device") as err:
                session.run_benchmark_model(binary, model, extra_flags=FAST)
            assert "push it anew" in err.value.hint
            session.prepare_binary(fake_binary)
            assert session.binary_pushed  # the stale cache entry was dropped
        assert run_dirs(setup.devices[0]) == []


def test_storage_full(fake_binary, tiny_tflite):
    with loopback_adb(1, faults=[{"storage_full": True}]) as setup:
        adb, (serial,) = setup
        with DeviceSession(adb, serial, get_profile("pixel4")) as session:
            with pytest.raises(MbertError, match=f"device {serial} is out of storage") as err:
                session.prepare_binary(fake_binary)
            assert "free space" in err.value.hint
            with pytest.raises(MbertError, match="out of storage: could not push tiny.tflite"):
                session.push_model(tiny_tflite)
        assert sandbox_files(setup.devices[0]) == ["benchmark_model"]  # only the one the device offers
        assert run_dirs(setup.devices[0]) == []


def test_slow_device_times_out(fake_binary, tiny_tflite):
    with loopback_adb(1) as setup:
        adb, (serial,) = setup
        with DeviceSession(adb, serial, get_profile("pixel4")) as session:
            binary = session.prepare_binary(fake_binary)
            model = session.push_model(tiny_tflite)
            # Switched on only now so setting up does not pay the delay on every request.
            setup.devices[0].faults["slow"] = 1.0
            with pytest.raises(MbertError, match=r"adb timed out after 0.5s"):
                adb.shell(serial, ["true"], timeout=0.5)
            with pytest.raises(MbertError, match=r"benchmark_model did not finish within 0.5s"):
                session.run_benchmark_model(binary, model, timeout=0.5, extra_flags=FAST)
        assert run_dirs(setup.devices[0]) == []


def test_disconnect_mid_run(fake_binary, tiny_tflite):
    with loopback_adb(1, faults=[{"disconnect_mid_run": True}]) as setup:
        adb, (serial,) = setup
        with DeviceSession(adb, serial, get_profile("pixel4")) as session:
            binary = session.prepare_binary(fake_binary)
            model = session.push_model(tiny_tflite)
            with pytest.raises(MbertError, match=f"device {serial} disconnected during "
                                                 "benchmark_model") as err:
                session.run_benchmark_model(binary, model,
                                            extra_flags=["--min_secs=5", "--warmup_min_secs=0"])
            assert "reconnect" in err.value.hint
        # Cleanup re-attached the network device and removed the run folder.
        assert run_dirs(setup.devices[0]) == []
        assert [d.state for d in adb.devices()] == ["device"]


def test_fault_does_not_spoil_the_other_device(fake_binary, tiny_tflite):
    with loopback_adb(2, faults=[{"missing_binary": True}, {}]) as setup:
        adb, serials = setup
        outcomes = []
        for serial in serials:
            with DeviceSession(adb, serial, get_profile("pixel4")) as session:
                binary = session.prepare_binary(fake_binary)
                model = session.push_model(tiny_tflite)
                try:
                    outcomes.append(session.run_benchmark_model(binary, model,
                                                                extra_flags=FAST).exit_code)
                except MbertError as err:
                    outcomes.append(err.message)
        assert "not found" in outcomes[0] and outcomes[1] == 0
        assert all(run_dirs(d) == [] for d in setup.devices)


def test_unknown_fault_name():
    from android_harness.loopback import LoopbackDevice

    with pytest.raises(ValueError, match="unknown loopback fault 'flaky'"):
        LoopbackDevice(faults=["flaky"])
