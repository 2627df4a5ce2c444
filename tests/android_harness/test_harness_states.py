"""Device states the loopback cannot easily show (offline, USB without permission),
through a stand-in adb executable that prints canned `adb devices` output."""

from __future__ import annotations

import pytest

from android_harness.adb import Adb
from android_harness.device import list_devices, resolve_devices
from mbert_cli.errors import MbertError

pytestmark = pytest.mark.timeout(60)

DEVICES = """List of devices attached
0A1B2C\toffline
9Z8Y7X\tno permissions (missing udev rules? user is in the plugdev group); see [http://developer.android.com/tools/device.html]

"""


@pytest.fixture
def canned_adb(tmp_path):
    script = tmp_path / "adb"
    (tmp_path / "devices.txt").write_text(DEVICES)
    # Shell builtins only, so the script works whatever PATH holds.
    script.write_text(
        "#!/bin/sh\nif [ \"$1\" = devices ]; then\n"
        f"  while IFS= read -r line; do printf '%s\\n' \"$line\"; done < '{tmp_path / 'devices.txt'}'\n"
        "  exit 0\nfi\necho \"error: unexpected call $*\" >&2; exit 1\n")
    script.chmod(0o755)
    return Adb(adb_path=str(script))


def test_states_are_parsed(canned_adb):
    assert [(d.serial, d.state) for d in canned_adb.devices()] == [
        ("0A1B2C", "offline"), ("9Z8Y7X", DEVICES.splitlines()[2].split("\t")[1])]
    assert [(i.serial, i.state, i.profile) for i in list_devices(canned_adb)][0] == ("0A1B2C", "offline", "")


def test_offline_and_no_permission_resolve_to_clear_errors(canned_adb):
    with pytest.raises(MbertError, match="device 0A1B2C is offline") as err:
        resolve_devices(canned_adb, "0A1B2C")
    assert "reconnect" in err.value.hint
    with pytest.raises(MbertError, match="no permission to open USB device 9Z8Y7X") as err:
        resolve_devices(canned_adb, "9Z8Y7X")
    assert "udev" in err.value.hint
    with pytest.raises(MbertError, match="device 0A1B2C is offline"):
        resolve_devices(canned_adb, "pixel4")  # nothing usable: the first problem, with its fix


def test_push_of_missing_local_file(canned_adb, tmp_path):
    with pytest.raises(MbertError, match="file to push not found"):
        canned_adb.push("0A1B2C", tmp_path / "nope.tflite", "/data/local/tmp/x")
