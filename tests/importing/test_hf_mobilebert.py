"""HF MobileBERT safetensors (google/mobilebert-uncased layout) -> MobileBERTEncoder, and the HF round trip."""

import json

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

from mbert_cli.cli.app import app
from tests.importing import checkpoints as ck
from tests.importing.numpy_reference import ACT, layer_norm, mobilebert_forward

runner = CliRunner()
INPUTS = ("input_word_ids", "input_mask", "input_type_ids")


def test_published_key_list_is_what_the_importer_reads():
    """google/mobilebert-uncased (MobileBertForPreTraining, 24 layers, 4 FFNs, shared key/query
    bottleneck, no pooler dense): 7 embedding + 24 x 46 layer + 8 head tensors = 1119, the list
    `checkpoints.mobilebert_shapes` writes from transformers' module tree (tied decoder.weight
    omitted as safetensors omits shared tensors)."""
    from mbert_cli.importing import configs, hf_mobilebert

    published = ck.mobilebert_shapes(ck.MOBILEBERT_UNCASED)
    assert len(published) == 1119
    enc = configs.mobilebert_encoder_config(ck.MOBILEBERT_UNCASED, "config.json")
    read = {hf_mobilebert.PREFIX + e.source for e in hf_mobilebert.encoder_entries(enc)}
    read |= {e.source for e in hf_mobilebert.MLM_ENTRIES}
    dropped = {k for k in published if k.startswith("cls.seq_relationship.")}
    assert read | dropped == set(published)
    assert enc.num_layers == 24 and enc.num_feedforward_networks == 4 and not enc.classifier_activation


def _outputs(run, stage, ids, mask, types, positions):
    from mbert_cli.training.checkpoints import restore_for_inference

    _, model, _ = restore_for_inference(run, stage)
    out = model({"input_word_ids": ids, "input_mask": mask, "input_type_ids": types,
                 "masked_lm_positions": positions}, training=False)
    return {k: out[k].numpy() for k in ("sequence_output", "mlm_logits")}


def _mlm_reference(w, cfg, seq, positions):
    """transformers' MobileBertLMPredictionHead: dense -> hidden_act -> LayerNorm -> [E^T; dense.weight] + bias."""
    w = {k: v.astype(np.float64) for k, v in w.items()}
    h = np.take_along_axis(seq, positions[..., None], 1)
    t = ACT[cfg["hidden_act"]](h @ w["cls.predictions.transform.dense.weight"].T + w["cls.predictions.transform.dense.bias"])
    t = layer_norm(t, w["cls.predictions.transform.LayerNorm.weight"], w["cls.predictions.transform.LayerNorm.bias"])
    out_w = np.concatenate([w["mobilebert.embeddings.word_embeddings.weight"].T, w["cls.predictions.dense.weight"]], 0)
    return t @ out_w + w["cls.predictions.bias"]


@pytest.mark.parametrize("variant", [
    {},  # the published OPT layout: NoNorm, ReLU, shared key/query bottleneck
    # MobileBERT_TINY-style bottleneck attention, with LayerNorm/GELU and a pooler dense
    {"normalization_type": "layer_norm", "hidden_act": "gelu", "key_query_shared_bottleneck": False,
     "use_bottleneck_attention": True, "num_feedforward_networks": 2, "classifier_activation": True},
])
def test_hf_mobilebert_matches_numpy(tmp_path, variant):
    cfg = dict(ck.TINY_MOBILEBERT, **variant)
    weights = ck.random_weights(ck.mobilebert_shapes(cfg), seed=5)
    src = ck.write_hf(tmp_path / "hf", cfg, weights)
    result = runner.invoke(app, ["import", str(src), "--run", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "run" / "import.json").read_text())
    assert report["architecture"] == "mobilebert" and report["heads"]["mlm"] == "mapped"
    assert len(report["mapped"]) == len(weights) - 2  # all but the NSP head

    ids, mask, types = ck.batch(cfg["vocab_size"])
    positions = np.array([[1, 3], [2, 5], [1, 2]], np.int32)
    ours = _outputs(tmp_path / "run", "student", ids, mask, types, positions)
    plain = {k[len("mobilebert."):]: v for k, v in weights.items() if k.startswith("mobilebert.")}
    ref = mobilebert_forward(plain, cfg, ids, mask, types)
    diff = np.abs(ours["sequence_output"] - ref)[mask.astype(bool)].max()
    assert diff < 1e-4, diff
    # The MLM head applies hidden_act as transformers' does (relu for the OPT layout, where
    # mbert's own presets apply gelu): the run's config says so and the logits match.
    assert f"MLM head: its transform applies {cfg['hidden_act']}, as the source's does (encoder.mlm_activation)" \
        in report["notes"]
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["encoder"]["mlm_activation"] == \
        cfg["hidden_act"]
    logits = _mlm_reference(weights, cfg, ref, positions)
    mlm_diff = np.abs(ours["mlm_logits"].reshape(logits.shape) - logits).max()
    assert mlm_diff < 1e-4, mlm_diff


