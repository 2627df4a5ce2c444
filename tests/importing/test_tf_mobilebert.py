"""google-research TF1 and tf-models TF2 MobileBERT checkpoints, written from random weights under the real names."""

import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from mbert_cli.cli.app import app
from tests.importing import checkpoints as ck
from tests.importing.numpy_reference import mobilebert_forward

runner = CliRunner()


def gr_name(hf: str, no_norm: bool) -> tuple[str, bool]:
    """HF name -> google-research TF1 name, inverting transformers' `load_tf_weights_in_mobilebert`
    (ffn_layer->ffn, FakeLayerNorm->LayerNorm, extra_output_weights->dense/kernel, bert->mobilebert,
    kernel/gamma->weight, output_bias/beta->bias, output_weights->weight, kernels transposed).
    Returns (name, transpose)."""
    special = {"cls.predictions.dense.weight": ("cls/predictions/extra_output_weights", True),
               "cls.predictions.bias": ("cls/predictions/output_bias", False),
               "cls.seq_relationship.weight": ("cls/seq_relationship/output_weights", False),
               "cls.seq_relationship.bias": ("cls/seq_relationship/output_bias", False)}
    if hf in special:
        return special[hf]
    name = hf.replace("mobilebert.", "bert.")
    name = re.sub(r"encoder\.layer\.(\d+)\.", r"encoder.layer_\1.", name)
    name = re.sub(r"\.ffn\.(\d+)\.", r".ffn_layer_\1.", name)
    if name.endswith("_embeddings.weight"):
        return name[: -len(".weight")].replace(".", "/"), False
    if ".LayerNorm." in name:
        norm = "FakeLayerNorm" if no_norm and not name.startswith("cls.") else "LayerNorm"
        name = name.replace(".LayerNorm.weight", f".{norm}.gamma").replace(".LayerNorm.bias", f".{norm}.beta")
        return name.replace(".", "/"), False
    if name.endswith(".weight"):
        return name[: -len(".weight")].replace(".", "/") + "/kernel", True
    return name.replace(".", "/"), False


def write_tf1(prefix, hf_weights: dict, no_norm: bool, extra: dict | None = None) -> None:
    import tensorflow as tf

    values = {}
    for k, v in hf_weights.items():
        name, transpose = gr_name(k, no_norm)
        values[name] = v.T.copy() if transpose else v
    values.update(extra or {})
    with tf.Graph().as_default():
        variables = {n: tf.compat.v1.Variable(v, name=n.replace("/", "_")) for n, v in values.items()}
        saver = tf.compat.v1.train.Saver(variables)
        with tf.compat.v1.Session() as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saver.save(sess, str(prefix), write_meta_graph=False)


def gr_config(cfg: dict) -> dict:
    """bert_config.json as google-research ships it (no model_type, no layer_norm_eps)."""
    drop = {"model_type", "architectures", "layer_norm_eps", "pad_token_id"}
    return {k: v for k, v in cfg.items() if k not in drop}


