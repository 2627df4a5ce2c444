"""Device runner against a fake harness: parsing, loopback label, parallel devices, failures."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace

import pytest

from benchmarks.device import DeviceBackend, DeviceSettings, run_devices
from mbert_cli.errors import MbertError

PIXEL4 = SimpleNamespace(name="pixel4", soc="Snapdragon 855", abi="arm64-v8a", cpu_mask="f0", threads=4)


class FakeAdb:
    """An AdbClient that answers nothing a fake session would ask it; the sessions are fakes too."""

    timeout = 60.0

    def devices(self):
        return []

    def connect(self, address):
        raise AssertionError("the fake backend resolves devices itself")

    def disconnect(self, address):
        pass

    def shell(self, serial, argv, timeout=None, check=True):
        raise AssertionError("the benchmark runner must go through the session")

    def push(self, serial, local, remote, timeout=None):
        raise AssertionError("the benchmark runner must go through the session")

    def pull(self, serial, remote, local, timeout=None):
        raise AssertionError("the benchmark runner must go through the session")

    def getprop(self, serial, name):
        raise AssertionError("the benchmark runner must go through the session")


class FakeSessions:
    """A SessionFactory that records what each device session was asked to do; per-serial output or failure."""

    def __init__(self, outputs, fail=None, delay=0.0, thermal=None, loopback=(), battery=None):
        self.outputs, self.fail, self.delay = outputs, fail or {}, delay
        self.thermal = thermal or {}
        self.loopback = set(loopback)
        self.battery = battery or {}  # serial -> what cool_down reaches (None: no sensor) or raises
        self.calls = []
        self.active = 0
        self.max_active = 0
        self.lock = threading.Lock()

    def __call__(self, adb, serial, profile, keep=False):
        return FakeSession(self, serial, keep)


class FakeSession:
    """A BenchmarkSession that plays back the owner's outputs."""

    def __init__(self, owner, serial, keep):
        self.owner, self.serial, self.keep = owner, serial, keep

    def __enter__(self):
        with self.owner.lock:
            self.owner.active += 1
            self.owner.max_active = max(self.owner.max_active, self.owner.active)
        return self

    def __exit__(self, exc_type, exc, tb):
        with self.owner.lock:
            self.owner.active -= 1

    def is_loopback(self):
        return self.serial in self.owner.loopback

    def find_binary(self, places=None):
        raise AssertionError("these tests pass a binary")

    def prepare_binary(self, local_binary):
        self.owner.calls.append((self.serial, "binary", local_binary))
        return "/data/local/tmp/mbert/bin/benchmark_model"

    def push_model(self, local_model):
        if self.serial in self.owner.fail:
            raise self.owner.fail[self.serial]
        self.owner.calls.append((self.serial, "push", local_model))
        return f"/data/local/tmp/mbert/run/{local_model.rsplit('/', 1)[-1]}"

    def thermal(self):
        return self.owner.thermal.get(self.serial, ({}, {}))[0]

    def cool_down(self, max_temp_c, timeout_s, poll_s=5.0):
        self.owner.calls.append((self.serial, "cool_down", max_temp_c))
        reached = self.owner.battery.get(self.serial)
        if isinstance(reached, Exception):
            raise reached  # as DeviceSession.cool_down does on its time-out
        return reached

    def run_benchmark_model(self, binary, model, **kw):
        self.owner.calls.append((self.serial, "run", model, kw))
        if isinstance(self.owner.outputs[self.serial], Exception):
            raise self.owner.outputs[self.serial]
        time.sleep(self.owner.delay)
        before, after = self.owner.thermal.get(self.serial, ({}, {}))
        return SimpleNamespace(command=f"taskset f0 {binary} --graph={model}", exit_code=0,
                               stdout=self.owner.outputs[self.serial], stderr="",
                               thermal_before=before, thermal_after=after)