def _mbert_mobilebert_run(run):
    """A MobileBERT run as `mbert train student` leaves it (config.yaml + student checkpoint), random weights."""
    import tensorflow as tf

    from mbert_cli.config import get_preset, save_run_config
    from mbert_cli.modeling.pretrainer import build_pretrainer
    from mbert_cli.training.run_dir import StageDir

    cfg = get_preset("nano-student").run_config()
    cfg.encoder.num_layers = 2
    pm = build_pretrainer(cfg.encoder)
    rng = np.random.default_rng(0)
    for v in pm.model.weights:  # fresh NoNorm/bias values are 1/0: make every tensor distinct
        v.assign(v.numpy() + 0.05 * rng.standard_normal(v.shape).astype(np.float32))
    stage = StageDir(run, "student").make()
    tf.train.CheckpointManager(tf.train.Checkpoint(model=pm.model, step=tf.Variable(7, dtype=tf.int64)),
                               str(stage.checkpoints), 1).save()
    save_run_config(cfg, run / "config.yaml")
    return cfg


def test_round_trip_mbert_to_hf_and_back(tmp_path):
    from safetensors.numpy import load_file

    cfg = _mbert_mobilebert_run(tmp_path / "orig")
    result = runner.invoke(app, ["export-hf", "--run", str(tmp_path / "orig"), "--out", str(tmp_path / "hf")])
    assert result.exit_code == 0, result.output
    written = load_file(str(tmp_path / "hf" / "model.safetensors"))
    # The exported file has the published layout (minus the NSP head mbert does not share).
    hf_cfg = json.loads((tmp_path / "hf" / "config.json").read_text())
    # nano-student: relu encoder, gelu MLM head; HF's config cannot say so, mbert's extra key does.
    assert (cfg.encoder.activation, cfg.encoder.mlm_activation) == ("relu", "gelu")
    assert hf_cfg["hidden_act"] == "relu" and hf_cfg["mbert_mlm_hidden_act"] == "gelu"
    assert "Note: the MLM head applies gelu where hidden_act is relu" in result.output
    expected = {k for k in ck.mobilebert_shapes(hf_cfg) if not k.startswith("cls.seq_relationship.")}
    assert set(written) == expected
    assert all(tuple(written[k].shape) == ck.mobilebert_shapes(hf_cfg)[k] for k in written)
    result = runner.invoke(app, ["import", str(tmp_path / "hf"), "--run", str(tmp_path / "back")])
    assert result.exit_code == 0, result.output

    ids, mask, types = ck.batch(cfg.encoder.vocab_size, seq=12)
    positions = np.array([[1, 3], [2, 5], [1, 2]], np.int32)
    a = _outputs(tmp_path / "orig", "student", ids, mask, types, positions)
    b = _outputs(tmp_path / "back", "student", ids, mask, types, positions)
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    # The HF file also runs under the independent numpy forward.
    plain = {k[len("mobilebert."):]: v for k, v in written.items() if k.startswith("mobilebert.")}
    ref = mobilebert_forward(plain, hf_cfg, ids, mask, types)
    assert np.abs(a["sequence_output"] - ref)[mask.astype(bool)].max() < 1e-4
