"""OPT recovery: a NoNorm/ReLU copy of a model learns its LayerNorm/GELU original's outputs back.

The export's OPT pass (`converters/opt_substitution.py`) copies the weights and runs this
stage on the one runner, so recovery has checkpoints, Ctrl-C/SIGTERM and resume like every
other stage. It trains in runs/NAME/opt-recovery-<stage>/ with Adam on `losses.recovery_loss`
(per-layer hidden-state MSE over real tokens + output KD against the frozen original) over
unlabelled rows. `source.json` keys the folder to the source checkpoint, the rows and the
settings: a folder made from anything else is recovery of another model and starts over.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import tensorflow as tf
import tf_keras

from mbert_cli.config.run import RunConfig
from mbert_cli.training import losses
from mbert_cli.training.run_dir import StageDir, read_json, write_json
from mbert_cli.training.runner import Span, StageContext, StageTask, run_stage, shard

STAGE_PREFIX = "opt-recovery-"
RECORD = "source.json"


@dataclass(frozen=True)
class RecoverySettings:
    """How long and how fast the NoNorm/ReLU copy trains."""

    steps: int = 100
    batch_size: int = 16
    learning_rate: float = 1e-3


@dataclass
class RecoveryModels:
    """The frozen original and its NoNorm/ReLU copy (weights already copied), each with its encoder
    (whose `encoder_outputs` are the per-layer hidden states)."""

    teacher: Any
    teacher_encoder: Any
    student: Any
    student_encoder: Any


class OptRecoveryTask(StageTask):
    """One phase of Adam on `losses.recovery_loss`; the student is the copy the converter built.

    The converter builds and copies the student before the stage starts (it reports the
    metric right after the copy), so the stage runs with the default distribution.
    """

    batch_key, resuming, log_every = "the OPT recovery batch", "OPT recovery", 1

    def __init__(self, source_stage: str, source_checkpoint: str, models: RecoveryModels, rows: dict,
                 settings: RecoverySettings):
        self.name = STAGE_PREFIX + source_stage
        self.models, self.rows, self.settings = models, rows, settings
        self.batch_size = min(settings.batch_size, len(rows["input_word_ids"]))
        self.record = {"source_checkpoint": str(source_checkpoint), "rows_sha256": rows_digest(rows),
                       **asdict(settings)}

    def prepare(self, ctx: StageContext) -> None:
        """A folder recovered from another checkpoint, other rows or other settings starts over."""
        old = read_json(ctx.stage.path / RECORD)
        if ctx.stage.path.exists() and old != self.record:
            ctx.say(f"OPT recovery: {ctx.stage.path} holds the recovery of another source or settings; starting over.")
            shutil.rmtree(ctx.stage.path)

    def build_model(self, ctx: StageContext):
        return self.models.student

    def phases(self) -> list:
        return [Span(self.name, 0, self.settings.steps)]

    def initialize(self, ctx: StageContext) -> None:
        ctx.say(f"OPT recovery: {self.settings.steps} steps of {self.batch_size} rows "
                f"from {len(self.rows['input_word_ids'])} unlabelled rows.")

    def on_start(self, ctx: StageContext, step: int) -> None:
        if ctx.dist.is_chief:
            write_json(ctx.stage.path / RECORD, self.record)

    def create_optimizers(self, ctx: StageContext, phase) -> tuple[list, dict]:
        opt = tf_keras.optimizers.Adam(self.settings.learning_rate)
        return [(opt, self.models.student.trainable_variables)], {"optimizer": opt}

    def build_inputs(self, ctx: StageContext, phase, input_context, batch_size: int, seed: int):
        ds = tf.data.Dataset.from_tensor_slices(self.rows)
        ds = ds.shuffle(len(self.rows["input_word_ids"]), seed=seed, reshuffle_each_iteration=True)
        return shard(ds.batch(batch_size, drop_remainder=True).repeat(), input_context)

    def build_losses(self, ctx: StageContext, phase):
        m = self.models

        def targets_fn(batch):  # the frozen original, outside the gradient tape
            return {"layers": m.teacher_encoder(batch, training=False)["encoder_outputs"],
                    "outputs": m.teacher(batch, training=False)}

        def loss_fn(batch, targets):
            layers = m.student_encoder(batch, training=True)["encoder_outputs"]
            outputs = m.student(batch, training=True)
            return losses.recovery_loss(layers, targets["layers"], outputs, targets["outputs"], batch["input_mask"])

        return loss_fn, targets_fn


def rows_digest(rows: dict) -> str:
    """sha256 over the recovery rows (names, dtypes, shapes and values)."""
    h = hashlib.sha256()
    for name in sorted(rows):
        h.update(f"{name}:{rows[name].dtype}:{rows[name].shape}".encode() + rows[name].tobytes())
    return h.hexdigest()


def logged_losses(stage: StageDir) -> list[float]:
    """The training loss of every logged step, in step order (a step trained again counts once: its last entry)."""
    by_step = {}
    try:
        lines = stage.metrics.read_text(encoding="utf-8").splitlines()
    except OSError:
        return []
    for line in lines:
        record = json.loads(line)
        if record.get("kind") == "train" and isinstance(record.get("loss"), float | int):
            by_step[record["step"]] = float(record["loss"])
    return [by_step[k] for k in sorted(by_step)]


def recover(run: str | Path, cfg: RunConfig, source_stage: str, source_checkpoint: str, models: RecoveryModels,
            rows: dict, settings: RecoverySettings, say=print) -> list[float]:
    """Trains (or resumes, or reuses) the recovery of `source_stage` in runs/NAME; returns the loss per step."""
    task = OptRecoveryTask(source_stage, source_checkpoint, models, rows, settings)
    run_stage(task, run, cfg, progress=False, say=say)
    return logged_losses(StageDir(Path(run), task.name))
