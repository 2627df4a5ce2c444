"""int8 mixed precision: the per-layer diagnosis and the accuracy-driven search (litert-quantizer).

A nano student gets outlier activations planted on purpose: two output channels of the last
encoder layer's FFN output dense scaled up, so one per-tensor int8 scale must cover values
far larger than the rest (the BERT outlier problem in miniature). The diagnosis must rank
that layer first; with a zero-point gate full int8 fails and the search must find a file
that passes and record its recipe; a file that passes as converted is left alone.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parent))
from export_helpers import SEQ, labelled_data, make_run
from export_helpers import one_error_line as _error

from converters import mixed_precision, quant_diagnosis
from converters.converter import ExportOptions, convert
from converters.mixed_precision import SearchBudget
from converters.verify import ParityThresholds, load_signature, run_tflite
from mbert_cli.errors import MbertError

PLANTED_LAYER = 3  # nano-student has layers 0..3
OUTLIER_SCALE = 300.0


def plant_outliers(model, layer: int = PLANTED_LAYER, scale: float = OUTLIER_SCALE) -> list[str]:
    """Scales two output channels of `layer`'s FFN output dense kernels: outlier activations there."""
    hit = [w for w in model.weights if f"transformer_layer_{layer}/" in w.name and "output_dense/kernel" in w.name]
    for w in hit:
        v = w.numpy()
        v[..., :2] *= scale
        w.assign(v)
    return [w.name for w in hit]


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    cfg, model = make_run(tmp_path_factory.mktemp("mp") / "run")
    assert plant_outliers(model)
    return model, labelled_data(model, cfg, n_rep=24, n_held=48)


def _opts(**kw) -> ExportOptions:
    return ExportOptions(seq_len=SEQ, representative=24, **kw)


@pytest.fixture(scope="module")
def explained(planted):
    """One export of the planted model (float32 + int8, --explain) whose int8 passes: the search must not run."""
    model, data = planted
    lines: list[str] = []
    original = mixed_precision.search

    def no_search(*_a, **_k):
        raise AssertionError("the search ran on a file that passes the gate")

    mixed_precision.search = no_search
    try:
        files = convert(model, model_name="m", data=data, progress=lines.append,
                        options=_opts(modes=("none", "int8"), max_drop=100.0, explain=True))
    finally:
        mixed_precision.search = original
    return files, lines


def test_explain_ranks_the_planted_layer_first_and_a_passing_int8_is_untouched(explained):
    files, lines = explained
    int8 = next(f for f in files if f.mode == "int8")
    assert int8.mixed_precision is None and not int8.gate_failures
    # The converter's own int8 file (TF converter), not a library build: its float attention ops are there.
    assert int8.ops.get("SOFTMAX") and int8.ops.get("FULLY_CONNECTED")
    rows = int8.diagnosis
    assert rows and rows == sorted(rows, key=lambda r: r["snr_db"])
    encoder = [r for r in rows if r["layer"] is not None]
    assert encoder[0]["layer"] == PLANTED_LAYER, encoder[:3]
    assert any("per-layer quantization error" in ln for ln in lines)
    assert files[0].diagnosis is None  # float32 has nothing to explain


