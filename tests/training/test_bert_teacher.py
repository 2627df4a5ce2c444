"""Distillation from a BERT-kind teacher (an imported BertEncoderV2): head grouping, PCA start, bad input, a tiny run."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import tensorflow as tf
from typer.testing import CliRunner

from mbert_cli.cli.app import app
from mbert_cli.errors import MbertError
from mbert_cli.training import losses
from tests.importing import checkpoints as ck

from .conftest import tiny_config

runner = CliRunner()


def test_teacher_heads_averaged_in_contiguous_groups_and_kl_by_hand():
    """4 teacher heads onto 2 student heads: head 0 <- mean(t0, t1), head 1 <- mean(t2, t3)."""
    # one example, 2 query rows (the second padded), 2 keys; each row a distribution
    t = np.array([[[[0.9, 0.1], [0.5, 0.5]],
                   [[0.5, 0.5], [0.2, 0.8]],
                   [[0.2, 0.8], [0.3, 0.7]],
                   [[0.4, 0.6], [0.9, 0.1]]]], np.float32)
    grouped = losses.group_heads(tf.constant(t), 2).numpy()
    np.testing.assert_allclose(grouped[0, 0, 0], [0.7, 0.3], rtol=1e-6)  # (0.9+0.5)/2, (0.1+0.5)/2
    np.testing.assert_allclose(grouped[0, 1, 0], [0.3, 0.7], rtol=1e-6)  # (0.2+0.4)/2, (0.8+0.6)/2
    np.testing.assert_allclose(grouped.sum(-1), 1.0, rtol=1e-6)  # still distributions
    s = np.array([[[[0.5, 0.5], [0.9, 0.1]], [[0.6, 0.4], [0.1, 0.9]]]], np.float32)
    mask = np.array([[1.0, 0.0]], np.float32)  # query row 1 is padding: left out
    kl = losses.attention_kl(tf.constant(grouped), tf.constant(s), tf.constant(mask)).numpy()
    by_hand = ((0.7 * np.log(0.7 / 0.5) + 0.3 * np.log(0.3 / 0.5))
               + (0.3 * np.log(0.3 / 0.6) + 0.7 * np.log(0.7 / 0.4))) / 2
    np.testing.assert_allclose(kl, by_hand, rtol=1e-5)
    np.testing.assert_array_equal(losses.group_heads(tf.constant(t), 4).numpy(), t)  # equal heads: one to one


def test_pca_projection_keeps_the_top_variance_directions():
    from mbert_cli.training.weight_init import pca_projection

    rng = np.random.default_rng(0)
    table = (rng.normal(size=(200, 12)) * np.linspace(3.0, 0.1, 12) + 5.0) @ np.linalg.qr(rng.normal(size=(12, 12)))[0]
    projected, kept = pca_projection(table, 4)
    centred = table - table.mean(0)
    _, sv, vt = np.linalg.svd(centred, full_matrices=False)  # the independent reference
    reference = centred @ vt[:4].T
    # the same coordinates up to each direction's sign
    signs = np.sign((projected * reference).sum(0))
    np.testing.assert_allclose(projected * signs, reference, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(kept, (sv[:4] ** 2).sum() / (sv ** 2).sum(), rtol=1e-6)
    np.testing.assert_allclose(projected.var(0), sv[:4] ** 2 / len(table), rtol=1e-4)


# -- a tiny imported BERT teacher (no MLM head, like MiniLM) ---------------------------------

TINY_TEACHER = dict(ck.TINY_BERT, num_attention_heads=2)  # 2 layers, 16 wide, 2 heads, vocab 40


def _student(run_vocab, *extra):
    return tiny_config("nano-student", "encoder.vocab_size=40", "encoder.embedding_size=8", "encoder.hidden_size=16",
                       "encoder.num_heads=1", "encoder.intra_bottleneck_size=8", "encoder.intermediate_size=16",
                       "encoder.max_sequence_length=16", "data.seq_len=16", "data.max_predictions_per_seq=3", "export.seq_len=16",
                       f"data.vocab={run_vocab}", *extra)


@pytest.fixture(scope="module")
def teacher_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("bert_teacher")
    weights = ck.random_weights(ck.bert_shapes(TINY_TEACHER, heads=False), seed=5)
    src = ck.write_hf(root / "hf", TINY_TEACHER, weights)
    result = runner.invoke(app, ["import", str(src), "--run", str(root / "teacher")])
    assert result.exit_code == 0, result.output
    return root / "teacher"


def test_bert_encoder_forward_matches_the_full_encoder(teacher_run):
    from mbert_cli.config import load_run_config
    from mbert_cli.training.forward import bert_encoder_forward
    from mbert_cli.training.inputs import synthetic_pretraining
    from mbert_cli.training.teachers import BertTeacher

    teacher = BertTeacher.load(BertTeacher.locate(teacher_run), load_run_config(teacher_run))
    assert not teacher.has_mlm  # import.json: the source had no MLM head
    batch = next(iter(synthetic_pretraining(_student(teacher_run / "vocab.txt"), 3, training=False)))
    out = teacher.pretrainer.encoder({k: batch[k] for k in ("input_word_ids", "input_mask", "input_type_ids")},
                                     training=False)
    hidden, attention = bert_encoder_forward(teacher.pretrainer.encoder, batch, 1, training=False)
    assert len(hidden) == 3 and len(attention) == 2
    for a, b in zip(hidden[1:], out["encoder_outputs"], strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)
    for a, b in zip(attention, out["attention_scores"], strict=True):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6)
    first, _ = bert_encoder_forward(teacher.pretrainer.encoder, batch, 0, training=False)
    assert len(first) == 2  # stops after layer 0


@pytest.mark.parametrize("override, message", [
    ("encoder.hidden_size=24", "hidden size 16 but the student (nano-student) has inter-block hidden size 24"),
    ("encoder.num_heads=3", "2 attention heads, which do not split into 3 equal groups"),
    ("encoder.vocab_size=4096", "use different vocabularies"),
])
def test_shapes_that_cannot_map_are_one_error_line(teacher_run, tmp_path, override, message):
    from mbert_cli.config import load_run_config
    from mbert_cli.training.teachers import BertTeacher

    extra = [override] + (["encoder.intra_bottleneck_size=12", "encoder.intermediate_size=12"]
                          if override == "encoder.num_heads=3" else [])
    if override == "encoder.vocab_size=4096":
        extra.append("data.vocab=shipped")
    cfg = _student(teacher_run / "vocab.txt", *extra)
    with pytest.raises(MbertError, match=re.escape(message)) as err:
        BertTeacher.check(load_run_config(teacher_run), cfg)
    assert "\n" not in err.value.message and err.value.hint


def test_cli_errors_for_a_bad_teacher_are_one_line(teacher_run, tmp_path):
    base = ["train", "student", "--run", str(tmp_path / "s"), "--teacher", str(teacher_run), "--no-progress",
            "--preset", "nano-student"]
    result = runner.invoke(app, base)  # nano-student: 64 wide, 4096-token vocab
    assert result.exit_code == 1
    lines = [ln for ln in result.output.splitlines() if ln.strip()]
    assert lines[0].startswith("Error: ") and "hidden size 16" in lines[0] and "64" in lines[0], result.output
    assert "Traceback" not in result.output and not (tmp_path / "s" / "student").exists()
    empty = tmp_path / "empty_teacher"
    empty.mkdir()
    (empty / "config.yaml").write_text((teacher_run / "config.yaml").read_text())
    sets = ["encoder.vocab_size=40", "encoder.embedding_size=8", "encoder.hidden_size=16", "encoder.num_heads=1",
            "encoder.intra_bottleneck_size=8", "encoder.max_sequence_length=16", "data.seq_len=16", "export.seq_len=16",
            f"data.vocab={teacher_run / 'vocab.txt'}"]
    args = ["train", "student", "--run", str(tmp_path / "s2"), "--teacher", str(empty), "--no-progress",
            "--preset", "nano-student"] + [x for s in sets for x in ("--set", s)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1
    assert result.output.startswith("Error: no checkpoint for stage 'teacher'"), result.output


def test_student_distils_from_an_imported_bert_teacher(teacher_run, tmp_path, monkeypatch):
    """A few steps of every stage: the transfer terms are logged, the word table starts from the PCA
    projection, and the teacher's weights are exactly the checkpoint's after training."""
    from mbert_cli.config import load_run_config
    from mbert_cli.modeling.encoders import embedding_layer
    from mbert_cli.modeling.pretrainer import build_pretrainer
    from mbert_cli.training.checkpoints import restore
    from mbert_cli.training.session import weights_digest
    from mbert_cli.training.student import train_student
    from mbert_cli.training.teachers import BertTeacher
    from mbert_cli.training.weight_init import pca_projection

    loaded = []
    original = BertTeacher.load.__func__

    def spy(cls, path, cfg):
        loaded.append(original(cls, path, cfg))
        return loaded[-1]
    monkeypatch.setattr(BertTeacher, "load", classmethod(spy))
    cfg = _student(teacher_run / "vocab.txt", "distill.steps_per_layer=2", "distill.pretrain_distill_steps=2",
                   "train.log_every=1", "distill.optimizer.warmup_steps=0")
    said = []
    summary = train_student(tmp_path, cfg, teacher_run, progress=False, say=said.append)
    assert summary["steps"] == 6
    text = "\n".join(map(str, said))
    assert "no MLM head" in text and "no MLM-logit KD term" in text
    assert "mean of 2 contiguous teacher heads" in text and "learn from teacher layers [0, 1]" in text
    assert "PCA projection of the teacher's 16-wide table to 8" in text

    records = [json.loads(line) for line in (tmp_path / "student" / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["kind"] == "train"]
    assert {r["stage"] for r in train} == {"layer_0", "layer_1", "distill"}
    for r in train:
        assert {"hidden_mse", "beta", "gamma", "attention_kl"} <= set(r)
        assert r["attention_kl"] > 0 and r["hidden_mse"] > 0
    distill = [r for r in train if r["stage"] == "distill"]
    d = cfg.distill
    for r in distill:
        assert "kd" not in r  # no KD target without a teacher MLM head
        transfer = (d.hidden_mse_weight * r["hidden_mse"] + d.beta_weight * r["beta"] + d.gamma_weight * r["gamma"]
                    + d.attention_weight * r["attention_kl"])
        assert r["loss"] == pytest.approx(r["mlm"] + r["nsp"] + transfer, rel=1e-5, abs=3e-3)

    init = json.loads((tmp_path / "student" / "init.json").read_text())
    assert init["copied"] == ["embedding/word_embedding/embeddings"]
    # the word table starts as the PCA projection of the teacher's; the layer stages keep embeddings
    # frozen, so the checkpoint at their end (step 4) still holds exactly that start
    teacher_cfg = load_run_config(teacher_run)
    fresh_teacher = build_pretrainer(teacher_cfg.encoder, name="t")
    restore(tf.train.Checkpoint(model=fresh_teacher.model), BertTeacher.locate(teacher_run))
    projected, _ = pca_projection(fresh_teacher.encoder.get_embedding_table().numpy(), 8)
    student = build_pretrainer(cfg.encoder, name="s")
    restore(tf.train.Checkpoint(model=student.model), str(tmp_path / "student" / "checkpoints" / "ckpt-4"))
    layer_start = embedding_layer(student.encoder).word_embedding.embeddings.numpy()
    np.testing.assert_allclose(layer_start, projected, rtol=1e-5, atol=1e-6)  # embeddings frozen in layer stages

    assert loaded and weights_digest(loaded[-1].pretrainer.model) == weights_digest(fresh_teacher.model)
    assert not loaded[-1].pretrainer.model.trainable_variables


def test_a_bert_teacher_with_an_mlm_head_gives_kd_logits_and_layers(tmp_path):
    """A BERT teacher with an MLM head (a trained one, or BertForPreTraining): `outputs` returns the
    same MLM logits as the whole pre-training model, with the layer states it computed on the way,
    and a joint-then-distill run has a KD term in its distill steps."""
    from mbert_cli.config import load_run_config
    from mbert_cli.modeling.pretrainer import model_inputs
    from mbert_cli.training.inputs import synthetic_pretraining
    from mbert_cli.training.student import train_student
    from mbert_cli.training.teachers import BertTeacher

    weights = ck.random_weights(ck.bert_shapes(TINY_TEACHER, heads=True), seed=6)
    src = ck.write_hf(tmp_path / "hf", TINY_TEACHER, weights)
    result = runner.invoke(app, ["import", str(src), "--run", str(tmp_path / "teacher")])
    assert result.exit_code == 0, result.output
    run = tmp_path / "teacher"
    teacher = BertTeacher.load(BertTeacher.locate(run), load_run_config(run))
    assert teacher.has_mlm
    cfg = _student(run / "vocab.txt", "distill.strategy=joint", "distill.joint_steps=2",
                   "distill.pretrain_distill_steps=2", "train.log_every=1")
    batch = next(iter(synthetic_pretraining(cfg, 3, training=False)))
    full = teacher.pretrainer.model(model_inputs(batch), training=False)["mlm_logits"].numpy()
    plain, both = teacher.outputs(batch), teacher.outputs(batch, layers=True)
    np.testing.assert_allclose(plain["mlm_logits"].numpy(), full, atol=1e-5)
    np.testing.assert_allclose(both["mlm_logits"].numpy(), full, atol=1e-5)
    assert "hidden" not in plain and len(both["hidden"]) == 3 and len(both["attention"]) == 2

    said = []
    train_student(tmp_path / "s", cfg, run, progress=False, say=said.append)
    assert not any("no MLM head" in str(line) for line in said)
    records = [json.loads(line) for line in (tmp_path / "s" / "student" / "metrics.jsonl").read_text().splitlines()]
    distill = [r for r in records if r["kind"] == "train" and r["stage"] == "distill"]
    assert len(distill) == 2
    for r in distill:
        assert "hidden_mse" not in r  # the paper's distill stage: MLM + KD + NSP only
        assert r["loss"] == pytest.approx(0.5 * r["mlm"] + 0.5 * r["kd"] + r["nsp"], rel=1e-5, abs=1e-4)


def test_random_embedding_start_copies_nothing(teacher_run):
    from mbert_cli.config import load_run_config
    from mbert_cli.modeling.encoders import embedding_layer
    from mbert_cli.modeling.pretrainer import build_pretrainer
    from mbert_cli.training.teachers import BertTeacher

    teacher = BertTeacher.load(BertTeacher.locate(teacher_run), load_run_config(teacher_run))
    cfg = _student(teacher_run / "vocab.txt", "distill.teacher_embedding_init=random")
    student = build_pretrainer(cfg.encoder, name="s")
    before = embedding_layer(student.encoder).word_embedding.embeddings.numpy().copy()
    copied, what = teacher.init_student(student, cfg)
    assert copied == [] and "random" in what
    np.testing.assert_array_equal(embedding_layer(student.encoder).word_embedding.embeddings.numpy(), before)
    copied, what = teacher.init_student(student, _student(teacher_run / "vocab.txt"))
    assert copied == ["embedding/word_embedding/embeddings"] and "PCA" in what


@pytest.mark.slow
def test_minilm_student_distils_from_the_imported_minilm(tmp_path):
    """The real chain, a few steps: `mbert import minilm` -> `train student --preset minilm-student`."""
    result = runner.invoke(app, ["import", "minilm", "--run", str(tmp_path / "minilm")])
    assert result.exit_code == 0, result.output
    sets = ["distill.steps_per_layer=1", "distill.pretrain_distill_steps=2", "distill.batch_size=4",
            "train.log_every=1", "train.eval_steps=1", "data.max_documents=40"]
    result = runner.invoke(app, ["train", "student", "--preset", "minilm-student", "--teacher", str(tmp_path / "minilm"),
                                 "--run", str(tmp_path / "s"), "--no-progress"] + [x for s in sets for x in ("--set", s)])
    assert result.exit_code == 0, result.output
    assert "mean of 3 contiguous teacher heads" in result.output and "no MLM-logit KD term" in result.output
    assert "PCA projection of the teacher's 384-wide table to 128" in result.output
    records = [json.loads(x) for x in (tmp_path / "s" / "student" / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["kind"] == "train"]
    assert [r["stage"] for r in train] == [f"layer_{i}" for i in range(6)] + ["distill", "distill"]
    assert all(np.isfinite(r["loss"]) and r["attention_kl"] > 0 for r in train)


def test_fine_tuned_teacher_stage_teaches_with_its_fine_tuned_encoder(teacher_run, tmp_path):
    """distill.teacher_stage=finetune-classification: the encoder is the fine-tuned one, weight for weight."""
    import shutil

    from mbert_cli.config import load_run_config
    from mbert_cli.config.resolve import apply_overrides
    from mbert_cli.training.checkpoints import restore_for_inference
    from mbert_cli.training.finetune import train_finetune
    from mbert_cli.training.teachers import BertTeacher

    run = tmp_path / "teacher"
    shutil.copytree(teacher_run, run)
    with pytest.raises(MbertError, match="no checkpoint for stage 'finetune-classification'"):
        BertTeacher.locate(run, "finetune-classification")
    cfg = apply_overrides(load_run_config(run), overrides=[
        "data.task_data=synthetic", "data.seq_len=16", "finetune.steps=3", "finetune.learning_rate=0.01",
        "train.log_every=1"])
    train_finetune(run, cfg, run / "teacher", progress=False, say=lambda *_: None)
    path = BertTeacher.locate(run, "finetune-classification")
    teacher = BertTeacher.load(path, load_run_config(run))
    _, tuned, _ = restore_for_inference(run, "finetune-classification")
    pretrained = BertTeacher.load(BertTeacher.locate(run), load_run_config(run))
    moved = 0
    for var in teacher.pretrainer.encoder.weights:
        reference = next(v for v in tuned.weights if v.name.split("/", 1)[-1] == var.name.split("/", 1)[-1])
        np.testing.assert_array_equal(var.numpy(), reference.numpy())
        before = next(v for v in pretrained.pretrainer.encoder.weights if v.name == var.name)
        moved += not np.array_equal(var.numpy(), before.numpy())
    assert moved > 0 and not teacher.pretrainer.model.trainable
