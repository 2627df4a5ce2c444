"""Per-length benchmarking: which signature serves a length, the task-length mixture, and the
loopback benchmark_model honouring the real tool's shape and signature flags."""

from __future__ import annotations

import pytest

from benchmarks.host import LengthTarget, plan_lengths
from benchmarks.result import BenchResult, LatencyStats, ModelInfo, RunnerInfo, Settings
from benchmarks.task_lengths import served_latency
from mbert_cli.errors import MbertError


def test_plan_serves_each_length_by_the_smallest_fitting_signature():
    sigs = {"seq32": 32, "seq64": 64, "seq128": 128}
    got = plan_lengths("m.tflite", sigs, (16, 32, 33, 128), None)
    assert got == [LengthTarget("seq32", 32, 16), LengthTarget("seq32", 32, 32), LengthTarget("seq64", 64, 33),
                   LengthTarget("seq128", 128, 128)]
    # a single fixed-length file serves shorter lengths padded to its own
    assert plan_lengths("m.tflite", {"serving_default": 64}, (16,), None) == [
        LengthTarget("serving_default", 64, 16)]
    # a dynamic file is resized to the exact length
    assert plan_lengths("m.tflite", {"serving_default": None}, (16,), 128) == [
        LengthTarget("serving_default", 16, 16, resize=True)]


def test_plan_rejects_lengths_the_file_cannot_serve():
    with pytest.raises(MbertError) as err:
        plan_lengths("m.tflite", {"seq32": 32}, (64,), None)
    assert "longer than m.tflite serves (its longest length is 32)" in err.value.message
    with pytest.raises(MbertError) as err:
        plan_lengths("m.tflite", {"serving_default": None}, (600,), 512)
    assert "beyond the position table of m.tflite (512 positions)" in err.value.message


def _result(requested: int, samples: list[float]) -> BenchResult:
    stats = LatencyStats(count=len(samples), mean_ms=sum(samples) / len(samples), std_ms=0.0,
                         min_ms=min(samples), max_ms=max(samples))
    return BenchResult(model=ModelInfo("m.tflite", "m", 1, "0"), runner=RunnerInfo("host"),
                       settings=Settings(1, "xnnpack", 0, len(samples)), inference=stats, samples_ms=samples,
                       requested_seq_len=requested, seq_len=requested)


def test_served_latency_hand_computed():
    """Three 5-token requests run at 16 (1 ms), one 20-token request at 32 (10 ms), one
    40-token request truncated to 32: weights 3/5 at 1 ms and 2/5 at 10 ms, so p50 = 1 and
    p90 = 10; the fixed-32 file pays 10 ms for all."""
    results = [_result(16, [1.0, 1.0, 1.0, 1.0]), _result(32, [10.0, 10.0])]
    t = served_latency("m", "test", [5, 5, 5, 20, 40], results)
    assert t.served == {"16": 3, "32": 2} and t.truncated == 1 and t.requests == 5
    assert (t.p50_ms, t.p90_ms) == (1.0, 10.0)
    assert (t.fixed_seq_len, t.fixed_p50_ms, t.fixed_p90_ms) == (32, 10.0, 10.0)
    assert t.p50_ratio == pytest.approx(0.1)
    assert (t.token_p50, t.token_p90) == (5.0, 32.0)
    # 60% at 1 ms: the 60th percentile is still 1 ms, the 61st is 10 ms
    t2 = served_latency("m", "test", [5, 5, 5, 20, 20], results)
    assert (t2.p50_ms, t2.p90_ms) == (1.0, 10.0)


def test_served_latency_refuses_no_rows():
    with pytest.raises(MbertError, match="has no rows"):
        served_latency("m", "empty.txt", [], [_result(16, [1.0])])


@pytest.fixture(scope="module")
def length_files(tmp_path_factory):
    """A nano classifier as a seq8/seq16 file and as a dynamic file."""
    import tensorflow as tf

    from converters import ExportOptions, convert
    from converters import data as data_mod
    from converters.export_model import build_export_model as build_stage_model
    from converters.lengths import LengthSpec
    from mbert_cli.config import resolve_config

    tf.keras.utils.set_random_seed(0)
    cfg = resolve_config("nano-student")
    model = build_stage_model(cfg, "finetune-classification")[1]
    data = data_mod.synthetic(16, cfg.encoder.vocab_size, 4, 4)
    out = tmp_path_factory.mktemp("lengths")
    paths = {}
    for name, spec in (("multi", LengthSpec((8, 16))), ("dyn", LengthSpec((16,), dynamic=True))):
        (f,) = convert(model, model_name=name, options=ExportOptions(seq_len=16, lengths=spec), data=data)
        paths[name] = out / f.file
        paths[name].write_bytes(f.content)
    return paths


