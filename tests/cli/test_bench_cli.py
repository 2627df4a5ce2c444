"""`mbert bench` and `mbert devices` through the Typer app: output, files, and bad input."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from benchmarks.result import BenchReport
from mbert_cli.cli.app import app

runner = CliRunner()


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    # Runs without --json write ./bench/...; keep them out of the checkout.
    monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="module")
def models(tiny_models):
    return [str(p) for p in tiny_models]


def _error_lines(result):
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert lines and lines[0].startswith("Error: "), result.output
    return lines


def test_help_explains_every_option():
    result = runner.invoke(app, ["bench", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for opt in ("--device", "--threads", "--runs", "--warmup", "--min-seconds", "--delegate", "--benchmark-binary",
                "--adb", "--adb-port", "--cool-down-temp", "--keep", "--op-profiling", "--out", "--plot", "--run",
                "MBERT_BENCHMARK_BINARY", "default: 50", "default: host", "default: xnnpack"):
        assert opt in result.output, opt


def test_host_two_models_table_json_plot(models, tmp_path):
    out = tmp_path / "r.json"
    png = tmp_path / "r.png"
    result = runner.invoke(app, ["bench", *models, "--device", "host", "--runs", "10", "--warmup", "1",
                                 "--out", str(out), "--plot", str(png)])
    assert result.exit_code == 0, result.output
    text = result.stdout
    for needle in ("tiny-small", "tiny-large", "float32", "host", "1.00x", "p50", "p90", "mean ± std", "coverage"):
        assert needle in text, needle
    report = BenchReport.from_json(out.read_text())
    assert [r.model.name for r in report.results] == ["tiny-small", "tiny-large"]
    assert all(r.inference.count == 10 for r in report.results)
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_default_json_goes_to_bench_folder(models, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["bench", models[0], "--runs", "3", "--warmup", "0"])
    assert result.exit_code == 0, result.output
    (written,) = (tmp_path / "bench").glob("host-*.json")
    assert json.loads(written.read_text())["results"][0]["runner"]["kind"] == "host"
    result = runner.invoke(app, ["bench", models[0], "--runs", "3", "--warmup", "0", "--run", "runs/demo",
                                 "--delegate", "cpu"])
    assert result.exit_code == 0, result.output
    (written,) = (tmp_path / "runs" / "demo" / "bench").glob("host-*.json")
    assert json.loads(written.read_text())["results"][0]["settings"]["delegate"] == "cpu"


@pytest.mark.parametrize("content, needle", [
    (None, "model file not found"),
    (b"", "model file is empty"),
    (b"just some text, not a flatbuffer", "is not a TFLite model"),
    (b"\x00\x10\x00\x00TFL3", "model file is truncated"),
])
def test_bad_model_file_one_line(tmp_path, models, content, needle):
    bad = tmp_path / "bad.tflite"
    if content is not None:
        bad.write_bytes(content)
    result = runner.invoke(app, ["bench", models[0], str(bad)])
    assert result.exit_code == 1
    lines = _error_lines(result)
    assert needle in lines[0] and len(lines) == 2 and lines[1].startswith("Hint: ")
    assert "Traceback" not in result.output


def test_corrupt_model_body(tmp_path, models):
    data = open(models[1], "rb").read()
    bad = tmp_path / "corrupt.tflite"
    bad.write_bytes(data[:16] + bytes(len(data) - 16))  # header intact, body zeroed
    result = runner.invoke(app, ["bench", str(bad), "--runs", "2"])
    assert result.exit_code == 1
    assert "could not load" in _error_lines(result)[0]


def test_gpu_delegate_on_host_is_refused(models):
    result = runner.invoke(app, ["bench", models[0], "--delegate", "gpu"])
    assert result.exit_code == 1 and "needs a phone" in _error_lines(result)[0]


def test_device_binary_missing(models, tmp_path):
    result = runner.invoke(app, ["bench", models[0], "--device", "pixel4", "--benchmark-binary",
                                 str(tmp_path / "nope")], env={"MBERT_BENCHMARK_BINARY": None})
    assert result.exit_code == 1 and "benchmark_model binary not found" in _error_lines(result)[0]
    # No binary at all is not refused up front: the device's own benchmark_model is looked for
    # (tests/benchmarks/test_bench_found_binary.py runs that path on the loopback device).


def _fake_backend(serials, fail=None):
    from benchmarks.device import DeviceBackend
    from mbert_cli.errors import MbertError

    def resolve(adb, spec):
        if spec in ("all", "pixel4"):
            return [(s, SimpleNamespace(name="pixel4", threads=4, soc="SD855")) for s in serials]
        raise MbertError(f"unknown device or profile '{spec}'", hint="run `mbert devices` to see what is attached")

    return DeviceBackend(adb=SimpleNamespace(), resolve_devices=resolve, list_devices=lambda adb: [],
                         session=fail)


@pytest.mark.parametrize("spec, serials, needle", [
    ("nexus9", ["A"], "unknown device or profile 'nexus9'"),
    ("all", [], "no attached device matches 'all'"),
])
def test_device_selection_errors(models, tmp_path, monkeypatch, spec, serials, needle):
    import benchmarks.device as dev

    monkeypatch.setattr(dev, "harness_backend", lambda *a, **k: _fake_backend(serials))
    binary = tmp_path / "benchmark_model"
    binary.write_bytes(b"\x7fELF")
    result = runner.invoke(app, ["bench", models[0], "--device", spec, "--benchmark-binary", str(binary)])
    assert result.exit_code == 1 and needle in _error_lines(result)[0]


def test_adb_missing(models, tmp_path):
    binary = tmp_path / "benchmark_model"
    binary.write_bytes(b"\x7fELF")
    result = runner.invoke(app, ["bench", models[0], "--device", "pixel4", "--benchmark-binary", str(binary),
                                 "--adb", str(tmp_path / "no-adb")])
    assert result.exit_code == 1 and "adb not found" in _error_lines(result)[0]
    result = runner.invoke(app, ["devices", "--adb", str(tmp_path / "no-adb")])
    assert result.exit_code == 1 and "adb not found" in _error_lines(result)[0]


def test_unwritable_json_path(models, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = runner.invoke(app, ["bench", models[0], "--runs", "2", "--out", str(blocker / "r.json")])
    assert result.exit_code == 1 and "cannot write" in _error_lines(result)[0]