@pytest.fixture(scope="module")
def tf1_release(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gr")
    cfg = ck.TINY_MOBILEBERT
    weights = ck.random_weights(ck.mobilebert_shapes(cfg), seed=11)
    write_tf1(folder / "mobilebert_variables.ckpt", weights, no_norm=True,
              extra={"global_step": np.int64(1000),
                     "bert/encoder/layer_0/attention/self/query/kernel/adam_m": np.zeros((12, 12), np.float32)})
    (folder / "bert_config.json").write_text(json.dumps(gr_config(cfg)))
    ck.write_vocab(folder / "vocab.txt", cfg["vocab_size"])
    return folder, cfg, weights


def _check(run, cfg, weights):
    from mbert_cli.training.checkpoints import restore_for_inference

    _, model, _ = restore_for_inference(run, "student")
    ids, mask, types = ck.batch(cfg["vocab_size"])
    out = model({"input_word_ids": ids, "input_mask": mask, "input_type_ids": types,
                 "masked_lm_positions": np.zeros((3, 1), np.int32)}, training=False)
    plain = {k[len("mobilebert."):]: v for k, v in weights.items() if k.startswith("mobilebert.")}
    ref = mobilebert_forward(plain, cfg, ids, mask, types)
    diff = np.abs(out["sequence_output"].numpy() - ref)[mask.astype(bool)].max()
    assert diff < 1e-4, diff
    return model


def test_tf1_google_research_checkpoint(tmp_path, tf1_release):
    folder, cfg, weights = tf1_release
    result = runner.invoke(app, ["import", str(folder / "mobilebert_variables.ckpt"), "--run", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "run" / "import.json").read_text())
    assert report["format"] == "tf1" and report["heads"]["mlm"] == "mapped"
    assert report["dropped"]["global_step"] == "training step counter"
    assert report["dropped"]["bert/encoder/layer_0/attention/self/query/kernel/adam_m"] == "optimizer state"
    assert len(report["mapped"]) == len(weights) - 2
    model = _check(tmp_path / "run", cfg, weights)
    mlm = {v.name.split("masked_lm/")[-1]: v.numpy() for v in model.weights if "extra_output_weights" in v.name}
    np.testing.assert_array_equal(next(iter(mlm.values())), weights["cls.predictions.dense.weight"].T)


def test_tf1_missing_tensor_is_named(tmp_path):
    cfg = ck.TINY_MOBILEBERT
    weights = ck.random_weights(ck.mobilebert_shapes(cfg))
    del weights["mobilebert.encoder.layer.1.ffn.2.output.dense.weight"]
    write_tf1(tmp_path / "m.ckpt", weights, no_norm=True)
    (tmp_path / "bert_config.json").write_text(json.dumps(gr_config(cfg)))
    ck.write_vocab(tmp_path / "vocab.txt", cfg["vocab_size"])
    result = runner.invoke(app, ["import", str(tmp_path / "m.ckpt"), "--run", str(tmp_path / "runs" / "x")])
    assert result.exit_code == 1
    assert "transformer_layer_1/ffn_layer_2/output_dense/kernel" in result.stderr.splitlines()[0]
    assert not (tmp_path / "runs" / "x").exists()


_CONVERT_IN_A_FRESH_PROCESS = """
import json, sys
import tf_keras
from official.projects.mobilebert import model_utils
from official.projects.mobilebert import tf2_model_checkpoint_converter as conv
# tf-models-official 2.20's model_utils uses tf_keras without importing it (NameError).
model_utils.tf_keras = tf_keras
src, out, config = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
table = [("bert/", "")] + conv._NAME_REPLACEMENT[1:]
conv.convert(src, out, table, [], model_utils.BertConfig.from_dict(config), conv._EXCLUDE_PATTERNS)
"""


def test_tf2_checkpoint_written_by_tf_models_converter(tmp_path, tf1_release):
    """The TF2 checkpoint is made by tf-models' own tf2_model_checkpoint_converter.convert() from the TF1 one.

    convert() restores by layer name, so it runs in a fresh process: in one that already built
    other MobileBERT models, Keras numbers the layer names (mobile_bert_embedding_52) and the
    restore misses them.
    """
    import subprocess
    import sys

    folder, cfg, weights = tf1_release
    clean = tmp_path / "gr"
    clean.mkdir()
    write_tf1(clean / "model.ckpt", weights, no_norm=True)
    out = tmp_path / "tf2"
    done = subprocess.run([sys.executable, "-c", _CONVERT_IN_A_FRESH_PROCESS, str(clean / "model.ckpt"),
                           str(out / "mobilebert"), json.dumps(gr_config(cfg))],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    (out / "bert_config.json").write_text(json.dumps(gr_config(cfg)))
    ck.write_vocab(out / "vocab.txt", cfg["vocab_size"])
    result = runner.invoke(app, ["import", str(out), "--run", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "run" / "import.json").read_text())
    assert report["format"] == "tf2" and report["heads"]["mlm"] == "mapped"
    _check(tmp_path / "run", cfg, weights)
