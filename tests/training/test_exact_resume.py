"""A run stopped midway and rerun ends with the same weights as one never stopped.

The stop is the NaN fault hook (the loss turns NaN at a chosen step, the run stops and
keeps the last good checkpoint); the rerun resumes from it. Equal weights need the same
examples in the same order after the resume (training.inputs.replay_position). Dropout
masks are not replayed (their random state is not checkpointed), so these runs turn
dropout off to leave the data order as the only source of difference.
"""

from __future__ import annotations

import functools

import pytest
import tensorflow as tf

from mbert_cli.errors import MbertError
from mbert_cli.modeling import models
from mbert_cli.training import inputs
from mbert_cli.training.finetune import train_finetune
from mbert_cli.training.student import train_student
from mbert_cli.training.teacher import train_teacher

from .conftest import tiny_config
from .faults import nan_loss_at_step

QUIET = {"progress": False, "say": lambda *_: None}


def _stopped_then_resumed(monkeypatch, nan_at: int, train):
    """Runs `train` with a NaN at step `nan_at` (it stops), then again; returns the second summary."""
    with monkeypatch.context() as patch:
        nan_loss_at_step(patch, nan_at)
        with pytest.raises(MbertError, match=f"at step {nan_at}"):
            train()
    return train()


@pytest.fixture(scope="module")
def teacher_cfg():
    return tiny_config("nano-teacher", "train.steps=12", "train.checkpoint_every=4", "encoder.hidden_dropout=0.0")


@pytest.fixture(scope="module")
def teacher_run(tmp_path_factory, teacher_cfg):
    run = tmp_path_factory.mktemp("teacher")
    return run, train_teacher(run, teacher_cfg, **QUIET)


def test_teacher_resume_matches_uninterrupted(teacher_run, teacher_cfg, tmp_path, monkeypatch):
    _, full = teacher_run
    resumed = _stopped_then_resumed(monkeypatch, 7, lambda: train_teacher(tmp_path, teacher_cfg, **QUIET))
    assert resumed["resumed_from"] == 4
    assert resumed["weights_sha256"] == full["weights_sha256"]


def test_teacher_resume_differs_if_the_data_were_reshuffled(teacher_run, teacher_cfg, tmp_path, monkeypatch):
    """The check above can fail: replaying past the cap reshuffles, and the weights then differ."""
    _, full = teacher_run
    monkeypatch.setattr(inputs, "REPLAY_MAX_EXAMPLES", 1)
    resumed = _stopped_then_resumed(monkeypatch, 7, lambda: train_teacher(tmp_path, teacher_cfg, **QUIET))
    assert resumed["resumed_from"] == 4
    assert resumed["weights_sha256"] != full["weights_sha256"]


def test_student_resume_inside_a_later_stage_matches_uninterrupted(teacher_run, tmp_path, monkeypatch):
    teacher, _ = teacher_run
    cfg = tiny_config("nano-student", "distill.steps_per_layer=6", "distill.pretrain_distill_steps=6",
                      "train.checkpoint_every=4")
    full = train_student(tmp_path / "full", cfg, teacher, **QUIET)
    # Layer stages are steps [0,6) and [6,12); the stop at 11 resumes from step 8, inside the second.
    resumed = _stopped_then_resumed(monkeypatch, 11, lambda: train_student(tmp_path / "cut", cfg, teacher, **QUIET))
    assert resumed["resumed_from"] == 8
    assert resumed["weights_sha256"] == full["weights_sha256"]


def test_finetune_resume_matches_uninterrupted(teacher_run, tmp_path, monkeypatch):
    teacher, _ = teacher_run
    monkeypatch.setattr(models, "build_classifier", functools.partial(models.build_classifier, dropout=0.0))
    cfg = tiny_config("nano-teacher", "finetune.steps=10", "train.checkpoint_every=4", "encoder.hidden_dropout=0.0")
    full = train_finetune(tmp_path / "full", cfg, teacher / "teacher", "classification", **QUIET)
    resumed = _stopped_then_resumed(
        monkeypatch, 6, lambda: train_finetune(tmp_path / "cut", cfg, teacher / "teacher", "classification", **QUIET))
    assert resumed["resumed_from"] == 4
    assert resumed["weights_sha256"] == full["weights_sha256"]


def test_replay_position_and_skip_per_input_pipeline():
    said = []
    assert inputs.replay_position(0, 32, said.append) == (0, 0)
    assert inputs.replay_position(5, 32, said.append) == (0, 5)  # same seed, skip 5 steps
    assert not said
    big = inputs.REPLAY_MAX_EXAMPLES // 32 + 1
    assert inputs.replay_position(big, 32, said.append) == (big, 0)  # reshuffle instead, and say so
    assert len(said) == 1 and "reshuffled" in said[0]

    ds = tf.data.Dataset.range(100)
    two_replicas = tf.distribute.InputContext(num_input_pipelines=1, input_pipeline_id=0, num_replicas_in_sync=2)
    assert next(iter(inputs.skip_steps(ds, 3, two_replicas))).numpy() == 6  # one batch per replica per step
    two_workers = tf.distribute.InputContext(num_input_pipelines=2, input_pipeline_id=1, num_replicas_in_sync=2)
    assert next(iter(inputs.skip_steps(ds, 3, two_workers))).numpy() == 3


def test_rerun_of_a_finished_stage_reports_the_trained_model(teacher_run, teacher_cfg):
    """Nothing left to train: the runner still restores the checkpoint, so the summary's weights and
    evaluation are the trained model's, not a freshly initialised one's."""
    run, full = teacher_run
    again = train_teacher(run, teacher_cfg, **QUIET)
    assert again["resumed_from"] == 12 and again["weights_sha256"] == full["weights_sha256"]
    assert again["eval"] == {}  # nothing trained, nothing re-evaluated
