"""Round trip of a nano classifier run through every mode: files, signature, ops, parity, manifest."""

from __future__ import annotations

import json

import numpy as np
import pytest
from export_helpers import SEQ, labelled_data, make_run

MODES = ("none", "dynamic", "int8", "float16")
FLIPPED = 3  # held-out rows whose label is the opposite of the float model's prediction


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    import dataclasses

    from converters import ExportOptions, export_run

    run = tmp_path_factory.mktemp("runs") / "s"
    cfg, model = make_run(run)
    data = labelled_data(model, cfg)
    # Self-labelled rows keep the int8 gate real (a file's errors are its disagreements with
    # TensorFlow); a few flipped labels make TensorFlow's accuracy a known value below 100,
    # so the metric is checked against the labels, not against the model's own outputs.
    labels = data.labels.copy()
    labels[:FLIPPED] = 1 - labels[:FLIPPED]
    data = dataclasses.replace(data, labels=labels)
    lines: list[str] = []
    # The plain file (float mask, logits); app-ready files are tested in test_app_metadata.py.
    report = export_run(run, options=ExportOptions(modes=MODES, seq_len=SEQ, representative=24),
                        data=data, progress=lines.append, app=False)
    return run, report, lines, data


def test_one_file_per_mode_named_by_variant(exported):
    run, report, *_ = exported
    names = sorted(p.name for p in (run / "export").glob("*.tflite"))
    assert names == sorted(f"finetune-classification_{m}_seq{SEQ}.tflite" for m in MODES)
    assert not list((run / "export").glob(".*tmp"))


@pytest.mark.parametrize("mode", MODES)
def test_loads_by_signature_name_and_matches_tf(exported, mode):
    from converters.verify import load_signature
    from mbert_cli.runtime import load_runtime

    _, report, _, data = exported
    f = next(f for f in report.files if f.mode == mode)
    interp = load_runtime().interpreter(model_path=str(report.out_dir / f.file))
    assert list(interp.get_signature_list()) == ["serving_default"]
    _, info = load_signature(f.content, "serving_default")
    assert info.inputs == {"input_mask": {"dtype": "float32", "shape": [1, SEQ]},
                           "input_type_ids": {"dtype": "int32", "shape": [1, SEQ]},
                           "input_word_ids": {"dtype": "int32", "shape": [1, SEQ]}}
    assert info.outputs == {"logits": {"dtype": "float32", "shape": [1, 2]}}
    p = f.parity
    if mode == "none":
        assert p["max_abs_diff"] <= 1e-4
    else:
        assert p["cosine"] >= {"dynamic": 0.98, "float16": 0.999, "int8": 0.95}[mode]
        assert p["top1_agreement"] >= 0.9
    held = len(data.labels)
    assert f.task_metric["tensorflow"] == pytest.approx(100.0 * (held - FLIPPED) / held)
    runner = interp.get_signature_runner("serving_default")
    predicted = [int(np.argmax(runner(**{k: v[i:i + 1] for k, v in data.heldout.items()})["logits"]))
                 for i in range(held)]
    assert f.task_metric["tflite"] == pytest.approx(100.0 * np.mean(np.asarray(predicted) == data.labels))
    assert f.task_metric["drop"] == pytest.approx(f.task_metric["tensorflow"] - f.task_metric["tflite"])
    assert f.task_metric["drop"] <= 1.0 or mode == "none"


def test_builtin_ops_only_and_no_cast(exported):
    _, report, *_ = exported
    for f in report.files:
        assert f.non_builtin_ops == []
        assert "CAST" not in f.ops  # float mask: no Cast in front of the attention
        assert f.ops.get("FULLY_CONNECTED", 0) > 0


def test_int8_keeps_only_attention_in_float(exported):
    """Default int8: dense layers int8; per attention, scores/probabilities in float (a
    QUANTIZE/DEQUANTIZE pair around each attention matmul), which XNNPACK runs fast."""
    from converters.converter import ExportOptions

    _, report, *_ = exported
    assert ExportOptions().int8_float_attention
    f = next(f for f in report.files if f.mode == "int8")
    layers = f.ops["SOFTMAX"]
    assert f.ops.get("QUANTIZE", 0) <= 2 * layers + 1 and f.ops.get("DEQUANTIZE", 0) <= 4 * layers + 2
    assert f.ops.get("QUANTIZE", 0) > 2  # attention really stays float


def test_manifest_fields_present_and_true(exported):
    from mbert_cli.io_utils import sha256_file

    run, report, *_ = exported
    m = json.loads((run / "export" / "manifest.json").read_text())
    assert m["source"]["preset"] == "nano-student"
    assert m["source"]["stage"] == "finetune-classification"
    assert m["source"]["step"] == 1 and m["source"]["checkpoint"].endswith("ckpt-1")
    assert m["versions"]["tensorflow"] and m["versions"]["runtime"].startswith("ai-edge-litert")
    assert "commit" in m["git"]
    assert m["mask_clip"] == -120.0
    assert {e["mode"] for e in m["files"]} == set(MODES)
    for e in m["files"]:
        path = run / "export" / e["file"]
        assert e["sha256"] == sha256_file(path)
        assert e["size_bytes"] == path.stat().st_size
        assert e["seq_len"] == SEQ
        assert e["signature"]["key"] == "serving_default"
        assert e["ops"] and e["parity"]["examples"] == 24
        assert e["task_metric"]["name"] == "accuracy"
        assert e["source"]["run"] == m["source"]["run"]


def test_sizes_shrink_with_quantization(exported):
    _, report, *_ = exported
    size = {f.mode: f.size_bytes for f in report.files}
    assert size["dynamic"] < size["float16"] < size["none"]
    assert size["int8"] < size["float16"]


def test_reexport_keeps_other_entries(exported, tmp_path):
    """A second export into the same folder replaces its own entries and keeps the rest."""
    from converters.manifest import read_manifest, write_manifest

    run, report, *_ = exported
    before = read_manifest(run / "export")
    write_manifest(run / "export", {"source": before["source"]}, [before["files"][0]])
    after = read_manifest(run / "export")
    assert [e["file"] for e in after["files"]] == [e["file"] for e in before["files"]]
    np.testing.assert_equal(len(after["files"]), 4)
