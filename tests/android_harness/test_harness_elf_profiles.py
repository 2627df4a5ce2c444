"""ELF ABI detection and device profiles: pure functions, no adb."""

from __future__ import annotations

import pytest

from android_harness.attach import write_stand_in_binary
from android_harness.device import parse_getprop
from android_harness.elf import elf_abi
from android_harness.profiles import get_profile, load_profiles, match_profile
from mbert_cli.errors import MbertError


@pytest.mark.parametrize("abi", ["arm64-v8a", "armeabi-v7a", "x86_64", "x86"])
def test_elf_abi_round_trip(tmp_path, abi):
    assert elf_abi(write_stand_in_binary(tmp_path / "b", abi=abi)) == abi


def test_elf_abi_of_this_machines_python():
    import platform
    import sys

    expected = {"x86_64": "x86_64", "aarch64": "arm64-v8a"}.get(platform.machine())
    if expected is None:
        pytest.skip("unusual host")
    assert elf_abi(sys.executable) == expected


def test_elf_abi_rejects_non_elf_and_missing(tmp_path):
    script = tmp_path / "benchmark_model"
    script.write_text("#!/bin/sh\necho hi\n")
    with pytest.raises(MbertError, match="not an ELF executable") as err:
        elf_abi(script)
    assert "benchmark_model" in err.value.hint
    with pytest.raises(MbertError, match="cannot read"):
        elf_abi(tmp_path / "nope")


def test_elf_abi_rejects_unknown_machine(tmp_path):
    data = bytearray(write_stand_in_binary(tmp_path / "b").read_bytes())
    data[18:20] = (243).to_bytes(2, "little")  # RISC-V: not an Android ABI here
    (tmp_path / "b").write_bytes(bytes(data))
    with pytest.raises(MbertError, match="machine 243"):
        elf_abi(tmp_path / "b")


def test_profiles_from_data_file():
    profiles = load_profiles()
    assert {"pixel4", "generic"} <= set(profiles)
    pixel4 = get_profile("pixel4")
    assert (pixel4.cpu_mask, pixel4.threads, pixel4.abi) == ("f0", 4, "arm64-v8a")
    assert "855" in pixel4.soc
    generic = get_profile("generic")
    assert generic.cpu_mask is None and generic.threads == 4


def test_unknown_profile_lists_valid_names():
    with pytest.raises(MbertError, match="unknown device profile 'pixel9'") as err:
        get_profile("pixel9")
    assert "pixel4" in err.value.hint and "generic" in err.value.hint


def test_match_profile():
    assert match_profile({"ro.product.device": "flame", "ro.product.model": "Pixel 4"}).name == "pixel4"
    assert match_profile({"ro.product.device": "coral", "ro.product.model": "Pixel 4 XL"}).name == "generic"
    assert match_profile({}).name == "generic"


def test_parse_getprop():
    text = "[ro.product.model]: [Pixel 4]\n[ro.empty]: []\n[ro.build.version.release]: [12]\n"
    assert parse_getprop(text) == {"ro.product.model": "Pixel 4", "ro.empty": "",
                                   "ro.build.version.release": "12"}