def _loopback(argv, capsys):
    from android_harness.loopback import benchmark_model

    code = benchmark_model.main(["--num_runs=2", "--warmup_runs=1", "--min_secs=0", "--warmup_min_secs=0", *argv])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_loopback_benchmark_model_honours_shape_and_signature_flags(length_files, capsys, monkeypatch):
    from android_harness.loopback import benchmark_model

    seen = []
    real = benchmark_model._prepare

    def spy(interp, layers, shapes, signature):
        invoke = real(interp, layers, shapes, signature)
        seen.append({d["name"]: list(d["shape"]) for d in interp.get_input_details()} if not signature else
                    {n: list(d["shape"]) for n, d in interp.get_signature_runner(signature).get_input_details().items()})
        return invoke

    monkeypatch.setattr(benchmark_model, "_prepare", spy)
    names = "serving_default_input_word_ids:0,serving_default_input_type_ids:0,serving_default_input_mask:0"
    code, text = _loopback([f"--graph={length_files['dyn']}", f"--input_layer={names}",
                            "--input_layer_shape=1,12:1,12:1,12"], capsys)
    assert code == 0 and "Inference timings in us" in text and "Input shapes: [1,12:1,12:1,12]" in text
    assert set(map(tuple, seen[-1].values())) == {(1, 12)}
    code, text = _loopback([f"--graph={length_files['multi']}", "--signature_to_run_for=seq8"], capsys)
    assert code == 0 and "Signature to run: [seq8]" in text
    assert seen[-1]["input_word_ids"] == [1, 8]
    code, text = _loopback([f"--graph={length_files['multi']}", "--signature_to_run_for=seq99"], capsys)
    assert code == 1 and "Cannot find the signature key seq99 in the model." in text
    code, text = _loopback([f"--graph={length_files['dyn']}", "--input_layer=nope", "--input_layer_shape=1,4"], capsys)
    assert code == 1 and "Cannot find the corresponding input_layer name(nope)" in text


def test_device_flags_per_length(length_files):
    """What `mbert bench --device ... --seq-len` passes to benchmark_model for each file kind."""
    from benchmarks.device import _length_runs
    from benchmarks.model_file import describe_model

    multi, dyn = describe_model(length_files["multi"]), describe_model(length_files["dyn"])
    runs = _length_runs([multi, dyn], (4, 16))
    flags = [(t.requested, t.seq_len, f) for _m, t, f in runs]
    assert flags[0] == (4, 8, ["--signature_to_run_for=seq8"])
    assert flags[1] == (16, 16, ["--signature_to_run_for=seq16"])
    assert flags[2][2][1] == "--input_layer_shape=1,4:1,4:1,4" and flags[2][2][0].startswith("--input_layer=")
    assert flags[3][2][1] == "--input_layer_shape=1,16:1,16:1,16"


def test_host_coverage_is_the_measured_signatures(length_files):
    """LiteRT's Python API lists the nodes of subgraph 0 only; the runner measures a copy
    with the measured signature's subgraph moved first, so coverage is that signature's."""
    from benchmarks.host import HostSettings, _signature_first, run_host
    from mbert_cli.runtime import load_runtime

    rt = load_runtime()
    path = str(length_files["multi"])
    original = rt.interpreter(path, xnnpack=False)
    second = next(k for k in ("seq8", "seq16") if original._interpreter.GetSubgraphIndexFromSignature(k) != 0)
    moved = rt.interpreter(model_content=_signature_first(path, second, rt), xnnpack=False)
    assert moved._interpreter.GetSubgraphIndexFromSignature(second) == 0
    length = int(second[3:])
    assert [list(d["shape"]) for d in moved.get_input_details()] == [[1, length]] * 3
    assert _signature_first(path, "seq8" if second == "seq16" else "seq16", rt) is None  # already first

    results = run_host([path], HostSettings(runs=3, warmup=1, seq_lens=(8, 16)))
    assert [r.signature for r in results] == ["seq8", "seq16"]
    assert all(r.coverage.total_nodes and r.coverage.partitions for r in results)


@pytest.mark.slow
def test_bench_seq_len_on_the_loopback_device(length_files, tmp_path, monkeypatch):
    """`mbert bench --device pixel4 --seq-len` through the real adb client: each length runs
    benchmark_model with the bucket's signature (the loopback tool honours the flag)."""
    import shutil

    from typer.testing import CliRunner

    if shutil.which("adb") is None:
        pytest.skip("the adb client is not installed (apt-get install adb)")
    from android_harness.attach import loopback_adb, write_stand_in_binary
    from benchmarks.result import BenchReport
    from mbert_cli.cli.app import app

    monkeypatch.chdir(tmp_path)
    binary = write_stand_in_binary(tmp_path / "benchmark_model", abi="arm64-v8a")
    out = tmp_path / "r.json"
    with loopback_adb(1) as (adb, _serials):
        result = CliRunner().invoke(app, ["bench", str(length_files["multi"]), "--device", "pixel4",
                                          "--benchmark-binary", str(binary), "--seq-len", "4,16", "--runs", "3",
                                          "--warmup", "1", "--adb-port", str(adb.server_port), "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = BenchReport.from_json(out.read_text())
    assert [(r.requested_seq_len, r.signature) for r in report.results] == [(4, "seq8"), (16, "seq16")]
    assert all(r.runner.loopback for r in report.results)
    assert "--signature_to_run_for=seq8" in report.results[0].command
    assert "--signature_to_run_for=seq16" in report.results[1].command
