"""Shared builders for converter tests: nano runs on disk, labelled synthetic data, file inspection."""

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
             scale: float = 3.0, seed: int = 0, steps: int = 1, train_steps: int = 0,
             bias_shift: float = 0.0, overrides: tuple[str, ...] = ()):
    """Writes runs/<name>/config.yaml and one checkpoint of a fresh (sharpened) stage model.

    Same layout as training's run folders (`tf.train.Checkpoint(model=..., step=...)` by a
    CheckpointManager in `<stage>/checkpoints`), in seconds instead of a training run.
    """
    import tensorflow as tf

    from converters.export_model import build_export_model
    from mbert_cli.config import resolve_config, save_run_config

    tf.keras.utils.set_random_seed(seed)
    cfg = resolve_config(preset, overrides=overrides)
    root.mkdir(parents=True, exist_ok=True)
    save_run_config(cfg, root / "config.yaml")
    trained, exported = build_export_model(cfg, stage)
    sharpen(trained, scale)
    if bias_shift:
        # Trained LayerNorm models have pre-norm activations far from zero mean; LayerNorm hides
        # that, NoNorm does not. Shifted biases reproduce it, so the OPT copy visibly hurts.
        for w in trained.weights:
            if w.name.endswith("dense/bias:0") or "attention_output/bias" in w.name:
                w.assign(w + bias_shift)
    if train_steps:
        finetune_briefly(exported, cfg, train_steps)
    ckpt = tf.train.Checkpoint(model=trained, step=tf.Variable(steps, dtype=tf.int64))
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
    return from_arrays(feats, labels, n_rep, n_held, source="synthetic-self-labelled")


def from_arrays(features: dict, labels, representative: int, heldout: int, source: str):
    """ExportData from given rows: the first `heldout` for parity/metric, the rest for calibration."""
    from converters.data import ExportData, accuracy_points
    from mbert_cli.modeling.encoders import INPUT_NAMES

    n = len(features["input_word_ids"])
    h = min(heldout, max(1, n // 2))
    held = {k: np.asarray(features[k][:h]) for k in INPUT_NAMES}
    rep_src = {k: np.asarray(features[k][h:]) for k in INPUT_NAMES}
    if len(rep_src["input_word_ids"]) == 0:
        rep_src = held
    rep = {k: v[:representative] for k, v in rep_src.items()}
    if labels is None:
        return ExportData(rep, held, None, source)
    return ExportData(rep, held, np.asarray(labels[:h]), source, "accuracy", accuracy_points)


def task_rows(n: int, cfg, seq: int = SEQ, seed: int = 0):
    """A task a nano model learns in ~100 steps: the token after [CLS] is a cue word (id 10 or 11)
    and the label says which; the rest of the row is noise."""
    from converters import data as data_mod

    feats = data_mod.synthetic_rows(n, seq, cfg.encoder.vocab_size, seed=seed)
    labels = np.random.default_rng(seed + 7).integers(0, 2, n).astype(np.int32)
    feats["input_word_ids"][:, 1] = 10 + labels
    return feats, labels


def finetune_briefly(model, cfg, steps: int = 120, batch: int = 32, lr: float = 3e-3, seed: int = 0) -> float:
    """A short real fine-tune on `task_rows` (seconds on nano); returns held-out accuracy in points."""
    import tensorflow as tf
    import tf_keras

    feats, labels = task_rows(steps * batch // 4 + 256, cfg, seed=seed)
    n = len(labels) - 256
    opt = tf_keras.optimizers.Adam(lr)
    rng = np.random.default_rng(seed)

    @tf.function
    def step(x, y):
        with tf.GradientTape() as tape:
            logits = model(x, training=True)["logits"]
            loss = tf.reduce_mean(tf.keras.losses.sparse_categorical_crossentropy(y, logits, from_logits=True))
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    for _ in range(steps):
        idx = rng.choice(n, batch, replace=False)
        step({k: tf.constant(v[idx]) for k, v in feats.items()}, tf.constant(labels[idx]))
    held = {k: v[n:] for k, v in feats.items()}
    pred = np.argmax(model(held, training=False)["logits"].numpy(), -1)
    return 100.0 * float(np.mean(pred == labels[n:]))


def task_data(cfg, n_rep: int = 64, n_held: int = 64, seed: int = 1):
    """ExportData on `task_rows` with true labels."""
    feats, labels = task_rows(n_rep + n_held, cfg, seed=seed)
    return from_arrays(feats, labels, n_rep, n_held, source="synthetic-task")


def table_counts(content: bytes) -> tuple[int, int]:
    """(quantization tables stored, tensors referring to one): how much sharing a file has.

    Counts distinct table positions in the parsed flatbuffer, so equal tables stored twice
    count twice."""
    from ai_edge_litert import schema_py_generated as schema

    model = schema.Model.GetRootAs(content, 0)
    positions, refs = set(), 0
    for s in range(model.SubgraphsLength()):
        sub = model.Subgraphs(s)
        for t in range(sub.TensorsLength()):
            q = sub.Tensors(t).Quantization()
            if q is not None:
                positions.add(q._tab.Pos)  # the generated reader keeps a table's position there
                refs += 1
    return len(positions), refs


def one_error_line(result) -> str:
    """Asserts a CliRunner result is a clean failure (exit 1, `Error:` + optional `Hint:` on
    stderr, nothing else) and returns the Error line."""
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert result.exit_code == 1, result.output
    assert lines and lines[0].startswith("Error: "), result.output
    assert len(lines) <= 2 and (len(lines) == 1 or lines[1].startswith("Hint: ")), result.output
    return lines[0]