def _backend(sessions, serials):
    infos = [SimpleNamespace(serial=s, state="device", model="Pixel 4", device="flame", android_version="13",
                             build="TQ3A", abi="arm64-v8a", profile=PIXEL4) for s in serials]

    def resolve(adb, spec):
        if spec in ("all", "pixel4"):
            return [(s, PIXEL4) for s in serials]
        if spec in serials:
            return [(spec, PIXEL4)]
        raise MbertError(f"unknown device or profile '{spec}'", hint="see `mbert devices`")

    return DeviceBackend(adb=FakeAdb(), resolve_devices=resolve, list_devices=lambda adb: infos,
                         session=sessions)


@pytest.fixture
def binary(tmp_path):
    p = tmp_path / "benchmark_model"
    p.write_bytes(b"\x7fELF fake")
    return p


def test_one_loopback_device(tiny_models, binary, fixture_text):
    sessions = FakeSessions({"127.0.0.1:5585": fixture_text("xnnpack.txt")}, loopback=["127.0.0.1:5585"])
    report = run_devices(tiny_models[:1], "pixel4", binary, DeviceSettings(runs=50, warmup=5),
                         backend=_backend(sessions, ["127.0.0.1:5585"]))
    assert not report.failures
    (r,) = report.results
    assert r.runner.loopback and "loopback" in r.runner.label and r.runner.profile == "pixel4"
    assert r.settings.threads == 4  # the profile's count
    assert r.inference.count == 50 and r.inference.p50_ms == pytest.approx(61.655)
    assert r.init_ms == pytest.approx(98.201) and r.warmup_mean_ms == pytest.approx(62.9813)
    assert r.coverage.partial and any("partial delegation" in w for w in r.warnings)
    assert r.environment.android_version == "13" and r.environment.runtime_name == "benchmark_model"
    assert r.command.startswith("taskset f0")
    run_call = [c for c in sessions.calls if c[1] == "run"][0]
    assert run_call[3]["threads"] == 4 and run_call[3]["num_runs"] == 50 and run_call[3]["delegate"] == "xnnpack"
    assert run_call[3]["extra_flags"] == ["--min_secs=0"]


def test_two_devices_run_in_parallel_and_one_failure_keeps_the_other(tiny_models, binary, fixture_text):
    sessions = FakeSessions({"A": fixture_text("cpu_legacy.txt"), "B": fixture_text("cpu_legacy.txt"),
                             "C": ""}, fail={"C": MbertError("device C is unauthorized", hint="accept the prompt")},
                            delay=0.3)
    start = time.monotonic()
    report = run_devices(tiny_models, "all", binary, DeviceSettings(threads=2, delegate="cpu"),
                         backend=_backend(sessions, ["A", "B", "C"]))
    elapsed = time.monotonic() - start
    assert sessions.max_active >= 2
    # Serially A and B would take 4 x 0.3 s; in parallel about half.
    assert elapsed < 1.1
    assert [(r.runner.serial, r.model.name) for r in report.results] == [
        ("A", "tiny-small"), ("A", "tiny-large"), ("B", "tiny-small"), ("B", "tiny-large")]
    assert all(not r.runner.loopback and r.settings.threads == 2 for r in report.results)
    assert len(report.failures) == 2 and all(f.target.startswith("C ") for f in report.failures)
    assert "unauthorized" in report.failures[0].message


def test_model_failure_on_device_names_cause(tiny_models, binary, fixture_text):
    sessions = FakeSessions({"A": fixture_text("fail_gather.txt")})
    report = run_devices(tiny_models[:1], "A", binary, backend=_backend(sessions, ["A"]))
    assert not report.results and "GATHER" in report.failures[0].message


def test_thermal_recorded_and_warned(tiny_models, binary, fixture_text):
    sessions = FakeSessions({"A": fixture_text("cpu_legacy.txt")},
                            thermal={"A": ({"battery_temp_c": 30.0, "thermal_status": 0},
                                           {"battery_temp_c": 36.0, "thermal_status": 2})})
    (r,) = run_devices(tiny_models[:1], "A", binary, backend=_backend(sessions, ["A"])).results
    assert r.thermal_before["battery_temp_c"] == 30.0 and r.thermal_after["thermal_status"] == 2
    assert any("thermal status 2" in w for w in r.warnings) and any("warmed 6.0 C" in w for w in r.warnings)


