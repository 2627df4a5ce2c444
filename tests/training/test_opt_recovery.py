"""OPT recovery is a stage on the one runner: checkpoints, a SIGTERM stop saved at the step, resume."""

from __future__ import annotations

import dataclasses
import json
import signal

import numpy as np
import pytest

from mbert_cli import interrupts

from .conftest import tiny_config

STEPS = 6


@pytest.fixture(autouse=True)
def _default_handlers():
    saved = signal.signal(signal.SIGTERM, signal.SIG_DFL)
    yield
    signal.signal(signal.SIGTERM, saved)


def _models():
    """A random LayerNorm/GELU classifier and its NoNorm/ReLU copy (weights copied by name)."""
    import tensorflow as tf

    from converters.data import synthetic_rows
    from converters.export_model import build_export_model, find_encoder
    from converters.opt_substitution import map_weights
    from mbert_cli.training.opt_recovery import RecoveryModels

    tf.keras.utils.set_random_seed(0)
    cfg = tiny_config("nano-student-no-opt", "encoder.hidden_dropout=0.0", "encoder.attention_dropout=0.0",
                      "finetune.num_classes=2")
    _, teacher = build_export_model(cfg, "finetune-classification")
    opt_cfg = dataclasses.replace(cfg.encoder, normalization_type="no_norm", activation="relu")
    _, student = build_export_model(cfg, "finetune-classification", encoder_cfg=opt_cfg)
    wmap = map_weights(teacher, student)
    assert wmap.complete
    for s, t in wmap.pairs:
        t.assign(s)
    rows = synthetic_rows(32, 32, cfg.encoder.vocab_size, seed=1)
    return cfg, RecoveryModels(teacher, find_encoder(teacher), student, find_encoder(student)), rows


def _stop_at(monkeypatch, step: int) -> None:
    """SIGTERM arrives while global step `step` (1-based) trains."""
    from mbert_cli.training.loop import Trainer

    real_run = Trainer.run

    def run(self, phase):
        def step_fn():
            if int(self.step_var.numpy()) + 1 == step:
                signal.raise_signal(signal.SIGTERM)
            return phase.step_fn()

        return real_run(self, dataclasses.replace(phase, step_fn=step_fn))

    monkeypatch.setattr(Trainer, "run", run)


def test_recovery_stops_on_sigterm_saves_the_step_and_resumes_there(tmp_path, monkeypatch):
    from mbert_cli.training.checkpoints import checkpoint_step, latest_checkpoint
    from mbert_cli.training.opt_recovery import RecoverySettings, recover

    cfg, models, rows = _models()
    settings = RecoverySettings(steps=STEPS, batch_size=8, learning_rate=1e-3)
    said = []
    stage = tmp_path / "opt-recovery-finetune-classification"
    _stop_at(monkeypatch, 3)
    with interrupts.catching_stop_signals(), pytest.raises(interrupts.StopRequested) as stop:
        recover(tmp_path, cfg, "finetune-classification", "ckpt-a", models, rows, settings, say=said.append)
    assert stop.value.signum == signal.SIGTERM and stop.value.detail == "checkpoint saved at step 3"
    assert checkpoint_step(latest_checkpoint(stage / "checkpoints")) == 3
    monkeypatch.undo()

    losses = recover(tmp_path, cfg, "finetune-classification", "ckpt-a", models, rows, settings, say=said.append)
    assert any(s.startswith("Resuming OPT recovery from") and "(step 3/6)" in s for s in said), said
    assert checkpoint_step(latest_checkpoint(stage / "checkpoints")) == STEPS
    assert len(losses) == STEPS and all(np.isfinite(losses))
    assert json.loads((stage / "source.json").read_text())["source_checkpoint"] == "ckpt-a"

    # Another source checkpoint is another model's recovery: the folder starts over.
    said.clear()
    recover(tmp_path, cfg, "finetune-classification", "ckpt-b", models, rows, settings, say=said.append)
    assert any("starting over" in s for s in said) and not any(s.startswith("Resuming") for s in said), said
    assert json.loads((stage / "source.json").read_text())["source_checkpoint"] == "ckpt-b"
