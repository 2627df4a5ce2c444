"""The latency studies run to completion (exit 0) in their --tiny smoke mode.

`--tiny` exports the nano presets (seq 64) through the same `converters.convert()` path as
the real `--make-models` run and caches them by preset/mode/seq. The conversions are slow,
so the fast tests pre-seed the cache folder with the one-second stand-in encoders under the
cached names (exercising the scripts and the cache lookup), and one slow test does the real
nano conversions end to end.
"""

from __future__ import annotations

import json
import shutil

import pytest


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory, tiny_models):
    """A --models-dir where every --tiny file is already 'cached' (stand-ins, not conversions)."""
    from studies import _models

    out = tmp_path_factory.mktemp("suite-tiny")
    for i, v in enumerate(_models.TINY_VARIANTS):
        shutil.copyfile(tiny_models[1 if i == 0 else 0], out / v.file_name(_models.TINY_SEQ_LEN))
    return str(out)


@pytest.mark.slow
def test_tiny_converts_nano_presets_once(tmp_path, capsys):
    from studies import _models, host_latency

    args = ["--tiny", "--models-dir", str(tmp_path), "--runs", "2", "--warmup", "0", "--threads", "1"]
    assert host_latency.main(args) == 0
    out = capsys.readouterr().out
    assert out.count("converting nano-") == len(_models.TINY_VARIANTS) and "1.00x" in out
    entries = {e["file"]: e for e in json.loads((tmp_path / "manifest.json").read_text())["files"]}
    assert [entries[v.file_name(64)]["mode"] for v in _models.TINY_VARIANTS] == ["none", "none", "dynamic", "int8"]
    assert all(e["seq_len"] == 64 and e["random_weights"] for e in entries.values())
    assert host_latency.main(args) == 0
    assert "converting" not in capsys.readouterr().out


def test_host_latency_tiny_prints_ratios_side_by_side(tiny_dir, capsys):
    from studies import host_latency

    assert host_latency.main(["--tiny", "--models-dir", tiny_dir, "--runs", "5", "--warmup", "1",
                              "--threads", "1,2"]) == 0
    out = capsys.readouterr().out
    assert out.count("threads=") == 2 and "1.00x" in out
    for name in ("nano-teacher__float32__seq64", "nano-student__float32__seq64", "nano-student__dynamic__seq64",
                 "nano-student__int8__seq64"):
        assert name in out
    assert "threads side by side" in out and "1 thr" in out and "2 thr" in out and "converting" not in out


def test_crosscheck_tiny_prints_verdict(tiny_dir, capsys):
    from studies import crosscheck_litert

    assert crosscheck_litert.main(["--tiny", "--models-dir", tiny_dir, "--runs", "5", "--warmup", "1",
                                   "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert "nano-student__dynamic__seq64.tflite" in out and "mbert min" in out
    # The verdict column follows the printed p50 ratio (10% tolerance), whichever way it went.
    row = next(line for line in out.splitlines() if line.startswith("nano-student__dynamic__seq64.tflite"))
    ratio = float(row.split()[4].rstrip("x"))
    assert row.rsplit("x  ", 1)[-1].strip() == ("agree" if abs(ratio - 1) <= 0.10 else "DIFFER (> 10%)"), row


def test_crosscheck_verdict_agrees_only_within_tolerance():
    from studies.crosscheck_litert import agreement

    assert agreement(1.0, 0.10) == "agree" and agreement(0.95, 0.10) == "agree" and agreement(1.09, 0.10) == "agree"
    assert agreement(1.2, 0.10) == "DIFFER (> 10%)" and agreement(0.85, 0.10) == "DIFFER (> 10%)"


@pytest.mark.slow
def test_adb_overhead_tiny_on_loopback(tiny_dir, capsys):
    if shutil.which("adb") is None:
        pytest.skip("adb client not installed")
    from studies import adb_overhead

    assert adb_overhead.main(["--tiny", "--models-dir", tiny_dir, "--runs", "5", "--warmup", "1"]) == 0
    out = capsys.readouterr().out
    assert "nano-student__dynamic__seq64.tflite" in out and "failed" not in out


def test_scripts_still_take_files(tiny_models, capsys):
    from studies import host_latency

    assert host_latency.main([*map(str, tiny_models), "--runs", "3", "--warmup", "0", "--threads", "1"]) == 0
    out = capsys.readouterr().out
    assert "tiny-large" in out and "converting" not in out


def test_variant_cache_names_are_keyed_by_preset_mode_seq():
    from studies._models import SUITE_VARIANTS, Variant

    names = [v.file_name(128) for v in SUITE_VARIANTS]
    assert names == ["bert-base__float32__seq128.tflite", "mobilebert__float32__seq128.tflite",
                     "mobilebert__dynamic__seq128.tflite", "mobilebert__int8__seq128.tflite"]
    assert Variant("mobilebert", "int8", int8_float_attention=False).file_name(64) == \
        "mobilebert__int8-full__seq64.tflite"


def test_make_models_reuses_cached_files(tmp_path, capsys):
    """With every file already in --models-dir, nothing is converted (files are only looked up)."""
    from studies import _models
    from studies._common import model_args, resolve_models

    for v in _models.SUITE_VARIANTS:
        (tmp_path / v.file_name(128)).write_bytes(b"x")
    import argparse

    parser = argparse.ArgumentParser()
    model_args(parser, default_make=True)
    got = resolve_models(parser.parse_args(["--models-dir", str(tmp_path)]))
    assert [p.rsplit("/", 1)[-1] for p in got][0] == "bert-base__float32__seq128.tflite" and len(got) == 4
    got = resolve_models(parser.parse_args(["--models-dir", str(tmp_path)]), variants=[_models.SUITE_DYNAMIC])
    assert got == [str(tmp_path / "mobilebert__dynamic__seq128.tflite")]


def test_scripts_without_default_models_need_an_argument():
    import argparse

    from studies._common import model_args, resolve_models

    parser = argparse.ArgumentParser()
    model_args(parser)
    with pytest.raises(SystemExit, match="--make-models"):
        resolve_models(parser.parse_args([]))
