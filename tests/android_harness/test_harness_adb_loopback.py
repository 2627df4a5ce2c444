"""The real adb client against the loopback device: attach, shell v2, sync, quoting."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from android_harness.adb import Adb
from android_harness.attach import free_port, private_adb, wait_for_states
from android_harness.device import list_devices
from mbert_cli.errors import MbertError

pytestmark = [
    pytest.mark.timeout(180),  # a hung adb call must fail, not stall the suite
    pytest.mark.skipif(shutil.which("adb") is None, reason="needs the adb client (make adb)"),
]

ROOT = Path(__file__).resolve().parents[2]


def test_connect_devices_and_getprop(loopback):
    adb, (serial,) = loopback
    assert [(d.serial, d.state) for d in adb.devices()] == [(serial, "device")]
    assert adb.getprop(serial, "ro.product.cpu.abi") == "arm64-v8a"
    assert adb.getprop(serial, "ro.product.model") == "Pixel 4"
    assert adb.getprop(serial, "ro.mbert.loopback") == "1"
    assert adb.getprop(serial, "ro.no.such.prop") == ""
    # The banner reaches `adb devices -l` too.
    assert "model:Pixel_4" in adb.run(["devices", "-l"]).stdout
    (info,) = list_devices(adb)
    assert (info.model, info.device, info.abi, info.profile, info.android_version,
            info.loopback) == ("Pixel 4", "flame", "arm64-v8a", "pixel4", "12", True)


def test_shell_v2_exit_codes_and_streams(loopback):
    adb, (serial,) = loopback
    r = adb.shell(serial, ["sh", "-c", "echo out; echo err >&2; exit 7"], check=False)
    assert (r.exit_code, r.stdout, r.stderr) == (7, "out\n", "err\n")
    assert adb.shell(serial, ["true"]).exit_code == 0
    with pytest.raises(MbertError, match=r"exit 3"):
        adb.shell(serial, ["sh", "-c", "exit 3"])
    # Legacy `shell:` (no v2): output merged, as old devices do.
    legacy = adb.run(["-s", serial, "shell", "-x", "echo legacy"])
    assert "legacy" in legacy.stdout


@pytest.mark.parametrize("size", [10, 64 * 1024 + 17, 3 * 1024 * 1024 + 5])
def test_push_and_pull_round_trip(loopback, tmp_path, size):
    adb, (serial,) = loopback
    data = os.urandom(size)
    local = tmp_path / "blob.bin"
    local.write_bytes(data)
    remote = "/data/local/tmp/t/blob.bin"
    adb.push(serial, local, remote)
    device_sum = adb.shell(serial, ["sha256sum", remote]).stdout.split()[0]
    assert device_sum == hashlib.sha256(data).hexdigest()
    back = adb.run(["-s", serial, "pull", remote, str(tmp_path / "back.bin")])
    assert back.returncode == 0, back.stderr
    assert (tmp_path / "back.bin").read_bytes() == data
    assert (Path(loopback.devices[0].sandbox) / "t" / "blob.bin").read_bytes() == data


def test_quoting_reaches_device_intact(loopback, tmp_path):
    adb, (serial,) = loopback
    sandbox = Path(loopback.devices[0].sandbox)
    # The device shell runs in /data/local/tmp, so a bare `touch X` would land in the sandbox.
    name = """it's a "model"; touch SENTINEL $(touch SENTINEL2) `touch SENTINEL3` & touch SENTINEL4 .tflite"""
    remote = f"/data/local/tmp/q dir/{name}"
    local = tmp_path / "m.tflite"
    local.write_bytes(b"model bytes")
    adb.push(serial, local, remote)
    assert adb.shell(serial, ["cat", remote]).stdout == "model bytes"
    assert adb.shell(serial, ["echo", remote]).stdout == remote + "\n"
    assert adb.shell(serial, ["ls", "/data/local/tmp/q dir"]).stdout.strip() == name
    assert not any(sandbox.glob("SENTINEL*"))
    # Control: the same words unquoted (minus the lone apostrophe, a syntax error) do run
    # the injected commands, so the check above can fail.
    adb.run(["-s", serial, "shell", "echo", remote.replace("'", "")])
    assert (sandbox / "SENTINEL").exists()


def test_adb_missing_is_one_clear_error(monkeypatch, tmp_path):
    with pytest.raises(MbertError, match="adb not found") as err:
        Adb(adb_path=str(tmp_path / "adb"))
    assert "apt-get install adb" in err.value.hint
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(MbertError, match="adb not found on PATH"):
        Adb()


def test_unknown_serial_and_refused_connect():
    with private_adb() as adb:
        with pytest.raises(MbertError, match="not attached"):
            adb.shell("127.0.0.1:1", ["true"])
        with pytest.raises(MbertError, match="cannot connect to 127.0.0.1"):
            adb.connect(f"127.0.0.1:{free_port()}")


def test_loopback_command_line(tmp_path):
    """`python -m android_harness.loopback --port P` serves until interrupted."""
    port = free_port()
    sandbox = tmp_path / "my sandbox; $(x)"  # mapped through a safe link, never split
    proc = subprocess.Popen(
        [sys.executable, "-m", "android_harness.loopback", "--port", str(port),
         "--sandbox", str(sandbox)], cwd=ROOT, stdout=subprocess.PIPE, text=True,
        stderr=open(tmp_path / "stderr.txt", "w"), env=dict(os.environ, PYTHONPATH=str(ROOT)))
    try:
        banner = proc.stdout.readline()
        assert f"adb connect 127.0.0.1:{port}" in banner
        with private_adb() as adb:
            adb.connect(f"127.0.0.1:{port}")
            wait_for_states(adb, {f"127.0.0.1:{port}": "device"}, 20)
            adb.shell(f"127.0.0.1:{port}", ["sh", "-c", "echo hi > /data/local/tmp/f"])
            assert adb.shell(f"127.0.0.1:{port}", ["sh", "-c", "pwd; ls /data/local/tmp"]
                             ).stdout == "/data/local/tmp\nbenchmark_model\nf\n"  # it offers a benchmark_model
        assert (sandbox / "f").read_text() == "hi\n"  # a given sandbox is the device's storage
    finally:
        proc.send_signal(2)  # Ctrl-C
        try:
            code = proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        assert code == 0, (tmp_path / "stderr.txt").read_text()
    assert sandbox.exists()  # a user-given sandbox is kept
