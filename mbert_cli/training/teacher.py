"""`mbert train teacher`: MLM + NSP pre-training of the IB-BERT teacher (the BERT recipe).

Neither reference ships this step; here it is LAMB with linear warm-up and decay from
`official.modeling.optimization`, global-norm gradient clipping, and mixed precision only
where a GPU/TPU has fast low-precision math.
"""

from __future__ import annotations

from pathlib import Path

from mbert_cli.config.run import RunConfig
from mbert_cli.modeling.pretrainer import build_pretrainer, model_inputs
from mbert_cli.training import losses
from mbert_cli.training.evaluate import evaluate_heldout
from mbert_cli.training.inputs import ensure_pretraining_data, pretraining_dataset
from mbert_cli.training.optim import build_optimizer
from mbert_cli.training.runner import Span, StageContext, StageTask, run_stage


class TeacherTask(StageTask):
    """One phase of MLM + NSP over the whole model; best checkpoint by MLM accuracy."""

    name, batch_key, resuming = "teacher", "train.batch_size", "the teacher"

    def __init__(self, cfg: RunConfig):
        self.cfg = cfg
        self.batch_size, self.clip_norm = cfg.train.batch_size, cfg.train.optimizer.clip_norm

    def prepare(self, ctx: StageContext) -> None:
        self.data_dir = ensure_pretraining_data(ctx.run, self.cfg, ctx.say)

    def build_model(self, ctx: StageContext):
        with ctx.trained_precision():
            self.pm = build_pretrainer(self.cfg.encoder)
        return self.pm.model

    def phases(self) -> list:
        return [Span("teacher", 0, self.cfg.train.steps)]

    def create_optimizers(self, ctx: StageContext, phase) -> tuple[list, dict]:
        opt = build_optimizer(self.cfg.train.optimizer, phase.steps, "lamb")
        return [(opt, self.pm.model.trainable_variables)], {"optimizer": opt}

    def build_inputs(self, ctx: StageContext, phase, input_context, batch_size: int, seed: int):
        return pretraining_dataset(self.data_dir, self.cfg, "train", batch_size, training=True,
                                   input_context=input_context, seed=seed)

    def build_losses(self, ctx: StageContext, phase):
        return (lambda batch: losses.pretraining_loss(self.pm.model(model_inputs(batch), training=True), batch)), None

    def best_metric(self, phase) -> str | None:
        return "mlm_accuracy"

    def evaluate(self, ctx: StageContext) -> dict:
        return evaluate_heldout(self.pm.model, self.data_dir, self.cfg, ctx.per_replica, self.cfg.train.eval_steps)


def train_teacher(run: str | Path, cfg: RunConfig, *, distribution: str = "default", progress: bool = True,
                  say=print) -> dict:
    """Pre-trains (or resumes) the teacher in runs/NAME/teacher; returns a summary dict."""
    return run_stage(TeacherTask(cfg), run, cfg, distribution=distribution, progress=progress, say=say)
