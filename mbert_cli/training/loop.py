"""The step loop shared by every stage: steps, logging, checkpoints, best, NaN stop.

A stage is one or more `Phase`s over consecutive global steps (the student has one phase
per distillation stage). The loop owns the global step variable, checkpoints it with the
model and the phase's optimizers, logs each loss term, the learning rate and examples/s,
and stops on a non-finite loss without saving (so the last good checkpoint stays latest).

Ctrl-C and SIGTERM stop at a step boundary and checkpoint that step (`Trainer._save_on_stop`),
in one process and in a multi-worker run alike: there the workers vote after every step
(`distribute.make_stop_vote`), so a signal to any one worker makes all of them stop at the
same step and save it together.
"""

from __future__ import annotations

import math
import os
import signal
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import tensorflow as tf

from mbert_cli import interrupts
from mbert_cli.errors import MbertError, first_line
from mbert_cli.training.checkpoints import restore
from mbert_cli.training.distribute import Distribution, make_stop_vote
from mbert_cli.training.optim import current_lr
from mbert_cli.training.progress import Progress
from mbert_cli.training.run_dir import MetricsLog, StageDir, read_json, write_json


@dataclass
class Phase:
    """Global steps [start, end) trained by one step function with its own optimizers."""

    name: str
    start: int
    end: int
    step_fn: Callable[[], dict]
    optimizers: dict  # checkpoint key -> optimizer
    eval_fn: Callable[[], dict] | None = None
    best_metric: str | None = None  # eval key; higher is better


def signal_name(signum: int) -> str:
    return signal.Signals(signum).name


def make_train_step(dist: Distribution, iterator, loss_fn, groups, clip_norm: float, targets_fn=None,
                    jit_compile: bool = False, sparse_grads: bool = False):
    """A tf.function running one distributed step.

    Args:
      loss_fn: batch -> dict of scalar tensors with 'loss' (the per-replica mean); with
        `targets_fn`, (batch, targets) -> that dict.
      targets_fn: batch -> targets computed OUTSIDE the gradient tape (a frozen teacher's
        outputs): run inside the tape, a frozen model's forward pass also records what a
        backward pass would need, which roughly doubles its cost (studies/train_distill_step.py).
      groups: [(optimizer, [variables])]; each optimizer updates only its variables
        (frozen variables are in no group, soft-frozen ones in a lower-LR group).
      clip_norm: global gradient-norm clip over all groups (0 = off), applied after the
        cross-replica sum so every replica clips by the same norm.
      jit_compile: compile each replica's step with XLA (one replica only; the iterator stays
        outside). Off everywhere: slower on the AVX2 CPUs measured (benchmarks/train_speed.py --lever xla).
      sparse_grads: keep an embedding's gradient as the rows the batch touched (duplicates
        summed, so the norm and clipping are the dense ones) instead of a dense [vocab, width]
        matrix; one replica only. The optimizer then takes its sparse path, which in tf-models'
        AdamW still passes over the whole table, unfused: off everywhere, slower on the AVX2 CPUs
        measured (benchmarks/train_speed.py --lever sparse). `finetune.freeze_word_embeddings`
        is the lever that removes that pass.
    """
    strategy = dist.strategy
    replicas = strategy.num_replicas_in_sync
    variables = [v for _, vs in groups for v in vs]
    if not variables:
        raise ValueError("no trainable variables in this phase")

    def replica_step(batch):
        targets = None
        if targets_fn is not None:
            targets = tf.nest.map_structure(tf.stop_gradient, targets_fn(batch))
        with tf.GradientTape() as tape:
            terms = dict(loss_fn(batch) if targets_fn is None else loss_fn(batch, targets))
            scaled = terms["loss"] / replicas
        grads = tape.gradient(scaled, variables, unconnected_gradients=tf.UnconnectedGradients.ZERO)
        keep_sparse = sparse_grads and replicas == 1
        grads = [summed_slices(g) if keep_sparse and isinstance(g, tf.IndexedSlices) else tf.convert_to_tensor(g)
                 for g in grads]
        if replicas > 1:
            grads = tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, grads)
        norm = tf.linalg.global_norm(grads)
        if clip_norm and clip_norm > 0:
            grads, _ = tf.clip_by_global_norm(grads, clip_norm, use_norm=norm)
        i = 0
        for opt, vs in groups:
            opt.apply_gradients(zip(grads[i:i + len(vs)], vs, strict=True), experimental_aggregate_gradients=False)
            i += len(vs)
        terms["grad_norm"] = norm
        return terms

    if jit_compile and replicas == 1:
        replica_step = tf.function(replica_step, jit_compile=True)

    @tf.function
    def step():
        per_replica = strategy.run(replica_step, args=(next(iterator),))
        return {k: strategy.reduce(tf.distribute.ReduceOp.MEAN, v, axis=None) for k, v in per_replica.items()}

    return step


