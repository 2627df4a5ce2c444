"""`mbert train teacher`: MLM + NSP pre-training of the IB-BERT teacher (the BERT recipe).

Neither reference ships this step; here it is LAMB with linear warm-up and decay from
`official.modeling.optimization`, global-norm gradient clipping, and mixed precision only
where a GPU/TPU has fast low-precision math.
"""

from __future__ import annotations

import time
from pathlib import Path

from mbert_cli.config.run import RunConfig
from mbert_cli.training.checkpoints import latest_checkpoint
from mbert_cli.training.distribute import check_batch, make_distribution
from mbert_cli.training.inputs import ensure_pretraining_data, pretraining_dataset, replay_position, skip_steps
from mbert_cli.training.loop import Phase, Trainer, make_train_step
from mbert_cli.training.precision import precision_policy, run_policy
from mbert_cli.training.progress import Progress
from mbert_cli.training.run_dir import StageDir
from mbert_cli.training.session import RunGuard, build_pretrainer, model_inputs, seed_everything, weights_digest


def train_teacher(run: str | Path, cfg: RunConfig, *, distribution: str = "default", progress: bool = True,
                  say=print) -> dict:
    """Pre-trains (or resumes) the teacher in runs/NAME/teacher; returns a summary dict."""
    import tensorflow as tf  # noqa: PLC0415

    from mbert_cli.training import losses  # noqa: PLC0415
    from mbert_cli.training.evaluate import evaluate_pretraining  # noqa: PLC0415
    from mbert_cli.training.optim import build_optimizer  # noqa: PLC0415

    run = Path(run)
    started = time.time()
    dist = make_distribution(distribution)  # first: MultiWorkerMirrored must come before other TF work
    per_replica = check_batch(cfg.train.batch_size, dist, "train.batch_size")
    with RunGuard(run, cfg, dist.is_chief):
        policy = run_policy(cfg.train.mixed_precision, say)
        data_dir = ensure_pretraining_data(run, cfg, say)
        stage = StageDir(run, "teacher").make()
        seed_everything(cfg.seed)
        total = cfg.train.steps
        with dist.strategy.scope():
            with precision_policy(policy):
                pm = build_pretrainer(cfg.encoder)
            step_var = tf.Variable(0, dtype=tf.int64, trainable=False, name="global_step")
            opt = build_optimizer(cfg.train.optimizer, total, "lamb")
        trainer = Trainer(stage, pm.model, step_var, dist, log_every=cfg.train.log_every,
                          checkpoint_every=cfg.train.checkpoint_every, examples_per_step=cfg.train.batch_size,
                          progress=Progress(cfg.train.log_every, enabled=progress and dist.is_chief))
        latest = latest_checkpoint(stage.checkpoints)
        if latest:
            trainer.resume(latest, {"optimizer": opt})
            say(f"Resuming the teacher from {latest} (step {int(step_var.numpy())}/{total}).")
        first = int(step_var.numpy())

        seed_offset, skip = replay_position(first, cfg.train.batch_size, say)

        def train_input(ctx):
            ds = pretraining_dataset(data_dir, cfg, "train", ctx.get_per_replica_batch_size(cfg.train.batch_size),
                                     training=True, input_context=ctx, seed=cfg.seed + seed_offset)
            return skip_steps(ds, skip, ctx)

        iterator = iter(dist.strategy.distribute_datasets_from_function(train_input))

        def loss_fn(batch):
            return losses.pretraining_loss(pm.model(model_inputs(batch), training=True), batch)

        def eval_fn():
            ds = pretraining_dataset(data_dir, cfg, "eval", per_replica, training=False)
            return evaluate_pretraining(pm.model, ds, cfg.train.eval_steps)

        step_fn = make_train_step(dist, iterator, loss_fn, [(opt, pm.model.trainable_variables)],
                                  cfg.train.optimizer.clip_norm, step_var)
        phase = Phase("teacher", 0, total, step_fn, {"optimizer": opt}, eval_fn, best_metric="mlm_accuracy")
        try:
            trainer.run(phase)
        finally:
            trainer.close()
        final = eval_fn() if first < total or not latest else {}
    return {"stage": "teacher", "steps": total, "resumed_from": first, "seconds": round(time.time() - started, 1),
            "eval": final, "checkpoints": str(stage.checkpoints), "weights_sha256": weights_digest(pm.model)}