def test_search_finds_a_passing_mixed_file_and_records_its_recipe(planted):
    model, data = planted
    lines: list[str] = []
    # max_drop 0 on self-labelled rows: a file passes only if it agrees with the float model on every row.
    opts = _opts(modes=("int8",), max_drop=0.0, search=SearchBudget(candidates=16))
    files = convert(model, model_name="m", data=data, progress=lines.append, options=opts)
    f = files[0]
    mp = f.mixed_precision
    assert mp is not None, "full int8 passed: the planted outliers no longer break it"
    assert f.file == "m_int8_seq32.tflite"
    assert not f.gate_failures and f.task_metric["drop"] <= 0.0
    assert mp["reference_int8"]["gate_failures"]  # the converter's int8 file failed
    assert mp["chosen"] and mp["recipe"], mp
    assert {o["precision"] for o in mp["recipe"]} <= {"int16", "float"}
    assert all(o["tensors"] for o in mp["recipe"])
    passing = [c for c in mp["candidates"] if c["passes"]]
    assert mp["chosen"] in {c["name"] for c in passing}
    assert min(c["p50_ms"] for c in passing) == next(c["p50_ms"] for c in passing if c["name"] == mp["chosen"])
    assert not mp["candidates"][0]["recipe"]  # the library's full int8 first
    assert mp["search_s"] >= 0 and len(mp["candidates"]) <= 16
    # The kept bytes are what was scored: rerun them here.
    runner, _info = load_signature(f.content, "serving_default")
    out = run_tflite(runner, data.heldout)
    assert np.mean(np.argmax(out["logits"], -1) == data.labels) == 1.0
    assert f.manifest_entry()["mixed_precision"]["recipe"] == mp["recipe"]
    assert any(ln.startswith("kept ") for ln in lines)


def test_search_that_finds_nothing_fails_with_the_table(planted, explained):
    from converters import quantize
    from converters.converter import _checks, verify_bytes
    from converters.signatures import build_serving_functions

    model, data = planted
    float_model = explained[0][0].content
    # Cosine 1.0 to TensorFlow cannot be reached by a quantized file; two candidates allowed.
    opts = _opts(modes=("int8",), max_drop=0.0, search=SearchBudget(candidates=2),
                 thresholds=ParityThresholds(int8_min_cosine=1.0))
    spec = opts.length_spec()
    serving = build_serving_functions(model, spec.signature_keys(), max_len=spec.max_len)
    checks = _checks(serving, spec, data)
    cache: dict = {}
    calibration = quant_diagnosis.calibrate(float_model, quant_diagnosis.calibration_rows(serving, data, 24))
    cache["calibration"] = calibration
    base = quant_diagnosis.library_build(float_model, quantize.library_int8_recipe(
        quantize.mask_add_nodes(float_model)), calibration)
    failed = verify_bytes(base, "int8", "m", replace(opts, force=True), data, checks[-1].reference,
                          checks[-1].float_metric, lambda _m: None, checks=checks)
    assert failed.gate_failures
    lines: list[str] = []
    with pytest.raises(MbertError, match="2 candidate.*none passed"):
        mixed_precision.search(float_model, serving, data, opts, checks, "m", failed, lines.append, cache,
                               verify=verify_bytes)
    assert any("per-layer quantization error" in ln for ln in lines)


@pytest.mark.parametrize("text, expected", [("300", SearchBudget(300.0, None)), ("45s", SearchBudget(45.0, None)),
                                            ("8c", SearchBudget(None, 8)), (None, SearchBudget())])
def test_budget_parses(text, expected):
    assert SearchBudget.parse(text) == expected


@pytest.mark.parametrize("text", ["0", "-5", "0c", "-1c", "fast", "2.5c"])
def test_budget_refuses_bad_values(text):
    with pytest.raises(MbertError):
        SearchBudget.parse(text)


@pytest.mark.parametrize("name, layer, part", [
    ("classifier_model/encoder/transformer_layer_2/ffn_layer_1/output_dense/einsum/Einsum", 2, "ffn_out"),
    ("classifier_model/encoder/transformer_layer_0/ffn_layer_1/intermediate_dense/Relu", 0, "ffn_in"),
    ("classifier_model/encoder/transformer_layer_1/attention/attention_output/einsum/Einsum1", 1, "attention_output"),
    ("classifier_model/encoder/transformer_layer_3/attention/einsum/Einsum", 3, "attention"),
    ("classifier_model/encoder/transformer_layer_3/attention/norm/moments/mean", 3, "norm"),
    ("model/transformer/layer_4/self_attention_layer_norm/batchnorm/add_1", 4, "norm"),
    ("model/transformer/layer_4/intermediate/einsum/Einsum", 4, "ffn_in"),
    ("model/transformer/layer_4/output/einsum/Einsum", 4, "ffn_out"),
    ("classifier_model/encoder/embeddings/word_embeddings/Gather", None, "embedding"),
    ("classifier_model/masked_mean_pooling/truediv", None, "head"),
])
def test_tensor_names_map_to_layers_and_parts(name, layer, part):
    assert quant_diagnosis.layer_of(name) == layer
    assert quant_diagnosis.part_of(name) == part


