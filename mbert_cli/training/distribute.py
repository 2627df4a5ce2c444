"""`--distribution default|mirrored|multiworker|tpu` over tf.distribute.

MultiWorkerMirroredStrategy reads `TF_CONFIG`; the global batch is split evenly across
replicas; only the chief writes checkpoints and logs (other workers save to a scratch
folder, as tf.distribute requires every worker to take part in a save).
"""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass

import tensorflow as tf

from mbert_cli import interrupts
from mbert_cli.errors import MbertError, first_line

CHOICES = ("default", "mirrored", "multiworker", "tpu")


@dataclass
class Distribution:
    """The strategy and what the loop needs to know about this worker."""

    strategy: object
    name: str
    is_chief: bool = True
    worker_index: int = 0

    @property
    def replicas(self) -> int:
        return int(self.strategy.num_replicas_in_sync)


def parse_tf_config(raw: str | None) -> dict:
    """Validates TF_CONFIG for multi-worker training; returns it parsed."""
    if not raw:
        raise MbertError("--distribution multiworker needs TF_CONFIG",
                         hint='export TF_CONFIG=\'{"cluster": {"worker": ["host1:port", "host2:port"]}, '
                              '"task": {"type": "worker", "index": 0}}\'')
    try:
        cfg = json.loads(raw)
    except ValueError as err:
        raise MbertError(f"TF_CONFIG is not valid JSON: {err}",
                         hint="TF_CONFIG must be a JSON object with 'cluster' and 'task'") from None
    if not isinstance(cfg, dict) or not isinstance(cfg.get("cluster"), dict) or not isinstance(cfg.get("task"), dict):
        raise MbertError("TF_CONFIG must have a 'cluster' object and a 'task' object",
                         hint='example: {"cluster": {"worker": ["127.0.0.1:2222"]}, "task": {"type": "worker", "index": 0}}')
    task = cfg["task"]
    workers = cfg["cluster"].get("worker")
    chief = cfg["cluster"].get("chief", [])
    if not isinstance(workers, list) or not workers or not all(isinstance(w, str) and ":" in w for w in workers):
        raise MbertError("TF_CONFIG cluster.worker must be a non-empty list of 'host:port' strings",
                         hint='example: "cluster": {"worker": ["127.0.0.1:2222", "127.0.0.1:2223"]}')
    kind, index = task.get("type"), task.get("index")
    group = {"worker": workers, "chief": chief}.get(kind)
    if group is None or not isinstance(index, int) or not 0 <= index < len(group):
        raise MbertError(f"TF_CONFIG task {task} does not name a member of the cluster",
                         hint="task.type must be 'worker' (or 'chief') and task.index a valid position in that list")
    return cfg


def make_distribution(name: str = "default") -> Distribution:
    """Builds the strategy. Call before creating any model or variable."""
    if name not in CHOICES:
        raise MbertError(f"unknown distribution {name!r}", hint=f"choose one of: {', '.join(CHOICES)}")
    if name == "default":
        return Distribution(tf.distribute.get_strategy(), name)
    if name == "mirrored":
        return Distribution(tf.distribute.MirroredStrategy(), name)
    if name == "multiworker":
        cfg = parse_tf_config(os.environ.get("TF_CONFIG"))
        strategy = tf.distribute.MultiWorkerMirroredStrategy()
        interrupts.rearm()  # the strategy's start replaced our SIGTERM handler with TensorFlow's
        task = cfg["task"]
        has_chief = bool(cfg["cluster"].get("chief"))
        is_chief = task["type"] == "chief" or (not has_chief and task["type"] == "worker" and task["index"] == 0)
        return Distribution(strategy, name, is_chief=is_chief, worker_index=int(task["index"]))
    try:
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver()
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
    except (ValueError, tf.errors.OpError) as err:
        raise MbertError(f"no TPU found: {first_line(err)}",
                         hint="run on a TPU VM, or use --distribution default|mirrored") from None
    return Distribution(tf.distribute.TPUStrategy(resolver), name)


def check_batch(global_batch: int, dist: Distribution, what: str = "batch size") -> int:
    """The per-replica batch; the global batch must divide evenly across replicas."""
    if global_batch <= 0 or global_batch % dist.replicas:
        raise MbertError(f"{what} {global_batch} is not divisible by the {dist.replicas} replicas",
                         hint=f"use a multiple of {dist.replicas}, e.g. --set ...batch_size={dist.replicas * max(1, global_batch // dist.replicas)}")
    return global_batch // dist.replicas


def make_stop_vote(dist: Distribution):
    """A collective vote on a stop signal: `vote(local_signum or 0)` -> the signal any worker got, or 0.

    Every worker must call it at the same point (the loop does, after each step), so all of
    them leave at the same step boundary and take part in the one collective save. The vote
    is a SUM all-reduce of [stopped, stopped by SIGTERM] (TensorFlow's collectives reduce by
    sum only); SIGTERM wins over Ctrl-C, so a worker that got no signal exits as its peer does.
    """
    strategy = dist.strategy

    @tf.function
    def _vote(flags):
        def replica_fn(f):
            # identity: places the input on this replica's device (an unplaced tensor has no reduce destination)
            return tf.distribute.get_replica_context().all_reduce(tf.distribute.ReduceOp.SUM, tf.identity(f))

        return strategy.experimental_local_results(strategy.run(replica_fn, args=(flags,)))[0]

    def vote(signum: int) -> int:
        flags = [float(signum != 0), float(signum == signal.SIGTERM)]
        stopped, by_term = (float(x) for x in _vote(tf.constant(flags, tf.float32)).numpy())
        if not stopped:
            return 0
        return int(signal.SIGTERM if by_term else signum or signal.SIGINT)

    return vote
