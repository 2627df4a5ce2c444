"""`mbert train student`: layer-wise knowledge transfer, then pre-training distillation.

A stage on the one runner (`runner.py`) with one phase per distillation stage of the
schedule (`stages.py`); the losses and trained variables of each are in `distiller.py`,
the frozen teacher in `teachers.py`. Each phase has its own LAMB optimizer (warm-up +
decay over the phase) saved as `optimizer_<stage>` in the student's checkpoints, so a
resume inside a phase restores its optimizer state and a new phase starts fresh.
"""

from __future__ import annotations

from pathlib import Path

from mbert_cli.config import load_run_config
from mbert_cli.config.run import RunConfig
from mbert_cli.modeling.pretrainer import build_pretrainer
from mbert_cli.training.checkpoints import checkpoint_step, latest_checkpoint
from mbert_cli.training.distiller import Distiller, stage_variables
from mbert_cli.training.evaluate import evaluate_heldout
from mbert_cli.training.inputs import ensure_pretraining_data, pretraining_dataset, reuse_pretraining_data
from mbert_cli.training.optim import build_optimizer
from mbert_cli.training.run_dir import StageDir, write_json
from mbert_cli.training.runner import StageContext, StageTask, phase_at, run_stage
from mbert_cli.training.stages import build_schedule, check_same_schedule, schedule_record
from mbert_cli.training.teachers import teacher_class


class StudentTask(StageTask):
    """The student distilled from a frozen teacher, phase by phase; best by MLM accuracy."""

    name, batch_key = "student", "distill.batch_size"

    def __init__(self, run: Path, cfg: RunConfig, teacher_run: Path):
        self.cfg, self.teacher_run = cfg, Path(teacher_run)
        self.batch_size, self.clip_norm = cfg.distill.batch_size, cfg.distill.optimizer.clip_norm
        self.teacher_cfg = load_run_config(self.teacher_run)
        self.teacher_kind = teacher_class(self.teacher_cfg)
        self.layer_map = self.teacher_kind.check(self.teacher_cfg, cfg)
        self.teacher_path = self.teacher_kind.locate(self.teacher_run, cfg.distill.teacher_stage)
        self.stages = build_schedule(cfg.distill, cfg.encoder.num_layers, self.layer_map)
        previous = latest_checkpoint(StageDir(Path(run), "student").checkpoints)
        if previous:  # before any model is built: a changed schedule is a quick, clear error
            check_same_schedule(Path(run) / "student" / "schedule.json", self.stages, checkpoint_step(previous))

    def prepare(self, ctx: StageContext) -> None:
        if ctx.dist.is_chief and reuse_pretraining_data(self.teacher_run, ctx.run, self.teacher_cfg, self.cfg):
            ctx.say(f"Using the teacher's prepared data (copied from {self.teacher_run / 'data' / 'pretrain'}).")
        self.data_dir = ensure_pretraining_data(ctx.run, self.cfg, ctx.say)

    def build_model(self, ctx: StageContext):
        with ctx.trained_precision():
            self.student = build_pretrainer(self.cfg.encoder, name="student")
        self.teacher = self.teacher_kind.load(self.teacher_path, self.teacher_cfg)  # frozen: float32
        self.distiller = Distiller(self.student, self.teacher, self.cfg, self.layer_map)
        for line in self.teacher.notes(self.cfg, self.layer_map):
            ctx.say(line)
        return self.student.model

    def phases(self) -> list:
        return self.stages

    def resume_message(self, latest: str, step: int) -> str:
        current = self.stages[min(phase_at(self.stages, step), len(self.stages) - 1)]
        return f"Resuming the student from {latest}: step {step}, stage {current.name}."

    def initialize(self, ctx: StageContext) -> None:
        copied, what = self.teacher.init_student(self.student, self.cfg)
        if ctx.dist.is_chief:
            write_json(ctx.stage.path / "init.json", {"teacher": str(self.teacher.source), "copied": copied,
                                                      "what": what})
        ctx.say(f"Student initialised from {self.teacher.source}: {what}.")

    def on_start(self, ctx: StageContext, step: int) -> None:
        self.on_checkpoint(ctx, step)

    def on_checkpoint(self, ctx: StageContext, step: int) -> None:
        if ctx.dist.is_chief:
            write_json(ctx.stage.path / "schedule.json",
                       schedule_record(self.cfg.distill.strategy, self.stages, step, self.layer_map))

    def create_optimizers(self, ctx: StageContext, phase) -> tuple[list, dict]:
        d = self.cfg.distill
        trained, lower = stage_variables(self.student, phase)
        opt = build_optimizer(d.optimizer, phase.steps, "lamb")
        groups, optimizers = [(opt, trained)], {f"optimizer_{phase.name}": opt}
        if lower and d.lower_layer_lr_scale > 0:
            low = build_optimizer(d.optimizer, phase.steps, "lamb", lr_scale=d.lower_layer_lr_scale)
            groups.append((low, lower))
            optimizers[f"optimizer_{phase.name}_lower"] = low
        return groups, optimizers

    def build_inputs(self, ctx: StageContext, phase, input_context, batch_size: int, seed: int):
        return pretraining_dataset(self.data_dir, self.cfg, "train", batch_size, training=True,
                                   input_context=input_context, seed=seed)

    def build_losses(self, ctx: StageContext, phase):
        return self.distiller.loss_fn(phase), self.distiller.teacher_fn(phase)

    def best_metric(self, phase) -> str | None:
        return "mlm_accuracy" if phase.kind in ("distill", "auxiliary") else None

    def evaluate(self, ctx: StageContext) -> dict:
        return evaluate_heldout(self.student.model, self.data_dir, self.cfg, ctx.per_replica,
                                self.cfg.train.eval_steps)

    def summary(self) -> dict:
        return {"strategy": self.cfg.distill.strategy}


def train_student(run: str | Path, cfg: RunConfig, teacher_run: str | Path, *, distribution: str = "default",
                  progress: bool = True, say=print) -> dict:
    """Distils (or resumes distilling) the student into runs/NAME/student; returns a summary."""
    return run_stage(StudentTask(Path(run), cfg, Path(teacher_run)), run, cfg, distribution=distribution,
                     progress=progress, say=say)
