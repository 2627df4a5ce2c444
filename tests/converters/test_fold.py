"""NoNorm folding: exact (max abs diff <= 1e-5) and it removes the norm's ops."""

from __future__ import annotations

import numpy as np
from export_helpers import SEQ, sharpen


def test_fold_is_exact_and_drops_ops():
    import tensorflow as tf

    from converters import data as data_mod
    from converters.fold import fold_nonorm
    from converters.restore import build_stage_model
    from mbert_cli.config import resolve_config

    tf.keras.utils.set_random_seed(0)
    cfg = resolve_config("nano-student")
    trained, model = build_stage_model(cfg, "finetune-classification")
    sharpen(trained, 2.0)
    for w in trained.weights:  # non-trivial NoNorm affine, as after training
        if w.name.endswith("norm/gamma:0"):
            w.assign(tf.random.uniform(w.shape, 0.5, 1.5))
        elif w.name.endswith("norm/beta:0"):
            w.assign(tf.random.normal(w.shape, stddev=0.1))
    rows = data_mod.synthetic_rows(8, SEQ, cfg.encoder.vocab_size)
    ref = model(rows, training=False)["logits"].numpy()
    report = fold_nonorm(model)
    assert len(report.folded) == 2 * cfg.encoder.num_layers  # bottleneck_input + kq_shared_bottleneck
    got = model(rows, training=False)["logits"].numpy()
    assert float(np.max(np.abs(got - ref))) <= 1e-5
    assert fold_nonorm(model).folded == []  # idempotent