def test_cool_down_without_a_battery_sensor_is_reported(tiny_models, binary, fixture_text):
    sessions = FakeSessions({"A": fixture_text("cpu_legacy.txt"), "B": fixture_text("cpu_legacy.txt")},
                            battery={"A": None, "B": 34.0})
    report = run_devices(tiny_models[:1], "all", binary, DeviceSettings(cool_down_temp=35.0),
                         backend=_backend(sessions, ["A", "B"]))
    warned = {r.runner.serial: any("cool-down skipped" in w for w in r.warnings) for r in report.results}
    assert warned == {"A": True, "B": False}
    assert sorted(c for c in sessions.calls if c[1] == "cool_down") == [("A", "cool_down", 35.0),
                                                                          ("B", "cool_down", 35.0)]


def test_cool_down_time_out_fails_the_device(tiny_models, binary, fixture_text):
    """The harness raises when the phone stays hot: the device's models are reported, not measured hot."""
    hot = MbertError("device A is still at 44.0 °C after 1s of cool-down (limit 35 °C)", hint="let it cool")
    sessions = FakeSessions({"A": fixture_text("cpu_legacy.txt")}, battery={"A": hot})
    report = run_devices(tiny_models, "A", binary, DeviceSettings(cool_down_temp=35.0),
                         backend=_backend(sessions, ["A"]))
    assert not report.results
    assert [f.message for f in report.failures] == [hot.message, f"not run: {hot.message}"]
    assert not [c for c in sessions.calls if c[1] == "run"]


def test_inputs_checked_before_adb(tiny_models, binary, tmp_path):
    def explode(*a, **k):
        raise AssertionError("adb must not be touched")

    backend = DeviceBackend(adb=None, resolve_devices=explode, list_devices=explode, session=explode)
    with pytest.raises(MbertError, match="binary not found"):
        run_devices(tiny_models, "pixel4", tmp_path / "nope", backend=backend)
    with pytest.raises(MbertError, match="not found"):
        run_devices([tmp_path / "missing.tflite"], "pixel4", binary, backend=backend)


def test_no_device_and_unknown_spec(tiny_models, binary):
    sessions = FakeSessions({})
    with pytest.raises(MbertError, match="no attached device matches 'all'"):
        run_devices(tiny_models, "all", binary, backend=_backend(sessions, []))
    with pytest.raises(MbertError, match="unknown device or profile 'nexus'"):
        run_devices(tiny_models, "nexus", binary, backend=_backend(sessions, ["A"]))


def test_device_gone_mid_run_skips_its_remaining_models(tiny_models, binary, fixture_text):
    sessions = FakeSessions({"A": MbertError("device A disconnected during benchmark_model", hint="reconnect"),
                             "B": fixture_text("cpu_legacy.txt")})
    report = run_devices(tiny_models, "all", binary, backend=_backend(sessions, ["A", "B"]))
    assert [r.runner.serial for r in report.results] == ["B", "B"]
    assert [f.target for f in report.failures] == ["A tiny-small", "A tiny-large"]
    assert report.failures[1].message.startswith("not run: device A disconnected")
    assert len([c for c in sessions.calls if c[0] == "A" and c[1] == "run"]) == 1  # no second attempt


def test_harness_backend_missing_adb_is_one_clear_error(tmp_path, monkeypatch):
    """Adb() raises MbertError itself; harness_backend lets it through with its install hint."""
    from benchmarks.device import harness_backend

    with pytest.raises(MbertError, match=r"adb not found at .*nope") as err:
        harness_backend(adb_path=str(tmp_path / "nope"))
    assert "apt-get install adb" in (err.value.hint or "")
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no adb on PATH
    with pytest.raises(MbertError, match="adb not found on PATH"):
        harness_backend()


def test_the_doubles_have_the_harness_shape():
    """The runner sees only the protocols; doubles that drift from them would test another seam."""
    from android_harness.protocols import AdbClient, BenchmarkSession

    sessions = FakeSessions({})
    assert isinstance(FakeAdb(), AdbClient)
    assert isinstance(sessions(FakeAdb(), "A", PIXEL4), BenchmarkSession)
