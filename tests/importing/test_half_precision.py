"""bfloat16 / float16 safetensors (how many published checkpoints ship) import as their exact float32 values."""

import json
import subprocess
import sys

import ml_dtypes
import numpy as np
import pytest
from typer.testing import CliRunner

from mbert_cli.cli.app import app
from tests.importing import checkpoints as ck
from tests.importing.numpy_reference import bert_forward

runner = CliRunner()
HALF = {"bfloat16": ml_dtypes.bfloat16, "float16": np.float16}


def _half_checkpoints(tmp_path, dtype):
    """The same weights rounded to `dtype`: stored as `dtype` (+ the int64 position_ids buffer HF files carry),
    and stored as the float32 values of the rounded weights."""
    weights = ck.random_weights(ck.bert_shapes(ck.TINY_BERT), seed=11)
    rounded = {k: v.astype(HALF[dtype]).astype(np.float32) for k, v in weights.items()}
    assert any(not np.array_equal(rounded[k], weights[k]) for k in weights), "rounding must change the values"
    half = {k: v.astype(HALF[dtype]) for k, v in weights.items()}
    half["bert.embeddings.position_ids"] = np.arange(ck.TINY_BERT["max_position_embeddings"])[None].astype(np.int64)
    return rounded, ck.write_hf(tmp_path / "half", ck.TINY_BERT, half), ck.write_hf(tmp_path / "f32", ck.TINY_BERT, rounded)


def _model_outputs(run):
    from mbert_cli.training.checkpoints import restore_for_inference

    _, model, _ = restore_for_inference(run, "teacher")
    ids, mask, types = ck.batch(ck.TINY_BERT["vocab_size"])
    out = model({"input_word_ids": ids, "input_mask": mask, "input_type_ids": types,
                 "masked_lm_positions": np.array([[1, 3], [2, 5], [1, 2]], np.int32)}, training=False)
    weights = {v.name: v.numpy() for v in model.weights}
    return weights, {k: out[k].numpy() for k in ("sequence_output", "mlm_logits")}, (ids, mask, types)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_import_equals_float32_of_rounded_weights(tmp_path, dtype):
    rounded, half_src, f32_src = _half_checkpoints(tmp_path, dtype)
    for src, run in ((half_src, "run_half"), (f32_src, "run_f32")):
        result = runner.invoke(app, ["import", str(src), "--run", str(tmp_path / run)])
        assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "run_half" / "import.json").read_text())
    n = len(rounded)
    assert report["source_dtypes"] == {dtype: n}
    assert any(note.startswith(f"read {n} {dtype} tensors and cast them to float32") for note in report["notes"])
    assert report["dropped"]["embeddings.position_ids"].startswith("buffer")
    assert json.loads((tmp_path / "run_f32" / "import.json").read_text())["source_dtypes"] == {"float32": n}

    half_w, half_out, (ids, mask, types) = _model_outputs(tmp_path / "run_half")
    f32_w, f32_out, _ = _model_outputs(tmp_path / "run_f32")
    # Imported weights are exactly the rounded values (the embedding table checked directly, every
    # mapped weight through the float32 import of the same values).
    table = next(v for k, v in half_w.items() if "word_embeddings" in k)
    assert np.array_equal(table, rounded["bert.embeddings.word_embeddings.weight"])
    mapped = [k for k in half_w if "next_sentence" not in k and "nsp" not in k]
    assert len(mapped) > 30
    for k in mapped:
        assert np.array_equal(half_w[k], f32_w[k]), k
    for k in half_out:
        assert np.array_equal(half_out[k], f32_out[k]), k
    plain = {k[len("bert."):]: v for k, v in rounded.items() if k.startswith("bert.")}
    ref = bert_forward(plain, ck.TINY_BERT, ids, mask, types)
    assert np.abs(half_out["sequence_output"] - ref)[mask.astype(bool)].max() < 1e-4


def test_bfloat16_is_read_without_tensorflow_loaded(tmp_path):
    """The in-process tests above run after TensorFlow (which imports ml_dtypes) is loaded; `mbert import`
    reads the file before TensorFlow is imported, so the reader must make bfloat16 readable itself."""
    from safetensors.numpy import save_file

    value = np.array([[1.0, -2.5], [0.1, 3e-3]], np.float32)
    save_file({"w": value.astype(ml_dtypes.bfloat16)}, str(tmp_path / "w.safetensors"))
    code = ("import sys; from mbert_cli.importing.sources import read_safetensors, to_float32; "
            f"t = read_safetensors({str(tmp_path / 'w.safetensors')!r}); assert 'tensorflow' not in sys.modules; "
            "print(to_float32(t)); print(t['w'].dtype, t['w'].ravel().tolist())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    expect = value.astype(ml_dtypes.bfloat16).astype(np.float32).ravel().tolist()
    assert out.stdout.splitlines() == ["{'bfloat16': 1}", f"float32 {expect}"]


def _bad(tmp_path, src, expect):
    run = tmp_path / "runs" / "bad"
    result = runner.invoke(app, ["import", str(src), "--run", str(run)])
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.exit_code == 1, result.output
    assert len(lines) == 2 and lines[0].startswith("Error: ") and expect in lines[0], result.output
    assert lines[1].startswith("Hint: ") and "Traceback" not in result.output
    assert not run.exists()


def test_truncated_bfloat16_file(tmp_path):
    _, src, _ = _half_checkpoints(tmp_path, "bfloat16")
    data = (src / "model.safetensors").read_bytes()
    (src / "model.safetensors").write_bytes(data[: len(data) - 100])
    _bad(tmp_path, src, "cannot read")


def test_corrupt_bfloat16_header(tmp_path):
    _, src, _ = _half_checkpoints(tmp_path, "bfloat16")
    data = bytearray((src / "model.safetensors").read_bytes())
    data[8:40] = b"\xff" * 32
    (src / "model.safetensors").write_bytes(bytes(data))
    _bad(tmp_path, src, "cannot read")


def test_integer_weight_is_refused(tmp_path):
    weights = ck.random_weights(ck.bert_shapes(ck.TINY_BERT))
    weights["bert.pooler.dense.weight"] = (weights["bert.pooler.dense.weight"] * 100).astype(np.int8)
    _bad(tmp_path, ck.write_hf(tmp_path / "hf", ck.TINY_BERT, weights), "'pooler.dense.weight' in model.safetensors is stored as int8")
