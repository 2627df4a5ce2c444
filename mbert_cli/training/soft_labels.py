"""Task distillation's soft labels: the fine-tuned teacher's logits on every training example, once per run.

A teacher forward pass costs more than the student's step; over several epochs the same
examples would pay it again each time. The logits are computed once, in example order,
and cached in the fine-tune's stage folder with a key: sha256 of the teacher's checkpoint
files and of the tokenized examples. A cache with another key (another teacher, other data,
another sequence length) is recomputed, and the log says so once.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import tensorflow as tf

from mbert_cli.data import length_batches
from mbert_cli.io_utils import atomic_path, sha256_file

CACHE_NAME = "soft_labels.npz"


def checkpoint_digest(prefix: str) -> str:
    """sha256 over a TF checkpoint's files (`prefix.index`, `prefix.data-*`), in name order."""
    h = hashlib.sha256()
    for path in sorted(Path(prefix).parent.glob(Path(prefix).name + ".*")):
        h.update(path.name.encode() + sha256_file(path).encode())
    return h.hexdigest()


def _features_digest(features: dict, labels) -> str:
    h = hashlib.sha256()
    for name in sorted(features):
        h.update(name.encode() + features[name].tobytes())
    h.update(labels.tobytes())
    return h.hexdigest()


def soft_labels(teacher, teacher_checkpoint: str, features: dict, labels, cache: Path, say, *,
                write: bool = True, batch_size: int = 64):
    """The teacher's logits [N, classes] for `features`, from `cache` when its key matches, else computed (and cached)."""
    key = hashlib.sha256((checkpoint_digest(teacher_checkpoint) + _features_digest(features, labels)).encode())
    key = key.hexdigest()
    n = len(labels)
    if cache.is_file():
        try:
            with np.load(cache) as old:
                if str(old["key"]) == key and old["logits"].shape[0] == n:
                    say(f"Soft labels: {n} reused from {cache} (same teacher checkpoint and data).")
                    return old["logits"]
        except (OSError, ValueError, KeyError):
            pass
        say(f"Soft labels: {cache} was made from another teacher or data (hash differs): recomputing.")
    # In length order, each batch cut to its longest sentence: same logits, a fraction of the padding.
    forward = tf.function(lambda batch: teacher(batch, training=False)["logits"], reduce_retracing=True)
    logits = length_batches.predict_by_length(
        lambda batch: forward(batch).numpy(), features, batch_size).astype(np.float32)
    if write:
        with atomic_path(cache) as tmp, open(tmp, "wb") as f:
            np.savez(f, key=np.array(key), logits=logits)
    say(f"Soft labels: {n} computed by {teacher_checkpoint} once for this run (cached in {cache}).")
    return logits


def with_soft_labels(features: dict, labels, logits, batch_size: int, seed: int, *, by_length: int = 0):
    """Training batches of (features, labels, teacher logits), shuffled each epoch as `classification_dataset` does.

    `by_length` = the padded length to group batches by length up to (`data.group_by_length`), 0 = off.
    """
    ds = tf.data.Dataset.from_tensor_slices((features, labels, logits))
    ds = ds.shuffle(len(labels), seed=seed, reshuffle_each_iteration=True)
    if by_length:
        ds = length_batches.bucketed_batches(ds, batch_size, by_length, drop_remainder=True)
    else:
        ds = ds.batch(batch_size, drop_remainder=True)
    return ds.repeat().prefetch(tf.data.AUTOTUNE)
