"""Shared builders for converter tests: nano runs on disk and labelled synthetic data."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SEQ = 32


def sharpen(model, scale: float = 3.0) -> None:
    """Scales kernels and embeddings: random nano weights give near-uniform attention and
    near-zero logits; trained models do not. Sharper weights make quantization effects
    (and the padding leak) visible the way they are on trained models."""
    for w in model.weights:
        if "kernel" in w.name or "embeddings" in w.name:
            w.assign(w * scale)


def make_run(root: Path, preset: str = "nano-student", stage: str = "finetune-classification",
             scale: float = 3.0, seed: int = 0, steps: int = 1):
    """Writes runs/<name>/config.yaml and one checkpoint of a fresh (sharpened) stage model.

    Stands in for training's run folders until `mbert_cli.training` lands: the same layout,
    `tf.train.Checkpoint(model=...)` saved by a CheckpointManager.
    """
    import tensorflow as tf

    from converters.restore import build_stage_model
    from mbert_cli.config import resolve_config, save_run_config

    tf.keras.utils.set_random_seed(seed)
    cfg = resolve_config(preset)
    root.mkdir(parents=True, exist_ok=True)
    save_run_config(cfg, root / "config.yaml")
    trained, exported = build_stage_model(cfg, stage)
    sharpen(trained, scale)
    ckpt = tf.train.Checkpoint(model=trained)
    mgr = tf.train.CheckpointManager(ckpt, str(root / stage / "checkpoints"), max_to_keep=2)
    mgr.save(checkpoint_number=steps)
    return cfg, exported


def labelled_data(model, cfg, n_rep: int = 24, n_held: int = 24, seq: int = SEQ, seed: int = 0):
    """Synthetic rows labelled by the float model's own predictions (float accuracy = 100),
    so a quantized file's accuracy equals its top-1 agreement: a real metric gate."""
    from converters import data as data_mod

    feats = data_mod.synthetic_rows(n_held + n_rep, seq, cfg.encoder.vocab_size, seed=seed)
    logits = model(feats, training=False)["logits"].numpy()
    labels = np.argmax(logits, axis=-1)
    return data_mod.from_arrays(feats, labels, n_rep, n_held, source="synthetic-self-labelled")
