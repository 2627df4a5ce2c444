"""Task distillation's soft labels: computed once per run, reused while the teacher and data are the same."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.training.conftest import tiny_config


def test_soft_labels_are_the_teachers_logits_cached_and_recomputed_when_the_teacher_changes(tmp_path):
    from mbert_cli.training.checkpoints import restore_for_inference
    from mbert_cli.training.finetune import train_finetune
    from mbert_cli.training.inputs import classification_data

    teacher = tmp_path / "teacher"
    train_finetune(teacher, tiny_config("nano-student", "finetune.steps=4"), None, progress=False,
                   say=lambda *_: None)
    cfg = tiny_config("nano-student", "finetune.steps=4", "train.log_every=1")
    said = []
    train_finetune(tmp_path / "kd", cfg, None, distill_from=teacher, progress=False, say=said.append)
    stage = tmp_path / "kd" / "finetune-classification"
    assert sum("Soft labels:" in str(s) and "computed" in str(s) for s in said) == 1
    cached = np.load(stage / "soft_labels.npz")["logits"]

    # the cache holds the fine-tuned teacher's logits on every training example, in order
    _, model, _ = restore_for_inference(teacher, "finetune-classification")
    train, _, _, make = classification_data(cfg, None)
    direct = np.concatenate([model(x, training=False)["logits"].numpy() for x, _ in make(train, 32, False)])
    assert cached.shape == (len(train), 2)
    np.testing.assert_allclose(cached, direct, rtol=1e-5, atol=1e-5)
    rows = [json.loads(x) for x in (stage / "metrics.jsonl").read_text().splitlines()]
    kd_rows = [r for r in rows if r["kind"] == "train"]
    assert kd_rows and all(r["loss"] == pytest.approx(0.5 * r["cross_entropy"] + 0.5 * r["kd"], abs=1e-5)
                           for r in kd_rows)

    # more steps in the same run: the cache is reused, not recomputed
    more = tiny_config("nano-student", "finetune.steps=6", "train.log_every=1")
    said.clear()
    train_finetune(tmp_path / "kd", more, None, distill_from=teacher, progress=False, say=said.append)
    assert any("reused from" in str(s) for s in said) and not any("computed by" in str(s) for s in said)

    # the teacher trained further (another checkpoint): the hash differs, recomputed and said once
    train_finetune(teacher, tiny_config("nano-student", "finetune.steps=8"), None, progress=False,
                   say=lambda *_: None)
    said.clear()
    train_finetune(tmp_path / "kd", tiny_config("nano-student", "finetune.steps=8"), None, distill_from=teacher,
                   progress=False, say=said.append)
    assert sum("another teacher or data (hash differs)" in str(s) for s in said) == 1
    assert not np.allclose(np.load(stage / "soft_labels.npz")["logits"], cached)
