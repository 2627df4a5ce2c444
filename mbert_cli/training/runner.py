"""One stage runner: a stage says *what* it trains (a `StageTask`), `run_stage` owns *how*.

As in tf-models' `official/core` (`base_task.Task` + trainer): a task builds its model,
initialises it, builds inputs, losses and evaluation; `run_stage` owns everything around
them, in this order, for every stage (teacher, student, fine-tuning):
distribution -> batch check -> run lock + config check -> precision policy -> task data ->
config.yaml -> stage folder -> seed -> model + step variable (in the strategy scope) -> resume or
initialise -> per phase: optimizers, resume, data replay, train step, the step loop
(progress, checkpoints, best, NaN stop, Ctrl-C) -> final evaluation -> summary.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tensorflow as tf

from mbert_cli.config.run import RunConfig
from mbert_cli.training.checkpoints import checkpoint_step, latest_checkpoint
from mbert_cli.training.distribute import Distribution, check_batch, make_distribution
from mbert_cli.training.inputs import replay_position, skip_steps
from mbert_cli.training.loop import Phase, Trainer, make_train_step
from mbert_cli.training.precision import precision_policy, run_policy
from mbert_cli.training.progress import Progress
from mbert_cli.training.run_dir import StageDir
from mbert_cli.training.session import RunGuard, seed_everything, weights_digest


@dataclass(frozen=True)
class Span:
    """Global steps [start, end) of one phase (the student's `StageSpec` has the same fields)."""

    name: str
    start: int
    end: int

    @property
    def steps(self) -> int:
        return self.end - self.start


@dataclass
class StageContext:
    """What `run_stage` has set up, handed to every task hook."""

    run: Path
    cfg: RunConfig
    dist: Distribution
    per_replica: int  # per-replica batch (evaluation batches)
    policy: str | None
    say: Callable[[str], None]
    stage: StageDir
    step_var: Any = None  # the int64 global step, once the model is built

    def trained_precision(self) -> AbstractContextManager:
        """Build the *trained* model's layers inside this (bfloat16 where the hardware has it)."""
        return precision_policy(self.policy)


class StageTask:
    """What one stage trains. Subclasses set the attributes and override the hooks they need.

    Attributes:
      name: the stage folder (`teacher`, `student`, `finetune-<task>`) and summary name.
      batch_size, batch_key: the global batch and the config key named in errors.
      clip_norm: global gradient-norm clip (0 = off).
      final_eval_always: evaluate at the end even when a finished stage is rerun.
      resuming: what the resume line calls the stage ("the teacher").
      log_every, checkpoint_every: the stage's own intervals (None: train.log_every /
        train.checkpoint_every of the run's config).
    """

    name: str
    batch_size: int
    batch_key: str
    resuming: str = "the stage"
    clip_norm: float = 0.0
    final_eval_always: bool = False
    log_every: int | None = None
    checkpoint_every: int | None = None

    def prepare(self, ctx: StageContext) -> None:
        """Task data (may write under runs/NAME/data) and the config settings it decides (classes,
        task); runs under the run lock, before config.yaml and the stage folder are written."""

    def build_model(self, ctx: StageContext):
        """The trained Keras model (checkpointed as `model`); called in the strategy scope."""
        raise NotImplementedError

    def phases(self) -> list:
        """The phases, objects with `name`, `start`, `end` over consecutive global steps."""
        raise NotImplementedError

    def initialize(self, ctx: StageContext) -> None:
        """A fresh start (no checkpoint): load pre-trained weights, say where they came from."""

    def resume_message(self, latest: str, step: int) -> str:
        return f"Resuming {self.resuming} from {latest} (step {step}/{self.phases()[-1].end})."

    def check_resumable(self, stage: StageDir) -> None:
        """Before anything is written: refuse to continue a stage whose checkpoints cannot
        carry this config (raise MbertError). Most settings may change on a resume."""

    def on_start(self, ctx: StageContext, step: int) -> None:
        """After resume-or-initialise: write the stage's records (chief only)."""

    def on_checkpoint(self, ctx: StageContext, step: int) -> None:
        """After each checkpoint is saved."""

    def create_optimizers(self, ctx: StageContext, phase) -> tuple[list, dict]:
        """([(optimizer, variables)], {checkpoint key: optimizer}); called in the strategy scope."""
        raise NotImplementedError

    def build_inputs(self, ctx: StageContext, phase, input_context, batch_size: int, seed: int):
        """This input pipeline's shuffled, repeated, sharded training batches (before replay skipping)."""
        raise NotImplementedError

    def build_losses(self, ctx: StageContext, phase) -> tuple[Callable, Callable | None]:
        """(loss_fn, targets_fn): see `loop.make_train_step`."""
        raise NotImplementedError

    def best_metric(self, phase) -> str | None:
        """The eval key that picks the best checkpoint in `phase`; None = no evaluation in it."""
        return None

    def evaluate(self, ctx: StageContext) -> dict:
        return {}

    def summary(self) -> dict:
        """Extra summary keys (after `stage`)."""
        return {}


def phase_at(phases: list, step: int) -> int:
    """Index of the phase that trains global step `step` + 1 (len(phases) when finished)."""
    for i, p in enumerate(phases):
        if step < p.end:
            return i
    return len(phases)


def run_stage(task: StageTask, run: str | Path, cfg: RunConfig, *, distribution: str = "default",
              progress: bool = True, say=print) -> dict:
    """Trains (or resumes) `task` in runs/NAME/<task.name>; returns the summary dict."""
    run = Path(run)
    started = time.time()
    dist = make_distribution(distribution)  # first: MultiWorkerMirrored must come before other TF work
    per_replica = check_batch(task.batch_size, dist, task.batch_key)
    stage = StageDir(run, task.name)
    task.check_resumable(stage)
    with RunGuard(run, cfg, dist.is_chief) as guard:
        policy = run_policy(cfg.train.mixed_precision, say)
        ctx = StageContext(run, cfg, dist, per_replica, policy, say, stage)
        task.prepare(ctx)
        guard.save_config()  # with what the task's data decided (classes, task)
        ctx.stage.make()
        seed_everything(cfg.seed)
        with dist.strategy.scope():
            model = task.build_model(ctx)
            ctx.step_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
        phases = task.phases()
        trainer = Trainer(ctx.stage, model, ctx.step_var, dist, log_every=task.log_every or cfg.train.log_every,
                          checkpoint_every=task.checkpoint_every or cfg.train.checkpoint_every,
                          examples_per_step=task.batch_size,
                          progress=Progress(cfg.train.log_every, enabled=progress and dist.is_chief),
                          on_checkpoint=lambda step: task.on_checkpoint(ctx, step))
        latest = latest_checkpoint(ctx.stage.checkpoints)
        first = checkpoint_step(latest) if latest else 0
        if latest:
            say(task.resume_message(latest, first))
        else:
            task.initialize(ctx)
        task.on_start(ctx, first)
        try:
            for phase in phases[phase_at(phases, first):]:
                with dist.strategy.scope():
                    groups, optimizers = task.create_optimizers(ctx, phase)
                if latest:  # the first phase run restores model, step and its optimizers
                    trainer.resume(latest, optimizers)
                    latest = None
                trainer.run(_phase(task, ctx, phase, groups, optimizers))
            if latest:  # a finished stage run again: its summary and evaluation are of the trained model
                trainer.resume(latest, {})
        finally:
            trainer.close()
        end = phases[-1].end
        final = task.evaluate(ctx) if first < end or task.final_eval_always else {}
    return {"stage": task.name, **task.summary(), "steps": end, "resumed_from": first,
            "seconds": round(time.time() - started, 1), "eval": final, "checkpoints": str(ctx.stage.checkpoints),
            "weights_sha256": weights_digest(model)}


def _phase(task: StageTask, ctx: StageContext, phase, groups, optimizers) -> Phase:
    """The loop's Phase: input replayed to the current step, the train step, evaluation."""
    # Each phase shuffles with its own seed (cfg.seed + its first step); a phase resumed
    # midway replays to where it stopped.
    seed_offset, skip = replay_position(int(ctx.step_var.numpy()) - phase.start, task.batch_size, ctx.say)
    seed = ctx.cfg.seed + phase.start + seed_offset

    def train_input(input_context):
        batch = input_context.get_per_replica_batch_size(task.batch_size)
        return skip_steps(task.build_inputs(ctx, phase, input_context, batch, seed), skip, input_context)

    iterator = iter(ctx.dist.strategy.distribute_datasets_from_function(train_input))
    loss_fn, targets_fn = task.build_losses(ctx, phase)
    step_fn = make_train_step(ctx.dist, iterator, loss_fn, groups, task.clip_norm, targets_fn=targets_fn)
    best = task.best_metric(phase)
    return Phase(phase.name, phase.start, phase.end, step_fn, optimizers,
                 (lambda: task.evaluate(ctx)) if best else None, best)


def shard(ds, input_context):
    """One shard per input pipeline (in-memory task data; TFRecord readers shard by file)."""
    if input_context.num_input_pipelines > 1:
        return ds.shard(input_context.num_input_pipelines, input_context.input_pipeline_id)
    return ds
