"""`mbert train finetune`: task fine-tuning with AdamW, optionally with task distillation.

Starts from a pre-trained stage (`--init runs/NAME/student` or `.../teacher`): the encoder
weights come from that stage's latest checkpoint, the task head is new. With
`--distill-from RUN` the loss is (1 - w) * cross-entropy + w * KD against the
fine-tuned model of RUN (same task), w = finetune.distill_weight (0.5 when unset).
Writes runs/NAME/finetune-<task>/ (checkpoints, best by validation accuracy/F1, metrics).
"""

from __future__ import annotations

import math
import time
from dataclasses import replace
from pathlib import Path

from mbert_cli.config.run import RunConfig
from mbert_cli.config.training import OptimizerConfig
from mbert_cli.errors import MbertError
from mbert_cli.training.checkpoints import latest_checkpoint, restore, restore_for_inference, stage_checkpoint_path
from mbert_cli.training.distribute import check_batch, make_distribution
from mbert_cli.training.loop import Phase, Trainer, make_train_step
from mbert_cli.training.precision import precision_policy, run_policy
from mbert_cli.training.progress import Progress
from mbert_cli.training.run_dir import StageDir, write_json
from mbert_cli.training.session import (
    MODEL_INPUTS,
    RunGuard,
    build_pretrainer,
    model_inputs,
    seed_everything,
    weights_digest,
)

TASKS = ("classification", "squad")


def split_init(init: str | Path) -> tuple[Path, str]:
    """'runs/s/student' -> (runs/s, 'student'), checked."""
    init = Path(init)
    if init.name not in ("teacher", "student"):
        raise MbertError(f"--init {init} is not a pre-training stage folder",
                         hint="point --init at runs/NAME/student or runs/NAME/teacher")
    if not (init.parent / "config.yaml").is_file():
        raise MbertError(f"no config.yaml in {init.parent}", hint="point --init at a stage of a run made by `mbert train`")
    return init.parent, init.name


