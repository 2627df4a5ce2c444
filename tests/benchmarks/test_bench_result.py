"""Result type JSON round trip, and the model file checks that run before any load."""

from __future__ import annotations

import json

import pytest

from benchmarks.model_file import check_tflite, describe_model
from benchmarks.result import (
    SCHEMA_VERSION,
    BenchReport,
    BenchResult,
    Coverage,
    Failure,
    LatencyStats,
    ModelInfo,
    RunnerInfo,
    Settings,
)
from mbert_cli.errors import MbertError


def _result(**over) -> BenchResult:
    base = dict(
        model=ModelInfo(path="/m/a.tflite", name="a", size_bytes=2_000_000, sha256="ab" * 32, mode="int8", seq_len=128),
        runner=RunnerInfo(kind="device", serial="127.0.0.1:5585", profile="pixel4", loopback=True),
        settings=Settings(threads=4, delegate="gpu", warmup_runs=5, runs=50),
        inference=LatencyStats(count=50, mean_ms=61.8, std_ms=1.2, min_ms=59.9, max_ms=66.5, p50_ms=61.7),
        coverage=Coverage(delegate="TfLiteGpuDelegateV2", delegated_nodes=745, total_nodes=1135, partitions=48),
        thermal_before={"battery_c": 31.0}, thermal_after={"battery_c": 33.5},
        warnings=["partial delegation"], samples_ms=[1.0, 2.0],
    )
    base.update(over)
    return BenchResult(**base)


def test_result_json_round_trip():
    r = _result()
    back = BenchResult.from_json(r.to_json())
    assert back == r
    assert isinstance(back.coverage, Coverage) and back.coverage.partial
    assert back.runner.label == "pixel4:127.0.0.1:5585 (loopback)"
    assert json.loads(r.to_json())["schema_version"] == SCHEMA_VERSION


def test_report_round_trip_keeps_failures():
    rep = BenchReport(results=[_result(), _result(runner=RunnerInfo(kind="host"))],
                      failures=[Failure(target="SER1", message="unauthorized", hint="accept the prompt")])
    back = BenchReport.from_json(rep.to_json())
    assert back == rep
    assert back.results[1].runner.label == "host"


def test_unknown_keys_are_ignored_but_other_major_versions_refused():
    data = _result().to_dict()
    data["future_field"] = 1
    data["model"]["future"] = 2
    assert BenchResult.from_dict(data).model.name == "a"
    data["schema_version"] = "2.0"
    with pytest.raises(MbertError, match="schema version 2.0"):
        BenchResult.from_dict(data)


def test_describe_reads_mode_from_manifest(tiny_models):
    info = describe_model(tiny_models[0])
    assert info.mode == "float32" and info.seq_len == 16
    assert info.size_bytes == tiny_models[0].stat().st_size and len(info.sha256) == 64


def test_describe_tolerates_missing_or_broken_manifest(tiny_models, tmp_path):
    copy = tmp_path / "m.tflite"
    copy.write_bytes(tiny_models[0].read_bytes())
    assert describe_model(copy).mode is None
    (tmp_path / "manifest.json").write_text("{not json")
    assert describe_model(copy).mode is None
    (tmp_path / "manifest.json").write_text(json.dumps({"files": [{"file": "m.tflite", "mode": "int8"}]}))
    assert describe_model(copy).mode == "int8"


@pytest.mark.parametrize("content, needle", [
    (None, "not found"),
    (b"", "empty"),
    (b"PK\x03\x04 this is a zip file, not a model", "not a TFLite model"),
    (b"\xff\xff\xff\x7fTFL3", "truncated"),
])
def test_bad_model_files(tmp_path, content, needle):
    p = tmp_path / "bad.tflite"
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(MbertError, match=needle):
        check_tflite(p)


def test_truncated_real_model(tiny_models, tmp_path):
    p = tmp_path / "cut.tflite"
    p.write_bytes(tiny_models[1].read_bytes()[:12])
    with pytest.raises(MbertError, match="truncated"):
        check_tflite(p)