# --- command line: bad input is one line, exit 1, nothing written -----------------------------

cli = CliRunner()


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    run = tmp_path_factory.mktemp("mp-cli") / "s"
    make_run(run)
    return run


@pytest.mark.parametrize("args, needle", [
    (["--quantize", "int8", "--search-budget", "0"], "--search-budget must be positive"),
    (["--quantize", "int8", "--search-budget", "-3c"], "--search-budget must be positive"),
    (["--quantize", "none", "--explain"], "--explain needs a quantized mode"),
])
def test_cli_bad_search_and_explain_inputs(run_dir, tmp_path, args, needle):
    from mbert_cli.cli.app import app

    out = tmp_path / "out"
    result = cli.invoke(app, ["export", "--run", str(run_dir), "--out", str(out), "--seq-len", "32", *args])
    assert needle in _error(result)
    assert not out.exists()


def test_diagnosis_file_round_trips(tmp_path):
    rows = [quant_diagnosis.TensorError("a/transformer_layer_1/x", 1, "ffn_out", 3.0, 0.7)]
    path = quant_diagnosis.write(tmp_path, {"int8": rows})
    assert json.loads(path.read_text())["int8"][0]["group"] == "layer 1 ffn_out"


def test_cli_explain_prints_and_writes_the_table(run_dir, tmp_path):
    from mbert_cli.cli.app import app

    out = tmp_path / "out"
    result = cli.invoke(app, ["export", "--run", str(run_dir), "--out", str(out), "--seq-len", "32", "--quantize",
                              "dynamic", "--explain", "--representative", "8", "--metric-examples", "16",
                              "--max-drop", "100"])
    assert result.exit_code == 0, result.output
    assert "dynamic: per-layer quantization error" in result.stdout
    table = json.loads((out / quant_diagnosis.DIAGNOSIS_NAME).read_text())
    assert list(table) == ["dynamic"] and table["dynamic"]
    assert {"tensor", "layer", "part", "snr_db", "rel_rmse", "group"} <= set(table["dynamic"][0])
    manifest = json.loads((out / "manifest.json").read_text())
    assert "diagnosis" not in manifest["files"][0]


def test_int16_is_dropped_once_it_fails_slower_than_its_float_twin():
    from converters.mixed_precision import Candidate, int16_loses

    def cand(name, passes, p50):
        return Candidate(name=name, overrides=[], passes=passes, gate_failures=[], metric=None, cosine=None,
                         p50_ms=p50, size_bytes=0, build_s=0.0)

    assert not int16_loses([cand("int8-library", False, 24.0)])
    assert not int16_loses([cand("worst1-int16", False, 40.0)])  # no float twin measured yet
    assert int16_loses([cand("worst1-int16", False, 40.0), cand("worst1-float", False, 19.0)])
    # int16 faster than float (a CPU with int16 kernels): keep trying it
    assert not int16_loses([cand("worst1-int16", False, 15.0), cand("worst1-float", False, 19.0)])
    # a passing int16 file is the search's answer at that level, not a reason to stop trying int16
    assert not int16_loses([cand("worst1-int16", True, 40.0), cand("worst1-float", True, 19.0)])


def test_plan_never_offers_the_float_model_as_int8():
    from converters.mixed_precision import _plan

    groups = [(f"g{i}", [f"t{i}"]) for i in range(5)]
    names = [name for name, _overrides in _plan(groups)]
    assert names == ["worst1-int16", "worst1-float", "worst2-int16", "worst2-float", "worst4-int16", "worst4-float",
                     "worst5-int16"]
