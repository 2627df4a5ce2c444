"""The typed seam: the real adb client and device session have the protocols' members and signatures."""

from __future__ import annotations

import inspect
import shutil

import pytest

from android_harness.adb import Adb
from android_harness.device import DeviceSession, list_devices, resolve_devices
from android_harness.profiles import get_profile
from android_harness.protocols import AdbClient, BenchmarkSession, DeviceLister, DeviceResolver, SessionFactory


def _members(protocol: type) -> list[str]:
    own = {"__enter__", "__exit__", "__call__"}
    return sorted(name for name in vars(protocol)
                  if (not name.startswith("_") or name in own) and callable(getattr(protocol, name)))


def _shape(fn) -> list[tuple[str, object, object]]:
    """Names, kinds and defaults of a callable's parameters (annotations are strings; not compared)."""
    return [(p.name, p.kind, p.default) for p in inspect.signature(fn).parameters.values()]


@pytest.mark.parametrize(("protocol", "real"), [(AdbClient, Adb), (BenchmarkSession, DeviceSession)])
def test_real_classes_match_every_protocol_signature(protocol, real):
    names = _members(protocol)
    assert names  # the check below must compare something
    for name in names:
        assert _shape(getattr(real, name)) == _shape(getattr(protocol, name)), f"{real.__name__}.{name}"


@pytest.mark.parametrize(("protocol", "real"), [(SessionFactory, DeviceSession.__init__),
                                                (DeviceResolver, resolve_devices), (DeviceLister, list_devices)])
def test_entry_points_match_their_protocols(protocol, real):
    expected = _shape(protocol.__call__)
    actual = _shape(real)
    if protocol is not SessionFactory:
        actual = [("self", inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.empty), *actual]
    assert actual == expected


@pytest.mark.skipif(shutil.which("adb") is None, reason="needs the adb client (make adb)")
def test_instances_are_protocol_instances(monkeypatch):
    def no_adb(*args, **kwargs):
        raise AssertionError("isinstance must not call adb")

    adb = Adb(timeout=5)
    monkeypatch.setattr(adb, "run", no_adb)  # isinstance only looks
    assert isinstance(adb, AdbClient)
    assert isinstance(DeviceSession(adb, "127.0.0.1:1", get_profile("pixel4")), BenchmarkSession)


def test_something_else_is_not_a_session():
    class HalfSession:
        serial = "A"

        def push_model(self, local_model):
            return ""

    assert not isinstance(HalfSession(), BenchmarkSession)
    assert not isinstance(HalfSession(), AdbClient)
