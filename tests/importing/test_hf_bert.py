"""HF BERT-family safetensors (`bert.`-prefixed BertForPreTraining, with MLM head) -> BertEncoderV2, and bad input."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from mbert_cli.cli.app import app
from tests.importing import checkpoints as ck
from tests.importing.numpy_reference import bert_forward, gelu, layer_norm

runner = CliRunner()


def _import(src, run, *extra):
    return runner.invoke(app, ["import", str(src), "--run", str(run), *extra])


def test_prefixed_bert_with_mlm_head_matches_numpy(tmp_path):
    from mbert_cli.training.checkpoints import restore_for_inference

    weights = ck.random_weights(ck.bert_shapes(ck.TINY_BERT), seed=3)
    src = ck.write_hf(tmp_path / "hf", ck.TINY_BERT, weights)
    result = _import(src, tmp_path / "run")
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "run" / "import.json").read_text())
    assert report["heads"]["mlm"] == "mapped" and report["heads"]["nsp"].startswith("dropped")
    assert set(report["dropped"]) == {"cls.seq_relationship.weight", "cls.seq_relationship.bias"}
    assert "source names carry the 'bert.' prefix (stripped)" in report["notes"]

    cfg, model, _ = restore_for_inference(tmp_path / "run", "teacher")
    ids, mask, types = ck.batch(ck.TINY_BERT["vocab_size"])
    positions = np.array([[1, 3], [2, 5], [1, 2]], np.int32)
    out = model({"input_word_ids": ids, "input_mask": mask, "input_type_ids": types,
                 "masked_lm_positions": positions}, training=False)
    plain = {k[len("bert."):]: v for k, v in weights.items() if k.startswith("bert.")}
    ref = bert_forward(plain, ck.TINY_BERT, ids, mask, types)
    assert np.abs(out["sequence_output"].numpy() - ref)[mask.astype(bool)].max() < 1e-4
    # MLM head as transformers' BertLMPredictionHead: dense -> gelu -> LayerNorm -> tied decoder + bias.
    w = {k: v.astype(np.float64) for k, v in weights.items()}
    h = np.take_along_axis(ref, positions[..., None], 1)
    t = layer_norm(gelu(h @ w["cls.predictions.transform.dense.weight"].T + w["cls.predictions.transform.dense.bias"]),
                   w["cls.predictions.transform.LayerNorm.weight"], w["cls.predictions.transform.LayerNorm.bias"])
    logits = t @ w["bert.embeddings.word_embeddings.weight"].T + w["cls.predictions.bias"]
    assert np.abs(out["mlm_logits"].numpy().reshape(logits.shape) - logits).max() < 1e-4
    assert cfg.encoder.classifier_pooling == "cls" and cfg.encoder.max_sequence_length == 16


def _bad(tmp_path, src, expect: str, *extra):
    run = tmp_path / "runs" / "bad"
    result = _import(src, run, *extra)
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.exit_code == 1, result.output
    assert lines and lines[0].startswith("Error: ") and expect in lines[0], result.output
    assert len(lines) == 2 and lines[1].startswith("Hint: "), result.output
    assert "Traceback" not in result.output
    assert not run.exists(), "a failed import must leave nothing under the run folder"
    if run.parent.exists():
        assert list(run.parent.iterdir()) == [], "no temporary folder may be left behind"


def _tiny(tmp_path, config=None, weights=None, vocab_size=None, prefix="bert."):
    config = dict(ck.TINY_BERT, **(config or {}))
    if weights is None:
        weights = ck.random_weights(ck.bert_shapes(ck.TINY_BERT, prefix=prefix))
    return ck.write_hf(tmp_path / "hf", config, weights, vocab_size)


def test_truncated_safetensors(tmp_path):
    src = _tiny(tmp_path)
    data = (src / "model.safetensors").read_bytes()
    (src / "model.safetensors").write_bytes(data[: len(data) // 2])
    _bad(tmp_path, src, "cannot read")


def test_corrupt_safetensors_header(tmp_path):
    src = _tiny(tmp_path)
    data = bytearray((src / "model.safetensors").read_bytes())
    data[8:40] = b"\xff" * 32
    (src / "model.safetensors").write_bytes(bytes(data))
    _bad(tmp_path, src, "cannot read")


def test_other_architecture(tmp_path):
    vit = {"vit.embeddings.patch_embeddings.projection.weight": np.zeros((8, 3, 4, 4), np.float32),
           "vit.encoder.layer.0.attention.attention.query.weight": np.zeros((8, 8), np.float32)}
    src = _tiny(tmp_path, config={"model_type": "vit"}, weights=vit)
    _bad(tmp_path, src, "is not a BERT or MobileBERT checkpoint")


def test_config_of_another_model_type(tmp_path):
    _bad(tmp_path, _tiny(tmp_path, config={"model_type": "roberta"}), "model_type 'roberta'")


def test_missing_tensor(tmp_path):
    w = ck.random_weights(ck.bert_shapes(ck.TINY_BERT))
    del w["bert.encoder.layer.1.output.dense.weight"]
    _bad(tmp_path, _tiny(tmp_path, weights=w), "'encoder.layer.1.output.dense.weight' is missing")


def test_extra_tensor(tmp_path):
    w = ck.random_weights(ck.bert_shapes(ck.TINY_BERT))
    w["bert.encoder.layer.2.output.dense.weight"] = np.zeros((16, 24), np.float32)
    _bad(tmp_path, _tiny(tmp_path, weights=w), "unexpected tensor 'encoder.layer.2.output.dense.weight'")


def test_shape_does_not_match_config(tmp_path):
    _bad(tmp_path, _tiny(tmp_path, config={"intermediate_size": 32}),
         "'encoder.layer.0.intermediate.dense.weight' has shape (24, 16)")


def test_vocab_size_differs_from_embedding(tmp_path):
    _bad(tmp_path, _tiny(tmp_path, vocab_size=39), "has 39 tokens but embeddings.word_embeddings.weight has 40 rows")


def test_embedding_rows_differ_from_config(tmp_path):
    _bad(tmp_path, _tiny(tmp_path, config={"vocab_size": 50}), "config.json vocab_size is 50")


@pytest.mark.parametrize("field,value,expect", [
    ("hidden_act", "swish", "hidden_act 'swish'"),
    ("hidden_act", "gelu_new", "hidden_act 'gelu_new'"),
    ("layer_norm_eps", 1e-5, "layer_norm_eps 1e-05"),
    ("position_embedding_type", "relative_key", "position_embedding_type 'relative_key'"),
])
def test_unsupported_config_field(tmp_path, field, value, expect):
    _bad(tmp_path, _tiny(tmp_path, config={field: value}), expect)


def test_unknown_norm_in_mobilebert_config(tmp_path):
    cfg = dict(ck.TINY_MOBILEBERT, normalization_type="batch_norm")
    src = ck.write_hf(tmp_path / "hf", cfg, ck.random_weights(ck.mobilebert_shapes(ck.TINY_MOBILEBERT)))
    _bad(tmp_path, src, "normalization_type 'batch_norm'")


def test_existing_run_is_refused(tmp_path):
    run = tmp_path / "runs" / "bad"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text("preset: nano-student\n")
    result = _import(_tiny(tmp_path), run)
    assert result.exit_code == 1 and "already exists" in result.stderr
    assert (run / "config.yaml").read_text() == "preset: nano-student\n"


def test_no_checkpoint_at_source(tmp_path):
    _bad(tmp_path, tmp_path / "nowhere", "no checkpoint at")


def test_format_that_does_not_fit(tmp_path):
    _bad(tmp_path, _tiny(tmp_path), "is a safetensors file, not a tf2 checkpoint", "--format", "tf2")


def test_unknown_format_is_a_usage_error_listing_the_formats(tmp_path):
    result = runner.invoke(app, ["import", str(_tiny(tmp_path)), "--run", str(tmp_path / "run"), "--format", "onnx"],
                           env={"COLUMNS": "200"})
    assert result.exit_code == 2 and "'onnx' is not one of 'auto', 'hf', 'tf1', 'tf2'" in result.output
    assert not (tmp_path / "run").exists()


def test_imported_bert_teacher_stage_exports_its_encoder(tmp_path):
    """`mbert export` of a fresh import (stage teacher, a BertEncoderV2) writes the encoder's
    sequence output, equal to the numpy reference (export once found only MobileBERT encoders)."""
    from ai_edge_litert.interpreter import Interpreter

    weights = ck.random_weights(ck.bert_shapes(ck.TINY_BERT), seed=5)
    assert _import(ck.write_hf(tmp_path / "hf", ck.TINY_BERT, weights), tmp_path / "run").exit_code == 0
    result = runner.invoke(app, ["export", "--run", str(tmp_path / "run"), "--quantize", "none", "--seq-len", "10",
                                 "--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    (tflite,) = (tmp_path / "out").glob("*.tflite")
    ids, mask, types = ck.batch(ck.TINY_BERT["vocab_size"])
    run = Interpreter(model_path=str(tflite)).get_signature_runner("serving_default")
    out = run(input_word_ids=ids[:1], input_type_ids=types[:1], input_mask=mask[:1].astype(np.float32))
    plain = {k[len("bert."):]: v for k, v in weights.items() if k.startswith("bert.")}
    ref = bert_forward(plain, ck.TINY_BERT, ids[:1], mask[:1], types[:1])
    assert np.abs(out["sequence_output"] - ref)[mask[:1].astype(bool)].max() < 1e-4
