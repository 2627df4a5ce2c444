"""Teacher pre-training, student initialisation, frozen layers and resume, on tiny synthetic runs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tensorflow as tf

from mbert_cli.modeling.pretrainer import build_pretrainer
from mbert_cli.training.checkpoints import build_stage_model, latest_checkpoint, restore, restore_for_inference
from mbert_cli.training.evaluate import evaluate_pretraining
from mbert_cli.training.forward import encoder_forward
from mbert_cli.training.inputs import synthetic_pretraining
from mbert_cli.training.student import train_student
from mbert_cli.training.teacher import train_teacher
from mbert_cli.training.weight_init import init_from_teacher

from .conftest import tiny_config

EXPECTED_COPIED = [
    "embedding/embedding_projection/bias", "embedding/embedding_projection/kernel",
    "embedding/position_embedding/embeddings", "embedding/type_embedding/embeddings",
    "embedding/word_embedding/embeddings", "masked_lm/extra_output_weights", "masked_lm/output_bias/bias",
    "masked_lm/transform/LayerNorm/beta", "masked_lm/transform/LayerNorm/gamma", "masked_lm/transform/dense/bias",
    "masked_lm/transform/dense/kernel", "next_sentence/logits/bias", "next_sentence/logits/kernel",
    "next_sentence/pooler_dense/bias", "next_sentence/pooler_dense/kernel"]


@pytest.fixture(scope="module")
def teacher_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("teacher")
    cfg = tiny_config("nano-teacher", "train.steps=200", "train.checkpoint_every=100",
                      "train.optimizer.learning_rate=0.03", "train.optimizer.warmup_steps=20")
    before = evaluate_pretraining(build_pretrainer(cfg.encoder).model,
                                  synthetic_pretraining(cfg, 8, training=False, seed=7919), 4)
    summary = train_teacher(run, cfg, progress=False, say=lambda *_: None)
    return run, before, summary


def test_teacher_learns_and_leaves_a_run_folder(teacher_run):
    run, before, summary = teacher_run
    after = summary["eval"]
    # Synthetic tokens are uniform, so 200 tiny steps show up in the loss (ln 4096 -> ~ln 50);
    # the accuracy gain on real text is checked by test_teacher_mlm_accuracy_on_shipped_data.
    assert after["mlm_loss"] < before["mlm_loss"] - 3.0, (before, after)
    assert after["mlm_accuracy"] >= before["mlm_accuracy"]
    assert (run / "config.yaml").is_file()
    assert latest_checkpoint(run / "teacher" / "checkpoints").endswith("ckpt-200")
    assert (run / "teacher" / "checkpoints" / "best" / "best.json").is_file()
    assert list((run / "teacher" / "tensorboard").iterdir())
    records = [json.loads(line) for line in (run / "teacher" / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["kind"] == "train"]
    assert {"loss", "mlm", "nsp", "lr", "examples_per_s", "grad_norm"} <= set(train[-1])
    assert any(r["kind"] == "eval" for r in records)


def test_restore_for_inference_gives_the_trained_model(teacher_run):
    run, _, summary = teacher_run
    cfg, model, step = restore_for_inference(run, "teacher")
    assert step == 200
    again = evaluate_pretraining(model, synthetic_pretraining(cfg, 8, training=False, seed=7919), cfg.train.eval_steps)
    assert again["mlm_accuracy"] == pytest.approx(summary["eval"]["mlm_accuracy"], abs=1e-6)


def test_teacher_init_copies_embedding_and_heads_by_name():
    student = build_pretrainer(tiny_config("nano-student").encoder, name="s")
    teacher = build_pretrainer(tiny_config("nano-teacher").encoder, name="t")
    copied = init_from_teacher(student, teacher, same_norm=False)
    assert copied == EXPECTED_COPIED  # not embedding_norm: LayerNorm's gamma/beta mean something else in NoNorm
    s_words = student.encoder.get_embedding_table().numpy()
    np.testing.assert_array_equal(s_words, teacher.encoder.get_embedding_table().numpy())
    same = init_from_teacher(student, teacher, same_norm=True)
    assert "embedding/embedding_norm/gamma" in same and "embedding/embedding_norm/beta" in same


def test_encoder_forward_matches_the_full_encoder():
    cfg = tiny_config("nano-student")
    pm = build_pretrainer(cfg.encoder)
    batch = next(iter(synthetic_pretraining(cfg, 4, training=False)))
    out = pm.encoder({k: batch[k] for k in ("input_word_ids", "input_mask", "input_type_ids")}, training=False)
    hidden, attention = encoder_forward(pm.encoder, batch, 1, training=False)
    for a, b in zip(hidden, out["encoder_outputs"], strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)
    np.testing.assert_allclose(attention[1].numpy(), out["attention_scores"][1].numpy(), atol=1e-6)


def _layer_weights(run, path, cfg):
    from mbert_cli.modeling.encoders import embedding_layer, transformer_layers

    model = build_stage_model(cfg, "student")
    restore(tf.train.Checkpoint(model=model), path)
    pm_encoder = [lay for lay in model.submodules if lay.name == "encoder"][0]
    layers = transformer_layers(pm_encoder)
    return ([np.concatenate([w.numpy().ravel() for w in layer.weights]) for layer in layers],
            np.concatenate([w.numpy().ravel() for w in embedding_layer(pm_encoder).weights]))


@pytest.mark.parametrize("scale", [0.0, 0.3])
def test_progressive_stage_trains_only_its_layer(teacher_run, tmp_path, scale):
    teacher, _, _ = teacher_run
    cfg = tiny_config("nano-student", "distill.steps_per_layer=4", "distill.pretrain_distill_steps=0",
                      f"distill.lower_layer_lr_scale={scale}", "distill.optimizer.warmup_steps=0")
    train_student(tmp_path, cfg, teacher, progress=False, say=lambda *_: None)
    ckpts = tmp_path / "student" / "checkpoints"
    end0, end1 = str(ckpts / "ckpt-4"), str(ckpts / "ckpt-8")
    layers0, emb0 = _layer_weights(tmp_path, end0, cfg)
    layers1, emb1 = _layer_weights(tmp_path, end1, cfg)
    np.testing.assert_array_equal(emb0, emb1)  # embeddings frozen
    assert not np.array_equal(layers0[1], layers1[1])  # the trained layer changed
    if scale == 0.0:
        np.testing.assert_array_equal(layers0[0], layers1[0])  # the layer below is frozen
    else:
        assert not np.array_equal(layers0[0], layers1[0])  # soft-frozen: trained at 0.3x
    schedule = json.loads((tmp_path / "student" / "schedule.json").read_text())
    assert schedule["current_stage"] == "finished" and [s["status"] for s in schedule["stages"]] == ["done", "done"]
    init = json.loads((tmp_path / "student" / "init.json").read_text())
    assert init["copied"] == EXPECTED_COPIED


@pytest.mark.parametrize("strategy", ["joint", "auxiliary"])
def test_other_strategies_train_on_the_transfer_loss(teacher_run, tmp_path, strategy):
    """Every logged step's loss is the transfer loss (joint), or distillation + transfer (auxiliary),
    recomputed here from the logged terms and the configured weights: a stage that dropped
    the transfer loss from what it trains fails this."""
    teacher, _, _ = teacher_run
    cfg = tiny_config("nano-student", f"distill.strategy={strategy}", "distill.steps_per_layer=2",
                      "distill.pretrain_distill_steps=4", "train.log_every=1")
    summary = train_student(tmp_path, cfg, teacher, progress=False, say=lambda *_: None)
    assert summary["steps"] == 8 and "mlm_accuracy" in summary["eval"]
    names = [s["name"] for s in json.loads((tmp_path / "student" / "schedule.json").read_text())["stages"]]
    assert names == (["joint", "distill"] if strategy == "joint" else ["auxiliary"])
    d = cfg.distill
    records = [json.loads(line) for line in (tmp_path / "student" / "metrics.jsonl").read_text().splitlines()]
    with_transfer = [r for r in records if r["kind"] == "train" and r["stage"] in ("joint", "auxiliary")]
    assert len(with_transfer) == (4 if strategy == "joint" else 8)
    for r in with_transfer:
        transfer = (d.hidden_mse_weight * r["hidden_mse"] + d.beta_weight * r["beta"] + d.gamma_weight * r["gamma"]
                    + d.attention_weight * r["attention_kl"])
        assert transfer > 1e-3  # the teacher and the random student layers differ
        expected = transfer
        # metrics.jsonl rounds to 6 decimals: x5000 (beta) that is up to ~3e-3 absolute.
        if strategy == "auxiliary":
            assert r["transfer"] == pytest.approx(transfer, rel=1e-5, abs=3e-3)
            expected += d.mlm_weight * r["mlm"] + (1 - d.mlm_weight) * r["kd"] + r["nsp"]
        assert r["loss"] == pytest.approx(expected, rel=1e-5, abs=3e-3), r


@pytest.mark.slow
def test_teacher_mlm_accuracy_on_shipped_data(tmp_path):
    """A nano teacher on the shipped corpus: a few hundred steps lift MLM accuracy well above step 0."""
    from mbert_cli.config import resolve_config
    from mbert_cli.training.inputs import ensure_pretraining_data, pretraining_dataset

    cfg = resolve_config("nano-teacher", None, ["train.steps=500", "train.checkpoint_every=500",
                                                "data.max_documents=600", "train.eval_steps=10"])
    data = ensure_pretraining_data(tmp_path, cfg, say=lambda *_: None)
    before = evaluate_pretraining(build_pretrainer(cfg.encoder).model,
                                  pretraining_dataset(data, cfg, "eval", 32, training=False), 10)
    after = train_teacher(tmp_path, cfg, progress=False, say=lambda *_: None)["eval"]
    assert after["mlm_accuracy"] > before["mlm_accuracy"] + 0.08, (before, after)


def test_resume_at_a_stage_boundary_and_schedule_change(teacher_run, tmp_path):
    from mbert_cli.errors import MbertError

    teacher, _, _ = teacher_run
    base = ["distill.steps_per_layer=2", "distill.optimizer.warmup_steps=0"]
    train_student(tmp_path, tiny_config("nano-student", *base, "distill.pretrain_distill_steps=0"),
                  teacher, progress=False, say=lambda *_: None)
    lines = []
    summary = train_student(tmp_path, tiny_config("nano-student", *base, "distill.pretrain_distill_steps=4"),
                            teacher, progress=False, say=lines.append)
    assert summary["resumed_from"] == 4 and summary["steps"] == 8
    assert any("step 4, stage distill" in line for line in lines)
    with pytest.raises(MbertError, match="another stage schedule"):
        train_student(tmp_path, tiny_config("nano-student", "distill.steps_per_layer=3",
                                            "distill.pretrain_distill_steps=4"), teacher, progress=False,
                      say=lambda *_: None)
