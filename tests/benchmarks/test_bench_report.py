"""Table, ratios, JSON file naming and atomic writes, and the PNG plot."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import pytest
from rich.console import Console

from benchmarks import report as rep
from benchmarks.result import BenchReport, BenchResult, Coverage, Failure, LatencyStats, ModelInfo, RunnerInfo, Settings


def _r(name, p50, runner=None, coverage=None, p90=None):
    return BenchResult(
        model=ModelInfo(path=f"/m/{name}.tflite", name=name, size_bytes=25_000_000, sha256="0" * 64, mode="dynamic"),
        runner=runner or RunnerInfo(kind="host"), settings=Settings(threads=4, delegate="xnnpack", warmup_runs=5, runs=50),
        inference=LatencyStats(count=50, mean_ms=p50 * 1.01, std_ms=0.5, min_ms=p50 * 0.9, max_ms=p50 * 1.3,
                               p50_ms=p50, p90_ms=p90),
        coverage=coverage or Coverage(),
    )


def _text(report):
    buf = io.StringIO()
    rep.render(report, Console(file=buf, width=200, color_system=None))
    return buf.getvalue()


def test_ratios_are_per_runner():
    phone = RunnerInfo(kind="device", serial="S1", profile="pixel4")
    results = [_r("bert", 342.0), _r("mobilebert", 62.0), _r("bert", 100.0, phone), _r("mobilebert", 25.0, phone)]
    assert rep.ratios(results) == pytest.approx([1.0, 62 / 342, 1.0, 0.25])


def test_table_shows_ratio_coverage_warning_and_loopback():
    loop = RunnerInfo(kind="device", serial="127.0.0.1:5585", profile="pixel4", loopback=True)
    partial = Coverage(delegate="TfLiteGpuDelegateV2", delegated_nodes=745, total_nodes=1135, partitions=48)
    report = BenchReport(results=[_r("bert", 342.0, p90=350.0), _r("mobilebert", 62.0, loop, partial)],
                         failures=[Failure(target="SER2", message="device unauthorized", hint="accept the prompt")])
    text = _text(report)
    assert "bert" in text and "342" in text and "350" in text and "1.00x" in text
    assert "745/1135 ⚠" in text and "loopback" in text and "not a phone's" in text
    assert "failed: SER2: device unauthorized" in text


def test_default_json_path(tmp_path):
    now = datetime(2026, 1, 2, 3, 4, 5)
    host = BenchReport(results=[_r("a", 1.0)])
    assert rep.default_json_path(host, None, now) == Path("bench/host-20260102-030405.json")
    assert rep.default_json_path(host, tmp_path, now) == tmp_path / "bench" / "host-20260102-030405.json"
    loop = BenchReport(results=[_r("a", 1.0, RunnerInfo(kind="device", serial="127.0.0.1:5585", loopback=True))])
    assert rep.default_json_path(loop, None, now).name == "loopback-127.0.0.1_5585-20260102-030405.json"
    two = BenchReport(results=[_r("a", 1.0), _r("a", 1.0, RunnerInfo(kind="device", serial="X"))])
    assert rep.default_json_path(two, None, now).name.startswith("multi-")


def test_write_json_is_atomic_and_readable(tmp_path):
    report = BenchReport(results=[_r("a", 1.0)])
    path = rep.write_json(report, tmp_path / "deep" / "out.json")
    assert BenchReport.from_json(path.read_text()) == report
    assert [p.name for p in path.parent.iterdir()] == ["out.json"]  # no temp file left


def test_failed_write_leaves_previous_file(tmp_path, monkeypatch):
    target = tmp_path / "out.json"
    target.write_text("old")

    def boom(*a, **k):
        raise OSError("disk full")

    import mbert_cli.io_utils as io_utils
    from mbert_cli.errors import MbertError

    monkeypatch.setattr(io_utils.os, "replace", boom)
    with pytest.raises(MbertError, match="cannot write"):
        rep.write_json(BenchReport(results=[_r("a", 1.0)]), target)
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_plot_writes_png(tmp_path):
    path = rep.plot([_r("a", 3.0, p90=4.0), _r("b", 1.0)], tmp_path / "lat.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fmt_ms_keeps_three_significant_digits():
    assert rep.fmt_ms(61.84) == "61.8" and rep.fmt_ms(342.2) == "342" and rep.fmt_ms(0.02634) == "0.0263"
    assert rep.fmt_ms(0.5, like=61.8) == "0.5" and rep.fmt_ms(None) == "-"


def test_manifest_mode_none_reads_as_float32():
    assert rep.mode_label("none") == "float32" and rep.mode_label("int8") == "int8" and rep.mode_label(None) == "-"


def test_length_curve_ratios_table_and_plot(tmp_path):
    """With --seq-len each model's baseline is itself at its longest length, per runner."""
    def at(name, n, p50, served=None):
        r = _r(name, p50)
        r.requested_seq_len, r.seq_len, r.signature = n, served or n, f"seq{served or n}"
        return r

    results = [at("a", 16, 2.0, 32), at("a", 32, 2.0), at("a", 128, 10.0), at("b", 32, 1.0), at("b", 64, 4.0)]
    assert rep.ratios(results) == pytest.approx([0.2, 0.2, 1.0, 0.25, 1.0])
    text = _text(BenchReport(results=results))
    assert "served by" in text and "seq32 @ 32" in text and "same model at its longest length" in text
    png = rep.plot(results, tmp_path / "curve.png")
    assert png.read_bytes()[:4] == b"\x89PNG"