def train_finetune(run: str | Path, cfg: RunConfig, init: str | Path | None, task: str = "classification", *,
                   data: str | None = None, distill_from: str | Path | None = None, distribution: str = "default",
                   progress: bool = True, say=print) -> dict:
    """Fine-tunes (or resumes) `task` from the `init` stage; returns a summary with validation metrics.

    `init=None` fine-tunes from random weights: the from-scratch baseline that shows what
    pre-training and distillation are worth (classification only).
    """
    if task not in TASKS:
        raise MbertError(f"unknown task {task!r}", hint=f"choose one of: {', '.join(TASKS)}")
    if task == "squad" and init is None:
        raise MbertError("SQuAD fine-tuning needs a pre-trained stage", hint="pass --init runs/NAME/student")
    if task == "squad":
        from mbert_cli.training.squad import train_squad  # noqa: PLC0415

        return train_squad(run, cfg, init, data=data, distribution=distribution, progress=progress, say=say)
    import tensorflow as tf  # noqa: PLC0415

    from mbert_cli.modeling.models import build_classifier  # noqa: PLC0415
    from mbert_cli.training import losses  # noqa: PLC0415
    from mbert_cli.training.evaluate import evaluate_classification  # noqa: PLC0415
    from mbert_cli.training.inputs import classification_data, replay_position, skip_steps  # noqa: PLC0415

    run = Path(run)
    started = time.time()
    init_path = None
    if init is not None:
        init_run, init_stage = split_init(init)
        init_path = stage_checkpoint_path(init_run, init_stage, "latest")
    ft = cfg.finetune
    train, validation, labels, make = classification_data(cfg, data, ft.max_examples)
    cfg.finetune.task, cfg.finetune.num_classes = task, len(labels)
    if data:
        cfg.data.task_data = str(data)
    dist = make_distribution(distribution)
    per_replica = check_batch(ft.batch_size, dist, "finetune.batch_size")
    steps = ft.steps or max(1, math.ceil(ft.epochs * len(train) / ft.batch_size))
    weight = ft.distill_weight or (0.5 if distill_from else 0.0)
    with RunGuard(run, cfg, dist.is_chief):
        stage = StageDir(run, f"finetune-{task}").make()
        seed_everything(cfg.seed)
        teacher = None
        if distill_from:
            teacher_cfg, teacher, _ = restore_for_inference(distill_from, f"finetune-{task}")
            if teacher_cfg.finetune.num_classes != len(labels):
                raise MbertError(f"--distill-from {distill_from} predicts {teacher_cfg.finetune.num_classes} classes, "
                                 f"this task has {len(labels)}", hint="distill from a model fine-tuned on the same data")
        policy = run_policy(cfg.train.mixed_precision, say)
        with dist.strategy.scope():
            with precision_policy(policy):
                pm = build_pretrainer(cfg.encoder)
                model, _ = build_classifier(cfg.encoder, len(labels), encoder=pm.encoder)
            step_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
            opt = task_optimizer(cfg, steps)
        trainer = task_trainer(cfg, stage, model, step_var, dist, progress)
        latest = resume_or_init(trainer, stage, opt, pm, init_path)
        if latest:
            say(f"Resuming fine-tuning from {latest} (step {int(step_var.numpy())}/{steps}).")
        else:
            say(f"Fine-tuning {task} from {init_path or 'random weights'} "
                f"({len(train)} train / {len(validation)} validation examples).")
        if dist.is_chief:
            write_json(stage.path / "task.json", {"task": task, "labels": labels, "init": str(init_path) if init_path else "random",
                                                  "distill_from": str(distill_from) if distill_from else None,
                                                  "distill_weight": weight, "steps": steps})
        first = int(step_var.numpy())

        seed_offset, skip = replay_position(first, ft.batch_size, say)

        def train_input(ctx):
            ds = make(train, ctx.get_per_replica_batch_size(ft.batch_size), True, cfg.seed + seed_offset)
            if ctx.num_input_pipelines > 1:
                ds = ds.shard(ctx.num_input_pipelines, ctx.input_pipeline_id)
            return skip_steps(ds, skip, ctx)

        iterator = iter(dist.strategy.distribute_datasets_from_function(train_input))

        def teacher_fn(batch):
            return teacher(model_inputs(batch[0], MODEL_INPUTS), training=False)["logits"]

        def loss_fn(batch, teacher_logits=None):
            features, y = batch
            inputs = model_inputs(features, MODEL_INPUTS)
            logits = model(inputs, training=True)["logits"]
            ce = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=tf.cast(tf.reshape(y, [-1]), tf.int32), logits=tf.cast(logits, tf.float32)))
            acc = tf.reduce_mean(tf.cast(tf.equal(tf.argmax(logits, -1, output_type=tf.int32),
                                                  tf.cast(tf.reshape(y, [-1]), tf.int32)), tf.float32))
            terms = {"cross_entropy": ce, "accuracy": acc, "loss": ce}
            if teacher_logits is not None:
                kd = losses.classification_kd(logits, teacher_logits)
                terms.update(kd=kd, loss=(1.0 - weight) * ce + weight * kd)
            return terms

        def eval_fn():
            return evaluate_classification(model, make(validation, per_replica, False))

        step_fn = make_train_step(dist, iterator, loss_fn, [(opt, model.trainable_variables)],
                                  cfg.train.optimizer.clip_norm, step_var,
                                  targets_fn=teacher_fn if teacher is not None else None)
        phase = Phase(f"finetune-{task}", 0, steps, step_fn, {"optimizer": opt}, eval_fn, best_metric="accuracy")
        try:
            trainer.run(phase)
        finally:
            trainer.close()
        final = eval_fn()
    return {"stage": f"finetune-{task}", "steps": steps, "resumed_from": first,
            "seconds": round(time.time() - started, 1), "eval": final, "checkpoints": str(stage.checkpoints),
            "weights_sha256": weights_digest(model)}


def resume_or_init(trainer, stage, opt, pretrainer, init_path):
    """Resumes the stage from its latest checkpoint, else loads the pre-trained weights (if any).

    Returns the checkpoint resumed from, or None for a fresh start (both tasks share this).
    """
    import tensorflow as tf  # noqa: PLC0415

    latest = latest_checkpoint(stage.checkpoints)
    if latest:
        trainer.resume(latest, {"optimizer": opt})
    elif init_path is not None:
        restore(tf.train.Checkpoint(model=pretrainer.model), init_path)
    return latest


def task_optimizer(cfg: RunConfig, steps: int):
    """AdamW with warm-up over `finetune.warmup_fraction` of the steps, then decay (both tasks)."""
    from mbert_cli.training.optim import build_optimizer  # noqa: PLC0415

    ft = cfg.finetune
    return build_optimizer(OptimizerConfig(learning_rate=ft.learning_rate, weight_decay=ft.weight_decay,
                                           clip_norm=cfg.train.optimizer.clip_norm),
                           steps, "adamw", warmup_steps=int(ft.warmup_fraction * steps))


def task_trainer(cfg: RunConfig, stage, model, step_var, dist, progress: bool):
    """The loop driver for a fine-tuning stage (logging, checkpoints, progress on the chief)."""
    return Trainer(stage, model, step_var, dist, log_every=cfg.train.log_every,
                   checkpoint_every=cfg.train.checkpoint_every, examples_per_step=cfg.finetune.batch_size,
                   progress=Progress(cfg.train.log_every, enabled=progress and dist.is_chief))


def finetune_config(base: RunConfig, overrides) -> RunConfig:
    """Applies --set overrides to a loaded run config (validated)."""
    from mbert_cli.config.overrides import apply_set  # noqa: PLC0415

    cfg = replace(base)
    for item in overrides:
        apply_set(cfg, item)
    cfg.validate()
    return cfg