def summed_slices(grad: tf.IndexedSlices) -> tf.IndexedSlices:
    """`grad` with one row per distinct index (repeated tokens' rows summed): its global norm
    then equals the dense gradient's, so clipping is unchanged."""
    unique, position = tf.unique(grad.indices)
    values = tf.math.unsorted_segment_sum(grad.values, position, tf.shape(unique)[0])
    return tf.IndexedSlices(values, unique, grad.dense_shape)


class Trainer:
    """Runs phases of one stage folder, saving checkpoints and metrics as it goes."""

    def __init__(self, stage: StageDir, model, step_var, dist: Distribution, *, log_every: int,
                 checkpoint_every: int, examples_per_step: int, progress: Progress,
                 on_checkpoint: Callable[[int], None] | None = None, keep: int = 2):
        self.stage, self.model, self.step_var, self.dist = stage, model, step_var, dist
        self.log_every, self.checkpoint_every = max(1, log_every), max(1, checkpoint_every)
        self.examples_per_step = examples_per_step
        self.progress = progress
        self.metrics = MetricsLog(stage, enabled=dist.is_chief)
        self.on_checkpoint = on_checkpoint
        self.keep = keep
        self._scratch = None if dist.is_chief else tempfile.mkdtemp(prefix="mbert-worker-")
        # Several processes: a stop must be agreed on (see `_save_on_stop`); one process decides alone.
        self._vote = make_stop_vote(dist) if dist.name == "multiworker" else None

    def _dir(self, sub) -> str:
        if self._scratch is None:
            return str(sub)
        return os.path.join(self._scratch, os.path.relpath(str(sub), str(self.stage.run)))

    def checkpoint(self, optimizers: dict):
        return tf.train.Checkpoint(model=self.model, step=self.step_var, **optimizers)

    def resume(self, path: str, optimizers: dict) -> None:
        """Restores model, step and whichever of `optimizers` the checkpoint holds."""
        restore(self.checkpoint(optimizers), path)

    def run(self, phase: Phase) -> dict:
        """Trains from the current global step to phase.end; returns the last logged values."""
        ckpt = self.checkpoint(phase.optimizers)
        manager = tf.train.CheckpointManager(ckpt, self._dir(self.stage.checkpoints), max_to_keep=self.keep,
                                             step_counter=self.step_var)
        best_manager = None
        if phase.eval_fn is not None and phase.best_metric:
            best_manager = tf.train.CheckpointManager(ckpt, self._dir(self.stage.best), max_to_keep=1,
                                                      step_counter=self.step_var)
        step = int(self.step_var.numpy())
        first = step
        self.progress.start(phase.name, phase.start, phase.end, step)
        t0, last = time.time(), {}
        interrupts.deferring(True)  # Ctrl-C/SIGTERM stop at the next step boundary, saved there
        try:
            while step < phase.end:
                if self._vote is None:
                    interrupts.check()  # Ctrl-C whose KeyboardInterrupt a finaliser swallowed
                out = phase.step_fn()
                values = {k: float(v) for k, v in out.items()}
                step += 1
                if not math.isfinite(values["loss"]):
                    raise self._nonfinite(phase, step, values, manager)
                self.step_var.assign(step)
                self.progress.update(step, {"loss": values["loss"]})
                if step % self.log_every == 0 or step == phase.end:
                    opt = next(iter(phase.optimizers.values()))
                    values["lr"] = current_lr(opt)
                    values["examples_per_s"] = (step - first) * self.examples_per_step / max(time.time() - t0, 1e-9)
                    self.metrics.log(step, values, phase=phase.name)
                    last = values
                if step % self.checkpoint_every == 0 or step == phase.end:
                    manager.save(checkpoint_number=step)
                    if phase.eval_fn is not None:
                        self._evaluate(phase, step, best_manager)
                    if self.on_checkpoint:
                        self.on_checkpoint(step)
                if self._vote is not None:
                    self._stop_together()
            if self._vote is None:
                interrupts.check()  # a stop during the phase's last step stops here, not in the next stage
        except interrupts.StopRequested as stop:
            self._save_on_stop(manager, step, stop)
            raise
        finally:
            interrupts.deferring(False)
            self.progress.stop()
        return last

    def _stop_together(self) -> None:
        """Multi-worker: raises StopRequested on every worker at once if any worker got a signal."""
        signum = self._vote(interrupts.requested() or 0)
        if signum:
            raise interrupts.StopRequested(signum, at_boundary=True)

    def _save_on_stop(self, manager, step: int, stop: interrupts.StopRequested) -> None:
        """Checkpoints the step reached when a stop signal arrived, so the rerun resumes there.

        Only at a step boundary, where model, optimizer and step counter agree. One process
        (default, mirrored) decides alone. Under MultiWorkerMirroredStrategy a save is
        collective and a SIGTERM reaches one worker, so the workers vote after every step
        (`make_stop_vote`: one scalar all-reduce); all of them raise at the same boundary and
        save that step together (the chief into the run folder, the others into scratch).
        The strategy's start replaces Python's SIGTERM handler with TensorFlow's own (which
        only records the signal; training ran on), so `make_distribution` re-arms mbert's.
        A second signal, or one outside the step loop (data set-up, evaluation), still ends
        that worker at once; its peers then fail at their next collective, and the rerun
        resumes from the last checkpoint.

        Why not `tf.distribute.experimental.PreemptionCheckpointHandler` (read in TF 2.20):
        fitting it needs a decoy checkpoint (it adds its own `checkpointed_runs` counter and
        restores it per worker, so a non-chief worker's scratch folder would count from 0
        while the chief's resumes), private methods to stop its two threads at a normal end,
        and it can serve one stage per process only (its coordination-service keys are
        cluster-wide and never cleared); above all, on a GCP CPU VM or Cloud TPU
        (`detect_platform()` -> GCE_CPU/GCE_TPU) its `run()`/`save_checkpoint_if_preempted()`
        do nothing, so a rented machine would silently get no save. The vote is a few lines,
        works wherever the collectives do, and keeps mbert's periodic and best checkpoints,
        resume, exit code and message unchanged.

        TPU (untested: no TPU here): TPUStrategy runs one Python client that does every save,
        so the one-process path applies when the SIGTERM reaches that client; a signal to
        another host of a pod slice is not seen by mbert (the TPU runtime fails the step, and
        the rerun resumes from the last periodic checkpoint). If the save itself fails (a
        preempted accelerator already gone) the message says so and the last checkpoint stays.
        """
        if not stop.at_boundary:
            return
        if manager.latest_checkpoint and manager.latest_checkpoint.endswith(f"-{step}"):
            stop.detail = f"checkpoint of step {step} kept"
            return
        try:
            manager.save(checkpoint_number=step)
        except tf.errors.OpError as err:
            stop.detail = f"no checkpoint could be saved at step {step} ({first_line(err)}); " \
                          "the rerun resumes from the last one"
            return
        if self.on_checkpoint:
            self.on_checkpoint(step)
        self.metrics.log(step, {"stopped": signal_name(stop.signum)}, kind="stop")
        stop.detail = f"checkpoint saved at step {step}"

    def _evaluate(self, phase: Phase, step: int, best_manager) -> None:
        results = phase.eval_fn()
        self.metrics.log(step, results, kind="eval", phase=phase.name)
        self.progress.note(f"[{phase.name}] eval at step {step}: "
                           + ", ".join(f"{k} {v:.4g}" for k, v in results.items() if isinstance(v, float)))
        if best_manager is None or phase.best_metric not in results:
            return
        # Each worker keeps its own record (non-chief ones in their scratch folder), so every
        # worker takes the same decision and saves together.
        record_path = Path(self._dir(self.stage.best)) / "best.json"
        record = read_json(record_path) or {}
        value = float(results[phase.best_metric])
        if record.get("metric") != phase.best_metric or value > float(record.get("value", -math.inf)):
            best_manager.save(checkpoint_number=step)
            write_json(record_path, {"metric": phase.best_metric, "value": value, "step": step, "stage": phase.name})

    def _nonfinite(self, phase: Phase, step: int, values: dict, manager) -> MbertError:
        good = manager.latest_checkpoint
        kept = f"the last good checkpoint {good} is kept" if good else "no checkpoint was written yet"
        self.metrics.log(step, {"loss": str(values["loss"]), "stopped": "non-finite loss"}, kind="error",
                         phase=phase.name)
        terms = ", ".join(f"{k}={v:.4g}" for k, v in values.items() if k != "loss")
        return MbertError(f"the loss became {values['loss']} at step {step} (stage {phase.name}; {terms}); "
                          f"stopped, {kept}",
                          hint="lower the learning rate (--set ...optimizer.learning_rate=...), lengthen the "
                               "warm-up, or check the data; rerunning the command resumes from the last good "
                               "checkpoint")

    def close(self) -> None:
        self.metrics.close()
